"""The single-dialogue core against a backend of scripted roles (our own RoleBackend protocol).

Each way a dialogue can end has a test that reaches it and checks the named reason.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from rolecall.agents import AssistantStep, ExecutedCall, ToolExecutor, Usage
from rolecall.assist import AssistPolicy
from rolecall.dialogue import ACCEPTABLE_ENDINGS, DialogueFailed, EndReason, RunContext, TurnPlanner, simulate_dialogue
from rolecall.planning import DataflowGraph
from rolecall.prompts import render
from rolecall.scenario import Tool, load_scenario

COMPLETED = EndReason.COMPLETED
GAVE_UP_AFTER_FAULT = EndReason.GAVE_UP_AFTER_FAULT
OPENING_ATTEMPTS = AssistPolicy.full().opening_drafts

OPENING = render("user/opening").strip()  # what the agent "says" before the customer's first request

SCENARIO = """
name: mini
description: A two-tool shop.
personas: [{name: Ann, description: terse, facts: {email: ann@example.com}}]
tools:
  - name: find_customer
    parameters: {type: object, properties: {email: {type: string}}, required: [email]}
    returns: {type: object, properties: {customer_id: {type: string}}, required: [customer_id]}
  - name: close_account
    parameters: {type: object, properties: {customer_id: {type: string}}, required: [customer_id]}
    returns: {type: object, properties: {status: {type: string}}, required: [status]}
generation: {turns: {min: 1, max: 1}, plan_length: {min: 2, max: 2}, max_messages: 12, prior_calls: {enabled: false}}
"""

PLAN = {
    "goal": "Close my account.",
    "calls": [
        {"id": "$1", "name": "find_customer", "arguments": {"email": "ann@example.com"}},
        {"id": "$2", "name": "close_account", "arguments": {"customer_id": "$1.customer_id"}},
    ],
}


class Role:
    def __init__(self, answer: Callable[[str], dict[str, Any]]):
        self.answer = answer
        self.usage = Usage()
        self.prompts: list[str] = []
        self.reply_types: list[Any] = []

    async def ask(self, system: str, prompt: str, reply_type: Any, history: Any = ()) -> Any:
        self.prompts.append(system + "\n" + prompt)
        self.reply_types.append(reply_type)
        self.usage.add(Usage(10, 5, 1))
        return reply_type.model_validate(self.answer(system + "\n" + prompt))


class Assistant:
    """Plays a list of steps: ("call", name, args) or ("say", text)."""

    def __init__(self, steps: Sequence[tuple], execute: ToolExecutor):
        self.steps = list(steps)
        self.execute = execute
        self.usage = Usage()
        self.heard: list[str | None] = []
        self.withheld: list[frozenset[str]] = []  # per turn, what the session withheld

    def withhold(self, names: frozenset[str]) -> None:
        self.withheld.append(names)

    async def step(self, user_message: str | None) -> AssistantStep:
        self.heard.append(user_message)
        kind, *rest = self.steps.pop(0) if self.steps else ("say", "…")
        if kind == "say":
            return AssistantStep(text=rest[0])
        name, arguments = rest
        call_id = f"m{len(self.heard)}"
        result = await self.execute(name, arguments, call_id)
        return AssistantStep(calls=[ExecutedCall(call_id, name, json.dumps(arguments), result)])


def tool_result(prompt: str) -> dict[str, Any]:
    return {"customer_id": "C-1"} if "answer now:\nfind_customer(" in prompt else {"status": "closed"}


class Backend:
    def __init__(self, steps: Sequence[tuple], user: Callable[[str], dict[str, Any]], plan: dict = PLAN):
        self.steps = steps
        self.roles = {
            "planner": Role(lambda prompt: plan),
            "user": Role(user),
            "tool_simulator": Role(tool_result),
        }
        self.assistant_session: Assistant | None = None

    def structured(self, role: str) -> Role:
        return self.roles[role]

    def assistant(self, system_message: str | None, tools: Sequence[Tool], execute: ToolExecutor) -> Assistant:
        self.assistant_session = Assistant(self.steps, execute)
        return self.assistant_session

    def describe(self) -> dict[str, object]:
        return {}

    def model_time(self) -> dict[str, dict[str, object]]:
        return {}

    async def close(self) -> None:
        pass


def _context(tmp_path: Path, extra: str = "", text: str = SCENARIO, assist: AssistPolicy | None = None) -> RunContext:
    """A run context; these tests exercise the aids for small models, so they are on by default."""
    path = tmp_path / "mini.yaml"
    path.write_text(text + extra, encoding="utf-8")
    loaded = load_scenario(path)
    schemas = {t.name: t.returns for t in loaded.tools}
    graph = DataflowGraph(loaded.tools, schemas)
    return RunContext(loaded, schemas, graph, seed=5, assist=assist or AssistPolicy.full())


def polite_user(prompt: str) -> dict[str, Any]:
    if OPENING not in prompt:
        return {"message": "Thanks!", "status": "done"}
    return {"message": "Please close my account, email ann@example.com.", "status": "continue"}


ATTEMPTS = itertools.count()  # a user who never says the same thing twice

GOOD_STEPS = [
    ("call", "find_customer", {"email": "ann@example.com"}),
    ("call", "close_account", {"customer_id": "C-1"}),
    ("say", "Your account is closed."),
]


def _play(context: RunContext, backend: Backend) -> Any:
    return asyncio.run(simulate_dialogue(context, backend, index=0))


def test_a_good_dialogue_completes_and_records_openai_messages(tmp_path: Path) -> None:
    backend = Backend(GOOD_STEPS, polite_user)
    dialogue = _play(_context(tmp_path), backend)
    assert dialogue.end_reason == COMPLETED
    roles = [m["role"] for m in dialogue.messages]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert dialogue.messages[1]["tool_calls"][0]["id"] == "call_1"  # ids renumbered in order
    assert dialogue.messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": '{"customer_id": "C-1"}'}
    assert dialogue.turns[0].hidden == ["$1"]  # the only producer, hidden by default settings
    assert dialogue.usage["planner"].calls == 1 and dialogue.facts["email"] == "ann@example.com"
    # The user was told every literal of the plan, the hidden call's email included.
    assert "- email: ann@example.com" in backend.roles["user"].prompts[0]
    assert "find_customer" not in backend.roles["user"].prompts[0]
    # The planner knows the persona's own details, so plans reuse them instead of inventing others.
    assert "The user's own details: email: ann@example.com" in backend.roles["planner"].prompts[0]


def test_an_opening_that_leaves_out_a_needed_value_is_redrafted(tmp_path: Path) -> None:
    def forgetful_user(text: str) -> dict[str, Any]:
        if OPENING not in text:
            return {"message": "Thanks!", "status": "done"}
        if "left out details" in text and "- email: ann@example.com" in text:
            return {"message": "Please close my account, email ann@example.com.", "status": "continue"}
        return {"message": "Please close my account.", "status": "continue"}

    backend = Backend(GOOD_STEPS, forgetful_user)
    dialogue = _play(_context(tmp_path), backend)
    assert dialogue.end_reason == COMPLETED
    # The first draft was already told who speaks and which values to give.
    assert "(You are Ann, the customer, not the agent." in backend.roles["user"].prompts[0]
    assert 'your details, for example "... Email: ann@example.com."' in backend.roles["user"].prompts[0]
    assert dialogue.messages[0] == {"role": "user", "content": "Please close my account, email ann@example.com."}
    prompts = backend.roles["user"].prompts
    assert 'Your previous draft was: "Please close my account."' in prompts[1]
    assert len(prompts) == 3  # draft, redraft, the closing thanks
    assert "for example" not in prompts[2]  # no details asked for after the opening
    # Both planned tools answered before the agent's last message: the user is told it may end.
    assert "The agent has now taken every step your request needs." in prompts[2]
    # Only the request that was kept is in the dialogue; the first draft is not.
    assert all(m.get("content") != "Please close my account." for m in dialogue.messages)


def test_redrafting_the_opening_is_bounded(tmp_path: Path) -> None:
    def stubborn_user(text: str) -> dict[str, Any]:
        if OPENING not in text:
            return {"message": "Thanks!", "status": "done"}
        return {"message": "Please close my account.", "status": "continue"}

    backend = Backend(GOOD_STEPS, stubborn_user)
    dialogue = _play(_context(tmp_path), backend)
    # The last draft is used, with the values it still leaves out stated after it.
    assert dialogue.messages[0]["content"] == "Please close my account. My details: email: ann@example.com."
    assert len(backend.roles["user"].prompts) == OPENING_ATTEMPTS + 1
    assert dialogue.end_reason == COMPLETED


@pytest.mark.parametrize(
    ("steps", "user", "reason"),
    [
        (
            [("call", "find_customer", {"email": "ann@example.com"})] * 3,
            polite_user,
            "stalled_repeated_call",
        ),
        (
            [("say", "Hmm?")] * 5,
            lambda p, said=ATTEMPTS: {"message": f"Please, attempt {next(said)}", "status": "continue"},
            "no_progress",
        ),
        (
            [("say", "No.")],
            lambda p: {
                "message": "Bye" if OPENING not in p else "Hi",
                "status": "give_up" if OPENING not in p else "continue",
            },
            "user_gave_up",
        ),
        ([("say", "What?")] * 5, lambda p: {"message": "Same words.", "status": "continue"}, "stalled_user_repeating"),
        ([("call", "find_customer", {"email": f"x{n}@example.com"}) for n in range(20)], polite_user, "message_limit"),
    ],
    ids=["repeated-call", "no-progress", "gave-up", "user-repeats", "message-limit"],
)
def test_each_bound_ends_the_dialogue_with_its_reason(tmp_path: Path, steps, user, reason: str) -> None:
    dialogue = _play(_context(tmp_path), Backend(steps, user))
    assert dialogue.end_reason == reason
    assert len(dialogue.messages) <= 12


def test_a_thank_you_after_the_planned_calls_ends_the_turn(tmp_path: Path) -> None:
    def never_done(text: str) -> dict[str, Any]:
        if OPENING in text:
            return {"message": "Please close my account, email ann@example.com.", "status": "continue"}
        return {"message": "Thank you so much, let me know if anything else comes up.", "status": "continue"}

    backend = Backend(GOOD_STEPS, never_done)
    dialogue = _play(_context(tmp_path), backend)
    assert dialogue.end_reason == COMPLETED
    # Before the planned calls are made, the same thanks does not end the turn.
    early = [("say", "Which account?"), *GOOD_STEPS]
    backend = Backend(early, never_done)
    dialogue = _play(_context(tmp_path), backend)
    assert dialogue.end_reason == COMPLETED
    assert "The agent has now taken every step" not in backend.roles["user"].prompts[1]
    # The thanks after "Which account?" would have left the goal undone: it became a reminder.
    users = [m["content"] for m in dialogue.messages if m["role"] == "user"]
    assert len(users) == 2 and users[1].startswith("Before we finish: that is not done yet.")


def test_a_customer_leaving_before_the_goal_call_is_reminded_of_it(tmp_path: Path) -> None:
    lookup_then_goal = [
        ("call", "find_customer", {"email": "ann@example.com"}),
        ("say", "I found your account."),
        *GOOD_STEPS[1:],
    ]
    backend = Backend(lookup_then_goal, polite_user)
    dialogue = _play(_context(tmp_path), backend)
    assert dialogue.end_reason == COMPLETED
    users = [m["content"] for m in dialogue.messages if m["role"] == "user"]
    # "Thanks!" with status done after the lookup alone became the goal, in the customer's words.
    assert users[1] == "Before we finish: that is not done yet. I need help with this: close my account. " + (
        "Could you do that now, please?"
    )
    assert backend.assistant_session is not None and backend.assistant_session.heard[2] == users[1]
    assert [m["role"] for m in dialogue.messages][-3:] == ["assistant", "tool", "assistant"]


def test_reminders_of_the_goal_are_bounded(tmp_path: Path) -> None:
    stops_early = [("call", "find_customer", {"email": "ann@example.com"}), *[("say", f"Done {n}.") for n in range(5)]]
    backend = Backend(stops_early, polite_user)
    dialogue = _play(_context(tmp_path), backend)
    users = [m["content"] for m in dialogue.messages if m["role"] == "user"]
    assert users[1].startswith("Before we finish") and users[2].startswith("Sorry, I still need this")
    # After two reminders the customer's thanks stands: the validator, not the loop, judges the result.
    assert dialogue.end_reason == COMPLETED and len(users) == 3


REOPEN = """
  - name: reopen_account
    parameters: {type: object, properties: {customer_id: {type: string}}, required: [customer_id]}
    returns: {type: object, properties: {status: {type: string}}, required: [status]}
generation:"""
# A second turn that looks the customer up again before reopening the account.
LOOKED_UP_AGAIN = {
    "goal": "Reopen my account.",
    "calls": [
        PLAN["calls"][0],
        {"id": "$2", "name": "reopen_account", "arguments": {"customer_id": "$1.customer_id"}},
    ],
}


def _two_turns(generation: str = "") -> str:
    """The mini scenario with reopen_account and two turns; ``generation``: more settings."""
    text = SCENARIO.replace("\ngeneration:", REOPEN, 1).replace("turns: {min: 1, max: 1}", "turns: {min: 2, max: 2}")
    return text.replace("prior_calls: {enabled: false}", "prior_calls: {enabled: false}" + generation)


def test_a_lookup_answered_in_an_earlier_turn_counts_for_the_next_turns_plan(tmp_path: Path) -> None:
    text = _two_turns(", follow_up: {share: 0}")
    plans = iter([PLAN, LOOKED_UP_AGAIN])

    def thankful_user(prompt: str) -> dict[str, Any]:
        if "for example" in prompt:  # a turn's opening
            return {"message": "Please do it, email ann@example.com.", "status": "continue"}
        return {"message": "Thank you so much, let me know if anything else comes up.", "status": "continue"}

    # The customer is not looked up again in turn 2 (that would repeat an answered call).
    steps = [*GOOD_STEPS, ("call", "reopen_account", {"customer_id": "C-1"}), ("say", "Reopened.")]
    backend = Backend(steps, thankful_user)
    backend.roles["planner"] = Role(lambda prompt: next(plans))
    dialogue = _play(_context(tmp_path, text=text), backend)
    assert dialogue.end_reason == COMPLETED and len(dialogue.turns) == 2


@pytest.mark.parametrize(
    ("in_opening", "bad", "problem"),
    [
        (False, "your account is CLOSED", "repeats what was already said"),  # parrots the agent
        (True, "I'd be happy to help. Please provide your email, ann@example.com.", "speaks as the support agent"),
    ],
    ids=["parrot", "agent-voice"],
)
def test_a_reply_that_is_not_the_customers_own_is_redrafted(
    tmp_path: Path, in_opening: bool, bad: str, problem: str
) -> None:
    request = {"message": "Please close my account, email ann@example.com.", "status": "continue"}

    def user(text: str) -> dict[str, Any]:
        opening = OPENING in text
        if opening == in_opening and problem not in text:
            return {"message": bad, "status": "continue"}
        return request if opening else {"message": "Thanks, that is all.", "status": "done"}

    backend = Backend(GOOD_STEPS, user)
    dialogue = _play(_context(tmp_path), backend)
    assert dialogue.end_reason == COMPLETED
    assert dialogue.messages[0]["content"] == request["message"]
    prompts = backend.roles["user"].prompts
    assert len(prompts) == 3  # opening, reply, and one redraft of the bad one
    assert sum(f'Your previous draft was: "{bad}"' in prompt for prompt in prompts) == 1


def test_a_reply_that_repeats_the_users_own_earlier_words_is_redrafted(tmp_path: Path) -> None:
    request = "Please close my account, email ann@example.com."

    def repetitive_user(text: str) -> dict[str, Any]:
        if "repeats what was already said" in text:
            return {"message": "It is ann@example.com, as I said.", "status": "continue"}
        return {"message": request, "status": "continue"}

    steps = [("say", "Which account?"), *GOOD_STEPS]
    dialogue = _play(_context(tmp_path), Backend(steps, repetitive_user))
    said = [m["content"] for m in dialogue.messages if m["role"] == "user"]
    assert said[:2] == [request, "It is ann@example.com, as I said."]


@pytest.mark.parametrize(
    ("index", "faulted", "reason"),
    [(3, ["call_1"], COMPLETED), (0, ["call_2"], "stalled_repeated_call")],
    ids=["retry-after-a-fault", "repeat-after-an-answer"],
)
def test_only_a_repeat_of_an_answered_call_is_a_stall(tmp_path: Path, index: int, faulted: list, reason: str) -> None:
    # Fault draws are seeded: dialogue 3 faults the first call only, dialogue 0 the second only.
    steps = [("call", "find_customer", {"email": "ann@example.com"})] * 2 + [("say", "Done.")]
    context = _context(tmp_path, extra="faults: {rate: 0.5, kinds: [rate_limited]}\n")
    dialogue = asyncio.run(simulate_dialogue(context, Backend(steps, polite_user), index=index))
    assert sorted(dialogue.faults) == faulted
    assert dialogue.end_reason == reason


@pytest.mark.parametrize(("rate", "reason"), [(0.5, GAVE_UP_AFTER_FAULT), (0.0, "user_gave_up")])
def test_giving_up_is_acceptable_only_after_an_injected_fault(tmp_path: Path, rate: float, reason: str) -> None:
    def user(text: str) -> dict[str, Any]:
        if OPENING in text:
            return {"message": "Please close my account, email ann@example.com.", "status": "continue"}
        told = "The agent's system returned an error." in text
        if told or rate == 0:
            return {"message": "I understand, never mind.", "status": "give_up"}
        return {"message": "Please try again.", "status": "continue"}

    steps = [("call", "find_customer", {"email": "ann@example.com"}), ("say", "Sorry, I cannot find you.")]
    context = _context(tmp_path, extra=f"faults: {{rate: {rate}, kinds: [not_found]}}\n")
    dialogue = asyncio.run(simulate_dialogue(context, Backend(steps, user), index=3))  # faults the 1st call
    assert dialogue.end_reason == reason
    assert (dialogue.end_reason in ACCEPTABLE_ENDINGS) is (rate > 0)


def test_tool_call_budget_per_turn(tmp_path: Path) -> None:
    steps = [("call", "find_customer", {"email": f"x{n}@example.com"}) for n in range(5)]
    text = SCENARIO.replace("max_messages: 12,", "max_messages: 30, max_tool_calls_per_turn: 2,")
    context = _context(tmp_path, text=text)
    assert _play(context, Backend(steps, polite_user)).end_reason == "tool_call_limit"


def test_an_invalid_plan_is_sent_back_and_then_fails_the_dialogue(tmp_path: Path) -> None:
    bad = {"goal": "x", "calls": [{"id": "$1", "name": "no_such_tool", "arguments": {}}]}
    backend = Backend(GOOD_STEPS, polite_user, plan=bad)
    with pytest.raises(DialogueFailed) as failure:
        _play(_context(tmp_path), backend)
    assert failure.value.role == "planner" and "unknown tool 'no_such_tool'" in failure.value.reason
    prompts = backend.roles["planner"].prompts
    assert len(prompts) == 4 and "Your previous plan was rejected" in prompts[1]
    # After two failures on one chain the planner starts over on a freshly drawn one.
    assert "Your previous plan was rejected" not in prompts[2] and "Your previous plan was rejected" in prompts[3]


def test_plans_are_renumbered_after_prior_calls(tmp_path: Path) -> None:
    prior = """
prior_calls:
  - {name: find_customer, arguments: {email: ann@example.com}, output: {customer_id: C-9}, note: signed up}
"""
    plan = {"goal": "Close it.", "calls": [{"id": "$1", "name": "close_account", "arguments": {"customer_id": "C-9"}}]}
    backend = Backend([("call", "close_account", {"customer_id": "C-9"}), ("say", "Done.")], polite_user, plan)
    one_call = SCENARIO.replace("plan_length: {min: 2, max: 2}", "plan_length: {min: 1, max: 2}")
    dialogue = _play(_context(tmp_path, prior, one_call), backend)
    assert [p.id for p in dialogue.prior_calls] == ["$1"]
    assert dialogue.turns[0].calls[0].id == "$2"
    assert "C-9" in backend.roles["user"].prompts[0]  # prior outputs are facts the user knows


def test_a_planned_call_the_scenario_declares_as_prior_is_not_remembered_twice(tmp_path: Path) -> None:
    # Seen in the embedded IT run: the scenario declares get_service_status(vpn) as a prior
    # call, the plan began with the same call, and moving it before the dialogue added a
    # second, identical prior call with a freshly simulated (and different) output.
    prior = """
prior_calls:
  - {name: find_customer, arguments: {email: ann@example.com}, output: {customer_id: C-9}, note: signed up}
"""
    steps = [("call", "close_account", {"customer_id": "C-9"}), ("say", "Your account is closed.")]
    backend = Backend(steps, polite_user)
    text = SCENARIO.replace("prior_calls: {enabled: false}", "prior_calls: {enabled: true, share: 1.0}")
    dialogue = _play(_context(tmp_path, prior, text), backend)
    assert [(p.id, p.name, p.output) for p in dialogue.prior_calls] == [("$1", "find_customer", {"customer_id": "C-9"})]
    assert not any("answer now:\nfind_customer(" in p for p in backend.roles["tool_simulator"].prompts)
    # What the plan took from the moved call it now takes from the declared one.
    assert [(c.name, c.arguments) for c in dialogue.turns[0].calls] == [
        ("close_account", {"customer_id": "$1.customer_id"})
    ]
    assert dialogue.phenomena["prior_state"]["calls"] == ["$2"]
    assert dialogue.end_reason == COMPLETED


def test_a_lookup_made_again_agrees_with_what_the_user_knows_from_before(tmp_path: Path) -> None:
    # Seen in the embedded IT run: the device lookup was moved before the dialogue (employee
    # E001234), the assistant identified the user by e-mail as the policy says, and the
    # simulator answered E104552, so the planned call with the prior id could never be made.
    ids = iter(["C-1", "C-2"])  # the simulator's own draw differs each time

    def simulator(prompt: str) -> dict[str, Any]:
        return {"customer_id": next(ids)} if "answer now:\nfind_customer(" in prompt else {"status": "closed"}

    steps = [
        # Not the very same call as the prior one (that gets the prior output as it was).
        ("call", "find_customer", {"email": "Ann@example.com"}),
        ("call", "close_account", {"customer_id": "C-1"}),
        ("say", "Your account is closed."),
    ]
    backend = Backend(steps, polite_user)
    backend.roles["tool_simulator"] = Role(simulator)
    text = SCENARIO.replace("prior_calls: {enabled: false}", "prior_calls: {enabled: true, share: 1.0}")
    dialogue = _play(_context(tmp_path, text=text), backend)
    assert [(p.name, p.output) for p in dialogue.prior_calls] == [("find_customer", {"customer_id": "C-1"})]
    again = json.loads(dialogue.messages[2]["content"])
    assert again == {"customer_id": "C-1"}  # the simulator said C-2; the plan's value from before wins
    assert dialogue.provenance[2]["origin"] == "edited" and "customer_id" in json.dumps(dialogue.provenance[2])
    assert dialogue.end_reason == COMPLETED


TICKETS = """
name: desk
description: A help desk.
personas: [{name: Ann, description: terse, facts: {email: ann@example.com}}]
tools:
  - name: open_ticket
    parameters:
      type: object
      properties: {summary: {type: string}, priority: {type: string, enum: [P1, P2, P3]}}
      required: [summary, priority]
    returns: {type: object, properties: {ticket_id: {type: string}}, required: [ticket_id]}
  - name: get_ticket
    parameters: {type: object, properties: {ticket_id: {type: string}}, required: [ticket_id]}
    returns:
      type: object
      properties: {ticket_id: {type: string}, priority: {type: string, enum: [P1, P2, P3]}}
      required: [ticket_id, priority]
generation: {turns: {min: 1, max: 1}, plan_length: {min: 2, max: 2}, max_messages: 12, prior_calls: {enabled: false}}
"""


def test_a_value_the_assistant_chooses_is_not_forced_into_later_results(tmp_path: Path) -> None:
    # Seen in the embedded IT run: the plan said priority P1, the assistant opened the ticket
    # with P2 (its own choice, which goal_calls_made accepts), and code set P1 in get_ticket's
    # result: the ticket read back contradicted the one just opened.
    plan = {
        "goal": "Open a ticket about the VPN and read it back.",
        "calls": [
            {"id": "$1", "name": "open_ticket", "arguments": {"summary": "VPN drops", "priority": "P1"}},
            {"id": "$2", "name": "get_ticket", "arguments": {"ticket_id": "$1.ticket_id"}},
        ],
    }

    def simulator(prompt: str) -> dict[str, Any]:
        opening = "answer now:\nopen_ticket(" in prompt
        return {"ticket_id": "T-1"} if opening else {"ticket_id": "T-1", "priority": "P2"}

    steps = [
        ("call", "open_ticket", {"summary": "VPN drops", "priority": "P2"}),
        ("call", "get_ticket", {"ticket_id": "T-1"}),
        ("say", "Ticket T-1 is open with priority P2."),
    ]
    backend = Backend(steps, polite_user, plan)
    backend.roles["tool_simulator"] = Role(simulator)
    dialogue = _play(_context(tmp_path, text=TICKETS), backend)
    read_back = json.loads(dialogue.messages[4]["content"])
    assert read_back == {"ticket_id": "T-1", "priority": "P2"}
    assert dialogue.provenance[4]["origin"] == "model"


def test_a_plan_shorter_than_the_scenarios_minimum_is_sent_back(tmp_path: Path) -> None:
    lone = {"goal": "Find me.", "calls": PLAN["calls"][:1]}
    plans = iter([lone, PLAN])
    backend = Backend(GOOD_STEPS, polite_user)
    backend.roles["planner"] = Role(lambda prompt: next(plans))
    dialogue = _play(_context(tmp_path), backend)
    assert dialogue.end_reason == COMPLETED and len(dialogue.turns[0].calls) == 2
    first, second = backend.roles["planner"].prompts
    assert "Plan between 2 and 2 calls." in first
    assert "the plan has 1 call(s), fewer than 2" in second


def test_results_the_plan_takes_a_value_from_are_asked_for_with_that_value(tmp_path: Path) -> None:
    # find_customer may answer customer_id: null, but the plan's close_account needs it.
    nullable = SCENARIO.replace(
        "returns: {type: object, properties: {customer_id: {type: string}}, required: [customer_id]}",
        'returns: {type: object, properties: {customer_id: {type: [string, "null"]}}}',
    )
    backend = Backend(GOOD_STEPS, polite_user)
    dialogue = _play(_context(tmp_path, text=nullable), backend)
    assert dialogue.end_reason == COMPLETED
    lookups = [p for p in backend.roles["tool_simulator"].prompts if "answer now:\nfind_customer(" in p]
    assert lookups and all(
        '{"type": "object", "properties": {"customer_id": {"type": ["string"]}}, "required": ["customer_id"]}' in p
        for p in lookups
    )


def _answers(first: str, later: str, later_status: str = "continue") -> Callable[[str], dict[str, Any]]:
    def user(prompt: str) -> dict[str, Any]:
        if OPENING in prompt:
            return {"message": first, "status": "continue"}
        return {"message": later, "status": later_status}

    return user


WITH_REASON = SCENARIO.replace(
    "properties: {customer_id: {type: string}}, required: [customer_id]}\n"
    "    returns: {type: object, properties: {status",
    "properties: {customer_id: {type: string}, reason: {type: string}}, required: [customer_id]}\n"
    "    returns: {type: object, properties: {status",
)
PLAN_WITH_REASON = {
    "goal": "Close my account.",
    "calls": [
        PLAN["calls"][0],
        {**PLAN["calls"][1], "arguments": {"customer_id": "$1.customer_id", "reason": "moving abroad"}},
    ],
}


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        # It states none of them (here it dodges the question): the values replace it.
        ("I cannot share that, it is private.", "Here are my details: email: ann@example.com, reason: moving abroad."),
        # It states some: the rest follow its words.
        ("I am moving abroad.", "I am moving abroad. My details: email: ann@example.com."),
    ],
    ids=["dodged", "partly-answered"],
)
def test_values_the_agent_asks_for_are_stated_in_the_users_reply(tmp_path: Path, reply: str, said: str) -> None:
    assert WITH_REASON != SCENARIO
    steps = [("say", "Which email is the account under, and what is the reason?"), *GOOD_STEPS]
    # The agent asks again for values the opening already gave: the reply must still hold them.
    user = _answers("Please close my account, email ann@example.com, I am moving abroad.", reply)
    dialogue = _play(_context(tmp_path, text=WITH_REASON), Backend(steps, user, plan=PLAN_WITH_REASON))
    users = [m["content"] for m in dialogue.messages if m["role"] == "user"]
    assert users[1] == said


def test_a_reply_is_left_alone_when_the_agent_asks_for_nothing_the_plan_holds(tmp_path: Path) -> None:
    steps = [("say", "Which shop is it?"), *GOOD_STEPS]
    user = _answers("Please close my account, email ann@example.com.", "The one in town.")
    dialogue = _play(_context(tmp_path), Backend(steps, user))
    assert [m["content"] for m in dialogue.messages if m["role"] == "user"][1] == "The one in town."


@pytest.mark.parametrize(
    ("steps", "rate", "ending"),
    [
        # Every planned call answered: the customer thanks the agent and the turn completes.
        (GOOD_STEPS, 0.0, COMPLETED),
        # The system failed (an injected fault): the customer lets go.
        ([("call", "find_customer", {"email": "ann@example.com"}), ("say", "Sorry.")], 0.5, GAVE_UP_AFTER_FAULT),
    ],
    ids=["plan-done", "after-fault"],
)
def test_a_reply_still_in_the_agents_voice_after_its_redraft_is_scripted(
    tmp_path: Path, steps: list, rate: float, ending: str
) -> None:
    agent_voice = "I'd be happy to help you with anything else."
    user = _answers("Please close my account, email ann@example.com.", agent_voice)
    context = _context(tmp_path, extra=f"faults: {{rate: {rate}, kinds: [not_found]}}\n")
    dialogue = asyncio.run(simulate_dialogue(context, Backend(steps, user), index=3))  # index 3 faults the 1st call
    # The closing reply itself is not recorded; without the script the agent-voiced reply
    # would go on to the agent and the turn would stall.
    assert dialogue.end_reason == ending


def test_an_agent_voiced_reply_mid_turn_is_kept_for_the_stall_rules(tmp_path: Path) -> None:
    steps = [("say", "Anything else?")] * 4
    user = _answers("Please close my account, email ann@example.com.", "How can I help you today?")
    dialogue = _play(_context(tmp_path), Backend(steps, user))
    assert dialogue.end_reason in {"stalled_user_repeating", "no_progress"}
    # Kept as the model wrote it (not replaced by a scripted thanks or give-up).
    assert "How can I help you today?" in [m["content"] for m in dialogue.messages if m["role"] == "user"]


def test_the_planner_may_reference_only_fields_its_tools_return(tmp_path: Path) -> None:
    backend = Backend(GOOD_STEPS, polite_user)
    _play(_context(tmp_path), backend)
    schema = backend.roles["planner"].reply_types[0].model_json_schema()
    options = schema["properties"]["calls"]["items"]["anyOf"]
    patterns = {
        (o["properties"]["name"]["const"], name): argument["anyOf"][1]["pattern"]
        for o in options
        for name, argument in o["properties"]["arguments"]["properties"].items()
    }
    assert patterns == {
        # The graph wires find_customer's customer_id to close_account's: only that field.
        ("close_account", "customer_id"): "^[$][0-9]+[.](customer_id)$",
        # Nothing feeds email: any field the mini shop's tools return (customer_id, status).
        ("find_customer", "email"): "^[$][0-9]+[.](customer_id|status)$",
    }


def test_a_label_in_a_message_that_asks_nothing_adds_no_values(tmp_path: Path) -> None:
    steps = [("say", "A confirmation will go to your email."), *GOOD_STEPS]
    user = _answers("Please close my account, email ann@example.com.", "Good, go ahead.")
    dialogue = _play(_context(tmp_path), Backend(steps, user))
    assert [m["content"] for m in dialogue.messages if m["role"] == "user"][1] == "Good, go ahead."


def test_an_opening_still_in_the_agents_voice_after_every_draft_is_scripted_from_the_goal(tmp_path: Path) -> None:
    agent_voice = "I'm sorry, but I'm not sure what you need. Could you please provide me with more details?"
    user = _answers(agent_voice, "Thanks!", later_status="done")
    plan = {**PLAN, "goal": "Ann wants to close her account."}
    backend = Backend(GOOD_STEPS, user, plan=plan)
    dialogue = _play(_context(tmp_path), backend)
    assert dialogue.messages[0]["content"] == "Hi. I want to close my account. My details: email: ann@example.com."
    assert len(backend.roles["user"].prompts) == OPENING_ATTEMPTS + 1  # every draft was tried first
    assert dialogue.end_reason == COMPLETED


def test_a_planned_literal_is_listed_by_the_tools_the_graph_says_supply_it(tmp_path: Path) -> None:
    # close_account now also returns an email, so the graph wires it to find_customer(email):
    # its results must show the email the plan passes, not one the model made up (or none).
    with_email = SCENARIO.replace(
        "returns: {type: object, properties: {status: {type: string}}",
        "returns: {type: object, properties: {status: {type: string}, email: {type: string}}",
    )
    assert with_email != SCENARIO
    dialogue = _play(_context(tmp_path, text=with_email), Backend(GOOD_STEPS, polite_user))
    results = [json.loads(m["content"]) for m in dialogue.messages if m["role"] == "tool"]
    assert results == [{"customer_id": "C-1"}, {"status": "closed", "email": "ann@example.com"}]
    assert dialogue.end_reason == COMPLETED


def test_an_id_inside_a_listed_argument_is_listed_by_tools_returning_that_field(tmp_path: Path) -> None:
    with_items = SCENARIO.replace(
        "returns: {type: object, properties: {customer_id: {type: string}}, required: [customer_id]}",
        "returns: {type: object, properties: {customer_id: {type: string},"
        " items: {type: array, items: {type: object, properties: {item_id: {type: string}}}}},"
        " required: [customer_id]}",
    ).replace(
        "properties: {customer_id: {type: string}}, required: [customer_id]}\n"
        "    returns: {type: object, properties: {status",
        "properties: {customer_id: {type: string}, items: {type: array, items: {type: object,"
        " properties: {item_id: {type: string}}}}}, required: [customer_id]}\n"
        "    returns: {type: object, properties: {status",
    )
    assert with_items.count("item_id") == 2
    plan = {
        "goal": "Close my account.",
        "calls": [
            PLAN["calls"][0],
            {**PLAN["calls"][1], "arguments": {"customer_id": "$1.customer_id", "items": [{"item_id": "I-9"}]}},
        ],
    }
    backend = Backend(GOOD_STEPS, polite_user, plan=plan)
    # The model lists its own items, or none: the planned one must be there either way.
    answers = iter([{"customer_id": "C-1", "items": [{"item_id": "I-1"}, {"item_id": "I-2"}]}, {"status": "closed"}])
    backend.roles["tool_simulator"] = Role(lambda prompt: next(answers))
    dialogue = _play(_context(tmp_path, text=with_items), backend)
    results = [json.loads(m["content"]) for m in dialogue.messages if m["role"] == "tool"]
    assert results[0] == {"customer_id": "C-1", "items": [{"item_id": "I-9"}, {"item_id": "I-2"}]}
    lookup = backend.roles["tool_simulator"].prompts[0]
    assert '"minItems": 1' in lookup  # the list may not be empty


def test_a_parameter_fed_only_by_tools_outside_the_chain_takes_only_a_literal(tmp_path: Path) -> None:
    # A third tool returns customer_ids too; the chain (find_customer, close_account) is as before,
    # so nothing changes for close_account. But lookup_note's customer_id is fed only by tools
    # outside a chain that holds just it: it must be a literal.
    extra = (
        "  - name: lookup_note\n"
        "    parameters: {type: object, properties: {customer_id: {type: string}}}\n"
        "    returns: {type: object, properties: {note: {type: string}}}\n"
    )
    text = SCENARIO.replace("generation:", extra + "generation:")
    context = _context(tmp_path, text=text)
    planner = TurnPlanner(context, Role(lambda prompt: PLAN), None, None, None, context.assist)  # type: ignore[arg-type]
    wired = planner.wired_paths(["lookup_note"], {})
    assert wired == {"lookup_note": {"customer_id": []}}
    assert planner.wired_paths(["find_customer", "lookup_note"], {}) == {
        "lookup_note": {"customer_id": [("customer_id",)]}
    }


def test_a_later_turn_is_sent_back_until_it_builds_on_an_earlier_turn(tmp_path: Path) -> None:
    text = _two_turns()
    # The reply's own ids are renumbered ($3 on): "$1" here is the first turn's lookup.
    that_account = {
        "goal": "Reopen that account.",
        "calls": [{"id": "$3", "name": "reopen_account", "arguments": {"customer_id": "$1.customer_id"}}],
    }
    plans = iter([PLAN, LOOKED_UP_AGAIN, that_account])
    steps = [*GOOD_STEPS, ("call", "reopen_account", {"customer_id": "C-1"}), ("say", "Reopened.")]
    backend = Backend(steps, polite_user)
    backend.roles["planner"] = planner = Role(lambda prompt: next(plans))
    dialogue = _play(_context(tmp_path, text=text), backend)
    assert [call.arguments for call in dialogue.turns[1].calls] == [{"customer_id": "$1.customer_id"}]
    assert dialogue.phenomena["follow_up"] == {"requested": [1], "planned": [1]}
    follow_up = render("planner/follow_up", connections="- $1.customer_id -> reopen_account(customer_id)")
    assert follow_up in planner.prompts[1] and "Plan between 1 and" in planner.prompts[1]
    assert "must follow up on an earlier turn" in planner.prompts[2]
    # The user's prompt for that turn asks for indirect references.
    assert render("user/follow_up") in backend.roles["user"].prompts[-1]


def test_the_last_plan_attempt_may_skip_the_follow_up(tmp_path: Path) -> None:
    text = _two_turns()
    plans = iter([PLAN, *[LOOKED_UP_AGAIN] * 4])
    backend = Backend([*GOOD_STEPS, ("say", "Done.")], polite_user)
    backend.roles["planner"] = Role(lambda prompt: next(plans))
    context = _context(tmp_path, text=text)
    dialogue = asyncio.run(simulate_dialogue(context, backend, index=0))
    assert len(dialogue.turns) == 2 and dialogue.phenomena["follow_up"] == {"requested": [1], "planned": []}
    assert next(plans, None) is None  # four attempts for the second turn, the last one kept


def test_a_turn_without_its_goal_tool_ends_when_the_user_lets_it_go_and_is_not_called_done(tmp_path: Path) -> None:
    text = SCENARIO.replace("turns: {min: 1, max: 1}", "turns: {min: 2, max: 2}")
    text = text.replace(
        "prior_calls: {enabled: false}", "prior_calls: {enabled: false}, missing_function: {share: 1.0}"
    )
    cannot = ("say", "I'm sorry, I can't close accounts in this chat.")

    def accepting_user(prompt: str) -> dict[str, Any]:
        if "can't close accounts" in prompt:  # the agent's last message, not the history
            return {"message": "I see, never mind then.", "status": "give_up"}
        return polite_user(prompt)

    backend = Backend([cannot, cannot], accepting_user)
    dialogue = _play(_context(tmp_path, text=text), backend)
    assert dialogue.end_reason == COMPLETED and len(dialogue.turns) == 2
    assert backend.assistant_session.withheld == [frozenset({"close_account"})] * 2
    assert dialogue.phenomena["missing_function"]["withheld"] == [
        {"turn": 0, "call": "$2", "tool": "close_account"},
        {"turn": 1, "call": "$4", "tool": "close_account"},
    ]
    second_opening = next(p for p in backend.roles["user"].prompts if "Already" in p or "could not do" in p)
    assert render("user/earlier_not_done", goals=PLAN["goal"]) in second_opening
    assert "Already taken care of" not in second_opening


def test_a_plan_copying_a_descriptions_example_is_sent_back_but_kept_at_the_last_attempt(tmp_path: Path) -> None:
    text = SCENARIO.replace(
        "parameters: {type: object, properties: {email: {type: string}}, required: [email]}",
        "parameters: {type: object, properties: {email: {type: string, description: 'e.g. bob@example.com'}}, "
        "required: [email]}",
    )
    copied = json.loads(json.dumps(PLAN).replace("ann@example.com", "bob@example.com"))
    backend = Backend([("say", "Done.")], polite_user)
    backend.roles["planner"] = planner = Role(lambda prompt: copied)
    dialogue = _play(_context(tmp_path, text=text), backend)
    assert len(planner.prompts) == 4  # sent back three times, then kept rather than failing the dialogue
    assert "'bob@example.com' is an example from the tool descriptions" in planner.prompts[1]
    assert dialogue.turns[0].calls[0].arguments == {"email": "bob@example.com"}
