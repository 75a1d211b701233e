"""JSON Schema helpers shared by the loader, the planner, the tool simulator and the validator.

Tool schemas name their dialect with ``$schema`` or default to Draft 2020-12; value checks
include ``format`` (dates, emails) because tools rely on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.protocols import Validator


def dialect_of(schema: Mapping[str, Any]) -> type[Validator]:
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)


def value_validator(schema: Mapping[str, Any]) -> Validator:
    """Validates values against ``schema`` (formats checked)."""
    cls = dialect_of(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def meta_validator(schema: Mapping[str, Any]) -> Validator:
    """Validates ``schema`` itself against its dialect's meta-schema."""
    cls = dialect_of(schema)
    return cls(cls.META_SCHEMA)
