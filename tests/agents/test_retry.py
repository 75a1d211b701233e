"""Failing model calls through the real OpenAI client and real HTTP: what is retried, how long
it waits, what stops the run, and that the reason names the real cause."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rolecall.agents import RetryPolicy, RoleError, RunAborted, UserReply
from rolecall.agents._autogen import AutogenStructuredRole
from rolecall.mock import model_config
from rolecall.models import ModelFactory

REPLY = {"message": "Hello.", "status": "continue"}
COMPLETION = {
    "id": "x",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(REPLY)}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}
# (status, headers, body) per request, in order; the last one repeats.
Script = list[tuple[int, dict[str, str], bytes]]


def _json(status: int, payload: Any, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json", **headers}, json.dumps(payload).encode()


OK = _json(200, COMPLETION)
ERROR = {"error": {"message": "nope", "type": "x"}}


class _Faulty(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.requests = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out has closed its connection when its event loop ended: the
        # slow reply meets a broken pipe, which is the client's doing, not a server fault.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Faulty

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        status, headers, body = self.server.script[min(self.server.requests, len(self.server.script) - 1)]
        self.server.requests += 1
        headers = dict(headers)
        time.sleep(float(headers.pop("x-delay", 0)))  # a reply slower than the client waits
        self.send_response(status)
        for key, value in {"content-length": str(len(body)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def faulty() -> Iterator[Any]:
    servers: list[_Faulty] = []

    def start(script: Script) -> _Faulty:
        server = _Faulty(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _role(base_url: str, retries: int = 2, timeout: float | None = None) -> AutogenStructuredRole:
    config = model_config(base_url)
    if timeout is not None:
        config["config"]["timeout"] = timeout
    client = ModelFactory({"default": config}).client_for("user")
    return AutogenStructuredRole("user", client, lambda text: text, RetryPolicy(retries, backoff_s=0.01))


def _ask(role: AutogenStructuredRole) -> UserReply:
    return asyncio.run(role.ask("You are a customer.", "Say hello.", UserReply))


def _url(server: _Faulty) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


@pytest.mark.parametrize("status", [401, 403, 404])
def test_errors_that_cannot_heal_stop_the_run_after_one_request(faulty: Any, status: int) -> None:
    server = faulty([_json(status, ERROR)])
    with pytest.raises(RunAborted) as stopped:
        _ask(_role(_url(server)))
    assert server.requests == 1  # no retry
    assert f"HTTP {status}" in stopped.value.reason and stopped.value.role == "user"


def test_a_bad_request_fails_the_call_at_once_without_stopping_the_run(faulty: Any) -> None:
    server = faulty([_json(400, ERROR)])
    with pytest.raises(RoleError) as failed:
        _ask(_role(_url(server)))
    assert server.requests == 1 and failed.value.cause == "BadRequestError"


def test_server_errors_are_retried_exactly_n_times(faulty: Any) -> None:
    server = faulty([_json(500, ERROR)])
    with pytest.raises(RoleError) as failed:
        _ask(_role(_url(server), retries=2))
    assert server.requests == 3  # the first attempt and 2 retries
    assert "after 2 retries" in failed.value.reason and failed.value.cause == "InternalServerError"
    healing = faulty([_json(500, ERROR), _json(502, ERROR), OK])
    assert _ask(_role(_url(healing), retries=2)) == UserReply(**REPLY)


def test_a_429_waits_as_long_as_retry_after_says(faulty: Any) -> None:
    server = faulty([_json(429, ERROR, **{"retry-after": "1"}), OK])
    started = time.monotonic()
    assert _ask(_role(_url(server))) == UserReply(**REPLY)
    assert time.monotonic() - started >= 1.0 and server.requests == 2


@pytest.mark.parametrize(
    ("response", "named"),
    [
        ((200, {"content-type": "text/html"}, b"<html><body>Login</body></html>"), "not a chat completion"),
        (_json(200, {**COMPLETION, "choices": []}), "no choices"),
    ],
    ids=["html", "empty-choices"],
)
def test_a_reply_that_is_not_a_chat_completion_is_named_for_what_it_is(
    faulty: Any, response: tuple[int, dict[str, str], bytes], named: str
) -> None:
    server = faulty([response])
    with pytest.raises(RoleError) as failed:
        _ask(_role(_url(server), retries=1))
    assert named in failed.value.reason and server.requests == 2


def test_a_server_that_refuses_every_connection_stops_the_run() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(RunAborted) as stopped:
        _ask(_role(f"http://127.0.0.1:{port}/v1", retries=1))
    assert "refused every connection (2 attempts)" in stopped.value.reason


def test_a_reply_slower_than_the_client_timeout_is_retried(faulty: Any) -> None:
    slow = (200, {"content-type": "application/json", "x-delay": "1.5"}, json.dumps(COMPLETION).encode())
    server = faulty([slow, OK])
    assert _ask(_role(_url(server), timeout=0.5)) == UserReply(**REPLY)
    assert server.requests == 2


@pytest.mark.parametrize(("header", "expected"), [("2", 2.0), ("soon", None), ("", None)])
def test_a_retry_after_that_is_not_a_number_or_a_date_is_ignored(header: str, expected: float | None) -> None:
    from rolecall.agents._retry import _retry_after

    error = types.SimpleNamespace(response=types.SimpleNamespace(headers={"retry-after": header}))
    assert _retry_after(error) == expected
