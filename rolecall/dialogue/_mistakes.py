"""Injected mistakes for error-recovery data (``generation.error_recovery``).

DiGiT-TC's conversations hold a few wrong calls, each answered by a short error that hints at
the fix and followed by the right call. Here the right call is the assistant model's own; code
writes a plausible wrong version of it (a required argument left out, or a value of another kind
in its place) and an error in the style of a real API, and both go into the record before it,
marked ``injected`` so a trainer can keep them out of the loss and the rules can skip them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rolecall.dialogue._tools import error_result
from rolecall.prompts import render
from rolecall.scenario import Tool

MISSING_ARGUMENT = "missing_argument"
WRONG_VALUE = "wrong_value"


@dataclass(frozen=True)
class Mistake:
    """A wrong call and the error that answers it."""

    kind: str  # missing_argument | wrong_value
    name: str
    arguments: dict[str, Any]
    result: dict[str, Any]
    template: str

    @property
    def arguments_text(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)

    @property
    def result_text(self) -> str:
        return json.dumps(self.result, ensure_ascii=False)


def mistake_for(tool: Tool, arguments: dict[str, Any], known: Sequence[Any], rng: random.Random) -> Mistake | None:
    """A plausible wrong version of the call ``tool(arguments)``; None when it has no required
    argument to get wrong. ``known``: values the dialogue holds (facts), to put in the wrong place."""
    required = [name for name in tool.parameters.get("required") or [] if name in arguments]
    if not required:
        return None
    parameter = rng.choice(required)
    label = parameter.replace("_", " ")
    current = arguments[parameter]
    others = sorted({value for value in known if isinstance(value, str) and value and value != current})
    if isinstance(current, str) and others and rng.random() < 0.5:
        value = rng.choice(others)
        template = "tool_simulator/hint_wrong_value"
        message = render(template, parameter=parameter, value=value, label=label).strip()
        wrong = {**arguments, parameter: value}
        return Mistake(WRONG_VALUE, tool.name, wrong, error_result("not_found", message), template)
    template = "tool_simulator/hint_missing_argument"
    message = render(template, parameter=parameter, label=label).strip()
    wrong = {key: value for key, value in arguments.items() if key != parameter}
    return Mistake(MISSING_ARGUMENT, tool.name, wrong, error_result("invalid_argument", message), template)
