"""The run journal: what lets ``segment`` resume after a crash and refuse to mix two runs.

The output folder holds ``.openmementos/run.json`` (the run's configuration and its hash,
written first) and ``.openmementos/journal.jsonl``: one line per finished chunk of input,
appended and fsynced only after that chunk's shards were renamed into place. A chunk is in the
dataset exactly when its journal line is complete; files of an unfinished chunk are removed on
resume and the chunk is redone from its first input row, so nothing is lost or duplicated.
``manifest.json`` is written last: its presence means the run finished.

One run at a time: :func:`lock_output` holds an exclusive lock on ``.openmementos/lock`` for the
whole run, so a second run on the same folder is refused instead of mixing its chunks in. The
kernel releases the lock when the process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .errors import OutputError
from .outputs import check_folder, writing
from .shards import sha256_file, write_json

STATE_DIR = ".openmementos"
LOCK_FILE = "lock"
OUTPUT_FOLDERS = ("data", "full", "rejects", "quarantine")
LOG_DIR = "logs"          # the CLI's per-run log files (openmementos.logs)

log = logging.getLogger(__name__)

# folder -> [open lock file, holders]: the same process may take the lock again (a batch run's
# final pass is an ordinary run), a second process may not
_HELD: dict[str, list] = {}
_HELD_GUARD = threading.Lock()


def _forget_locks_in_child() -> None:
    # A forked worker shares the lock's open file; its own copy goes, so a worker that outlives
    # its parent cannot keep the folder locked (the parent's copy still holds the lock).
    global _HELD_GUARD
    for handle, _ in _HELD.values():
        with contextlib.suppress(OSError):
            handle.close()
    _HELD.clear()
    _HELD_GUARD = threading.Lock()


os.register_at_fork(after_in_child=_forget_locks_in_child)


@contextlib.contextmanager
def lock_output(out: Path, option: str = "--out") -> Iterator[None]:
    """Hold an exclusive lock on ``out`` for the block; refuse at once if another process has it.

    Folders this call had to create are removed again when the block fails before anything
    else was written in them, so a refused run leaves nothing behind.
    """
    out = Path(out)
    check_folder(out, option)
    created = [p for p in (out / STATE_DIR, out, *out.parents) if not p.exists()]
    key = os.path.realpath(out)
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None:
            held[1] += 1
        else:
            with writing(out):
                (out / STATE_DIR).mkdir(parents=True, exist_ok=True)
                # opened, never written: a finished run run again changes no file's time
                handle = open(out / STATE_DIR / LOCK_FILE, "a", encoding="utf-8")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise OutputError(f"{out} is in use by another openmementos run", f"wait for it to finish, or choose another {option}") from None
            except OSError as error:   # a file system without locks
                handle.close()
                raise OutputError(f"cannot lock {out}: {error.strerror or error}", f"choose an {option} on a local disk") from None
            _HELD[key] = held = [handle, 1]
    try:
        yield
    except BaseException:
        _release(key, held, created)
        raise
    _release(key, held)


def _release(key: str, held: list, created: list[Path] = ()) -> None:
    with _HELD_GUARD:
        held[1] -= 1
        if held[1]:
            return
        del _HELD[key]
        # still locked while the bare folders go: no other run can take a lock file being removed
        for folder in created:   # innermost first
            with contextlib.suppress(OSError):
                if folder.name == STATE_DIR and [p.name for p in folder.iterdir()] == [LOCK_FILE]:
                    (folder / LOCK_FILE).unlink()
                folder.rmdir()   # fails, and the folder stays, unless it is empty
        held[0].close()   # closing the file releases the lock


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(slots=True)
class ChunkRecord:
    chunk: int
    input_start: int
    input_end: int                       # exclusive: the next chunk starts here
    kept: int
    skips: dict[str, int]                # "stage/reason" -> count
    files: dict[str, dict[str, Any]]     # relative path -> {"sha256", "rows"}
    state: dict[str, Any] = field(default_factory=dict)   # e.g. the stratifier's counts


@dataclass(slots=True)
class Journal:
    out: Path
    config: dict[str, Any]
    chunks: list[ChunkRecord] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return self.out / STATE_DIR

    def live_files(self) -> dict[str, dict[str, Any]]:
        """Every file the dataset holds now: all chunks' files but those a later chunk replaced
        (a quarantine retry supersedes the quarantine files it re-ran)."""
        superseded = {name for chunk in self.chunks for name in chunk.state.get("supersedes", [])}
        return {name: meta for chunk in self.chunks for name, meta in chunk.files.items() if name not in superseded}

    @property
    def next_input(self) -> int:
        return self.chunks[-1].input_end if self.chunks else 0

    def append(self, record: ChunkRecord) -> None:
        line = json.dumps(_as_dict(record), sort_keys=True)
        with open(self.state_dir / "journal.jsonl", "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.chunks.append(record)


def _as_dict(record: ChunkRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__}


def manifest_path(out: Path) -> Path:
    return out / "manifest.json"


def unfinished_output(folder: Path) -> bool:
    """Whether ``folder`` is laid out as the output of ``segment`` or ``validate --write-passing``
    (``data/`` or ``full/`` beside ``rejects/``, ``quarantine/`` or the state folder) but has no
    ``manifest.json``: a run that did not finish, whose shards may be partial."""
    folder = Path(folder)
    if not folder.is_dir() or manifest_path(folder).exists():
        return False
    shards = any((folder / name).is_dir() for name in ("data", "full"))
    return shards and any((folder / name).is_dir() for name in ("rejects", "quarantine", STATE_DIR))


def run_identity(config: dict[str, Any]) -> str:
    """The configuration's hash without the input's ``--limit``: a larger limit continues a run."""
    source = {k: v for k, v in (config.get("input") or {}).items() if k != "limit"}
    return config_hash({**config, "input": source})


def _limit(config: dict[str, Any]) -> int | None:
    return (config.get("input") or {}).get("limit")


def _rows(limit: int | None) -> str:
    return "every input row" if limit is None else f"--limit {limit}"


def finished_manifest(out: Path, config: dict[str, Any], extend: bool = True) -> dict[str, Any] | None:
    """The manifest of a finished run with this config, or None if the run is not done.

    A finished run asked for more input rows (a larger ``--limit``, or none) is not done
    (``extend``): :func:`open_journal` reopens it and the run goes on from the row where it stopped."""
    path = manifest_path(out)
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    done = manifest.get("config") or {}
    if run_identity(done) != run_identity(config):
        raise OutputError(
            f"{out} holds a finished run with a different configuration",
            "choose another --out, or pass --overwrite to replace it",
        )
    if _limit(done) == _limit(config):
        return manifest
    if extend and _reads_more(_limit(config), _limit(done)):
        return None
    raise OutputError(
        f"{out} holds a finished run of {_rows(_limit(done))}; this asks for {_rows(_limit(config))}",
        "a larger --limit continues that run; for fewer rows choose another --out, or pass --overwrite",
    )


def _reads_more(asked: int | None, done: int | None) -> bool:
    return done is not None and (asked is None or asked > done)


def open_journal(out: Path, config: dict[str, Any], overwrite: bool = False, limit_may_change: bool = True) -> Journal:
    """Start a new run in ``out`` or reopen the unfinished one with the same configuration
    (apart from a ``--limit`` that still covers the rows already done)."""
    state = out / STATE_DIR
    run_file = state / "run.json"
    if overwrite:
        clear_output(out)
    # a bare state folder is a run killed before it wrote run.json: ours to start again (and the
    # log folder the CLI opens before the run starts)
    elif out.is_dir() and not run_file.is_file() and any(p.name not in (STATE_DIR, LOG_DIR) for p in out.iterdir()):
        raise OutputError(f"{out} exists and is not an openmementos output folder", "choose an empty or new --out")
    state.mkdir(parents=True, exist_ok=True)
    previous = json.loads(run_file.read_text(encoding="utf-8")) if run_file.is_file() else None
    if previous is None:
        # at once: a run killed from here on leaves a folder a re-run recognises as its own
        write_json(run_file, {"config_hash": config_hash(config), "config": config})
    elif run_identity(previous.get("config") or {}) != run_identity(config):
        raise OutputError(
            f"{out} holds an unfinished run with a different configuration",
            "re-run with the same options to resume it, choose another --out, or pass --overwrite",
        )
    journal = Journal(out, config, _read_chunks(state / "journal.jsonl"))
    new_limit = previous is not None and previous.get("config_hash") != config_hash(config)
    if new_limit:
        limit = _limit(config)
        if not limit_may_change:
            raise OutputError(f"{out} holds a run of {_rows(_limit(previous['config']))}, not {_rows(limit)}",
                              "give the run's own --limit")
        if limit is not None and journal.next_input > limit:
            raise OutputError(
                f"{out} already holds the first {journal.next_input} input rows; --limit {limit} asks for fewer",
                "resume with a --limit of at least that, choose another --out, or pass --overwrite",
            )
    _remove_unrecorded(out, journal)
    if new_limit:
        # a grown --limit: unfinished again until the new rows are in (checks above all passed)
        manifest_path(out).unlink(missing_ok=True)
        write_json(run_file, {"config_hash": config_hash(config), "config": config})
    return journal


def discard_empty_run(journal: Journal, remove_out: bool = False) -> None:
    """Undo what a run that committed no chunk wrote (its run file, an unfinished chunk's files,
    the folders it made), so that the next run in the same folder, with any configuration,
    starts clean. Leaves alone anything it did not write; ``remove_out`` also removes the
    output folder itself when nothing else is left in it."""
    if journal.chunks:
        return
    out = journal.out
    remove_files_not_in(out, set())
    for name in ("run.json", "journal.jsonl"):
        (journal.state_dir / name).unlink(missing_ok=True)
    for folder in (*OUTPUT_FOLDERS, STATE_DIR):
        with contextlib.suppress(OSError):   # not there, or holds what another tool put there
            (out / folder).rmdir()
    if remove_out:
        with contextlib.suppress(OSError):
            out.rmdir()
    log.info("the run wrote no row: removed its state from %s", out)


def _read_chunks(path: Path) -> list[ChunkRecord]:
    if not path.is_file():
        return []
    chunks: list[ChunkRecord] = []
    valid_bytes = 0
    with open(path, "rb") as handle:
        for line in handle:
            # A kill during append can leave a partial last line: that chunk never finished.
            try:
                record = ChunkRecord(**json.loads(line))
            except (ValueError, TypeError):
                break
            if not line.endswith(b"\n"):
                break
            chunks.append(record)
            valid_bytes += len(line)
    if valid_bytes != path.stat().st_size:
        with open(path, "r+b") as handle:
            handle.truncate(valid_bytes)
    return chunks


def remove_files_not_in(out: Path, keep: set[str] | dict) -> None:
    """Delete every file under the output folders that ``keep`` (relative names) does not list:
    the files of an unfinished chunk, temporary files, leftovers of another plan."""
    for folder in OUTPUT_FOLDERS:
        for path in sorted((out / folder).glob("*")) if (out / folder).is_dir() else []:
            if f"{folder}/{path.name}" not in keep:
                path.unlink()


def _remove_unrecorded(out: Path, journal: Journal) -> None:
    live = journal.live_files()
    remove_files_not_in(out, live)
    for name, meta in live.items():
        path = out / name
        if not path.is_file() or sha256_file(path) != meta["sha256"]:
            raise OutputError(
                f"{path} is missing or changed since it was written",
                "restore it, or pass --overwrite to start this output folder again",
            )


def clear_output(out: Path) -> None:
    """Delete what an earlier run or merge left in ``out`` (``--overwrite``)."""
    for folder in OUTPUT_FOLDERS:
        for path in (out / folder).glob("*") if (out / folder).is_dir() else []:
            path.unlink()
    for path in (out / STATE_DIR).glob("*") if (out / STATE_DIR).is_dir() else []:
        if path.name != LOCK_FILE:   # held by this run: a new file would not be locked
            path.unlink()
    manifest_path(out).unlink(missing_ok=True)
