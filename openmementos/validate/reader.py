"""Find and read what ``validate`` checks: ``segment`` output, OpenMementos Parquet, or JSONL.

A folder with ``full/`` (and ``data/``) is read through ``full/``, the config that carries the
sentences and blocks; ``--config default`` reads ``data/`` instead. Otherwise the Parquet and JSONL
files of the folder (or the one file given) are read in sorted order. Work is cut into units (one
Parquet row group, or a run of JSONL lines) that a worker reads by itself, in batches, so memory
stays flat whatever the input size. Anything that cannot be opened at all is an
:class:`InputError`: nothing is checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ConfigError, InputError
from ..journal import unfinished_output
from .schema import row_schema

SUFFIXES = (".parquet", ".jsonl")
CONFIGS = ("auto", "full", "default")
JSONL_UNIT = 1000      # lines per unit of work
BATCH_ROWS = 256       # rows decoded at a time within a Parquet unit


@dataclass(frozen=True, slots=True)
class InputFile:
    path: Path
    relative: str                          # e.g. "full/train-00000.parquet"
    kind: str                              # "parquet" or "jsonl"
    rows: int
    type_errors: dict[str, str] = field(default_factory=dict)   # Parquet columns of the wrong type
    companion: str | None = None           # "data/train-00000.parquet" beside a full/ shard


@dataclass(frozen=True, slots=True)
class Unit:
    """A piece of one file a worker reads alone: a row group, or a run of lines at a byte offset."""

    file: InputFile
    part: int
    start: int          # row number (within the file) of the unit's first row
    rows: int
    offset: int = 0     # JSONL: byte offset of the first line


@dataclass(slots=True)
class Input:
    root: Path                     # the folder the relative paths start from
    files: list[InputFile]
    units: list[Unit]
    manifest_root: Path | None     # the folder holding manifest.json, if any
    unfinished: bool = False       # laid out as a run's output, but with no manifest.json

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


class BadLine:
    """A JSONL line that is not a JSON object: a per-record schema failure, not a stopped run."""

    __slots__ = ("text", "reason")

    def __init__(self, text: str, reason: str) -> None:
        self.text, self.reason = text, reason


def _data_files(folder: Path, nested: bool = True) -> list[Path]:
    """Parquet and JSONL files under ``folder`` in sorted order; hidden files and rejects/ left out."""
    found = folder.rglob("*") if nested else folder.iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix in SUFFIXES
                  and not any(part.startswith(".") or part == "rejects" for part in p.relative_to(folder).parts))


def _choose(path: Path, config: str) -> tuple[Path, list[Path], Path | None]:
    """(root for relative names, files to read, folder of manifest.json or None)."""
    if path.is_file():
        if path.suffix not in SUFFIXES:
            raise InputError(f"{path} is neither a .parquet nor a .jsonl file", "pass OpenMementos Parquet or JSONL, or a folder of them")
        return path.parent, [path], None
    wanted = {"auto": ("full", "data"), "full": ("full",), "default": ("data",)}[config]
    for name in wanted:
        if (path / name).is_dir() and _data_files(path / name):
            return path, _data_files(path / name), path if (path / "manifest.json").is_file() else None
    if config != "auto":
        raise InputError(f"{path} has no {wanted[0]}/ folder of shards", "drop --config, or point at a segment output folder")
    # the files of this folder, else of its subfolders (a dataset with its own nesting);
    # rejects/ hold rows segment dropped, not data
    files = _data_files(path, nested=False) or _data_files(path)
    manifest_root = path if (path / "manifest.json").is_file() else None
    if manifest_root is None and path.name in ("data", "full") and (path.parent / "manifest.json").is_file():
        return path.parent, files, path.parent
    return path, files, manifest_root


def _open_parquet(path: Path, relative: str, root: Path) -> tuple[InputFile, list[Unit]]:
    try:
        meta = pq.ParquetFile(path)
        schema = meta.schema_arrow
    except (pa.ArrowException, OSError) as error:
        raise InputError(f"{relative} is not a readable Parquet file: {_one_line(error)}", "re-download or re-write it; nothing was checked") from None
    companion = None
    if relative.startswith("full/") and (root / "data" / relative[len("full/"):]).is_file():
        companion = "data/" + relative[len("full/"):]
    file = InputFile(path, relative, "parquet", meta.metadata.num_rows, row_schema().arrow_problems(schema), companion)
    units, start = [], 0
    for group in range(meta.metadata.num_row_groups):
        rows = meta.metadata.row_group(group).num_rows
        units.append(Unit(file, group, start, rows))
        start += rows
    return file, units


def _open_jsonl(path: Path, relative: str) -> tuple[InputFile, list[Unit]]:
    spans: list[tuple[int, int, int]] = []  # (first row, rows, byte offset) of each unit
    rows = offset = unit_offset = unit_start = 0
    try:
        with open(path, "rb") as handle:
            for line in handle:
                if line.strip():
                    if rows - unit_start == JSONL_UNIT:
                        spans.append((unit_start, rows - unit_start, unit_offset))
                        unit_start, unit_offset = rows, offset
                    rows += 1
                offset += len(line)
    except OSError as error:
        raise InputError(f"cannot read {relative}: {error}") from None
    if rows > unit_start:
        spans.append((unit_start, rows - unit_start, unit_offset))
    file = InputFile(path, relative, "jsonl", rows)
    return file, [Unit(file, part, start, count, at) for part, (start, count, at) in enumerate(spans)]


def open_input(path: str | Path, config: str = "auto") -> Input:
    """Find the files under ``path`` and plan the units of work; raise InputError if there is nothing to check."""
    path = Path(path)
    if config not in CONFIGS:
        raise ConfigError(f"unknown --config {config!r}", f"use one of {', '.join(CONFIGS)}")
    if not path.exists():
        raise InputError(f"{path} does not exist", "pass a segment output folder, a Parquet or JSONL file, or a folder of them")
    root, paths, manifest_root = _choose(path, config)
    if not paths:
        raise InputError(f"no .parquet or .jsonl files under {path}", "pass a segment output folder, a Parquet or JSONL file, or a folder of them")
    files, units = [], []
    for file_path in paths:
        relative = file_path.relative_to(root).as_posix()
        file, file_units = _open_parquet(file_path, relative, root) if file_path.suffix == ".parquet" else _open_jsonl(file_path, relative)
        files.append(file)
        units += file_units
    if not any(f.rows for f in files):
        raise InputError(f"{path} holds no rows", "nothing to validate: check that segment kept any traces")
    unfinished = manifest_root is None and path.is_dir() and unfinished_output(root)
    return Input(root, files, [u for u in units if u.rows], manifest_root, unfinished)


def read_unit(unit: Unit) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    """``(row number within the file, row)`` for every row of the unit, in order, a batch at a time."""
    if unit.file.kind == "parquet":
        row = unit.start
        try:
            batches = pq.ParquetFile(unit.file.path).iter_batches(batch_size=BATCH_ROWS, row_groups=[unit.part], use_threads=False)
            for batch in batches:
                # column by column, then zipped: a third of the cost of RecordBatch.to_pylist()
                columns = batch.to_pydict()
                names = list(columns)
                for values in zip(*columns.values()):
                    yield row, dict(zip(names, values))
                    row += 1
        except (pa.ArrowException, OSError) as error:
            raise _unreadable(unit, error) from None
        return
    with open(unit.file.path, "rb") as handle:
        handle.seek(unit.offset)
        row = unit.start
        while row < unit.start + unit.rows:
            line = handle.readline()
            if not line:
                break
            if not line.strip():
                continue
            yield row, parse_line(line)
            row += 1


def parse_line(line: bytes) -> dict[str, Any] | BadLine:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        return BadLine(line.decode("utf-8", "replace"), f"not UTF-8: {error}")
    try:
        value = json.loads(text)
    except ValueError as error:
        return BadLine(text, f"not JSON: {error}")
    return value if isinstance(value, dict) else BadLine(text, f"a JSON {type(value).__name__}, not an object")


def read_table(unit: Unit) -> pa.Table:
    """The unit's rows as an Arrow table, in the file's own schema (for writing passing rows)."""
    try:
        return pq.ParquetFile(unit.file.path).read_row_group(unit.part)
    except (pa.ArrowException, OSError) as error:
        raise _unreadable(unit, error) from None


def _one_line(error: Exception) -> str:
    """Arrow's message, printable and on one line (a damaged footer can put raw bytes in it)."""
    text = " ".join(str(error).split())
    return "".join(c if c.isprintable() else "?" for c in text)[:200]


def _unreadable(unit: Unit, error: Exception) -> InputError:
    return InputError(f"{unit.file.relative}: row group {unit.part} cannot be read: {_one_line(error)}",
                      "the file is damaged: re-download or re-write it (rows before it were checked)")


def read_lines(unit: Unit) -> list[bytes]:
    """The unit's non-blank JSONL lines, byte for byte."""
    lines: list[bytes] = []
    with open(unit.file.path, "rb") as handle:
        handle.seek(unit.offset)
        while len(lines) < unit.rows:
            line = handle.readline()
            if not line:
                break
            if line.strip():
                lines.append(line if line.endswith(b"\n") else line + b"\n")
    return lines
