"""Repeats and topic words: the text tests the aids and the planner build on."""

from __future__ import annotations

import json

import pytest

from rolecall.text import json_bytes, plain_words, repeats, topic_stems

FOUND = "I found the order with order number W-48213. The order ID is ord_7h2k9x4m1q, and it is placed."


def test_plain_words_ignore_case_punctuation_and_spacing() -> None:
    assert plain_words("  Your account is CLOSED!  ") == plain_words("your account, is closed")
    assert plain_words("your account, is closed") == ["your", "account", "is", "closed"]


@pytest.mark.parametrize(
    ("text", "earlier", "expected"),
    [
        (FOUND, [FOUND.upper()], True),  # word for word
        (FOUND.replace("ord_7h2k9x4m1q", "ord_0000000000"), [FOUND], True),  # one word changed
        ("your account is CLOSED", ["Your account is closed."], True),  # short, but exact
        ("I will proceed to find the order W-39550.", ["Thanks. I will proceed to find the order W-39550."], True),
        ("the order W-39550.", ["Thanks. I will proceed to find the order W-39550."], False),  # a short piece
        ("Thank you!", ["Thank you."], False),  # pleasantries may be said twice
        ("Your order is closed now.", ["Your account is closed now."], False),  # short: one word matters
        (FOUND, ["I found the order.", "Anything else?"], False),
        (FOUND, [], False),
    ],
)
def test_repeats(text: str, earlier: list[str], expected: bool) -> None:
    assert repeats(text, earlier) is expected


def test_topic_stems_keep_content_words_and_meet_across_word_forms() -> None:
    stems = topic_stems("She wants a refund: the skillet's handle was cracked when it arrived.")
    assert {"refun", "skill", "handl", "crack", "arriv"} <= stems
    assert not stems & {"she", "wants", "the", "when", "was"}
    assert topic_stems("issue_refund") == {"issue", "refun"} and topic_stems("refunded") == {"refun"}


def test_json_bytes_is_compact_json_that_reads_back_the_same() -> None:
    value = {"b": [1, 2.5, None, True], "a": {"text": "café ✓", "n": -3}}
    assert json.loads(json_bytes(value)) == value
    assert json_bytes(value, sort_keys=True).startswith(b'{"a":{"n":-3,"text":"caf\xc3\xa9')
    assert json_bytes({1: "x"}) == b'{"1":"x"}'  # keys written as json writes them


def test_json_bytes_writes_what_orjson_refuses_and_raises_where_json_did() -> None:
    huge = {"maximum": 10**30}  # a scenario's schema may hold an integer beyond 64 bits
    assert json.loads(json_bytes(huge)) == huge
    assert json.loads(json_bytes(huge, sort_keys=True, default=str)) == huge
    with pytest.raises(TypeError):
        json_bytes({"x": object()})  # not JSON, and no default: an error, as before
    assert json.loads(json_bytes({"x": object()}, default=lambda _: "obj")) == {"x": "obj"}
