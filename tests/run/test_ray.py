"""``--executor ray``: dialogues on Ray actors, locally and on a cluster, with the files of a local run."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.run.conftest import SCENARIOS, run_cli

pytest.importorskip("ray")

FILES = ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl")
RUN = ("run", SCENARIOS / "retail_orders.yaml", "--model", "mock", "-n", "6", "-c", "4", "-q")


def _same_files(left: Path, right: Path) -> None:
    for file in FILES:
        assert (left / file).read_bytes() == (right / file).read_bytes(), file


def test_two_ray_workers_on_a_local_instance_write_the_files_of_a_local_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli(*RUN, "-o", tmp_path / "local", cwd=tmp_path).returncode == 0
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    done = run_cli(*RUN, "--executor", "ray", "--workers", "2", "-o", tmp_path / "ray", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    _same_files(tmp_path / "local", tmp_path / "ray")
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    executor = manifest["executor"]
    assert executor["kind"] == "ray" and executor["workers"] == 2 and executor["nodes"] == 1
    # The actors' model time reaches the manifest: the assistant's calls, as the local run made them.
    local = json.loads((tmp_path / "local" / "manifest.json").read_text())["model_time_by_role"]
    assert manifest["model_time_by_role"]["assistant"]["calls"] == local["assistant"]["calls"] > 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_run_joins_the_cluster_named_by_ray_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray_cli, "the ray command comes with the ray package"
    port = _free_port()
    # Ray's socket paths must stay under 107 bytes: a short folder, not pytest's deep tmp_path.
    ray_tmp = tempfile.mkdtemp(prefix="rc-ray-")
    # Ray 2.59+ starts clusters with token authentication: the driver must hold the same token.
    token = secrets.token_hex(16)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", token)
    env = {**os.environ, "RAY_TMPDIR": ray_tmp}
    started = subprocess.run(
        [ray_cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
         "--include-dashboard", "false", "--disable-usage-stats"],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stderr
        assert run_cli(*RUN, "-o", tmp_path / "local", cwd=tmp_path).returncode == 0
        monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
        done = run_cli(
            *RUN, "--executor", "ray", "--workers", "2", "-o", tmp_path / "cluster", cwd=tmp_path, timeout=300
        )
        assert done.returncode == 0, done.stderr
        _same_files(tmp_path / "local", tmp_path / "cluster")
        manifest = (tmp_path / "cluster" / "manifest.json").read_text()
        executor = json.loads(manifest)["executor"]
        assert executor["address"].endswith(f":{port}") and executor["cpus"] == 2
        assert token not in manifest
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=120, check=False)
        shutil.rmtree(ray_tmp, ignore_errors=True)
