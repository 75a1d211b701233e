"""An httpx transport that sends requests through aiohttp: the openai SDK's client, less CPU.

The SDK talks to httpx; httpx hands each request to a transport. httpx's own transport (httpcore)
costs about 1.5 ms of CPU per request against a local server, aiohttp about 0.45 ms (measured
side by side), and at thousands of dialogues the HTTP layer was the largest part of the
framework's cost per model call. The SDK, its headers, auth, timeouts, retries and error classes
stay as they are: only the bytes travel through aiohttp.

Why not the SDK's own ``DefaultAioHttpClient``: its vendored transport maps exceptions by walking
a table in order, and a refused connection (``ClientConnectorError``, a subclass of
``ClientConnectionError``) comes out as ``ConnectTimeout``, a dropped one as well. The SDK then
raises ``APITimeoutError``: a run against a server that is not there would retry as if slow and
record the wrong cause. Here the mapping checks the most specific class first.

Bodies are read whole: rolecall never streams a completion, and a read body frees its
connection for the next request at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import httpx2

# Response headers that no longer describe the body once aiohttp has read it.
_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})


def httpx_error(error: Exception) -> httpx2.TransportError:
    """The httpx exception that describes ``error`` (an aiohttp or asyncio one), so the SDK
    classifies it as it would have through httpx: timeouts as timeouts, the rest as connection
    errors."""
    message = str(error) or type(error).__name__
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return httpx2.ConnectTimeout(message)
    if isinstance(error, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return httpx2.ReadTimeout(message)
    if isinstance(error, aiohttp.ClientProxyConnectionError):
        return httpx2.ProxyError(message)
    if isinstance(error, aiohttp.ClientConnectorError):  # refused, unreachable, DNS, TLS
        return httpx2.ConnectError(message)
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return httpx2.RemoteProtocolError(message)
    if isinstance(error, aiohttp.InvalidURL):
        return httpx2.UnsupportedProtocol(message)
    return httpx2.ReadError(message)  # a payload cut short, a reset connection


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """httpx's transport interface over one aiohttp session per event loop.

    ``connections`` caps the connections open at once (None: no cap; in-flight requests are
    already bounded by the run's concurrency). Idle connections are kept for reuse.
    """

    def __init__(self, connections: int | None = None):
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_for_this_loop(self) -> aiohttp.ClientSession:
        # A session belongs to the loop it was made in; a client reused under a later
        # asyncio.run (tests, `rolecall eval` between phases) gets a new one.
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            connector = aiohttp.TCPConnector(limit=self.connections or 0, limit_per_host=0)
            # trust_env: proxies from HTTP(S)_PROXY and NO_PROXY, as httpx honours them.
            self._session = aiohttp.ClientSession(connector=connector, trust_env=True, auto_decompress=False)
            self._loop = loop
        return self._session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        session = self._session_for_this_loop()
        timeout: dict[str, Any] = request.extensions.get("timeout", {})
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=await request.aread() or None,
                allow_redirects=False,
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            ) as response:
                body = await response.read()
                headers = [(k, v) for k, v in response.raw_headers if k.lower() not in _BODY_HEADERS]
                status = response.status
                reason = response.reason
        except (TimeoutError, aiohttp.ClientError) as error:
            raise httpx_error(error) from error
        # httpx decodes a compressed body (gzip, br) from its Content-Encoding header.
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if reason:
            extensions["reason_phrase"] = reason.encode()
        return httpx2.Response(status, headers=headers, content=body, request=request, extensions=extensions)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
