"""One dialogue: the session loop, the planner's step, the simulated user and the tool simulator."""

from rolecall.dialogue._planner import PLAN_ATTEMPTS, TurnPlanner
from rolecall.dialogue._session import NO_PROGRESS_REPLIES, simulate_dialogue
from rolecall.dialogue._tools import (
    ToolSimulationFailed,
    ToolSimulator,
    error_result,
    repair,
    schema_errors,
    with_listed_value,
    with_value_at,
)
from rolecall.dialogue._types import (
    ACCEPTABLE_ENDINGS,
    Dialogue,
    DialogueFailed,
    EndReason,
    RunContext,
    dialogue_seed,
)
from rolecall.dialogue._user import ON_REQUEST, UPFRONT, TurnUserSimulator

__all__ = [
    "ACCEPTABLE_ENDINGS",
    "NO_PROGRESS_REPLIES",
    "ON_REQUEST",
    "PLAN_ATTEMPTS",
    "UPFRONT",
    "Dialogue",
    "DialogueFailed",
    "EndReason",
    "RunContext",
    "ToolSimulationFailed",
    "ToolSimulator",
    "TurnPlanner",
    "TurnUserSimulator",
    "dialogue_seed",
    "error_result",
    "repair",
    "schema_errors",
    "simulate_dialogue",
    "with_listed_value",
    "with_value_at",
]
