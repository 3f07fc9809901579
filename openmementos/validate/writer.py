"""``--write-passing DIR``: the passing rows as shards in the input's layout and schema, the failing
rows beside them in ``rejects/`` with their reasons, and a ``manifest.json`` written last.

Each input file becomes a file of the same relative name and the same Arrow schema (JSONL lines
are copied byte for byte). A ``full/`` shard's ``data/`` twin is written from the same passing
rows, projected to the twin's columns and types. Everything is written into a hidden sibling
folder (``.DIR.partial``) that is renamed to ``DIR`` once its manifest is in: a killed run leaves
no ``DIR`` that could pass for a whole one, and the next run starts the partial folder afresh.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import __version__
from ..errors import OutputError
from ..outputs import check_folder, writing
from ..shards import sha256_file, write_json
from .reader import Input, InputFile, Unit, parse_line, read_lines, read_table
from .record import RecordResult
from .report import first_error


_AGAIN = "run validate again: it starts the folder afresh"


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

    def abort(self) -> None:
        (self.parquet or self.text).close()


class PassingWriter:
    """Receives each unit's results in input order and writes its rows where they belong."""

    def __init__(self, out: Path, source: Input) -> None:
        out = Path(out)
        check_folder(out, "--write-passing")
        if out.exists() and any(out.iterdir()):
            raise OutputError(f"{out} exists and is not empty", "choose a new folder for --write-passing")
        if out.resolve() == source.root.resolve():
            raise OutputError("--write-passing must not be the folder being validated", "choose a new folder")
        self.final = out
        self.out = out.parent / f".{out.name}.partial"    # renamed to ``out`` when whole
        with writing(self.final, _AGAIN):
            shutil.rmtree(self.out, ignore_errors=True)   # what a killed run left
            # rejects/ even when it stays empty: the layout says "run output" (so a copy that lost
            # its manifest is caught as unfinished), not a downloaded Hub dataset
            (self.out / "rejects").mkdir(parents=True)
        self.source = source
        self.open: dict[str, _Shard] = {}
        self.done: dict[str, list[dict[str, Any]]] = {"data": [], "full": [], "passing": [], "rejects": []}
        self.remaining = {f.relative: f.rows for f in source.files}
        self.passed = self.failed = 0

    def _shard(self, relative: str, schema: pa.Schema | None) -> _Shard:
        if relative not in self.open:
            self.open[relative] = _Shard(self.out / relative, schema)
        return self.open[relative]

    def add(self, unit: Unit, results: list[RecordResult]) -> None:
        with writing(self.final, _AGAIN):
            self._add(unit, results)

    def _add(self, unit: Unit, results: list[RecordResult]) -> None:
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
        """Write ``manifest.json`` last, then rename the folder into place: a ``DIR`` with a
        manifest is whole."""
        with writing(self.final, _AGAIN):
            self._close(summary, config)
            if self.final.exists():
                self.final.rmdir()   # checked empty at the start
            os.replace(self.out, self.final)

    def abandon(self) -> None:
        """Remove the partial folder after a failure (a kill leaves it for the next run to clear)."""
        for shard in self.open.values():
            with contextlib.suppress(Exception):
                shard.abort()
        self.open.clear()
        shutil.rmtree(self.out, ignore_errors=True)

    def _close(self, summary: dict[str, Any], config: dict[str, Any]) -> None:
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
