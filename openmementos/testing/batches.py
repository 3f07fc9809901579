"""The Files and Batch APIs of :class:`~openmementos.testing.FakeOpenAI`, kept in memory.

Shapes follow the ``openai`` package's models (``types/file_object.py``, ``types/batch.py``) so
``client.files.create``, ``client.batches.create/retrieve/cancel`` and ``client.files.content``
work unchanged. Time is counted in polls: a batch is ``validating`` when created, then
``in_progress`` from the first retrieve, and ``completed`` on the ``polls``-th retrieve (or at the
first retrieve ``seconds`` after creation). Its lines are answered at that moment, each through
the server's chat-completion path, so the fault plan applies to them line by line.
"""

from __future__ import annotations

import email.message
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CHAT_ENDPOINT = "/v1/chat/completions"

# run_line(body) -> (status, payload): a status of None means "no response at all" (a timeout),
# and payload is then the line's "error" object.
LineRunner = Callable[[dict[str, Any]], "tuple[int | None, dict[str, Any]]"]


class ApiError(Exception):
    """An error answer: HTTP ``status`` with an OpenAI-style ``{"error": {...}}`` body."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type_, "param": None, "code": code}}


def parse_multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """``multipart/form-data`` fields as ``{name: (filename or None, bytes)}``.

    The boundary never occurs inside a part (that is its definition), so splitting on it is exact.
    """
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str):
        raise ApiError(400, "expected a multipart/form-data body with a boundary")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = email.message.Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        name = headers.get_param("name", header="content-disposition")
        if isinstance(name, str):
            fields[name] = (headers.get_filename(), data.removesuffix(b"\r\n"))
    return fields


@dataclass(slots=True)
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@dataclass(slots=True)
class _Batch:
    obj: dict[str, Any]
    created: float
    polls: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list)


class BatchStore:
    """Uploaded files and batches; every method is safe to call from many threads."""

    def __init__(self, run_line: LineRunner, *, polls: int = 2, seconds: float | None = None) -> None:
        self.run_line = run_line
        self.polls = max(1, polls)
        self.seconds = seconds
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, _Batch] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(1)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    # -- files -------------------------------------------------------------------------------

    def add_file(self, filename: str, purpose: str, data: bytes) -> StoredFile:
        with self._lock:
            stored = StoredFile(self._new_id("file-"), filename, purpose, data, int(time.time()))
            self.files[stored.id] = stored
            return stored

    def upload(self, body: bytes, content_type: str) -> dict[str, Any]:
        """``POST /v1/files``: a ``file`` part and a ``purpose`` field."""
        fields = parse_multipart(body, content_type)
        if "file" not in fields or "purpose" not in fields:
            raise ApiError(400, "a file upload needs a 'file' part and a 'purpose' field")
        filename, data = fields["file"]
        purpose = fields["purpose"][1].decode("utf-8")
        return self.add_file(filename or "upload.jsonl", purpose, data).to_json()

    def file(self, file_id: str) -> StoredFile:
        with self._lock:
            if file_id not in self.files:
                raise ApiError(404, f"No such File object: {file_id}", code="file_not_found")
            return self.files[file_id]

    def delete_file(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            self.file(file_id)
            del self.files[file_id]
        return {"id": file_id, "object": "file", "deleted": True}

    # -- batches -----------------------------------------------------------------------------

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/batches``; the input file's lines are checked at the first retrieve."""
        input_file_id = request.get("input_file_id")
        endpoint = request.get("endpoint")
        if endpoint != CHAT_ENDPOINT:
            raise ApiError(400, f"FakeOpenAI batches only serve {CHAT_ENDPOINT}, not {endpoint!r}")
        self.file(str(input_file_id))
        now = int(time.time())
        with self._lock:
            batch_id = self._new_id("batch_")
            obj = {
                "id": batch_id,
                "object": "batch",
                "endpoint": endpoint,
                "input_file_id": input_file_id,
                "completion_window": request.get("completion_window", "24h"),
                "status": "validating",
                "created_at": now,
                "expires_at": now + 24 * 3600,
                "output_file_id": None,
                "error_file_id": None,
                "errors": None,
                "metadata": request.get("metadata"),
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
            }
            self.batches[batch_id] = _Batch(obj, time.monotonic())
            return dict(obj)

    def _batch(self, batch_id: str) -> _Batch:
        if batch_id not in self.batches:
            raise ApiError(404, f"No such Batch object: {batch_id}", code="batch_not_found")
        return self.batches[batch_id]

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        """``GET /v1/batches/{id}``: each call is one poll and may move the batch on."""
        with self._lock:
            batch = self._batch(batch_id)
            batch.polls += 1
            obj = batch.obj
            if obj["status"] == "cancelling":
                obj.update(status="cancelled", cancelled_at=int(time.time()))
            if obj["status"] == "validating":
                self._validate(batch)
            if obj["status"] == "in_progress":
                late = self.seconds is not None and time.monotonic() - batch.created >= self.seconds
                if batch.polls >= self.polls or late:
                    self._run(batch)
            return json.loads(json.dumps(obj))

    def cancel(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            obj = self._batch(batch_id).obj
            if obj["status"] not in ("validating", "in_progress"):
                raise ApiError(400, f"Cannot cancel a batch with status '{obj['status']}'.")
            obj.update(status="cancelling", cancelling_at=int(time.time()))
            return dict(obj)

    def _validate(self, batch: _Batch) -> None:
        obj = batch.obj
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        text = self.file(obj["input_file_id"]).data.decode("utf-8", "replace")
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                errors.append({"code": "invalid_json_line", "line": number, "message": "not JSON", "param": None})
                continue
            custom_id = line.get("custom_id") if isinstance(line, dict) else None
            if not isinstance(custom_id, str) or custom_id in seen:
                message = "custom_id is missing or repeated"
                errors.append({"code": "duplicate_custom_id", "line": number, "message": message, "param": "custom_id"})
            elif line.get("url") != obj["endpoint"] or not isinstance(line.get("body"), dict):
                message = f"url must be {obj['endpoint']} and body an object"
                errors.append({"code": "invalid_url", "line": number, "message": message, "param": "url"})
            else:
                seen.add(custom_id)
                batch.lines.append(line)
        now = int(time.time())
        if errors or not batch.lines:
            errors = errors or [{"code": "empty_file", "line": None, "message": "no requests", "param": None}]
            obj.update(status="failed", failed_at=now, errors={"object": "list", "data": errors})
            return
        obj.update(status="in_progress", in_progress_at=now, model=batch.lines[0]["body"].get("model"))
        obj["request_counts"] = {"total": len(batch.lines), "completed": 0, "failed": 0}

    def _run(self, batch: _Batch) -> None:
        outputs: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        usage = {"input_tokens": 0, "output_tokens": 0, "cached": 0}
        for line in batch.lines:
            status, payload = self.run_line(line["body"])
            out_id = self._new_id("batch_req_")
            record: dict[str, Any] = {"id": out_id, "custom_id": line["custom_id"], "response": None, "error": None}
            if status is None:
                record["error"] = payload
            else:
                record["response"] = {
                    "status_code": status,
                    "request_id": out_id.replace("batch_req_", "req_"),
                    "body": payload,
                }
            if status == 200:
                outputs.append(record)
                usage["input_tokens"] += payload["usage"]["prompt_tokens"]
                usage["output_tokens"] += payload["usage"]["completion_tokens"]
                usage["cached"] += payload["usage"]["prompt_tokens_details"]["cached_tokens"]
            else:
                failures.append(record)
        obj = batch.obj
        now = int(time.time())
        obj.update(status="completed", finalizing_at=now, completed_at=now)
        obj["request_counts"] = {"total": len(batch.lines), "completed": len(outputs), "failed": len(failures)}
        obj["usage"] = {
            "input_tokens": usage["input_tokens"],
            "input_tokens_details": {"cached_tokens": usage["cached"]},
            "output_tokens": usage["output_tokens"],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage["input_tokens"] + usage["output_tokens"],
        }
        if outputs:
            obj["output_file_id"] = self._jsonl_file(f"{obj['id']}_output.jsonl", outputs).id
        if failures:
            obj["error_file_id"] = self._jsonl_file(f"{obj['id']}_error.jsonl", failures).id

    def _jsonl_file(self, filename: str, records: list[dict[str, Any]]) -> StoredFile:
        data = "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")
        return self.add_file(filename, "batch_output", data)
