"""A run's clients keep alive as many connections as it has requests in flight."""

from __future__ import annotations

import asyncio

import httpx2
from autogen_core.models import UserMessage

from rolecall.mock import MockServer, model_config
from rolecall.models import ModelFactory


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


def test_the_sdk_default_pool_reopens_what_it_cannot_keep() -> None:
    assert _connections_for_two_waves(None, 130) > 130


def test_a_large_pool_is_split_into_pools_that_requests_take_in_turn() -> None:
    """httpcore scans its whole pool on every request: 256 connections are 8 pools of 32."""
    from rolecall.models._pool import SHARD_CONNECTIONS, ShardedTransport

    assert len(ShardedTransport(8 * SHARD_CONNECTIONS).shards) == 8
    assert len(ShardedTransport(SHARD_CONNECTIONS + 1).shards) == 2
    assert len(ShardedTransport(1).shards) == 1
    with MockServer() as server:
        transport = ShardedTransport(3 * SHARD_CONNECTIONS)
        used = []

        async def three_requests() -> None:
            for shard in transport.shards:  # record which pool served each request
                original = shard.handle_async_request

                async def recorded(request, shard=shard, original=original):  # type: ignore[no-untyped-def]
                    used.append(transport.shards.index(shard))
                    return await original(request)

                shard.handle_async_request = recorded  # type: ignore[method-assign]
            async with httpx2.AsyncClient(transport=transport) as client:
                for _ in range(4):
                    await client.post(f"{server.base_url}/chat/completions", json={"messages": []})

        asyncio.run(three_requests())
    assert used == [0, 1, 2, 0]
