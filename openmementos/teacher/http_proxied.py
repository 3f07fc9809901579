"""The transport for servers behind an HTTP proxy: a keep-alive pool on aiohttp.

aiohttp speaks to proxies (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, honouring
``NO_PROXY``; never for a server on this machine), reads every framing with its C parser and
inflates gzip a bounded amount per read, so the decompressed-size cap holds here too. It takes
about 1.5x the CPU per request of :mod:`.http_direct`, which is why direct connections do not use
it. At most one resend, on a fresh connection, when a kept-alive connection turns out to have
been closed by the server while idle.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from types import SimpleNamespace
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from . import httpclient as shared
from .httpclient import AnswerTooLarge, ConnectFailed, RequestTimeout, Response, TransportError, proxy_for, ssl_context

_READ_CHUNK = 2**16
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"   # left as they are in a path; anything else is percent-encoded


async def _reused(session, context: SimpleNamespace, params) -> None:
    context.trace_request_ctx.reused = True


async def _connected(session, context: SimpleNamespace, params) -> None:
    context.trace_request_ctx.connected = True


def _trace_config() -> aiohttp.TraceConfig:
    # tells each request whether it went out on a kept-alive connection (only those are resent)
    trace = aiohttp.TraceConfig()
    trace.on_connection_reuseconn.append(_reused)
    trace.on_connection_create_end.append(_connected)
    trace.freeze()
    return trace


class ProxiedPool:
    """Keep-alive connections to one origin, at most ``max_connections`` at once.

    Created outside an event loop; its aiohttp session opens on the first request, in the loop
    that makes it, and :meth:`aclose` must run in that same loop.
    """

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float, max_connections: int) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        for name, value in headers.items():
            if any(c in f"{name}{value}" for c in "\r\n\0"):
                raise ValueError(f"the {name} header holds a line break or NUL")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        origin = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port is not None else "")
        # percent-encoded once here, so every request target is plain ASCII with no spaces
        self._prefix = origin + quote(parts.path.rstrip("/"), safe=_PATH_SAFE) + "/"
        self._query = quote(parts.query, safe=_PATH_SAFE + "?")
        self._urls: dict[str, URL] = {}
        self.proxy = proxy_for(base_url)
        self.headers = {"User-Agent": "openmementos", "Accept": "application/json", **headers}
        self.timeout = timeout
        self.max_connections = max_connections
        self.ssl: ssl.SSLContext | bool = ssl_context() if parts.scheme == "https" else False
        self.ever_connected = False       # any connection opened: the server exists
        self._session: aiohttp.ClientSession | None = None
        self._fresh: aiohttp.ClientSession | None = None    # one connection per request: for the resend

    def _url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            target = self._prefix + quote(path.lstrip("/"), safe=_PATH_SAFE)
            if self._query:
                target += ("&" if "?" in target else "?") + self._query
            url = self._urls[path] = URL(target, encoded=True)
        return url

    def _open(self, keep_alive: bool) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0, ssl=self.ssl,
                                         force_close=not keep_alive)
        # trust_env stays off: the proxy comes from proxy_for (which never proxies this machine),
        # and aiohttp's .netrc lookup would clash with the Authorization header we send
        return aiohttp.ClientSession(connector=connector, headers=self.headers, trust_env=False,
                                     timeout=aiohttp.ClientTimeout(total=self.timeout),
                                     trace_configs=[_trace_config()])

    async def request(self, method: str, path: str, body: bytes | None = None) -> Response:
        if self._session is None:
            self._session = self._open(keep_alive=True)
        url = self._url(path)
        state = SimpleNamespace(reused=False, connected=False)
        try:
            return await self._send(self._session, method, url, body, state)
        except aiohttp.ServerDisconnectedError:
            if not state.reused:
                raise TransportError("the server closed the connection before answering") from None
        # The kept-alive connection was closed by the server while idle (the common case), or the
        # server read the request and died: send it once more, on a fresh connection, never again.
        if self._fresh is None:
            self._fresh = self._open(keep_alive=False)
        state = SimpleNamespace(reused=False, connected=False)
        try:
            return await self._send(self._fresh, method, url, body, state)
        except aiohttp.ServerDisconnectedError:
            raise TransportError("the server closed the connection before answering") from None

    async def _send(self, session: aiohttp.ClientSession, method: str, url: URL, body: bytes | None,
                    state: SimpleNamespace) -> Response:
        """One exchange; aiohttp's errors become the engine's. ServerDisconnectedError passes
        through for :meth:`request` to decide on the resend."""
        try:
            async with session.request(method, url, data=body, proxy=self.proxy, trace_request_ctx=state,
                                       allow_redirects=False) as response:
                self.ever_connected = True
                codings = response.headers.get("Transfer-Encoding", "").replace(" ", "").lower()
                if codings not in ("", "chunked", "identity"):
                    # aiohttp undoes chunked only: another transfer coding would reach us still encoded
                    raise TransportError(f"unsupported Transfer-Encoding {codings!r}")
                if response.content_length is not None and response.content_length > shared.MAX_BODY_BYTES:
                    raise AnswerTooLarge(f"the answer is {response.content_length:,} bytes, more than this client reads")
                content = await _read_capped(response)
                headers: dict[str, str] = {}
                for name, value in response.headers.items():
                    name = name.lower()
                    headers[name] = f"{headers[name]}, {value}" if name in headers else value
                return Response(response.status, headers, content)
        except aiohttp.ServerDisconnectedError:
            self.ever_connected = self.ever_connected or state.connected or state.reused
            raise
        except asyncio.TimeoutError:
            self.ever_connected = self.ever_connected or state.connected or state.reused
            if not (state.connected or state.reused):
                raise RequestTimeout(f"could not connect to {self.host}:{self.port} within {self.timeout:g}s") from None
            raise RequestTimeout(f"timed out after {self.timeout:g}s") from None
        except aiohttp.ClientConnectorError as error:
            raise ConnectFailed(f"could not connect to {self.host}:{self.port}: {_reason(error)}") from None
        except aiohttp.ClientResponseError as error:   # aiohttp's parser refused what the server sent
            self.ever_connected = True
            raise TransportError(f"bad HTTP from the server: {_reason(error)}") from None
        except aiohttp.ClientError as error:
            self.ever_connected = True   # it failed after the connection was made
            raise TransportError(f"{type(error).__name__}: {_reason(error)}") from None
        except ValueError as error:      # e.g. a header aiohttp refuses
            raise TransportError(str(error)) from None

    async def aclose(self) -> None:
        for session in (self._session, self._fresh):
            if session is not None:
                await session.close()
        self._session = self._fresh = None


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The body, decompressed chunk by chunk (aiohttp inflates a bounded amount per network read),
    refused once it passes :data:`shared.MAX_BODY_BYTES`."""
    pieces: list[bytes] = []
    size = 0
    try:
        async for piece in response.content.iter_chunked(_READ_CHUNK):
            size += len(piece)
            if size > shared.MAX_BODY_BYTES:
                response.close()   # drop the connection: the rest of the answer is never read
                raise AnswerTooLarge(f"the answer inflates to more than {shared.MAX_BODY_BYTES:,} bytes, more than this client reads")
            pieces.append(piece)
    except aiohttp.ClientPayloadError as error:
        raise TransportError(f"broken answer body: {_reason(error)}") from None
    return b"".join(pieces)


def _reason(error: BaseException) -> str:
    """A short text for an aiohttp error (their own str() can run to several lines)."""
    if isinstance(error, (aiohttp.ClientResponseError, aiohttp.ClientPayloadError)) and getattr(error, "message", None):
        return " ".join(str(error.message).split())[:300]
    cause = getattr(error, "os_error", None) or error.__cause__ or error
    number = getattr(cause, "errno", None)
    if isinstance(number, int) and number > 0 and not isinstance(cause, ssl.SSLError):
        return os.strerror(number)   # "Connection refused", not asyncio's "Connect call failed (...)"
    text = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
    return " ".join(str(text).split())[:300]
