"""Comparing values the way the rules need: normalised text, numbers by value, grounding.

Shared by the rule checks and the plan matching; pure functions over JSON-like values.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema

from rolecall.planning import literal_values
from rolecall.scenario import name_words, names_other_thing, value_validator
from rolecall.text import json_or_text, plain_words

# Free text that someone composes (a ticket summary, an order note) rather than copies: a string
# of at least this many words, in a parameter with no enum, pattern or format. It is grounded by
# its content words, since no customer dictates a ticket summary word for word.
PROSE_MIN_WORDS = 4
PROSE_GROUNDED_SHARE = 0.6  # of its content words (4+ letters) said before


def norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def show(value: Any, limit: int = 48) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def content_text(content: Any) -> str:
    """Text of a message's content, which may also be a list of OpenAI content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def said(messages: list[dict[str, Any]], role: str, end: int) -> list[str]:
    """Normalised texts of the ``role`` messages before index ``end``."""
    return [norm(content_text(m.get("content"))) for m in messages[:end] if m.get("role") == role]


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_number(value: Any) -> float | None:
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def same(expected: Any, actual: Any) -> bool:
    """Plan-literal equality: strings ignore case, spacing and a final full stop, numbers compare by value
    (a number written as a string included, since models often quote them)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(same(expected[k], actual[k]) for k in expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(same, expected, actual))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if isinstance(expected, str) and isinstance(actual, str):
        # A title typed with a full stop or in other letter case is the same title.
        return norm(expected).rstrip(".!") == norm(actual).rstrip(".!")
    if is_number(expected) or is_number(actual):
        left, right = as_number(expected), as_number(actual)
        return left is not None and left == right
    return bool(expected == actual)


def number_in(value: int | float, text: str) -> bool:
    """Whether ``value`` is written in ``text`` as a number of its own ("12" not in "112" or "12.5")."""
    if float(value).is_integer():
        core = re.escape(str(int(value))) + r"(?:\.0+)?"
    else:
        core = re.escape(repr(float(value))) + "0*"
    return re.search(rf"(?<![\w.]){core}(?!\w|[.,]\d)", text) is not None


def texts_of(value: Any) -> list[str]:
    """Normalised texts a value can ground strings in: its JSON text and each string leaf."""
    if isinstance(value, str):
        return [norm(value)]
    leaves = [norm(v) for v in literal_values(value) if isinstance(v, str)]
    return [norm(json.dumps(value, ensure_ascii=False)), *leaves]


parsed = json_or_text  # the name the rules use


def argument_leaves(value: Any, schema: Any, path: str = "") -> Iterator[tuple[str, Any, Mapping[str, Any]]]:
    """(path, scalar, the schema that describes it) for every scalar inside an argument value."""
    schema = schema if isinstance(schema, Mapping) else {}
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, item in value.items():
            yield from argument_leaves(item, properties.get(key), f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from argument_leaves(item, schema.get("items"), f"{path}[{index}]")
    elif value is not None:
        yield path, value, schema


def name_pattern(name: str) -> re.Pattern[str]:
    """A tool name as a whole word; a name of several words also written with spaces ("find order")."""
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name) or [name]
    return re.compile(r"(?<![\w])" + r"[\s_-]*".join(map(re.escape, words)) + r"(?![\w])", re.IGNORECASE)


def schema_problem(value: Any, schema: Mapping[str, Any]) -> str | None:
    error = jsonschema.exceptions.best_match(value_validator(schema).iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def exempt(value: Any, schema: Mapping[str, Any]) -> bool:
    """Values the assistant may choose itself: flags, defaults and fixed vocabularies."""
    if isinstance(value, bool):
        return True
    if "default" in schema and same(schema["default"], value):
        return True
    if "const" in schema and same(schema["const"], value):
        return True
    return any(same(option, value) for option in schema.get("enum") or [])


def is_prose(value: Any, schema: Mapping[str, Any]) -> bool:
    if not isinstance(value, str) or len(value.split()) < PROSE_MIN_WORDS:
        return False
    return not any(key in schema for key in ("enum", "const", "pattern", "format"))


def content_words(text: str) -> set[str]:
    return {word for word in plain_words(text) if len(word) >= 4}


_ASCII_ALNUM = frozenset(string.ascii_letters + string.digits)


def token_in(value: str, text: str) -> bool:
    """Whether ``value`` stands in ``text`` as a whole token: "W-1" is not in "W-12345".

    Searched with ``str.find`` rather than a regex: values differ per dialogue, so a pattern per
    value missed re's cache and was compiled on every call (2.4% of a mock run's CPU)."""
    start = 0
    while (found := text.find(value, start)) != -1:
        end = found + len(value)
        if (found == 0 or text[found - 1] not in _ASCII_ALNUM) and (end == len(text) or text[end] not in _ASCII_ALNUM):
            return True
        start = found + 1
    return False


# An amount of money with its unit: "$100", "€ 12.50", "100 dollars", "12.5 usd".
_CURRENCY_AMOUNT = re.compile(
    r"[$€£]\s?(\d+(?:[.,]\d+)?)|(\d+(?:[.,]\d+)?)\s?(?:dollars?|usd|euros?|eur|pounds?|gbp)\b", re.IGNORECASE
)


def in_cents(name: str, schema: Mapping[str, Any]) -> bool:
    """Whether a parameter holds an amount in cents (``amount_cents``, or so described)."""
    return "cents" in name.lower() or "cents" in str(schema.get("description", "")).lower()


def _currency_amounts(text: str) -> list[float]:
    """The amounts ``text`` states with a currency ("$100", "12.5 usd")."""
    found = (as_number((m.group(1) or m.group(2)).replace(",", ".")) for m in _CURRENCY_AMOUNT.finditer(text))
    return [amount for amount in found if amount is not None]


def _cents_in(value: int | float, text: str) -> bool:
    """Whether ``text`` states ``value`` cents: as a bare number, or as a currency amount x 100
    ("$100" is 10000 cents, never 100)."""
    if any(round(amount * 100) == value for amount in _currency_amounts(text)):
        return True
    bare = _CURRENCY_AMOUNT.sub(" ", text)  # amounts with a unit are dollars, not cents
    return number_in(value, bare)


def dollars_as_cents(value: Any, texts: list[str]) -> bool:
    """Whether the user stated ``value`` only as a currency amount ("$4"), never as that many
    cents (a bare number, or a currency amount x 100): an amount in cents that is really dollars."""
    if not is_number(value):
        return False
    amounts = [amount for text in texts for amount in _currency_amounts(text)]
    if value not in amounts:
        return False
    as_cents = any(round(amount * 100) == value for amount in amounts)
    return not as_cents and not any(number_in(value, _CURRENCY_AMOUNT.sub(" ", text)) for text in texts)


def grounded(value: Any, texts: list[str], leaves: list[Any], schema: Mapping[str, Any], name: str = "") -> bool:
    """Whether ``value`` is written in one of the (normalised) ``texts`` as a whole token, or
    equals a number leaf; an amount in cents must match a stated amount in its own unit; prose
    is grounded when most of its content words were said."""
    if isinstance(value, str):
        # As in plan matching, a final full stop is not part of the value.
        if any(token_in(norm(value).rstrip(".!") or norm(value), text) for text in texts):
            return True
        if not is_prose(value, schema):
            return False
        words = content_words(value)
        said = set().union(*(content_words(text) for text in texts))
        return not words or len(words & said) >= PROSE_GROUNDED_SHARE * len(words)
    if is_number(value):
        if any(is_number(leaf) and leaf == value for leaf in leaves):
            return True
        if in_cents(name, schema):
            return any(_cents_in(value, text) for text in texts)
        return any(number_in(value, text) for text in texts)
    return True


# Last words of a parameter's name that make it an identifier. A value of another kind (a date,
# an ordinal, another entity's id) cannot fill one, however it was grounded.
_IDENTIFIER_WORDS = frozenset({"id", "ids", "number", "code", "locator", "reference", "ref", "key", "sku", "uuid"})
_DATE_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_ORDINAL = re.compile(r"(?:the )?(?:first|second|third|fourth|fifth|last|latest|previous|\d+(?:st|nd|rd|th))(?: one)?")


def is_identifier(name: str) -> bool:
    words = [word for word in name_words(name) if word]
    return bool(words) and words[-1] in _IDENTIFIER_WORDS


def wrong_kind(value: Any, name: str, schema: Mapping[str, Any]) -> str | None:
    """What a value is when it plainly cannot be the identifier ``name`` asks for: "a date" for
    an ``order_id`` of 2026-03-01, "an ordinal" for "the first one"; None when it may be one."""
    if not isinstance(value, str) or not is_identifier(name) or "format" in schema:
        return None
    text = norm(value)
    if _DATE_LIKE.fullmatch(text):
        return "a date"
    if _ORDINAL.fullmatch(text):
        return "an ordinal"
    return None


def keyed_leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(name of the field that holds it, scalar) for every scalar leaf; a list's items take the
    list's name."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from keyed_leaves(item, str(name))
    elif isinstance(value, list):
        for item in value:
            yield from keyed_leaves(item, key)
    elif value is not None:
        yield key, value


def keyed_strings(value: Any) -> Iterator[tuple[str, str]]:
    return ((key, leaf) for key, leaf in keyed_leaves(value) if isinstance(leaf, str))


def keyed_numbers(value: Any) -> Iterator[tuple[str, int | float]]:
    """(lower-cased field name, number) for every number leaf."""
    return ((key.lower(), leaf) for key, leaf in keyed_leaves(value) if is_number(leaf))


def other_kind_source(value: str, name: str, sources: list[tuple[str, str]]) -> str | None:
    """The field an identifier's value was taken from, when every field that holds it names
    another thing: a customer id passed as an ``order_id``. None when some field of the same
    kind holds it, a longer text mentions it, or no field holds it at all."""
    wanted = norm(value)
    other = None
    for key, text in sources:
        held = norm(text)
        if held == wanted:
            if not key or not names_other_thing(key, name):
                return None
            other = other or key
        elif token_in(wanted, held):
            return None
    return other
