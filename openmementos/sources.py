"""Opening inputs: the edge where rows come in.

:func:`open_input` resolves a spec eagerly (so a missing file, an unknown name or an unreachable
Hub fails at the call, before any work) and returns an iterator of :class:`RawRow`: one per row,
numbered 0, 1, 2 ... across all files in a fixed order, so an index names the same row on every
run (resume relies on it). A row that cannot be decoded is a ``RawRow`` with ``error`` set, never
an exception: one bad line is one skip, and the lines after it still come through.

Specs::

    sample                 the traces bundled with the package (openmementos/data/sample.jsonl)
    ot3                    hf:open-thoughts/OpenThoughts3-1.2M
    hf:owner/name          any Hub dataset, streamed with `datasets` (split, limit)
    PATH.jsonl / .ndjson   JSON lines, read line by line as bytes; also gzip (.jsonl.gz) or
                           zstd (.jsonl.zst) compressed, decompressed as a stream
    PATH.json              a JSON array (loaded whole), one object, or JSON lines
    PATH.parquet           read in record batches with pyarrow
    FOLDER                 every supported file below it, recursive, sorted by relative path;
                           hidden files and folders (".cache", ".git"), other suffixes and
                           linked folders ignored (:func:`ignored_files` names them)

Names win over paths: pass ``./sample`` for a local folder called ``sample``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import ConfigError, HubUnreachableError, InputError

OT3_HUB_ID = "open-thoughts/OpenThoughts3-1.2M"
SAMPLE_PATH = Path(__file__).resolve().parent / "data" / "sample.jsonl"
NAMES = ("sample", "ot3")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
# compressed JSON lines: the codec of each suffix (zstd through pyarrow, a core dependency)
COMPRESSED_SUFFIXES = {f"{s}{c}": codec for s in JSONL_SUFFIXES for c, codec in ((".gz", "gzip"), (".zst", "zstd"), (".zstd", "zstd"))}
SUPPORTED_SUFFIXES = JSONL_SUFFIXES + (".json", ".parquet") + tuple(COMPRESSED_SUFFIXES)
HUB_CONNECT_TIMEOUT_S = 3.0
# OpenThoughts3 rows run to tens of kilobytes each: a few hundred rows keep a batch small.
PARQUET_BATCH_ROWS = 256
_TRUE = {"1", "ON", "YES", "TRUE"}
_READABLE_HINT = "check that the file exists and is readable"


@dataclass(frozen=True, slots=True)
class RawRow:
    """One row of the input stream, decoded or not.

    ``index`` is the 0-based position in the whole stream (stable across runs of the same input);
    ``origin`` says where it came from (``path:line`` for JSON lines, ``path#row`` for parquet and
    JSON arrays, ``hf:id[split]#row`` for the Hub). ``row`` is None exactly when ``error`` is set
    (``malformed_json``, ``nested_too_deep``, ``not_utf8``, ``not_an_object``); ``detail`` says
    what went wrong.
    """

    index: int
    origin: str
    row: dict | None
    error: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Which row fields hold what, for schemas that are not recognised automatically.

    Every name is optional; a name given here replaces the automatic lookup for that one field.
    A dotted name (``metadata.subject``) reaches into nested objects. See
    :func:`openmementos.rowschema.to_trace` for how a mapped ``trace`` field is read.
    """

    problem: str | None = None
    trace: str | None = None
    answer: str | None = None
    domain: str | None = None
    source: str | None = None
    difficulty: str | None = None
    id: str | None = None
    default_domain: str | None = None  # used when a row has no recognisable domain


@dataclass(frozen=True, slots=True)
class _Resolved:
    kind: str  # "sample" | "hub" | "files"
    hub_id: str = ""
    root: Path | None = None
    files: tuple[Path, ...] = ()
    ignored: tuple[str, ...] = ()  # what a folder holds that is not read, relative to it


def open_input(spec: str, *, split: str = "train", limit: int | None = None) -> Iterator[RawRow]:
    """Open ``spec`` and stream its rows as :class:`RawRow` values, at most ``limit`` of them.

    Raises :class:`InputError` at once for a missing path, an unreadable folder, an unsupported
    file, a folder with no supported files or an unknown name, and
    :class:`HubUnreachableError` for a Hub spec when the Hub cannot be reached (checked within
    a few seconds, before `datasets` is touched). ``split`` only applies to Hub datasets.

    >>> [(r.index, r.row) for r in open_input("rows.jsonl", limit=2)]  # doctest: +SKIP
    [(0, {'problem': ...}), (1, {'problem': ...})]
    """
    if limit is not None and limit < 0:
        raise ConfigError(f"limit must be 0 or more, not {limit}")
    resolved = _resolve(spec)
    if resolved.kind == "hub":
        _check_hub_reachable(resolved.hub_id)
        rows = _read_hub(resolved.hub_id, split)
    else:
        rows = _read_files(resolved.files)
    return _number(rows, limit)


def input_fingerprint(spec: str, split: str = "train", limit: int | None = None) -> dict[str, Any]:
    """What a run read, for its manifest: a resumed run refuses to go on if this changed.

    Local files are named relative to the input root with their size and mtime (the bundled
    sample with its content hash, since its path and mtime differ per install); a Hub dataset by
    id and split. Never touches the network.
    """
    resolved = _resolve(spec)
    fingerprint: dict[str, Any] = {"spec": spec, "kind": resolved.kind, "limit": limit}
    if resolved.kind == "hub":
        fingerprint.update(hub_id=resolved.hub_id, split=split)
        return fingerprint
    if resolved.kind == "sample":
        data = SAMPLE_PATH.read_bytes()
        fingerprint["files"] = [
            {"path": SAMPLE_PATH.name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        ]
        return fingerprint
    root = resolved.root
    assert root is not None
    fingerprint["root"] = str(root)
    files = []
    for path in resolved.files:
        stat = _stat(path)
        name = path.name if path == root else path.relative_to(root).as_posix()
        files.append({"path": name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    fingerprint["files"] = files
    return fingerprint


def local_path(spec: str) -> Path | None:
    """The resolved file or folder a local input reads; None for the bundled sample and the Hub."""
    resolved = _resolve(spec)
    return resolved.root if resolved.kind == "files" else None


def ignored_files(spec: str) -> list[str]:
    """What an input folder holds that is not read (other suffixes, hidden files and folders),
    relative to it, so a run can name every file it left out. Empty for files and names."""
    return list(_resolve(spec).ignored)


# --- resolving a spec ---------------------------------------------------------------------------


def _resolve(spec: str) -> _Resolved:
    if spec == "sample":
        if not SAMPLE_PATH.is_file():
            raise InputError(
                f"the bundled sample is missing from this installation ({SAMPLE_PATH})",
                hint="reinstall openmementos, or pass --input PATH to your own traces",
            )
        return _Resolved("sample", root=SAMPLE_PATH, files=(SAMPLE_PATH,))
    if spec == "ot3":
        return _Resolved("hub", hub_id=OT3_HUB_ID)
    if spec.startswith("hf:"):
        hub_id = spec[3:]
        parts = hub_id.split("/")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise InputError(
                f"'{spec}' is not a Hub dataset id",
                hint="write it as hf:owner/name, e.g. hf:open-thoughts/OpenThoughts3-1.2M",
            )
        return _Resolved("hub", hub_id=hub_id)

    path = Path(spec).expanduser()
    if not path.exists():
        raise InputError(_not_found_message(spec, path), hint=_not_found_hint(spec, path))
    path = path.resolve()
    if path.is_dir():
        files, ignored = _list_folder(path)
        if not files:
            raise InputError(
                f"no input files in folder {path}",
                hint=f"it must hold files ending in {', '.join(SUPPORTED_SUFFIXES)}",
            )
        return _Resolved("files", root=path, files=tuple(files), ignored=tuple(ignored))
    if not path.is_file():
        # a FIFO or a device would block the run until something writes to it
        raise InputError(f"{path} is not a regular file (a FIFO, socket or device)",
                         hint="write the rows to a .jsonl, .json or .parquet file and pass that")
    if _suffix(path) not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"unsupported input file {path}",
            hint=f"pass a file ending in {', '.join(SUPPORTED_SUFFIXES)}, or a folder of them",
        )
    return _Resolved("files", root=path, files=(path,))


def _not_found_message(spec: str, path: Path) -> str:
    looks_like_name = "/" not in spec and os.sep not in spec and not path.suffix
    if looks_like_name:
        return f"unknown input '{spec}': not a known name, and no such file or folder"
    return f"no such file or folder: {spec}"


def _not_found_hint(spec: str, path: Path) -> str:
    parts = spec.split("/")
    if len(parts) == 2 and all(parts) and not path.suffix and not spec.startswith((".", "~")):
        return f"for a Hub dataset write hf:{spec}"
    return "use sample, ot3, hf:owner/name, or a path to .jsonl, .json or .parquet files or a folder of them"


def _suffix(path: Path) -> str:
    """The suffix that says how to read ``path``: ``.jsonl.gz`` for compressed JSON lines."""
    name = path.name.lower()
    compressed = next((s for s in COMPRESSED_SUFFIXES if name.endswith(s)), None)
    return compressed or path.suffix.lower()


def _list_folder(root: Path) -> tuple[list[Path], list[str]]:
    """(the files to read, sorted; what is left out, relative to ``root``: a hidden folder once,
    not every file in it)."""
    def fail(error: OSError) -> None:
        raise InputError(
            f"cannot read folder {error.filename}: {error.strerror}", hint="check its permissions"
        )

    found: list[Path] = []
    ignored: list[str] = []
    # Linked folders are not followed (a link loop would never end); linked files are read.
    for folder, subfolders, names in os.walk(root, onerror=fail):
        here = Path(folder)
        ignored += [(here / d).relative_to(root).as_posix() + "/" for d in subfolders if d.startswith(".")]
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in names:
            path = here / name
            if name.startswith(".") or _suffix(path) not in SUPPORTED_SUFFIXES:
                ignored.append(path.relative_to(root).as_posix())
                continue
            if not path.is_file():
                raise InputError(
                    f"cannot read {path}: a broken link or not a regular file", hint="remove it or fix the link"
                )
            found.append(path)
    # Sorting by path parts gives one order on every file system, whatever os.walk returns.
    found.sort(key=lambda p: p.relative_to(root).parts)
    return found, sorted(ignored)


def _stat(path: Path) -> os.stat_result:
    try:
        return path.stat()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}", hint=_READABLE_HINT) from error


# --- reading files ------------------------------------------------------------------------------

# Each reader yields (origin, row or None, error, detail); _number turns them into RawRows.
_Item = tuple[str, Any, str, str]


def _number(items: Iterator[_Item], limit: int | None) -> Iterator[RawRow]:
    for index, (origin, row, error, detail) in enumerate(islice(items, limit)):
        yield RawRow(index, origin, row, error, detail)


def _read_files(paths: tuple[Path, ...]) -> Iterator[_Item]:
    for path in paths:
        suffix = _suffix(path)
        try:
            if suffix in JSONL_SUFFIXES or suffix in COMPRESSED_SUFFIXES:
                yield from _read_jsonl(path)
            elif suffix == ".json":
                yield from _read_json(path)
            else:
                yield from _read_parquet(path)
        except (OSError, EOFError) as error:
            # EOFError: a compressed file cut short (the rows before the cut came through)
            raise InputError(
                f"cannot read {path}: {getattr(error, 'strerror', None) or error}", hint=_READABLE_HINT
            ) from error


def _decode_line(origin: str, line: bytes) -> _Item:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        return origin, None, "not_utf8", f"byte {error.start}: {error.reason}"
    return _decode_json(origin, text)


def _decode_json(origin: str, text: str) -> _Item:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return origin, None, "malformed_json", f"{error.msg} at column {error.colno}"
    except RecursionError:
        return origin, None, "nested_too_deep", "JSON nested deeper than Python's recursion limit"
    return _as_row(origin, value)


def _as_row(origin: str, value: Any) -> _Item:
    if not isinstance(value, dict):
        return origin, None, "not_an_object", f"a JSON {type(value).__name__}, not an object"
    return origin, value, "", ""


class _ArrowRaw(io.RawIOBase):
    """A pyarrow input stream as a raw file, so io.BufferedReader can read it line by line."""

    def __init__(self, stream) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


def _open_lines(path: Path):
    """``path`` opened for reading bytes, decompressed as a stream when its suffix says so."""
    codec = COMPRESSED_SUFFIXES.get(_suffix(path))
    if codec == "gzip":
        return gzip.open(path, "rb")
    if codec == "zstd":
        import pyarrow as pa

        return io.BufferedReader(_ArrowRaw(pa.input_stream(str(path), compression="zstd")), 1 << 20)
    return path.open("rb")


def _read_jsonl(path: Path) -> Iterator[_Item]:
    # Bytes, one line at a time: memory stays one line deep, and one bad line is one skip.
    with _open_lines(path) as handle:
        for number, line in enumerate(handle, start=1):
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if line.strip():
                yield _decode_line(f"{path}:{number}", line)


def _read_json(path: Path) -> Iterator[_Item]:
    with path.open("rb") as handle:
        first_line = handle.readline()
        head = first_line.lstrip(b"\xef\xbb\xbf \t\r\n")
        while not head and first_line:
            first_line = handle.readline()
            head = first_line.lstrip(b" \t\r\n")
    if not head:
        return
    if head.startswith(b"["):
        yield from _read_json_array(path)
        return
    # A ".json" that is really JSON lines: its first line is a whole object on its own.
    if _decode_line(str(path), head)[2] == "" or not head.startswith(b"{"):
        yield from _read_jsonl(path)
        return
    text = _read_whole(path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        yield from _read_jsonl(path)
        return
    except RecursionError:
        yield f"{path}#0", None, "nested_too_deep", "JSON nested deeper than Python's recursion limit"
        return
    yield _as_row(f"{path}#0", value)


def _read_whole(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{path} is not UTF-8 text (byte {error.start})", hint="re-encode it as UTF-8") from None


def _read_json_array(path: Path) -> Iterator[_Item]:
    try:
        values = json.loads(_read_whole(path))
    except json.JSONDecodeError as error:
        # One broken array hides every row in it: say so for the whole run rather than skip quietly.
        raise InputError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
            hint="fix the file, or write it as JSON lines so one bad row is one skip",
        ) from error
    except RecursionError:
        raise InputError(f"{path} is JSON nested deeper than Python can read",
                         hint="write it as JSON lines so one bad row is one skip") from None
    for number, value in enumerate(values):
        yield _as_row(f"{path}#{number}", value)


def _read_parquet(path: Path) -> Iterator[_Item]:
    import pyarrow.parquet as pq

    number = 0
    try:
        with pq.ParquetFile(path) as parquet:
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                for row in batch.to_pylist():
                    yield f"{path}#{number}", row, "", ""
                    number += 1
    except OSError:
        raise
    except Exception as error:  # pyarrow raises its own types for corrupt files
        raise InputError(
            f"cannot read parquet file {path} (after {number} rows): {_one_line(error)}",
            hint="check that it is a whole parquet file",
        ) from error


# --- the Hub ------------------------------------------------------------------------------------


def _hub_endpoint() -> tuple[str, int]:
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def _local_copy_hint(hub_id: str) -> str:
    return (
        f"download its parquet or jsonl files where the Hub is reachable "
        f"(hf download {hub_id} --repo-type dataset --local-dir DIR) and pass --input DIR"
    )


def hub_unreachable(variables: tuple[str, ...] = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")) -> str:
    """Why the Hugging Face Hub cannot be reached (an offline variable, or no TCP connection
    within ~3 s), or "" when it can: so a command fails at once rather than retry for minutes."""
    for variable in variables:
        if os.environ.get(variable, "").strip().upper() in _TRUE:
            return f"{variable} is set"
    host, port = _hub_endpoint()
    problem = _tcp_problem(host, port, HUB_CONNECT_TIMEOUT_S)
    return f"{host}:{port}: {problem}" if problem else ""


def _check_hub_reachable(hub_id: str) -> None:
    problem = hub_unreachable()
    if problem:
        raise HubUnreachableError(
            f"cannot stream {hub_id}: the Hugging Face Hub cannot be reached ({problem})",
            hint=_local_copy_hint(hub_id),
        )


def _tcp_problem(host: str, port: int, timeout: float) -> str:
    """Why a TCP connection to host:port fails, or "" when it opens, all within ``timeout``."""
    # Name resolution ignores socket timeouts, so the whole attempt runs in a daemon thread.
    outcome: list[str] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append("")
        except OSError as error:
            outcome.append(error.strerror or str(error) or type(error).__name__)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


def _read_hub(hub_id: str, split: str) -> Iterator[_Item]:
    try:
        import datasets

        stream = iter(datasets.load_dataset(hub_id, split=split, streaming=True))
    except Exception as error:  # datasets raises many types; any of them ends the run the same way
        raise InputError(
            f"cannot open Hub dataset {hub_id} (split {split}): {_one_line(error)}",
            hint="check the dataset id, --split and your access to it",
        ) from error
    return _stream_hub(hub_id, split, stream)


def _stream_hub(hub_id: str, split: str, stream: Iterator[dict]) -> Iterator[_Item]:
    number = 0
    while True:
        try:
            row = next(stream)
        except StopIteration:
            return
        except Exception as error:
            raise InputError(
                f"reading {hub_id} stopped after {number} rows: {_one_line(error)}",
                hint="run the same command again to resume",
            ) from error
        yield _as_row(f"hf:{hub_id}[{split}]#{number}", row)
        number += 1


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return (text[:300] + "...") if len(text) > 300 else text or type(error).__name__
