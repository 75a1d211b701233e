"""Executors: where the per-dialogue function runs. The runner only sees this interface.

An executor takes jobs in index order and yields their outcomes in the same order, with a
bounded number of dialogues in flight (finished ones waiting for an earlier one count too), so
memory stays flat however many dialogues a run has. ``AsyncioExecutor`` runs them in this event
loop; a distributed executor (processes, Ray) implements the same two methods.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Protocol

from rolecall.agents import RoleBackend
from rolecall.run._heap import HeapTrimmer
from rolecall.run._job import DialogueJob, DialogueOutcome, produce_dialogue


class Executor(Protocol):
    def run(self, jobs: Iterable[DialogueJob]) -> AsyncIterator[DialogueOutcome]:
        """The outcome of each job, in the order of ``jobs``."""
        ...

    async def close(self) -> None:
        """Release what the executor holds (model clients, workers)."""
        ...

    def describe(self) -> dict[str, object]:
        """Where the dialogues ran, for the manifest."""
        ...

    def remote_model_time(self) -> dict[str, dict[str, Any]]:
        """The model time its workers reported (role -> totals, as ``RoleBackend.model_time``);
        empty where the dialogues ran on this process's own backend."""
        ...


def combined_model_time(parts: Iterable[Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per-role model time of several processes, summed (seconds to the millisecond)."""
    combined: dict[str, dict[str, Any]] = {}
    for part in parts:
        for role, spent in part.items():
            into = combined.setdefault(role, {})
            for key, value in spent.items():
                into[key] = into.get(key, 0) + value
    for spent in combined.values():
        if "seconds" in spent:
            spent["seconds"] = round(spent["seconds"], 3)
    return dict(sorted(combined.items()))


# Jobs started ahead of the oldest unfinished one, per unit of concurrency: enough that a slow
# dialogue at the head does not idle the others, few enough that memory stays bounded.
LOOKAHEAD = 4


class AsyncioExecutor:
    """Runs up to ``concurrency`` dialogues at once in the current event loop, on one backend."""

    def __init__(self, backend: RoleBackend, concurrency: int = 1, heap: HeapTrimmer | None = None):
        self.backend = backend
        self.concurrency = max(1, concurrency)
        self.window = LOOKAHEAD * self.concurrency
        self.heap = heap or HeapTrimmer()  # in every process that runs dialogues: here, workers, actors

    async def run(self, jobs: Iterable[DialogueJob]) -> AsyncIterator[DialogueOutcome]:
        pending = iter(jobs)
        in_flight: deque[asyncio.Task[DialogueOutcome]] = deque()
        running = asyncio.Semaphore(self.concurrency)

        async def produce(job: DialogueJob) -> DialogueOutcome:
            async with running:
                return await produce_dialogue(job, self.backend)

        def start_next() -> None:
            job = next(pending, None)
            if job is not None:
                in_flight.append(asyncio.ensure_future(produce(job)))

        for _ in range(self.window):
            start_next()
        try:
            while in_flight:
                outcome = await in_flight[0]
                in_flight.popleft()
                start_next()
                self.heap.dialogue_done()
                yield outcome
        finally:
            for task in in_flight:  # an interrupted run leaves nothing running behind it
                task.cancel()

    async def close(self) -> None:
        await self.backend.close()

    def describe(self) -> dict[str, object]:
        return {"kind": "asyncio", "workers": 1}

    def remote_model_time(self) -> dict[str, dict[str, Any]]:
        return {}  # the runner reads this process's backend
