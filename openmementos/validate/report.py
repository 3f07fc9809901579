"""The report: pass rate, failures by check, size distributions by domain, the worst examples.

Everything is accumulated as records stream by, in memory that does not grow with the input:
distributions are counts per value (token counts are integers, ratios are kept to 0.01), and
only the ``worst`` records are kept whole.
"""

from __future__ import annotations

import heapq
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import CHECKS, ERROR
from .record import RecordResult

DISTRIBUTIONS = ("blocks_per_trace", "tokens_per_block", "tokens_per_memento", "ratio", "compression")
PAPER_BAND = (0.10, 0.25)  # the paper's target for the data set's memento tokens over block tokens
MAX_DOMAINS = 32        # more distinct domain names than this go together under OTHER, so memory stays flat
OTHER = "(other)"


def quantiles(counts: Counter) -> dict[str, float] | None:
    """count, mean, min, p10, median, p90, max of a value -> count histogram."""
    total = sum(counts.values())
    if not total:
        return None
    marks = {"p10": 0.10, "median": 0.50, "p90": 0.90}
    out: dict[str, float] = {"count": total, "mean": round(sum(v * n for v, n in counts.items()) / total, 4)}
    seen = 0
    values = sorted(counts)
    out["min"], out["max"] = values[0], values[-1]
    pending = sorted(marks.items(), key=lambda kv: kv[1])
    for value in values:
        seen += counts[value]
        while pending and seen >= pending[0][1] * total:
            out[pending.pop(0)[0]] = value
    return {k: out[k] for k in ("count", "mean", "min", "p10", "median", "p90", "max")}


@dataclass(slots=True)
class DomainStats:
    records: int = 0
    passed: int = 0
    dists: dict[str, Counter] = field(default_factory=lambda: {name: Counter() for name in DISTRIBUTIONS})

    def add(self, result: RecordResult) -> None:
        self.records += 1
        self.passed += result.passed
        stats = result.stats
        if stats is None:
            return
        self.dists["blocks_per_trace"][len(stats.block_tokens)] += 1
        self.dists["tokens_per_block"].update(stats.block_tokens)
        self.dists["tokens_per_memento"].update(stats.memento_tokens)
        self.dists["ratio"].update(round(r, 2) for r in stats.ratios if r != float("inf"))
        if stats.compression is not None:
            self.dists["compression"][round(stats.compression, 2)] += 1


@dataclass(slots=True)
class Report:
    """Running totals over every record; ``as_dict`` is the summary of the JSON report."""

    worst_kept: int = 10
    records: int = 0
    passed: int = 0
    warned: int = 0
    failing_records: Counter = field(default_factory=Counter)    # check -> records it failed (errors)
    warning_records: Counter = field(default_factory=Counter)    # check -> records it warned
    findings: Counter = field(default_factory=Counter)           # check -> findings
    skipped: Counter = field(default_factory=Counter)            # check -> records it could not judge
    domains: dict[str, DomainStats] = field(default_factory=dict)
    integrity: list[str] = field(default_factory=list)
    shards_checked: int = 0
    block_tokens: int = 0                                         # over every parsed record: the pooled compression
    memento_tokens: int = 0
    _worst: list = field(default_factory=list)
    _seq: int = 0

    def add(self, result: RecordResult) -> None:
        self.records += 1
        self.passed += result.passed
        self.warned += bool(result.warnings)
        for check in {f.check for f in result.errors}:
            self.failing_records[check] += 1
        for check in {f.check for f in result.warnings}:
            self.warning_records[check] += 1
        self.findings.update(f.check for f in result.findings)
        self.skipped.update(result.skipped)
        domain = result.domain if result.domain in self.domains or len(self.domains) < MAX_DOMAINS else OTHER
        self.domains.setdefault(domain, DomainStats()).add(result)
        if result.stats is not None:
            self.block_tokens += sum(result.stats.block_tokens)
            self.memento_tokens += sum(result.stats.memento_tokens)
        if not result.passed:
            badness = sum(f.weight for f in result.errors)
            self._seq += 1  # ties go to the earlier record
            entry = (badness, -self._seq, _example(result))
            if len(self._worst) < self.worst_kept:
                heapq.heappush(self._worst, entry)
            else:
                heapq.heappushpop(self._worst, entry)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.records if self.records else 0.0

    @property
    def worst(self) -> list[dict[str, Any]]:
        return [example for _, _, example in sorted(self._worst, reverse=True)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "passed": self.passed,
            "failed": self.records - self.passed,
            "with_warnings": self.warned,
            "pass_rate": round(self.pass_rate, 6),
            "checks": {
                spec.name: {
                    "failed_records": self.failing_records.get(spec.name, 0),
                    "warned_records": self.warning_records.get(spec.name, 0),
                    "findings": self.findings.get(spec.name, 0),
                    "not_judged": self.skipped.get(spec.name, 0),
                }
                for spec in CHECKS
            },
            "domains": {
                name: {
                    "records": d.records,
                    "passed": d.passed,
                    "pass_rate": round(d.passed / d.records, 6) if d.records else 0.0,
                    **{dist: quantiles(counts) for dist, counts in d.dists.items()},
                }
                for name, d in sorted(self.domains.items())
            },
            "integrity": {"shards_checked": self.shards_checked, "problems": self.integrity},
            "compression": {
                "pooled": round(self.memento_tokens / self.block_tokens, 4) if self.block_tokens else None,
                "paper_band": list(PAPER_BAND),
            },
            "worst": self.worst,
        }


def _example(result: RecordResult) -> dict[str, Any]:
    errors = result.errors
    return {
        "origin": result.origin,
        "trace_id": result.trace_id,
        "domain": result.domain,
        "checks": sorted({f.check for f in errors}),
        "reason": errors[0].message if errors else "",
        "errors": len(errors),
    }


def first_error(result: RecordResult) -> str:
    errors = [f for f in result.findings if f.severity == ERROR]
    return errors[0].check if errors else ""


class JsonReport:
    """``--json REPORT``: per-record results streamed to disk, the summary at the end.

    The file reads ``{"input": ..., "config": ..., "records": [...], "summary": ...}``; it is
    written under a temporary name and renamed once whole.
    """

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.handle = open(self.tmp, "w", encoding="utf-8")
        self.handle.write("{")
        for key, value in header.items():
            self.handle.write(f"{json.dumps(key)}: {json.dumps(value, sort_keys=True)}, ")
        self.handle.write('"records": [')
        self.count = 0

    def add(self, index: int, result: RecordResult) -> None:
        self.handle.write(("\n" if not self.count else ",\n") + json.dumps({"index": index, **result.as_dict()}, ensure_ascii=False))
        self.count += 1

    def close(self, summary: dict[str, Any]) -> None:
        self.handle.write('\n], "summary": ' + json.dumps(summary, ensure_ascii=False) + "}\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        self.handle.close()
        self.tmp.unlink(missing_ok=True)
