"""Output records: one JSON object per line, in the OpenAI chat format plus metadata."""

from __future__ import annotations

from typing import Any

from rolecall.agents import Usage
from rolecall.dialogue import Dialogue
from rolecall.scenario import LoadedScenario


def record_id(scenario: LoadedScenario, index: int) -> str:
    return f"{scenario.name}-{index:05d}"


def total_usage(usage: dict[str, Usage]) -> Usage:
    total = Usage()
    for item in usage.values():
        total.add(item)
    return total


def _usage_block(usage: dict[str, Usage]) -> dict[str, Any]:
    return {"total": total_usage(usage).as_dict(), "by_role": {role: u.as_dict() for role, u in usage.items()}}


def dialogue_metadata(dialogue: Dialogue) -> dict[str, Any]:
    return {
        "index": dialogue.index,
        "seed": dialogue.seed,
        "persona": dialogue.persona.model_dump(mode="json"),
        "date": dialogue.date,
        "facts": dialogue.facts,
        "plan": {"turns": [turn.model_dump(mode="json") for turn in dialogue.turns]},
        "hidden_calls": [call_id for turn in dialogue.turns for call_id in turn.hidden],
        "disclosure": dialogue.disclosure,
        "turn_starts": dialogue.turn_starts,
        "phenomena": dialogue.phenomena,
        "prior_calls": [call.model_dump(mode="json") for call in dialogue.prior_calls],
        "end_reason": dialogue.end_reason,
        "faults": dialogue.faults,
        "usage": _usage_block(dialogue.usage),
        # Index-aligned with "messages": who wrote each one (model, or code: scripted, appended...).
        "provenance": dialogue.provenance,
    }


def dialogue_record(
    scenario: LoadedScenario, dialogue: Dialogue, validation: dict[str, Any], assist: dict[str, Any]
) -> dict[str, Any]:
    """An accepted or rejected dialogue; ``validation`` holds the checks and the judge's votes,
    ``assist`` the aids that were on."""
    return {
        "id": record_id(scenario, dialogue.index),
        "scenario": scenario.name,
        "messages": dialogue.messages,
        "tools": [tool.openai_tool() for tool in scenario.tools],
        "metadata": {**dialogue_metadata(dialogue), "assist": assist, "validation": validation},
    }


def failed_record(
    scenario: LoadedScenario, index: int, error_class: str, message: str, role: str | None, dialogue: Dialogue | None
) -> dict[str, Any]:
    """A dialogue that could not be produced, with whatever it had got to."""
    metadata: dict[str, Any] = dialogue_metadata(dialogue) if dialogue else {"index": index}
    metadata["error"] = {"class": error_class, "role": role, "message": message}
    return {
        "id": record_id(scenario, index),
        "scenario": scenario.name,
        "messages": dialogue.messages if dialogue else [],
        "tools": [tool.openai_tool() for tool in scenario.tools],
        "metadata": metadata,
    }
