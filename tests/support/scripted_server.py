"""The mock model under the names the engine tests use (``rolecall.mock`` holds the real thing).

``model_config`` names the key through ``${ROLECALL_TEST_KEY}``, so tests can check that a key
given by environment variable never reaches any output file.
"""

from __future__ import annotations

from typing import Any

from rolecall.mock import MODEL, MockServer, MockSettings
from rolecall.mock import model_config as _mock_model_config
from rolecall.mock._brain import MockBrain
from rolecall.mock._values import object_for, value_for

__all__ = ["MODEL", "MockSettings", "ScriptedBrain", "ScriptedServer", "model_config", "object_for", "value_for"]

ScriptedServer = MockServer
ScriptedBrain = MockBrain


def model_config(base_url: str, structured_output: bool = True) -> dict[str, Any]:
    """An AutoGen component config pointing at the mock, keyed by ``${ROLECALL_TEST_KEY}``."""
    return _mock_model_config(base_url, structured_output, api_key="${ROLECALL_TEST_KEY}")
