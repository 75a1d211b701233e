"""A run's clients keep alive as many connections as it has requests in flight."""

from __future__ import annotations

import asyncio

import httpx2
from autogen_core.models import UserMessage

from rolecall.mock import MockServer, model_config
from rolecall.models import ModelFactory
from rolecall.models._endpoint import ChatEndpoint


def _connections_for_two_waves(connections: int | None, width: int) -> int:
    """TCP connections the mock accepts for two waves of ``width`` requests at once."""
    with MockServer(latency_s=0.3) as server:
        factory = ModelFactory({"default": model_config(server.base_url)}, connections=connections)
        client = factory.client_for("user")

        async def waves() -> None:
            for _ in range(2):
                # Requests the mock cannot place in a role: answered 400 at once, which is enough here.
                asks = [client.create([UserMessage(content=f"hello {n}", source="user")]) for n in range(width)]
                await asyncio.gather(*asks, return_exceptions=True)
            await factory.close()

        asyncio.run(waves())
        return server.connections_accepted


def test_a_pool_sized_to_the_run_reuses_every_connection() -> None:
    assert _connections_for_two_waves(130, 130) == 130


def test_a_client_without_a_known_concurrency_keeps_what_it_opened() -> None:
    assert _connections_for_two_waves(None, 130) == 130


def test_a_capped_endpoint_opens_no_more_connections_than_its_cap() -> None:
    """Eight requests at once through an endpoint capped at 3: they queue for three connections."""
    with MockServer(latency_s=0.2) as server:
        endpoint = ChatEndpoint(f"{server.base_url}/chat/completions", {}, httpx2.Timeout(5.0), connections=3)

        async def eight_at_once() -> None:
            await asyncio.gather(*(endpoint.post(b'{"messages": []}') for _ in range(8)))
            await endpoint.close()

        asyncio.run(eight_at_once())
        assert server.connections_accepted == 3
