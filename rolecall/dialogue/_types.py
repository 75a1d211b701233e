"""What a dialogue is while it is played: its messages, who wrote each one, how it ended."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from typing import Any

from rolecall.agents import Usage
from rolecall.assist import AssistPolicy
from rolecall.planning import DataflowGraph, PriorCall, TurnPlan
from rolecall.scenario import LoadedScenario, Persona, Tool


class EndReason(enum.StrEnum):
    """How a dialogue ended. Only ``COMPLETED`` and ``GAVE_UP_AFTER_FAULT`` can be accepted: the
    user got what it asked for, or an injected fault made it impossible and the user let go.
    Every other ending (a stall, a bound) means the dialogue went wrong."""

    COMPLETED = "completed"
    GAVE_UP_AFTER_FAULT = "gave_up_after_fault"
    USER_GAVE_UP = "user_gave_up"
    NO_PROGRESS = "no_progress"
    STALLED_USER_REPEATING = "stalled_user_repeating"
    STALLED_REPEATED_CALL = "stalled_repeated_call"
    MESSAGE_LIMIT = "message_limit"
    TOOL_CALL_LIMIT = "tool_call_limit"


ACCEPTABLE_ENDINGS = frozenset({EndReason.COMPLETED, EndReason.GAVE_UP_AFTER_FAULT})


@dataclass
class RunContext:
    """What every dialogue of a run shares (picklable: it travels to workers)."""

    scenario: LoadedScenario
    output_schemas: dict[str, dict[str, Any]]
    graph: DataflowGraph
    seed: int
    assist: AssistPolicy = field(default_factory=AssistPolicy.off)

    @property
    def tools(self) -> dict[str, Tool]:
        return {tool.name: tool for tool in self.scenario.tools}

    @property
    def write_tools(self) -> frozenset[str]:
        """The state-changing tools (declared ``x-readonly: false`` or inferred from the name)."""
        return frozenset(tool.name for tool in self.scenario.tools if tool.effect[0] == "write")


class DialogueFailed(Exception):
    """The dialogue could not be produced (a role kept failing); it is recorded as failed."""

    def __init__(self, role: str, reason: str, dialogue: Dialogue | None = None, cause: str = ""):
        self.role = role
        self.reason = reason
        self.dialogue = dialogue
        self.cause = cause  # the underlying error's class, for the manifest's failure classes
        super().__init__(f"{role}: {reason}")


@dataclass
class Dialogue:
    """A dialogue in progress or finished; everything the records and the validator need."""

    index: int
    seed: int
    persona: Persona
    date: str
    facts: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    provenance: list[dict[str, Any]] = field(default_factory=list)  # one entry per message
    turns: list[TurnPlan] = field(default_factory=list)
    disclosure: list[str] = field(default_factory=list)  # per turn: upfront / on_request / missing_parameter
    turn_starts: list[int] = field(default_factory=list)  # per turn: index of its opening user message
    # What the generation knobs asked of this dialogue and what was done: prior_state,
    # error_recovery, missing_parameter (``metadata.phenomena`` in the record).
    phenomena: dict[str, Any] = field(default_factory=dict)
    prior_calls: list[PriorCall] = field(default_factory=list)
    end_reason: str = ""
    faults: dict[str, str] = field(default_factory=dict)
    usage: dict[str, Usage] = field(default_factory=dict)

    def unavailable_turns(self) -> set[int]:
        """Turns whose goal tool the assistant was not given (missing_function): not done."""
        withheld = (self.phenomena.get("missing_function") or {}).get("withheld") or []
        return {entry["turn"] for entry in withheld}

    def add(self, message: dict[str, Any], origin: dict[str, Any]) -> None:
        self.messages.append(message)
        self.provenance.append(origin)


def dialogue_seed(run_seed: int, index: int) -> int:
    """Seed of dialogue ``index``: independent of concurrency and of which dialogues ran before."""
    return random.Random(f"rolecall:{run_seed}:{index}").getrandbits(48)
