"""Quality gates for OpenMementos data: check every record before anyone trains on it.

    >>> from openmementos.validate import ValidateJob, validate
    >>> summary = validate(ValidateJob("shards/"))                     # doctest: +SKIP
    >>> summary.report.pass_rate, summary.exit_code                     # doctest: +SKIP
    (0.97, 1)

Reads ``segment`` output (either config), OpenMementos-schema Parquet from elsewhere, or JSONL in
the same schema; runs the structure, size, faithfulness, style and judge checks of
:mod:`.config` on every record (offline, deterministic); checks ``manifest.json`` when present;
and can write the passing rows as shards in the same layout (``write_passing``). Per-record
problems are findings in the report, never exceptions; only an input that cannot be read at
all raises (:class:`~openmementos.errors.InputError`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ConfigError
from ..teacher.base import Teacher
from .checks_duplicates import CHECK as DUPLICATE_CHECK
from .checks_duplicates import Duplicates
from .config import CHECK_NAMES, CHECKS, ERROR, WARNING, CheckSpec, ValidateConfig
from .integrity import check_manifest, check_twins
from .reader import Input, open_input
from .record import Finding, RecordResult, Stats
from .report import JsonReport, Report
from .runner import Checker, check_row, run_units
from .writer import PassingWriter

__all__ = [
    "CHECKS", "CHECK_NAMES", "ERROR", "WARNING", "CheckSpec", "Finding", "Progress", "RecordResult", "Report", "Stats",
    "ValidateConfig", "ValidateJob", "ValidationSummary", "check_row", "validate",
]


@dataclass(frozen=True)
class ValidateJob:
    path: Path | str
    config: ValidateConfig = field(default_factory=ValidateConfig)
    input_config: str = "auto"                 # "auto", "full" or "default": which config of a shard folder to read
    json_report: Path | str | None = None
    write_passing: Path | str | None = None
    workers: int = 1
    min_pass_rate: float = 1.0                 # the run succeeds when this share of records passes


@dataclass(slots=True)
class ValidationSummary:
    report: Report
    input: Input
    min_pass_rate: float
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No integrity problem, and every record passed (or at least ``min_pass_rate`` of them)."""
        return not self.report.integrity and self.report.pass_rate >= self.min_pass_rate

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def records_per_second(self) -> float:
        return self.report.records / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": str(self.input.root),
            "files": len(self.input.files),
            "ok": self.ok,
            "min_pass_rate": self.min_pass_rate,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
            **self.report.as_dict(),
        }


class Progress:
    """Progress callbacks (the CLI draws a bar); the library default is silent."""

    def start(self, total: int) -> None: ...

    def advance(self, records: int, failed: int) -> None: ...

    def stop(self) -> None: ...


def _teacher(spec: str | None):
    if spec is None:
        return None
    from ..teacher.factory import make_teacher

    try:
        return make_teacher(spec)
    except ConfigError as error:  # the factory's hint speaks of --teacher; here the option is --judge
        raise ConfigError(f"--judge {spec}: {error.message}", "--judge openai:MODEL reads OPENAI_API_KEY and OPENAI_BASE_URL; "
                          "--judge heuristic works offline; without --judge the recorded judge_scores are read") from None


def validate(job: ValidateJob, progress: Progress | None = None, teacher: Teacher | None = None) -> ValidationSummary:
    """Check every record of ``job.path``; write the JSON report and passing shards if asked.

    ``teacher`` (a built teacher) re-judges every memento instead of the one ``config.judge`` names.
    """
    if not 0.0 <= job.min_pass_rate <= 1.0:
        raise ConfigError(f"--min-pass-rate {job.min_pass_rate} is not between 0 and 1")
    source = open_input(job.path, job.input_config)
    owned = teacher is None
    teacher = teacher or _teacher(job.config.judge)
    try:
        return _validate(job, progress or Progress(), source, teacher)
    finally:
        if owned and teacher is not None and hasattr(teacher, "close"):
            teacher.close()


def _validate(job: ValidateJob, progress: Progress, source: Input, teacher: Teacher | None) -> ValidationSummary:
    started = time.perf_counter()
    checker = Checker(job.config, teacher)
    checker.counter(job.config.tokenizer or "cl100k_base")  # load before forking: workers inherit it
    report = Report()
    if source.manifest_root is not None and job.config.severity_of("manifest.integrity"):
        report.shards_checked, report.integrity = check_manifest(source.manifest_root)
    elif job.config.severity_of("manifest.integrity"):
        twins = [(f.relative, f.companion, f.rows) for f in source.files if f.companion]
        report.integrity = check_twins(source.root, twins)
        if source.unfinished:
            report.integrity.insert(0, f"{source.root} has no manifest.json: it is laid out as segment or validate "
                                       "--write-passing output, but that run did not finish (its shards may be partial)")
    writer = PassingWriter(Path(job.write_passing), source) if job.write_passing else None
    duplicate_level = job.config.severity_of(DUPLICATE_CHECK)
    duplicates = Duplicates() if duplicate_level else None
    header = {"input": str(source.root), "files": [f.relative for f in source.files], "config": job.config.as_dict(), "version": __version__}
    json_report = JsonReport(Path(job.json_report), header) if job.json_report else None
    workers = job.workers or os.cpu_count() or 1
    if getattr(teacher, "concurrent", False):
        workers = 1  # a network teacher holds a loop thread and connections: never fork it
    progress.start(source.rows)
    index = 0
    try:
        for unit, results in run_units(checker, source.units, workers):
            for result in results:
                if duplicates is not None:
                    duplicates.check(result, duplicate_level)
                report.add(result)
                if json_report is not None:
                    json_report.add(index, result)
                index += 1
            if writer is not None:
                writer.add(unit, results)
            progress.advance(len(results), sum(not r.passed for r in results))
    except BaseException:
        if json_report is not None:
            json_report.abandon()
        if writer is not None:
            writer.abandon()
        raise
    finally:
        progress.stop()
    summary = ValidationSummary(report, source, job.min_pass_rate, time.perf_counter() - started)
    if writer is not None:
        try:
            writer.close(report.as_dict(), job.config.as_dict())
        except BaseException:
            writer.abandon()
            raise
    summary.seconds = time.perf_counter() - started
    if json_report is not None:
        json_report.close(summary.as_dict())
    return summary
