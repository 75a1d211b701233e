"""Output schemas for tools that declare no ``returns``.

The planner can only chain calls through declared outputs, so a tool without ``returns`` gets
one inferred: by the LLM when a model is at hand (cached on disk by the tool's fingerprint,
so each tool is inferred once), otherwise by a heuristic from its name and parameters.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from rolecall.scenario import Tool, usable_schema

_VERBS = {"get", "find", "lookup", "search", "list", "fetch", "create", "read", "retrieve", "show", "check", "add"}

# An async function that asks a model for an output schema; returns None when it cannot.
SchemaInferrer = Callable[[Tool], Awaitable[dict[str, Any] | None]]


def fingerprint(tool: Tool) -> str:
    """Stable hash of what a tool looks like to a model."""
    canonical = json.dumps(tool.openai_tool(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def heuristic_output_schema(tool: Tool) -> dict[str, Any]:
    """A plausible result: the entity's id, a status and the inputs echoed back.

    ``get_invoice_by_number(number)`` -> ``{invoice_id, status, number}``. Crude, but it keeps
    tools without ``returns`` chainable through ids when no model is available.
    """
    words = [w for w in tool.name.lower().split("_") if w]
    if "by" in words:
        words = words[: words.index("by")]
    entity = next((w for w in words if w not in _VERBS), "result")
    properties: dict[str, Any] = {
        f"{entity}_id": {"type": "string", "description": f"Identifier of the {entity}."},
        "status": {"type": "string", "description": "Outcome of the operation."},
    }
    for name, schema in (tool.parameters.get("properties") or {}).items():
        if isinstance(schema, Mapping):
            properties.setdefault(name, dict(schema))
    return {"type": "object", "properties": properties, "required": [f"{entity}_id", "status"]}


def usable_output_schema(schema: Any) -> bool:
    return usable_schema(schema) and schema.get("type") == "object"


_NAMED_SUBSCHEMAS = ("properties", "patternProperties", "$defs", "definitions")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMAS = ("items", "additionalProperties", "contains", "not", "if", "then", "else")


def described_requirements(schema: Any) -> Any:
    """``schema`` with every object's ``required`` cut to the properties it describes.

    Models inferring a tool's output sometimes require fields they never describe (the 1.5B gave
    tau-bench's transfer_to_human_agents {"properties": {"status"}, "required": ["customer_id",
    "order_id", "status"]}); the tool simulator, shown the properties, cannot satisfy that, and
    every dialogue calling the tool failed. Used on inferred and cached schemas, not declared ones.
    """
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "required":
            continue
        if key in _NAMED_SUBSCHEMAS and isinstance(value, dict):  # names are data, not keywords
            cleaned[key] = {name: described_requirements(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            cleaned[key] = [described_requirements(sub) for sub in value]
        elif key in _SUBSCHEMAS:
            cleaned[key] = described_requirements(value)
        else:
            cleaned[key] = value
    if isinstance(schema.get("required"), list):
        described = cleaned.get("properties") if isinstance(cleaned.get("properties"), dict) else {}
        kept = [name for name in schema["required"] if name in described]
        if kept:
            cleaned["required"] = kept
    return cleaned


def default_cache_dir() -> Path:
    configured = os.environ.get("ROLECALL_CACHE_DIR")
    base = (
        Path(configured)
        if configured
        else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rolecall"
    )
    return base / "output_schemas"


async def resolve_output_schemas(
    tools: list[Tool], infer: SchemaInferrer | None = None, cache_dir: Path | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Output schema per tool and where each came from (``declared``, ``cache``, ``llm``, ``heuristic``)."""
    schemas: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    directory = cache_dir or default_cache_dir()
    for tool in tools:
        if tool.returns is not None:
            schemas[tool.name], sources[tool.name] = tool.returns, "declared"
            continue
        cached = directory / f"{fingerprint(tool)}.json"
        if cached.is_file():
            try:
                schema = json.loads(cached.read_text(encoding="utf-8"))
            except ValueError:
                schema = None
            if usable_output_schema(schema):
                schemas[tool.name], sources[tool.name] = described_requirements(schema), "cache"
                continue
        schema = await infer(tool) if infer is not None else None
        if usable_output_schema(schema):
            assert schema is not None
            directory.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(schema, indent=2, sort_keys=True), encoding="utf-8")
            partial.replace(cached)
            schemas[tool.name], sources[tool.name] = described_requirements(schema), "llm"
        else:
            schemas[tool.name], sources[tool.name] = heuristic_output_schema(tool), "heuristic"
    return schemas, sources
