"""The OpenAI Batch API for the LLM teacher: requests as JSONL files, submitted, polled, fetched.

Every batch of an output folder is tracked in ``OUT/.openmementos/batches.jsonl``: one line per
step (uploaded, submitted, fetched), appended and fsynced before the next step starts. A run
killed at any moment and started again reads it first: it adopts an uploaded file, polls a
submitted batch and fetches a finished one, and never sends the same requests twice (the one
gap: a kill during the ``batches.create`` call itself, on a server that cannot list batches).

Answers go into the teacher's answer cache under their ``custom_id``, which is the cache key of
the deferred request, so the synchronous path finds them there. Failed lines are recorded with
their error; :meth:`BatchRunner.given_up` names those that failed too often to ask again.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import openai

from ..errors import TeacherAnswerError, TeacherError
from .ledger import Ledger, RoleUsage
from .openai_teacher import Deferred, OpenAITeacher, _scrub

ENDPOINT = "/v1/chat/completions"
MAX_LINES = 50_000             # the API's limit per input file
MAX_BYTES = 190 * 2**20        # the API takes 200 MB per input file: keep a margin
TERMINAL = ("completed", "failed", "expired", "cancelled")
LOG_NAME = "batches.jsonl"


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One deferred chat completion: ``custom_id`` is its answer-cache key."""

    custom_id: str
    role: str
    body: dict[str, Any]

    def line(self) -> bytes:
        record = {"custom_id": self.custom_id, "method": "POST", "url": ENDPOINT, "body": self.body}
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


class Collector:
    """What ``OpenAITeacher.defer`` holds during a round: each cache miss is recorded once and
    stops its trace (:class:`Deferred`). A request in ``given_up`` fails its trace the way a
    synchronous request that ran out of retries does. ``sealed``: record nothing, send misses."""

    def __init__(self, given_up: dict[str, str] | None = None, sealed: bool = False) -> None:
        self.requests: dict[str, BatchRequest] = {}
        self.given_up = given_up or {}
        self.sealed = sealed
        self._lock = threading.Lock()

    def miss(self, custom_id: str, role: str, body: dict[str, Any]) -> None:
        if custom_id in self.given_up:
            raise TeacherAnswerError(f"{role}: {self.given_up[custom_id]}", [], "teacher_request_failed")
        if self.sealed:
            return
        with self._lock:
            self.requests.setdefault(custom_id, BatchRequest(custom_id, role, body))
        raise Deferred(custom_id)


def plan_batches(requests: Iterable[BatchRequest], max_lines: int | None = None, max_bytes: int | None = None) -> list[list[BatchRequest]]:
    """Requests grouped by model (an input file may hold one model's requests only), each group
    cut into parts of at most ``max_lines`` lines and ``max_bytes`` bytes (default: the API's
    limits, :data:`MAX_LINES` and :data:`MAX_BYTES`), in the given order."""
    max_lines, max_bytes = max_lines or MAX_LINES, max_bytes or MAX_BYTES
    groups: dict[str, list[BatchRequest]] = {}
    for request in requests:
        groups.setdefault(str(request.body.get("model")), []).append(request)
    parts: list[list[BatchRequest]] = []
    for group in groups.values():
        part: list[BatchRequest] = []
        size = 0
        for request in group:
            length = len(request.line())
            if part and (len(part) >= max_lines or size + length > max_bytes):
                parts.append(part)
                part, size = [], 0
            part.append(request)
            size += length
        if part:
            parts.append(part)
    return parts


class BatchLog:
    """``OUT/.openmementos/batches.jsonl``: each batch (by local ``name``) and how far it got.

    Lines are ``{"name", "step", "status", ...}`` with step ``uploaded`` (``input_file_id``,
    ``requests``, ``round``), ``submitted`` (``batch_id``) or ``fetched`` (``completed``,
    ``failed``: custom_id -> {error, retry}, ``usage``: the batch's cost per role). The roles of a
    batch's requests are kept beside it in ``batch-NAME.roles.json`` until it is fetched.
    """

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / LOG_NAME
        self.lines: list[dict[str, Any]] = []
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            self._read()

    def _read(self) -> None:
        valid = 0
        with open(self.path, "rb") as handle:
            for raw in handle:
                # a kill during an append leaves a partial last line: that step never happened
                try:
                    record = json.loads(raw)
                except ValueError:
                    break
                if not raw.endswith(b"\n"):
                    break
                self._merge(record)
                valid += len(raw)
        if valid != self.path.stat().st_size:
            with open(self.path, "r+b") as handle:
                handle.truncate(valid)

    def _merge(self, record: dict[str, Any]) -> None:
        self.lines.append(record)
        self.entries.setdefault(record["name"], {}).update(record)

    def append(self, name: str, **fields: Any) -> None:
        record = {"name": name, **fields, "at": round(time.time(), 3)}
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._merge(record)

    def roles_path(self, name: str) -> Path:
        return self.dir / f"batch-{name}.roles.json"

    @property
    def next_round(self) -> int:
        return 1 + max((e.get("round", 0) for e in self.entries.values()), default=0)

    def unfinished(self) -> list[str]:
        return [name for name, e in self.entries.items() if e["step"] in ("uploaded", "submitted")]

    def fetched(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["step"] == "fetched"]


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _add_usage(ledger: Ledger, usage: dict[str, dict[str, Any]]) -> None:
    for role, fields in usage.items():
        entry = ledger.roles.setdefault(role, RoleUsage())
        for name, value in fields.items():
            setattr(entry, name, (getattr(entry, name) or value) if name == "unpriced" else getattr(entry, name) + value)


def _line_error(record: dict[str, Any]) -> tuple[str, bool]:
    """(message, worth asking again) of a failed output line or error-file line."""
    response = record.get("response") or {}
    status = response.get("status_code")
    error = record.get("error") or (response.get("body") or {}).get("error") or {}
    message = f"{status or error.get('code') or 'error'}: {error.get('message') or 'no message'}"
    # 429, 5xx, timeouts (no response) pass; another 4xx would fail the same way again
    retry = status is None or status in (408, 409, 429) or status >= 500
    return message[:300], retry


@dataclass(slots=True)
class RoundResult:
    requests: int = 0
    batches: int = 0
    completed: int = 0
    failed: int = 0


class BatchRunner:
    """Submit, poll and fetch the batches of one output folder for ``teacher``.

    ``poll_seconds`` is the first wait between polls; it grows by half each poll, to 10x.
    A request whose lines failed ``line_attempts`` times (or once with a status that another
    try cannot fix) is given up: its trace is quarantined as ``teacher_request_failed``.
    """

    def __init__(self, teacher: OpenAITeacher, log: BatchLog, poll_seconds: float = 60.0, line_attempts: int = 3,
                 on_status: Callable[[str, Any], None] | None = None) -> None:
        if teacher.cache is None:
            raise TeacherError("the Batch API needs the answer cache: it carries the answers to the run that writes the shards", "drop --no-cache")
        self.teacher = teacher
        self.log = log
        self.poll_seconds = poll_seconds
        self.line_attempts = line_attempts
        self.on_status = on_status or (lambda name, batch: None)
        self._clients: dict[int, openai.OpenAI] = {}

    # -- state ------------------------------------------------------------------------------

    def ledger(self) -> Ledger:
        """What the fetched batches cost, at the batch price (rebuilt from the log)."""
        ledger = Ledger(self.teacher.ledger.prices)
        for line in self.log.fetched():
            _add_usage(ledger, line.get("usage") or {})
        return ledger

    def given_up(self) -> dict[str, str]:
        """custom_id -> why, for the requests not worth another batch."""
        failures: Counter[str] = Counter()
        last: dict[str, str] = {}
        final: set[str] = set()
        for line in self.log.fetched():
            for custom_id, failure in (line.get("failed") or {}).items():
                failures[custom_id] += 1
                last[custom_id] = failure["error"]
                if not failure["retry"]:
                    final.add(custom_id)
        return {
            custom_id: f"the Batch API failed this request {n} time(s), last with {last[custom_id]}"
            for custom_id, n in failures.items() if n >= self.line_attempts or custom_id in final
        }

    # -- steps ------------------------------------------------------------------------------

    def resume(self) -> RoundResult:
        """Finish every batch the log holds unfinished (a run that was stopped or killed)."""
        names = self.log.unfinished()
        result = RoundResult(batches=len(names))
        for name in names:
            if self.log.entries[name]["step"] == "uploaded":
                self._create(name, adopt=True)
        self._wait([n for n in names if self.log.entries[n]["step"] == "submitted"], result)
        return result

    def submit(self, requests: Iterable[BatchRequest]) -> tuple[list[str], RoundResult]:
        """Send ``requests`` as the next round's batches (one or more); return their names."""
        number = self.log.next_round
        parts = plan_batches(requests)
        names = []
        for index, part in enumerate(parts):
            name = f"r{number:04d}-p{index:03d}"
            self._upload(name, number, part)
            self._create(name, adopt=False)
            names.append(name)
        return names, RoundResult(requests=sum(len(p) for p in parts), batches=len(parts))

    def wait(self, names: list[str], result: RoundResult) -> None:
        """Poll the batches ``names`` until each ends, putting their answers in the cache."""
        self._wait(names, result)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    # -- the API ----------------------------------------------------------------------------

    def _client(self, role: str) -> openai.OpenAI:
        engine = self.teacher.engines[role]
        if id(engine) not in self._clients:
            # A batch goes to the role's first base URL; the client retries 5xx and timeouts itself.
            self._clients[id(engine)] = openai.OpenAI(base_url=engine.base_urls[0], api_key=engine.api_key,
                                                      timeout=engine.timeout, max_retries=5)
        return self._clients[id(engine)]

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
            raise TeacherError(f"the Batch API refused the API key ({error.status_code})", "check OPENAI_API_KEY (or --api-key)") from None
        except openai.OpenAIError as error:
            key = self.teacher.engines["scorer"].api_key
            raise TeacherError(
                f"the Batch API failed to {what}: {type(error).__name__}: {_scrub(str(error), key)}",
                "run the same command again: submitted batches are polled, not sent again",
            ) from None

    def _upload(self, name: str, number: int, part: list[BatchRequest]) -> None:
        # The roles are needed to fetch the answers (the ledger counts per role): written first.
        _write_durably(self.log.roles_path(name), json.dumps({r.custom_id: r.role for r in part}).encode())
        role = part[0].role
        data = b"".join(r.line() for r in part)
        client = self._client(role)
        uploaded = self._call("upload a batch file", client.files.create, file=(f"openmementos-{name}.jsonl", data, "application/jsonl"), purpose="batch")
        self.log.append(name, step="uploaded", status="uploaded", round=number, role=role, model=part[0].body.get("model"),
                        input_file_id=uploaded.id, requests=len(part), bytes=len(data))

    def _create(self, name: str, adopt: bool) -> None:
        entry = self.log.entries[name]
        client = self._client(entry["role"])
        batch = self._find(client, entry["input_file_id"], entry["at"]) if adopt else None
        if batch is None:
            batch = self._call("create a batch", client.batches.create, input_file_id=entry["input_file_id"], endpoint=ENDPOINT,
                               completion_window="24h", metadata={"openmementos": name})
        self.log.append(name, step="submitted", status=batch.status, batch_id=batch.id, input_file_id=entry["input_file_id"],
                        requests=entry["requests"], round=entry["round"])

    def _find(self, client: openai.OpenAI, input_file_id: str, since: float) -> Any:
        """The batch already made from ``input_file_id`` (a kill between create and the log), or None."""
        try:
            for batch in client.batches.list(limit=100):       # newest first
                if batch.input_file_id == input_file_id:
                    return batch
                if batch.created_at < since - 3600:
                    break
        except openai.OpenAIError:
            return None  # the server cannot list batches: nothing to adopt
        return None

    def _wait(self, names: list[str], result: RoundResult) -> None:
        pending = list(names)
        delay = self.poll_seconds
        while pending:
            for name in list(pending):
                entry = self.log.entries[name]
                client = self._client(entry["role"])
                batch = self._call("poll a batch", client.batches.retrieve, entry["batch_id"])
                self.on_status(name, batch)
                if batch.status in TERMINAL:
                    self._fetch(name, batch, result)
                    pending.remove(name)
            if pending:
                time.sleep(delay)
                delay = min(delay * 1.5, self.poll_seconds * 10)

    def _lines(self, client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
        if not file_id:
            return []
        content = self._call("download batch results", client.files.content, file_id)
        return [json.loads(line) for line in content.content.decode("utf-8").splitlines() if line.strip()]

    def _fetch(self, name: str, batch: Any, result: RoundResult) -> None:
        entry = self.log.entries[name]
        if batch.status == "failed":
            errors = [e.message or e.code or "" for e in (batch.errors.data if batch.errors and batch.errors.data else [])]
            self.log.append(name, step="fetched", status="failed", batch_id=batch.id, completed=0, failed={}, usage={}, errors=errors[:5])
            self.log.roles_path(name).unlink(missing_ok=True)
            raise TeacherError(f"the Batch API refused batch {batch.id}: {errors[0] if errors else 'no reason given'}",
                               "fix the cause and run the same command again: its requests are submitted again")
        roles: dict[str, str] = json.loads(self.log.roles_path(name).read_text(encoding="utf-8"))
        client = self._client(entry["role"])
        ledger = Ledger(self.teacher.ledger.prices)
        answered: set[str] = set()
        failed: dict[str, dict[str, Any]] = {}
        for record in self._lines(client, batch.output_file_id) + self._lines(client, batch.error_file_id):
            custom_id = record.get("custom_id")
            if custom_id not in roles or custom_id in answered or custom_id in failed:
                continue
            response = record.get("response") or {}
            if response.get("status_code") == 200:
                try:
                    self.teacher.store_batch_answer(custom_id, roles[custom_id], response["body"], ledger)
                    answered.add(custom_id)
                    continue
                except (KeyError, IndexError, TypeError, ValueError) as error:
                    message, retry = f"unreadable answer: {error}"[:300], True
            else:
                message, retry = _line_error(record)
            failed[custom_id] = {"error": message, "retry": retry}
        for custom_id in roles:
            if custom_id not in answered and custom_id not in failed:
                failed[custom_id] = {"error": f"no answer (the batch ended {batch.status})", "retry": True}
        for custom_id in failed:
            ledger.failure(roles[custom_id])
        # Answers are in the cache before this line: a kill before it fetches the batch again.
        self.log.append(name, step="fetched", status=batch.status, batch_id=batch.id, completed=len(answered),
                        failed=failed, usage={role: asdict(usage) for role, usage in ledger.roles.items()})
        self.log.roles_path(name).unlink(missing_ok=True)
        result.completed += len(answered)
        result.failed += len(failed)
