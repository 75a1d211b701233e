"""Fixtures for engine tests: the scripted OpenAI-compatible server and a model config for it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.scripted_server import ScriptedServer, model_config

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
TEST_KEY = "sk-test-do-not-leak-7f3a9c"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLECALL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ROLECALL_TEST_KEY", TEST_KEY)


def write_model_config(directory: Path, server: ScriptedServer, name: str = "scripted.yaml", **kwargs: object) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(model_config(server.base_url, **kwargs)), encoding="utf-8")
    return path


def run_cli(*args: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROLECALL_TEST_KEY": TEST_KEY, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rolecall", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
