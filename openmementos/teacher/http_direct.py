"""The direct transport: a small keep-alive HTTP/1.1 client on asyncio protocols.

At hundreds of requests per second the client's own CPU decides the throughput. The teacher
needs very little of HTTP (one origin per pool, small JSON bodies, answers with Content-Length,
chunked encoding or a body to the close, gzip or deflate), and this client does just that on an
:class:`asyncio.Protocol` with one timer per request. Measured in the same run against aiohttp
and httpx (``benchmarks/bench_teacher.py --compare-transports``), it is the only one that holds
the throughput goal (within 1.15x of ideal at 128 requests in flight): aiohttp costs about 1.5x
its CPU per request, httpx about 3x. Being protocol code of our own, it is tested as a library
would be (``tests/test_httpclient.py``): every framing over real sockets, fuzzed answers, the
decompressed-size cap (:data:`~.httpclient.MAX_BODY_BYTES`), header and request-line injection,
TLS against a private CA.

Servers behind a proxy are reached through :mod:`.http_proxied` (aiohttp) instead.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from urllib.parse import quote, urlsplit

from . import httpclient as shared
from .httpclient import AnswerTooLarge, ConnectFailed, RequestTimeout, Response, TransportError, ssl_context

MAX_HEAD_BYTES = 64 * 1024
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"   # left as they are in a path; anything else is percent-encoded
_HEX = frozenset(b"0123456789abcdefABCDEF")


class _Stale(TransportError):
    """A reused keep-alive connection closed before a byte of answer: most often the server had
    dropped it while idle, so the request is sent once more on a fresh connection (never more:
    a server that read the request and then died could otherwise be sent it again and again)."""


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
            end, separator = _head_end(buffer)
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise TransportError("the server sent a response head over 64 KiB")
                return None
            head = _parse_head(bytes(buffer[:end]))
            del buffer[:end + separator]
            if 100 <= head[0] < 200:
                continue  # 100 Continue and other interim answers come before the real one
            self._head = head
        status, headers, keep_alive = self._head
        codings = [c.strip().lower() for c in headers.get("transfer-encoding", "").split(",") if c.strip()]
        if self._no_body or status in (204, 304):
            body = b""
            rest = len(buffer)
        elif codings:
            if codings[-1] != "chunked":
                raise TransportError(f"unsupported Transfer-Encoding {headers['transfer-encoding']!r}")
            parsed = _parse_chunked(buffer)
            if parsed is None:
                if eof:
                    raise TransportError("the connection closed in the middle of a chunked answer")
                return None
            body, rest = parsed
            for coding in reversed(codings[:-1]):  # e.g. "gzip, chunked": undo gzip after the chunks
                body = _decode(body, coding)
        elif "content-length" in headers:
            text = headers["content-length"].strip()
            if not (text.isascii() and text.isdigit()):
                raise TransportError(f"bad Content-Length: {headers['content-length']!r}")
            length = int(text)
            if length > shared.MAX_BODY_BYTES:
                raise AnswerTooLarge(f"the answer is {length:,} bytes, more than this client reads")
            if len(buffer) < length:
                if eof:
                    raise TransportError(f"the connection closed after {len(buffer)} of {length} body bytes")
                return None
            body, rest = bytes(buffer[:length]), len(buffer) - length
        else:  # no length given: the body runs to the end of the connection
            if len(buffer) > shared.MAX_BODY_BYTES:
                raise AnswerTooLarge("the answer is larger than this client reads")
            if not eof:
                return None
            body, rest, keep_alive = bytes(buffer), 0, False
        # an answer that came before the whole request was written leaves the stream out of step
        written = self.transport is not None and self.transport.get_write_buffer_size() == 0
        self.reusable = keep_alive and rest == 0 and not eof and written
        body = _decode(body, headers.get("content-encoding", ""))
        return Response(status, headers, body)


def _head_end(buffer: bytearray) -> tuple[int, int]:
    """Where the response head ends and the length of its blank line (CRLF CRLF, or a bare LF LF
    from a lax server); -1 while it has not arrived."""
    crlf, lf = buffer.find(b"\r\n\r\n"), buffer.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return crlf, 4
    return (lf, 2) if lf >= 0 else (-1, 0)


def _parse_head(raw: bytes) -> tuple[int, dict[str, str], bool]:
    lines = raw.decode("latin-1").replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ", 2)
    status = parts[1] if len(parts) >= 2 else ""
    if not parts[0].startswith("HTTP/") or len(status) != 3 or not (status.isascii() and status.isdigit()):
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
    return int(status), headers, keep_alive


def _parse_chunked(buffer: bytearray) -> tuple[bytes, int] | None:
    """The body and the count of bytes left after it, or None while it is incomplete."""
    body = bytearray()
    position = 0
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size_text = bytes(buffer[position:line_end]).split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 16 or not _HEX.issuperset(size_text):
            raise TransportError(f"bad chunk size in the response: {size_text[:20]!r}")
        size = int(size_text, 16)
        position = line_end + 2
        if size == 0:
            # trailers, if any, end with an empty line
            if buffer[position:position + 2] == b"\r\n":
                return bytes(body), len(buffer) - position - 2
            trailer_end = buffer.find(b"\r\n\r\n", position)
            if trailer_end < 0:
                return None
            return bytes(body), len(buffer) - trailer_end - 4
        if len(body) + size > shared.MAX_BODY_BYTES:
            raise AnswerTooLarge("the answer is larger than this client reads")
        if len(buffer) < position + size + 2:
            return None
        if buffer[position + size:position + size + 2] != b"\r\n":
            raise TransportError("a chunk of the response does not end where its size says")
        body += buffer[position:position + size]
        position += size + 2


def _decode(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if not encoding or encoding == "identity" or not body:
        return body
    try:
        if encoding in ("gzip", "x-gzip"):
            return _inflate(body, 16 + zlib.MAX_WBITS, encoding)
        if encoding == "deflate":
            try:
                return _inflate(body, zlib.MAX_WBITS, encoding)
            except zlib.error:
                return _inflate(body, -zlib.MAX_WBITS, encoding)   # raw deflate, as some servers send it
    except zlib.error as error:
        raise TransportError(f"could not decode a {encoding} answer: {error}") from None
    raise TransportError(f"the server answered with Content-Encoding {encoding!r}, which this client does not read")


def _inflate(body: bytes, wbits: int, encoding: str) -> bytes:
    """``body`` decompressed, never more than shared.MAX_BODY_BYTES of it (a gzip bomb stops there).
    A gzip body may hold several members one after another: each is decompressed in turn."""
    parts: list[bytes] = []
    size = 0
    rest = body
    while rest:
        inflater = zlib.decompressobj(wbits)
        data = inflater.decompress(rest, shared.MAX_BODY_BYTES + 1 - size)
        size += len(data)
        if size > shared.MAX_BODY_BYTES or inflater.unconsumed_tail:
            raise AnswerTooLarge(f"the {encoding} answer inflates to more than {shared.MAX_BODY_BYTES:,} bytes, more than this client reads")
        if not inflater.eof:
            raise zlib.error("incomplete or truncated stream")
        parts.append(data)
        rest = inflater.unused_data if wbits > zlib.MAX_WBITS else b""   # more gzip members
    return b"".join(parts)


class DirectPool:
    """Keep-alive connections to one origin, at most ``max_connections`` at once."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float, max_connections: int) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        # percent-encoded once here, so every request line is plain ASCII with no spaces
        self.prefix = quote(parts.path.rstrip("/"), safe=_PATH_SAFE) + "/"
        self.query = quote(parts.query, safe=_PATH_SAFE + "?")
        self.ever_connected = False       # any connection opened: the server exists
        self.ssl: ssl.SSLContext | None = ssl_context() if parts.scheme == "https" else None
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
        target = self.prefix + quote(path.lstrip("/"), safe=_PATH_SAFE)
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
            fresh = False
            while True:
                connection = await self._connection(deadline, fresh)
                try:
                    response = await self._exchange(connection, payload, method == "HEAD", deadline)
                except _Stale:
                    # the server dropped it while idle, and likely the other idle ones too
                    await self.aclose()
                    fresh = True
                    continue
                except BaseException:
                    connection.close()
                    raise
                if connection.reusable and not connection.closed:
                    self._idle.append(connection)
                else:
                    connection.close()
                return response

    async def _connection(self, deadline: float, fresh: bool) -> _Connection:
        while self._idle and not fresh:
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
        self.ever_connected = True
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
