"""Shared fixtures: a minimal valid scenario, writing files into tmp_path, running the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

MINIMAL_SCENARIO = """\
name: shop
description: A shop.
personas:
  - A customer.
tools:
  - name: get_order
    parameters:
      type: object
      properties:
        order_id: {type: string}
      required: [order_id]
"""


@pytest.fixture
def minimal_scenario() -> str:
    """The text of a small valid scenario (one persona, one tool ``get_order``)."""
    return MINIMAL_SCENARIO


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """``write(name, content)`` puts a text or bytes file under tmp_path and returns its path."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return _write


@pytest.fixture
def rolecall(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``rolecall(*args, timeout=60)`` runs ``python -m rolecall ARGS`` in tmp_path."""

    def _run(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rolecall", *map(str, args)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )

    return _run
