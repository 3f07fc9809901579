"""Retry quarantined traces of a finished run: ``segment ... --retry-quarantine``.

The quarantine files hold each failed row with its reason and raw responses. A retry runs those
rows through the stages again (the answer cache skips whatever had succeeded) and records one
more chunk in the journal: the recovered rows as new shards, the rows that failed again as a new
quarantine file, and the names of the quarantine files it replaces. The manifest is removed
first and written again last, so an interrupted retry is finished by running it again.
"""

from __future__ import annotations

import json
from collections import Counter

from .errors import OutputError
from .execution import TraceExecutor
from .journal import finished_manifest, manifest_path, open_journal
from .pipeline import (
    Annotator,
    Reporter,
    RunSummary,
    SegmentJob,
    _Chunk,
    _commit,
    _consume,
    _deltas,
    _prepare,
    _provenance,
    _write_manifest,
    job_config,
    owning_output,
    summary_from_journal,
)
from .outputs import writing
from .records import Trace
from .sources import RawRow
from .teacher.base import Teacher
from .teacher.factory import make_teacher
from .tokens import make_counter


def retry_quarantine(job: SegmentJob, reporter: Reporter | None = None, teacher: Teacher | None = None) -> RunSummary:
    """Run the quarantined traces of ``job``'s run again; refused while another run holds ``job.out``."""
    with owning_output(job):
        return _retry(job, reporter, teacher)


def _retry(job: SegmentJob, reporter: Reporter | None, teacher: Teacher | None) -> RunSummary:
    reporter = reporter or Reporter()
    counter = make_counter(job.tokenizer)
    owned = teacher is None
    teacher = teacher or make_teacher(job.teacher, job.teacher_options)
    try:
        config = job_config(job, teacher, counter)
        if not manifest_path(job.out).is_file() and not (job.out / ".openmementos" / "journal.jsonl").is_file():
            raise OutputError(f"{job.out} holds no run to retry", "run segment first, with the same options")
        if manifest_path(job.out).is_file():
            finished_manifest(job.out, config, extend=False)  # refuses a different configuration or --limit
        with writing(job.out):
            journal = open_journal(job.out, config, limit_may_change=False)
        live = journal.live_files()
        old = sorted(name for name in live if name.startswith("quarantine/"))
        records = [json.loads(line) for name in old for line in (job.out / name).read_text(encoding="utf-8").splitlines()]
        manifest_path(job.out).unlink(missing_ok=True)
        summary = summary_from_journal(job, journal, teacher)
        chunk = _Chunk(journal.next_input)
        annotator = Annotator(counter, teacher, job)
        reporter.watch(teacher)
        reporter.start(len(records), 0, teacher.name)
        try:
            with TraceExecutor(annotator, job.workers, bool(getattr(teacher, "concurrent", False)), job.traces_in_flight) as executor:
                pending = []
                for record in records:
                    raw = RawRow(record["index"], record["origin"], record["row"])
                    result, _ = _prepare(raw, job, counter, None)
                    pending.append((raw, executor.submit(result) if isinstance(result, Trace) else result))
                for raw, item in pending:
                    result = item.result() if hasattr(item, "result") else item
                    _consume(chunk, raw, result, _provenance(config))
                    reporter.advance(*_deltas(result))
        finally:
            reporter.stop()
        chunk.end = journal.next_input  # no new input rows: the retry re-reads old ones
        removed = Counter(f"{r['stage']}/{r['reason']}" for r in records)
        ledger = getattr(teacher, "ledger", None)
        state = {"supersedes": old, "removed": dict(removed), "ledger": ledger.as_dict() if ledger is not None else None,
                 "taken": journal.chunks[-1].state.get("taken", {}) if journal.chunks else {}}
        if records:
            _commit(journal, chunk, summary, state)
            for name in old:
                (job.out / name).unlink(missing_ok=True)
        _write_manifest(journal, summary, teacher, counter, job.options)
        summary.retried = {"retried": len(records), "recovered": len(chunk.rows),
                           "still_quarantined": len(chunk.quarantine), "other_skips": len(chunk.rejects)}
        return summary
    finally:
        if owned and hasattr(teacher, "close"):
            teacher.close()

