"""Checks on a proposed turn plan, and the choice of its hidden (implicit) calls."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any

from rolecall.planning._graph import compatible, schema_at
from rolecall.planning._plan import PlannedCall, TurnPlan, literal_values
from rolecall.scenario import (
    Tool,
    action_stems,
    name_words,
    names_other_thing,
    unasked_write,
    value_validator,
    word_stems,
)
from rolecall.text import topic_stems


def plan_problems(
    plan: TurnPlan,
    tools: Mapping[str, Tool],
    output_schemas: Mapping[str, Mapping[str, Any]],
    earlier_calls: Mapping[str, str],
    max_calls: int,
    min_calls: int = 1,
) -> list[str]:
    """Why ``plan`` is unusable; empty when it is fine.

    ``earlier_calls`` maps ids of calls from earlier turns and prior calls to their tool names:
    references may point at those too. (What makes a usable plan a poor one, a goal sentence about
    another action or a value copied from an example, is :func:`goal_problems` and
    :func:`copied_example_problems`.)
    """
    problems: list[str] = []
    if not plan.calls:
        return ["the plan has no calls"]
    if len(plan.calls) > max_calls:
        problems.append(f"the plan has {len(plan.calls)} calls, more than {max_calls}")
    if len(plan.calls) < min_calls:
        problems.append(f"the plan has {len(plan.calls)} call(s), fewer than {min_calls}")
    seen_ids: dict[str, str] = dict(earlier_calls)
    signatures: set[str] = set()
    for call in plan.calls:
        where = f"{call.id} {call.name}"
        if call.id in seen_ids:
            problems.append(f"{where}: id {call.id} is already used")
        tool = tools.get(call.name)
        if tool is None:
            problems.append(f"{where}: unknown tool {call.name!r}")
            seen_ids[call.id] = call.name
            continue
        problems.extend(_argument_problems(call, tool, where))
        for parameter, ref in call.references():
            source = seen_ids.get(ref.call)
            field = schema_at(output_schemas.get(source), ref.path) if source else None
            wanted = (tool.parameters.get("properties") or {}).get(parameter)
            field_name = _field_name(ref.path)
            if source is None:
                problems.append(f"{where}: {parameter} refers to {ref.call}, which is not an earlier call")
            elif field is None:
                problems.append(
                    f"{where}: {parameter} refers to {ref}, but {source} has no output field {'.'.join(ref.path)}"
                )
            elif isinstance(wanted, Mapping) and field and not compatible(field, wanted):
                problems.append(f"{where}: {parameter} cannot take {ref}: its values do not fit the parameter's schema")
            elif names_other_thing(field_name, parameter):
                problems.append(f"{where}: {parameter} cannot take {ref}: a {field_name} is not a {parameter}")
        signature = json.dumps([call.name, call.arguments], sort_keys=True)
        if signature in signatures:
            problems.append(f"{where}: duplicates an earlier call")
        signatures.add(signature)
        seen_ids[call.id] = call.name
    problems.extend(_connectivity_problems(plan))
    unknown_hidden = set(plan.hidden) - {call.id for call in plan.calls}
    if unknown_hidden:
        problems.append(f"hidden ids {sorted(unknown_hidden)} are not calls of this plan")
    return problems


# A value worth telling apart: it holds a digit or an @ ("W-48213", "priya@example.com", "SKU-1").
_EXAMPLE_VALUE = re.compile(r"[\w.+-]*[\d@][\w.@+-]*\w")


def example_values(tools: Mapping[str, Tool]) -> set[str]:
    """The ids, numbers and e-mails written in the tools' descriptions (their own and their
    parameters'): examples such as "e.g. W-48213", which a plan must not copy."""
    texts = []
    for tool in tools.values():
        texts.append(tool.description)
        texts += [str(s.get("description", "")) for s in (tool.parameters.get("properties") or {}).values()]
    return set(_examples_in(tuple(texts)))


@lru_cache(maxsize=64)  # the same descriptions for every plan of a scenario
def _examples_in(texts: tuple[str, ...]) -> frozenset[str]:
    return frozenset(match.group() for text in texts for match in _EXAMPLE_VALUE.finditer(text))


def copied_example_problems(plan: TurnPlan, tools: Mapping[str, Tool], facts: Mapping[str, Any]) -> list[str]:
    """Literal arguments copied from an example in the tool descriptions, unless the user's own
    details hold them: every dialogue would otherwise be about order W-48213."""
    examples = example_values(tools) - {str(value) for value in literal_values(dict(facts))}
    problems = []
    for call in plan.calls:
        for parameter, value in call.literals().items():
            copied = sorted({str(v) for v in literal_values(value) if isinstance(v, str)} & examples)
            problems += [
                f"{call.id} {call.name}: {parameter}={text!r} is an example from the tool descriptions, not the "
                "user's: use the user's own details, or a fresh value"
                for text in copied
            ]
    return problems


# "The user wants ...", "A customer needs ...", "... to the customer's account": a goal about the
# user, not in their words.
_THE_USER = r"(?:the|a|this)\s+(?:user|customer|client|employee|traveller|traveler)"
_ABOUT_THE_USER = re.compile(rf"^\W*(?:to\s+)?{_THE_USER}\b|\b{_THE_USER}'s\b", re.I)


def voice_problems(goal: str, persona_name: str | None) -> list[str]:
    """A goal written about the user instead of in their words: "Tomasz Nowak wants a refund",
    "add store credit to Priya's account", "The user wants to cancel ...". The user role says
    the goal to the agent, and the 1.5B user copies it, speaking of itself in the third person.
    ``persona_name``: None for a persona without a name of its own."""
    names = re.findall(r"[^\W\d_]{2,}", persona_name or "")
    named = next((name for name in names if re.search(rf"\b{re.escape(name)}\b", goal)), None)
    if named is None and not _ABOUT_THE_USER.search(goal):
        return []
    about = repr(named) if named else "'the user'"
    return [
        f"the goal speaks of the user ({about}): write it as the user says it, in the first person ('I want', 'my')"
    ]


def distinctive_stems(tools: Mapping[str, Tool]) -> dict[str, set[str]]:
    """Per tool, the stems of the words saying what it does that no other tool's name shares:
    "refun" for issue_refund, "shipp" and "addre" for update_shipping_address; "order" says
    nothing in a shop whose every tool handles orders."""
    stems = {name: action_stems(name) for name in tools}
    return {name: own - set().union(*(s for other, s in stems.items() if other != name)) for name, own in stems.items()}


def goal_problems(plan: TurnPlan, tools: Mapping[str, Tool]) -> list[str]:
    """A goal sentence that does not say what the plan's state changes are: the user asks for the
    goal, so the request would not ask for them, and an assistant should not make them unasked.

    Two ways. A planned state-changing call the goal does not ask for, read as the
    ``no_unplanned_writes`` check reads the user's words (:func:`rolecall.scenario.unasked_write`):
    "cancel my trip" over ``send_itinerary`` and ``cancel_booking``, or "what is happening with my
    VPN" over ``create_ticket``. And a goal that names a state change none of the plan's calls
    makes ("issue a refund" over a lookup and get_order_details): the user would ask for the
    refund, not for what was planned. A tool's action counts as named when every one of its
    distinctive stems is in the goal ("request", "trip" and "approval" for request_trip_approval);
    a goal that names one of its own calls' actions is kept whatever else it says ("cancel it and
    refund me")."""
    writes = {name: action_stems(name) for name, tool in tools.items() if tool.effect[0] == "write"}
    asked = word_stems(plan.goal)
    for call in plan.calls:
        why = unasked_write(call.name, writes, asked) if call.name in writes else None
        if why is not None:
            words = ", ".join(word for word in name_words(call.name) if word[:5] in writes[call.name])
            return [
                f"the goal does not ask for what {call.id} {call.name} does ({why or words}): say it in the "
                "goal, or leave the call out"
            ]
    said = topic_stems(plan.goal)
    distinctive = distinctive_stems(tools)
    planned = {call.name for call in plan.calls}
    if any(distinctive.get(name, set()) & said for name in planned):
        return []
    named = [
        name
        for name, tool in sorted(tools.items())
        if name not in planned and tool.effect[0] == "write" and distinctive[name] and distinctive[name] <= said
    ]
    if not named:
        return []
    words = ", ".join(sorted(distinctive[named[0]]))
    return [f"the goal names what {named[0]} does ({words}...), which no call of the plan does: say what the calls do"]


def repair_references(
    plan: TurnPlan,
    output_schemas: Mapping[str, Mapping[str, Any]],
    earlier_calls: Mapping[str, str],
    facts: Mapping[str, Any],
) -> TurnPlan:
    """``plan`` with references to a field their call does not return pointed where it can be.

    Small planners get the field right and the call wrong: "find_booking_by_locator(
    last_name=$1.last_name)" where $1 is find_traveler_by_email, "$3.trips.0.booking_id" where
    $3 is send_itinerary. Such a reference moves to the nearest earlier call whose tool returns
    that field; if none does and the user's facts hold the value under the parameter's or the
    field's name, it becomes that literal.

    They also take a value from the wrong field: "last_name=$2.trips.0.destination_city",
    "order_id=$1.member_since". A reference to a field that plainly names something else than
    its parameter moves to an earlier call returning a field of the parameter's own name, or
    becomes the user's fact of that name. Anything else is left for :func:`plan_problems`.
    """
    seen: dict[str, str] = dict(earlier_calls)
    calls: list[PlannedCall] = []
    for call in plan.calls:
        arguments = dict(call.arguments)
        for parameter, ref in call.references():
            source = seen.get(ref.call)
            related = not names_other_thing(_field_name(ref.path), parameter)
            if related and source is not None and schema_at(output_schemas.get(source), ref.path) is not None:
                continue
            path = ref.path if related else (parameter,)
            returning = [
                call_id for call_id, name in seen.items() if schema_at(output_schemas.get(name), path) is not None
            ]
            fact_names = [parameter, ref.path[-1]] if related else [parameter]
            known = [name for name in fact_names if name in facts]
            if returning:
                arguments[parameter] = f"{returning[-1]}.{'.'.join(path)}"
            elif known:
                arguments[parameter] = facts[known[0]]
        calls.append(call.model_copy(update={"arguments": arguments}))
        seen[call.id] = call.name
    return plan.model_copy(update={"calls": calls})


def _field_name(path: tuple[str, ...] | list[str]) -> str:
    """The name a reference's value has: its last step that is not a list index."""
    return next((part for part in reversed(path) if not part.isdigit()), "")


def _argument_problems(call: PlannedCall, tool: Tool, where: str) -> list[str]:
    properties = tool.parameters.get("properties") or {}
    problems = [
        f"{where}: parameter {name!r} is not declared by the tool" for name in call.arguments if name not in properties
    ]
    # References are checked against output schemas; validate the literals alone here.
    referenced = {name for name, _ in call.references()}
    schema = dict(tool.parameters)
    if referenced:
        schema["required"] = [r for r in schema.get("required", []) if r not in referenced]
        schema["properties"] = {k: v for k, v in properties.items() if k not in referenced}
    literals = call.literals()
    for error in value_validator(schema).iter_errors(literals):
        path = ".".join(str(p) for p in error.absolute_path)
        problems.append(f"{where}: arguments{'.' + path if path else ''}: {error.message}")
    return problems


def _connectivity_problems(plan: TurnPlan) -> list[str]:
    """Every call must be linked to the others by references (a plan is one task, not a list)."""
    if len(plan.calls) < 2:
        return []
    ids = {call.id for call in plan.calls}
    neighbours: dict[str, set[str]] = {call.id: set() for call in plan.calls}
    for call in plan.calls:
        for source in call.depends_on() & ids:
            neighbours[call.id].add(source)
            neighbours[source].add(call.id)
    reached = {plan.calls[0].id}
    frontier = [plan.calls[0].id]
    while frontier:
        for other in neighbours[frontier.pop()]:
            if other not in reached:
                reached.add(other)
                frontier.append(other)
    missing = [call.id for call in plan.calls if call.id not in reached]
    return [f"calls {missing} are not connected to the rest of the plan by references"] if missing else []


def choose_hidden(
    plan: TurnPlan, rng: random.Random, max_hidden: int, explicit: Collection[str] = frozenset()
) -> list[str]:
    """An upstream-closed set of producer calls to keep implicit.

    A call may be hidden only if it feeds a later call of this turn (final goal calls are
    never hidden) and every call of this turn it depends on is hidden too: the user cannot
    state a value that only a hidden call produces, so what follows it must be discovered.
    Calls of the tools in ``explicit`` are never hidden (the session passes the state-changing
    ones: a user who never asks for a ticket does not want one opened).
    """
    if max_hidden <= 0:
        return []
    ids = [call.id for call in plan.calls]
    may_hide = {call.id for call in plan.calls if call.name not in explicit}
    producers = {source for call in plan.calls for source in call.depends_on() if source in may_hide}
    if not producers:
        return []
    target = rng.randint(1, min(max_hidden, len(producers)))
    hidden: list[str] = []
    while len(hidden) < target:
        eligible = [
            call.id
            for call in plan.calls
            if call.id in producers and call.id not in hidden and (call.depends_on() & set(ids)) <= set(hidden)
        ]
        if not eligible:
            break
        hidden.append(rng.choice(eligible))
    return [call_id for call_id in ids if call_id in hidden]
