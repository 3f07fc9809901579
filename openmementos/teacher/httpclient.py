"""A small keep-alive HTTP/1.1 client on asyncio protocols, for the teacher's JSON requests.

At hundreds of requests per second the client's own CPU decides the throughput: httpx spends
about a millisecond per request in its layers (anyio streams, h11 events, pool bookkeeping),
which is more than the rest of the pipeline together. The teacher needs very little of HTTP:
one host per pool, small JSON bodies, answers with Content-Length or chunked encoding. This
client does that directly on an :class:`asyncio.Protocol`, with one timer per request.

Requests through an HTTP proxy (``HTTPS_PROXY`` and friends) go through httpx instead, which
knows proxies; :func:`open_pool` picks.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
import ssl
import urllib.request
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024


class TransportError(Exception):
    """The request got no complete answer: connection refused, reset or closed, bad HTTP."""


class ConnectFailed(TransportError):
    """No connection could be opened: nothing listens there, or the name does not resolve."""


class RequestTimeout(TransportError):
    """No complete answer within the timeout."""


class _Stale(TransportError):
    """A reused keep-alive connection was closed before any answer: safe to send again."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]      # names lower-cased; repeated headers joined with ", "
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; answers one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.used = False                 # has carried a request before
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Response] | None = None
        self._head: tuple[int, dict[str, str], bool] | None = None   # status, headers, keep-alive
        self._no_body = False
        self.reusable = False

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: this connection cannot be trusted any more
            return
        self._buffer += data
        try:
            response = self._parse(eof=False)
        except TransportError as error:
            self._fail(error)
            return
        if response is not None:
            self._waiter.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        try:
            response = self._parse(eof=True) if self._head is not None else None
        except TransportError as error:
            self._fail(error)
            return
        if response is not None:
            self._waiter.set_result(response)
        elif not self._buffer and self._head is None:
            # not a byte of answer: on a reused connection the server had dropped it while idle
            self._waiter.set_exception(_Stale("the server closed the connection before answering"))
        else:
            reason = f": {exc}" if exc else ""
            self._waiter.set_exception(TransportError(f"the server closed the connection before answering{reason}"))

    # requests
    def send(self, payload: bytes, no_body: bool) -> asyncio.Future[Response]:
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        self._buffer.clear()
        self._head = None
        self._no_body = no_body
        self.reusable = False
        self.transport.write(payload)  # type: ignore[union-attr]
        return self._waiter

    def _fail(self, error: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # parsing
    def _parse(self, eof: bool) -> Response | None:
        buffer = self._buffer
        while self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise TransportError("the server sent a response head over 64 KiB")
                return None
            head = _parse_head(bytes(buffer[:end]))
            del buffer[:end + 4]
            if 100 <= head[0] < 200:
                continue  # 100 Continue and other interim answers come before the real one
            self._head = head
        status, headers, keep_alive = self._head
        if self._no_body or status in (204, 304):
            body = b""
            rest = len(buffer)
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            parsed = _parse_chunked(buffer)
            if parsed is None:
                if eof:
                    raise TransportError("the connection closed in the middle of a chunked answer")
                return None
            body, rest = parsed
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise TransportError(f"bad Content-Length: {headers['content-length']!r}") from None
            if len(buffer) < length:
                if eof:
                    raise TransportError(f"the connection closed after {len(buffer)} of {length} body bytes")
                return None
            body, rest = bytes(buffer[:length]), len(buffer) - length
        else:  # no length given: the body runs to the end of the connection
            if not eof:
                return None
            body, rest, keep_alive = bytes(buffer), 0, False
        self.reusable = keep_alive and rest == 0 and not eof
        body = _decode(body, headers.get("content-encoding", ""))
        return Response(status, headers, body)


def _parse_head(raw: bytes) -> tuple[int, dict[str, str], bool]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise TransportError(f"not an HTTP response: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise TransportError(f"bad header line in the response: {line[:80]!r}")
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection and (parts[0] != "HTTP/1.0" or "keep-alive" in connection)
    return int(parts[1]), headers, keep_alive


def _parse_chunked(buffer: bytearray) -> tuple[bytes, int] | None:
    """The body and the count of bytes left after it, or None while it is incomplete."""
    body = bytearray()
    position = 0
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size_text = bytes(buffer[position:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise TransportError(f"bad chunk size in the response: {size_text[:20]!r}") from None
        position = line_end + 2
        if size == 0:
            # trailers, if any, end with an empty line
            if buffer[position:position + 2] == b"\r\n":
                return bytes(body), len(buffer) - position - 2
            trailer_end = buffer.find(b"\r\n\r\n", position)
            if trailer_end < 0:
                return None
            return bytes(body), len(buffer) - trailer_end - 4
        if len(buffer) < position + size + 2:
            return None
        body += buffer[position:position + size]
        position += size + 2


def _decode(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if not encoding or encoding == "identity":
        return body
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except zlib.error as error:
        raise TransportError(f"could not decode a {encoding} answer: {error}") from None
    raise TransportError(f"the server answered with Content-Encoding {encoding!r}, which this client does not read")


class ConnectionPool:
    """Keep-alive connections to one origin, at most ``max_connections`` at once."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float, max_connections: int) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/") + "/"
        self.query = parts.query
        self.ssl: ssl.SSLContext | None = _ssl_context() if parts.scheme == "https" else None
        self.timeout = timeout
        self.max_connections = max_connections
        host_header = self.host if ":" not in self.host else f"[{self.host}]"
        if parts.port is not None:
            host_header += f":{parts.port}"
        fixed = {"Host": host_header, "User-Agent": "openmementos", "Accept": "application/json", **headers}
        for name, value in fixed.items():
            if any(c in f"{name}{value}" for c in "\r\n\0"):
                raise ValueError(f"the {name} header holds a line break or NUL")
        self._fixed_headers = "".join(f"{name}: {value}\r\n" for name, value in fixed.items()).encode("latin-1")
        self._idle: list[_Connection] = []
        self._slots: asyncio.Semaphore | None = None

    def _target(self, path: str) -> str:
        target = self.prefix + path.lstrip("/")
        if self.query:
            target += ("&" if "?" in target else "?") + self.query
        return target

    async def request(self, method: str, path: str, body: bytes | None = None) -> Response:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_connections)
        head = f"{method} {self._target(path)} HTTP/1.1\r\n".encode("latin-1") + self._fixed_headers
        if body is not None:
            head += b"Content-Length: %d\r\n" % len(body)
        payload = head + b"\r\n" + (body or b"")
        async with self._slots:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.timeout
            while True:
                connection = await self._connection(deadline)
                try:
                    response = await self._exchange(connection, payload, method == "HEAD", deadline)
                except _Stale:
                    continue  # the server dropped it while idle; nothing was sent to be answered
                except BaseException:
                    connection.close()
                    raise
                if connection.reusable and not connection.closed:
                    self._idle.append(connection)
                else:
                    connection.close()
                return response

    async def _connection(self, deadline: float) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(_Connection, self.host, self.port, ssl=self.ssl,
                                       server_hostname=self.host if self.ssl else None),
                timeout=max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            raise RequestTimeout(f"could not connect to {self.host}:{self.port} within {self.timeout:g}s") from None
        except OSError as error:
            raise ConnectFailed(f"could not connect to {self.host}:{self.port}: {error.strerror or error}") from None
        return connection

    async def _exchange(self, connection: _Connection, payload: bytes, no_body: bool, deadline: float) -> Response:
        reused = connection.used
        connection.used = True
        waiter = connection.send(payload, no_body)
        timer = asyncio.get_running_loop().call_at(deadline, _expire, waiter, self.timeout)
        try:
            return await waiter
        except _Stale as error:
            if reused:
                raise
            raise TransportError(str(error)) from None  # a fresh connection: nothing to blame on idling
        finally:
            timer.cancel()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _expire(waiter: asyncio.Future[Response], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(RequestTimeout(f"timed out after {timeout:g}s"))


def _ssl_context() -> ssl.SSLContext:
    # SSL_CERT_FILE / SSL_CERT_DIR name a private CA, as they do for httpx and OpenSSL itself
    return _ssl_context_for(os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None)


@functools.lru_cache(maxsize=4)
def _ssl_context_for(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    if cafile is None and capath is None:
        try:  # the same CA bundle httpx and requests use, where installed
            import certifi
            cafile = certifi.where()
        except ImportError:  # pragma: no cover - certifi comes with httpx
            pass
    return ssl.create_default_context(cafile=cafile, capath=capath)


class ProxiedPool:
    """The same interface over httpx, for origins reached through an HTTP proxy."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float, max_connections: int) -> None:
        try:
            import httpx2 as httpx
        except ImportError:  # pragma: no cover - depends on the openai release installed
            import httpx
        self._httpx = httpx
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout, trust_env=True,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections))
        self.timeout = timeout

    async def request(self, method: str, path: str, body: bytes | None = None) -> Response:
        try:
            response = await self._client.request(method, path.lstrip("/"), content=body)
        except self._httpx.ConnectError as error:
            raise ConnectFailed(f"could not connect: {error}") from None
        except self._httpx.TimeoutException as error:
            raise RequestTimeout(f"timed out after {self.timeout:g}s ({type(error).__name__})") from None
        except self._httpx.TransportError as error:
            raise TransportError(f"{type(error).__name__}: {error}") from None
        return Response(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()


def uses_proxy(base_url: str) -> bool:
    """Whether the environment routes this URL through a proxy (``*_PROXY``, ``NO_PROXY``)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if host == "localhost" or _is_loopback(host):
        return False  # a proxy elsewhere cannot reach a server on this machine
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(host)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_pool(base_url: str, headers: dict[str, str], timeout: float, max_connections: int, *,
              proxied: bool | None = None) -> Any:
    """A pool for ``base_url``: this module's client, or httpx where a proxy is in the way."""
    if proxied is None:
        proxied = uses_proxy(base_url)
    pool_class = ProxiedPool if proxied else ConnectionPool
    return pool_class(base_url, headers, timeout, max_connections)
