"""JSON Schema helpers shared by the loader, the planner, the tool simulator and the validator.

Tool schemas name their dialect with ``$schema`` or default to Draft 2020-12; value checks
include ``format`` (dates, emails) because tools rely on them.

Patterns come from scenario files and are matched against model-written values, so they are
compiled and matched with the ``regex`` package under a time limit: a pattern that backtracks
catastrophically (``^(a+)+$``) is an error, never a hang. An invalid pattern is an error of the
schema itself, reported where it stands.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

import jsonschema
import regex
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

T = TypeVar("T")

# The longest a pattern may take to match one value.
PATTERN_TIMEOUT_S = 0.25


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> regex.Pattern[str]:
    """A scenario's patterns are few and matched on every value checked: compile each once
    (``regex``'s own cache lookup costs as much as the match)."""
    return regex.compile(pattern)


def _pattern_problem(pattern: str, instance: str) -> str | None:
    """Why ``instance`` fails ``pattern``, or None when it matches."""
    try:
        found = _compiled(pattern).search(instance, timeout=PATTERN_TIMEOUT_S)
    except regex.error as error:
        return f"{pattern!r} is not a valid regular expression: {error}"
    except TimeoutError:
        return (
            f"{pattern!r} took over {PATTERN_TIMEOUT_S} s to match a value of {len(instance)} characters "
            "(a pattern that backtracks catastrophically)"
        )
    return None if found is not None else f"{instance!r} does not match {pattern!r}"


# Short values are checked again and again (an id in a call's arguments, its result, the rules'
# second look), and a match under a time limit costs ten times one without (the ``regex``
# package starts a clock): answers for short values are kept. A timeout is kept too, so a
# catastrophic pattern costs its time limit once per value, not at every check.
_known_pattern_problem = functools.lru_cache(maxsize=4096)(_pattern_problem)
_KEPT_VALUE_CHARS = 256


def _bounded_pattern(validator: Validator, pattern: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string") or not isinstance(pattern, str):
        return
    check = _known_pattern_problem if len(instance) <= _KEPT_VALUE_CHARS else _pattern_problem
    problem = check(pattern, instance)
    if problem is not None:
        yield ValidationError(problem)


@functools.cache
def _bounded(cls: type[Validator]) -> type[Validator]:
    """``cls`` with ``pattern`` matched by the ``regex`` package under a time limit."""
    return jsonschema.validators.extend(cls, {"pattern": _bounded_pattern})


def _regex_format(value: object) -> bool:
    if isinstance(value, str):
        regex.compile(value)
    return True


_META_FORMATS = jsonschema.FormatChecker(formats=())
_META_FORMATS.checks("regex", raises=regex.error)(_regex_format)


def dialect_of(schema: Mapping[str, Any]) -> type[Validator]:
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)


class SchemaCache(Generic[T]):
    """What was derived from schema objects, by their identity, least recently used first.

    Scenario schemas are loaded once and never changed, and a run checks every call against the
    same few: deriving from them once (a validator, the status fields of a set of output schemas)
    saves the derivation per check. An entry holds its schemas, so while it is kept their ids
    cannot be reused by other objects; the identity is checked all the same. Thread-safe: the
    embedded model's grounding asks from its worker thread."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[int, ...], tuple[tuple[Any, ...], T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, schemas: Sequence[Any], make: Callable[[], T]) -> T:
        """The value kept for these very ``schemas``, or ``make()``'s, kept."""
        kept_schemas = tuple(schemas)
        key = tuple(map(id, kept_schemas))
        with self._lock:
            known = self._entries.get(key)
            if known is not None and all(a is b for a, b in zip(known[0], kept_schemas, strict=True)):
                self._entries.move_to_end(key)
                return known[1]
        value = make()
        with self._lock:
            self._entries[key] = (kept_schemas, value)
            if len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return value


# Building a validator cost about as much as the check it makes (the tool simulator and the rules
# check every call's values against the scenario's few schemas).
_VALIDATORS: SchemaCache[Validator] = SchemaCache(256)


def value_validator(schema: Mapping[str, Any]) -> Validator:
    """Validates values against ``schema`` (formats checked); one per schema object, reused."""

    def build() -> Validator:
        cls = dialect_of(schema)
        return _bounded(cls)(schema, format_checker=cls.FORMAT_CHECKER)

    return _VALIDATORS.get((schema,), build)


def meta_validator(schema: Mapping[str, Any]) -> Validator:
    """Validates ``schema`` itself against its dialect's meta-schema (patterns must compile)."""
    cls = dialect_of(schema)
    return cls(cls.META_SCHEMA, format_checker=_META_FORMATS)
