"""The teacher protocol and its request records.

A teacher answers with plain JSON-like dicts, exactly what an LLM would return after JSON
decoding; the stages validate every answer (``openmementos.answers``) whoever wrote it, so the
offline teacher and a remote model go through the same checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class BoundaryRequest:
    """Score the cuts after ``sentences[i]`` for every ``i`` in ``boundaries``.

    ``sentences`` is a window of the trace (context before and after included);
    ``first_index`` is the trace index of ``sentences[0]`` so answers can be logged;
    ``paragraph_breaks[i]`` tells whether a blank line follows ``sentences[i]`` (empty: unknown).
    The answer is ``{"scores": [int 0-3, ...]}``, one per boundary, in order.
    """

    problem: str
    sentences: tuple[str, ...]
    boundaries: tuple[int, ...]
    first_index: int = 0
    paragraph_breaks: tuple[bool, ...] = ()


@dataclass(frozen=True, slots=True)
class CompressRequest:
    """Write the memento of ``block``; answer ``{"memento": str}``.

    ``previous_mementos`` are the mementos of the blocks before it, in order: the memento must
    not repeat them, and must not know anything from later blocks (they are not given).
    """

    problem: str
    block: str
    block_index: int
    previous_mementos: tuple[str, ...]
    target_ratio: float = 0.18


@dataclass(frozen=True, slots=True)
class JudgeRequest:
    """Score ``memento`` against ``block`` on the rubric; answer follows ``schemas/judge_verdict``."""

    problem: str
    block: str
    memento: str
    block_index: int
    previous_mementos: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RefineRequest:
    """Rewrite ``memento`` using the judge's ``feedback``; answer ``{"memento": str}``."""

    problem: str
    block: str
    memento: str
    feedback: str
    block_index: int
    previous_mementos: tuple[str, ...] = ()
    target_ratio: float = 0.18


@runtime_checkable
class Teacher(Protocol):
    """What the stages need from a teacher. ``describe`` feeds the output's provenance."""

    name: str

    def describe(self) -> dict[str, Any]: ...

    def score_boundaries(self, request: BoundaryRequest) -> dict[str, Any]: ...

    def compress(self, request: CompressRequest) -> dict[str, Any]: ...

    def judge(self, request: JudgeRequest) -> dict[str, Any]: ...

    def refine(self, request: RefineRequest) -> dict[str, Any]: ...
