"""JSON Schemas that llama.cpp can turn into a grammar (in process or behind llama_cpp.server)."""

from __future__ import annotations

from typing import Any

# llama.cpp's grammar parser takes no backslash escapes in patterns and crashes the whole process
# (SIGSEGV) on one, so patterns are rewritten into escape-free classes, or dropped. Results are
# still validated against the original schema afterwards.
_ESCAPES = {
    r"\.": "[.]",
    r"\d": "[0-9]",
    r"\$": "[$]",
    r"\-": "[-]",
    r"\w": "[A-Za-z0-9_]",
    r"\s": "[ ]",
    r"\+": "[+]",
    r"\(": "[(]",
    r"\)": "[)]",
    r"\/": "/",
    r"\_": "_",
}


def grammar_safe(schema: Any) -> Any:
    """A copy of ``schema`` that llama.cpp can turn into a grammar without crashing."""
    if isinstance(schema, list):
        return [grammar_safe(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    safe = {}
    for key, value in schema.items():
        if key == "patternProperties":
            continue
        if key == "pattern" and isinstance(value, str):
            for escaped, plain in _ESCAPES.items():
                value = value.replace(escaped, plain)
            if "\\" in value:
                continue
        safe[key] = grammar_safe(value) if key not in ("enum", "const", "required") else value
    return safe
