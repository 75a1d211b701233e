"""What tool and field names say: their words, however the name is written."""

from __future__ import annotations

import pytest

from rolecall.scenario import name_words


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("issue_refund", ["issue", "refund"]),
        ("issueRefund", ["issue", "refund"]),
        ("get-order.details", ["get", "order", "details"]),
        ("_private", ["", "private"]),
        ("URL", ["url"]),
    ],
)
def test_a_name_splits_into_lower_case_words(name: str, words: list[str]) -> None:
    assert name_words(name) == words


def test_the_words_are_a_new_list_each_time() -> None:
    # Cached per name: a caller that edits its list must not change the next caller's.
    first = name_words("cancel_order")
    first.append("x")
    assert name_words("cancel_order") == ["cancel", "order"]
