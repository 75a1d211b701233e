"""The tool simulator: code-decided errors and faults, schema-checked model results."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest

from rolecall.agents import Usage
from rolecall.dialogue import ToolSimulator, repair, with_listed_value, with_value_at
from rolecall.scenario import FaultSettings, Tool, value_validator

ORDER = Tool(
    "get_order",
    "Looks up an order.",
    {
        "type": "object",
        "properties": {"order_id": {"type": "string", "pattern": "^O-[0-9]+$"}},
        "required": ["order_id"],
    },
    {
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "total": {"type": "integer"}},
        "required": ["order_id", "total"],
        "additionalProperties": False,
    },
)


class ScriptedRole:
    """Implements our StructuredRole protocol with queued replies, recording each prompt."""

    def __init__(self, replies: list[dict[str, Any]]):
        self.replies = list(replies)
        self.prompts: list[str] = []
        self.usage = Usage()

    async def ask(self, system: str, prompt: str, reply_type: Any, history: Any = ()) -> Any:
        self.prompts.append(prompt)
        return reply_type.model_validate(self.replies.pop(0))


def _simulator(role: ScriptedRole, rate: float = 0.0, seed: int = 1) -> ToolSimulator:
    faults = FaultSettings(rate=rate, kinds=["not_found", "rate_limited"])
    return ToolSimulator(
        {"get_order": ORDER},
        {"get_order": ORDER.returns},
        role,
        random.Random(seed),
        faults,
        {"email": "a@b.co"},
        "2026-03-01",
    )


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_arguments_that_break_the_schema_get_an_error_result_without_the_model() -> None:
    role = ScriptedRole([])
    simulator = _simulator(role)
    result = json.loads(_run(simulator.execute("get_order", {"order_id": "nope"}, "c1")))
    assert result["error"]["code"] == "invalid_argument" and "does not match" in result["error"]["message"]
    assert simulator.faults == {"c1": "invalid_arguments"} and role.prompts == []
    unknown = json.loads(_run(simulator.execute("delete_everything", {}, "c2")))
    assert unknown["error"]["code"] == "not_found" and simulator.faults["c2"] == "unknown_tool"


def test_a_valid_result_is_returned_and_later_calls_see_it() -> None:
    role = ScriptedRole([{"order_id": "O-1", "total": 5}, {"order_id": "O-2", "total": 7}])
    simulator = _simulator(role)
    first = json.loads(_run(simulator.execute("get_order", {"order_id": "O-1"}, "c1")))
    assert first == {"order_id": "O-1", "total": 5}
    _run(simulator.execute("get_order", {"order_id": "O-2"}, "c2"))
    assert '"total": 5' in role.prompts[1] and "a@b.co" in role.prompts[1]  # history and facts are shown
    assert simulator.faults == {} and simulator.failure is None


def test_an_invalid_result_is_sent_back_with_the_complaint_then_repaired_or_failed() -> None:
    role = ScriptedRole([{"order_id": "O-1"}, {"order_id": "O-1", "total": "12", "extra": 1}])
    simulator = _simulator(role)
    result = json.loads(_run(simulator.execute("get_order", {"order_id": "O-1"}, "c1")))
    assert result == {"order_id": "O-1", "total": 12}  # second reply repaired: "12" -> 12, extra dropped
    assert "'total' is a required property" in role.prompts[1]
    hopeless = ScriptedRole([{"x": 1}] * 3)
    failing = _simulator(hopeless)
    text = _run(failing.execute("get_order", {"order_id": "O-1"}, "c1"))
    assert json.loads(text)["error"]["code"] == "server_error"
    assert failing.failure and "get_order" in failing.failure and len(hopeless.prompts) == 3


def test_faults_come_from_the_seed_not_the_model() -> None:
    def faults(seed: int) -> dict[str, str]:
        role = ScriptedRole([{"order_id": "O-1", "total": 1}] * 40)
        simulator = _simulator(role, rate=0.5, seed=seed)
        for n in range(20):
            _run(simulator.execute("get_order", {"order_id": f"O-{n}"}, f"c{n}"))
        return simulator.faults

    assert faults(3) == faults(3)
    assert faults(3) != faults(4)
    assert 3 < len(faults(3)) < 17 and set(faults(3).values()) <= {"not_found", "rate_limited"}
    always = _simulator(ScriptedRole([]), rate=1.0)
    result = json.loads(_run(always.execute("get_order", {"order_id": "O-1"}, "c1")))
    assert result["error"]["code"] in {"not_found", "rate_limited"}


def test_repair_only_fixes_near_misses() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}, "s": {"type": "string"}},
        "additionalProperties": False,
    }
    assert repair({"n": "3", "s": 4, "junk": True}, schema) == {"n": 3, "s": "4"}
    assert repair({"n": "three"}, schema) == {"n": "three"}


STATUS = Tool(
    "get_status",
    "Service status.",
    {"type": "object", "properties": {}},
    {
        "type": "object",
        "properties": {
            "services": {
                "type": "array",
                "items": {"type": "object", "properties": {"ticket_id": {"type": ["string", "null"]}}},
            }
        },
    },
)


def test_with_value_at_requires_the_path_and_forbids_null_there() -> None:
    schema = with_value_at(STATUS.returns, ("services", "0", "ticket_id"))
    validator = value_validator(schema)
    assert validator.is_valid({"services": [{"ticket_id": "INC-1"}]})
    for missing in ({}, {"services": []}, {"services": [{}]}, {"services": [{"ticket_id": None}]}):
        assert not validator.is_valid(missing), missing
    assert value_validator(STATUS.returns).is_valid({"services": [{"ticket_id": None}]})  # the original is kept
    # A path the schema does not declare leaves the rest as it was.
    assert with_value_at(STATUS.returns, ("nothing", "here")) == STATUS.returns


def test_a_result_a_plan_takes_a_value_from_must_hold_that_value() -> None:
    role = ScriptedRole([{"services": [{"ticket_id": None}]}, {"services": [{"ticket_id": "INC-7"}]}])
    simulator = ToolSimulator(
        {"get_status": STATUS}, {"get_status": STATUS.returns}, role, random.Random(1), FaultSettings(rate=0.0), {}, "d"
    )
    simulator.needed_fields = {"get_status": [("services", "0", "ticket_id")]}
    result = json.loads(_run(simulator.execute("get_status", {}, "c1")))
    assert result == {"services": [{"ticket_id": "INC-7"}]}
    assert "did not match the output schema" in role.prompts[1]


def test_with_listed_value_keeps_a_value_already_listed_and_otherwise_sets_one_item() -> None:
    result = {"services": [{"ticket_id": "INC-1"}, {"ticket_id": "INC-2"}]}
    path = ("services", "0", "ticket_id")
    assert with_listed_value(result, path, "INC-2") is result  # already the second item's
    assert with_listed_value(result, path, "INC-9") == {"services": [{"ticket_id": "INC-9"}, {"ticket_id": "INC-2"}]}
    assert with_listed_value(result, path, "INC-9", item=1)["services"][1] == {"ticket_id": "INC-9"}
    assert with_listed_value(result, path, "INC-9", item=5)["services"][1] == {"ticket_id": "INC-9"}  # the last
    assert result == {"services": [{"ticket_id": "INC-1"}, {"ticket_id": "INC-2"}]}  # the input is not changed
    # Nowhere to put it: an empty list, a missing object, a scalar on the way.
    for shape in ({"services": []}, {}, {"services": "none"}):
        assert with_listed_value(shape, path, "INC-9") is shape
    assert with_listed_value({"order_id": "O-1"}, ("order_id",), "O-5") == {"order_id": "O-5"}


def test_values_a_plan_passes_as_literals_are_listed_in_results_the_schema_admits() -> None:
    role = ScriptedRole([{"services": [{"ticket_id": "INC-1"}]}])
    simulator = ToolSimulator(
        {"get_status": STATUS}, {"get_status": STATUS.returns}, role, random.Random(1), FaultSettings(rate=0.0), {}, "d"
    )
    simulator.needed_values = {"get_status": [(("services", "0", "ticket_id"), "INC-42")]}
    assert json.loads(_run(simulator.execute("get_status", {}, "c1"))) == {"services": [{"ticket_id": "INC-42"}]}
    # A value the output schema refuses (here: its pattern) is left out; the result stays valid.
    role = ScriptedRole([{"order_id": "O-1", "total": 5}])
    patterned = {
        **ORDER.returns,
        "properties": {**ORDER.returns["properties"], "order_id": {"type": "string", "pattern": "^O-"}},
    }
    simulator = ToolSimulator(
        {"get_order": ORDER}, {"get_order": patterned}, role, random.Random(1), FaultSettings(rate=0.0), {}, "d"
    )
    simulator.needed_values = {"get_order": [(("order_id",), "X-9"), (("total",), 8)]}
    assert json.loads(_run(simulator.execute("get_order", {"order_id": "O-1"}, "c1"))) == {
        "order_id": "O-1",
        "total": 8,
    }


@pytest.mark.parametrize(
    ("written", "repaired"),
    [
        ("2026-02-29T23:59:59Z", "2026-02-28T23:59:59Z"),  # 2026 is no leap year
        ("2026-04-31", "2026-04-30"),
        ("2028-02-29", "2028-02-29"),  # a real leap day is left alone
        ("soon", "soon"),  # not a date at all: left for the retry
    ],
)
def test_an_impossible_day_is_moved_to_the_last_of_its_month(written: str, repaired: str) -> None:
    schema = {"type": "object", "properties": {"expires": {"type": "string", "format": "date-time"}}}
    assert repair({"expires": written}, schema) == {"expires": repaired}


def test_calls_made_before_the_dialogue_are_shown_to_later_calls_as_shared_state() -> None:
    """A prior call's output is state the tools must agree with: the model answering a later
    call sees it (marked as before the conversation), while the dialogue's own call list, which
    the record and the faults read, stays the dialogue's."""
    role = ScriptedRole([{"order_id": "O-1", "total": 5}, {"order_id": "O-2", "total": 5}])
    simulator = _simulator(role)
    prior = _run(simulator.simulate("get_order", {"order_id": "O-1"}))
    assert prior == {"order_id": "O-1", "total": 5}
    simulator.remember_prior("get_order", {"order_id": "O-1"}, {"order_id": "O-1", "total": 9})
    _run(simulator.execute("get_order", {"order_id": "O-2"}, "c1"))
    assert '"total": 9' in role.prompts[1] and "before this conversation" in role.prompts[1]
    assert [call.call_id for call in simulator.calls] == ["c1"]


def test_the_same_reading_call_as_a_prior_one_gets_its_output_until_something_is_written() -> None:
    # Seen in the embedded IT run: the status page showed the VPN degraded before the dialogue,
    # and the model, asked the same query again, answered "operational".
    role = ScriptedRole([{"order_id": "O-1", "total": 5}])
    simulator = _simulator(role)
    simulator.remember_prior("get_order", {"order_id": "O-1"}, {"order_id": "O-1", "total": 9})
    answer = _run(simulator.execute("get_order", {"order_id": "O-1"}, "c1"))
    assert json.loads(answer) == {"order_id": "O-1", "total": 9}
    assert role.prompts == []  # no model asked
    assert simulator.origin_of("c1") == {
        "origin": "edited",
        "edits": ["the output of the same call made before the conversation"],
    }
    # After a write the state may have changed: the model answers again.
    simulator.tools["refund"] = Tool("refund", "Refunds an order.", {"type": "object"}, {"type": "object"})
    simulator.output_schemas = {**simulator.output_schemas, "refund": {"type": "object"}}
    role.replies = [{"refunded": True}, {"order_id": "O-1", "total": 0}]
    _run(simulator.execute("refund", {}, "c2"))
    assert json.loads(_run(simulator.execute("get_order", {"order_id": "O-1"}, "c3")))["total"] == 0


def test_a_call_the_framework_never_ran_gets_an_error_that_says_why() -> None:
    simulator = _simulator(ScriptedRole([]))
    unparsed = json.loads(simulator.reject_unrun("c1", "get_order", "{not json"))
    withheld = json.loads(simulator.reject_unrun("c2", "get_order", '{"order_id": "A-1"}', offered=False))
    assert unparsed["error"]["code"] == "invalid_argument"
    assert withheld["error"] == {"code": "not_found", "message": "Unknown operation 'get_order'."}
    assert simulator.faults == {"c1": "invalid_arguments", "c2": "unknown_tool"}
    assert simulator.origin_of("c2") == {"origin": "scripted", "fault": "unknown_tool"}
