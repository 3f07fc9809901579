"""``--write-passing DIR``: the passing rows as shards in the input's layout and schema, the failing
rows beside them in ``rejects/`` with their reasons, and a ``manifest.json`` written last.

Each input file becomes a file of the same relative name and the same Arrow schema (JSONL lines
are copied byte for byte). A ``full/`` shard's ``data/`` twin is written from the same passing
rows, projected to the twin's columns and types. Files are written under a temporary name and
renamed when whole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import __version__
from ..errors import OutputError
from ..shards import sha256_file, write_json
from .reader import Input, InputFile, Unit, parse_line, read_lines, read_table
from .record import RecordResult
from .report import first_error


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


class _Shard:
    """One output file being filled unit by unit."""

    def __init__(self, path: Path, schema: pa.Schema | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.rows = path, 0
        self.parquet = pq.ParquetWriter(_tmp(path), schema, compression="zstd") if schema is not None else None
        self.text = None if schema is not None else open(_tmp(path), "wb")

    def write_table(self, table: pa.Table) -> None:
        self.parquet.write_table(table)
        self.rows += table.num_rows

    def write_lines(self, lines: list[bytes]) -> None:
        self.text.writelines(lines)
        self.rows += len(lines)

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        else:
            self.text.flush()
            os.fsync(self.text.fileno())
            self.text.close()
        os.replace(_tmp(self.path), self.path)


class PassingWriter:
    """Receives each unit's results in input order and writes its rows where they belong."""

    def __init__(self, out: Path, source: Input) -> None:
        out = Path(out)
        if out.exists() and any(out.iterdir()):
            raise OutputError(f"{out} exists and is not empty", "choose a new folder for --write-passing")
        if out.resolve() == source.root.resolve():
            raise OutputError("--write-passing must not be the folder being validated", "choose a new folder")
        self.out, self.source = out, source
        self.open: dict[str, _Shard] = {}
        self.done: dict[str, list[dict[str, Any]]] = {"data": [], "full": [], "passing": [], "rejects": []}
        self.remaining = {f.relative: f.rows for f in source.files}
        self.passed = self.failed = 0

    def _shard(self, relative: str, schema: pa.Schema | None) -> _Shard:
        if relative not in self.open:
            self.open[relative] = _Shard(self.out / relative, schema)
        return self.open[relative]

    def add(self, unit: Unit, results: list[RecordResult]) -> None:
        file = unit.file
        keep = [r.passed for r in results]
        self.passed += sum(keep)
        self.failed += len(keep) - sum(keep)
        if file.kind == "parquet":
            table = read_table(unit)
            mask = pa.array(keep, type=pa.bool_())
            self._shard(file.relative, pq.ParquetFile(file.path).schema_arrow).write_table(table.filter(mask))
            if file.companion:
                twin_schema = pq.ParquetFile(self.source.root / file.companion).schema_arrow
                twin = table.filter(mask).select(twin_schema.names).cast(twin_schema)
                self._shard(file.companion, twin_schema).write_table(twin)
            failing = table.filter(pc.invert(mask)).to_pylist()
        else:
            lines = read_lines(unit)
            self._shard(file.relative, None).write_lines([line for line, ok in zip(lines, keep) if ok])
            failing = [_row(line) for line, ok in zip(lines, keep) if not ok]
        bad = [r for r in results if not r.passed]
        if bad:
            self._shard(_rejects_name(file), None).write_lines([(json.dumps(_reject(r, row), ensure_ascii=False) + "\n").encode("utf-8") for r, row in zip(bad, failing)])
        self.remaining[file.relative] -= unit.rows
        if self.remaining[file.relative] == 0:
            self._finish(file)

    def _finish(self, file: InputFile) -> None:
        for relative in (file.relative, file.companion, _rejects_name(file)):
            if relative is None or relative not in self.open:
                continue
            shard = self.open.pop(relative)
            shard.close()
            folder = relative.split("/", 1)[0]
            kind = "rejects" if relative.startswith("rejects/") else folder if folder in ("data", "full") else "passing"
            self.done[kind].append({"path": relative, "sha256": sha256_file(shard.path), "rows": shard.rows})

    def close(self, summary: dict[str, Any], config: dict[str, Any]) -> None:
        """Write ``manifest.json`` last: its presence means every shard before it is whole."""
        for file in self.source.files:
            if file.rows == 0:
                continue
            self._finish(file)
        shards = {k: v for k, v in self.done.items() if v or k in ("data", "full", "rejects")}
        write_json(self.out / "manifest.json", {
            "format": "openmementos/1",
            "version": __version__,
            "validated_from": str(self.source.root),
            "validate_config": config,
            "counts": {"input_rows": self.passed + self.failed, "kept": self.passed, "failed": self.failed,
                       "pass_rate": summary.get("pass_rate")},
            "shards": shards,
        })


def _rejects_name(file: InputFile) -> str:
    name = file.relative.split("/", 1)[1] if file.relative.startswith(("data/", "full/")) else file.relative
    return f"rejects/{Path(name).with_suffix('.jsonl').as_posix()}"


def _row(line: bytes) -> Any:
    row = parse_line(line)
    return row if isinstance(row, dict) else row.text


def _reject(result: RecordResult, row: Any) -> dict[str, Any]:
    errors = result.errors
    return {
        "index": result.row,
        "origin": result.origin,
        "trace_id": result.trace_id,
        "stage": "validate",
        "reason": first_error(result),
        "detail": "; ".join(f.message for f in errors),
        "failures": [{"check": f.check, **f.as_dict()} for f in errors],
        "row": row,
    }
