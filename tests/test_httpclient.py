"""The teacher's HTTP transports on real sockets: the aiohttp pool whole, and both pools against
what a hostile server may send.

A scripted raw TCP server answers each request with exact bytes, so every framing the transport
must read (Content-Length, chunked in pieces, body-until-close, interim 100, gzip) and every way
a connection ends (keep-alive, ``Connection: close``, a server dropping an idle connection, no
answer at all) is exercised on the wire, along with what a hostile server may send (oversized
and gzip-bomb answers, broken framing) and what the client must never send (header injection).
The engine-level behaviour is in test_llm_teacher.py.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import shutil
import ssl
import subprocess

import pytest

from openmementos.teacher import httpclient
from openmementos.teacher.engine import Engine
from openmementos.teacher.http_direct import DirectPool
from openmementos.teacher.http_proxied import ProxiedPool
from openmementos.teacher.httpclient import ConnectFailed, RequestTimeout, TransportError, open_pool, proxy_for, uses_proxy
from openmementos.testing import FakeOpenAI
from scripted_http import ScriptedServer, _ok, _run, one_after_another

# The aiohttp pool (behind proxies) is tested whole here, the direct client in test_http_direct.py;
# the tests a hand-written client must pass like a library (injection, the size cap, fuzzed
# answers, TLS) run on both through ``any_pool``.
ConnectionPool = ProxiedPool


@pytest.fixture(params=["direct", "aiohttp"])
def any_pool(request, monkeypatch):
    monkeypatch.setitem(globals(), "ConnectionPool", {"direct": DirectPool, "aiohttp": ProxiedPool}[request.param])
    return request.param


def _one_after_another(answer, count: int, base_suffix: str = "", path: str = "x") -> tuple[ScriptedServer, list]:
    # the pool class is read at call time: ``any_pool`` swaps it
    return one_after_another(ConnectionPool, answer, count, base_suffix, path)


def test_keep_alive_reuses_one_connection_and_sends_what_was_asked(any_pool):
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


def test_concurrent_requests_open_at_most_max_connections(any_pool):
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
    # a lax server ending its head lines with a bare LF
    [b"HTTP/1.1 200 OK\nContent-Length: 11\n\nhello world"],
])
def test_each_framing_gives_the_whole_body_and_keeps_the_connection(any_pool, pieces):
    server, answers = _one_after_another(lambda request: (pieces, False), 2)
    assert [a.body for a in answers] == [b"hello world"] * 2
    assert server.connections == 1


def test_a_body_without_length_runs_to_the_close_and_the_next_request_reconnects(any_pool):
    server, answers = _one_after_another(lambda request: ([b"HTTP/1.0 200 OK\r\n\r\n", b"until ", b"close"], True), 2)
    assert [a.body for a in answers] == [b"until close"] * 2
    assert server.connections == 2


def test_connection_close_and_a_server_dropping_idle_connections_lose_no_request(any_pool):
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


def test_a_reused_connection_closed_before_any_answer_is_sent_again_on_a_new_one(any_pool):
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
    # "1" went out once more, on a fresh connection; "2" on that one again (the own client keeps
    # it alive) or on a new one (aiohttp)
    last = {"direct": 2, "aiohttp": 3}[any_pool]
    assert [(r["connection"], r["body"]) for r in server.requests] == [(1, b"0"), (1, b"1"), (2, b"1"), (last, b"2")]


def test_an_empty_error_body_marked_gzip_gives_the_status_not_a_decoding_error(any_pool):
    answer = b"HTTP/1.1 500 Internal Server Error\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n"
    _, (response,) = _one_after_another(lambda request: ([answer], False), 1)
    assert (response.status, response.body) == (500, b"")


def test_a_request_the_server_reads_then_drops_is_sent_at_most_twice(any_pool):
    # four warm keep-alive connections; then the server reads each request and hangs up: the
    # client may resend once on a fresh connection (the idle ones were likely dropped), never more
    def answer(request):
        return ([_ok(b"warm")], False) if len(server.requests) <= 4 else ([], True)

    server = ScriptedServer(answer)

    async def scenario():
        async with server as url:
            pool = ConnectionPool(url, {}, 5.0, 4)
            await asyncio.gather(*(pool.request("POST", "x", b"warm") for _ in range(4)))
            assert server.connections == 4
            if any_pool == "direct":
                assert len(pool._idle) == 4  # all four kept alive, waiting in the pool
            with pytest.raises(TransportError, match="closed the connection before answering"):
                await pool.request("POST", "x", b"paid")
            await pool.aclose()

    _run(scenario())
    assert [r["body"] for r in server.requests].count(b"paid") == 2


def test_a_base_url_path_with_spaces_or_non_ascii_is_percent_encoded(any_pool):
    server, _ = _one_after_another(lambda request: ([_ok(b"ok")], False), 1, "/team a/caf\u00e9", "chat/completions")
    assert server.requests[0]["line"] == "POST /v1/team%20a/caf%C3%A9/chat/completions HTTP/1.1"


def test_a_server_that_closes_a_fresh_connection_without_answering_is_an_error_not_a_resend(any_pool):
    async def scenario():
        server = ScriptedServer(lambda request: ([], True))
        async with server as url:
            pool = ConnectionPool(url, {}, 5.0, 2)
            with pytest.raises(TransportError, match="closed the connection before answering"):
                await pool.request("POST", "x", b"{}")
        return server

    assert len(_run(scenario()).requests) == 1


@pytest.mark.parametrize("pieces, complaint", [
    ([b"SSH-2.0-OpenSSH\r\n\r\n"], "bad HTTP from the server: Bad status line"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"], "received 5 of 50 bytes"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], "chunk size"),
    ([_ok(b"xx", "Content-Encoding: br")], "content-encoding"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\nabc\r\n"], "chunk size"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdeXY3\r\nfgh\r\n0\r\n\r\n"], "after chunk data"),
    # aiohttp undoes chunked only: gzip as a transfer coding would reach the engine still compressed
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1f\r\n" + gzip.compress(b"hello world", mtime=0)[:31]
      + b"\r\n0\r\n\r\n"], "unsupported Transfer-Encoding"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabcdef"], "Content-Length"),
    ([b"HTTP/1.1 2\xc2\xb200 OK\r\nContent-Length: 0\r\n\r\n"], "status"),
    # a response smuggled into a header value: a header line may not hold a bare CR
    ([b"HTTP/1.1 200 OK\r\nX-A: 1\rContent-Length: 0\r\n\r\n"], "bad HTTP from the server"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"], "bad HTTP from the server"),
    ([_ok(b"not gzip at all", "Content-Encoding: gzip")], "content-encoding"),
], ids=["not-http", "short-body", "bad-chunk-size", "brotli", "negative-chunk", "chunk-overrun", "gzip-transfer-coding",
        "negative-length", "non-ascii-status", "bare-cr-header", "two-lengths", "bad-gzip"])
def test_broken_answers_are_transport_errors(pieces, complaint):
    async def scenario():
        async with ScriptedServer(lambda request: (pieces, True)) as url:
            pool = ConnectionPool(url, {}, 5.0, 2)
            with pytest.raises(TransportError, match=complaint):
                await pool.request("POST", "x", b"{}")

    _run(scenario())


def test_no_answer_within_the_timeout_and_a_refused_port_are_reported(any_pool):
    async def scenario():
        async with ScriptedServer(lambda request: ([b"HTTP/1.1 200 OK\r\n"], False)) as url:
            pool = ConnectionPool(url, {}, 0.3, 2)
            with pytest.raises(RequestTimeout, match="timed out after 0.3s"):
                await pool.request("POST", "x", b"{}")
        closed = ConnectionPool(url, {}, 2.0, 2)  # the server is gone now
        with pytest.raises(TransportError, match="could not connect to 127.0.0.1"):
            await closed.request("POST", "x", b"{}")

    _run(scenario())


def test_header_injection_and_non_http_urls_are_refused(any_pool):
    with pytest.raises(ValueError, match="line break"):
        ConnectionPool("http://127.0.0.1:1/v1", {"Authorization": "Bearer k\r\nX-Evil: 1"}, 1.0, 1)
    with pytest.raises(ValueError, match="not an http"):
        ConnectionPool("ftp://example.com/v1", {}, 1.0, 1)
    with pytest.raises(ValueError, match="line break"):
        ConnectionPool("http://127.0.0.1:1/v1", {"X-Evil\r\nHost": "x"}, 1.0, 1)


def test_line_breaks_in_the_path_or_query_cannot_start_a_new_header_line(any_pool):
    server, _ = _one_after_another(lambda request: ([_ok(b"ok")], False), 1, "/a\r\nX-Evil: 1?q=1\r\nX-Evil: 2", "b\r\nX-Evil: 3")
    request = server.requests[0]
    assert "x-evil" not in request["headers"]
    # urllib drops line breaks from a base URL (as browsers do); a request path's are percent-encoded
    assert request["line"] == "POST /v1/aX-Evil:%201/b%0D%0AX-Evil:%203?q=1X-Evil:%202 HTTP/1.1"


def test_a_gzip_bomb_is_cut_at_the_decompressed_size_cap(monkeypatch, any_pool):
    # 64 MiB of zeros compress to about 64 KiB: the transport must stop inflating at the cap
    # (here lowered to 1 MiB), not decompress the whole answer first and measure it after
    monkeypatch.setattr(httpclient, "MAX_BODY_BYTES", 2**20)
    bomb = gzip.compress(bytes(64 * 2**20), compresslevel=9)
    assert len(bomb) < 2**20
    for framing in ("length", "chunked"):
        if framing == "length":
            answer = [_ok(bomb, "Content-Encoding: gzip")]
        else:
            answer = [b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
                      + b"%x\r\n" % len(bomb) + bomb + b"\r\n0\r\n\r\n"]

        async def scenario():
            async with ScriptedServer(lambda request: (answer, False)) as url:
                pool = ConnectionPool(url, {}, 10.0, 1)
                with pytest.raises(TransportError, match="inflates to more than 1,048,576 bytes"):
                    await pool.request("POST", "x", b"{}")
                await pool.aclose()

        _run(scenario())
    # under the cap, the same compressed framing is read whole
    monkeypatch.setattr(httpclient, "MAX_BODY_BYTES", 65 * 2**20)
    _, (response,) = _one_after_another(lambda request: ([_ok(bomb, "Content-Encoding: gzip")], False), 1)
    assert response.body == bytes(64 * 2**20)


def test_an_answer_announcing_more_than_the_cap_is_refused_before_reading_it(monkeypatch, any_pool):
    monkeypatch.setattr(httpclient, "MAX_BODY_BYTES", 1000)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n"

    async def scenario():
        async with ScriptedServer(lambda request: ([head, b"x" * 2000], False)) as url:
            pool = ConnectionPool(url, {}, 5.0, 1)
            with pytest.raises(TransportError, match="5,000,000 bytes, more than this client reads"):
                await pool.request("POST", "x", b"{}")
            await pool.aclose()

    _run(scenario())


def test_fuzzed_answers_give_a_response_or_a_transport_error_never_a_crash_or_a_hang(any_pool):
    # Each of many mutations of well-formed answers (bytes flipped, dropped, repeated, cut) must
    # end in a Response or a TransportError within the timeout: no other exception escapes.
    valid = [
        _ok(b'{"choices": []}'),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        _ok(gzip.compress(b"hello world", mtime=0), "Content-Encoding: gzip"),
        b"HTTP/1.0 200 OK\r\n\r\nto the close",
    ]
    rng = random.Random(13)

    def mutate(data: bytes) -> bytes:
        data = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(data))
            kind = rng.choice(("flip", "drop", "repeat", "cut", "insert"))
            if kind == "flip":
                data[position] = rng.randrange(256)
            elif kind == "drop":
                del data[position]
            elif kind == "repeat":
                data[position:position] = data[position:position + rng.randint(1, 8)]
            elif kind == "insert":
                data[position:position] = rng.choice([b"\r\n", b"\n", b"\x00", b":", b" ", b"0", b"ffffffff"])
            else:
                del data[position:]
            if not data:
                data = bytearray(b"X")
        return bytes(data)

    cases = [mutate(rng.choice(valid)) for _ in range(150)]
    outcomes = {"response": 0, "transport_error": 0}
    server = ScriptedServer(lambda request: ([cases[len(server.requests) - 1]], True))

    async def scenario():
        async with server as url:
            pool = ConnectionPool(url, {}, 2.0, 1)
            for _ in cases:
                try:
                    response = await pool.request("POST", "x", b"{}")
                except TransportError:
                    outcomes["transport_error"] += 1
                else:
                    assert isinstance(response.status, int) and isinstance(response.body, bytes)
                    outcomes["response"] += 1
            await pool.aclose()

    _run(scenario())
    assert sum(outcomes.values()) == len(cases)
    assert outcomes["response"] and outcomes["transport_error"]   # the mutations reach both outcomes


def _clear_proxies(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_proxies_come_from_the_environment_with_no_proxy_and_never_for_this_machine(monkeypatch):
    _clear_proxies(monkeypatch)
    assert not uses_proxy("https://api.openai.com/v1")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert proxy_for("https://api.openai.com/v1") == "http://proxy.internal:3128"
    assert uses_proxy("https://10.1.2.3:8000/v1")
    assert not uses_proxy("http://10.1.2.3:8000/v1")   # HTTPS_PROXY is for https URLs only
    for local in ("http://127.0.0.1:8000/v1", "http://localhost:8000/v1", "http://[::1]:8000/v1", "https://127.0.0.1/v1"):
        assert not uses_proxy(local), local  # never through a proxy, NO_PROXY or not
    monkeypatch.setenv("NO_PROXY", "api.openai.com")
    assert not uses_proxy("https://api.openai.com/v1")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert uses_proxy("https://api.openai.com/v1")
    monkeypatch.setenv("ALL_PROXY", "proxy.internal:8080")
    assert proxy_for("http://example.org/v1") == "http://proxy.internal:8080"


def test_requests_to_a_remote_host_go_through_the_proxy_and_no_proxy_sends_them_direct(monkeypatch):
    # A real proxy on 127.0.0.1: for a plain-http origin it receives the absolute URL, and here
    # it answers itself (the origin's name never resolves, so only the proxy can answer).
    _clear_proxies(monkeypatch)

    async def scenario():
        proxy = ScriptedServer(lambda request: ([_ok(b'{"via": "proxy"}')], False))
        async with proxy as proxy_url:
            monkeypatch.setenv("HTTP_PROXY", proxy_url.rsplit("/", 1)[0])
            pool = open_pool("http://teacher.invalid:8000/v1", {"Authorization": "Bearer k"}, 5.0, 2)
            assert isinstance(pool, ProxiedPool)
            answers = [await pool.request("POST", "chat/completions", b"{}") for _ in range(2)]
            await pool.aclose()
            monkeypatch.setenv("NO_PROXY", "teacher.invalid")
            direct = open_pool("http://teacher.invalid:8000/v1", {}, 5.0, 2)
            assert isinstance(direct, DirectPool)
            with pytest.raises(ConnectFailed, match="teacher.invalid:8000"):
                await direct.request("POST", "chat/completions", b"{}")
            await direct.aclose()
        return proxy, answers

    proxy, answers = _run(scenario())
    assert [a.body for a in answers] == [b'{"via": "proxy"}'] * 2
    assert [r["line"] for r in proxy.requests] == ["POST http://teacher.invalid:8000/v1/chat/completions HTTP/1.1"] * 2
    assert proxy.requests[0]["headers"]["authorization"] == "Bearer k"
    assert proxy.connections == 1   # kept alive to the proxy


def test_a_dead_endpoint_beside_a_slow_live_one_does_not_stop_the_engine(closed_port):
    # the live server takes a second to answer, so while its first answers are pending the dead
    # one has refused several connections: the live one was reached, so that is not fatal
    dead = f"http://127.0.0.1:{closed_port}/v1"

    async def scenario(url):
        engine = Engine([dead, url], "sk-test", concurrency=4, timeout=10, max_backoff=0.2)
        messages = [{"role": "user", "content": "Write a memento.\n<block>x = 2 so y = 4.</block>"}]
        completions = await asyncio.gather(*(engine.complete("fake-teacher", messages, {"max_tokens": 50}) for _ in range(8)))
        await engine.aclose()
        return completions

    with FakeOpenAI(latency=1.0) as server:
        completions = _run(scenario(server.base_url))
    assert len(completions) == 8 and all(c.finish_reason == "stop" for c in completions)


def test_an_api_key_that_cannot_go_in_a_header_is_named_as_the_key():
    from openmementos.errors import TeacherError

    with pytest.raises(TeacherError, match="the API key holds"):
        Engine(["http://127.0.0.1:1/v1"], "sk-caf\u00e9")


def test_the_engine_gets_the_same_answers_over_many_concurrent_requests():
    async def scenario(url):
        engine = Engine([url], "sk-test", concurrency=4, timeout=10)
        messages = [{"role": "user", "content": "Write a memento.\n<block>x = 2 so y = 4.</block>"}]
        completions = await asyncio.gather(*(engine.complete("fake-teacher", messages, {"max_tokens": 50}) for _ in range(6)))
        await engine.aclose()
        return completions

    with FakeOpenAI() as server:
        completions = _run(scenario(server.base_url))
        assert server.stats.total == 6 and server.stats.max_in_flight <= 4
    assert all(c.finish_reason == "stop" and c.model for c in completions)
    assert len({c.content for c in completions}) == 1


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


def test_https_verifies_the_certificate_and_trusts_a_ca_named_by_ssl_cert_file(self_signed, monkeypatch, any_pool):
    key, cert = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def scenario():
        server = ScriptedServer(lambda request: ([_ok(b"over tls")], False))
        server.server = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=context)
        url = f"https://127.0.0.1:{server.server.sockets[0].getsockname()[1]}/v1"
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            await ConnectionPool(url, {}, 5.0, 1).request("POST", "x", b"{}")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        pool = ConnectionPool(url, {}, 5.0, 1)
        answers = [await pool.request("POST", "x", b"{}") for _ in range(2)]
        await pool.aclose()
        await server.__aexit__()
        return server, answers

    server, answers = _run(scenario())
    assert [a.body for a in answers] == [b"over tls"] * 2
    assert server.connections == 1  # the refused handshake never became one; then one kept-alive TLS connection
