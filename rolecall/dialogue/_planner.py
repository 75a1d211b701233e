"""The planner's step of a turn: a checked plan of chained calls, and what it needs of the world.

A connected chain of tools is drawn from the dataflow graph towards the persona's wish, the
planner model writes the calls (literals or ``$k.field`` references), and the plan is checked and
sent back with its problems until it is right. The reply schema admits only the chain's tools
and references to output fields that can feed each parameter, so grammar-constrained models
cannot invent them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from typing import Any

from rolecall.agents import PlanReply, StructuredRole, plan_reply_for
from rolecall.assist import AssistPolicy
from rolecall.dialogue._tools import ToolSimulator
from rolecall.dialogue._types import Dialogue, DialogueFailed, RunContext
from rolecall.dialogue._user import has_own_name, persona_text
from rolecall.planning import (
    PlannedCall,
    PriorCall,
    Reference,
    TurnPlan,
    choose_hidden,
    copied_example_problems,
    goal_problems,
    output_fields,
    plan_problems,
    repair_references,
    voice_problems,
)
from rolecall.prompts import render
from rolecall.validators import exempt, is_identifier

PLAN_ATTEMPTS = 4
PLAN_ATTEMPTS_PER_CHAIN = 2
FOLLOW_UP_DRAWS = 6  # chains drawn for a follow-up turn until one connects to an earlier turn
FOLLOW_UP_LISTED = 8  # connections from earlier calls the planner is shown


class TurnPlanner:
    """Plans the turns of one dialogue."""

    def __init__(
        self,
        context: RunContext,
        role: StructuredRole,
        dialogue: Dialogue,
        rng: random.Random,
        simulator: ToolSimulator,
        assist: AssistPolicy,
    ):
        self.context = context
        self.role = role
        self.dialogue = dialogue
        self.rng = rng
        self.simulator = simulator
        self.assist = assist
        self.settings = context.scenario.scenario.generation

    def declare_prior_calls(self) -> None:
        """The scenario's own prior calls: state that existed before every dialogue."""
        for position, call in enumerate(self.context.scenario.scenario.prior_calls, start=1):
            self.dialogue.prior_calls.append(
                PriorCall(
                    id=f"${position}", name=call.name, arguments=call.arguments, output=call.output, note=call.note
                )
            )
            self.simulator.remember_prior(call.name, call.arguments, call.output)

    async def next_turn(self, turn: int) -> TurnPlan:
        """The plan of turn ``turn``, hidden calls chosen; the tool simulator is told what it needs."""
        plan = await self.plan(turn)
        self.simulator.needed_fields = self._needed_fields(plan)
        self.simulator.needed_values = self._needed_values(plan)
        prior = self.settings.prior_calls
        if turn == 0 and prior.enabled:
            # Its own stream: the share drawn does not shift the plans' draws.
            requested = random.Random(f"prior:{self.dialogue.seed}").random() < prior.share
            moved = await self.move_to_prior(plan) if requested else plan
            self.dialogue.phenomena["prior_state"] = {
                "requested": requested,
                "calls": [call.id for call in plan.calls if call.id not in {c.id for c in moved.calls}],
            }
            plan = moved
        # Values the user knows from before count as planned values: a lookup made again in the
        # dialogue (identifying the customer by e-mail, as policies ask) returns the same id.
        self.simulator.needed_values = self._needed_values(plan)
        if turn > 0:
            entry = self._follow_up_entry()  # recorded for every later turn, followed up or not
            if plan.builds_on(self.dialogue.turns):
                entry["planned"].append(turn)
        hidden_max = self.settings.hidden_calls.max if self.settings.hidden_calls.enabled else 0
        plan.hidden = choose_hidden(plan, self.rng, hidden_max, explicit=self.context.write_tools)
        return plan

    def _follow_up_connections(self, chain: list[str]) -> list[str]:
        """Lines "$3.order_id -> cancel_order(order_id)": earlier turns' outputs that can feed an
        identifier of the chain ("that order"; a status copied into a filter is no follow-up),
        except into a tool an earlier turn already called with that parameter: a follow-up acts
        on what was found, and the same lookup again often repeats a call with the same value,
        which the assistant has the answer to."""
        # Not from a turn whose goal tool the assistant lacked: its calls may never have been made.
        declined = self.dialogue.unavailable_turns()
        earlier = [call for i, turn in enumerate(self.dialogue.turns) if i not in declined for call in turn.calls]
        lines = []
        for source in earlier:
            for edge in self.context.graph.edges_from(source.name):
                reference = edge.field.reference(source.id)
                made = any(c.name == edge.target and edge.parameter in c.arguments for c in earlier)
                line = f"- {reference} -> {edge.target}({edge.parameter})"
                if edge.target in chain and is_identifier(edge.parameter) and not made and line not in lines:
                    lines.append(line)
        return lines[:FOLLOW_UP_LISTED]

    def _follow_up_requested(self, turn: int) -> bool:
        """follow_up: whether turn ``turn`` must build on an earlier one (its own stream, so the
        share does not shift the plans' draws)."""
        share = self.settings.follow_up.share
        if turn == 0 or share <= 0:
            return False
        requested = random.Random(f"follow-up:{self.dialogue.seed}:{turn}").random() < share
        if requested:
            self._follow_up_entry()["requested"].append(turn)
        return requested

    def _follow_up_entry(self) -> dict[str, list[int]]:
        """``metadata.phenomena.follow_up``: the turns that had to build on an earlier one, and those that did."""
        return self.dialogue.phenomena.setdefault("follow_up", {"requested": [], "planned": []})

    def _next_id(self) -> int:
        used = [int(p.id[1:]) for p in self.dialogue.prior_calls]
        used += [int(c.id[1:]) for t in self.dialogue.turns for c in t.calls]
        return max(used, default=0) + 1

    async def plan(self, turn: int) -> TurnPlan:
        first_id = self._next_id()
        earlier = self._earlier_calls()
        follow_up = self._follow_up_requested(turn)
        problems: list[str] = []
        for attempt in range(PLAN_ATTEMPTS):
            if attempt % PLAN_ATTEMPTS_PER_CHAIN == 0:
                # A fresh chain of tools: a model that failed twice on one chain often keeps
                # making the same mistake on it (a field the tool does not return, say).
                chain, follow_ups = self._draw_chain(follow_up)
                # Constrained to the suggested tools: models cannot invent tool or parameter names.
                functions = [self.context.tools[name].openai_tool()["function"] for name in chain]
                # The scenario's minimum holds (a lone call has nothing to hide), unless the tool
                # graph offered a shorter chain, or the turn builds on an earlier one (the earlier
                # turn found what a lone call needs: "now cancel that order").
                min_calls = 1 if follow_ups else min(self.settings.plan_length.min, len(chain))
                reply_type = plan_reply_for(
                    functions,
                    self.settings.plan_length.max,
                    min_calls,
                    self.referable_paths(chain, earlier),
                    self.wired_paths(chain, earlier),
                )
                feedback = ""
            prompt = render(
                "planner/task",
                date=self.dialogue.date,
                persona=persona_text(self.dialogue.persona, with_facts=True),
                tools=self._tool_listing(chain),
                history=self._history_for_planner(),
                suggested=", ".join(chain),
                connections=self._connections(chain),
                min_calls=min_calls,
                max_calls=self.settings.plan_length.max,
                follow_up=render("planner/follow_up", connections="\n".join(follow_ups)) if follow_ups else "",
                feedback=feedback,
            )
            reply = await self.role.ask(render("planner/system", first_id=f"${first_id}"), prompt, reply_type)
            plan = _renumber(reply, first_id)
            if self.assist.repair_plans:
                plan = repair_references(plan, self.context.output_schemas, earlier, self.dialogue.facts)
            problems = plan_problems(
                plan, self.context.tools, self.context.output_schemas, earlier, self.settings.plan_length.max, min_calls
            )
            # Wishes for a better plan, kept until the last attempt: a plan without them beats a
            # failed dialogue (the 1.5B model copies "W-48213" from a description however told).
            if attempt < PLAN_ATTEMPTS - 1:
                problems += goal_problems(plan, self.context.tools)
                persona = self.dialogue.persona
                problems += voice_problems(plan.goal, persona.name if has_own_name(persona) else None)
                problems += copied_example_problems(plan, self.context.tools, self.dialogue.facts)
                if follow_ups and not plan.builds_on(self.dialogue.turns):
                    problems.append("this turn must follow up on an earlier turn: reference one of its calls' outputs")
            if not problems:
                return plan
            feedback = (
                "\nYour previous plan was rejected:\n- " + "\n- ".join(problems[:8]) + "\nWrite a corrected plan."
            )
        raise DialogueFailed(
            "planner",
            f"no valid plan after {PLAN_ATTEMPTS} attempts; last problems: {'; '.join(problems[:4])}",
            cause="InvalidPlan",
        )

    def _draw_chain(self, follow_up: bool) -> tuple[list[str], list[str]]:
        """A chain of tools about the persona's wish and, for a follow-up turn, the earlier turns'
        outputs that can feed it (chains are drawn again until one connects, a few times)."""
        length = self.rng.randint(self.settings.plan_length.min, self.settings.plan_length.max)
        persona = self.dialogue.persona
        topic = " ".join([persona.description, *persona.facts])  # fact names: "new_address"
        for _ in range(1 + FOLLOW_UP_DRAWS if follow_up else 1):
            chain = self.context.graph.sample_chain_about(self.rng, length, topic)
            follow_ups = self._follow_up_connections(chain) if follow_up else []
            if follow_ups:
                break
        return chain, follow_ups

    def referable_paths(self, chain: list[str], earlier: Mapping[str, str]) -> list[tuple[str, ...]] | None:
        """Output paths a plan's references may name: those of the chain's tools and of earlier
        calls. None (any path) where a tool's outputs are unknown."""
        paths: list[tuple[str, ...]] = []
        for name in {*chain, *earlier.values()}:
            fields = output_fields(self.context.output_schemas.get(name))
            if not fields:
                return None
            paths += [f.path for f in fields]
        return paths

    def wired_paths(self, chain: list[str], earlier: Mapping[str, str]) -> dict[str, dict[str, list[tuple[str, ...]]]]:
        """For each chain tool's parameter, the output paths the dataflow graph says can feed it
        (from the chain's tools or earlier calls' tools). A parameter the graph feeds only from
        tools outside those gets none: it must be a literal, not some unrelated field
        ("add_store_credit(order_id=$1.member_since)"). Parameters nothing feeds are left out."""
        sources = [*chain, *earlier.values()]
        wired: dict[str, dict[str, list[tuple[str, ...]]]] = {}
        for target in chain:
            for edge in self.context.graph.edges:
                if edge.target == target:
                    paths = wired.setdefault(target, {}).setdefault(edge.parameter, [])
                    if edge.source in sources:
                        paths.append(edge.field.path)
        return wired

    def _needed_fields(self, plan: TurnPlan) -> dict[str, list[tuple[str, ...]]]:
        """For each tool, the output paths this turn's plan takes values from."""
        tools = {**self._earlier_calls(), **{call.id: call.name for call in plan.calls}}
        needed: dict[str, list[tuple[str, ...]]] = {}
        for call in plan.calls:
            for _, ref in call.references():
                if ref.call in tools and ref.path not in needed.setdefault(tools[ref.call], []):
                    needed[tools[ref.call]].append(ref.path)
        return needed

    def _needed_values(self, plan: TurnPlan) -> dict[str, list[tuple[tuple[str, ...], Any]]]:
        """For each tool, (output path, value) for this turn's literal text arguments, and the
        values it takes from prior calls, that the tool's output supplies:
        "check_return_eligibility(item_id='LI-20931')" needs that item among get_order_details'
        items. A top-level argument follows the dataflow graph's edges; an id inside a list or
        object ("create_return(items=[{item_id: ...}])") is matched to other tools' output fields
        of the same name. Numbers are left alone: an amount the customer asks for is not the
        price the order lists, and the assistant's own choices (an enum member, a flag, a
        default) are not held to the plan anywhere. A value from a prior call goes only into
        top-level fields (the customer id a lookup returns): set inside a list item, it would
        sit beside that item's other fields, which say something else than the prior call did."""
        needed: dict[str, list[tuple[tuple[str, ...], Any]]] = {}
        known = {prior.id: prior.output for prior in self.dialogue.prior_calls}
        for call in plan.calls:
            for parameter, value in _known_from_before(call, known):
                for edge in self.context.graph.edges_into(call.name, parameter):
                    if len(edge.field.path) == 1 and (edge.field.path, value) not in needed.setdefault(edge.source, []):
                        needed[edge.source].append((edge.field.path, value))
            properties = self.context.tools[call.name].parameters.get("properties") or {}
            for parameter, literal in call.literals().items():
                if exempt(literal, properties.get(parameter) or {}):
                    continue  # the assistant's own choice (an enum member, a flag): nothing must hold it
                edges = self.context.graph.edges_into(call.name, parameter)
                for name, value in _named_texts(literal, parameter):
                    if isinstance(literal, str):
                        sources = [(edge.source, edge.field.path) for edge in edges]
                    elif name == "id" or name.endswith("_id"):
                        sources = [
                            (tool, found.path)
                            for tool, schema in self.context.output_schemas.items()
                            if tool != call.name
                            for found in output_fields(schema)
                            if found.name == name
                        ]
                    else:
                        sources = []
                    for tool, path in sources:
                        if (path, value) not in needed.setdefault(tool, []):
                            needed[tool].append((path, value))
        return needed

    def _earlier_calls(self) -> dict[str, str]:
        calls = {p.id: p.name for p in self.dialogue.prior_calls}
        calls.update({c.id: c.name for t in self.dialogue.turns for c in t.calls})
        return calls

    def _tool_listing(self, chain: list[str]) -> str:
        """The suggested tools only: shorter prompts, and small models stay on task."""
        lines = []
        for name in chain:
            tool = self.context.tools[name]
            outputs = [".".join(f.path) for f in output_fields(self.context.output_schemas.get(name))]
            lines.append(
                f"- {name}: {tool.description.strip() or '(no description)'}\n"
                f"  parameters: {json.dumps(tool.parameters, ensure_ascii=False)}\n"
                f"  output fields: {', '.join(outputs) or '(unknown)'}"
            )
        return "\n".join(lines)

    def _connections(self, chain: list[str]) -> str:
        edges = [e for e in self.context.graph.edges if e.source in chain and e.target in chain]
        lines = [f"- {e.source}.{'.'.join(e.field.path)} -> {e.target}({e.parameter})" for e in edges]
        return "\n".join(lines) or "(none: plan a single call or link them through earlier calls)"

    def _history_for_planner(self) -> str:
        lines = []
        for prior in self.dialogue.prior_calls:
            lines.append(
                f"{prior.id} = {prior.name}({_json(prior.arguments)}) -> {_json(prior.output)}"
                "  [before the conversation]"
            )
        for turn in self.dialogue.turns:
            for call in turn.calls:
                lines.append(f"{call.id} = {call.name}({_json(call.arguments)})  [earlier turn: {turn.goal}]")
        if not lines:
            return "No calls have been made yet."
        return "Calls that already happened (you may reference their outputs by id):\n" + "\n".join(lines)

    async def move_to_prior(self, plan: TurnPlan) -> TurnPlan:
        """Turn some upstream calls into calls that happened before the dialogue (shared state)."""
        moved = set(choose_hidden(plan, self.rng, self.settings.prior_calls.max))
        if not moved:
            return plan
        outputs: dict[str, Any] = {p.id: p.output for p in self.dialogue.prior_calls}
        known_as: dict[str, str] = {}  # a moved call's id -> the declared prior call it repeats
        for call in plan.calls:
            if call.id not in moved:
                continue
            arguments = _resolve(call.arguments, outputs)
            same = next((p for p in self.dialogue.prior_calls if (p.name, p.arguments) == (call.name, arguments)), None)
            if same is not None:
                # The scenario already says this call happened: one memory of it, with its output.
                known_as[call.id] = same.id
                outputs[call.id] = same.output
                continue
            output = await self.simulator.simulate(call.name, arguments)
            self.simulator.remember_prior(call.name, arguments, output)
            outputs[call.id] = output
            self.dialogue.prior_calls.append(PriorCall(id=call.id, name=call.name, arguments=arguments, output=output))
        kept = [c for c in plan.calls if c.id not in moved]
        return TurnPlan(goal=plan.goal, calls=[_with_references(c, known_as) for c in kept])


def _known_from_before(call: PlannedCall, outputs: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(parameter, text) for each argument of ``call`` that references a prior call's output."""
    for parameter, ref in call.references():
        try:
            value = ref.resolve(outputs[ref.call]) if ref.call in outputs else None
        except LookupError:
            continue
        if isinstance(value, str):
            yield parameter, value


def _named_texts(value: Any, name: str) -> Iterator[tuple[str, str]]:
    """(field name, text) for each text in an argument value, named by its nearest key."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _named_texts(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _named_texts(item, name)
    elif isinstance(value, str):
        yield name, value


def _with_references(call: PlannedCall, renamed: Mapping[str, str]) -> PlannedCall:
    """``call`` with its references to the calls in ``renamed`` pointing at their new ids."""

    def rewrite(value: Any) -> Any:
        ref = Reference.parse(value)
        if ref is not None and ref.call in renamed:
            return str(Reference(call=renamed[ref.call], path=ref.path))
        return value

    arguments = {k: rewrite(v) for k, v in call.arguments.items()}
    return PlannedCall(id=call.id, name=call.name, arguments=arguments)


def _renumber(reply: PlanReply, first_id: int) -> TurnPlan:
    """Give the plan's calls the next free ids, rewriting references to them.

    Planners often restart at ``$1``; renumbering (rather than rejecting) keeps good plans.
    The reply's own ids win over earlier ones it may have reused by mistake.
    """
    mapping: dict[str, str] = {}
    for offset, call in enumerate(reply.calls):
        mapping.setdefault(call.id, f"${first_id + offset}")
    calls = [
        _with_references(PlannedCall(id=f"${first_id + offset}", name=call.name, arguments=call.arguments), mapping)
        for offset, call in enumerate(reply.calls)
    ]
    return TurnPlan(goal=reply.goal, calls=calls)


def _resolve(arguments: Mapping[str, Any], outputs: Mapping[str, Any]) -> dict[str, Any]:
    resolved = {}
    for key, value in arguments.items():
        ref = Reference.parse(value)
        resolved[key] = ref.resolve(outputs[ref.call]) if ref is not None and ref.call in outputs else value
    return resolved


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
