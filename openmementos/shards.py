"""Parquet shards in the exact ``microsoft/OpenMementos`` schema, written atomically.

Config ``default`` (``data/train-NNNNN.parquet``): problem, response, domain, source, difficulty.
Config ``full`` (``full/train-NNNNN.parquet``): the same, plus sentences, blocks and
block_summaries as published, plus our provenance columns (``PROVENANCE_COLUMNS``).
A shard is written to a temporary name and renamed, so a file under its final name is whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .format import render
from .records import Skip, Trace

DEFAULT_SCHEMA = pa.schema(
    [
        ("problem", pa.string()),
        ("response", pa.string()),
        ("domain", pa.string()),
        ("source", pa.string()),
        ("difficulty", pa.int64()),
    ]
)

# Documented in the README ("Output columns"): what made each row, so a row can be audited alone.
PROVENANCE_COLUMNS = [
    ("trace_id", pa.string()),                          # stable id of the input row
    ("leading", pa.string()),                           # whitespace before the first sentence
    ("separators", pa.list_(pa.string())),              # whitespace after each sentence: thinking == leading + sum(s + sep)
    ("sentence_tokens", pa.list_(pa.int64())),
    ("boundary_scores", pa.list_(pa.float64())),        # score of the cut after sentence i
    ("block_tokens", pa.list_(pa.int64())),
    ("memento_tokens", pa.list_(pa.int64())),
    ("judge_scores", pa.list_(pa.list_(pa.float64()))), # per block, every judge round in order
    ("judge_feedback", pa.list_(pa.string())),          # per block, the last round's feedback
    ("segmentation_objective", pa.float64()),
    ("thinking_tokens", pa.int64()),
    ("answer", pa.string()),                            # the text after </think>, as the source had it
    ("teacher", pa.string()),
    ("tokenizer", pa.string()),
    ("prompt_versions", pa.string()),                   # JSON: prompt name -> content hash
]

FULL_SCHEMA = pa.schema(
    list(DEFAULT_SCHEMA)
    + [
        pa.field("sentences", pa.list_(pa.string())),
        pa.field("blocks", pa.list_(pa.list_(pa.int64()))),
        pa.field("block_summaries", pa.list_(pa.string())),
    ]
    + [pa.field(name, kind) for name, kind in PROVENANCE_COLUMNS]
)


def trace_row(trace: Trace, provenance: dict[str, str]) -> dict[str, Any]:
    """One ``full`` row (a superset of the ``default`` row) for an annotated trace."""
    blocks = [trace.block_text(i) for i in range(len(trace.blocks))]
    return {
        "problem": trace.problem,
        "response": render(blocks, trace.mementos, trace.answer),
        "domain": trace.domain,
        "source": trace.source,
        "difficulty": int(trace.difficulty),
        "sentences": list(trace.sentences),
        "blocks": [[int(a), int(b)] for a, b in trace.blocks],
        "block_summaries": list(trace.mementos),
        "trace_id": trace.trace_id,
        "leading": trace.leading,
        "separators": list(trace.separators),
        "sentence_tokens": list(trace.sentence_tokens),
        "boundary_scores": [float(s) for s in trace.boundary_scores],
        "block_tokens": list(trace.block_tokens),
        "memento_tokens": list(trace.memento_tokens),
        "judge_scores": [[r.score for r in rounds] for rounds in trace.judge_rounds],
        "judge_feedback": [rounds[-1].feedback if rounds else "" for rounds in trace.judge_rounds],
        "segmentation_objective": float(trace.extra.get("objective", 0.0)),
        "thinking_tokens": int(trace.extra.get("thinking_tokens", sum(trace.sentence_tokens))),
        "answer": trace.answer,
        **provenance,
    }


def row_bytes(row: dict[str, Any]) -> int:
    """A cheap size estimate for shard rotation (text columns dominate)."""
    return 2 * len(row["response"]) + len(row["problem"]) + 16 * len(row["sentences"])


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        # a full disk or an interrupt: no half-written temporary file stays behind
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_parquet(path: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    table = pa.Table.from_pylist([{name: row[name] for name in schema.names} for row in rows], schema=schema)
    _atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def json_line(record: dict[str, Any]) -> bytes:
    """``record`` as one UTF-8 JSON line, whatever its ``row`` holds.

    Text with an unpaired surrogate (which JSON escapes can carry but UTF-8 cannot) is written
    with ASCII escapes, still valid JSON and the same value; a ``row`` nested too deep to write is
    replaced by a note saying so, so one odd row never stops a run.
    """
    try:
        text = json.dumps(record, ensure_ascii=False)
    except (RecursionError, ValueError):
        record = {**record, "row": {"unwritable": "the row is nested too deep to write as JSON"}}
        text = json.dumps(record, ensure_ascii=False)
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record) + "\n").encode("ascii")


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            for record in records:
                handle.write(json_line(record))

    _atomic(path, write)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    _atomic(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8"))


def skip_record(skip: Skip) -> dict[str, Any]:
    return {
        "trace_id": skip.trace_id,
        "stage": skip.stage,
        "reason": skip.reason,
        "detail": skip.detail,
        "row": skip.row,
    }


def shard_name(index: int) -> str:
    return f"train-{index:05d}"
