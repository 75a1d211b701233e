"""Rules for the stateful-benchmark phenomena a scenario asks for (``generation``'s knobs):
prior state, injected mistakes, a value the user leaves out until asked, a tool the assistant
is not given, a user who changes their mind.

Each rule passes trivially when its phenomenon was not asked for. Occurrence (whether a
requested phenomenon really happened) is read with the same helpers, so a benchmark counts what
the rules check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rolecall.scenario import action_stems, word_stems
from rolecall.text import says_cannot
from rolecall.validators._evidence import CheckResult, DialogueEvidence, ToolCallView, check_outcome
from rolecall.validators._values import (
    content_text,
    grounded,
    is_identifier,
    name_pattern,
    norm,
    show,
    token_in,
)

# "I ran the order lookup tool", "we called the API": a user speaking of calls, not of memory.
_TOOL_TALK = re.compile(
    r"\b(?:i|we)\s+(?:called|ran|invoked|queried|executed)\s+(?:the\s+|a\s+|your\s+)?(?:[\w-]+\s+){0,3}"
    r"(?:tool|function|api|endpoint)\b",
    re.IGNORECASE,
)


def _is_injected(origin: dict[str, Any]) -> bool:
    return origin.get("origin") == "injected"


# -- prior state ----------------------------------------------------------------------------------


def _entities(value: Any) -> Iterator[tuple[tuple[str, Any], dict[str, Any]]]:
    """(own id, object) for every object in ``value`` (itself included) that names an entity: its
    first field is an id. ``{service, status, ticket_id}`` is a service that lists an open ticket,
    not the ticket: its status is the service's."""
    if isinstance(value, dict):
        own = next(iter(value.items()), None)
        if own is not None and is_identifier(own[0]) and isinstance(own[1], str | int):
            yield own, value
        for item in value.values():
            yield from _entities(item)
    elif isinstance(value, list):
        for item in value:
            yield from _entities(item)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _state_leaves(value: Any, schema: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, value) for the leaves of a result that state the world rather than describe it:
    ids (by their field's name) and members of a fixed vocabulary (an enum in the output
    schema: a status). Timestamps and prose may differ between two answers to the same query."""
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, item in value.items():
            child = properties.get(key) or {}
            if _scalar(item) and (is_identifier(key) or "enum" in child):
                yield (*path, key), item
            else:
                yield from _state_leaves(item, child, (*path, key))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _state_leaves(item, schema.get("items"), (*path, str(position)))


def prior_state_kept(evidence: DialogueEvidence) -> CheckResult:
    """No result contradicts a prior call's output on the same entity, and no user message speaks
    of a prior call as a call it made.

    An entity is an object whose first field is an id; two objects with the same own id (key and
    value) are the same entity, and a scalar field they share must agree. The very same call as a
    prior one (tool and arguments) must also give the same ids and statuses at the same places.
    Only results of reading tools (``Tool.effect``: ``x-readonly``, else the name's verb) before
    the dialogue's first write count: a write may change the state legitimately."""
    if not evidence.prior_calls:
        return check_outcome("prior_state_kept", [])
    known: list[tuple[str, tuple[str, Any], dict[str, Any]]] = []  # (prior call id, own id, entity)
    for prior in evidence.prior_calls:
        known += [(prior.id, own, entity) for own, entity in _entities(prior.output)]
    problems = []
    for view in evidence.tool_calls():
        tool = evidence.tools.get(view.name)
        if tool is None:
            continue  # not the scenario's tool (known_tools rejects it): not its state
        if tool.effect[0] == "write":
            break  # the first write: later state may differ from what was before the dialogue
        if view.fault is not None or not isinstance(view.result, dict | list):
            continue
        schema = evidence.output_schemas.get(view.name)
        for prior in evidence.prior_calls:
            if prior.name != view.name or prior.arguments != view.arguments:
                continue
            before_leaves = dict(_state_leaves(prior.output, schema))
            for path, value in _state_leaves(view.result, schema):
                if path in before_leaves and before_leaves[path] != value:
                    problems.append(
                        f"{view.call_id} {view.name}: {'.'.join(path)} {show(value)}, but the same call made "
                        f"before the dialogue ({prior.id}) said {show(before_leaves[path])}"
                    )
        for own, entity in _entities(view.result):
            for prior_id, before_own, before in known:
                if own != before_own:
                    continue
                for key, value in entity.items():
                    if key in before and _scalar(value) and _scalar(before[key]) and before[key] != value:
                        problems.append(
                            f"{view.call_id} {view.name}: {key} {show(value)} for {own[0]} {show(own[1])}, "
                            f"but prior call {prior_id} said {show(before[key])}"
                        )
    patterns = {prior.id: name_pattern(prior.name) for prior in evidence.prior_calls}
    for index, message in enumerate(evidence.messages):
        if message.get("role") != "user":
            continue
        text = content_text(message.get("content"))
        for prior in evidence.prior_calls:
            if patterns[prior.id].search(text):
                problems.append(f"message {index} names prior call {prior.id} {prior.name}")
        talk = _TOOL_TALK.search(text)
        if talk:
            problems.append(f"message {index} speaks of what it knows as a call: {show(talk.group())}")
    return check_outcome("prior_state_kept", problems)


# -- injected mistakes ------------------------------------------------------------------------------


def mistakes_corrected(evidence: DialogueEvidence) -> CheckResult:
    """Every injected wrong call is followed by a call of the same tool that the model made.

    This rule reads the dialogue with its injected messages; every other rule reads it without."""
    origins = evidence.provenance

    def injected(view: ToolCallView) -> bool:
        return view.position < len(origins) and _is_injected(origins[view.position])

    problems = []
    views = evidence.tool_calls()
    for at, view in enumerate(views):
        if injected(view) and not any(v.name == view.name and not injected(v) for v in views[at + 1 :]):
            problems.append(f"injected mistake {view.call_id} {view.name} is never followed by a right call")
    return check_outcome("mistakes_corrected", problems)


# -- a value left out until asked ---------------------------------------------------------------------


@dataclass(frozen=True)
class WithheldOutcome:
    """How a turn's withheld value fared: whether the phenomenon happened, and what went wrong."""

    turn: int
    tool: str
    value: str
    occurred: bool  # left out of the opening, asked for by the assistant, then given by the user
    problems: tuple[str, ...]


def _states(text: str, value: str) -> bool:
    return token_in(norm(value), norm(text))


def withheld_outcomes(evidence: DialogueEvidence) -> list[WithheldOutcome]:
    """Each withheld value (``phenomena.missing_parameter.withheld``) checked in its turn: no call of
    its tool before the user gives it (the value would be invented), and an assistant question
    before the user gives it. A value the opening states anyway did not occur, and is not a fault
    of the assistant."""
    entries = (evidence.phenomena.get("missing_parameter") or {}).get("withheld") or []
    starts = evidence.turn_starts
    messages = evidence.messages
    outcomes = []
    for entry in entries:
        turn, tool, value = int(entry["turn"]), str(entry["tool"]), str(entry["value"])
        if turn >= len(starts):
            continue  # the turn never opened
        start = starts[turn]
        end = starts[turn + 1] if turn + 1 < len(starts) else len(messages)
        if _states(content_text(messages[start].get("content")), value):
            outcomes.append(WithheldOutcome(turn, tool, value, False, ()))
            continue
        given = next(
            (
                i
                for i in range(start + 1, end)
                if messages[i].get("role") == "user" and _states(content_text(messages[i].get("content")), value)
            ),
            end,
        )
        problems = []
        early = [
            call.get("id", "")
            for message in messages[start:given]
            if message.get("role") == "assistant"
            for call in message.get("tool_calls") or []
            if (call.get("function") or {}).get("name") == tool
        ]
        if early:
            problems.append(f"{early[0]} {tool} was called before the user gave {show(value)}")
        asked = any(
            m.get("role") == "assistant" and "?" in content_text(m.get("content")) for m in messages[start + 1 : given]
        )
        if given < end and not asked:
            problems.append(f"the user gave {show(value)} (turn {turn + 1}) without being asked")
        occurred = given < end and asked
        outcomes.append(WithheldOutcome(turn, tool, value, occurred, tuple(problems)))
    return outcomes


def withheld_value_asked(evidence: DialogueEvidence) -> CheckResult:
    problems = [problem for outcome in withheld_outcomes(evidence) for problem in outcome.problems]
    return check_outcome("withheld_value_asked", problems)


# -- missing function -------------------------------------------------------------------------------


def turn_span(evidence: DialogueEvidence, turn: int) -> tuple[int, int] | None:
    """(first, end) message indexes of turn ``turn`` (0-based), or None when it was never played."""
    if not 0 <= turn < len(evidence.turn_starts):
        return None
    following = evidence.turn_starts[turn + 1] if turn + 1 < len(evidence.turn_starts) else len(evidence.messages)
    return evidence.turn_starts[turn], following


@dataclass(frozen=True)
class DeclineOutcome:
    """What the assistant did in a turn whose goal tool it was not given (missing_function)."""

    turn: int
    tool: str
    played: bool  # the turn was reached
    problems: tuple[str, ...]  # calls to the tool or in its place; a missing "I cannot"
    faulted: bool = False  # a call of the turn failed first: the turn ended on that, no decline needed

    @property
    def declined(self) -> bool:
        """The assistant said it cannot (not merely excused by a failure)."""
        return self.played and not self.problems and not self.faulted


def decline_outcomes(evidence: DialogueEvidence) -> list[DeclineOutcome]:
    outcomes = []
    for entry in (evidence.phenomena.get("missing_function") or {}).get("withheld") or []:
        turn, tool = int(entry.get("turn", -1)), str(entry.get("tool", ""))
        span = turn_span(evidence, turn)
        if span is None:
            outcomes.append(DeclineOutcome(turn, tool, False, ()))
            continue
        start, end = span
        planned = {call.name for call in evidence.turns[turn].calls} if turn < len(evidence.turns) else set()
        where = f"turn {turn + 1}"
        problems = []
        faulted = False
        for view in evidence.tool_calls():
            if not start <= view.position < end:
                continue
            faulted = faulted or view.fault is not None
            known = evidence.tools.get(view.name)
            if view.name == tool:
                problems.append(f"{view.call_id} calls {tool}, which the assistant was not given in {where}")
            elif known is not None and known.effect[0] == "write" and view.name not in planned:
                problems.append(f"{view.call_id} {view.name} changes state in place of {tool} in {where}")
        texts = [
            content_text(m.get("content"))
            for m in evidence.messages[start:end]
            if m.get("role") == "assistant" and not m.get("tool_calls") and content_text(m.get("content")).strip()
        ]
        last = texts[-1] if texts else ""
        said = says_cannot(last) and bool(action_stems(tool) & word_stems(last))
        if not said and not faulted:
            problems.append(f"{where}: the assistant's last message does not say it cannot do what {tool} does")
        outcomes.append(DeclineOutcome(turn, tool, True, tuple(problems), faulted and not said))
    return outcomes


def unavailable_tool_declined(evidence: DialogueEvidence) -> CheckResult:
    """In a turn whose goal tool the assistant was not given (missing_function), it neither calls
    that tool nor changes state in its place, and its last message of the turn says it cannot do
    that part (in words that name it: "I can't change the shipping address"), unless a call of
    the turn failed and the turn ended on that before it came to it."""
    problems = [problem for outcome in decline_outcomes(evidence) for problem in outcome.problems]
    return check_outcome("unavailable_tool_declined", problems)


# -- change of mind -----------------------------------------------------------------------------------


def _states_value(text: str, value: Any, parameter: str, schema: dict[str, Any]) -> bool:
    """Whether ``text`` states ``value`` for ``parameter``: as written, or an enum member in words
    ("store credit" for store_credit)."""
    if isinstance(value, bool):
        return True  # a flag is said in words of every kind ("no e-mail, please")
    said = [norm(text)]
    if isinstance(value, str) and grounded(value.replace("_", " "), said, [], schema, parameter):
        return True
    return grounded(value, said, [], schema, parameter)


def change_of_mind_followed(evidence: DialogueEvidence) -> CheckResult:
    """A user who changed their mind about a goal value (user_behaviours.change_of_mind) said the
    new value in that turn, and no call of the goal's tool in that turn still uses the old one.
    (The turn's plan holds the new value, so goal_calls_made checks that the call is made with it.)"""
    change = (evidence.phenomena.get("user_behaviours") or {}).get("change_of_mind")
    if not change or change.get("at") is None:
        return check_outcome("change_of_mind_followed", [])
    turn, tool, parameter = int(change["turn"]), str(change["tool"]), str(change["parameter"])
    span = turn_span(evidence, turn)
    if span is None:
        return check_outcome("change_of_mind_followed", [f"turn {turn + 1} was never played"])
    start, end = span
    known = evidence.tools.get(tool)
    schema = ((known.parameters.get("properties") or {}).get(parameter) or {}) if known else {}
    problems = []
    texts = [content_text(m.get("content")) for m in evidence.messages[start:end] if m.get("role") == "user"]
    if not any(_states_value(text, change["after"], parameter, schema) for text in texts):
        problems.append(f"turn {turn + 1}: no user message states the new {parameter} {show(change['after'])}")
    for view in evidence.tool_calls():
        arguments = view.arguments or {}
        if start <= view.position < end and view.name == tool and arguments.get(parameter) == change["before"]:
            problems.append(
                f"{view.call_id} {tool} uses {parameter}={show(change['before'])}, which the user changed to "
                f"{show(change['after'])}"
            )
    return check_outcome("change_of_mind_followed", problems)
