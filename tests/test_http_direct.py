"""The teacher's own HTTP/1.1 client against real sockets on 127.0.0.1.

What only this client does, or does otherwise than the aiohttp pool: a transfer coding aiohttp
does not read, its own messages for broken answers, the header injection it refuses itself. The
framings and failures both pools must handle run on both in test_httpclient.py (``any_pool``);
the engine-level behaviour is in test_llm_teacher.py.
"""

from __future__ import annotations

import gzip

import pytest

from openmementos.teacher.http_direct import DirectPool as ConnectionPool
from openmementos.teacher.httpclient import TransportError
from scripted_http import ScriptedServer, _ok, _run, one_after_another


def _one_after_another(answer, count: int, base_suffix: str = "", path: str = "x") -> tuple[ScriptedServer, list]:
    return one_after_another(ConnectionPool, answer, count, base_suffix, path)


def test_gzip_as_a_transfer_coding_under_chunked_gives_the_whole_body_and_keeps_the_connection():
    # the framings both pools read are in test_httpclient.py; this one only the own client reads
    body = gzip.compress(b"hello world")
    pieces = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"]
    server, answers = _one_after_another(lambda request: (pieces, False), 2)
    assert [a.body for a in answers] == [b"hello world"] * 2
    assert server.connections == 1


@pytest.mark.parametrize("pieces, complaint", [
    ([b"SSH-2.0-OpenSSH\r\n\r\n"], "not an HTTP response"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"], "closed after 5 of 50 body bytes"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], "bad chunk size"),
    ([_ok(b"xx", "Content-Encoding: br")], "Content-Encoding 'br'"),
    # a negative size once sent the parser back to the same line for ever, inside the event loop
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\nabc\r\n"], "bad chunk size"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdeXY3\r\nfgh\r\n0\r\n\r\n"], "does not end where its size says"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx"], "unsupported Transfer-Encoding"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabcdef"], "bad Content-Length"),
    ([b"HTTP/1.1 2\xc2\xb200 OK\r\nContent-Length: 0\r\n\r\n"], "not an HTTP response"),
])
def test_broken_answers_are_transport_errors(pieces, complaint):
    async def scenario():
        async with ScriptedServer(lambda request: (pieces, True)) as url:
            pool = ConnectionPool(url, {}, 5.0, 2)
            with pytest.raises(TransportError, match=complaint):
                await pool.request("POST", "x", b"{}")

    _run(scenario())


def test_header_injection_and_non_http_urls_are_refused():
    with pytest.raises(ValueError, match="line break"):
        ConnectionPool("http://127.0.0.1:1/v1", {"Authorization": "Bearer k\r\nX-Evil: 1"}, 1.0, 1)
    with pytest.raises(ValueError, match="not an http"):
        ConnectionPool("ftp://example.com/v1", {}, 1.0, 1)
