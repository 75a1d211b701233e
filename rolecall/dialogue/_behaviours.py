"""Difficult users (``generation.user_behaviours``): which behaviours a dialogue's user gets,
and the plan change a change of mind makes.

Tangents and impatience live in the user's prompt alone (``prompts/user/behaviour_*.md``). A
change of mind changes the turn's plan: one value of the goal call the user states (an enum
member, a number, a flag) becomes another, before that call is made, so the rules check the new
value. Identifiers are never changed: the lookups would no longer lead to them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from rolecall.planning import PlannedCall, Reference, TurnPlan
from rolecall.scenario import Tool, UserBehaviourSettings, value_validator
from rolecall.validators import is_identifier

CHANGE_OF_MIND = "change_of_mind"
TANGENT = "tangent"
IMPATIENT = "impatient"
BEHAVIOURS = (CHANGE_OF_MIND, TANGENT, IMPATIENT)
PROMPT_BEHAVIOURS = (TANGENT, IMPATIENT)  # the ones the user's system prompt describes


def draw_behaviours(settings: UserBehaviourSettings, rng: random.Random) -> list[str]:
    """The behaviours of one dialogue's user, each drawn with its share (one draw per behaviour
    whatever the shares, so one share does not shift the others' draws)."""
    draws = [(name, rng.random()) for name in BEHAVIOURS]
    return [name for name, draw in draws if draw < getattr(settings, name)]


@dataclass(frozen=True)
class ChangeOfMind:
    """One value of a turn's goal call the user changes: ``before`` becomes ``after``."""

    call: PlannedCall
    parameter: str
    before: Any
    after: Any

    @property
    def label(self) -> str:
        return self.parameter.replace("_", " ")

    @property
    def words(self) -> dict[str, str]:
        """The change as the user's prompt states it: label, before, after."""
        return {"label": self.label, "before": _shown(self.before), "after": _shown(self.after)}

    def applied(self, plan: TurnPlan) -> TurnPlan:
        """``plan`` with the new value (the goal's words stay: the user's prompt states the change)."""
        calls = [
            call.model_copy(update={"arguments": {**call.arguments, self.parameter: self.after}})
            if call.id == self.call.id
            else call
            for call in plan.calls
        ]
        return plan.model_copy(update={"calls": calls})

    def as_record(self, turn: int) -> dict[str, Any]:
        return {
            "turn": turn,
            "call": self.call.id,
            "tool": self.call.name,
            "parameter": self.parameter,
            "before": self.before,
            "after": self.after,
            "at": None,  # the index of the user message that says it, once said
        }


def plan_change(plan: TurnPlan, tools: dict[str, Tool], rng: random.Random) -> ChangeOfMind | None:
    """A change of one top-level literal of the goal call (the plan's last) the user can change
    its mind about: an enum member, a number, a flag; never an identifier. None when the call has
    none."""
    goal = plan.calls[-1]
    properties = tools[goal.name].parameters.get("properties") or {}
    options = []
    for parameter, value in goal.arguments.items():
        schema = properties.get(parameter)
        if not isinstance(schema, dict) or Reference.parse(value) is not None or is_identifier(parameter):
            continue
        after = _other_value(value, schema, rng)
        if after is not None:
            options.append(ChangeOfMind(goal, parameter, value, after))
    return rng.choice(options) if options else None


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _other_value(value: Any, schema: dict[str, Any], rng: random.Random) -> Any:
    """A different valid value of the same kind, or None."""
    enum = schema.get("enum")
    if isinstance(enum, list):
        others = [item for item in enum if item != value]
        return rng.choice(others) if value in enum and others else None
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        half = value // 2 if isinstance(value, int) else round(value / 2, 2)
        candidates = [value * 2, half, value + 1, value - 1]
        valid = value_validator(schema)
        fitting = [c for c in candidates if c != value and (value <= 0 or c > 0) and valid.is_valid(c)]
        return rng.choice(fitting) if fitting else None
    return None
