"""One chat-completions URL, posted to over aiohttp: the HTTP half of the lean OpenAI request path.

Through the openai SDK and httpx, a request cost about 1.1 ms more CPU than the same request
through aiohttp alone (a whole ``create``: 1.7 ms against 0.6 ms, measured side by side against
the mock): the SDK builds its options, headers and URL again for every request, and httpx's
client and pool add their own layers. At thousands of dialogues that was the largest part of the
framework's cost per model call.

What the SDK decides stays the SDK's: the URL, the headers (user agent, API key, organisation,
``default_headers``) and the timeout are read once from the SDK client AutoGen builds, and a
status error is made by the SDK's own code, so retries classify exactly what they classified
before. A refused or dropped connection is ``APIConnectionError``, a slow one ``APITimeoutError``
(the SDK's own aiohttp client reports a refused connection as a timeout: a run against a server
that is not there would retry as if slow and record the wrong cause).

Bodies are read whole: rolecall never streams a completion, and a read body frees its connection
for the next request at once.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.parse
import urllib.request
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx2
import openai


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: list[tuple[bytes, bytes]]
    content: bytes


class ChatEndpoint:
    """POSTs JSON bodies to one URL, over one aiohttp session per event loop.

    ``connections`` caps the connections open at once (None: no cap; the run's concurrency
    already bounds the requests in flight). Idle connections are kept for reuse.
    """

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        timeout: httpx2.Timeout,
        connections: int | None = None,
    ):
        self.url = url
        self._headers = dict(headers)
        self._timeout = aiohttp.ClientTimeout(sock_connect=timeout.connect, sock_read=timeout.read)
        self._connections = connections
        # Read once (httpx reads them too): HTTP(S)_PROXY, unless NO_PROXY names the host.
        parts = urllib.parse.urlsplit(url)
        bypass = urllib.request.proxy_bypass(parts.hostname or "")
        self._proxy = None if bypass else urllib.request.getproxies().get(parts.scheme)
        self._ssl: ssl.SSLContext | bool = _certifi_context() if parts.scheme == "https" else True
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closer: AsyncGenerator[None] | None = None

    async def _session_for_this_loop(self) -> aiohttp.ClientSession:
        # A session belongs to the loop it was made in; a client reused under a later
        # asyncio.run (a library user's, a test's) gets a new one.
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            connector = aiohttp.TCPConnector(limit=self._connections or 0, limit_per_host=0, ssl=self._ssl)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
            self._loop = loop
            self._closer = _closed_when_the_loop_ends(self._session)
            await anext(self._closer)
        return self._session

    async def post(self, body: bytes) -> HttpReply:
        """The server's reply to ``body``; a connection that fails or times out raises the
        openai SDK's ``APIConnectionError`` or ``APITimeoutError`` (the aiohttp error as cause)."""
        session = await self._session_for_this_loop()
        try:
            async with session.post(
                self.url, data=body, headers=self._headers, timeout=self._timeout, proxy=self._proxy
            ) as response:
                content = await response.read()
                return HttpReply(response.status, list(response.raw_headers), content)
        except (TimeoutError, aiohttp.ServerTimeoutError) as error:
            raise openai.APITimeoutError(request=httpx2.Request("POST", self.url)) from error
        except aiohttp.ClientError as error:
            request = httpx2.Request("POST", self.url)
            raise openai.APIConnectionError(message=f"Connection error: {error}", request=request) from error

    def as_httpx(self, reply: HttpReply) -> httpx2.Response:
        """``reply`` as the httpx response the SDK's error classes carry."""
        headers = [(k, v) for k, v in reply.headers if k.lower() not in (b"content-encoding", b"content-length")]
        return httpx2.Response(
            reply.status, headers=headers, content=reply.content, request=httpx2.Request("POST", self.url)
        )

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


async def _closed_when_the_loop_ends(session: aiohttp.ClientSession) -> AsyncGenerator[None]:
    """Started in a loop, this closes ``session`` on that loop as the loop ends: ``asyncio.run``
    closes the loop's open async generators before it closes the loop (``shutdown_asyncgens``).
    A client that is never closed then leaves no session or connection behind its loop, where
    one made again for a later loop would otherwise be collected unclosed, with aiohttp's errors."""
    try:
        yield
    finally:
        await session.close()


def endpoint_of(sdk_client: openai.AsyncOpenAI, path: str, connections: int | None) -> ChatEndpoint:
    """The endpoint ``sdk_client`` would post ``path`` to, with its headers and timeout.

    Through AutoGen's component config a client authenticates with a static API key (the
    config's ``api_key`` or ``OPENAI_API_KEY``), so the headers can be read once."""
    url = str(sdk_client.base_url).rstrip("/") + path
    if sdk_client.default_query:
        url += "?" + urllib.parse.urlencode(sdk_client.default_query)
    # As the SDK merges them: a header the config sets (its default_headers) wins over the key's.
    headers: dict[str, Any] = {**sdk_client.auth_headers, **sdk_client.default_headers}
    # The SDK's "Omit" markers (a header nobody set) are not sent.
    sent = {name: value for name, value in headers.items() if isinstance(value, str)}
    timeout = sdk_client.timeout
    if not isinstance(timeout, httpx2.Timeout):
        timeout = httpx2.Timeout(timeout if isinstance(timeout, int | float) else None)
    return ChatEndpoint(url, sent, timeout, connections)


def _certifi_context() -> ssl.SSLContext:
    """The certificates httpx (and so the SDK) trusts: certifi's, where it is installed."""
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())
