"""Value matching the rules share: a value counts only where it stands as a whole token."""

from __future__ import annotations

import pytest

from rolecall.validators._values import token_in


@pytest.mark.parametrize(
    ("value", "text", "found"),
    [
        ("W-1", "order W-12345 shipped", False),  # a prefix of a longer id
        ("W-12345", "order W-12345 shipped", True),
        ("W-12345", "W-12345", True),  # the whole text
        ("12345", "W-12345.", True),  # '-' and '.' are not part of a token
        ("100", "$1000 or $100", True),  # the first occurrence is inside a token, a later one is not
        ("100", "$1000 and 2100", False),
        ("ana@example.com", "mail ana@example.comx", False),
        ("café", "au café!", True),  # a non-ASCII value, bounded by ASCII punctuation
        ("abc", "xabc", False),
        ("a.b", "a.b", True),  # no regex meaning in the value
        ("a.b", "axb", False),
    ],
)
def test_a_value_is_found_only_as_a_whole_token(value: str, text: str, found: bool) -> None:
    assert token_in(value, text) is found
