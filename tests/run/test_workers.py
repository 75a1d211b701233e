"""``--workers K``: dialogues on K processes, the same files as one process, faults reported."""

from __future__ import annotations

import asyncio
import json
import pickle
import socket
from pathlib import Path

import pytest
import yaml

from rolecall.agents import AutogenBackend, AutogenRecipe
from rolecall.models import ModelFactory
from rolecall.run import DialogueJob, ProcessExecutor, WorkerCrashed
from tests.run.conftest import SCENARIOS, run_cli
from tests.run.test_executor import _context

FILES = ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl")


def test_two_workers_write_the_same_files_as_one_process(tmp_path: Path) -> None:
    for name, extra in (("one", []), ("two", ["--workers", "2"])):
        done = run_cli(
            "run", SCENARIOS / "retail_orders.yaml", "--model", "mock", "-n", "7", "-c", "3", "-o", tmp_path / name,
            "-q", *extra, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    for file in FILES:
        assert (tmp_path / "one" / file).read_bytes() == (tmp_path / "two" / file).read_bytes(), file
    one = json.loads((tmp_path / "one" / "manifest.json").read_text())
    two = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert two["executor"] == {"kind": "processes", "workers": 2, "concurrency_per_worker": 2}
    assert one["executor"] == {"kind": "asyncio", "workers": 1}
    assert two["counts"] == one["counts"] and sum(two["counts"].values()) == 7
    assert two["usage"] == one["usage"]
    # The workers' model time comes back to the manifest: the same calls and tokens per role as
    # one process made (it was empty with workers before).
    # The planner's inference of a missing output schema, made by the first run, is read from
    # disk by the second.
    counted = ("calls", "prompt_tokens", "completion_tokens", "cached_replies")
    spent_one, spent_two = one["model_time_by_role"], two["model_time_by_role"]
    for role in set(spent_one) - {"planner"}:
        assert {key: spent_two[role][key] for key in counted} == {key: spent_one[role][key] for key in counted}
    inferred = [sum(source == "llm" for source in run["output_schemas"].values()) for run in (one, two)]
    planner = [one["model_time_by_role"]["planner"]["calls"] - inferred[0], spent_two["planner"]["calls"] - inferred[1]]
    assert planner[0] == planner[1] > 0
    assert all(spent["seconds"] > 0 for spent in two["model_time_by_role"].values())


def test_workers_resume_a_run_cut_short(tmp_path: Path) -> None:
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    common = ("run", SCENARIOS / "retail_orders.yaml", "--model", "mock", "-q", "--workers", "2")
    assert run_cli(*common, "-n", "6", "-o", whole, cwd=tmp_path).returncode == 0
    assert run_cli(*common, "-n", "3", "-o", cut, cwd=tmp_path).returncode == 0
    assert run_cli(*common, "-n", "6", "-o", cut, "--resume", cwd=tmp_path).returncode == 0
    for file in FILES:
        assert (whole / file).read_bytes() == (cut / file).read_bytes(), file


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_server_that_refuses_every_worker_aborts_the_run_with_its_exit_code(tmp_path: Path) -> None:
    config = {
        "provider": "autogen_ext.models.openai.OpenAIChatCompletionClient",
        "config": {
            "model": "gone",
            "base_url": f"http://127.0.0.1:{_closed_port()}/v1",
            "api_key": "x",
            "model_info": {"vision": False, "function_calling": True, "json_output": True,
                           "structured_output": True, "family": "unknown"},
        },
        "retry": {"retries": 1, "backoff_s": 0.01},
    }  # fmt: skip
    (tmp_path / "gone.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    # The planner (which also infers a missing output schema before the workers start) is the mock:
    # the refusals come from the workers' user and assistant.
    done = run_cli(
        "run", SCENARIOS / "retail_orders.yaml", "--model", tmp_path / "gone.yaml", "--role-model", "planner=mock",
        "-n", "4", "--workers", "2", "-o", tmp_path / "out", "-q", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "refused every connection" in done.stderr and "--resume" in done.stderr
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["status"] == "aborted"


class _BrokenRecipe:
    """A backend that cannot be built: the worker fails outside any dialogue."""

    def build(self, quota_share: float) -> AutogenBackend:
        raise OSError("no such device")


def test_a_worker_that_fails_outside_a_dialogue_stops_the_run_with_its_cause(tmp_path: Path) -> None:
    executor = ProcessExecutor(_BrokenRecipe(), workers=2, concurrency=2)  # type: ignore[arg-type]

    async def drain() -> None:
        async for _ in executor.run(DialogueJob(_context(tmp_path), index) for index in range(4)):
            pass

    with pytest.raises(WorkerCrashed, match="OSError: no such device"):
        asyncio.run(drain())


def test_the_recipe_travels_without_clients_and_splits_rate_limits() -> None:
    configs = {"default": {"provider": "rolecall.models.X", "config": {"api_key": "${KEY}"}, "limits": {
        "requests_per_minute": 60, "tokens_per_minute": 1000}}}  # fmt: skip
    factory = ModelFactory(configs)
    factory.steer_assistant = False
    recipe = pickle.loads(pickle.dumps(AutogenBackend(factory).recipe()))
    assert isinstance(recipe, AutogenRecipe)
    assert recipe.configs == configs and recipe.steer_assistant is False  # ${KEY} unexpanded
    half = recipe.build(0.5)
    assert half.factory.steer_assistant is False
    limiter = half.limiter_for("planner")
    assert [bucket.capacity for bucket, _ in limiter._buckets] == [30.0, 500.0]
