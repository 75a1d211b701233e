"""JSON Schemas that llama.cpp can turn into a grammar (in process or behind llama_cpp.server)."""

from __future__ import annotations

import json
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


# llama.cpp also aborts (and takes the process down) when repetitions grow past its limit, as a
# ``maxLength: 4000`` string does. Tighter bounds still satisfy the original schema.
MAX_GRAMMAR_LENGTH = 300
MAX_GRAMMAR_ITEMS = 8


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
        if key == "maxLength" and isinstance(value, int):
            value = min(value, max(MAX_GRAMMAR_LENGTH, schema.get("minLength", 0)))
        if key == "maxItems" and isinstance(value, int):
            value = min(value, max(MAX_GRAMMAR_ITEMS, schema.get("minItems", 0)))
        safe[key] = grammar_safe(value) if key not in ("enum", "const", "required") else value
    return safe


# Free text the assistant may write instead of a call. It cannot open like a call (a tag, a code
# fence, JSON) and holds no braces or backticks, so a call is never smuggled into prose.
_TEXT_RULE = "root ::= [^<`{}\\[ \\t\\n] [^`{}<\\x00]{0,MAX}"
CALL_OPENERS = ("{", "[", "<", "`")


def call_grammar(calls_schema: dict[str, Any]) -> str:
    """GBNF for one JSON tool call matching ``calls_schema`` (made grammar-safe first)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return json_schema_to_gbnf(json.dumps(grammar_safe(calls_schema)))


def text_grammar(max_chars: int) -> str:
    """GBNF for a plain-text reply of 1 to ``max_chars`` characters (capped for llama.cpp)."""
    return _TEXT_RULE.replace("MAX", str(max(0, min(max_chars, MAX_GRAMMAR_LENGTH * 2) - 1)))


def json_text(text: str) -> str:
    """``text`` re-serialised where it is JSON only once raw control characters are allowed in
    strings. llama-cpp-python's schema grammars (in process and in ``llama_cpp.server``) let a
    string hold a raw newline, which strict parsers (pydantic, ``json.loads``) refuse: the 1.5B
    judge then got its own parse error back as feedback and judged that instead of the dialogue."""
    try:
        json.loads(text)
        return text
    except ValueError:
        pass
    try:
        return json.dumps(json.loads(text, strict=False), ensure_ascii=False)
    except ValueError:
        return text
