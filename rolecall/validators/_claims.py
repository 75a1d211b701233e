"""Rule ``claims_match_results``: what the assistant tells the user agrees with what it was told.

A dialogue whose assistant says "I have refunded $45.00" after a result of 4500 cents, names an
order nobody mentioned, calls a delivered order "shipped", or reports success after the call
failed teaches a model to contradict its tools. The assistant's text is read for four kinds of
claim, each held against what was said or returned before that message (the tool results and
calls, the user's and the system's words, the persona's facts, prior calls and the plan):

- identifiers: tokens that mix letters and digits (``ORD-1001``, ``rf_41qfs5ebk16j``, ``INC0012345``);
- amounts: money (a currency sign or word, or two decimals), percentages, and numbers of four or
  more digits; an amount in a ``*_cents`` field may be stated in units, and a total or a balance
  may be the sum or difference of two numbers that results returned;
- statuses: members of a status field's enum in the tools' output schemas, stated while the
  results show another member and none of the stated ones (a negated mention is not a claim);
- success after a failure: a sentence that reports a failed call's action as done, before any
  later call of that tool succeeded.

Plain small integers (counts, days, quantities) and free prose are not read: the judge weighs those.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Mapping
from typing import Any

from rolecall.scenario import SchemaCache, name_words
from rolecall.validators._evidence import DialogueEvidence, ToolCallView
from rolecall.validators._values import content_text, keyed_leaves, norm, parsed, show, texts_of, token_in

# An identifier: letters and digits joined by - or _ ("ORD-1001", "rf_41qfs5ebk16j"), or capitals
# followed by three or more digits ("INC0012345"). "24-hour" and "2-step" are a number and a word.
_ID_TOKEN = re.compile(
    r"(?<![\w-])(?:(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)+|[A-Z]{1,6}\d{3,}[A-Z0-9]*)(?![\w-])"
)
_NUMBER_AND_WORDS = re.compile(r"\d+(?:[-_][A-Za-z]+)+")
# Spans whose digits are not amounts: dates, times, phone numbers.
_NOT_AMOUNTS = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\b\d{1,2}:\d{2}\b|\+?\d[\d\s().-]{8,}\d"
)
_AMOUNT = re.compile(
    r"(?P<currency>[$€£]\s?)?(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<unit>\s?%|\s?(?:dollars?|usd|euros?|eur|pounds?|gbp)\b)?",
    re.IGNORECASE,
)
_TOLERANCE = 0.005
# Returned amounts whose pairwise sums and differences count as stated (a total, a balance).
_PAIRED_AMOUNTS = 200

# A sentence reporting an action as done ("The refund has been issued", "I've cancelled it").
_DONE_VERBS = (
    r"(?:issued|processed|cancell?ed|updated|changed|created|completed|refunded|reset|re-?booked|booked|added"
    r"|applied|sent|submitted|scheduled|placed|initiated|unlocked|wiped|closed|opened|resolved|approved"
    r"|confirmed|modified|returned|exchanged|credited|moved|transferred|registered|removed|deleted"
    r"|activated|deactivated|disabled|enabled|escalated|assigned|logged|filed|raised|granted|restored)"
)
_SUCCESS = re.compile(
    rf"\b(?:successfully|(?:has|have) been (?:\w+ )?{_DONE_VERBS}|i(?:'|\u2019)?ve (?:\w+ )?{_DONE_VERBS}"
    rf"|i have (?:\w+ )?{_DONE_VERBS}|(?:is|are|was|were) (?:now |successfully )?{_DONE_VERBS}|all set)\b",
    re.IGNORECASE,
)
_FAILURE_WORDS = re.compile(
    r"\b(?:not|no|never|unable|cannot|can't|couldn't|could not|failed|fail|error|unfortunately|sorry"
    r"|wasn't|weren't|hasn't|haven't|didn't|isn't)\b|n't\b|n\u2019t\b",
    re.IGNORECASE,
)
_NEGATION_BEFORE = re.compile(
    r"(?:\b(?:not|never|no longer|neither|nor|yet to be)|n't|n\u2019t)\s+(?:\w+\s+){0,3}$", re.IGNORECASE
)
_SENTENCE = re.compile(r"(?:[^.!?\n]|\.(?=\d))+[.!?]?")  # "59.90" does not end a sentence


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _numbers_in(text: str) -> list[float]:
    found = (_number(m.group("number")) for m in _AMOUNT.finditer(_NOT_AMOUNTS.sub(" ", text)))
    return [number for number in found if number is not None]


class _Known:
    """What the assistant could know before a message: the background (facts, prior calls, the
    plan) and the messages read so far. It grows as :meth:`read_up_to` goes through the dialogue,
    so each message and each value is read once, not once per assistant message after it."""

    def __init__(self, evidence: DialogueEvidence) -> None:
        self._messages = evidence.messages
        self._read = 0
        self._texts: list[str] = []
        self._numbers: list[float] = []  # stated in text: money and counts alike
        self._returned: list[float] = []  # numeric leaves of results and the background
        self._cents: list[float] = []  # a field in cents is an amount only once divided by 100
        self._pair_values: list[float] = []  # totals and balances of two returned amounts
        self.result_leaves: list[tuple[str, Any]] = []  # (key, leaf) of the tool results read so far
        self._joined: str | None = None
        self._sorted: tuple[list[float], list[float]] | None = None
        background: list[Any] = [evidence.facts]
        background += [[prior.arguments, prior.output] for prior in evidence.prior_calls]
        background += [call.literals() for turn in evidence.turns for call in turn.calls]
        for value in background:
            self._add_value(value)

    def read_up_to(self, end: int) -> None:
        """Take in the messages before ``end`` not read yet."""
        if end <= self._read:
            return
        for message in self._messages[self._read : end]:
            role = message.get("role")
            if role == "tool":
                self.result_leaves += self._add_value(parsed(message.get("content")))
            elif role == "assistant":
                for call in message.get("tool_calls") or []:
                    self._add_text(call.get("function", {}).get("arguments", ""))
            elif role in ("system", "user"):
                self._add_text(content_text(message.get("content")))
        self._read = end
        self._joined, self._sorted = None, None

    def _add_text(self, text: str) -> None:
        self._texts.append(norm(text))
        self._numbers += _numbers_in(text)

    def _add_value(self, value: Any) -> list[tuple[str, Any]]:
        """Take in a result or background value; its (key, leaf) pairs."""
        self._texts += texts_of(value)
        leaves = list(keyed_leaves(value))
        for key, leaf in leaves:
            if isinstance(leaf, bool):
                continue
            if isinstance(leaf, int | float):
                if "cents" in key.lower():
                    self._cents.append(float(leaf))
                    self._add_returned(leaf / 100)
                else:
                    self._add_returned(float(leaf))
                if 0 < leaf <= 1:
                    self._add_returned(leaf * 100)  # a rate of 0.15 stated as 15%
            elif isinstance(leaf, str):
                self._numbers += _numbers_in(leaf)
        return leaves

    def _add_returned(self, value: float) -> None:
        if len(self._returned) < _PAIRED_AMOUNTS:
            self._pair_values += [v for other in self._returned for v in (value + other, abs(value - other))]
        self._returned.append(value)

    def has_token(self, token: str) -> bool:
        if self._joined is None:
            self._joined = " \n ".join(self._texts)
        return token_in(norm(token), self._joined)

    def has_number(self, value: float, money: bool) -> bool:
        """Whether ``value`` was given; as ``money`` (a stated currency), not as a count of cents."""
        if self._sorted is None:
            money_values = sorted(self._numbers + self._returned + self._pair_values)
            self._sorted = (money_values, sorted(money_values + self._cents))
        known = self._sorted[0] if money else self._sorted[1]
        at = bisect.bisect_left(known, value - _TOLERANCE)
        return at < len(known) and known[at] < value + _TOLERANCE


def _claimed_ids(text: str) -> list[str]:
    return [m.group() for m in _ID_TOKEN.finditer(text) if not _NUMBER_AND_WORDS.fullmatch(m.group())]


def _claimed_amounts(text: str) -> list[tuple[str, float, bool]]:
    """(as written, value, whether a currency is stated) of the numbers the assistant states as
    amounts or metrics."""
    text = _ID_TOKEN.sub(" ", _NOT_AMOUNTS.sub(" ", text))
    claims = []
    for match in _AMOUNT.finditer(text):
        number, written = match.group("number"), match.group().strip()
        value = _number(number)
        if value is None:
            continue
        unit = (match.group("unit") or "").strip()
        money = bool(match.group("currency")) or unit not in ("", "%")
        money_or_rate = money or unit == "%"
        two_decimals = re.fullmatch(r"[\d,]+\.\d\d", number) is not None
        large = value >= 1000 and not (1900 <= value <= 2100 and value.is_integer())
        if money_or_rate or two_decimals or large:
            claims.append((written, value, money))
    return claims


# Status fields by the output schemas they were read from: a run checks every dialogue against
# the same few schemas, and walking them was a third of this rule's time (profiled).
_STATUS_FIELDS: SchemaCache[dict[str, frozenset[str]]] = SchemaCache(32)


def _status_fields(output_schemas: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Status field name -> the members its enums allow, over every tool's output schema."""
    schemas = list(output_schemas.values())

    def read() -> dict[str, frozenset[str]]:
        return {name: frozenset(members) for name, members in _read_status_fields(schemas).items()}

    return _STATUS_FIELDS.get(schemas, read)


def _read_status_fields(schemas: list[Any]) -> dict[str, set[str]]:
    fields: dict[str, set[str]] = {}

    def walk(schema: Any, name: str) -> None:
        if isinstance(schema, Mapping):
            words = [word for word in name_words(name) if word]
            if words and words[-1] in ("status", "state") and isinstance(schema.get("enum"), list):
                fields.setdefault(name, set()).update(str(m) for m in schema["enum"] if isinstance(m, str))
            for key, child in (schema.get("properties") or {}).items():
                walk(child, str(key))
            walk(schema.get("items"), name)
        elif isinstance(schema, list):
            for child in schema:
                walk(child, name)

    for schema in schemas:
        walk(schema, "")
    return fields


# What puts a status word in the position of a claim: "is shipped", "has shipped", "status: open".
_STATUS_CONTEXT = (
    r"(?:\b(?:is|are|was|were|been|has|have|now|currently|still|marked(?: as)?|shows?(?: as)?)\s+(?:\w+\s+)?"
    r"|\b(?:status|state)(?: is)?\W{0,4})"
)


@functools.lru_cache(maxsize=1024)
def _member_patterns(member: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A status member stated as a status, and the member anywhere ("in_transit" also as "in transit")."""
    words = r"[\s_-]+".join(map(re.escape, member.replace("_", " ").split()))
    stated = re.compile(rf"{_STATUS_CONTEXT}({words})(?![\w-])", re.IGNORECASE)
    return stated, re.compile(rf"(?<![\w-]){words}(?![\w-])", re.IGNORECASE)


def _stated(member: str, text: str) -> bool:
    """Whether ``text`` states ``member`` as a status, not negated."""
    for match in _member_patterns(member)[0].finditer(text):
        if not _NEGATION_BEFORE.search(text[: match.start(1)]):
            return True
    return False


def _status_problems(
    index: int, text: str, pairs: list[tuple[str, Any]], fields: dict[str, frozenset[str]]
) -> list[str]:
    """A status stated while the results before message ``index`` (their (key, leaf) ``pairs``)
    show another one for that field, and nowhere this one."""
    if not fields:
        return []
    # Another field may hold the same word ("approved" as a request's status and as an approval's).
    anywhere = {leaf.casefold() for _, leaf in pairs if isinstance(leaf, str)}
    seen: dict[str, set[str]] = {}
    for key, leaf in pairs:
        if key in fields and isinstance(leaf, str):
            seen.setdefault(key, set()).add(leaf)
    # Longest first, over every status field, so "pending approval" is not also read as "pending".
    stated_anywhere, rest = set(), text
    for member in sorted(set().union(*fields.values()), key=len, reverse=True):
        if len(member) >= 4 and member.casefold() not in anywhere and _stated(member, rest):
            stated_anywhere.add(member)
        rest = _member_patterns(member)[1].sub(" ", rest)
    problems = []
    for name, members in fields.items():
        actual, stated = seen.get(name), members & stated_anywhere
        if actual and stated:
            problems.append(
                f"message {index} says {', '.join(sorted(stated))}, but {name} in the results is "
                f"{', '.join(sorted(actual))}"
            )
    return problems


def _failed(view: ToolCallView) -> bool:
    return view.fault is not None or (isinstance(view.result, dict) and "error" in view.result)


def _success_problems(evidence: DialogueEvidence) -> list[str]:
    calls = evidence.tool_calls()
    problems = []
    for number, view in enumerate(calls):
        if not view.answered or not _failed(view):
            continue
        later_success = [c.position for c in calls[number + 1 :] if c.name == view.name and not _failed(c)]
        end = min(later_success, default=len(evidence.messages))
        stems = {word[:5] for word in name_words(view.name) if len(word) >= 4}
        for index in range(view.position + 1, end):
            message = evidence.messages[index]
            if message.get("role") != "assistant":
                continue
            for sentence in _SENTENCE.findall(content_text(message.get("content"))):
                words = {word[:5] for word in re.findall(r"[a-z]+", sentence.lower()) if len(word) >= 4}
                if _SUCCESS.search(sentence) and not _FAILURE_WORDS.search(sentence) and words & stems:
                    problems.append(
                        f"message {index} reports {view.name} as done ({show(sentence.strip())}), "
                        f"but {view.call_id} failed"
                    )
    return problems


def claim_problems(evidence: DialogueEvidence) -> list[str]:
    """Every claim in the assistant's text that disagrees with what it was told (see the module)."""
    fields = _status_fields(evidence.output_schemas)
    known = _Known(evidence)
    problems: list[str] = []
    for index, message in enumerate(evidence.messages):
        if message.get("role") != "assistant":
            continue
        text = content_text(message.get("content"))
        if not text.strip():
            continue
        known.read_up_to(index)
        problems += [
            f"message {index} names {token!r}, which no result, call or message before it holds"
            for token in dict.fromkeys(_claimed_ids(text))
            if not known.has_token(token)
        ]
        problems += [
            f"message {index} states {written!r}, which no result or message before it gives"
            for written, value, money in dict.fromkeys(_claimed_amounts(text))
            if not known.has_number(value, money)
        ]
        problems += _status_problems(index, text, known.result_leaves, fields)
    return problems + _success_problems(evidence)
