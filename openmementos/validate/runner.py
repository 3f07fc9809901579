"""Run every enabled check on every record, in worker processes, and hand results back in order.

:func:`check_row` is the whole per-record pipeline (pure: a row in, a :class:`RecordResult` out).
:func:`run_units` maps it over the input's units, in a pool of forked workers that each read
their own unit from disk, so only the small results cross between processes.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..errors import InputError
from ..execution import die_with_parent
from ..teacher.base import Teacher
from ..tokens import TokenCounter, make_counter
from . import checks_duplicates as duplicates
from . import checks_faithfulness as faith
from . import checks_judge as judge
from . import checks_sizes as sizes
from . import checks_structure as structure
from . import checks_style as style
from .config import ERROR, ValidateConfig
from .reader import BadLine, Unit, read_unit
from .record import Finding, Record, RecordResult

_FAITHFULNESS = ("faithfulness.recall", "faithfulness.hallucination", "faithfulness.lookahead")  # the checks that need numbers


@dataclass(slots=True)
class Checker:
    """What a worker holds: the config, token counters by name, and the re-judging teacher if any."""

    config: ValidateConfig
    teacher: Teacher | None = None
    counters: dict[str, TokenCounter] = field(default_factory=dict)

    def counter(self, name: str) -> TokenCounter:
        if name not in self.counters:
            self.counters[name] = make_counter(name)
        return self.counters[name]


def _bad_line(row: int, origin: str, line: BadLine, level: str | None) -> RecordResult:
    result = RecordResult(row, origin, "", "unknown")
    result.findings.append(Finding("structure.schema", level or ERROR, f"line {row + 1}: {line.reason}", weight=3.0))
    return result


def check_row(checker: Checker, row: int, origin: str, data: dict[str, Any] | BadLine,
              type_errors: dict[str, str] | None = None) -> RecordResult:
    """Every enabled check on one row. A check that cannot judge the row is listed in ``skipped``."""
    config = checker.config
    level = config.severity_of
    if isinstance(data, BadLine):
        return _bad_line(row, origin, data, level("structure.schema"))
    record = Record(data)
    trace_id = data.get("trace_id")
    domain = data.get("domain")
    result = RecordResult(row, origin, trace_id if isinstance(trace_id, str) else "",
                          domain if isinstance(domain, str) and domain else "unknown")
    if level("structure.schema"):
        found = structure.schema(record, level("structure.schema"), type_errors or {})
        record.bad = structure.bad_columns(found)
        result.findings += found
    record.parse()
    # sizes feed the report's distributions, so they are always taken (cheap when recorded);
    # the numbers of every text are the costliest step, taken only for the faithfulness checks
    stats = sizes.stats(record, config, checker.counter) if record.parsed is not None else None
    known = faith.facts(record) if any(level(n) for n in _FAITHFULNESS) else None
    longer = level("sizes.memento_longer_than_block") is not None
    plan = (
        ("structure.tokens", lambda lv: structure.tokens(record, lv)),
        ("structure.coverage", lambda lv: structure.coverage(record, lv)),
        ("structure.roundtrip", lambda lv: structure.roundtrip(record, lv)),
        ("structure.source_text", lambda lv: structure.source_text(record, lv)),
        ("sizes.block_tokens", lambda lv: sizes.block_tokens(record, lv, config, stats)),
        ("sizes.memento_empty", lambda lv: sizes.memento_empty(record, lv)),
        ("sizes.memento_longer_than_block", lambda lv: sizes.memento_longer(record, lv, stats)),
        ("sizes.ratio", lambda lv: sizes.ratio(record, lv, config, stats, longer)),
        ("sizes.inflated", lambda lv: sizes.inflated(record, lv, config, stats, longer)),
        ("sizes.compression", lambda lv: sizes.compression(record, lv, config, stats)),
        ("faithfulness.recall", lambda lv: faith.recall(record, lv, config, known)),
        ("faithfulness.hallucination", lambda lv: faith.hallucination(record, lv, config, known)),
        ("faithfulness.lookahead", lambda lv: faith.lookahead(record, lv, known)),
        ("faithfulness.duplicate", lambda lv: faith.duplicate(record, lv)),
        ("faithfulness.changed_number", lambda lv: faith.changed_number(record, lv)),
        ("faithfulness.order", lambda lv: faith.order(record, lv)),
        ("style.ascii", lambda lv: style.ascii_only(record, lv)),
        ("style.narration", lambda lv: style.narration(record, lv)),
        ("judge.min_score", lambda lv: judge.min_score(record, lv, config, checker.teacher)),
    )
    for name, run in plan:
        severity = level(name)
        if severity is None:
            continue
        try:
            found = run(severity)
        except Exception as error:  # a bug in a check on one odd row must not stop the run
            found = [Finding(name, ERROR, f"check crashed: {type(error).__name__}: {error}", weight=3.0)]
        if found is None:
            result.skipped.append(name)
        else:
            result.findings += found
    result.stats = stats
    if level(duplicates.CHECK):   # compared across records in the main process (validate._validate)
        result.keys = duplicates.keys(record)
    return result


def check_unit(checker: Checker, unit: Unit) -> list[RecordResult]:
    file = unit.file
    return [check_row(checker, row, f"{file.relative}#{row}", data, file.type_errors) for row, data in read_unit(unit)]


_WORKER: Checker | None = None


def _init(checker: Checker, parent: int) -> None:
    global _WORKER
    die_with_parent(parent)
    _WORKER = checker


def _work(unit: Unit) -> list[RecordResult] | tuple[str, str]:
    assert _WORKER is not None
    try:
        return check_unit(_WORKER, unit)
    except InputError as error:  # sent back as values: a pickled exception would lose its hint
        return error.message, error.hint


def run_units(checker: Checker, units: list[Unit], workers: int) -> Iterator[tuple[Unit, list[RecordResult]]]:
    """``(unit, results)`` for every unit, in input order; ``workers`` > 1 checks units in parallel."""
    if workers <= 1 or len(units) <= 1:
        for unit in units:
            yield unit, check_unit(checker, unit)
        return
    # fork: workers inherit the loaded tokenizer instead of rebuilding it
    with multiprocessing.get_context("fork").Pool(min(workers, len(units)), _init, (checker, os.getpid())) as pool:
        for unit, results in zip(units, pool.imap(_work, units)):
            if isinstance(results, tuple):
                raise InputError(*results)
            yield unit, results
