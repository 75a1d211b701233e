"""What the validator looks at: a finished dialogue plus everything needed to judge it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from rolecall.planning import PriorCall, TurnPlan
from rolecall.scenario import Tool
from rolecall.text import json_or_text


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one named check; ``reason`` says why it failed (or what it verified)."""

    name: str
    passed: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "reason": self.reason}


_LISTED = 3  # culprits spelled out in one reason; more are only counted, to keep reasons short


def check_outcome(name: str, problems: list[str], note: str = "") -> CheckResult:
    """Check ``name`` passed (with ``note``) when ``problems`` is empty; else failed, naming the first few."""
    if not problems:
        return CheckResult(name, True, note)
    more = f" (+{len(problems) - _LISTED} more)" if len(problems) > _LISTED else ""
    return CheckResult(name, False, "; ".join(problems[:_LISTED]) + more)


INVALID_ARGUMENTS = "invalid_arguments"  # the fault of a call whose arguments broke the tool's schema


@dataclass(frozen=True)
class ToolCallView:
    """One assistant tool call and the tool message that answered it (if any)."""

    position: int  # index of the assistant message in ``messages``
    call_id: str
    name: str
    raw_arguments: str
    arguments: dict[str, Any] | None  # None when raw_arguments is not a JSON object
    result: Any = None  # parsed JSON of the answering tool message (or its raw text)
    answered: bool = False
    fault: str | None = None  # injected fault kind, or INVALID_ARGUMENTS; None for a normal result


@dataclass
class DialogueEvidence:
    """A finished dialogue in OpenAI chat format plus the plan, tools and facts behind it."""

    messages: list[dict[str, Any]]
    tools: dict[str, Tool]
    # Tool name -> the output schema the simulator used (declared ``returns`` or an inferred one).
    output_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    turns: list[TurnPlan] = field(default_factory=list)
    prior_calls: list[PriorCall] = field(default_factory=list)
    # Values known before the dialogue: persona facts, the date, prior calls' arguments and outputs.
    facts: dict[str, Any] = field(default_factory=dict)
    # tool_call_id -> fault kind for results the simulator produced as errors.
    faults: dict[str, str] = field(default_factory=dict)
    # Index-aligned with ``messages``: who wrote each one ({"origin": "model" | "scripted" | ...}).
    # The rules may read it; the judge is never shown it.
    provenance: list[dict[str, Any]] = field(default_factory=list)
    # Per turn: the index of its opening user message (``metadata.turn_starts``).
    turn_starts: list[int] = field(default_factory=list)
    # What the generation knobs asked of the dialogue (``metadata.phenomena``).
    phenomena: dict[str, Any] = field(default_factory=dict)

    def without_injected(self) -> DialogueEvidence:
        """The dialogue with its injected mistakes (and their error results) left out: what the
        rules and the judge check, so a wrong call put there on purpose is never held against it."""
        keep = [i for i, origin in enumerate(self.provenance) if origin.get("origin") != "injected"]
        if len(keep) == len(self.messages) or len(self.provenance) != len(self.messages):
            return self
        moved = {old: new for new, old in enumerate(keep)}
        return replace(
            self,
            messages=[self.messages[i] for i in keep],
            provenance=[self.provenance[i] for i in keep],
            turn_starts=[moved[i] for i in self.turn_starts if i in moved],
        )

    def tool_calls(self) -> list[ToolCallView]:
        """Every tool call in message order, paired with its answer."""
        answers: dict[str, Any] = {}
        for message in self.messages:
            if message.get("role") == "tool" and message.get("tool_call_id") not in answers:
                answers[message.get("tool_call_id")] = json_or_text(message.get("content"))
        views = []
        for position, message in enumerate(self.messages):
            if message.get("role") != "assistant":
                continue
            for call in message.get("tool_calls") or []:
                function = call.get("function", {})
                raw = function.get("arguments", "")
                parsed = json_or_text(raw)
                call_id = call.get("id", "")
                views.append(
                    ToolCallView(
                        position=position,
                        call_id=call_id,
                        name=function.get("name", ""),
                        raw_arguments=raw,
                        arguments=parsed if isinstance(parsed, dict) else None,
                        result=answers.get(call_id),
                        answered=call_id in answers,
                        fault=self.faults.get(call_id),
                    )
                )
        return views

    def user_texts(self) -> list[str]:
        return [str(m.get("content") or "") for m in self.messages if m.get("role") == "user"]
