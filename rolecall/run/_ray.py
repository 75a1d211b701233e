"""``RayExecutor``: the dialogues of a run on Ray actors, on one machine or a cluster.

The same shape as :class:`ProcessExecutor`: K actors, each an :class:`AsyncioExecutor` over every
K-th job with its own model clients, keep their finished outcomes in a bounded queue; the
driver asks them in turn for the next one, so outcomes come back in job order and the runner
writes the same files, manifest and resume state as a local run. Only finished records cross
the network. ``ray.init()`` starts a local Ray instance, or joins the cluster that
``RAY_ADDRESS`` names; every node needs rolecall installed (or a ``runtime_env`` that ships it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

from rolecall.dialogue import RunContext
from rolecall.run._executor import LOOKAHEAD, combined_model_time
from rolecall.run._job import DialogueJob, DialogueOutcome
from rolecall.run._processes import (
    BackendRecipe,
    WorkerCrashed,
    concurrency_per_worker,
    delivered,
    reported_model_time,
    shard_messages,
)


class DialogueWorker:
    """One actor: produces its share of the dialogues and hands them out in order."""

    def __init__(self, recipe: BackendRecipe, share: float, concurrency: int):
        self.recipe, self.share, self.concurrency = recipe, share, concurrency
        self.outbox: asyncio.Queue[tuple[str, Any]] | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self, context: RunContext, indexes: list[int]) -> None:
        self.outbox = asyncio.Queue(maxsize=LOOKAHEAD * self.concurrency)  # a worker ahead of the others waits
        self.task = asyncio.ensure_future(self._produce(context, indexes))

    async def _produce(self, context: RunContext, indexes: list[int]) -> None:
        assert self.outbox is not None
        async for message in shard_messages(self.recipe, self.share, context, indexes, self.concurrency):
            await self.outbox.put(message)

    async def next(self) -> tuple[str, Any]:
        assert self.outbox is not None
        return await self.outbox.get()


class RayExecutor:
    """Runs dialogues on ``workers`` Ray actors, ``concurrency`` at once in all."""

    def __init__(self, recipe: BackendRecipe, workers: int, concurrency: int, address: str | None = None):
        self.recipe = recipe
        self.workers = max(1, workers)
        self.per_worker = concurrency_per_worker(concurrency, self.workers)
        self.address = address
        self._actors: list[Any] = []
        self._cluster: dict[str, object] = {}
        self._model_times: list[dict[str, dict[str, Any]]] = []

    async def run(self, jobs: Iterable[DialogueJob]) -> AsyncIterator[DialogueOutcome]:
        import ray

        listed = list(jobs)
        if not listed:
            return
        if not ray.is_initialized():
            # RAY_ADDRESS, when set, names a cluster to join; otherwise a local instance starts.
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        self._cluster = {
            "address": ray.get_runtime_context().gcs_address,
            "nodes": sum(1 for node in ray.nodes() if node.get("Alive")),
            "cpus": ray.cluster_resources().get("CPU", 0),
        }
        context = ray.put(listed[0].context)  # sent once, shared by the actors on a node
        count = min(self.workers, len(listed))
        actor_class = ray.remote(num_cpus=1)(DialogueWorker)
        self._actors = [actor_class.remote(self.recipe, 1 / count, self.per_worker) for _ in range(count)]
        await asyncio.gather(
            *(
                actor.start.remote(context, [job.index for job in listed[worker::count]])
                for worker, actor in enumerate(self._actors)
            )
        )
        try:
            for position in range(len(listed)):
                worker = position % count
                try:
                    kind, value = await self._actors[worker].next.remote()
                except ray.exceptions.RayActorError as error:  # the actor's process or node died
                    raise WorkerCrashed(f"worker {worker}: {error}") from None
                yield delivered(worker, kind, value)
            for worker, actor in enumerate(self._actors):
                self._model_times.append(reported_model_time(worker, *await actor.next.remote()))
        finally:
            self._stop()

    def _stop(self) -> None:
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors.clear()

    async def close(self) -> None:
        self._stop()

    def remote_model_time(self) -> dict[str, dict[str, Any]]:
        return combined_model_time(self._model_times)

    def describe(self) -> dict[str, object]:
        return {"kind": "ray", "workers": self.workers, "concurrency_per_worker": self.per_worker, **self._cluster}
