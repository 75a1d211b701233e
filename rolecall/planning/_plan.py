"""Plans: the tool calls a turn should make, chained by references to earlier outputs.

A plan argument is either a literal value or a *reference* ``"$j.field"`` to a field of the
output of an earlier call ``$j`` (this turn's, an earlier turn's, or a prior call's). Nested
fields use dots, list items use their index: ``"$2.orders.0.order_id"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

REFERENCE = re.compile(r"^\$(\d+)\.([A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*)$")


class Reference(BaseModel):
    """``$call.path``: a value taken from an earlier call's output."""

    model_config = ConfigDict(frozen=True)

    call: str  # "$3"
    path: tuple[str, ...]  # ("orders", "0", "order_id")

    @classmethod
    def parse(cls, value: Any) -> Reference | None:
        if not isinstance(value, str):
            return None
        match = REFERENCE.match(value)
        if match is None:
            return None
        return cls(call=f"${match.group(1)}", path=tuple(match.group(2).split(".")))

    def __str__(self) -> str:
        return f"{self.call}.{'.'.join(self.path)}"

    def resolve(self, output: Any) -> Any:
        """The referenced value inside ``output``; raises ``LookupError`` if it is not there."""
        value = output
        for part in self.path:
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                raise LookupError(f"{self} not found in the output of {self.call}")
        return value


class PlannedCall(BaseModel):
    """One call of a plan. ``id`` is ``$k``; unique across the whole dialogue."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^\$\d+$")
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    def references(self) -> list[tuple[str, Reference]]:
        """(argument name, reference) for every argument that is a reference."""
        found = []
        for key, value in self.arguments.items():
            ref = Reference.parse(value)
            if ref is not None:
                found.append((key, ref))
        return found

    def literals(self) -> dict[str, Any]:
        """The arguments that are literal values (what the user must know and say)."""
        return {k: v for k, v in self.arguments.items() if Reference.parse(v) is None}

    def depends_on(self) -> set[str]:
        return {ref.call for _, ref in self.references()}


class TurnPlan(BaseModel):
    """What one user turn is about: the calls, which of them stay implicit, and the goal in words."""

    model_config = ConfigDict(extra="forbid")

    goal: str = ""
    calls: list[PlannedCall]
    hidden: list[str] = Field(default_factory=list, description="Ids of the implicit calls.")

    def explicit_calls(self) -> list[PlannedCall]:
        return [call for call in self.calls if call.id not in self.hidden]

    def hidden_calls(self) -> list[PlannedCall]:
        return [call for call in self.calls if call.id in self.hidden]

    def builds_on(self, earlier: Sequence[TurnPlan]) -> bool:
        """Whether a call of this plan takes a value from a call of the ``earlier`` turns (a follow-up)."""
        ids = {call.id for turn in earlier for call in turn.calls}
        return any(ref in ids for call in self.calls for ref in call.depends_on())


class PriorCall(BaseModel):
    """A call that happened before the dialogue started; its output is shared state."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^\$\d+$")
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    output: Any = None
    note: str = ""


def literal_values(value: Any) -> Iterator[Any]:
    """Every scalar leaf inside a JSON-like value."""
    if isinstance(value, dict):
        for item in value.values():
            yield from literal_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from literal_values(item)
    elif value is not None:
        yield value


def descendants(calls: Iterable[PlannedCall], roots: set[str]) -> set[str]:
    """Ids of every call that depends (directly or not) on one of ``roots``."""
    found: set[str] = set()
    changed = True
    calls = list(calls)
    while changed:
        changed = False
        for call in calls:
            if call.id not in found and call.depends_on() & (roots | found):
                found.add(call.id)
                changed = True
    return found
