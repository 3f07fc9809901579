"""The ``segment`` job: input rows -> stages -> shards, resumable and deterministic.

The main process reads rows in order, turns them into traces and applies selection and the
sampling plan (cheap, and it must happen before any teacher call is paid for). Workers run the
per-trace stages (split, score, segment, mementos). Results are consumed in input order and cut
into chunks at points that depend only on the results, so a resumed run cuts the same chunks as
an uninterrupted one.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterator

from . import __version__
from .journal import ChunkRecord, Journal, finished_manifest, manifest_path, open_journal
from .mementos import MementoConfig, memento_trace
from .records import Skip, Trace
from .resources import prompt_versions
from .rowschema import to_trace
from .scoring import ScoreConfig, score_trace
from .segmentation import SegmentConfig, segment_trace
from .select import SelectConfig, Stratifier, select_trace
from .sentences import SplitConfig, split_trace
from .shards import DEFAULT_SCHEMA, FULL_SCHEMA, row_bytes, shard_name, trace_row, write_json, write_jsonl, write_parquet
from .sources import FieldMap, RawRow, input_fingerprint, open_input
from .teacher.base import Teacher
from .teacher.factory import make_teacher
from .tokens import TokenCounter, make_counter

SAMPLING_REASONS = {"not_sampled", "stratum_full"}   # counted, but not rejects worth a file


@dataclass(frozen=True, slots=True)
class SamplingPlan:
    domain_mix: dict[str, float]
    total: int
    difficulty_mix: dict[str, float] | None = None
    seed: int = 0
    keep_fraction: float = 1.0


@dataclass(frozen=True)
class SegmentJob:
    input: str
    out: Path
    split: str = "train"
    limit: int | None = None
    fields: FieldMap = FieldMap()
    teacher: str = "heuristic"
    tokenizer: str | None = None
    select: SelectConfig = SelectConfig()
    sentences: SplitConfig = SplitConfig()
    scoring: ScoreConfig = ScoreConfig()
    segmentation: SegmentConfig = SegmentConfig()
    mementos: MementoConfig = MementoConfig()
    sampling: SamplingPlan | None = None
    rows_per_shard: int = 1000
    shard_bytes: int = 256 * 2**20
    workers: int = 1
    overwrite: bool = False
    batch_size: int = 64


@dataclass(slots=True)
class RunSummary:
    out: Path
    input_rows: int = 0
    kept: int = 0
    failed: int = 0
    skips: Counter = field(default_factory=Counter)
    shards: int = 0
    seconds: float = 0.0
    already_complete: bool = False
    resumed_from: int = 0
    teacher: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "input_rows": self.input_rows,
            "kept": self.kept,
            "failed": self.failed,
            "skipped": sum(self.skips.values()),
            "skips": dict(sorted(self.skips.items())),
            "shards": self.shards,
            "seconds": round(self.seconds, 3),
            "traces_per_second": round(self.input_rows / self.seconds, 2) if self.seconds else None,
            "already_complete": self.already_complete,
            "resumed_from_row": self.resumed_from,
            "teacher": self.teacher,
            "manifest": str(manifest_path(self.out)),
        }


class Reporter:
    """Progress callbacks; the CLI draws a progress bar from them, the library default is silent."""

    def start(self, total: int | None, resumed_from: int, teacher: str) -> None: ...

    def advance(self, kept: int, skipped: int, failed: int) -> None: ...

    def stop(self) -> None: ...


@dataclass(slots=True)
class Annotator:
    """The per-trace stages after selection. Picklable: each worker process holds one."""

    counter: TokenCounter
    teacher: Teacher
    job: SegmentJob

    def __call__(self, trace: Trace) -> Trace | Skip:
        stage = "sentences"
        try:
            result: Trace | Skip = split_trace(trace, self.counter, self.job.sentences)
            for stage, step in (
                ("scoring", lambda t: score_trace(t, self.teacher, self.job.scoring)),
                ("segmentation", lambda t: segment_trace(t, self.job.segmentation)),
                ("mementos", lambda t: memento_trace(t, self.teacher, self.counter, self.job.mementos)),
            ):
                if isinstance(result, Skip):
                    break
                result = step(result)
            return result
        except Exception as error:  # a bug on one trace must not stop the run; it is counted as failed
            return Skip(trace.trace_id, stage, "internal_error", f"{type(error).__name__}: {error}")


def job_config(job: SegmentJob, teacher: Teacher, counter: TokenCounter) -> dict[str, Any]:
    """Everything that determines the output (not where it goes or how many workers)."""
    return {
        "input": input_fingerprint(job.input, job.split, job.limit),
        "fields": asdict(job.fields),
        "teacher": teacher.describe(),
        "tokenizer": counter.name,
        "select": asdict(job.select),
        "sentences": asdict(job.sentences),
        "scoring": asdict(job.scoring),
        "segmentation": asdict(job.segmentation),
        "mementos": asdict(job.mementos),
        "sampling": asdict(job.sampling) if job.sampling else None,
        "rows_per_shard": job.rows_per_shard,
        "shard_bytes": job.shard_bytes,
        "prompt_versions": prompt_versions(),
        "version": __version__,
    }


_WORKER: Annotator | None = None


def _init_worker(annotator: Annotator) -> None:
    global _WORKER
    _WORKER = annotator


def _annotate(trace: Trace) -> Trace | Skip:
    assert _WORKER is not None
    return _WORKER(trace)


@dataclass(slots=True)
class _Chunk:
    start: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    skips: Counter = field(default_factory=Counter)
    consumed: int = 0
    size: int = 0


def run_segment(job: SegmentJob, reporter: Reporter | None = None) -> RunSummary:
    """Run (or resume, or recognise as finished) a segment job; return its summary."""
    reporter = reporter or Reporter()
    started = time.perf_counter()
    counter = make_counter(job.tokenizer)
    teacher = make_teacher(job.teacher)
    config = job_config(job, teacher, counter)
    summary = RunSummary(job.out, teacher=teacher.name)
    if not job.overwrite:
        manifest = finished_manifest(job.out, config)
        if manifest is not None:
            counts = manifest["counts"]
            summary.input_rows, summary.kept, summary.failed = counts["input_rows"], counts["kept"], counts["failed"]
            summary.skips = Counter(counts["skips"])
            summary.shards = len(manifest["shards"]["data"])
            summary.already_complete = True
            return summary
    journal = open_journal(job.out, config, job.overwrite)
    for chunk in journal.chunks:
        _tally(summary, chunk.kept, chunk.skips)
    summary.resumed_from = journal.next_input
    stratifier = _stratifier(job.sampling, journal)
    annotator = Annotator(counter, teacher, job)
    provenance = _provenance(config)

    pool = None
    if job.workers > 1:
        # fork: workers inherit the loaded tokenizer and teacher instead of re-importing them
        pool = multiprocessing.get_context("fork").Pool(job.workers, _init_worker, (annotator,))
        mapper: Callable = pool.map
    else:
        _init_worker(annotator)
        mapper = lambda fn, items: list(map(fn, items))  # noqa: E731
    # Opening the input checks it at once (missing file, Hub unreachable) before any output.
    source = open_input(job.input, split=job.split, limit=job.limit)
    reporter.start(job.limit, journal.next_input, teacher.name)
    taken = Counter(stratifier.taken) if stratifier else Counter()
    try:
        chunk = _Chunk(journal.next_input)
        rows = (raw for raw in source if raw.index >= journal.next_input)
        finished_early = False
        for batch in _batches(rows, job.batch_size):
            for raw, result, stratum in _process(batch, job, counter, stratifier, mapper):
                _consume(chunk, raw, result, provenance)
                if stratum is not None:
                    taken[stratum] += 1
                reporter.advance(*_deltas(result))
                # Stop at the row that fills the plan: the same row whatever the batch size.
                finished_early = stratifier is not None and stratifier.is_done(taken)
                if _full(chunk, job) or finished_early:
                    _commit(journal, chunk, summary, {"taken": dict(taken)})
                    chunk = _Chunk(raw.index + 1)
                if finished_early:
                    break
            if finished_early:
                break
        if chunk.consumed:
            _commit(journal, chunk, summary, {"taken": dict(taken)})
    finally:
        reporter.stop()
        if pool is not None:
            pool.terminate()
    _write_manifest(journal, summary, teacher, counter)
    summary.seconds = time.perf_counter() - started
    return summary


def _batches(rows: Iterator[RawRow], size: int) -> Iterator[list[RawRow]]:
    while batch := list(islice(rows, size)):
        yield batch


def _process(batch, job: SegmentJob, counter, stratifier, mapper):
    """Yield (raw row, Trace or Skip, stratum taken or None) for a batch, in input order."""
    early: dict[int, Trace | Skip] = {}
    strata: dict[int, str] = {}
    todo: list[tuple[int, Trace]] = []
    for position, raw in enumerate(batch):
        result = to_trace(raw, job.fields)
        if isinstance(result, Trace):
            result = select_trace(result, counter, job.select)
        if isinstance(result, Trace) and stratifier is not None:
            stratum = stratifier.stratum(result)
            result = stratifier.offer(result)
            if isinstance(result, Trace):
                strata[position] = stratum
        if isinstance(result, Trace):
            todo.append((position, result))
        else:
            early[position] = result
    annotated = dict(zip((p for p, _ in todo), mapper(_annotate, [t for _, t in todo])))
    for position, raw in enumerate(batch):
        result = early[position] if position in early else annotated[position]
        yield raw, result, strata.get(position)


def _consume(chunk: _Chunk, raw: RawRow, result: Trace | Skip, provenance: dict[str, str]) -> None:
    chunk.consumed += 1
    if isinstance(result, Trace):
        row = trace_row(result, provenance)
        chunk.rows.append(row)
        chunk.size += row_bytes(row)
        return
    chunk.skips[f"{result.stage}/{result.reason}"] += 1
    if result.reason not in SAMPLING_REASONS:
        chunk.rejects.append(
            {
                "index": raw.index,
                "origin": raw.origin,
                "trace_id": result.trace_id,
                "stage": result.stage,
                "reason": result.reason,
                "detail": result.detail,
                "row": raw.row,
            }
        )


def _deltas(result: Trace | Skip) -> tuple[int, int, int]:
    if isinstance(result, Trace):
        return 1, 0, 0
    return (0, 0, 1) if result.reason == "internal_error" else (0, 1, 0)


def _full(chunk: _Chunk, job: SegmentJob) -> bool:
    # The consumed-rows bound keeps memory flat through long runs of rejected rows.
    return (
        len(chunk.rows) >= job.rows_per_shard
        or chunk.size >= job.shard_bytes
        or chunk.consumed >= 4 * job.rows_per_shard
    )


def _commit(journal: Journal, chunk: _Chunk, summary: RunSummary, state: dict[str, Any]) -> None:
    from .shards import sha256_file

    index = len(journal.chunks)
    files: dict[str, dict[str, Any]] = {}
    if chunk.rows:
        for folder, schema in (("data", DEFAULT_SCHEMA), ("full", FULL_SCHEMA)):
            name = f"{folder}/{shard_name(index)}.parquet"
            write_parquet(journal.out / name, chunk.rows, schema)
            files[name] = {"sha256": sha256_file(journal.out / name), "rows": len(chunk.rows)}
    if chunk.rejects:
        name = f"rejects/{shard_name(index)}.jsonl"
        write_jsonl(journal.out / name, chunk.rejects)
        files[name] = {"sha256": sha256_file(journal.out / name), "rows": len(chunk.rejects)}
    record = ChunkRecord(
        index, chunk.start, chunk.start + chunk.consumed, len(chunk.rows), dict(chunk.skips), files, state
    )
    journal.append(record)
    _tally(summary, record.kept, record.skips)


def _tally(summary: RunSummary, kept: int, skips: dict[str, int]) -> None:
    summary.kept += kept
    for key, count in skips.items():
        if key.endswith("/internal_error"):
            summary.failed += count
        else:
            summary.skips[key] += count
    summary.input_rows += kept + sum(skips.values())


def _stratifier(plan: SamplingPlan | None, journal: Journal) -> Stratifier | None:
    if plan is None:
        return None
    taken = journal.chunks[-1].state.get("taken", {}) if journal.chunks else {}
    return Stratifier(plan.domain_mix, plan.total, plan.difficulty_mix, plan.seed, plan.keep_fraction, dict(taken))


def _provenance(config: dict[str, Any]) -> dict[str, str]:
    import json

    return {
        "teacher": config["teacher"]["name"],
        "tokenizer": config["tokenizer"],
        "prompt_versions": json.dumps(config["prompt_versions"], sort_keys=True),
    }


def _write_manifest(journal: Journal, summary: RunSummary, teacher: Teacher, counter: TokenCounter) -> None:
    from .journal import config_hash

    shards: dict[str, list[dict[str, Any]]] = {"data": [], "full": [], "rejects": []}
    for chunk in journal.chunks:
        for name, meta in sorted(chunk.files.items()):
            shards[name.split("/", 1)[0]].append({"path": name, **meta})
    summary.shards = len(shards["data"])
    write_json(
        manifest_path(journal.out),
        {
            "format": "openmementos/1",
            "version": __version__,
            "config_hash": config_hash(journal.config),
            "config": journal.config,
            "teacher": teacher.describe(),
            "tokenizer": counter.name,
            "prompt_versions": journal.config["prompt_versions"],
            "counts": {
                "input_rows": summary.input_rows,
                "kept": summary.kept,
                "failed": summary.failed,
                "skipped": sum(summary.skips.values()),
                "skips": dict(sorted(summary.skips.items())),
            },
            "shards": shards,
        },
    )
