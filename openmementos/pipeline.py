"""The ``segment`` job: input rows -> stages -> shards, resumable and deterministic.

The main process reads rows in order, turns them into traces and applies selection and the
sampling plan (cheap, and it must happen before any teacher call is paid for). Workers run the
per-trace stages (split, score, segment, mementos). Results are consumed in input order and cut
into chunks at points that depend only on the results, so a resumed run cuts the same chunks as
an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter, deque
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import __version__
from .duplicates import Duplicates
from .errors import ConfigError, OpenMementosError
from .execution import TraceExecutor
from .journal import (OUTPUT_FOLDERS, STATE_DIR, ChunkRecord, Journal, config_hash, discard_empty_run, finished_manifest,
                      lock_output, manifest_path, open_journal)
from .mementos import MementoConfig, memento_trace
from .outputs import writing
from .records import Skip, Trace
from .resources import prompt_versions
from .rowcount import count_rows
from .rowschema import to_trace
from .scoring import ScoreConfig, score_trace
from .segmentation import SegmentConfig, segment_trace
from .select import SelectConfig, Stratifier, select_trace
from .sentences import SplitConfig, split_trace
from .shards import DEFAULT_SCHEMA, FULL_SCHEMA, row_bytes, shard_name, trace_row, write_json, write_jsonl, write_parquet
from .sources import FieldMap, RawRow, ignored_files, input_fingerprint, local_path, open_input
from .teacher.base import Teacher
from .teacher.factory import TeacherOptions, make_teacher
from .tokens import TokenCounter, make_counter

log = logging.getLogger(__name__)

SAMPLING_REASONS = {"not_sampled", "stratum_full"}   # counted, but not rejects worth a file
# The teacher failed on these traces: kept apart with the raw responses, to retry later.
QUARANTINE_REASONS = {"invalid_teacher_answer", "teacher_request_failed", "teacher_truncated"}


@dataclass(frozen=True, slots=True)
class Partition:
    """Machine ``index`` of ``count``: it takes the input rows whose position modulo ``count``
    is ``index``, so N machines given the same input produce disjoint outputs (``merge``)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "Partition":
        try:
            index, count = (int(x) for x in text.split("/"))
        except ValueError:
            raise ValueError(f"{text!r} is not I/N") from None
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"{text!r}: need 0 <= I < N")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


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
    teacher_options: TeacherOptions | None = None
    tokenizer: str | None = None
    select: SelectConfig = SelectConfig()
    sentences: SplitConfig = SplitConfig()
    scoring: ScoreConfig = ScoreConfig()
    segmentation: SegmentConfig = SegmentConfig()
    mementos: MementoConfig = MementoConfig()
    sampling: SamplingPlan | None = None
    partition: Partition | None = None
    rows_per_shard: int = 1000
    shard_bytes: int = 256 * 2**20
    workers: int = 1
    overwrite: bool = False
    traces_in_flight: int = 64          # for LLM teachers: traces waiting on requests at once
    # the options the run was started with (command line merged with --config), recorded in the
    # manifest as given; not part of the run's identity, which job_config alone decides
    options: dict[str, Any] | None = None


@dataclass(slots=True)
class RunSummary:
    out: Path
    input_rows: int = 0
    kept: int = 0
    failed: int = 0
    quarantined: int = 0
    skips: Counter = field(default_factory=Counter)
    shards: int = 0
    seconds: float = 0.0
    already_complete: bool = False
    resumed_from: int = 0
    retried: dict[str, int] | None = None      # set by a quarantine retry
    teacher: str = ""
    ignored: list[str] = field(default_factory=list)   # files of the input folder not read
    processed: int = 0             # input rows consumed by this run (not earlier runs it resumed)
    rate_seconds: float = 0.0      # from the first input row read to the last row consumed
    cost: dict[str, Any] | None = None   # the teacher's ledger (Ledger.as_dict), when it has one

    @property
    def traces_per_second(self) -> float | None:
        """The rate the progress bar shows too: rows this run consumed over the seconds since
        it started reading them (start-up and the manifest are not counted)."""
        return self.processed / self.rate_seconds if self.rate_seconds > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "input_rows": self.input_rows,
            "kept": self.kept,
            "failed": self.failed,
            "quarantined": self.quarantined,
            "skipped": sum(self.skips.values()),
            "skips": dict(sorted(self.skips.items())),
            "shards": self.shards,
            "seconds": round(self.seconds, 3),
            "rows_this_run": self.processed,
            "traces_per_second": round(self.traces_per_second, 2) if self.traces_per_second else None,
            "already_complete": self.already_complete,
            "resumed_from_row": self.resumed_from,
            "retried": self.retried,
            "teacher": self.teacher,
            "ignored_inputs": self.ignored,
            "cost": self.cost,
            "manifest": str(manifest_path(self.out)),
        }


class Reporter:
    """Progress callbacks; the CLI draws a progress bar from them, the library default is silent."""

    def watch(self, teacher: Teacher) -> None:
        """Called before :meth:`start` with the teacher, whose ``ledger`` (LLM teachers) counts
        requests, tokens and spend as they happen."""

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
        except OpenMementosError:
            raise  # a run-level problem (the teacher refused our key): stop, keep finished shards
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
        "partition": asdict(job.partition) if job.partition else None,
        "rows_per_shard": job.rows_per_shard,
        "shard_bytes": job.shard_bytes,
        "prompt_versions": prompt_versions(),
        "version": __version__,
    }


@dataclass(slots=True)
class _Chunk:
    start: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    skips: Counter = field(default_factory=Counter)
    consumed: int = 0
    size: int = 0
    end: int = -1          # one past the last input row consumed (rows of other partitions are not)

    def __post_init__(self) -> None:
        self.end = self.start


def check_paths(job: SegmentJob) -> None:
    """Refuse an ``--out`` inside the input folder (its own shards would become input rows) and
    an input inside the folders ``--out`` manages (``--overwrite`` would delete it)."""
    source = local_path(job.input)
    if source is None:
        return
    out = Path(job.out).resolve()
    if source.is_dir() and (out == source or source in out.parents):
        raise ConfigError(f"--out {job.out} is inside the input folder {source}",
                          "choose an --out outside the input, or the run would read its own output")
    managed = [out / name for name in (*OUTPUT_FOLDERS, STATE_DIR)]
    if source == out or any(folder == source or folder in source.parents for folder in managed):
        raise ConfigError(f"the input {source} is inside --out {job.out}",
                          "move the input out of the output folder, or choose another --out")


@contextlib.contextmanager
def owning_output(job: SegmentJob) -> Iterator[None]:
    """What every run that writes ``job.out`` does first: check its paths, then hold its lock."""
    check_paths(job)
    with lock_output(job.out):
        yield


def run_segment(job: SegmentJob, reporter: Reporter | None = None, teacher: Teacher | None = None) -> RunSummary:
    """Run (or resume, or recognise as finished) a segment job; return its summary.

    ``teacher`` overrides ``job.teacher`` (a built teacher object, e.g. an LLM engine with its
    own endpoints and cache); its ``describe()`` goes into the config all the same. Another run
    on the same ``job.out`` is refused while this one holds it.
    """
    reporter = reporter or Reporter()
    started = time.perf_counter()
    with owning_output(job):
        counter = make_counter(job.tokenizer)
        owned = teacher is None
        teacher = teacher or make_teacher(job.teacher, job.teacher_options)
        try:
            summary = _run(job, reporter, teacher, counter, started)
        finally:
            if owned and hasattr(teacher, "close"):
                teacher.close()
    summary.ignored = ignored_files(job.input)
    return summary


def _run(job: SegmentJob, reporter: Reporter, teacher: Teacher, counter: TokenCounter, started: float) -> RunSummary:
    config = job_config(job, teacher, counter)
    summary = RunSummary(job.out, teacher=teacher.name)
    if not job.overwrite:
        manifest = finished_manifest(job.out, config)
        if manifest is not None:
            _summary_from_manifest(summary, manifest)
            return summary
    # Opening the input checks it at once (missing file, Hub unreachable) before any output.
    source = open_input(job.input, split=job.split, limit=job.limit)
    out_existed = job.out.exists()
    fresh = job.overwrite or not (job.out / STATE_DIR / "run.json").is_file()
    with writing(job.out):
        journal = open_journal(job.out, config, job.overwrite)
    try:
        return _annotate(job, reporter, teacher, counter, started, config, journal, source)
    except BaseException:
        if fresh:
            # a run that committed no row leaves nothing behind: the next run here starts clean
            discard_empty_run(journal, remove_out=not out_existed)
        raise


def _annotate(job: SegmentJob, reporter: Reporter, teacher: Teacher, counter: TokenCounter, started: float,
              config: dict[str, Any], journal: Journal, source) -> RunSummary:
    summary = summary_from_journal(job, journal, teacher)
    ledger = getattr(teacher, "ledger", None)
    stratifier = _stratifier(job.sampling, journal)
    annotator = Annotator(counter, teacher, job)
    provenance = _provenance(config)
    log.info("segment %s -> %s: teacher %s, tokenizer %s, config %s", job.input, job.out, teacher.name, counter.name,
             config_hash(config))
    if journal.next_input:
        log.info("resuming after input row %d (%d chunks already written)", journal.next_input, len(journal.chunks))
    reporter.watch(teacher)
    reporter.start(_expected_rows(job, journal.next_input), journal.next_input, teacher.name)
    rows_started = time.perf_counter()
    taken = Counter(stratifier.taken) if stratifier else Counter()
    duplicates = Duplicates()
    concurrent = bool(getattr(teacher, "concurrent", False))
    try:
        with TraceExecutor(annotator, job.workers, concurrent, job.traces_in_flight) as executor:
            chunk = _Chunk(journal.next_input)
            pending: deque[tuple[RawRow, Any, str | None]] = deque()

            def state() -> dict[str, Any]:
                return {"taken": dict(taken), "ledger": ledger.as_dict() if ledger is not None else None}

            def consume_one() -> bool:
                """Consume the oldest pending row; True when the sampling plan is complete."""
                nonlocal chunk
                raw, item, stratum = pending.popleft()
                result = item.result() if isinstance(item, Future) else item
                _consume(chunk, raw, result, provenance)
                summary.processed += 1
                if stratum is not None:
                    # counted when the plan took it, whatever the later stages made of it: the
                    # same count the main process's stratifier keeps, so a resume agrees with it
                    taken[stratum] += 1
                reporter.advance(*_deltas(result))
                # Stop at the row that fills the plan: the same row however work was scheduled.
                finished = stratifier is not None and stratifier.is_done(taken)
                if _full(chunk, job) or finished:
                    _commit(journal, chunk, summary, state())
                    chunk = _Chunk(raw.index + 1)
                return finished

            # a resumed run whose plan was already filled reads no further row
            finished = stratifier is not None and stratifier.is_done(taken)
            for raw in source if not finished else ():
                # rows done by an earlier run, or another machine's rows (not this output's to
                # count or write): only noted, so a later copy of one is dropped as it was then
                done = raw.index < journal.next_input
                if done or (job.partition is not None and raw.index % job.partition.count != job.partition.index):
                    note_row(duplicates, raw, job)
                    continue
                result, stratum = _prepare(raw, job, counter, stratifier, duplicates)
                pending.append((raw, executor.submit(result) if isinstance(result, Trace) else result, stratum))
                while pending and (len(pending) > executor.max_pending or _ready(pending[0][1])):
                    if finished := consume_one():
                        break
                if finished:
                    break
            while pending and not finished:
                finished = consume_one()
            if chunk.consumed:
                _commit(journal, chunk, summary, state())
    finally:
        summary.rate_seconds = time.perf_counter() - rows_started
        reporter.stop()
    _write_manifest(journal, summary, teacher, counter, job.options)
    summary.cost = ledger.as_dict() if ledger is not None else None
    summary.seconds = time.perf_counter() - started
    log.info("finished: %d input rows (%d this run), %d kept, %d skipped, %d failed, %d quarantined; %.1f s",
             summary.input_rows, summary.processed, summary.kept, sum(summary.skips.values()), summary.failed,
             summary.quarantined, summary.seconds)
    return summary


def _expected_rows(job: SegmentJob, resumed_from: int) -> int | None:
    """The bar's total, counted like ``Reporter.start`` reads it (rows up to the input's end,
    from which it subtracts ``resumed_from``); None when the input's size is not known."""
    total = count_rows(job.input, job.limit)
    if total is None or job.partition is None:
        return total
    # only this machine's rows are consumed: those at or after resumed_from with index % N == I
    n, i = job.partition.count, job.partition.index
    first = resumed_from + (i - resumed_from) % n
    return resumed_from + len(range(first, total, n))


def summary_from_journal(job: SegmentJob, journal: Journal, teacher: Teacher) -> RunSummary:
    """The counts of the chunks already finished; the teacher's ledger continues from them."""
    summary = RunSummary(job.out, teacher=teacher.name)
    for chunk in journal.chunks:
        _tally(summary, chunk.kept, chunk.skips, chunk.state.get("removed"))
    summary.resumed_from = journal.next_input
    ledger = getattr(teacher, "ledger", None)
    if ledger is not None and journal.chunks:
        ledger.restore(journal.chunks[-1].state.get("ledger") or {})
    return summary


def _ready(item: Any) -> bool:
    return not isinstance(item, Future) or item.done()


def note_row(duplicates: Duplicates, raw: RawRow, job: SegmentJob) -> None:
    """Remember a row that is not prepared here, so that a later copy of it is still a duplicate."""
    result = to_trace(raw, job.fields)
    if isinstance(result, Trace):
        duplicates.note(result, raw.index, raw.origin)


def _prepare(raw: RawRow, job: SegmentJob, counter: TokenCounter, stratifier: Stratifier | None,
             duplicates: Duplicates | None = None) -> tuple[Trace | Skip, str | None]:
    """Input row -> selected trace (or skip), in the main process: cheap, and before any paid call."""
    result = to_trace(raw, job.fields)
    if isinstance(result, Trace) and duplicates is not None:
        result = duplicates.offer(result, raw.index, raw.origin)
    if isinstance(result, Trace):
        result = select_trace(result, counter, job.select)
    stratum = None
    if isinstance(result, Trace) and stratifier is not None:
        stratum = stratifier.stratum(result)
        result = stratifier.offer(result)
    return result, stratum


def _summary_from_manifest(summary: RunSummary, manifest: dict[str, Any]) -> None:
    counts = manifest["counts"]
    summary.cost = manifest.get("cost")
    summary.input_rows, summary.kept, summary.failed = counts["input_rows"], counts["kept"], counts["failed"]
    summary.quarantined = counts.get("quarantined", 0)
    summary.skips = Counter(counts["skips"])
    summary.shards = len(manifest["shards"]["data"])
    summary.already_complete = True


def _consume(chunk: _Chunk, raw: RawRow, result: Trace | Skip, provenance: dict[str, str]) -> None:
    chunk.consumed += 1
    chunk.end = raw.index + 1
    if isinstance(result, Trace):
        row = trace_row(result, provenance)
        chunk.rows.append(row)
        chunk.size += row_bytes(row)
        return
    chunk.skips[f"{result.stage}/{result.reason}"] += 1
    if result.reason in SAMPLING_REASONS:
        return
    if result.reason == "internal_error":
        log.warning("input row %d (%s) failed in %s: %s", raw.index, result.trace_id, result.stage, result.detail)
    elif result.reason in QUARANTINE_REASONS:
        log.info("input row %d (%s) quarantined: %s: %s", raw.index, result.trace_id, result.reason, result.detail)
    record = {
        "index": raw.index,
        "origin": raw.origin,
        "trace_id": result.trace_id,
        "stage": result.stage,
        "reason": result.reason,
        "detail": result.detail,
        "row": raw.row,
    }
    if result.reason in QUARANTINE_REASONS:
        chunk.quarantine.append({**record, "responses": list(result.responses)})
    else:
        chunk.rejects.append(record)


def _deltas(result: Trace | Skip) -> tuple[int, int, int]:
    if isinstance(result, Trace):
        return 1, 0, 0
    failed = result.reason == "internal_error" or result.reason in QUARANTINE_REASONS
    return (0, 0, 1) if failed else (0, 1, 0)


def _full(chunk: _Chunk, job: SegmentJob) -> bool:
    # The consumed-rows bound keeps memory flat through long runs of rejected rows.
    return (
        len(chunk.rows) >= job.rows_per_shard
        or chunk.size >= job.shard_bytes
        or chunk.consumed >= 4 * job.rows_per_shard
    )


def _commit(journal: Journal, chunk: _Chunk, summary: RunSummary, state: dict[str, Any]) -> None:
    with writing(journal.out):
        _write_chunk(journal, chunk, summary, state)


def _write_chunk(journal: Journal, chunk: _Chunk, summary: RunSummary, state: dict[str, Any]) -> None:
    from .shards import sha256_file

    index = len(journal.chunks)
    files: dict[str, dict[str, Any]] = {}
    if chunk.rows:
        for folder, schema in (("data", DEFAULT_SCHEMA), ("full", FULL_SCHEMA)):
            name = f"{folder}/{shard_name(index)}.parquet"
            write_parquet(journal.out / name, chunk.rows, schema)
            files[name] = {"sha256": sha256_file(journal.out / name), "rows": len(chunk.rows)}
    for folder, records in (("rejects", chunk.rejects), ("quarantine", chunk.quarantine)):
        if records:
            name = f"{folder}/{shard_name(index)}.jsonl"
            write_jsonl(journal.out / name, records)
            files[name] = {"sha256": sha256_file(journal.out / name), "rows": len(records)}
    record = ChunkRecord(
        index, chunk.start, chunk.end, len(chunk.rows), dict(chunk.skips), files, state
    )
    journal.append(record)
    _tally(summary, record.kept, record.skips, state.get("removed"))
    log.info("chunk %d written: input rows %d-%d, %d kept, %d skipped or failed (%s)", index, chunk.start, chunk.end - 1,
             record.kept, sum(record.skips.values()), ", ".join(sorted(files)) or "no files")


def _tally(summary: RunSummary, kept: int, skips: dict[str, int], removed: dict[str, int] | None = None) -> None:
    # ``removed``: quarantined rows a retry took back (now kept or quarantined again)
    for count in (removed or {}).values():
        summary.quarantined -= count
        summary.input_rows -= count
    summary.kept += kept
    for key, count in skips.items():
        reason = key.rsplit("/", 1)[-1]
        if reason == "internal_error":
            summary.failed += count
        elif reason in QUARANTINE_REASONS:
            summary.quarantined += count
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


def _write_manifest(journal: Journal, summary: RunSummary, teacher: Teacher, counter: TokenCounter,
                    options: dict[str, Any] | None = None) -> None:
    shards: dict[str, list[dict[str, Any]]] = {folder: [] for folder in OUTPUT_FOLDERS}
    for name, meta in journal.live_files().items():
        shards[name.split("/", 1)[0]].append({"path": name, **meta})
    summary.shards = len(shards["data"])
    with writing(journal.out):
        write_json(manifest_path(journal.out), _manifest(journal, summary, teacher, counter, shards, options))


def _manifest(journal: Journal, summary: RunSummary, teacher: Teacher, counter: TokenCounter,
              shards: dict[str, list[dict[str, Any]]], options: dict[str, Any] | None) -> dict[str, Any]:
    return {
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
            "quarantined": summary.quarantined,
            "skipped": sum(summary.skips.values()),
            "skips": dict(sorted(summary.skips.items())),
        },
        "cost": teacher.ledger.as_dict() if getattr(teacher, "ledger", None) is not None else None,
        "options": options,
        "shards": shards,
    }
