"""A running mock model per test: a fresh brain, so plans of one test never answer another's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rolecall.mock import MockServer


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer() as running:
        yield running


@pytest.fixture
def confirming() -> Iterator[MockServer]:
    with MockServer(confirm=True) as running:
        yield running
