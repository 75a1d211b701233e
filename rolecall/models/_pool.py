"""OpenAI-family clients: the lean request path, with an HTTP connection pool sized to the run.

Configs naming AutoGen's ``OpenAIChatCompletionClient`` get ``DirectOpenAIChatCompletionClient``,
its subclass with the same config keys and requests, less CPU per call (see ``_direct``).

The openai SDK keeps at most 100 idle connections. A run with more dialogues in flight than that
closes and reopens connections on every request, and the pool, which scans its connections on
each request, spends CPU on the churn. A run that knows its concurrency gives the client a pool
that keeps that many connections alive (and no cap on how many are open).

httpcore's pool looks at every one of its connections on each request and on each response
closed, so its CPU per request grows with the pool: at 256 dialogues in flight it was about a
third of the process's CPU (profiled), and a request cost 6.8 ms against 3.8 ms at 16. A large
pool is therefore split into pools of :data:`SHARD_CONNECTIONS`, which requests take in turn.

The SDK's aiohttp client (``DefaultAioHttpClient``) spends less CPU per request (1.3-1.4 ms
against 2.0 ms through httpx, measured side by side against the mock), but its transport reports
a refused or dropped connection as a connect timeout: a failed dialogue would carry the wrong
cause, and a run against a server that is not there would not stop. httpx stays.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx2
from autogen_core.models import ChatCompletionClient
from openai import DefaultAsyncHttpxClient
from pydantic import SecretStr

from rolecall.models._direct import DirectOpenAIChatCompletionClient
from rolecall.models._lenient import LenientOpenAIChatCompletionClient, LenientTransport

# Connections per pool: each request scans one pool, not all of them.
SHARD_CONNECTIONS = 32


class ShardedTransport(httpx2.AsyncBaseTransport):
    """Several connection pools behind one transport, taken in turn by successive requests."""

    def __init__(self, connections: int):
        shards = max(1, -(-connections // SHARD_CONNECTIONS))
        # Each pool may keep every connection it ever opens: its share of requests varies a
        # little, and closing one to open another is the churn the sizing exists to avoid.
        limits = httpx2.Limits(max_connections=None, max_keepalive_connections=connections)
        self.shards = [httpx2.AsyncHTTPTransport(limits=limits) for _ in range(shards)]
        self._turn = itertools.cycle(self.shards)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await next(self._turn).handle_async_request(request)

    async def aclose(self) -> None:
        for shard in self.shards:
            await shard.aclose()


def openai_client(config: dict[str, Any], connections: int | None) -> ChatCompletionClient:
    """The client ``config`` describes, built as AutoGen's loader builds it, on the lean request
    path, with a pool that keeps ``connections`` connections alive (None: the SDK's default)."""
    lenient = config["provider"].rsplit(".", 1)[-1] == "LenientOpenAIChatCompletionClient"
    client_class = LenientOpenAIChatCompletionClient if lenient else DirectOpenAIChatCompletionClient
    validated = client_class.component_config_schema.model_validate(config.get("config", {}))
    arguments = validated.model_dump(exclude_none=True)
    if isinstance(validated.api_key, SecretStr):
        arguments["api_key"] = validated.api_key.get_secret_value()
    if connections is None:
        return client_class(**arguments)
    if lenient:
        http_client = httpx2.AsyncClient(transport=LenientTransport(ShardedTransport(connections)), timeout=600)
    else:
        http_client = DefaultAsyncHttpxClient(transport=ShardedTransport(connections))
    return client_class(**arguments, http_client=http_client)
