"""OpenAI-family clients: the lean request path, over aiohttp, with a pool sized to the run.

Configs naming AutoGen's ``OpenAIChatCompletionClient`` get ``DirectOpenAIChatCompletionClient``,
its subclass with the same config keys and requests, less CPU per call (see ``_direct``). Its
requests go through the openai SDK's HTTP client with an aiohttp transport (see ``_aiohttp``).

The SDK's default httpx pool keeps at most 100 idle connections, and httpcore looks at every one
of its connections on each request and each response closed: at 256 dialogues in flight that
was about a third of the process's CPU (profiled). aiohttp's connector takes an idle connection
for a host from a queue, so a run keeps one connection per dialogue in flight without that cost.
"""

from __future__ import annotations

from typing import Any

import httpx2
from autogen_core.models import ChatCompletionClient
from openai import DefaultAsyncHttpxClient
from pydantic import SecretStr

from rolecall.models._aiohttp import AiohttpTransport
from rolecall.models._direct import DirectOpenAIChatCompletionClient
from rolecall.models._lenient import LenientOpenAIChatCompletionClient, LenientTransport

# The SDK's own cap on open connections, for a client built without a known concurrency.
DEFAULT_CONNECTIONS = 1000


def openai_client(config: dict[str, Any], connections: int | None) -> ChatCompletionClient:
    """The client ``config`` describes, built as AutoGen's loader builds it, on the lean request
    path. ``connections``: the run's concurrency, the connections kept open for reuse (None: the
    SDK's cap of 1000 open at once)."""
    lenient = config["provider"].rsplit(".", 1)[-1] == "LenientOpenAIChatCompletionClient"
    client_class = LenientOpenAIChatCompletionClient if lenient else DirectOpenAIChatCompletionClient
    validated = client_class.component_config_schema.model_validate(config.get("config", {}))
    arguments = validated.model_dump(exclude_none=True)
    if isinstance(validated.api_key, SecretStr):
        arguments["api_key"] = validated.api_key.get_secret_value()
    # A sized run lets in-flight requests bound the connections (no cap: none waits for one).
    transport: httpx2.AsyncBaseTransport = AiohttpTransport(None if connections else DEFAULT_CONNECTIONS)
    if lenient:
        http_client = httpx2.AsyncClient(transport=LenientTransport(transport), timeout=600)
    else:
        http_client = DefaultAsyncHttpxClient(transport=transport)
    return client_class(**arguments, http_client=http_client)
