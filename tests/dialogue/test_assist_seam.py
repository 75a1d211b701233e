"""The seam between the loop and the aids: with aids off each message is one model reply; with
any policy a confirming user is never overruled; every message says who wrote it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from rolecall.assist import AssistPolicy
from rolecall.dialogue import ON_REQUEST, UPFRONT, EndReason, simulate_dialogue
from rolecall.models import ModelFactory, embedded_default
from rolecall.scenario import AssistSettings
from tests.dialogue.test_session import GOOD_STEPS, OPENING, SCENARIO, Backend, _context, polite_user

POLICIES = {"none": AssistPolicy.off(), "small_model": AssistPolicy.full()}


def _origins(dialogue: Any, role: str) -> list[str]:
    return [o["origin"] for m, o in zip(dialogue.messages, dialogue.provenance, strict=True) if m["role"] == role]


CONFIRMATIONS = ["Perfect, please go ahead and close it.", "Great, yes do it.", "Thanks, go ahead."]


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
@pytest.mark.parametrize("confirmation", CONFIRMATIONS)
def test_a_user_confirming_before_the_goal_call_is_never_overruled(
    tmp_path: Path, policy: AssistPolicy, confirmation: str
) -> None:
    def confirming_user(prompt: str) -> dict[str, Any]:
        if OPENING in prompt:
            return {"message": "Please close my account, email ann@example.com.", "status": "continue"}
        if "Shall I close it now?" in prompt.rsplit("(You are", 1)[0][-200:]:
            return {"message": confirmation, "status": "continue"}
        return {"message": "Thank you, that is all.", "status": "done"}

    steps = [
        ("call", "find_customer", {"email": "ann@example.com"}),
        ("say", "I found your account. Shall I close it now?"),
        ("call", "close_account", {"customer_id": "C-1"}),
        ("say", "Your account is closed."),
    ]
    backend = Backend(steps, confirming_user)
    dialogue = asyncio.run(simulate_dialogue(_context(tmp_path, assist=policy), backend, index=0))
    users = [m["content"] for m in dialogue.messages if m["role"] == "user"]
    assert users == ["Please close my account, email ann@example.com.", confirmation, "Thank you, that is all."][:2]
    assert set(_origins(dialogue, "user")) == {"model"}  # zero code-written user messages
    assert dialogue.end_reason == EndReason.COMPLETED
    assert [c["function"]["name"] for m in dialogue.messages for c in m.get("tool_calls") or []] == [
        "find_customer",
        "close_account",
    ]


def test_with_aids_off_a_user_message_is_exactly_one_model_reply(tmp_path: Path) -> None:
    def forgetful_user(prompt: str) -> dict[str, Any]:
        if OPENING in prompt:
            return {"message": "Please close my account.", "status": "continue"}  # leaves the email out
        return {"message": "Thanks!", "status": "done"}

    lookup_only = [("call", "find_customer", {"email": "ann@example.com"}), ("say", "I found your account.")]
    backend = Backend(lookup_only, forgetful_user)
    dialogue = asyncio.run(simulate_dialogue(_context(tmp_path, assist=AssistPolicy.off()), backend, index=0))
    prompts = backend.roles["user"].prompts
    assert len(prompts) == 2  # no redraft of the opening, no reminder after the thanks
    assert "for example" not in prompts[0] and "The agent has now taken" not in prompts[1]
    assert [m["content"] for m in dialogue.messages if m["role"] == "user"] == ["Please close my account."]
    assert set(_origins(dialogue, "user")) == {"model"}
    # The turn ends on the user's own status; the validator, not the loop, judges the undone goal.
    assert dialogue.end_reason == EndReason.COMPLETED


def test_provenance_marks_every_message_and_names_what_code_wrote(tmp_path: Path) -> None:
    def stubborn_user(prompt: str) -> dict[str, Any]:
        if OPENING in prompt:
            return {"message": "Please close my account.", "status": "continue"}
        return {"message": "Thanks!", "status": "done"}

    steps = [("call", "find_customer", {"email": "ann@example.com"}), ("say", "Found you."), *GOOD_STEPS[1:]]
    backend = Backend(steps, stubborn_user)
    context = _context(tmp_path, extra="policy: Be brief.\n", assist=AssistPolicy.full())
    dialogue = asyncio.run(simulate_dialogue(context, backend, index=0))
    assert len(dialogue.provenance) == len(dialogue.messages)
    by_role = list(zip([m["role"] for m in dialogue.messages], dialogue.provenance, strict=True))
    assert by_role[0] == ("system", {"origin": "scenario"})
    assert by_role[1][1] == {"origin": "appended", "drafts": 4, "template": "assist/user_opening_details"}
    assert [origin for role, origin in by_role if role == "tool"] == [{"origin": "model"}] * 2
    reminder = next(origin for role, origin in by_role if origin.get("template") == "assist/user_nudge_goal")
    assert reminder["origin"] == "scripted"
    assert {"origin": "model"} in [origin for role, origin in by_role if role == "assistant"]


def test_an_injected_fault_is_marked_as_written_by_code(tmp_path: Path) -> None:
    steps = [("call", "find_customer", {"email": "ann@example.com"}), ("say", "Sorry, not found.")]
    context = _context(tmp_path, extra="faults: {rate: 1.0, kinds: [not_found]}\n", assist=AssistPolicy.off())
    dialogue = asyncio.run(simulate_dialogue(context, Backend(steps, polite_user), index=0))
    assert dialogue.provenance[2] == {"origin": "scripted", "fault": "not_found"}
    assert json.loads(dialogue.messages[2]["content"])["error"]["code"] == "not_found"


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_a_result_changed_to_hold_a_planned_value_is_marked_edited(tmp_path: Path, policy: AssistPolicy) -> None:
    # close_account also returns an email, so the graph says it supplies find_customer's email:
    # its result is made to show the planned one, with any model, and the record says so.
    with_email = SCENARIO.replace(
        "returns: {type: object, properties: {status: {type: string}}",
        "returns: {type: object, properties: {status: {type: string}, email: {type: string}}",
    )
    context = _context(tmp_path, text=with_email, assist=policy)
    dialogue = asyncio.run(simulate_dialogue(context, Backend(GOOD_STEPS, polite_user), index=0))
    tool_origins = [o for m, o in zip(dialogue.messages, dialogue.provenance, strict=True) if m["role"] == "tool"]
    assert tool_origins == [{"origin": "model"}, {"origin": "edited", "edits": ['set email = "ann@example.com"']}]


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_on_request_disclosure_opens_with_the_goal_and_adds_no_values(tmp_path: Path, policy: AssistPolicy) -> None:
    def private_user(prompt: str) -> dict[str, Any]:
        if OPENING in prompt:
            return {"message": "I want to close my account.", "status": "continue"}
        if "your email" in prompt.rsplit("(You are", 1)[0][-120:]:
            return {"message": "It is ann@example.com.", "status": "continue"}
        return {"message": "Thanks!", "status": "done"}

    steps = [("say", "Sure. What is your email?"), *GOOD_STEPS]
    backend = Backend(steps, private_user)
    text = SCENARIO.replace("generation: {", "generation: {user: {disclosure: on_request}, ")
    context = _context(tmp_path, text=text, assist=policy)
    dialogue = asyncio.run(simulate_dialogue(context, backend, index=0))
    assert dialogue.disclosure == [ON_REQUEST]
    users = [m["content"] for m in dialogue.messages if m["role"] == "user"]
    assert users[:2] == ["I want to close my account.", "It is ann@example.com."]
    assert set(_origins(dialogue, "user")) == {"model"}
    first = backend.roles["user"].prompts[0]
    assert "without any details yet" in first and "for example" not in first
    assert dialogue.end_reason == EndReason.COMPLETED


def test_mixed_disclosure_draws_per_turn_from_its_own_stream(tmp_path: Path) -> None:
    text = SCENARIO.replace("generation: {", "generation: {user: {disclosure: mixed, on_request_share: 0.5}, ")
    seen = set()
    for index in range(12):
        context = _context(tmp_path, text=text, assist=AssistPolicy.off())
        dialogue = asyncio.run(simulate_dialogue(context, Backend(GOOD_STEPS, polite_user), index=index))
        seen.update(dialogue.disclosure)
        # The plan does not depend on the draw: the same calls whatever the disclosure.
        assert [c.name for c in dialogue.turns[0].calls] == ["find_customer", "close_account"]
    assert seen == {UPFRONT, ON_REQUEST}


@pytest.mark.parametrize(
    ("mode", "embedded", "roles"),
    [
        ("auto", {"planner", "user", "assistant", "tool_simulator", "judge"}, {"planner", "user", "assistant"}),
        ("auto", {"judge"}, set()),
        ("auto", {"user"}, {"user"}),
        ("none", {"planner", "user", "assistant"}, set()),
        ("small_model", set(), {"planner", "user", "assistant"}),
    ],
)
def test_the_policy_turns_aids_on_for_the_roles_its_mode_names(mode: str, embedded: set[str], roles: set[str]) -> None:
    policy = AssistPolicy.resolve(AssistSettings(mode=mode), embedded)
    assert policy.roles == roles
    assert policy.user is ("user" in roles) and policy.steer_assistant is ("assistant" in roles)
    assert policy.opening_drafts == (4 if "user" in roles else 1)
    assert policy.describe()["mode"] == mode


def test_bounds_are_settings_and_a_plain_mode_string_is_accepted() -> None:
    assert AssistSettings.model_validate("none").mode == "none"
    settings = AssistSettings.model_validate({"mode": "small_model", "opening_drafts": 2, "goal_reminders": 0})
    policy = AssistPolicy.resolve(settings, ())
    assert policy.opening_drafts == 2 and policy.goal_reminders == 0 and policy.reply_redrafts == 1


def test_the_factory_names_embedded_roles_and_turns_steering_off_for_the_assistant() -> None:
    remote = {"provider": "autogen_ext.models.openai.OpenAIChatCompletionClient", "config": {"model": "x"}}
    factory = ModelFactory({"default": embedded_default(), "user": remote})
    assert factory.embedded_roles() == {"planner", "assistant", "tool_simulator", "judge"}
    assert "steering" not in factory.config_for("assistant")["config"]
    factory.steer_assistant = False
    assert factory.config_for("assistant")["config"]["steering"] is False
    assert "steering" not in factory.config_for("planner")["config"]  # only the assistant is steered
    assert json.dumps(factory.config_for("user")) == json.dumps(remote)


def test_arguments_that_are_not_json_get_a_json_error_result(tmp_path: Path) -> None:
    class Sloppy:
        usage = Backend(GOOD_STEPS, polite_user).roles["user"].usage
        steps = 0

        async def step(self, user_message: str | None) -> Any:
            from rolecall.agents import AssistantStep, ExecutedCall

            self.steps += 1
            if self.steps == 1:  # what AutoGen hands back when it cannot parse the arguments
                raw = '{"email": "ann@exa'
                return AssistantStep(calls=[ExecutedCall("m1", "find_customer", raw, "Error: Unterminated string")])
            return AssistantStep(text="Sorry, something went wrong.")

    backend = Backend(GOOD_STEPS, polite_user)
    backend.assistant = lambda *args: Sloppy()  # type: ignore[method-assign]
    dialogue = asyncio.run(simulate_dialogue(_context(tmp_path, assist=AssistPolicy.off()), backend, index=0))
    tool = next(m for m in dialogue.messages if m["role"] == "tool")
    assert json.loads(tool["content"])["error"]["code"] == "invalid_argument"
    position = dialogue.messages.index(tool)
    assert dialogue.provenance[position] == {"origin": "scripted", "fault": "invalid_arguments"}
    assert dialogue.faults == {"call_1": "invalid_arguments"}
