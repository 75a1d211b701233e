"""How the planned calls map onto the calls actually made: the base of the plan checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rolecall.planning import PlannedCall, PriorCall
from rolecall.scenario import value_validator
from rolecall.validators._evidence import INVALID_ARGUMENTS, DialogueEvidence, ToolCallView
from rolecall.validators._values import exempt, is_prose, same, show


def planned_calls(evidence: DialogueEvidence) -> list[PlannedCall]:
    return [call for turn in evidence.turns for call in turn.calls]


@dataclass
class PlanMatch:
    """How the planned calls map onto the calls actually made (indexes into ``calls``)."""

    calls: list[ToolCallView]
    matches: dict[str, list[int]] = field(default_factory=dict)  # planned id -> every matching call
    made: dict[str, int] = field(default_factory=dict)  # planned id -> the match whose result feeds references
    faulted: dict[str, int] = field(default_factory=dict)  # planned id -> a match; every match got a fault
    blocked: dict[str, str] = field(default_factory=dict)  # planned id -> the upstream fault that prevented it
    missing: dict[str, str] = field(default_factory=dict)  # planned id -> why no call matched

    def status(self, call: PlannedCall) -> tuple[str | None, str]:
        """(problem, note) for one planned call: a note when a fault excuses it."""
        where = f"{call.id} {call.name}"
        if call.id in self.missing:
            return f"{where}: {self.missing[call.id]}", ""
        if call.id in self.faulted:
            view = self.calls[self.faulted[call.id]]
            return None, f"{where} got fault {view.fault} ({view.call_id})"
        if call.id in self.blocked:
            return None, f"{where} could not be made: {self.blocked[call.id]}"
        return None, ""


def unavailable_calls(evidence: DialogueEvidence) -> dict[str, str]:
    """Planned call id -> why it need not be made: its turn's goal tool was not offered to the
    assistant (missing_function), so the turn's calls are there only if the assistant chose them."""
    excused: dict[str, str] = {}
    for entry in (evidence.phenomena.get("missing_function") or {}).get("withheld") or []:
        turn = entry.get("turn")
        if isinstance(turn, int) and 0 <= turn < len(evidence.turns):
            for call in evidence.turns[turn].calls:
                excused[call.id] = f"{entry.get('tool')} was not offered in turn {turn + 1}"
    return excused


def match_plan(evidence: DialogueEvidence) -> PlanMatch:
    match = PlanMatch(evidence.tool_calls())
    excused = unavailable_calls(evidence)
    outputs: dict[str, Any] = {prior.id: prior.output for prior in evidence.prior_calls}
    for planned in planned_calls(evidence):  # references only point backwards, so one pass suffices
        expected = planned.literals()
        for argument, ref in planned.references():
            if ref.call in match.faulted:
                view = match.calls[match.faulted[ref.call]]
                match.blocked[planned.id] = f"{ref.call} got fault {view.fault} ({view.call_id})"
            elif ref.call in match.blocked:
                match.blocked[planned.id] = match.blocked[ref.call]
            elif ref.call not in outputs:
                match.missing.setdefault(planned.id, f"{argument} needs {ref.call}, which was never made")
            else:
                try:
                    expected[argument] = ref.resolve(outputs[ref.call])
                except LookupError:
                    match.missing.setdefault(planned.id, f"{argument}: {ref} is not in the actual result")
        if planned.id in match.missing and planned.id in excused:
            match.blocked[planned.id] = excused.pop(planned.id)
        if planned.id in match.blocked:
            match.missing.pop(planned.id, None)
            continue
        if planned.id in match.missing:
            continue
        tool = evidence.tools.get(planned.name)
        properties = (tool.parameters.get("properties") or {}) if tool else {}
        found = [
            index
            for index, view in enumerate(match.calls)
            if view.name == planned.name
            and view.arguments is not None
            and all(
                key in view.arguments and matches(value, view.arguments[key], properties.get(key) or {})
                for key, value in expected.items()
            )
        ]
        if not found and planned.id in excused:
            match.blocked[planned.id] = excused[planned.id]
            continue
        relookup = None if found else _failed_relookup(planned, evidence.prior_calls, match.calls)
        if relookup:
            match.blocked[planned.id] = relookup
            continue
        if not found:
            match.missing[planned.id] = why_unmatched(planned.name, expected, match.calls, properties)
            continue
        match.matches[planned.id] = found
        usable = [index for index in found if match.calls[index].fault is None]
        if usable:
            match.made[planned.id] = usable[0]
            outputs[planned.id] = match.calls[usable[0]].result
        else:
            match.faulted[planned.id] = found[0]
    return match


def _failed_relookup(planned: PlannedCall, prior_calls: Sequence[PriorCall], calls: list[ToolCallView]) -> str:
    """Why ``planned``, never made, could not be: a value it takes from a prior call was looked up
    again in the dialogue (with that prior call's tool; identifying the customer first is what
    policies ask) and every such lookup got an injected fault. Arguments that broke the tool's
    schema are the assistant's own mistake and excuse nothing. '' when nothing excuses it."""
    tools = {prior.id: prior.name for prior in prior_calls}
    for _argument, ref in planned.references():
        again = [view for view in calls if view.name == tools.get(ref.call)]
        if again and all(view.fault not in (None, INVALID_ARGUMENTS) for view in again):
            view = again[0]
            return f"{view.call_id} {view.name}, looking up again what {ref.call} found, got fault {view.fault}"
    return ""


def matches(expected: Any, actual: Any, schema: Mapping[str, Any]) -> bool:
    """A made call's argument against the plan's: equal; for prose, any prose of the assistant's
    own (whether it is grounded is rule ``arguments_grounded``'s question); for a value the
    assistant may choose itself (an enum member, a flag, a default), any valid choice: the user is
    never asked to state those, so the plan cannot hold the assistant to one."""
    if is_prose(expected, schema):
        return isinstance(actual, str) and bool(actual.strip())
    if same(expected, actual):
        return True
    return exempt(expected, schema) and bool(schema) and value_validator(schema).is_valid(actual)


def why_unmatched(name: str, expected: dict[str, Any], calls: list[ToolCallView], properties: Mapping[str, Any]) -> str:
    same_name = [view for view in calls if view.name == name and view.arguments is not None]
    if not same_name:
        return "no such call was made"
    # Naming the first near miss tells the reader which argument went wrong.
    view, arguments = same_name[0], same_name[0].arguments or {}
    for key, value in expected.items():
        if key not in arguments:
            return f"no call with {key}={show(value)} ({view.call_id} omits {key})"
        if not matches(value, arguments[key], properties.get(key) or {}):
            return f"no call with {key}={show(value)} ({view.call_id} has {show(arguments[key])})"
    return "no matching call"
