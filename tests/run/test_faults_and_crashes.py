"""Runs under faults and crashes: transport faults at 25% with exact accounting, and kill -9 at
random points followed by --resume giving the same files as a run that was never stopped."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from rolecall.agents import AutogenBackend
from rolecall.mock import MockServer, MockSettings, model_config
from rolecall.models import ModelFactory
from rolecall.run import RunOptions, read_run, run_scenario
from rolecall.scenario import load_scenario
from tests.run.conftest import SCENARIOS, run_cli

SCENARIO = SCENARIOS / "retail_orders.yaml"
KINDS = ("accepted", "rejected", "failed")


def test_two_hundred_dialogues_under_a_quarter_of_requests_failing_are_all_accounted_for(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with MockServer(MockSettings(fault_rate=0.25)) as server:
        config = {**model_config(server.base_url), "retry": {"retries": 3, "backoff_s": 0.001}}
        backend = AutogenBackend(ModelFactory({"default": config}))
        options = RunOptions(out_dir=out, dialogues=200, seed=3, concurrency=16)
        summary = asyncio.run(run_scenario(load_scenario(SCENARIO), backend, options))
        served = server.faults_served
        requests = len(server.requests)
    records = read_run(out)
    ids = [record["id"] for kind in KINDS for record in records[kind]]
    assert len(ids) == len(set(ids)) == 200  # nothing lost, nothing twice
    assert sorted(ids) == [f"retail-orders-{n:05d}" for n in range(200)]
    manifest = summary.manifest
    assert manifest["status"] == "finished"
    assert manifest["counts"] == {kind: len(records[kind]) for kind in KINDS}
    assert 0.2 < served / requests < 0.3  # the faults really happened, at about the rate asked for
    assert records["accepted"], "most dialogues survive their faults through retries"
    for record in records["failed"]:  # each failure says which role failed, and why
        error = record["metadata"]["error"]
        assert error["role"] and error["class"] != "DialogueFailed" and error["message"]
    assert sum(manifest["failure_classes"].values()) == len(records["failed"])


def _kill_and_resume(out: Path, count: int, kills: int, rng: random.Random) -> None:
    command = [sys.executable, "-m", "rolecall", "run", SCENARIO, "-o", out, "-n", str(count), "--model", "mock", "-q"]
    for attempt in range(kills):
        process = subprocess.Popen(
            [*map(str, command), *(["--resume"] if attempt or out.exists() else [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(1.0, 3.0))
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    finished = run_cli(*command[3:], "--resume", cwd=out.parent, timeout=300)
    assert finished.returncode == 0, finished.stderr


def test_kill_nine_at_random_points_then_resume_gives_the_files_of_an_unbroken_run(tmp_path: Path) -> None:
    count = 40
    whole = tmp_path / "whole"
    result = run_cli("run", SCENARIO, "-o", whole, "-n", str(count), "--model", "mock", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    broken = tmp_path / "broken"
    _kill_and_resume(broken, count, kills=5, rng=random.Random(7))
    for name in ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl"):
        assert (broken / name).read_bytes() == (whole / name).read_bytes(), name
    manifest = json.loads((broken / "manifest.json").read_text())
    assert manifest["status"] == "finished" and sum(manifest["counts"].values()) == count


def test_ctrl_c_marks_the_manifest_and_says_how_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "rolecall", "run", str(SCENARIO), "-o", str(out), "-n", "50"]
    process = subprocess.Popen(
        [*command, "--model", "mock:latency=0.05", "-q"], stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    deadline = time.monotonic() + 60
    while not (out / "dialogues.jsonl").exists() or not (out / "dialogues.jsonl").stat().st_size:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    for name in ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl"):
        data = (out / name).read_bytes()
        assert not data or data.endswith(b"\n")
