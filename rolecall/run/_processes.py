"""``ProcessExecutor``: the dialogues of a run on K worker processes, to use every core.

One process's event loop is bound by its own CPU: the framework's work per model call
(building requests, reading replies, validating) runs on one core. Each worker process runs an
:class:`AsyncioExecutor` of its own on its share of the jobs (every K-th job, C/K at a time,
its own model clients) and sends the outcomes back in its order; the parent reads the workers
in turn, so outcomes come out in job order with no reordering buffer, and the runner writes the
same files as with one process. Each worker's queue is bounded: a worker that runs ahead of the
others waits, so memory stays flat.

Workers are started with ``spawn`` (a fresh interpreter, no inherited event loop or threads)
and rebuild the backend from its picklable description. A model's rate limits are split evenly
between the workers, so the run as a whole stays under the quota.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

from rolecall.agents import RoleBackend, RunAborted
from rolecall.dialogue import RunContext
from rolecall.run._executor import LOOKAHEAD, AsyncioExecutor, combined_model_time
from rolecall.run._job import DialogueJob, DialogueOutcome


class WorkerCrashed(Exception):
    """A worker process died or raised outside any dialogue; the records written so far are whole."""


def delivered(worker: int, kind: str, value: Any) -> DialogueOutcome:
    """A worker's message as the outcome it carries, or the error that stops the run."""
    if kind == "aborted":
        raise RunAborted(*value)
    if kind == "crashed":
        raise WorkerCrashed(f"worker {worker}: {value}")
    return value  # type: ignore[no-any-return]


def reported_model_time(worker: int, kind: str, value: Any) -> dict[str, dict[str, Any]]:
    """A worker's last message, sent after its last outcome: its model time."""
    if kind != "model_time":
        delivered(worker, kind, value)  # raises for a worker that stopped
        raise WorkerCrashed(f"worker {worker}: sent {kind!r} after its last dialogue")
    return value  # type: ignore[no-any-return]


class BackendRecipe(Protocol):
    """What a worker needs to build its own backend: picklable, and cheap to send."""

    def build(self, quota_share: float) -> RoleBackend:
        """A backend with fresh clients; rate limits scaled by ``quota_share``."""
        ...


def concurrency_per_worker(concurrency: int, workers: int) -> int:
    """Dialogues in flight per worker: the ceiling, so that the workers hold C in all, not fewer."""
    return max(1, -(-concurrency // max(1, workers)))


async def shard_messages(
    recipe: BackendRecipe, share: float, context: RunContext, indexes: list[int], concurrency: int
) -> AsyncIterator[tuple[str, Any]]:
    """A worker's share of a run as ``(kind, value)`` messages, in order: ``outcome`` per dialogue,
    then ``model_time`` (its backend's, for the manifest), or, if the work stopped early,
    ``aborted`` (the fields of a :class:`RunAborted`: the exception itself does not unpickle) or
    ``crashed`` (the error, as text)."""
    executor: AsyncioExecutor | None = None
    try:
        executor = AsyncioExecutor(recipe.build(share), concurrency)
        async for outcome in executor.run(DialogueJob(context, index) for index in indexes):
            yield "outcome", outcome
        yield "model_time", executor.backend.model_time()
    except RunAborted as error:
        yield "aborted", (error.role, error.reason, error.cause)
    except Exception as error:  # reported to the parent, which stops the run
        yield "crashed", f"{type(error).__name__}: {error}"
    finally:
        if executor is not None:
            await executor.close()


def _work(
    recipe: BackendRecipe, share: float, context: RunContext, indexes: list[int], concurrency: int, outbox: Any
) -> None:
    """A worker process: its shard's messages, put on ``outbox``."""

    async def produce() -> None:
        async for message in shard_messages(recipe, share, context, indexes, concurrency):
            outbox.put(message)

    try:
        asyncio.run(produce())
    except KeyboardInterrupt:
        pass
    except BaseException as error:  # outside any dialogue (a message that does not pickle, say)
        outbox.put(("crashed", f"{type(error).__name__}: {error}"))


class ProcessExecutor:
    """Runs dialogues on ``workers`` processes, ``concurrency`` at once in all."""

    def __init__(self, recipe: BackendRecipe, workers: int, concurrency: int):
        self.recipe = recipe
        self.workers = max(1, workers)
        self.per_worker = concurrency_per_worker(concurrency, self.workers)
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._model_times: list[dict[str, dict[str, Any]]] = []

    async def run(self, jobs: Iterable[DialogueJob]) -> AsyncIterator[DialogueOutcome]:
        listed = list(jobs)
        if not listed:
            return
        context = listed[0].context
        count = min(self.workers, len(listed))
        spawn = multiprocessing.get_context("spawn")
        outboxes = [spawn.Queue(maxsize=LOOKAHEAD * self.per_worker) for _ in range(count)]
        for worker in range(count):
            indexes = [job.index for job in listed[worker::count]]
            process = spawn.Process(
                target=_work,
                args=(self.recipe, 1 / count, context, indexes, self.per_worker, outboxes[worker]),
                name=f"rolecall-worker-{worker}",
                daemon=True,
            )
            process.start()
            self._processes.append(process)
        loop = asyncio.get_running_loop()
        try:
            for position in range(len(listed)):
                worker = position % count
                kind, value = await loop.run_in_executor(None, self._next, worker, outboxes[worker])
                yield delivered(worker, kind, value)
            for worker in range(count):
                message = await loop.run_in_executor(None, self._next, worker, outboxes[worker])
                self._model_times.append(reported_model_time(worker, *message))
        finally:
            self._stop()

    def _next(self, worker: int, outbox: Any) -> tuple[str, Any]:
        """The worker's next message; a worker that died without one is reported, not waited on."""
        process = self._processes[worker]
        while True:
            try:
                return outbox.get(timeout=1.0)
            except queue.Empty:
                if not process.is_alive():
                    try:
                        return outbox.get(timeout=1.0)  # it may have put its last words just before exiting
                    except queue.Empty:
                        return "crashed", f"the process exited (code {process.exitcode}) before its dialogues were done"

    def _stop(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join(timeout=10)
        self._processes.clear()

    async def close(self) -> None:
        self._stop()

    def describe(self) -> dict[str, object]:
        return {"kind": "processes", "workers": self.workers, "concurrency_per_worker": self.per_worker}

    def remote_model_time(self) -> dict[str, dict[str, Any]]:
        return combined_model_time(self._model_times)
