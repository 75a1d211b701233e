"""The lean client's aiohttp endpoint: connection faults keep their meaning, replies arrive whole.

Each fault is made by a real socket on 127.0.0.1 and seen through the client, as a run sees it.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import socket
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import openai
import pytest
from autogen_core.models import UserMessage

from rolecall.agents._retry import classify
from rolecall.models._direct import DirectOpenAIChatCompletionClient

COMPLETION = {
    "id": "c1",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
}


@contextmanager
def raw_server(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that gives each connection to ``handle``; yields its base URL.

    On exit every handler must have ended: one left looping on a closed socket kept a core busy
    for the rest of the test session (and starved the embedded model's threads in CI)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    handlers: list[threading.Thread] = []

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            handler = threading.Thread(target=handle, args=(connection,), daemon=True)
            handlers.append(handler)
            handler.start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join()
        listener.close()
        for handler in handlers:
            handler.join(timeout=5)
        assert not any(handler.is_alive() for handler in handlers), "a connection handler is still running"


def _receive(connection: socket.socket) -> bytes:
    chunk = connection.recv(65536)
    if not chunk:  # the client closed the connection: recv would return b"" forever
        raise ConnectionError("closed by the client")
    return chunk


def _read_request(connection: socket.socket) -> bytes:
    """One request's head (its body read and dropped); ConnectionError once the client has closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += _receive(connection)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
    )
    while len(body) < length:
        body += _receive(connection)
    return head


def _ask(base_url: str, timeout: float = 5.0, calls: int = 1) -> list[object]:
    """``calls`` completions through one lean client, each under its own ``asyncio.run`` and closed
    at its end (as a client reused across runs is); the replies' text or the errors raised."""
    client = DirectOpenAIChatCompletionClient(
        model="gpt-4o-mini", base_url=base_url, api_key="sk-test", max_retries=0, timeout=timeout
    )
    outcomes: list[object] = []

    async def one() -> None:
        try:
            reply = await client.create([UserMessage(content="x", source="user")])
            outcomes.append(reply.content)
        except Exception as error:
            outcomes.append(error)

    async def one_then_close() -> None:
        await one()
        await client.close()

    for _ in range(calls):
        asyncio.run(one_then_close())
    return outcomes


def test_a_refused_connection_is_a_connection_error_that_says_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    [error] = _ask(f"http://127.0.0.1:{port}/v1")
    # Not APITimeoutError (a subclass): the SDK's own aiohttp client reports this as a timeout.
    assert type(error) is openai.APIConnectionError
    failure = classify(error)  # type: ignore[arg-type]
    assert failure.refused and failure.healing == "retry"


def test_a_connection_dropped_before_the_reply_is_a_connection_error() -> None:
    def drop(connection: socket.socket) -> None:
        _read_request(connection)
        connection.close()

    with raw_server(drop) as url:
        [error] = _ask(url)
    assert type(error) is openai.APIConnectionError
    assert not classify(error).refused  # type: ignore[arg-type]


def test_a_reply_slower_than_the_timeout_is_a_timeout() -> None:
    release = threading.Event()

    def stall(connection: socket.socket) -> None:
        _read_request(connection)
        release.wait(5)
        connection.close()

    with raw_server(stall) as url:
        [error] = _ask(url, timeout=0.3)
        release.set()
    assert isinstance(error, openai.APITimeoutError)


def _keep_alive(body: bytes, headers: bytes, heads: list[bytes]) -> Callable[[socket.socket], None]:
    """A handler that answers every request on its connection with ``body``, keeping each head."""

    def answer(connection: socket.socket) -> None:
        with connection:
            while True:
                try:
                    heads.append(_read_request(connection))
                except ConnectionError:
                    return
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + headers
                    + b"Content-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )

    return answer


def test_a_compressed_reply_is_decoded_and_the_transport_serves_a_second_event_loop() -> None:
    heads: list[bytes] = []
    answer = _keep_alive(gzip.compress(json.dumps(COMPLETION).encode()), b"Content-Encoding: gzip\r\n", heads)
    with raw_server(answer) as url:
        assert _ask(url, calls=2) == ["hi", "hi"]
    # The SDK client's headers reach the server.
    assert all(b"authorization: bearer sk-test" in head.lower() for head in heads)


def test_a_client_used_under_two_event_loops_and_never_closed_leaves_nothing_open(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A library user's ``asyncio.run`` twice with one client, never closing it: each loop's
    session and connections are closed as that loop ends, not left to warn when collected."""
    replies: list[object] = []
    heads: list[bytes] = []
    with raw_server(_keep_alive(json.dumps(COMPLETION).encode(), b"", heads)) as url:
        client = DirectOpenAIChatCompletionClient(model="gpt-4o-mini", base_url=url, api_key="sk-test", max_retries=0)

        async def ask(client: DirectOpenAIChatCompletionClient) -> None:
            replies.append((await client.create([UserMessage(content="x", source="user")])).content)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            asyncio.run(ask(client))
            asyncio.run(ask(client))
            del client
            gc.collect()
    assert replies == ["hi", "hi"]
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert [r.getMessage() for r in caplog.records if "nclosed" in r.getMessage()] == []


def test_requests_go_through_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """As httpx did: HTTP_PROXY is honoured (the model's host does not even resolve here)."""
    body = json.dumps(COMPLETION).encode()
    heads: list[bytes] = []

    def proxy(connection: socket.socket) -> None:
        with connection:
            heads.append(_read_request(connection))
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )

    with raw_server(proxy) as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url.removesuffix("/v1"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert _ask("http://model.invalid/v1") == ["hi"]
    assert heads[0].startswith(b"POST http://model.invalid/v1/chat/completions ")
