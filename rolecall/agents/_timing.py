"""Where the model time goes, per role: calls, seconds, prompt tokens evaluated or reused, and
replies answered from the response cache.

Seconds differ from run to run, so they are kept out of the records (a rerun with the same seed
writes the same files) and summed into the manifest instead.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from typing import Any

from autogen_core.models import ChatCompletionClient, CreateResult

from rolecall.agents._clients import ForwardingClient


@dataclass
class RoleTime:
    """One role's model calls in a run (one process)."""

    calls: int = 0
    seconds: float = 0.0  # from the request to its reply, waiting for a shared local model included
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0  # reused from the model's cache, not evaluated again
    completion_tokens: int = 0
    cached_replies: int = 0  # answered from the response cache (``--cache``): no model call made

    def add(self, seconds: float, result: CreateResult) -> None:
        self.calls += 1
        self.seconds += seconds
        self.prompt_tokens += result.usage.prompt_tokens
        self.cached_prompt_tokens += getattr(result.usage, "cached_prompt_tokens", 0)
        self.completion_tokens += result.usage.completion_tokens
        self.cached_replies += bool(result.cached)


class ModelTime:
    """Every role's :class:`RoleTime`; roles record into it through :class:`TimedClient`."""

    def __init__(self) -> None:
        self.roles: dict[str, RoleTime] = {}

    def of(self, role: str) -> RoleTime:
        return self.roles.setdefault(role, RoleTime())

    def summary(self) -> dict[str, dict[str, Any]]:
        """Role -> its totals, for the manifest (seconds rounded to milliseconds)."""
        return {
            role: {**asdict(spent), "seconds": round(spent.seconds, 3)} for role, spent in sorted(self.roles.items())
        }


class TimedClient(ForwardingClient):
    """A chat client that records each ``create`` of one role into its :class:`RoleTime`."""

    def __init__(self, inner: ChatCompletionClient, spent: RoleTime):
        super().__init__(inner)
        self.spent = spent

    async def answer(self, request: Awaitable[CreateResult]) -> CreateResult:
        started = time.perf_counter()
        result = await request
        self.spent.add(time.perf_counter() - started, result)
        return result
