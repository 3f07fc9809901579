"""The teacher's own HTTP/1.1 client against real sockets on 127.0.0.1.

A scripted raw TCP server answers each request with exact bytes, so every framing the client
must read (Content-Length, chunked in pieces, body-until-close, interim 100, gzip) and every way
a connection ends (keep-alive, ``Connection: close``, a server dropping an idle connection, no
answer at all) is exercised on the wire. The engine-level behaviour is in test_llm_teacher.py.
"""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest

from openmementos.teacher.http_direct import DirectPool as ConnectionPool
from openmementos.teacher.httpclient import RequestTimeout, TransportError
from scripted_http import ScriptedServer, _ok, _run


def _one_after_another(answer, count: int, base_suffix: str = "", path: str = "x") -> tuple[ScriptedServer, list]:
    """``count`` requests in turn through one pool, to a server that answers with ``answer``."""
    server = ScriptedServer(answer)

    async def scenario():
        async with server as url:
            pool = ConnectionPool(url + base_suffix, {}, 5.0, 2)
            answers = [await pool.request("POST", path, b"{}") for _ in range(count)]
            await pool.aclose()
        return answers

    return server, _run(scenario())


def test_keep_alive_reuses_one_connection_and_sends_what_was_asked():
    async def scenario():
        server = ScriptedServer(lambda request: ([_ok(request["body"])], False))
        async with server as url:
            pool = ConnectionPool(url + "?api-version=1", {"Authorization": "Bearer k"}, 5.0, 4)
            answers = [await pool.request("POST", "chat/completions", json.dumps({"n": i}).encode()) for i in range(5)]
            await pool.aclose()
        return server, answers

    server, answers = _run(scenario())
    assert [json.loads(a.body) for a in answers] == [{"n": i} for i in range(5)]
    assert all(a.status == 200 and a.headers["content-type"] == "application/json" for a in answers)
    assert server.connections == 1
    first = server.requests[0]
    assert first["line"] == "POST /v1/chat/completions?api-version=1 HTTP/1.1"
    assert first["headers"]["host"].startswith("127.0.0.1:")
    assert first["headers"]["authorization"] == "Bearer k"


def test_concurrent_requests_open_at_most_max_connections():
    async def scenario():
        server = ScriptedServer(lambda request: ([b"", _ok(request["body"])], False))
        async with server as url:
            pool = ConnectionPool(url, {}, 5.0, 3)
            answers = await asyncio.gather(*(pool.request("POST", "x", b"%d" % i) for i in range(12)))
            await pool.aclose()
        return server, answers

    server, answers = _run(scenario())
    assert sorted(int(a.body) for a in answers) == list(range(12))
    assert server.connections == 3


@pytest.mark.parametrize("pieces", [
    # chunked, split inside the size line, the data and the final CRLF; an extension and a trailer
    [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r", b"\nhel", b"lo\r\n6\r\n wor", b"ld\r\n0\r\nX-T: 1\r\n\r", b"\n"],
    # interim 100 Continue before the real answer
    [b"HTTP/1.1 100 Continue\r\n\r\n", _ok(b"hello world")],
    # the head and the body in separate packets, header names in odd case
    [b"HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: 11\r\n\r\n", b"hello", b" world"],
    # gzip-encoded
    [_ok(gzip.compress(b"hello world"), "Content-Encoding: gzip")],
    # gzip as a transfer coding under chunked
    [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
     + b"%x\r\n" % len(gzip.compress(b"hello world")) + gzip.compress(b"hello world") + b"\r\n0\r\n\r\n"],
    # a lax server ending its head lines with a bare LF
    [b"HTTP/1.1 200 OK\nContent-Length: 11\n\nhello world"],
])
def test_each_framing_gives_the_whole_body_and_keeps_the_connection(pieces):
    server, answers = _one_after_another(lambda request: (pieces, False), 2)
    assert [a.body for a in answers] == [b"hello world"] * 2
    assert server.connections == 1


def test_a_body_without_length_runs_to_the_close_and_the_next_request_reconnects():
    server, answers = _one_after_another(lambda request: ([b"HTTP/1.0 200 OK\r\n\r\n", b"until ", b"close"], True), 2)
    assert [a.body for a in answers] == [b"until close"] * 2
    assert server.connections == 2


def test_connection_close_and_a_server_dropping_idle_connections_lose_no_request():
    # The server answers, then closes every connection after one request: the second request
    # finds its pooled connection dead and must go out again on a new one, exactly once.
    async def scenario():
        server = ScriptedServer(lambda request: ([_ok(b"ok")], True))
        async with server as url:
            pool = ConnectionPool(url, {}, 5.0, 2)
            first = await pool.request("POST", "x", b"1")
            await asyncio.sleep(0.1)  # let the close arrive
            second = await pool.request("POST", "x", b"2")
            await pool.aclose()
        return server, first, second

    server, first, second = _run(scenario())
    assert (first.body, second.body) == (b"ok", b"ok")
    assert [r["body"] for r in server.requests] == [b"1", b"2"]


def test_a_reused_connection_closed_before_any_answer_is_sent_again_on_a_new_one():
    # keep-alive answers, but the server drops connection 1 when its second request arrives
    def answer(request):
        on_first = [r for r in server.requests if r["connection"] == 1]
        if request["connection"] == 1 and len(on_first) == 2:
            return [], True
        return [_ok(request["body"])], False

    server = ScriptedServer(answer)

    async def scenario():
        async with server as url:
            pool = ConnectionPool(url, {}, 5.0, 2)
            answers = [await pool.request("POST", "x", b"%d" % i) for i in range(3)]
            await pool.aclose()
        return answers

    assert [a.body for a in _run(scenario())] == [b"0", b"1", b"2"]
    assert [(r["connection"], r["body"]) for r in server.requests] == [(1, b"0"), (1, b"1"), (2, b"1"), (2, b"2")]


def test_an_empty_error_body_marked_gzip_gives_the_status_not_a_decoding_error():
    answer = b"HTTP/1.1 500 Internal Server Error\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n"
    _, (response,) = _one_after_another(lambda request: ([answer], False), 1)
    assert (response.status, response.body) == (500, b"")


def test_a_request_the_server_reads_then_drops_is_sent_at_most_twice():
    # four warm keep-alive connections; then the server reads each request and hangs up: the
    # client may resend once on a fresh connection (the idle ones were likely dropped), never more
    def answer(request):
        return ([_ok(b"warm")], False) if len(server.requests) <= 4 else ([], True)

    server = ScriptedServer(answer)

    async def scenario():
        async with server as url:
            pool = ConnectionPool(url, {}, 5.0, 4)
            await asyncio.gather(*(pool.request("POST", "x", b"warm") for _ in range(4)))
            assert len(pool._idle) == 4
            with pytest.raises(TransportError, match="closed the connection before answering"):
                await pool.request("POST", "x", b"paid")
            await pool.aclose()

    _run(scenario())
    assert [r["body"] for r in server.requests].count(b"paid") == 2


def test_a_base_url_path_with_spaces_or_non_ascii_is_percent_encoded():
    server, _ = _one_after_another(lambda request: ([_ok(b"ok")], False), 1, "/team a/caf\u00e9", "chat/completions")
    assert server.requests[0]["line"] == "POST /v1/team%20a/caf%C3%A9/chat/completions HTTP/1.1"


def test_a_server_that_closes_a_fresh_connection_without_answering_is_an_error_not_a_resend():
    async def scenario():
        server = ScriptedServer(lambda request: ([], True))
        async with server as url:
            pool = ConnectionPool(url, {}, 5.0, 2)
            with pytest.raises(TransportError, match="closed the connection before answering"):
                await pool.request("POST", "x", b"{}")
        return server

    assert len(_run(scenario()).requests) == 1


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


def test_no_answer_within_the_timeout_and_a_refused_port_are_reported():
    async def scenario():
        async with ScriptedServer(lambda request: ([b"HTTP/1.1 200 OK\r\n"], False)) as url:
            pool = ConnectionPool(url, {}, 0.3, 2)
            with pytest.raises(RequestTimeout, match="timed out after 0.3s"):
                await pool.request("POST", "x", b"{}")
        closed = ConnectionPool(url, {}, 2.0, 2)  # the server is gone now
        with pytest.raises(TransportError, match="could not connect to 127.0.0.1"):
            await closed.request("POST", "x", b"{}")

    _run(scenario())


def test_header_injection_and_non_http_urls_are_refused():
    with pytest.raises(ValueError, match="line break"):
        ConnectionPool("http://127.0.0.1:1/v1", {"Authorization": "Bearer k\r\nX-Evil: 1"}, 1.0, 1)
    with pytest.raises(ValueError, match="not an http"):
        ConnectionPool("ftp://example.com/v1", {}, 1.0, 1)
