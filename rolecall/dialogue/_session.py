"""One dialogue, start to finish: the loop every model goes through.

    for each turn:  plan -> user opens -> (assistant step -> tool simulator)* -> user replies
                    ... until a stop rule ends the turn or the dialogue

The loop is model-agnostic. The aids for weak models sit behind :class:`~rolecall.assist.UserAids`
(the user's side) and the planner's policy switch; with them off, each message is one model
reply. Every message is added with its provenance. Concurrency, validation, files and resume
live above this, in :mod:`rolecall.run`.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field, replace
from typing import Any

from rolecall.agents import (
    AssistantSession,
    AssistantStep,
    ExecutedCall,
    Origin,
    RoleBackend,
    RoleError,
    provenance,
)
from rolecall.assist import Detail, TurnState, UserAids, UserTurn
from rolecall.dialogue._behaviours import CHANGE_OF_MIND, PROMPT_BEHAVIOURS, ChangeOfMind, draw_behaviours, plan_change
from rolecall.dialogue._mistakes import mistake_for
from rolecall.dialogue._planner import TurnPlanner
from rolecall.dialogue._tools import ToolSimulator
from rolecall.dialogue._types import Dialogue, DialogueFailed, EndReason, RunContext, dialogue_seed
from rolecall.dialogue._user import MISSING_PARAMETER, ON_REQUEST, UPFRONT, TurnUserSimulator, detail
from rolecall.planning import TurnPlan
from rolecall.prompts import render
from rolecall.scenario import LoadedScenario
from rolecall.validators import unstated_literals

NO_PROGRESS_REPLIES = 3  # assistant replies in a row without a tool call
REPEATS_BEFORE_STALL = 1  # answers an identical call may get before repeating it is a stall
DEFAULT_DATES = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


@dataclass
class _Turn:
    """Counters of one turn, for the stop rules."""

    plan: TurnPlan
    calls: int = 0
    replies_without_calls: int = 0
    answered: set[str] = field(default_factory=set)  # tools answered this turn without a fault
    fault: bool = False  # an injected fault answered a call this turn
    error: bool = False  # any error answered a call this turn
    reminders: int = 0
    unavailable: str | None = None  # missing_function: the goal call's tool, withheld this turn
    called: set[str] = field(default_factory=set)  # tools called this turn, whatever the answer
    change: ChangeOfMind | None = None  # a change of mind still to be said this turn


class _Session:
    def __init__(self, context: RunContext, backend: RoleBackend, index: int):
        scenario = context.scenario
        self.context = context
        self.settings = scenario.scenario.generation
        seed = dialogue_seed(context.seed, index)
        self.rng = random.Random(seed)
        persona = self.rng.choice(scenario.personas)
        date = _draw_date(self.rng, scenario)
        self.dialogue = Dialogue(index, seed, persona, date, facts={"date": date, **persona.facts})
        # Its own streams, so the disclosure draws and faults do not shift the plans.
        self.disclosure_rng = random.Random(f"disclosure:{seed}")
        self.missing_rng = random.Random(f"missing:{seed}")
        self.function_rng = random.Random(f"missing-function:{seed}")
        self.mistake_rng = random.Random(f"mistakes:{seed}")
        self.mistakes_left = self._draw_mistakes()
        self.behaviour_rng = random.Random(f"behaviours:{seed}")
        self.behaviours = self._draw_behaviours()
        self.change_turn: int | None = None  # the first turn whose goal the user may change its mind about
        self.last_turn = 0
        self.user_role = backend.structured("user")
        simulator_role = backend.structured("tool_simulator")
        planner_role = backend.structured("planner")
        self.simulator = ToolSimulator(
            context.tools,
            context.output_schemas,
            simulator_role,
            random.Random(f"faults:{seed}"),
            scenario.scenario.faults,
            self.dialogue.facts,
            date,
        )
        self.planner = TurnPlanner(context, planner_role, self.dialogue, self.rng, self.simulator, context.assist)
        # The tools with their output schemas, inferred ones included (the model sees neither).
        tools = [
            replace(tool, returns=context.output_schemas.get(tool.name) or tool.returns) for tool in scenario.tools
        ]
        self.assistant: AssistantSession = backend.assistant(scenario.scenario.policy, tools, self.simulator.execute)
        self.aids = UserAids(context.assist)
        self.roles: dict[str, Any] = {
            "planner": planner_role,
            "user": self.user_role,
            "tool_simulator": simulator_role,
            "assistant": self.assistant,
        }
        self._call_ids: dict[str, str] = {}  # model's call id -> record's call id
        self._answered: dict[tuple[str, str], int] = {}  # (tool, canonical arguments) -> answers
        self.unavailable: str | None = None  # the tool withheld from the assistant this turn

    async def run(self) -> Dialogue:
        dialogue = self.dialogue
        self.planner.declare_prior_calls()
        if self.context.scenario.scenario.policy:
            dialogue.add(
                {"role": "system", "content": self.context.scenario.scenario.policy}, provenance(Origin.SCENARIO)
            )
        turns = self.rng.randint(self.settings.turns.min, self.settings.turns.max)
        self.last_turn = turns - 1
        if CHANGE_OF_MIND in self.behaviours:
            self.change_turn = self.behaviour_rng.randrange(turns)
        try:
            for turn in range(turns):
                plan = await self.planner.next_turn(turn)
                dialogue.turns.append(plan)
                disclosure = self._disclosure()
                withheld = self._withhold(plan, turn) if disclosure == UPFRONT else None
                dialogue.disclosure.append(MISSING_PARAMETER if withheld else disclosure)
                self._withhold_tool(plan, turn)
                ending = await self._play_turn(plan, withheld)
                if ending != EndReason.COMPLETED:
                    dialogue.end_reason = ending
                    break
            else:
                dialogue.end_reason = EndReason.COMPLETED
        except RoleError as error:
            raise DialogueFailed(error.role, error.reason, dialogue, error.cause) from None
        except DialogueFailed as failure:
            failure.dialogue = dialogue
            raise
        finally:
            dialogue.faults = {self._call_ids.get(k, k): v for k, v in self.simulator.faults.items()}
            dialogue.usage = {role: agent.usage for role, agent in self.roles.items()}
        return dialogue

    def _disclosure(self) -> str:
        user = self.settings.user
        if user.disclosure == "mixed":
            return ON_REQUEST if self.disclosure_rng.random() < user.on_request_share else UPFRONT
        return user.disclosure

    def _withhold(self, plan: TurnPlan, turn: int) -> Detail | None:
        """missing_parameter: with its share, one planned value the opening leaves out (the goal
        call's first, else an earlier call's), one the user has not said in an earlier turn."""
        share = self.settings.missing_parameter.share
        if share <= 0:
            return None
        entry = self.dialogue.phenomena.setdefault("missing_parameter", {"requested": [], "withheld": []})
        if self.missing_rng.random() >= share:
            return None
        entry["requested"].append(turn)
        said = [m["content"] for m in self.dialogue.messages if m["role"] == "user"]
        for call in reversed(plan.calls):
            literals = unstated_literals(call.literals(), self.context.tools[call.name].parameters, said)
            if literals:
                path, value = literals[0]
                label, shown = detail(path, value)
                entry["withheld"].append(
                    {"turn": turn, "call": call.id, "tool": call.name, "parameter": path, "value": shown}
                )
                return label, shown
        return None

    def _withhold_tool(self, plan: TurnPlan, turn: int) -> None:
        """missing_function: with its share, the turn's goal tool is not offered to the assistant
        this turn (the record's tools still list it); it is offered again from the next turn."""
        share = self.settings.missing_function.share
        if share <= 0:
            return
        entry = self.dialogue.phenomena.setdefault("missing_function", {"requested": [], "withheld": []})
        tool = None
        if self.function_rng.random() < share:
            goal = plan.calls[-1]
            tool = goal.name
            entry["requested"].append(turn)
            entry["withheld"].append({"turn": turn, "call": goal.id, "tool": tool})
        self.unavailable = tool
        self.assistant.withhold(frozenset({tool}) if tool else frozenset())

    def _draw_behaviours(self) -> list[str]:
        """user_behaviours: the difficult behaviours of this dialogue's user."""
        settings = self.settings.user_behaviours
        if not any(getattr(settings, name) > 0 for name in type(settings).model_fields):
            return []
        drawn = draw_behaviours(settings, self.behaviour_rng)
        self.dialogue.phenomena["user_behaviours"] = {"requested": drawn}
        return drawn

    def _plan_change(self, plan: TurnPlan) -> ChangeOfMind | None:
        """change_of_mind: from the turn drawn on, in the first turn whose goal call has a value to
        change, the change the user will make (None in the record when no turn had one)."""
        turn = len(self.dialogue.turns) - 1
        entry = self.dialogue.phenomena.get("user_behaviours") or {}
        if self.change_turn is None or turn < self.change_turn or CHANGE_OF_MIND in entry:
            return None
        change = plan_change(plan, self.context.tools, self.behaviour_rng)
        if change is not None or turn == self.last_turn:
            entry[CHANGE_OF_MIND] = change.as_record(turn) if change else None
        return change

    def _change_mind(self, user: TurnUserSimulator, turn: _Turn) -> None:
        """Before the user's reply, while the goal call is still unmade and nothing failed: the
        turn's plan takes the new value (the rules check it) and the user is told to say so."""
        change = turn.change
        if change is None or change.call.name in turn.called or turn.error:
            return  # after an error the customer deals with that first
        turn.change = None
        turn.plan = user.plan = self.dialogue.turns[-1] = change.applied(turn.plan)
        user.instruction = render("user/change_of_mind", **change.words).strip()
        user.changed = render("user/changed_mind", **change.words)

    def _draw_mistakes(self) -> int:
        """error_recovery: how many mistakes this dialogue gets (0 unless its share is drawn)."""
        recovery = self.settings.error_recovery
        if recovery.share <= 0:
            return 0
        requested = self.mistake_rng.random() < recovery.share
        planned = self.mistake_rng.randint(1, recovery.max_per_dialogue) if requested else 0
        self.dialogue.phenomena["error_recovery"] = {"requested": requested, "planned": planned, "injected": []}
        return planned

    async def _inject_mistake(self, step: AssistantStep) -> None:
        """Before the step's first call, with the mistakes drawn for this dialogue, a wrong version
        of it and a hint-like error, marked ``injected``; only before a call that succeeded, so
        the correction is there."""
        call = step.calls[0]
        tool = self.context.tools.get(call.name)
        if self.mistakes_left <= 0 or tool is None or call.call_id in self.simulator.faults:
            return
        try:
            arguments = json.loads(call.arguments)
        except ValueError:
            return
        if not isinstance(arguments, dict) or self.mistake_rng.random() < 0.5:  # spread them over the calls
            return
        known = [*self.dialogue.facts.values(), *arguments.values()]
        mistake = mistake_for(tool, arguments, known, self.mistake_rng)
        if mistake is None:
            return
        self.mistakes_left -= 1
        await self.assistant.insert_failed_call(mistake.name, mistake.arguments_text, mistake.result_text)
        record_id = self._record_id(f"injected:{len(self._call_ids)}")
        tool_call = {
            "id": record_id,
            "type": "function",
            "function": {"name": mistake.name, "arguments": mistake.arguments_text},
        }
        origin = provenance(Origin.INJECTED, mistake=mistake.kind)
        self.dialogue.add({"role": "assistant", "content": None, "tool_calls": [tool_call]}, origin)
        message = {"role": "tool", "tool_call_id": record_id, "content": mistake.result_text}
        self.dialogue.add(message, provenance(Origin.INJECTED, mistake=mistake.kind, template=mistake.template))
        self.dialogue.phenomena["error_recovery"]["injected"].append(
            {"call_id": record_id, "tool": mistake.name, "mistake": mistake.kind}
        )

    def _record_id(self, key: str) -> str:
        self._call_ids[key] = record_id = f"call_{len(self._call_ids) + 1}"
        return record_id

    async def _play_turn(self, plan: TurnPlan, withheld: Detail | None) -> EndReason:
        limits = self.settings
        disclosure = self.dialogue.disclosure[-1]
        behaviours = [name for name in self.behaviours if name in PROMPT_BEHAVIOURS]
        user = TurnUserSimulator(
            self.user_role, self.dialogue, plan, self.context.tools, disclosure, withheld, behaviours
        )
        said = await self.aids.opening(user, upfront=disclosure in (UPFRONT, MISSING_PARAMETER))
        self.dialogue.turn_starts.append(len(self.dialogue.messages))
        self._say(said)
        user.opened = True
        pending: str | None = said.message
        turn = _Turn(plan, unavailable=self.unavailable, change=self._plan_change(plan))
        while True:
            # A step adds a reply, or a call and its result: stop before the bound is crossed.
            if len(self.dialogue.messages) + 2 > limits.max_messages:
                return EndReason.MESSAGE_LIMIT
            step = await self.assistant.step(pending)
            pending = None
            if self.simulator.aborted:
                raise self.simulator.aborted
            if self.simulator.failure:
                raise DialogueFailed("tool_simulator", self.simulator.failure, cause=self.simulator.failure_cause)
            if step.calls:
                await self._inject_mistake(step)
                ending = self._record_calls(step, turn)
                if ending:
                    return ending
                continue
            self.dialogue.add({"role": "assistant", "content": step.text or ""}, _origin(step))
            turn.replies_without_calls += 1
            state = TurnState(
                step.text or "",
                self._plan_done(turn),
                turn.fault,
                turn.reminders,
                turn.error,
                unavailable=turn.unavailable is not None,
            )
            self._change_mind(user, turn)
            said = await self.aids.reply(user, state)
            turn.reminders = state.reminders
            ending = self._after_reply(said, turn, state)
            if ending:
                return ending
            self._say(said)
            if user.instruction:  # the change of mind is said: where, for the record
                user.instruction = ""
                self.dialogue.phenomena["user_behaviours"][CHANGE_OF_MIND]["at"] = len(self.dialogue.messages) - 1
            pending = said.message

    def _plan_done(self, turn: _Turn) -> bool:
        """Every tool the plan needs has answered; the goal call (the plan's last) this turn.
        Lookups may have been answered in an earlier turn (the same order, found once)."""
        needed = {call.name for call in turn.plan.calls}
        answered = {name for name, _ in self._answered}
        return turn.plan.calls[-1].name in turn.answered and needed <= answered

    def _record_calls(self, step: AssistantStep, turn: _Turn) -> EndReason | None:
        """Add the calls and their results; the ending a call brings about, if any."""
        calls = step.calls
        self._add_calls(calls, _origin(step))
        turn.replies_without_calls = 0
        turn.calls += len(calls)
        if turn.calls > self.settings.max_tool_calls_per_turn:
            return EndReason.TOOL_CALL_LIMIT
        injected = set(self.context.scenario.scenario.faults.kinds)
        for call in calls:
            turn.called.add(call.name)
            # Repeating a call that was answered is a stall (and a duplicate for the validator);
            # retrying one that failed is not.
            signature = (call.name, _canonical(call.arguments))
            if self._answered.get(signature, 0) >= REPEATS_BEFORE_STALL:
                return EndReason.STALLED_REPEATED_CALL
            fault = self.simulator.faults.get(call.call_id)
            turn.fault = turn.fault or fault in injected
            turn.error = turn.error or fault is not None
            if fault is None:
                self._answered[signature] = self._answered.get(signature, 0) + 1
                turn.answered.add(call.name)
        return None

    def _after_reply(self, said: UserTurn, turn: _Turn, state: TurnState) -> EndReason | None:
        """The stop rules once the user has replied; None to go on with ``said``."""
        if said.status == "done" or (state.plan_done and self.aids.leaving(said)):
            return EndReason.COMPLETED
        if turn.unavailable and said.status == "give_up":
            return EndReason.COMPLETED  # the goal's tool was withheld: letting it go is this turn's end
        if said.status == "give_up":
            return EndReason.GAVE_UP_AFTER_FAULT if turn.fault else EndReason.USER_GAVE_UP
        if turn.replies_without_calls >= NO_PROGRESS_REPLIES:
            return EndReason.NO_PROGRESS
        if said.message.strip() == self._last_user_text().strip():
            return EndReason.STALLED_USER_REPEATING
        if len(self.dialogue.messages) + 1 >= self.settings.max_messages:
            return EndReason.MESSAGE_LIMIT
        return None

    def _say(self, said: UserTurn) -> None:
        self.dialogue.add({"role": "user", "content": said.message}, said.origin)

    def _last_user_text(self) -> str:
        return next((m["content"] for m in reversed(self.dialogue.messages) if m["role"] == "user"), "")

    def _add_calls(self, calls: list[ExecutedCall], origin: dict[str, Any]) -> None:
        tool_calls = []
        for position, call in enumerate(calls):
            if not self.simulator.answered(call.call_id):
                # A call the framework did not run (arguments it could not parse, a tool not offered
                # this turn) never reached the simulator; the record still gets a JSON result.
                offered = call.name != self.unavailable
                result = self.simulator.reject_unrun(call.call_id, call.name, call.arguments, offered)
                calls[position] = call = ExecutedCall(call.call_id, call.name, call.arguments, result)
            record_id = self._record_id(call.call_id)
            tool_calls.append(
                {"id": record_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            )
        self.dialogue.add({"role": "assistant", "content": None, "tool_calls": tool_calls}, origin)
        for call in calls:
            message = {"role": "tool", "tool_call_id": self._call_ids[call.call_id], "content": call.result}
            self.dialogue.add(message, self.simulator.origin_of(call.call_id))


def _origin(step: AssistantStep) -> dict[str, Any]:
    """Who wrote an assistant step: the model, or a person playing the assistant."""
    return provenance(Origin.HUMAN if step.author == "human" else Origin.MODEL)


async def simulate_dialogue(context: RunContext, backend: RoleBackend, index: int) -> Dialogue:
    """Play dialogue ``index`` of a run. Raises :class:`DialogueFailed` with the partial dialogue attached."""
    return await _Session(context, backend, index).run()


def _draw_date(rng: random.Random, scenario: LoadedScenario) -> str:
    dates = scenario.scenario.generation.dates
    start, end = (dates.start, dates.end) if dates else DEFAULT_DATES
    return (start + dt.timedelta(days=rng.randint(0, (end - start).days))).isoformat()


def _canonical(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), sort_keys=True)
    except ValueError:
        return arguments
