"""The output directory under bad conditions: not a directory, not writable, a full disk, a
resume that would shrink the run. Each is a clear error, and the records written stay whole."""

from __future__ import annotations

import asyncio
import errno
import json
from pathlib import Path
from typing import Any

import pytest

from rolecall.agents import AutogenBackend
from rolecall.mock import MockServer, model_config
from rolecall.models import ModelFactory
from rolecall.run import OutputExists, OutputFailed, RunOptions, read_run, run_scenario
from rolecall.scenario import load_scenario
from tests.run.conftest import SCENARIOS, run_cli

SCENARIO = SCENARIOS / "retail_orders.yaml"


def _run(out: Path, dialogues: int, resume: bool = False) -> Any:
    with MockServer() as server:
        backend = AutogenBackend(ModelFactory({"default": model_config(server.base_url)}))
        options = RunOptions(out_dir=out, dialogues=dialogues, seed=0, concurrency=2, resume=resume)
        return asyncio.run(run_scenario(load_scenario(SCENARIO), backend, options))


@pytest.mark.parametrize("target", ["a-file", "a-file/out"])
def test_an_output_path_that_is_or_lies_under_a_file_is_refused(tmp_path: Path, target: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    result = run_cli("run", SCENARIO, "-o", tmp_path / target, "--model", "mock", "-n", "1", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "a-file" in result.stderr


def test_a_directory_that_cannot_be_written_is_refused_before_any_model_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Path.open

    def refusing(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.suffix == ".jsonl":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing)
    with MockServer() as server:
        backend = AutogenBackend(ModelFactory({"default": model_config(server.base_url)}))
        options = RunOptions(out_dir=tmp_path / "out", dialogues=2, seed=0)
        with pytest.raises(OutputExists, match=r"cannot write to .*Permission denied"):
            asyncio.run(run_scenario(load_scenario(SCENARIO), backend, options))
        assert server.requests == []  # refused before any model call


def test_a_full_disk_stops_the_run_with_whole_records_and_resume_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = {"lines": 0}
    original = Path.open

    class Filling:
        """A record file on a disk that fills half way through the third record."""

        def __init__(self, handle: Any):
            self.handle = handle
            self.name = handle.name

        def write(self, text: str) -> int:
            if written["lines"] == 2:
                self.handle.write(text[: len(text) // 2])
                self.handle.flush()
                raise OSError(errno.ENOSPC, "No space left on device")
            written["lines"] += 1
            return self.handle.write(text)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.handle, name)

        def __enter__(self) -> Filling:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

    def opening(self: Path, *args: Any, **kwargs: Any) -> Any:
        handle = original(self, *args, **kwargs)
        return Filling(handle) if self.suffix == ".jsonl" else handle

    out = tmp_path / "out"
    monkeypatch.setattr(Path, "open", opening)
    with pytest.raises(OutputFailed, match="No space left on device"):
        _run(out, 5)
    monkeypatch.undo()
    for name in ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl"):  # no torn line anywhere
        data = (out / name).read_bytes()
        assert not data or data.endswith(b"\n")
    assert sum(len(items) for items in read_run(out).values()) == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and "No space left" in manifest["stopped"]["reason"]
    _run(out, 5, resume=True)
    assert sum(len(items) for items in read_run(out).values()) == 5


def test_resume_with_a_smaller_count_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli("run", SCENARIO, "-o", out, "--model", "mock", "-n", "4", "-q", cwd=tmp_path).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = run_cli("run", SCENARIO, "-o", out, "--model", "mock", "-n", "2", "--resume", "-q", cwd=tmp_path)
    assert result.returncode == 2 and "holds 4 dialogues" in result.stderr and "-n 4" in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched
