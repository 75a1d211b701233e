"""The mock model over HTTP: an OpenAI-compatible ``/v1/chat/completions`` on a loopback address.

A real HTTP server rather than an in-process fake, so the engine's real client stack (AutoGen's
``OpenAIChatCompletionClient``, the openai SDK, retries, usage accounting) is what gets tested,
and any OpenAI-compatible tool can be pointed at it. It only ever binds loopback addresses: it
answers anything that reaches it, and it is a test double, not a service.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rolecall.mock._brain import MockBrain
from rolecall.mock._roles import UnknownRole, role_of
from rolecall.mock._settings import MODEL, MockSettings

LOCALHOST = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``localhost``, ``127.x.y.z``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Injected(Exception):
    """A failure the ``fail_roles`` knob asked for."""

    def __init__(self, status: int):
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    server: MockServer
    # Keep-alive, as real servers do: a client's connection pool is exercised as in production.
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet: tests and benchmarks read their own output
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "rolecall"}]})
        else:
            self._send(404, _error("not found: the mock serves POST /v1/chat/completions", "not_found"))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, _error("not found: the mock serves POST /v1/chat/completions", "not_found"))
            return
        try:
            body = json.loads(raw)
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise ValueError("the request has no messages")
        except ValueError as error:
            self._send(400, _error(f"bad request: {error}", "invalid_request_error"))
            return
        number = self.server.received(body)
        fault = self.server.fault_for(raw)
        if fault:
            self._fault(fault)
            return
        if body.get("stream"):
            self._send(400, _error("the mock model does not stream; send stream=false", "invalid_request_error"))
            return
        try:
            message = self.server.answer(body)
        except _Injected as failure:
            self._send(failure.status, _error("injected failure", "server_error"))
            return
        except UnknownRole as error:
            self._send(400, _error(str(error), "invalid_request_error"))
            return
        except (KeyError, IndexError, TypeError, ValueError) as error:  # a prompt the mock cannot read
            self._send(500, _error(f"the mock could not answer: {type(error).__name__}: {error}", "server_error"))
            return
        usage = {
            "prompt_tokens": len(json.dumps(body["messages"])) // 4,
            "completion_tokens": len(json.dumps(message)) // 4,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        self._send(
            200,
            {
                "id": f"chatcmpl-{number}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": body.get("model", MODEL),
                "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
                "usage": usage,
            },
        )

    def _fault(self, kind: str) -> None:
        """Answer with one of the transport faults real servers produce."""
        if kind == "dropped":  # the connection closes with no answer at all
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind == "server_error":
            self._send(500, _error("injected server error", "server_error"))
        elif kind == "rate_limited":
            self._send(429, _error("injected rate limit", "rate_limit_error"), {"retry-after": "0"})
        elif kind == "html":
            self._send_raw(200, "text/html", b"<html><body><h1>Gateway login</h1></body></html>")
        elif kind == "no_choices":
            self._send(200, {"id": "x", "object": "chat.completion", "created": 1, "model": MODEL, "choices": []})
        else:  # truncated: the body stops half way
            self._send_raw(200, "application/json", b'{"id": "x", "object": "chat.completion", "choi')

    def _send_raw(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        if self.server.settings.latency_s:
            time.sleep(self.server.settings.latency_s)
        data = json.dumps(payload).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


FAULT_KINDS = ("server_error", "rate_limited", "html", "no_choices", "truncated", "dropped")


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


class MockServer(ThreadingHTTPServer):
    """The mock model, served from a daemon thread while used as a context manager::

        with MockServer(confirm=True) as server:
            config = model_config(server.base_url)

    Knobs come as a :class:`MockSettings` or as keyword arguments (which win). ``requests``
    holds every request body received (for tests; ``keep_requests=False``, as the standalone
    server runs, keeps none, so a long benchmark does not grow the server by every prompt it was
    sent), ``role_counts`` how many each role got.
    """

    daemon_threads = True
    request_queue_size = 1024  # socketserver's 5 drops connections when hundreds open at once

    def __init__(
        self,
        settings: MockSettings | None = None,
        *,
        host: str = LOCALHOST,
        port: int = 0,
        confirm: bool | None = None,
        sloppy_every: int | None = None,
        latency_s: float | None = None,
        fail_roles: dict[str, int] | None = None,
        keep_requests: bool = True,
    ):
        if not is_loopback(host):
            raise ValueError(f"the mock model only serves loopback addresses, not {host!r}")
        given = {"confirm": confirm, "sloppy_every": sloppy_every, "latency_s": latency_s, "fail_roles": fail_roles}
        knobs = {key: value for key, value in given.items() if value is not None}
        self.settings = MockSettings(**{**(settings or MockSettings()).model_dump(), **knobs})
        if ":" in host.strip("[]"):
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), port), _Handler)
        self.brain = MockBrain(self.settings)
        self.fail_roles = dict(self.settings.fail_roles)  # counted down as failures are served
        self._sent: dict[bytes, int] = {}  # request digest -> times received (fault draws)
        self._fault_lock = threading.Lock()
        self.faults_served = 0
        self.requests: list[dict[str, Any]] = []
        self.keep_requests = keep_requests
        self._numbers = itertools.count(1)  # next() is atomic under the GIL: handler threads share it
        self.connections_accepted = 0  # TCP connections opened by clients (keep-alive reuses them)
        self.role_counts: dict[str, int] = {}
        self._counting = threading.Lock()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: MockSettings, *, host: str = LOCALHOST, port: int = 0) -> MockServer:
        """A server with ``settings`` (as :func:`parse_mock_spec` gives them), not yet started,
        that keeps no request bodies (``rolecall run --model mock`` may send it thousands)."""
        return cls(settings, host=host, port=port, keep_requests=False)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if self.address_family == socket.AF_INET6 else host
        return f"http://{shown}:{port}/v1"

    def start(self) -> MockServer:
        """Serve from a daemon thread (idempotent)."""
        if self._thread is None:
            # A short poll: ``close`` (shutdown) waits up to one poll interval; tests start many servers.
            self._thread = threading.Thread(
                target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="rolecall-mock", daemon=True
            )
            self._thread.start()
        return self

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client goes away mid-reply (a run stopped with Ctrl-C); report the rest."""
        error = sys.exc_info()[1]
        if isinstance(error, BrokenPipeError | ConnectionResetError):
            return
        super().handle_error(request, client_address)

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def get_request(self) -> tuple[socket.socket, Any]:
        accepted = super().get_request()
        self.connections_accepted += 1  # one accepting thread: no lock needed
        return accepted

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fault_for(self, raw: bytes) -> str | None:
        """The transport fault for this request, if ``fault_rate`` says it gets one. Decided from
        the request's bytes and how often they were sent before, so a retry of the same request
        may succeed and the same run meets the same faults at any concurrency."""
        rate = self.settings.fault_rate
        if not rate:
            return None
        key = hashlib.sha256(raw).digest()  # not the body itself: a long run sends gigabytes
        with self._fault_lock:
            seen = self._sent.get(key, 0)
            self._sent[key] = seen + 1
        digest = hashlib.sha256(raw + b"#" + str(seen).encode()).digest()
        if int.from_bytes(digest[:4], "big") / 2**32 >= rate:
            return None
        self.faults_served += 1
        return FAULT_KINDS[digest[4] % len(FAULT_KINDS)]

    def received(self, body: dict[str, Any]) -> int:
        """Count (and, for tests, keep) a request; its number names the completion."""
        if self.keep_requests:
            self.requests.append(body)
        return next(self._numbers)

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """The reply message for ``body``; raises ``_Injected`` where ``fail_roles`` says to fail."""
        role = role_of(body)
        with self._counting:
            self.role_counts[role] = self.role_counts.get(role, 0) + 1
            remaining = self.fail_roles.get(role, 0)
            if remaining:
                self.fail_roles[role] = remaining - 1 if remaining > 0 else remaining
                raise _Injected(500)
        return self.brain.reply(role, body)
