"""`rolecall eval`: the same tasks for every assistant model, and figures that tell them apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rolecall.evaluation import dialogue_metrics, model_metrics, pass_hat_k, with_seed
from rolecall.run import read_run
from tests.run.conftest import SCENARIOS, run_cli


def test_pass_hat_k_is_the_chance_that_k_trials_all_succeed() -> None:
    tasks = {0: [True, True, False], 1: [True, True, True], 2: [False, False, False]}
    assert pass_hat_k(tasks, 1) == pytest.approx((2 / 3 + 1 + 0) / 3, abs=1e-4)
    assert pass_hat_k(tasks, 2) == pytest.approx((1 / 3 + 1 + 0) / 3, abs=1e-4)
    assert pass_hat_k(tasks, 3) == pytest.approx(1 / 3, abs=1e-4)
    assert pass_hat_k(tasks, 4) is None


def _record(index: int, checks: dict[str, bool], **meta: Any) -> dict[str, Any]:
    validation = {"checks": [{"name": n, "passed": p} for n, p in checks.items()], "accepted": all(checks.values())}
    return {
        "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "function": {"name": "t"}}]},
        ],
        "metadata": {"index": index, "validation": validation, "hidden_calls": ["$1"], **meta},
    }


def test_dialogue_and_model_figures_from_records() -> None:
    usage = {"by_role": {"assistant": {"prompt_tokens": 90, "completion_tokens": 10}}}
    good = _record(0, {"goal_calls_made": True, "hidden_calls_discovered": True}, usage=usage)
    bad = _record(1, {"goal_calls_made": False, "arguments_grounded": False}, faults={"c1": "timeout"})
    failed = {"messages": [], "metadata": {"index": 2, "error": {"role": "user"}}}
    row = dialogue_metrics(good)
    assert row["success"] and row["hidden_discovered"] and row["assistant_tokens"] == 100
    assert dialogue_metrics(bad)["grounding_error"] and not dialogue_metrics(bad)["success"]
    figures = model_metrics([[good, bad, failed]])
    assert figures["goal_completion"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["failed"] == 1 and figures["grounding_errors"] == 0.5
    assert figures["recovery_after_faults"] == 0.0
    assert figures["tool_calls_to_success"] == 1.0 and figures["assistant_tokens_to_success"] == 100
    assert figures["pass_hat_k"] == {"1": pytest.approx(1 / 3, abs=1e-4)}


def test_a_trial_moves_the_assistants_seed_and_trial_0_keeps_it() -> None:
    config = {"provider": "x", "config": {"seed": 7}}
    assert with_seed(config, 0) is config
    assert with_seed(config, 2)["config"]["seed"] == 9 and config["config"]["seed"] == 7
    assert with_seed({"provider": "x"}, 1)["config"]["seed"] == 1


def test_eval_runs_every_model_on_the_same_tasks_and_tells_a_sloppy_assistant_apart(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = run_cli(
        "eval",
        SCENARIOS / "retail_orders.yaml",
        "-a",
        "good=mock",
        "-a",
        "sloppy=mock:sloppy_every=2",
        "--model",
        "mock",
        "-n",
        "6",
        "-k",
        "2",
        "-o",
        out,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "eval.json").read_text())
    good, sloppy = report["results"]["good"], report["results"]["sloppy"]
    assert good["dialogues"] == sloppy["dialogues"] == 12
    assert good["goal_completion"] > sloppy["goal_completion"]
    assert sloppy["grounding_errors"] > good["grounding_errors"] == 0
    assert set(good["pass_hat_k"]) == {"1", "2"}
    assert "pass^2" in result.stdout and "goal completion" in result.stdout
    # The same plan for each task, whichever assistant played it.
    plans = {}
    for label in ("good", "sloppy"):
        records = read_run(out / label / "trial-1")
        plans[label] = {r["metadata"]["index"]: r["metadata"]["plan"] for kind in records for r in records[kind]}
    assert plans["good"] == plans["sloppy"] and len(plans["good"]) == 6


def test_eval_refuses_two_models_with_one_label(tmp_path: Path) -> None:
    result = run_cli(
        "eval",
        SCENARIOS / "retail_orders.yaml",
        "-a",
        "x=mock",
        "-a",
        "x=mock:sloppy_every=2",
        "-o",
        tmp_path / "e",
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "labels must differ" in result.stderr
