"""The end-of-run summary points at the dialogues worth reading."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from rolecall._progress import RunDisplay


def _summary(accepted: int, tmp_path: Path) -> str:
    display = RunDisplay("retail-orders", 2, enabled=False)
    display.console = Console(file=io.StringIO(), width=200)
    manifest = {"counts": {"accepted": accepted, "rejected": 2 - accepted, "failed": 0}, "usage": {}}
    display.report(manifest, tmp_path / "run")
    return display.console.file.getvalue()  # type: ignore[attr-defined]


def test_with_dialogues_accepted_the_summary_names_the_accepted_file(tmp_path: Path) -> None:
    assert f"rolecall view {tmp_path / 'run' / 'dialogues.jsonl'}" in _summary(1, tmp_path)


def test_with_none_accepted_the_summary_shows_how_to_read_the_rejections(tmp_path: Path) -> None:
    text = _summary(0, tmp_path)
    assert f"rolecall view {tmp_path / 'run'} --rejected" in text and "dialogues.jsonl" not in text.split("\n")[-2]
