"""Identifier grounding for the embedded model's tool calls.

Small models invent internal identifiers ("ord_HL-20417") instead of looking them up, and copy
example values out of tool descriptions. The embedded client therefore narrows every identifier
parameter (see :func:`is_identifier`) to the values that already appear in the conversation: in
the customer's messages or in tool results.
A tool whose required identifier has no such value is left out of that step's grammar, so the
model has to call the tool that produces the identifier first. Values are still checked against
the parameter's own schema (pattern, format, enum), so an order number never fills an order id.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from rolecall.scenario import value_validator

# Words that can be identifiers: letters, digits and the joiners ids, emails and hostnames use.
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/+-]*[A-Za-z0-9]|[A-Za-z0-9]")
_ID_LIKE = re.compile(r"[0-9_@.-]")
_COPIED_NAMES = re.compile(
    r"(^|_)(id|ids)$|_(number|code)$|^(sku|email|username|hostname)$|_email$"
    # Money: in the 1.5B benchmark at 6e013a2 the assistant made up a refund or credit amount in
    # 4 of 10 retail dialogues (always 2500 cents); an amount is the customer's or a result's.
    r"|(^|_)amount($|_)|_cents$",
    re.IGNORECASE,
)
MAX_CANDIDATES = 64


def is_identifier(name: str, schema: Any = None) -> bool:
    """Whether a parameter holds a value to copy, never to make up: an id, a number, a code, an
    email or an amount of money by its name, or any string with a pattern or a format. Fixed
    vocabularies (enum, const) are not: the model picks from them."""
    if isinstance(schema, dict) and ("enum" in schema or "const" in schema):
        return False
    if _COPIED_NAMES.search(name):
        return True
    if not isinstance(schema, dict):
        return False
    types = schema.get("type")
    is_string = types == "string" or (isinstance(types, list) and "string" in types)
    return is_string and ("pattern" in schema or "format" in schema)


def candidate_values(texts: Iterable[str]) -> list[str]:
    """Distinct strings that could be identifiers, most recent first.

    A JSON text (a tool result) gives its string and number leaves that hold no spaces; free text
    gives its words that hold a digit or a joiner (``W-20417``, ``ord_7h2k``), not plain words.
    """
    seen: dict[str, None] = {}
    for text in reversed(list(texts)):
        found: list[str] = []
        try:
            _leaves(json.loads(text), found)
        except ValueError:
            found = [word for word in _TOKEN.findall(text) if _ID_LIKE.search(word)]
        for value in found:
            if value and " " not in value and len(value) <= 64 and value not in seen:
                seen[value] = None
    return list(seen)[:MAX_CANDIDATES]


def _leaves(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _leaves(item, out)
    elif isinstance(value, list):
        for item in value:
            _leaves(item, out)
    elif isinstance(value, str):
        out.append(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        out.append(str(value))


def ground_parameters(parameters: dict[str, Any], candidates: list[str]) -> dict[str, Any] | None:
    """``parameters`` with identifier properties (at any depth) limited to ``candidates``; ``None``
    when a required identifier has no fitting candidate (the tool cannot be called yet)."""
    return _ground(copy.deepcopy(parameters), candidates)


def _ground(schema: dict[str, Any], candidates: list[str]) -> dict[str, Any] | None:
    """Ground the identifiers inside an object schema, or inside the objects an array holds."""
    items = schema.get("items")
    if isinstance(items, dict):
        grounded_items = _ground(items, candidates)
        if grounded_items is None:
            return None if schema.get("minItems", 0) > 0 else {**schema, "maxItems": 0}
        return {**schema, "items": grounded_items}
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    required = set(schema.get("required") or [])
    for name, child in list(properties.items()):
        if not isinstance(child, dict):
            continue
        narrowed = _narrow(child, candidates) if is_identifier(name, child) else _ground(child, candidates)
        if narrowed is not None:
            properties[name] = narrowed
        elif name in required:
            return None
        else:
            del properties[name]
    return schema


def _narrow(schema: dict[str, Any], candidates: list[str]) -> dict[str, Any] | None:
    types = schema.get("type")
    types = set(types) if isinstance(types, list) else {types}
    if "array" in types and isinstance(schema.get("items"), dict):
        items = _narrow(schema["items"], candidates)
        return None if items is None else {**schema, "items": items}
    if "string" not in types and "integer" not in types:
        return _ground(schema, candidates)  # an object named like an id: ground what it holds
    validator = value_validator(schema)  # formats too: "1000" is no email
    values: list[Any] = []
    for candidate in candidates:
        for value in (candidate, int(candidate)) if candidate.isdigit() else (candidate,):
            if value not in values and validator.is_valid(value):
                values.append(value)
    if "null" in types:
        values.append(None)
    if not values:
        return None
    kept = {key: value for key, value in schema.items() if key in ("description", "title")}
    return {**kept, "enum": values}


def missing_identifiers(parameters: dict[str, Any], candidates: list[str]) -> list[str]:
    """The required top-level identifiers of a tool that no candidate can fill (why
    :func:`ground_parameters` refused it); all its required identifiers when the gap is deeper."""
    properties = parameters.get("properties") or {}
    required = [name for name in parameters.get("required") or [] if isinstance(properties.get(name), dict)]
    identifiers = [name for name in required if is_identifier(name, properties[name])]
    return [name for name in identifiers if _narrow(copy.deepcopy(properties[name]), candidates) is None] or identifiers


def way_forward(
    tool: str,
    blocked: dict[str, list[str]],
    descriptions: dict[str, str],
    produces: Mapping[str, Collection[str]] | None = None,
    max_depth: int = 3,
) -> tuple[list[str], list[str]]:
    """What to do when the model picks ``tool`` but the chat lacks values it needs.

    Returns ``(tools to call first, values to ask the customer for)``; at most one is non-empty.
    A tool can supply a missing value when its declared output schema has a field of that name
    (``produces``: tool -> the names of its output fields), or when its
    description says so ("Returns the customer_id used by other tools"); ``blocked`` maps each
    tool that cannot be called yet to its missing values.
    Internal ids (``*_id``) are followed through their producers up to ``max_depth`` steps:
    an order id comes from the order number, or from the customer's order list, whose customer id
    comes from an email. Every other value (an email, an order number) is the customer's to give.
    Both lists are empty when ``tool`` is not blocked.
    """
    wanted, seen, ask = list(blocked.get(tool, [])), {tool}, []
    for _ in range(max_depth):
        next_wanted: list[str] = []
        ready: list[str] = []
        for value in wanted:
            mention = re.compile(rf"\b{re.escape(value)}\b")
            internal = value == "id" or value.endswith("_id")
            producers = [
                name
                for name, text in descriptions.items()
                if internal
                and name not in seen
                and (value in (produces or {}).get(name, ()) or mention.search(text) is not None)
            ]
            if not producers:
                ask.append(value)  # not an internal id, or nothing looks it up: the customer's to say
            ready += [name for name in producers if name not in blocked]
            next_wanted += [v for name in producers for v in blocked.get(name, [])]
            seen.update(producers)
        if ready:
            return list(dict.fromkeys(ready)), []
        wanted = [v for v in dict.fromkeys(next_wanted) if v not in ask]
        if not wanted:
            break
    ask += wanted  # still open after max_depth steps: ask for them as they are
    return [], list(dict.fromkeys(ask))
