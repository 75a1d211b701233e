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
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import regex
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

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


# Validators by the identity of their schema, least recently used first. Building one cost about
# as much as the check it makes (the tool simulator and the rules check every call's values
# against the scenario's few schemas). A validator holds its schema, so while it is cached the
# schema's id cannot be reused by another object; the identity is checked all the same.
_VALIDATORS: OrderedDict[int, Validator] = OrderedDict()
_VALIDATORS_MAX = 256
_VALIDATORS_LOCK = threading.Lock()  # the embedded model's grounding asks from its worker thread


def value_validator(schema: Mapping[str, Any]) -> Validator:
    """Validates values against ``schema`` (formats checked); one per schema object, reused."""
    with _VALIDATORS_LOCK:
        known = _VALIDATORS.get(id(schema))
        if known is not None and known.schema is schema:
            _VALIDATORS.move_to_end(id(schema))
            return known
    cls = dialect_of(schema)
    validator = _bounded(cls)(schema, format_checker=cls.FORMAT_CHECKER)
    with _VALIDATORS_LOCK:
        _VALIDATORS[id(schema)] = validator
        if len(_VALIDATORS) > _VALIDATORS_MAX:
            _VALIDATORS.popitem(last=False)
    return validator


def meta_validator(schema: Mapping[str, Any]) -> Validator:
    """Validates ``schema`` itself against its dialect's meta-schema (patterns must compile)."""
    cls = dialect_of(schema)
    return cls(cls.META_SCHEMA, format_checker=_META_FORMATS)
