"""Role plumbing that needs no model: templates, reply shapes, JSON extraction."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from openai.lib._pydantic import to_strict_json_schema
from pydantic import ValidationError

import rolecall
from rolecall.agents import PlanReply, json_object_reply
from rolecall.agents._autogen import extract_json_object
from rolecall.prompts import render, template_text

PROMPTS = Path(rolecall.__file__).parent / "prompts"
TEMPLATES = sorted(p.relative_to(PROMPTS).with_suffix("").as_posix() for p in PROMPTS.rglob("*.md"))
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_renders_with_exactly_its_placeholders(name: str) -> None:
    wanted = set(_PLACEHOLDER.findall(template_text(name)))
    text = render(name, **{key: f"<{key}>" for key in wanted})
    assert "{{" not in text and all(f"<{key}>" in text for key in wanted)


def test_the_prompt_set_is_complete() -> None:
    assert {"planner/system", "user/system", "user/opening", "tool_simulator/call", "judge/system"} <= set(TEMPLATES)


def test_render_refuses_missing_and_unused_values() -> None:
    with pytest.raises(KeyError, match="missing"):
        render("user/system")
    with pytest.raises(KeyError, match="unused"):
        render("user/opening", surprise="x")


def test_json_object_reply_shows_its_schema_and_is_never_edited_in_place() -> None:
    schema = {"type": "object", "properties": {"id": {"type": "string"}, "n": {"type": "integer"}}, "required": ["id"]}
    original = copy.deepcopy(schema)
    reply_type = json_object_reply("thing_result", schema)
    assert reply_type.model_json_schema() == original
    to_strict_json_schema(reply_type)  # what the openai client does for response_format
    assert schema == original
    assert reply_type.model_validate({"anything": 1}).root == {"anything": 1}


def test_plan_reply_bounds_free_text_for_small_models() -> None:
    schema = PlanReply.model_json_schema()
    assert schema["properties"]["goal"]["maxLength"] == 300


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('Sure! ```json\n{"a": [1, 2]}\n``` hope that helps', {"a": [1, 2]}),
        ('The answer is {"a": {"b": "}"}} and more text {"c": 2}', {"a": {"b": "}"}}),
    ],
)
def test_extract_json_object_finds_the_first_object(text: str, expected: dict) -> None:
    assert extract_json_object(text) == expected


def test_extract_json_object_refuses_text_without_one() -> None:
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json_object("no json here")


def test_plan_reply_schema_admits_only_the_given_tools_parameters_and_references() -> None:
    import jsonschema

    from rolecall.agents import plan_reply_for

    tools = [
        {
            "name": "find",
            "parameters": {"type": "object", "properties": {"email": {"type": "string"}}, "required": ["email"]},
        },
        {
            "name": "cancel",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "integer"}}, "required": ["order_id"]},
        },
    ]
    schema = plan_reply_for(tools, max_calls=3).model_json_schema()
    good = {
        "goal": "g",
        "calls": [
            {"id": "$1", "name": "find", "arguments": {"email": "a@b.co"}},
            {"id": "$2", "name": "cancel", "arguments": {"order_id": "$1.orders.0.id"}},
        ],
    }
    jsonschema.validate(good, schema)
    for bad in (
        {"goal": "g", "calls": [{"id": "$1", "name": "delete_all", "arguments": {}}]},
        {"goal": "g", "calls": [{"id": "$1", "name": "find", "arguments": {"email": "x", "extra": 1}}]},
        {"goal": "g", "calls": [{"id": "$1", "name": "cancel", "arguments": {"order_id": "twelve"}}]},
        {"goal": "g", "calls": [{"id": "1", "name": "find", "arguments": {"email": "x"}}]},
    ):
        assert not jsonschema.Draft202012Validator(schema).is_valid(bad), bad
    # Calls before the goal, in the schema and so in the grammar llama.cpp builds from it: the
    # goal is written after the calls it describes.
    assert list(schema["properties"]) == ["calls", "goal"]
    at_least_two = plan_reply_for(tools, max_calls=3, min_calls=2).model_json_schema()
    jsonschema.validate(good, at_least_two)
    assert not jsonschema.Draft202012Validator(at_least_two).is_valid({**good, "calls": good["calls"][:1]})


@pytest.mark.parametrize(
    ("reference", "valid"),
    [
        ("$1.orders.0.id", True),
        ("$12.orders.3.id", True),  # any call, any index
        ("$1.customer_id", True),
        ("$1.last_name", False),  # no tool returns it
        ("$1.orders.id", False),
        ("$1.orders.0.id.extra", False),
    ],
)
def test_plan_references_can_be_limited_to_known_output_paths(reference: str, valid: bool) -> None:
    import jsonschema

    from rolecall.agents import plan_reply_for

    tool = {"name": "cancel", "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}}
    paths = [("orders", "0", "id"), ("customer_id",)]
    schema = plan_reply_for([tool], max_calls=2, reference_paths=paths).model_json_schema()
    # order_id is a string, so any text passes its own branch; the reference branch is what is tested.
    reference_schema = schema["properties"]["calls"]["items"]["anyOf"][0]["properties"]["arguments"]["properties"][
        "order_id"
    ]["anyOf"][1]
    assert jsonschema.Draft202012Validator(reference_schema).is_valid(reference) is valid
    # Without paths, any field name is admitted (outputs unknown).
    open_schema = plan_reply_for([tool], max_calls=2).model_json_schema()
    open_reference = open_schema["properties"]["calls"]["items"]["anyOf"][0]["properties"]["arguments"]["properties"][
        "order_id"
    ]["anyOf"][1]
    assert jsonschema.Draft202012Validator(open_reference).is_valid("$1.last_name")


def test_a_parameters_references_can_be_narrowed_to_the_fields_that_feed_it() -> None:
    import jsonschema

    from rolecall.agents import plan_reply_for

    tool = {
        "name": "credit",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}, "note": {"type": "string"}}},
    }
    paths = [("orders", "0", "order_id"), ("member_since",)]
    schema = plan_reply_for(
        [tool], max_calls=2, reference_paths=paths, parameter_paths={"credit": {"order_id": [paths[0]]}}
    ).model_json_schema()
    arguments = schema["properties"]["calls"]["items"]["anyOf"][0]["properties"]["arguments"]["properties"]
    order_id, note = (jsonschema.Draft202012Validator(arguments[name]["anyOf"][1]) for name in ("order_id", "note"))
    assert order_id.is_valid("$1.orders.0.order_id") and not order_id.is_valid("$1.member_since")
    assert note.is_valid("$1.member_since")  # not narrowed: any known field


def test_a_parameter_with_no_feeding_field_at_hand_takes_only_a_literal() -> None:
    from rolecall.agents import plan_reply_for

    tool = {"name": "credit", "parameters": {"type": "object", "properties": {"order_id": {"type": "integer"}}}}
    schema = plan_reply_for(
        [tool], max_calls=2, reference_paths=[("member_since",)], parameter_paths={"credit": {"order_id": []}}
    ).model_json_schema()
    arguments = schema["properties"]["calls"]["items"]["anyOf"][0]["properties"]["arguments"]["properties"]
    assert arguments["order_id"] == {"type": "integer"}  # no "$1.member_since" branch


def test_reply_types_are_built_once_per_schema_and_show_a_fresh_copy() -> None:
    from rolecall.agents import json_object_reply

    schema = {"type": "object", "properties": {"id": {"type": "string"}}}
    first = json_object_reply("lookup_result", schema)
    assert json_object_reply("lookup_result", {"properties": {"id": {"type": "string"}}, "type": "object"}) is first
    assert json_object_reply("lookup_result", {"type": "object"}) is not first
    shown = first.model_json_schema()
    shown["properties"]["id"]["type"] = "integer"  # openai's strict conversion edits in place
    schema["properties"]["id"]["type"] = "number"  # and so may the caller, later
    assert first.model_json_schema()["properties"]["id"] == {"type": "string"}


def test_reply_types_kept_are_bounded_and_the_recently_used_stay() -> None:
    """Plan reply types are mostly used once: the cache must not grow with the run (it held
    4,096 types, 40 MB, before), and a type in steady use must not be rebuilt."""
    from rolecall.agents import _replies, json_object_reply

    def schema(number: int) -> dict[str, object]:
        return {"type": "object", "properties": {f"field_{number}": {"type": "string"}}}

    steady = json_object_reply("steady_result", schema(-1))
    for number in range(3 * _replies._ADVERTISED_MAX):
        json_object_reply("once_result", schema(number))
        assert json_object_reply("steady_result", schema(-1)) is steady
    assert len(_replies._ADVERTISED) <= _replies._ADVERTISED_MAX


def test_a_reply_type_validates_as_its_base_without_building_a_validator_of_its_own() -> None:
    """Building a pydantic validator was most of a new plan type's cost, and most are used once."""
    from rolecall.agents import plan_reply_for

    tool = {"name": "find", "parameters": {"type": "object", "properties": {"email": {"type": "string"}}}}
    reply_type = plan_reply_for([tool], max_calls=2, reference_paths=[("validates_as_base",)])
    reply = reply_type.model_validate(
        {"calls": [{"id": "$1", "name": "find", "arguments": {"email": "a@b.c"}}], "goal": "g"}
    )
    assert isinstance(reply, PlanReply) and reply.calls[0].arguments == {"email": "a@b.c"}
    assert (
        reply_type.model_validate_json('{"calls": [{"id": "$1", "name": "find", "arguments": {}}], "goal": "g"}').goal
        == "g"
    )
    with pytest.raises(ValidationError):
        reply_type.model_validate({"calls": [], "goal": "g"})  # the base's own bounds still hold
    assert not reply_type.__pydantic_complete__  # its own core schema was never built
    assert reply_type.model_json_schema()["properties"]["calls"]["maxItems"] == 2
