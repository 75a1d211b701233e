"""Difficult users: the behaviours drawn per dialogue, and the plan change a change of mind makes."""

from __future__ import annotations

import random

import pytest

from rolecall.dialogue._behaviours import BEHAVIOURS, draw_behaviours, plan_change
from rolecall.planning import PlannedCall, TurnPlan
from rolecall.scenario import Tool, UserBehaviourSettings

REFUND = Tool(
    "issue_refund",
    "Refund part of an order.",
    {
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "amount_cents": {"type": "integer", "minimum": 1, "maximum": 5000},
            "reason": {"type": "string", "enum": ["damaged", "late", "other"]},
            "notify": {"type": "boolean"},
            "note": {"type": "string"},
        },
    },
    {"type": "object"},
)
TOOLS = {REFUND.name: REFUND}


def _plan(**arguments: object) -> TurnPlan:
    return TurnPlan(goal="Refund me", calls=[PlannedCall(id="$1", name=REFUND.name, arguments=dict(arguments))])


def test_each_behaviour_is_drawn_with_its_share_and_none_at_zero() -> None:
    rng = random.Random(1)
    settings = UserBehaviourSettings(change_of_mind=0.25, tangent=1.0, impatient=0.0)
    draws = [draw_behaviours(settings, rng) for _ in range(400)]
    assert all("tangent" in drawn and "impatient" not in drawn for drawn in draws)
    assert 60 <= sum("change_of_mind" in drawn for drawn in draws) <= 140
    assert draw_behaviours(UserBehaviourSettings(), rng) == [] and len(BEHAVIOURS) == 3


@pytest.mark.parametrize(
    ("arguments", "parameter", "allowed"),
    [
        ({"order_id": "$0.order_id", "reason": "late"}, "reason", {"damaged", "other"}),
        ({"order_id": "O-1", "amount_cents": 5000}, "amount_cents", {2500, 4999}),  # 10000 and 5001 break the maximum
        ({"order_id": "O-1", "notify": True}, "notify", {False}),
    ],
)
def test_a_change_takes_another_valid_value_of_the_same_kind(
    arguments: dict[str, object], parameter: str, allowed: set[object]
) -> None:
    plan = _plan(**arguments)
    for seed in range(10):
        change = plan_change(plan, TOOLS, random.Random(seed))
        assert change is not None and change.parameter == parameter
        assert change.before == arguments[parameter] and change.after in allowed
        changed = change.applied(plan)
        assert changed.calls[0].arguments[parameter] == change.after and changed.goal == plan.goal
        assert plan.calls[0].arguments[parameter] == arguments[parameter]  # the original is untouched


def test_identifiers_references_and_free_text_are_never_changed() -> None:
    assert plan_change(_plan(order_id="O-1", note="please hurry"), TOOLS, random.Random(0)) is None
    assert plan_change(_plan(order_id="$3.order_id"), TOOLS, random.Random(0)) is None
