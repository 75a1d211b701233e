"""Repeats and topic words: the text tests the aids and the planner build on."""

from __future__ import annotations

import pytest

from rolecall.text import plain_words, repeats, topic_stems

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
