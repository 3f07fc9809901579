"""What the checks look at and what they return: a record view in, findings out.

A :class:`Record` wraps one input row: its columns (those that failed the schema count as
absent for every other check), its config (``full`` when it carries sentences, blocks or
block_summaries), and the response parsed once by :mod:`openmementos.format`. Per-record
problems are :class:`Finding` values, never exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import format as fmt
from .config import ERROR

FULL_COLUMNS = ("sentences", "blocks", "block_summaries")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem a check found. ``weight`` ranks the worst examples (how far past the line)."""

    check: str
    severity: str
    message: str
    block: int | None = None
    weight: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.check, "message": self.message}
        if self.block is not None:
            out["block"] = self.block
        return out


@dataclass(slots=True)
class Stats:
    """Sizes of one parsed record, for the report's distributions."""

    block_tokens: list[int]
    memento_tokens: list[int]

    @property
    def ratios(self) -> list[float]:
        return [m / b if b else float("inf") for m, b in zip(self.memento_tokens, self.block_tokens)]

    @property
    def compression(self) -> float | None:
        total = sum(self.block_tokens)
        return sum(self.memento_tokens) / total if total else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "blocks": len(self.block_tokens),
            "block_tokens": self.block_tokens,
            "memento_tokens": self.memento_tokens,
            "ratios": [round(r, 4) for r in self.ratios],
            "compression": None if self.compression is None else round(self.compression, 4),
        }


@dataclass(slots=True)
class RecordResult:
    """Every finding on one row, the checks that could not run on it, and its sizes."""

    row: int                 # row number within its file
    origin: str              # "full/train-00000.parquet#17"
    trace_id: str
    domain: str
    findings: list[Finding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    stats: Stats | None = None
    keys: tuple[bytes, ...] = ()      # what records.duplicate compares across records

    @property
    def passed(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != ERROR]

    def as_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "trace_id": self.trace_id,
            "domain": self.domain,
            "passed": self.passed,
            "errors": [f.as_dict() for f in self.errors],
            "warnings": [f.as_dict() for f in self.warnings],
            "skipped": self.skipped,
            "stats": self.stats.as_dict() if self.stats else None,
        }


@dataclass(slots=True)
class Record:
    """One row as the checks see it. Checks may cache what they compute in ``cache``."""

    row: dict[str, Any]
    bad: set[str] = field(default_factory=set)       # columns that failed the schema
    parsed: fmt.MementoResponse | None = None
    parse_error: str | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def full(self) -> bool:
        return any(name in self.row for name in FULL_COLUMNS)

    def get(self, column: str) -> Any:
        """The column's value, or None if it is missing or failed the schema."""
        return None if column in self.bad else self.row.get(column)

    def parse(self) -> None:
        response = self.get("response")
        if not isinstance(response, str):
            self.parse_error = "no usable response column"
            return
        try:
            self.parsed = fmt.parse(response)
        except fmt.FormatError as error:
            self.parse_error = str(error)

    @property
    def blocks(self) -> tuple[str, ...]:
        return self.parsed.blocks if self.parsed else ()

    @property
    def mementos(self) -> tuple[str, ...]:
        return self.parsed.mementos if self.parsed else ()
