"""The teacher's HTTP transport: a keep-alive connection pool per server, on aiohttp.

The engine needs very little of HTTP (small JSON POSTs to one origin per pool), but it needs it
fast and safe: aiohttp reads every framing (Content-Length, chunked, to the close, gzip) with a
C parser and holds the throughput goal at a fraction of httpx's CPU per request
(``benchmarks/bench_teacher.py``). This module adds what the teacher wants on top:

- one error vocabulary for the engine (:class:`TransportError` and two subclasses);
- a cap on the *decompressed* answer (a small gzip answer may not inflate to gigabytes);
- proxies from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``),
  never for a server on this machine;
- certificates checked against certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``;
- at most one resend, on a fresh connection, when a kept-alive connection turns out to have been
  closed by the server while idle (a POST is not resent more than that: the server may have read it).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
import ssl
import urllib.request
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp
from yarl import URL

# The most bytes of one answer this client reads, as sent and once gzip/deflate is undone: a
# 16K-token chat completion is about 100 KB, so a runaway server or a gzip bomb stops here.
MAX_BODY_BYTES = 32 * 2**20
_READ_CHUNK = 2**16
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"   # left as they are in a path; anything else is percent-encoded


class TransportError(Exception):
    """The request got no complete answer: connection refused, reset or closed, bad HTTP."""


class ConnectFailed(TransportError):
    """No connection could be opened: nothing listens there, the name does not resolve, or the
    server's certificate is not trusted."""


class RequestTimeout(TransportError):
    """No complete answer within the timeout."""


class AnswerTooLarge(TransportError):
    """The answer is larger than MAX_BODY_BYTES, as sent or once decompressed: asking again would
    only bring the same flood."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]      # names lower-cased; repeated headers joined with ", "
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


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


class ConnectionPool:
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
        self.ssl: ssl.SSLContext | bool = _ssl_context() if parts.scheme == "https" else False
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
                if response.content_length is not None and response.content_length > MAX_BODY_BYTES:
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
    refused once it passes :data:`MAX_BODY_BYTES`."""
    pieces: list[bytes] = []
    size = 0
    try:
        async for piece in response.content.iter_chunked(_READ_CHUNK):
            size += len(piece)
            if size > MAX_BODY_BYTES:
                response.close()   # drop the connection: the rest of the answer is never read
                raise AnswerTooLarge(f"the answer inflates to more than {MAX_BODY_BYTES:,} bytes, more than this client reads")
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


def _ssl_context() -> ssl.SSLContext:
    # SSL_CERT_FILE / SSL_CERT_DIR name a private CA, as they do for httpx and OpenSSL itself
    return _ssl_context_for(os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None)


@functools.lru_cache(maxsize=4)
def _ssl_context_for(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    if cafile is None and capath is None:
        try:  # the same CA bundle httpx and requests use, where installed
            import certifi
            cafile = certifi.where()
        except ImportError:  # pragma: no cover - certifi comes with aiohttp's and datasets' dependencies
            pass
    return ssl.create_default_context(cafile=cafile, capath=capath)


def proxy_for(base_url: str) -> str | None:
    """The proxy the environment names for this URL (``*_PROXY``, honouring ``NO_PROXY``), or
    None. A server on this machine is always reached directly: a proxy elsewhere cannot reach it."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if host == "localhost" or _is_loopback(host):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def public_url(url: str) -> str:
    """A base URL fit for a message: no user:password@ and no query (either may hold a secret)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path, "", ""))


def uses_proxy(base_url: str) -> bool:
    """Whether the environment routes this URL through a proxy."""
    return proxy_for(base_url) is not None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_pool(base_url: str, headers: dict[str, str], timeout: float, max_connections: int) -> ConnectionPool:
    """A keep-alive pool for ``base_url`` (through the environment's proxy, if it names one)."""
    return ConnectionPool(base_url, headers, timeout, max_connections)
