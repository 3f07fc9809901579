"""The teacher's HTTP transport: what every pool shares, and :func:`open_pool`, which picks one.

The engine needs very little of HTTP (small JSON POSTs to one origin per pool), but it needs it
fast and safe. Two pools implement one small interface (``request``, ``aclose``,
``ever_connected``):

- :mod:`.http_direct`, the toolkit's own keep-alive HTTP/1.1 client, for servers reached
  directly: the only transport that holds the throughput goal (``benchmarks/bench_teacher.py``);
- :mod:`.http_proxied`, on aiohttp, for servers behind a proxy named by the environment.

Both answer with one error vocabulary (:class:`TransportError` and its subclasses), cap the
answer at :data:`MAX_BODY_BYTES` as sent and once decompressed (a gzip bomb stops there), check
certificates against certifi's bundle or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, and resend a
request at most once, on a fresh connection, when a kept-alive connection was closed while idle.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import ssl
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# The most bytes of one answer a pool reads, as sent and once gzip/deflate is undone: a
# 16K-token chat completion is about 100 KB, so a runaway server or a gzip bomb stops here.
MAX_BODY_BYTES = 32 * 2**20


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


def ssl_context() -> ssl.SSLContext:
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


def open_pool(base_url: str, headers: dict[str, str], timeout: float, max_connections: int, *,
              proxied: bool | None = None) -> Any:
    """A keep-alive pool for ``base_url``: the direct client, or aiohttp where the environment
    names a proxy for it (``proxied`` forces either)."""
    from .http_direct import DirectPool
    from .http_proxied import ProxiedPool

    if proxied is None:
        proxied = uses_proxy(base_url)
    return (ProxiedPool if proxied else DirectPool)(base_url, headers, timeout, max_connections)
