"""Value validators: one per schema object, reused; never one built for another schema."""

from __future__ import annotations

import copy

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
