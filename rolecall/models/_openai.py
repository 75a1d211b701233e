"""OpenAI-family clients, built from their component configs onto the lean request path.

Configs naming AutoGen's ``OpenAIChatCompletionClient`` get ``DirectOpenAIChatCompletionClient``,
its subclass with the same config keys and requests, less CPU per call (see ``_direct``); those
naming rolecall's lenient client get that one. Both keep as many connections open as the run has
requests in flight: the SDK's default pool kept 100 idle, and a run with more in flight closed
and reopened connections on every request.
"""

from __future__ import annotations

from typing import Any

from autogen_core.models import ChatCompletionClient
from pydantic import SecretStr

from rolecall.models._direct import DirectOpenAIChatCompletionClient
from rolecall.models._lenient import LenientOpenAIChatCompletionClient


def openai_client(config: dict[str, Any], connections: int | None) -> ChatCompletionClient:
    """The client ``config`` describes, built as AutoGen's loader builds it, on the lean request
    path. ``connections``: the run's concurrency (None: not known; connections are not capped)."""
    lenient = config["provider"].rsplit(".", 1)[-1] == "LenientOpenAIChatCompletionClient"
    client_class = LenientOpenAIChatCompletionClient if lenient else DirectOpenAIChatCompletionClient
    validated = client_class.component_config_schema.model_validate(config.get("config", {}))
    arguments = validated.model_dump(exclude_none=True)
    if isinstance(validated.api_key, SecretStr):
        arguments["api_key"] = validated.api_key.get_secret_value()
    return client_class(**arguments, connections=connections)
