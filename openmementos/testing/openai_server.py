"""A real OpenAI-compatible HTTP server on 127.0.0.1, for tests of the teacher engine.

``openai`` talks through its own HTTP stack, which request mocks do not intercept, so the tests
run a real server in a background thread::

    with FakeOpenAI(faults=FaultPlan(rate_429=0.1), latency=0.2, seed=0) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", timeout=5)
        client.chat.completions.create(model="fake-teacher", messages=[...])
        server.stats.outcomes["429"]

Endpoints: ``POST /v1/chat/completions``, ``GET /v1/models``, the Files API (``POST /v1/files``,
``GET /v1/files/{id}``, ``GET /v1/files/{id}/content``, ``DELETE /v1/files/{id}``) and the Batch
API (``POST /v1/batches``, ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``).
What the assistant says is up to the responder (see :mod:`openmementos.testing.responders`).
Token counts are rough: ``ceil(len(text) / 4)`` for each of prompt and completion.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import socket
import socketserver
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .batches import ApiError, BatchStore
from .responders import Responder, ResponderError, TaskResponder, detect_task, message_text

FAULTS = ("429", "500", "timeout", "malformed", "wrong_count", "truncated")


@dataclass(frozen=True)
class FaultPlan:
    """How often each fault happens; one uniform draw per chat completion picks at most one.

    * ``429``: status 429 with ``Retry-After: retry_after`` (seconds) and an error body.
    * ``500``: status 500 with an error body.
    * ``timeout``: the answer comes after ``timeout_sleep`` seconds (the client gives up first).
    * ``malformed``: status 200, ``finish_reason`` "stop", content that is not JSON (a sentence
      of prose, then the first half of the real content).
    * ``wrong_count``: a JSON object with a ``scores`` list loses its last score; other content is
      left alone and counted ``ok``.
    * ``truncated``: the first half of the content with ``finish_reason`` "length".

    ``fail_always_for(request)`` true means that request always gets ``fail_always_as`` (one of
    :data:`FAULTS`), whatever the draw: a poisoned record for quarantine tests.
    """

    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_500: float = 0.0
    rate_timeout: float = 0.0
    timeout_sleep: float = 30.0
    rate_malformed: float = 0.0
    rate_wrong_count: float = 0.0
    rate_truncated: float = 0.0
    fail_always_for: Callable[[dict[str, Any]], bool] | None = None
    fail_always_as: str = "500"

    def __post_init__(self) -> None:
        if sum(self._rates().values()) > 1.0 + 1e-9:
            raise ValueError("the fault rates add up to more than 1")
        if self.fail_always_as not in FAULTS:
            raise ValueError(f"fail_always_as must be one of {FAULTS}")

    def _rates(self) -> dict[str, float]:
        return {
            "429": self.rate_429,
            "500": self.rate_500,
            "timeout": self.rate_timeout,
            "malformed": self.rate_malformed,
            "wrong_count": self.rate_wrong_count,
            "truncated": self.rate_truncated,
        }

    def pick(self, u: float, request: dict[str, Any]) -> str:
        """The outcome for ``request`` given the uniform draw ``u`` in [0, 1)."""
        if self.fail_always_for is not None and self.fail_always_for(request):
            return self.fail_always_as
        edge = 0.0
        for outcome, rate in self._rates().items():
            edge += rate
            if u < edge:
                return outcome
        return "ok"


@dataclass
class ServerStats:
    """What the server saw. ``total`` counts chat completions that passed the down and API-key
    checks, HTTP requests and batch lines alike; ``batch_lines`` counts the latter alone.

    ``outcomes`` keys: ok, 429, 500, timeout, malformed, wrong_count, truncated, plus 400 (bad
    request), 401 (wrong key) and 503 (server down). ``models`` and ``tasks`` (the detected task,
    "None" if none) count chat completions; ``endpoints`` counts every HTTP request by route
    (``"GET /v1/batches/{id}"``). ``in_flight``/``max_in_flight``: HTTP chat completions being
    answered at once. ``requests``: the bodies, when the server records. ``errors``: exceptions
    from a responder or the server itself (a test may assert it stays empty).
    ``authorizations`` holds the raw ``Authorization`` header values; it is left out of ``repr``
    so keys never reach a log.
    """

    total: int = 0
    batch_lines: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    tasks: Counter[str] = field(default_factory=Counter)
    endpoints: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))
    errors: list[str] = field(default_factory=list)
    authorizations: Counter[str] = field(default_factory=Counter, repr=False)


def count_tokens(text: str) -> int:
    """The fake tokenizer: one token per 4 characters, rounded up."""
    return -(-len(text) // 4)


def _drop_last_score(content: str) -> str | None:
    try:
        answer = json.loads(content)
    except json.JSONDecodeError:
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("scores"), list) or not answer["scores"]:
        return None
    return json.dumps({**answer, "scores": answer["scores"][:-1]})


class FakeOpenAI:
    """The server; a context manager that starts on enter and stops on exit.

    ``responder`` replaces the default :class:`TaskResponder` (``tasks`` extends its registry);
    ``faults``, ``latency`` (seconds before each chat answer) and ``responder`` may be changed
    while it runs. ``api_key`` set: requests without ``Authorization: Bearer <api_key>`` get 401.
    ``record`` keeps the last ``record_limit`` chat request bodies in ``stats.requests``.
    A batch completes on its ``batch_polls``-th retrieve or ``batch_seconds`` after creation.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        tasks: Mapping[str, Responder] | None = None,
        faults: FaultPlan | None = None,
        latency: float = 0.0,
        seed: int = 0,
        models: tuple[str, ...] = ("fake-teacher",),
        api_key: str | None = None,
        record: bool = False,
        record_limit: int = 1000,
        batch_polls: int = 2,
        batch_seconds: float | None = None,
    ) -> None:
        self.task_responder = TaskResponder(tasks)
        self.responder: Responder = responder or self.task_responder
        self.faults = faults or FaultPlan()
        self.latency = latency
        self.models = models
        self.api_key = api_key
        self.record = record
        self.stats = ServerStats(requests=deque(maxlen=record_limit))
        self.batches = BatchStore(self._batch_line, polls=batch_polls, seconds=batch_seconds)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._seen_prefixes: set[str] = set()
        self._down = False
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def tasks(self) -> dict[str, Responder]:
        """The default responder's registry: ``server.tasks["memento"] = fn`` overrides a task."""
        return self.task_responder.tasks

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        # A short poll interval so stop() returns quickly.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeOpenAI", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping for latency or a timeout fault
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # idle keep-alive handlers wait on these; unblock them
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def down(self) -> None:
        """Answer 503 to every request until :meth:`up`."""
        self._down = True

    def up(self) -> None:
        self._down = False

    # -- requests ----------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """One HTTP request: status, payload (JSON-able or bytes) and extra headers."""
        path = path.split("?", 1)[0].rstrip("/")
        auth = headers.get("Authorization")
        route = re.sub(r"/(file-|batch_)[^/]+", "/{id}", path)
        with self._lock:
            self.stats.endpoints[f"{method} {route}"] += 1
            if auth is not None:
                self.stats.authorizations[auth] += 1
        if self._down:
            self._count_outcome("503")
            raise ApiError(503, "FakeOpenAI is down (server.down() was called)", "server_error", "service_unavailable")
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            self._count_outcome("401")
            raise ApiError(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if (method, path) == ("POST", "/v1/chat/completions"):
            return self._chat_http(_json_body(body))
        if (method, path) == ("GET", "/v1/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "openmementos"} for m in self.models]
            return 200, {"object": "list", "data": data}, {}
        if (method, path) == ("POST", "/v1/files"):
            return 200, self.batches.upload(body, headers.get("Content-Type", "")), {}
        if (method, path) == ("POST", "/v1/batches"):
            return 200, self.batches.create(_json_body(body)), {}
        if match := re.fullmatch(r"/v1/files/([^/]+)(/content)?", path):
            file_id, content = match.groups()
            if method == "DELETE" and not content:
                return 200, self.batches.delete_file(file_id), {}
            if method == "GET":
                stored = self.batches.file(file_id)
                return 200, (stored.data if content else stored.to_json()), {}
        if match := re.fullmatch(r"/v1/batches/([^/]+)(/cancel)?", path):
            batch_id, cancel = match.groups()
            if method == "POST" and cancel:
                return 200, self.batches.cancel(batch_id), {}
            if method == "GET" and not cancel:
                return 200, self.batches.retrieve(batch_id), {}
        raise ApiError(404, f"FakeOpenAI has no route {method} {path}", "invalid_request_error", "unknown_url")

    def _count_outcome(self, outcome: str) -> None:
        with self._lock:
            self.stats.outcomes[outcome] += 1

    def _chat_http(self, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.stats.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            outcome, status, payload = self.complete(request)
            if outcome not in ("429", "400"):
                self._stopping.wait(self.latency)
            if outcome == "timeout":
                self._stopping.wait(self.faults.timeout_sleep)
            headers = {"x-request-id": f"req_{next(self._request_ids):08d}"}
            if outcome == "429":
                headers["Retry-After"] = f"{self.faults.retry_after:g}"
            return status, payload, headers
        finally:
            with self._lock:
                self.stats.in_flight -= 1

    def _batch_line(self, request: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
        with self._lock:
            self.stats.batch_lines += 1
        outcome, status, payload = self.complete(request)
        if outcome == "timeout":
            return None, {"code": "request_timeout", "message": "FakeOpenAI: the request timed out"}
        return status, payload

    def complete(self, request: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
        """Outcome, status and body of one chat completion, faults applied; no sleeping."""
        with self._lock:
            u = self._rng.random()  # one draw per request, in arrival order
            self.stats.total += 1
            self.stats.models[str(request.get("model"))] += 1
            self.stats.tasks[str(detect_task(request, self.tasks))] += 1
            if self.record:
                self.stats.requests.append(request)
        try:
            outcome = self.faults.pick(u, request)
            if outcome == "429":
                raise ApiError(429, "Rate limit reached (FakeOpenAI fault plan).", "requests", "rate_limit_exceeded")
            if outcome == "500":
                raise ApiError(500, "The server had an error (FakeOpenAI fault plan).", "server_error")
            if not request.get("messages") or not isinstance(request["messages"], list):
                raise ApiError(400, "'messages' must be a non-empty list", "invalid_request_error")
            if request.get("stream"):
                raise ApiError(400, "FakeOpenAI does not stream", "invalid_request_error")
            try:
                answer = self.responder(request)
            except ResponderError as exc:
                raise ApiError(400, str(exc), "invalid_request_error") from exc
            except Exception as exc:  # a bug in a test's responder: answer 500, keep it for the test
                with self._lock:
                    self.stats.errors.append(f"responder raised {exc!r}")
                raise ApiError(500, f"FakeOpenAI responder raised {exc!r}", "server_error") from exc
            content = answer if isinstance(answer, str) else json.dumps(answer)
            outcome, content, finish = _apply_fault(outcome, content)
            limit = request.get("max_completion_tokens") or request.get("max_tokens")
            if isinstance(limit, int) and count_tokens(content) > limit:
                content, finish = content[: 4 * limit], "length"
            body = self._completion(request, content, finish)
        except ApiError as exc:
            self._count_outcome(str(exc.status))
            return str(exc.status), exc.status, exc.body
        self._count_outcome(outcome)
        return outcome, 200, body

    def _completion(self, request: dict[str, Any], content: str, finish: str) -> dict[str, Any]:
        texts = [message_text(m) for m in request["messages"]]
        prompt_tokens = sum(count_tokens(t) for t in texts)
        with self._lock:
            # Prompt caching, roughly: a first message seen before counts as cached.
            cached = count_tokens(texts[0]) if texts[0] in self._seen_prefixes else 0
            self._seen_prefixes.add(texts[0])
            number = next(self._ids)
        completion_tokens = count_tokens(content)
        return {
            "id": f"chatcmpl-{number:08d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request.get("model")),
            "system_fingerprint": "fake-openai",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": finish,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        }


def _apply_fault(outcome: str, content: str) -> tuple[str, str, str]:
    """(outcome, content, finish_reason) after a content fault; other outcomes pass through."""
    if outcome == "wrong_count":
        fewer = _drop_last_score(content)
        return ("wrong_count", fewer, "stop") if fewer is not None else ("ok", content, "stop")
    if outcome == "malformed":
        # Prose before half an object: neither json.loads nor brace extraction can recover it.
        return outcome, "Sure! Here is the JSON you asked for: " + content[: len(content) // 2], "stop"
    if outcome == "truncated":
        return outcome, content[: len(content) // 2], "length"
    return outcome, content, "stop"


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not JSON: {exc}", "invalid_request_error") from exc
    if not isinstance(parsed, dict):
        raise ApiError(400, "the body must be a JSON object", "invalid_request_error")
    return parsed


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping never holds up shutdown or exit
    block_on_close = False
    request_queue_size = 1024  # the listen backlog: bursts of new connections wait, not fail
    fake: FakeOpenAI

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name, which can stall on odd resolvers.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handleApiError(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):  # a client hanging up is normal; anything else is a bug
            with self.fake._lock:
                self.fake.stats.errors.append(repr(exc))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms ACK stall
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read stats, not logs (and logs could carry keys)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        try:
            body = self._read_body()
            status, payload, headers = fake.handle(method, self.path, self.headers, body)
        except ApiError as exc:
            status, payload, headers = exc.status, exc.body, {}
        except OSError:
            self.close_connection = True
            return
        except Exception as exc:  # a responder or server bug: answer it, and keep it for the test
            with fake._lock:
                fake.stats.errors.append(f"{method} {self.path}: {exc!r}")
            status, payload, headers = (
                500,
                {"error": {"message": f"FakeOpenAI error: {exc!r}", "type": "server_error"}},
                {},
            )
        self._send(status, payload, headers)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        is_bytes = isinstance(payload, bytes)
        data = payload if is_bytes else json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream" if is_bytes else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (its timeout fired): nothing left to answer
            self.close_connection = True
