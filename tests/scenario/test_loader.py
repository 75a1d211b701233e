"""Unit tests of ``rolecall.scenario.load_scenario`` and the position-keeping YAML reader."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rolecall.scenario import (
    Persona,
    Problem,
    ProblemsFound,
    Tool,
    format_path,
    load_scenario,
    load_tools_file,
)
from rolecall.scenario._source import load_document

ORDER_PARAMS = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
ORDER_RETURNS = {"type": "object", "properties": {"status": {"type": "string", "enum": ["placed", "shipped"]}}}
CANCEL_PARAMS = {"type": "object", "properties": {"order_id": {"type": "string"}, "reason": {"type": "string"}}}

BARE = [
    {"name": "get_order", "description": "Gets an order.", "parameters": ORDER_PARAMS, "returns": ORDER_RETURNS},
    {"name": "cancel_order", "description": "Cancels an order.", "parameters": CANCEL_PARAMS},
]
OPENAI = [
    {
        "type": "function",
        "function": {"name": "get_order", "description": "Gets an order.", "parameters": ORDER_PARAMS},
        "returns": ORDER_RETURNS,
    },
    {
        "type": "function",
        "function": {"name": "cancel_order", "description": "Cancels an order.", "parameters": CANCEL_PARAMS},
    },
]
EXPECTED_TOOLS = (
    Tool("get_order", "Gets an order.", ORDER_PARAMS, ORDER_RETURNS),
    Tool("cancel_order", "Cancels an order.", CANCEL_PARAMS),
)


def scenario_text(tools: list[Any], **extra: Any) -> str:
    document = {"name": "shop", "description": "A shop.", "personas": ["A customer."], "tools": tools, **extra}
    return yaml.safe_dump(document, sort_keys=False)


# -- defaults -------------------------------------------------------------------------------------


def test_minimal_scenario_loads_with_defaults(write, minimal_scenario: str) -> None:
    path = write("scenario.yaml", minimal_scenario)
    loaded = load_scenario(path)

    assert loaded.name == "shop"
    assert loaded.path == path
    assert loaded.tools == (Tool("get_order", "", ORDER_PARAMS),)
    assert loaded.tool("get_order") is loaded.tools[0]
    with pytest.raises(KeyError):
        loaded.tool("nope")
    assert loaded.personas == (Persona(name="persona-1", description="A customer."),)
    assert loaded.model_configs == {}
    assert loaded.digest.startswith("sha256:") and len(loaded.digest) == len("sha256:") + 64

    generation = loaded.scenario.generation
    assert (generation.dialogues, generation.seed) == (10, 0)
    assert (generation.turns.min, generation.turns.max) == (1, 2)
    assert (generation.plan_length.min, generation.plan_length.max) == (2, 4)
    assert (generation.hidden_calls.enabled, generation.hidden_calls.max) == (True, 2)
    assert (generation.prior_calls.enabled, generation.prior_calls.max, generation.prior_calls.share) == (True, 1, 0.5)
    assert (generation.error_recovery.share, generation.missing_parameter.share) == (0.0, 0.0)
    assert (generation.max_messages, generation.max_tool_calls_per_turn) == (40, 8)
    assert generation.dates is None
    assert loaded.scenario.faults.rate == 0.0
    assert loaded.scenario.faults.kinds == ["not_found", "rate_limited", "invalid_argument"]
    assert loaded.scenario.prior_calls == []
    assert loaded.scenario.validation.judge.votes == 1
    assert loaded.scenario.validation.judge.mode == "majority"


def test_tool_parameters_default_to_an_empty_object_schema(write) -> None:
    loaded = load_scenario(write("scenario.yaml", scenario_text([{"name": "ping"}])))
    assert loaded.tools == (Tool("ping", "", {"type": "object", "properties": {}}),)


def test_tool_name_of_64_characters_is_accepted(write) -> None:
    name = "a-b_C9" + "x" * 58
    loaded = load_scenario(write("scenario.yaml", scenario_text([{"name": name}])))
    assert [tool.name for tool in loaded.tools] == [name]


# -- tool forms -----------------------------------------------------------------------------------

TOOL_FORMS = {
    "bare": ({}, BARE),
    "openai": ({}, OPENAI),
    "json-file-both-forms": ({"tools.json": json.dumps([BARE[0], OPENAI[1]], indent=2)}, [{"file": "tools.json"}]),
    "yaml-file-both-forms": (
        {"more/tools.yaml": yaml.safe_dump([OPENAI[0], BARE[1]])},
        [{"file": "more/tools.yaml"}],
    ),
    "inline-and-file": ({"one.json": json.dumps([OPENAI[1]])}, [BARE[0], {"file": "one.json"}]),
}


@pytest.mark.parametrize(("files", "tools"), TOOL_FORMS.values(), ids=TOOL_FORMS.keys())
def test_tool_forms_normalise_to_the_same_tools(write, files: dict[str, str], tools: list[Any]) -> None:
    for name, content in files.items():
        write(name, content)
    loaded = load_scenario(write("scenario.yaml", scenario_text(tools)))
    reference = load_scenario(write("reference.yaml", scenario_text(BARE)))

    assert loaded.tools == EXPECTED_TOOLS
    assert [tool.openai_tool() for tool in loaded.tools] == [
        {
            "type": "function",
            "function": {"name": "get_order", "description": "Gets an order.", "parameters": ORDER_PARAMS},
        },
        {
            "type": "function",
            "function": {"name": "cancel_order", "description": "Cancels an order.", "parameters": CANCEL_PARAMS},
        },
    ]
    # The digest is of resolved content: where and in which form a tool was written does not count.
    assert loaded.digest == reference.digest


def test_load_tools_file_reads_both_forms(write) -> None:
    path = write("tools.json", json.dumps([OPENAI[0], BARE[1]]))
    assert load_tools_file(path) == list(EXPECTED_TOOLS)


def test_extension_keys_are_accepted_and_preserved(write) -> None:
    text = """\
name: shop
description: A shop.
personas: [A customer.]
tools:
  - name: get_order
    x-category: orders
    x-meta: {owner: team-a, tags: [a, b]}
  - type: function
    x-source: bfcl
    function:
      name: cancel_order
      x-risk: high
"""
    loaded = load_scenario(write("scenario.yaml", text))
    get_order, cancel_order = loaded.tools
    assert get_order.extensions == {"x-category": "orders", "x-meta": {"owner": "team-a", "tags": ["a", "b"]}}
    assert cancel_order.extensions == {"x-source": "bfcl", "x-risk": "high"}
    # Extensions never leak into what the model sees.
    assert "x-category" not in json.dumps(get_order.openai_tool())
    dumped = loaded.scenario.model_dump(mode="json")["tools"]
    assert dumped[0]["x-category"] == "orders"
    assert dumped[0]["x-meta"] == {"owner": "team-a", "tags": ["a", "b"]}
    assert dumped[1]["x-source"] == "bfcl"
    assert dumped[1]["function"]["x-risk"] == "high"
    assert "extensions" not in dumped[0] and "__extensions__" not in dumped[0]


# -- personas and models --------------------------------------------------------------------------


def test_persona_strings_become_personas(write) -> None:
    personas = ["A retired teacher.", {"name": "Sam", "description": "Terse.", "facts": {"phone": "+1-555", "n": 3}}]
    loaded = load_scenario(write("scenario.yaml", scenario_text(BARE, personas=personas)))
    assert loaded.personas == (
        Persona(name="persona-1", description="A retired teacher."),
        Persona(name="Sam", description="Terse.", facts={"phone": "+1-555", "n": 3}),
    )


@pytest.mark.parametrize("name", ["people.yaml", "people.json"])
def test_persona_file_loads(write, name: str) -> None:
    people = ["A plain persona.", {"name": "Ann", "description": "Calm.", "facts": {"email": "ann@example.com"}}]
    write(f"data/{name}", json.dumps(people) if name.endswith(".json") else yaml.safe_dump(people))
    loaded = load_scenario(write("scenario.yaml", scenario_text(BARE, personas={"file": f"data/{name}"})))
    assert loaded.personas == (
        Persona(name="persona-1", description="A plain persona."),
        Persona(name="Ann", description="Calm.", facts={"email": "ann@example.com"}),
    )


def test_model_refs_read_files_relative_to_the_scenario_and_keep_inline_configs(write) -> None:
    write(
        "project/models/small.yaml",
        "provider: autogen_ext.models.openai.OpenAIChatCompletionClient\n"
        "component_type: model\n"
        "config:\n  model: gpt-4o-mini\n  temperature: 0.2\n",
    )
    models = {
        "default": "models/small.yaml",
        "judge": {
            "provider": "rolecall.models.LenientOpenAIChatCompletionClient",
            "config": {"model": "judge-1", "seed": 3},
        },
    }
    path = write("project/scenario.yaml", scenario_text(BARE, models=models))
    loaded = load_scenario(path.resolve())  # the test's cwd is not the scenario's folder
    assert loaded.model_configs == {
        "default": {
            "provider": "autogen_ext.models.openai.OpenAIChatCompletionClient",
            "component_type": "model",
            "config": {"model": "gpt-4o-mini", "temperature": 0.2},
        },
        "judge": {
            "provider": "rolecall.models.LenientOpenAIChatCompletionClient",
            "config": {"model": "judge-1", "seed": 3},
        },
    }


# -- digest ---------------------------------------------------------------------------------------

DIGEST_BASE = """\
name: shop
description: A shop.
personas:
  - A customer.
tools:
  - name: get_order
    description: Gets an order.
    parameters:
      type: object
      properties:
        order_id: {type: string}
      required: [order_id]
generation:
  seed: 7
"""

DIGEST_REFORMATTED = """\
# the same content, written differently
generation: {seed: 7}
tools:
    -   parameters: {required: ["order_id"], properties: {order_id: {type: "string"}}, type: object}
        description: "Gets an order."
        name: 'get_order'
personas: ["A customer."]
description: >-
    A shop.
name: shop
"""


def test_digest_ignores_formatting(write) -> None:
    first = load_scenario(write("a.yaml", DIGEST_BASE))
    second = load_scenario(write("b.yaml", DIGEST_REFORMATTED))
    assert first.scenario == second.scenario
    assert first.digest == second.digest


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("description: Gets an order.", "description: Gets one order."),
        ("description: A shop.", "description: A bigger shop."),
        ("seed: 7", "seed: 8"),
        ("order_id: {type: string}", "order_id: {type: integer}"),
        ("- A customer.", "- Another customer."),
    ],
    ids=["tool-description", "scenario-description", "seed", "parameters", "persona"],
)
def test_digest_changes_with_content(write, old: str, new: str) -> None:
    assert old in DIGEST_BASE
    first = load_scenario(write("a.yaml", DIGEST_BASE))
    second = load_scenario(write("b.yaml", DIGEST_BASE.replace(old, new)))
    assert first.digest != second.digest


# -- YAML round trip ------------------------------------------------------------------------------

RICH = """\
name: shop
description: A shop.
policy: Be nice.
personas:
  - A customer.
  - name: Sam
    description: Terse.
    facts: {email: sam@example.com, vip: true, visits: 3, balance: 12.5}
tools:
  - name: get_order
    description: Gets an order.
    x-category: orders
    x-added: 2023-05-01
    parameters:
      type: object
      properties:
        order_id: {type: string}
      required: [order_id]
    returns:
      type: object
      properties:
        status: {type: string}
  - type: function
    x-source: bfcl
    function:
      name: cancel_order
      x-risk: high
      strict: true
      parameters: {type: object, properties: {order_id: {type: string}}}
prior_calls:
  - name: get_order
    arguments: {order_id: W-1}
    output: {status: shipped}
    note: They got an email.
generation:
  dialogues: 3
  seed: 7
  turns: {min: 2, max: 3}
  dates: {start: 2024-01-01, end: 2024-12-31}
faults: {rate: 0.1, kinds: [timeout, conflict]}
models:
  default: {provider: rolecall.models.LenientOpenAIChatCompletionClient, config: {model: m1}}
validation:
  judge: {votes: 3, mode: strict}
"""


@pytest.mark.parametrize("mode", ["json", "python"])
def test_yaml_round_trip(write, mode: str) -> None:
    first = load_scenario(write("scenario.yaml", RICH))
    dumped = yaml.safe_dump(first.scenario.model_dump(mode=mode), sort_keys=False)
    second = load_scenario(write("again.yaml", dumped))

    assert second.scenario == first.scenario
    assert second.tools == first.tools
    assert second.digest == first.digest
    assert second.scenario.generation.dates is not None
    assert second.scenario.generation.dates.start == dt.date(2024, 1, 1)
    assert second.tool("get_order").extensions == {"x-category": "orders", "x-added": "2023-05-01"}
    assert second.tool("cancel_order").extensions == {"x-source": "bfcl", "x-risk": "high"}


# -- the position-keeping reader ------------------------------------------------------------------


def test_load_document_positions(write) -> None:
    path = write(
        "doc.yaml",
        "name: shop\n"
        "tools:\n"
        "  - name: a\n"
        "    parameters:\n"
        "      type: object\n"
        "      properties:\n"
        "        id: {type: string, minLength: 3}\n",
    )
    doc = load_document(path)
    param = ("tools", 0, "parameters")
    assert doc.display_name == str(path)
    assert doc.data["tools"][0]["parameters"]["properties"]["id"] == {"type": "string", "minLength": 3}
    assert doc.value_positions[()] == (1, 1)
    assert doc.value_positions[("name",)] == (1, 7)
    assert doc.value_positions[("tools",)] == (3, 3)
    assert doc.value_positions[("tools", 0)] == (3, 5)
    assert doc.value_positions[(*param, "properties", "id")] == (7, 13)
    assert doc.value_positions[(*param, "properties", "id", "minLength")] == (7, 39)
    assert doc.key_positions[(*param, "properties", "id", "minLength")] == (7, 28)
    assert doc.position((*param, "properties", "id", "minLength"), key=True) == (7, 28)
    # A path that does not exist points at its nearest existing ancestor.
    assert doc.position((*param, "required", 0)) == (5, 7)
    assert doc.problem((*param, "type"), "bad") == Problem(str(path), 5, 13, "tools[0].parameters.type", "bad")


def test_load_document_positions_in_json(write) -> None:
    doc = load_document(write("doc.json", '{"a": {"b": [1, 2]},\n "c": "x"}\n'), display_name="shown.json")
    assert doc.data == {"a": {"b": [1, 2]}, "c": "x"}
    assert doc.display_name == "shown.json"
    assert doc.value_positions[("a", "b", 1)] == (1, 17)
    assert doc.value_positions[("c",)] == (2, 7)
    assert doc.key_positions[("c",)] == (2, 2)


def test_load_document_keeps_keys_and_dates_as_written(write) -> None:
    doc = load_document(write("doc.yaml", "on: yes\nwhen: 2024-01-01\n3: x\n"))
    assert doc.data == {"on": True, "when": "2024-01-01", "3": "x"}


def test_format_path() -> None:
    assert format_path(("tools", 2, "function", "name")) == "tools[2].function.name"
    assert format_path((0, "name")) == "[0].name"
    assert format_path(()) == "(document)"


def test_problems_found_sorts_and_deduplicates() -> None:
    late = Problem("a.yaml", 10, 1, "generation", "late")
    early = Problem("a.yaml", 2, 5, "name", "early")
    same_line = Problem("a.yaml", 2, 9, "name", "further right")
    other_file = Problem("b.yaml", 1, 1, "(document)", "other")
    found = ProblemsFound([other_file, late, early, same_line, late, Problem("a.yaml", 2, 5, "name", "early")])
    assert found.problems == [early, same_line, late, other_file]
    assert str(found).splitlines() == [
        "a.yaml:2:5: error: name: early",
        "a.yaml:2:9: error: name: further right",
        "a.yaml:10:1: error: generation: late",
        "b.yaml:1:1: error: (document): other",
    ]


def test_load_scenario_raises_problems_found(write, minimal_scenario: str) -> None:
    path = write("scenario.yaml", minimal_scenario + 'generation:\n  seed: "3"\n  turns: {min: 3, max: 1}\n')
    with pytest.raises(ProblemsFound) as raised:
        load_scenario(path)
    problems = raised.value.problems
    assert [(p.file, p.line, p.column, p.field) for p in problems] == [
        (str(path), 13, 9, "generation.seed"),
        (str(path), 14, 10, "generation.turns"),
    ]
    assert all(isinstance(p, Problem) for p in problems)


def test_problems_of_a_file_referenced_twice_appear_once(write) -> None:
    write("extra.json", '[\n  {"name": "bad name"}\n]\n')
    path = write("scenario.yaml", scenario_text([{"file": "extra.json"}, {"file": "extra.json"}]))
    with pytest.raises(ProblemsFound) as raised:
        load_scenario(path)
    assert [(Path(p.file).name, p.line, p.field) for p in raised.value.problems] == [("extra.json", 2, "[0].name")]
