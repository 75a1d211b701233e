"""Value validators: one per schema object, reused; never one built for another schema."""

from __future__ import annotations

import copy
from collections.abc import Callable

from rolecall.scenario import value_validator


def test_a_schema_object_keeps_its_validator_and_an_equal_copy_gets_its_own() -> None:
    schema = {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}
    first = value_validator(schema)
    assert value_validator(schema) is first
    twin = copy.deepcopy(schema)
    assert value_validator(twin) is not first and value_validator(twin).schema is twin
    assert not first.is_valid({"email": "not an address"}) and first.is_valid({"email": "ana@example.com"})


def test_a_validator_answers_for_its_own_schema_after_many_others() -> None:
    kept = {"type": "integer"}
    validator = value_validator(kept)
    for number in range(1000):  # more than the cache holds
        assert value_validator({"type": "string", "maxLength": number}).schema["maxLength"] == number
    assert value_validator(kept).schema is kept and value_validator(kept).is_valid(3)
    assert not validator.is_valid("3")


def test_pattern_answers_are_kept_for_short_values_and_agree_with_a_fresh_match() -> None:
    from rolecall.scenario import _jsonschema

    validator = value_validator({"type": "string", "pattern": "^W-[0-9]{5}$"})
    kept = _jsonschema._known_pattern_problem
    kept.cache_clear()
    for value in ("W-48213", "W-4821", "w-48213", "W-48213"):
        assert validator.is_valid(value) is (_jsonschema._pattern_problem("^W-[0-9]{5}$", value) is None)
    assert [validator.is_valid(v) for v in ("W-48213", "W-4821", "w-48213")] == [True, False, False]
    assert kept.cache_info().hits == 4 and kept.cache_info().misses == 3  # the repeats were not matched again
    long_value = "W-" + "4" * 300
    assert not validator.is_valid(long_value)
    assert kept.cache_info().currsize == 3  # long values are not kept


def test_a_catastrophic_pattern_costs_its_time_limit_once_per_value() -> None:
    from rolecall.scenario import _jsonschema

    validator = value_validator({"type": "string", "pattern": "^(a|aa)+$"})
    value = "a" * 39 + "!"
    first = [error.message for error in validator.iter_errors(value)]
    misses = _jsonschema._known_pattern_problem.cache_info().misses
    again = [error.message for error in validator.iter_errors(value)]
    assert first == again and "backtracks catastrophically" in first[0]
    assert _jsonschema._known_pattern_problem.cache_info().misses == misses


def test_a_schema_cache_answers_for_the_very_schemas_it_was_given() -> None:
    from rolecall.scenario import SchemaCache

    cache: SchemaCache[str] = SchemaCache(2)
    first, second = {"type": "string"}, {"type": "integer"}
    made: list[str] = []

    def make(label: str) -> Callable[[], str]:
        def build() -> str:
            made.append(label)
            return label

        return build

    assert cache.get([first, second], make("a")) == "a"
    assert cache.get([first, second], make("b")) == "a"  # the same objects: kept
    assert cache.get([copy.deepcopy(first), second], make("c")) == "c"  # an equal copy: its own entry
    assert cache.get([second, first], make("d")) == "d"  # another order is another set
    assert cache.get([first, second], make("e")) == "e"  # the oldest was let go (two at most)
    assert made == ["a", "c", "d", "e"]
