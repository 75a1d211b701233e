"""Deterministic values that satisfy a JSON Schema, for the mock's plans and tool results.

Everything is seeded from a digest of the request's own content, never from a random stream or
a clock, so the same request always gets the same answer whatever order requests arrive in:
runs at any concurrency stay byte-identical.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def digest(*parts: Any) -> int:
    """A stable 48-bit number for ``parts`` (JSON-serialisable): the seed of every choice."""
    return int(hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12], 16)


def _from_pattern(pattern: str, seed: int) -> str:
    """A string matching simple regexes such as ``^W-[0-9]{5}$`` (classes, counts, literals)."""
    body = pattern.strip("^$")
    out = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "[":
            end = body.index("]", i)
            choices = _expand_class(body[i + 1 : end])
            i = end + 1
        elif char == "\\" and i + 1 < len(body):
            code = body[i + 1]
            choices = "0123456789" if code == "d" else ("abcdefgh" if code == "w" else code)
            i += 2
        elif char == "(":
            end = body.index(")", i)
            alternatives = body[i + 1 : end].split("|")
            out.append(alternatives[seed % len(alternatives)])
            i = end + 1
            continue
        else:
            choices = char
            i += 1
        count = 1
        if i < len(body) and body[i] == "{":
            end = body.index("}", i)
            count = int(body[i + 1 : end].split(",")[0])
            i = end + 1
        elif i < len(body) and body[i] in "+*?":
            count = 0 if body[i] in "*?" else 2
            i += 1
        for _ in range(count):
            seed = (seed * 1103515245 + 12345) % 2**31
            out.append(choices[seed % len(choices)])
    return "".join(out)


def _expand_class(spec: str) -> str:
    """The characters of a regex class body such as ``A-Z0-9_``."""
    chars = []
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            chars.extend(chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1))
            i += 3
        else:
            chars.append(spec[i])
            i += 1
    return "".join(chars)


def value_for(name: str, schema: dict[str, Any], seed: int, date: str) -> Any:
    """A deterministic value that validates against ``schema`` (``date`` for date formats)."""
    if "enum" in schema:
        return schema["enum"][seed % len(schema["enum"])]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        return object_for(schema, seed, date)
    if kind == "array":
        item = schema.get("items") or {"type": "string"}
        count = max(1, schema.get("minItems", 1))
        return [value_for(name, item, seed + n, date) for n in range(count)]
    if kind == "integer":
        return max(schema.get("minimum", 1), min(schema.get("maximum", 10**6), 1 + seed % 5))
    if kind == "number":
        return float(max(schema.get("minimum", 1), min(schema.get("maximum", 10**6), 10 + seed % 50)))
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    if fmt == "date":
        return date
    if fmt == "date-time":
        return f"{date}T10:00:00Z"
    if fmt == "email":
        return f"user{seed % 1000}@example.com"
    # Formats the validator checks (jsonschema's format-nongpl checkers): valid examples of each.
    formatted = {
        "uri": f"https://example.com/{name.replace('_', '-')}/{seed % 100000}",
        "uri-reference": f"/{name.replace('_', '-')}/{seed % 100000}",
        "iri": f"https://example.com/{name.replace('_', '-')}/{seed % 100000}",
        "uuid": f"00000000-0000-4000-8000-{seed % 10**12:012d}",
        "time": "10:00:00Z",
        "hostname": f"host{seed % 1000}.example.com",
        "idn-hostname": f"host{seed % 1000}.example.com",
        "ipv4": f"192.0.2.{seed % 250 + 1}",
        "ipv6": "2001:db8::1",
        "duration": "P1D",
    }
    if fmt in formatted:
        return formatted[fmt]
    if "pattern" in schema:
        return _from_pattern(schema["pattern"], seed)
    text = f"{name.replace('_', '-')}-{seed % 100000}"
    return text[: schema.get("maxLength", 64)].ljust(schema.get("minLength", 0), "x")


def object_for(schema: dict[str, Any], seed: int, date: str, known: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object with every property of ``schema``; scalars in ``known`` are echoed unchanged
    (a tool result repeats the ids it was called with, as a real backend would)."""
    known = known or {}
    result = {}
    for offset, (name, sub) in enumerate((schema.get("properties") or {}).items()):
        if name in known and isinstance(known[name], str | int | float | bool):
            result[name] = known[name]
        else:
            result[name] = value_for(name, sub if isinstance(sub, dict) else {}, seed + offset * 7919, date)
    return result
