"""The README documents every key of the scenario format (the format's JSON Schema is the list)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rolecall.scenario import Scenario

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _keys(schema: dict[str, Any], definitions: dict[str, Any], seen: set[str]) -> set[str]:
    found: set[str] = set()
    for name, sub in (schema.get("properties") or {}).items():
        found.add(name)
        found |= _walk(sub, definitions, seen)
    return found


def _walk(node: Any, definitions: dict[str, Any], seen: set[str]) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                found |= _keys(definitions[name], definitions, seen)
        for key in ("anyOf", "oneOf", "allOf", "items", "additionalProperties"):
            value = node.get(key)
            for item in value if isinstance(value, list) else [value]:
                found |= _walk(item, definitions, seen)
    return found


def test_every_scenario_key_is_documented_in_the_readme() -> None:
    schema = Scenario.model_json_schema()
    keys = _keys(schema, schema.get("$defs", {}), set())
    assert {"dialogues", "hidden_calls", "disabled_rules", "returns", "facts", "rate"} <= keys
    missing = sorted(key for key in keys if not re.search(rf"`{re.escape(key)}`|\b{re.escape(key)}\b", README))
    assert missing == []


def test_every_scenario_key_has_a_description_in_the_schema() -> None:
    schema = Scenario.model_json_schema()
    for definition in [schema, *schema.get("$defs", {}).values()]:
        for name, sub in (definition.get("properties") or {}).items():
            assert "description" in sub, f"{definition.get('title')}.{name}"
