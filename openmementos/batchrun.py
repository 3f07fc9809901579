"""``segment --batch-api``: the segment job with the teacher's requests sent as Batch API rounds.

A trace's stages run in sequence (scores, then cuts, then block by block: compress, judge, maybe
refine; block i needs block i-1's memento), so the work goes in rounds, with the answer cache as
the bridge. Each round runs every unfinished trace through the stages with the teacher
deferring: a trace finishes from the cache or stops at its first missing answer, whose request
is recorded. The round's requests go out as batches and their answers into the cache; failed
lines come back in the next round, and only those. When a round records nothing,
:func:`~openmementos.pipeline.run_segment` finds every answer in the cache and writes the
shards: resume, determinism and the manifest are the synchronous path's own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .duplicates import Duplicates
from .errors import ConfigError, TeacherAnswerError
from .journal import finished_manifest, open_journal
from .outputs import writing
from .pipeline import (
    Annotator,
    Reporter,
    RunSummary,
    SegmentJob,
    _prepare,
    job_config,
    note_row,
    owning_output,
    run_segment,
)
from .records import Trace
from .scoring import ScoreConfig, window_request, windows
from .select import Stratifier
from .sources import open_input
from .teacher.base import Teacher
from .teacher.batch import BatchLog, BatchRunner, Collector, RoundResult
from .teacher.factory import make_teacher
from .teacher.ledger import Ledger
from .teacher.openai_teacher import Deferred, OpenAITeacher
from .tokens import TokenCounter, make_counter


class BatchProgress:
    """What a batch run tells as it goes; the CLI prints it, the library default is silent."""

    def resumed(self, batches: int, result: RoundResult, cost: float | None) -> None: ...

    def round_submitted(self, number: int, waiting: int, result: RoundResult) -> None: ...

    def status(self, name: str, batch: Any) -> None: ...

    def round_done(self, number: int, result: RoundResult, cost: float | None, given_up: int) -> None: ...


class ConsoleBatchProgress(BatchProgress):
    """One line per round on a rich console (a quiet console prints nothing)."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self._last: dict[str, str] = {}

    def resumed(self, batches: int, result: RoundResult, cost: float | None) -> None:
        self.console.print(f"batch: resumed {batches} batch(es) from before the restart: "
                           f"{result.completed:,} completed, {result.failed:,} failed; {_money(cost)}")

    def round_submitted(self, number: int, waiting: int, result: RoundResult) -> None:
        self.console.print(f"batch round {number}: {waiting:,} trace(s) waiting; "
                           f"[bold]{result.requests:,}[/] request(s) submitted in {result.batches} batch(es)")

    def status(self, name: str, batch: Any) -> None:
        if self._last.get(name) != batch.status:  # changes only: a batch may take hours
            self._last[name] = batch.status
            counts = batch.request_counts
            done = f" ({counts.completed:,}/{counts.total:,} done)" if counts is not None and counts.total else ""
            self.console.print(f"  {name} {batch.id}: {batch.status}{done}")

    def round_done(self, number: int, result: RoundResult, cost: float | None, given_up: int) -> None:
        failed = f"[red]{result.failed:,} failed[/]" if result.failed else "0 failed"
        gave_up = f" ({given_up:,} given up in all: their traces are quarantined)" if given_up else ""
        self.console.print(f"batch round {number}: [green]{result.completed:,} completed[/], {failed}{gave_up}; "
                           f"{_money(cost)}")


def _money(cost: float | None) -> str:
    return "cost so far: no price for this model (--prices FILE)" if cost is None else f"cost so far ${cost:,.4f} (batch price)"


def _cost(ledger: Ledger) -> float | None:
    return None if any(r.unpriced for r in ledger.roles.values()) else ledger.total_cost


def run_batch_segment(job: SegmentJob, reporter: Reporter | None = None, teacher: Teacher | None = None,
                      poll_seconds: float = 60.0, progress: BatchProgress | None = None, line_attempts: int = 3,
                      round_requests: int = 100_000) -> RunSummary:
    """Run (or resume) ``job`` with its LLM teacher's requests sent through the Batch API.

    Re-running the same job after a crash (even ``kill -9``) polls the batches already submitted
    (tracked in ``OUT/.openmementos/batches.jsonl``) instead of sending them again. The
    manifest's cost is the batch price of every request this output folder's batches answered.
    A round holds at most about ``round_requests`` requests (memory, and the API's queue limits);
    traces beyond them wait for a later round.
    """
    with owning_output(job):
        return _run_batch(job, reporter, teacher, poll_seconds, progress or BatchProgress(), line_attempts, round_requests)


def _run_batch(job: SegmentJob, reporter: Reporter | None, teacher: Teacher | None, poll_seconds: float,
               progress: BatchProgress, line_attempts: int, round_requests: int) -> RunSummary:
    owned = teacher is None
    teacher = teacher or make_teacher(job.teacher, job.teacher_options)
    try:
        if not isinstance(teacher, OpenAITeacher):
            raise ConfigError("--batch-api needs an LLM teacher", "add --teacher openai:MODEL")
        counter = make_counter(job.tokenizer)
        config = job_config(job, teacher, counter)
        if not job.overwrite and finished_manifest(job.out, config) is not None:
            return run_segment(job, reporter, teacher)
        # Refuse another run's folder (or clear it for --overwrite) before anything is paid for.
        with writing(job.out):
            journal = open_journal(job.out, config, job.overwrite)
        runner = BatchRunner(teacher, BatchLog(journal.state_dir), poll_seconds, line_attempts, progress.status)
        try:
            _rounds(job, teacher, counter, runner, progress, round_requests, journal.next_input)
        finally:
            runner.close()
        # The final pass: every answer is cached; the ledger starts from what the batches cost.
        teacher.defer = Collector(runner.given_up(), sealed=True)
        teacher.ledger = runner.ledger()
        return run_segment(replace(job, overwrite=False), reporter, teacher)
    finally:
        if isinstance(teacher, OpenAITeacher):
            teacher.defer = None
        if owned and hasattr(teacher, "close"):
            teacher.close()


def _rounds(job: SegmentJob, teacher: OpenAITeacher, counter: TokenCounter, runner: BatchRunner, progress: BatchProgress,
            round_requests: int, start: int) -> None:
    unfinished = runner.log.unfinished()
    if unfinished:
        result = runner.resume()
        progress.resumed(len(unfinished), result, _cost(runner.ledger()))
    finished: set[int] = set()      # input rows whose trace needs no more answers
    teacher.ledger = Ledger(teacher.ledger.prices)   # the rounds' cache hits are not the run's
    while True:
        collector = Collector(runner.given_up())
        teacher.defer = collector
        waiting = _defer_round(job, teacher, counter, finished, collector, round_requests, start)
        if not collector.requests:
            return
        number = runner.log.next_round
        names, result = runner.submit(collector.requests.values())
        progress.round_submitted(number, waiting, result)
        runner.wait(names, result)
        progress.round_done(number, result, _cost(runner.ledger()), len(runner.given_up()))


def _defer_round(job: SegmentJob, teacher: OpenAITeacher, counter: TokenCounter, finished: set[int],
                 collector: Collector, round_requests: int, start: int = 0) -> int:
    """Run unfinished traces as far as the cache goes, until ``collector`` holds ``round_requests``
    requests; return how many traces wait on one. Rows before ``start`` are in the output
    already (an earlier run, or a smaller --limit): they ask for nothing."""
    plan = job.sampling
    # A fresh plan each round, fed every row in order: the same traces as the final pass takes.
    stratifier = Stratifier(plan.domain_mix, plan.total, plan.difficulty_mix, plan.seed, plan.keep_fraction) if plan else None
    annotator = Annotator(counter, teacher, job)
    duplicates = Duplicates()   # fresh each round too, and fed every row: the final pass's duplicates
    waiting = 0
    for raw in open_input(job.input, split=job.split, limit=job.limit):
        if job.partition is not None and raw.index % job.partition.count != job.partition.index:
            note_row(duplicates, raw, job)
            continue
        if stratifier is None and (raw.index < start or raw.index in finished):
            note_row(duplicates, raw, job)
            continue
        result, _ = _prepare(raw, job, counter, stratifier, duplicates)  # the plan sees every row, as in the final pass
        if not isinstance(result, Trace) or raw.index < start or raw.index in finished:
            continue
        try:
            annotator(result)
        except Deferred:
            waiting += 1
            if result.sentences and not result.boundary_scores:
                _ask_every_window(result, teacher, job.scoring)
            if len(collector.requests) >= round_requests:
                break
            continue
        finished.add(raw.index)
    return waiting


def _ask_every_window(trace: Trace, teacher: OpenAITeacher, config: ScoreConfig) -> None:
    """Record the windows of both scoring passes at once: the stage asks the second pass only
    after the first, which would cost a trace one more batch round."""
    sizes = [config.window] + ([config.second_window] if config.second_window else [])
    requests = [window_request(trace, bounds, config.context) for size in sizes for bounds in windows(len(trace.sentences) - 1, size)]
    try:
        teacher.score_many(requests)
    except (Deferred, TeacherAnswerError):
        pass
