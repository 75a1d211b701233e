"""Schemas handed to llama.cpp are made safe for its grammar parser, which crashes the process otherwise."""

from __future__ import annotations

import json

import jsonschema
import pytest

from rolecall.models._grammar import MAX_GRAMMAR_ITEMS, MAX_GRAMMAR_LENGTH, grammar_safe

SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "pattern": r"^\d{3}\.[a-z]+\$$"},
        "spaceless": {"type": "string", "pattern": r"^\S+$"},
        "details": {"type": "string", "maxLength": 4000},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 50, "minItems": 10},
        "pattern": {"type": "string", "enum": ["a\\.b"]},  # a property named like a keyword
    },
    "patternProperties": {"^x-": {}},
}


def test_escapes_become_classes_and_unparseable_patterns_are_dropped() -> None:
    safe = grammar_safe(SCHEMA)
    assert safe["properties"]["code"]["pattern"] == "^[0-9]{3}[.][a-z]+[$]$"
    assert "pattern" not in safe["properties"]["spaceless"]
    assert safe["properties"]["pattern"]["enum"] == ["a\\.b"]  # values are data, not patterns
    assert "patternProperties" not in safe


def test_bounds_are_tightened_never_loosened() -> None:
    safe = grammar_safe(SCHEMA)
    assert safe["properties"]["details"]["maxLength"] == MAX_GRAMMAR_LENGTH
    assert safe["properties"]["tags"]["maxItems"] == max(MAX_GRAMMAR_ITEMS, 10)
    # Whatever the tightened schema admits, the original admits too.
    sample = {"code": "123.ab$", "details": "x" * MAX_GRAMMAR_LENGTH, "tags": ["t"] * 10}
    jsonschema.validate(sample, safe)
    jsonschema.validate(sample, SCHEMA)
    assert SCHEMA["properties"]["details"]["maxLength"] == 4000  # the input is not modified


# -- the grammars of an assistant step (parsed by llama.cpp itself; no model needed) -------------


def test_call_and_text_grammars_parse_in_llama_cpp() -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason='needs llama-cpp-python: pip install -e ".[local-small]"')
    from rolecall.models._grammar import call_grammar, text_grammar

    calls = {
        "anyOf": [
            {
                "type": "object",
                "properties": {"name": {"const": "get_order"}, "arguments": {"enum": [{"order_id": "ord_1"}]}},
                "required": ["name", "arguments"],
            },
            {
                "type": "object",
                "properties": {"name": {"const": "find"}, "arguments": SCHEMA},
                "required": ["name", "arguments"],
            },
        ]
    }
    for grammar in (call_grammar(calls), text_grammar(700)):
        assert llama_cpp.LlamaGrammar.from_string(grammar, verbose=False) is not None
    # Replies are bounded even when configured huge: llama.cpp aborts on long repetitions.
    assert "{0,599}" in text_grammar(700) and "{0,599}" in text_grammar(100_000) and "{0,19}" in text_grammar(20)


def test_the_planner_writes_its_calls_before_the_goal() -> None:
    """llama.cpp orders an object's keys as the schema lists them: the goal then describes the calls."""
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar", reason='needs pip install -e ".[local-small]"')
    from rolecall.agents import plan_reply_for

    tool = {"name": "find", "parameters": {"type": "object", "properties": {"email": {"type": "string"}}}}
    schema = grammar_safe(plan_reply_for([tool], max_calls=3, min_calls=2).model_json_schema())
    gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(schema))
    root = next(line for line in gbnf.splitlines() if line.startswith("root ::="))
    assert root.index("calls-kv") < root.index("goal-kv")


def test_a_plan_grammar_with_named_reference_paths_parses_in_llama_cpp() -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason='needs llama-cpp-python: pip install -e ".[local-small]"')
    from rolecall.agents import plan_reply_for

    tool = {"name": "cancel", "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}}
    paths = [("orders", "0", "order_id"), ("customer_id",), ("x-ray",)]
    schema = grammar_safe(plan_reply_for([tool], max_calls=3, reference_paths=paths).model_json_schema())
    gbnf = llama_cpp.llama_grammar.json_schema_to_gbnf(json.dumps(schema))
    assert llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False) is not None
    reference_rule = next(line for line in gbnf.splitlines() if "[$]" in line)
    assert '"order' in reference_rule and "[0-9]+" in reference_rule  # the paths, indices open
