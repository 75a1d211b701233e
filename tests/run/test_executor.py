"""The layered runner's lower layers: the per-dialogue function and the asyncio executor."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path
from typing import Any

from rolecall.run import AsyncioExecutor, DialogueJob, DialogueOutcome, produce_dialogue
from rolecall.run._executor import combined_model_time
from rolecall.run._heap import HeapTrimmer, _malloc_trim
from tests.dialogue.test_session import GOOD_STEPS, Backend, _context, polite_user


class _JudgingBackend(Backend):
    """The scripted roles of the session tests, plus a judge that accepts, and a count of
    dialogues in flight."""

    def __init__(self) -> None:
        super().__init__(GOOD_STEPS, polite_user)
        from tests.dialogue.test_session import Role

        self.roles["judge"] = Role(lambda prompt: {"reasoning": "Consistent.", "consistent": "yes"})
        self.in_flight = 0
        self.most_in_flight = 0

    def assistant(self, system_message: Any, tools: Any, execute: Any) -> Any:
        # A fresh script per dialogue: dialogues of one run are independent.
        from tests.dialogue.test_session import Assistant

        return _Counted(Assistant(list(GOOD_STEPS), execute), self)


class _Counted:
    def __init__(self, inner: Any, backend: _JudgingBackend):
        self.inner, self.backend, self.usage, self.started = inner, backend, inner.usage, False

    async def step(self, user_message: str | None) -> Any:
        if not self.started:
            self.started = True
            self.backend.in_flight += 1
            self.backend.most_in_flight = max(self.backend.most_in_flight, self.backend.in_flight)
        await asyncio.sleep(0.001 * (7 - len(self.inner.steps)))  # later dialogues may finish first
        step = await self.inner.step(user_message)
        if step.text:
            self.backend.in_flight -= 1
        return step


def test_a_job_and_its_outcome_are_plain_picklable_data(tmp_path: Path) -> None:
    job = DialogueJob(_context(tmp_path), 3)
    copy = pickle.loads(pickle.dumps(job))
    assert copy.index == 3 and copy.context.scenario.name == job.context.scenario.name
    outcome = asyncio.run(produce_dialogue(copy, _JudgingBackend()))
    assert isinstance(outcome, DialogueOutcome) and outcome.kind == "accepted"
    assert pickle.loads(pickle.dumps(outcome)) == outcome
    record = outcome.record
    assert record["id"] == "mini-00003" and len(record["metadata"]["provenance"]) == len(record["messages"])
    assert record["metadata"]["validation"]["accepted"] is True and outcome.tokens > 0


def test_the_executor_yields_in_job_order_with_bounded_concurrency(tmp_path: Path) -> None:
    context = _context(tmp_path)
    backend = _JudgingBackend()

    async def collect() -> list[int]:
        executor = AsyncioExecutor(backend, concurrency=3)
        return [outcome.index async for outcome in executor.run(DialogueJob(context, i) for i in range(10))]

    assert asyncio.run(collect()) == list(range(10))
    assert 1 < backend.most_in_flight <= 3


def test_a_failing_dialogue_is_an_outcome_not_an_exception(tmp_path: Path) -> None:
    backend = _JudgingBackend()
    backend.roles["planner"].answer = lambda prompt: {
        "goal": "x",
        "calls": [{"id": "$1", "name": "nope", "arguments": {}}],
    }
    outcome = asyncio.run(produce_dialogue(DialogueJob(_context(tmp_path), 0), backend))
    assert outcome.kind == "failed"
    assert outcome.record["metadata"]["error"]["role"] == "planner"


def test_model_time_of_several_processes_is_summed_per_role() -> None:
    driver = {"planner": {"calls": 1, "seconds": 0.25, "prompt_tokens": 10}}
    worker = {"planner": {"calls": 2, "seconds": 0.1004, "prompt_tokens": 5}, "user": {"calls": 3, "seconds": 1.0}}
    assert combined_model_time([driver, worker, {}]) == {
        "planner": {"calls": 3, "seconds": 0.35, "prompt_tokens": 15},
        "user": {"calls": 3, "seconds": 1.0},
    }
    assert list(combined_model_time([worker, driver])) == ["planner", "user"]


def test_the_executor_hands_freed_memory_back_every_so_many_dialogues(tmp_path: Path) -> None:
    context = _context(tmp_path)
    trimmed: list[int] = []
    heap = HeapTrimmer(every=4, trim=lambda pad: trimmed.append(pad) or 1)

    async def collect() -> int:
        executor = AsyncioExecutor(_JudgingBackend(), concurrency=3, heap=heap)
        return len([outcome async for outcome in executor.run(DialogueJob(context, i) for i in range(10))])

    assert asyncio.run(collect()) == 10
    assert trimmed == [0, 0] and heap.trims == 2  # after dialogues 4 and 8


def test_the_c_librarys_trim_is_found_where_it_has_one() -> None:
    import platform

    trim = _malloc_trim()
    if platform.libc_ver()[0] == "glibc":
        assert trim is not None and trim(0) in (0, 1)
    heap = HeapTrimmer(every=1, trim=None)  # whatever this platform has; never an error
    heap.dialogue_done()
    assert heap.trims == (1 if trim is not None else 0)
