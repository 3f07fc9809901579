"""The plain records every stage reads and extends.

A :class:`Trace` enters the pipeline with the fields a source can know (problem, thinking text,
answer, metadata) and each stage fills in its own fields. A :class:`Skip` is the value a stage
returns instead of a trace it drops: per-record problems are values, not exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class JudgeRound:
    """One judge verdict on one memento draft."""

    score: float
    feedback: str
    parts: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Trace:
    """One reasoning trace as it moves through the stages.

    ``thinking`` is the text between ``<think>`` and ``</think>`` exactly as the source had it;
    ``answer`` is everything after ``</think>``. Stage fields start empty.
    """

    trace_id: str
    problem: str
    thinking: str
    answer: str
    domain: str = "unknown"
    source: str = ""
    difficulty: int = -1
    # sentences: sentences[i] + separators[i] for all i rejoins to ``thinking`` byte for byte
    # (the separator is the whitespace after the sentence; the first sentence may be preceded
    # by ``leading``).
    leading: str = ""
    sentences: list[str] = field(default_factory=list)
    separators: list[str] = field(default_factory=list)
    sentence_tokens: list[int] = field(default_factory=list)
    # scoring: boundary_scores[i] scores the cut between sentence i and i + 1
    boundary_scores: list[float] = field(default_factory=list)
    # segmentation: inclusive [first, last] sentence indices, covering all sentences in order
    blocks: list[tuple[int, int]] = field(default_factory=list)
    block_tokens: list[int] = field(default_factory=list)
    # mementos: one final memento per block, and every judge round per block
    mementos: list[str] = field(default_factory=list)
    memento_tokens: list[int] = field(default_factory=list)
    judge_rounds: list[list[JudgeRound]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def thinking_tokens(self) -> int:
        return sum(self.sentence_tokens)

    def block_text(self, index: int) -> str:
        """The exact source text of block ``index`` (sentences and inner separators)."""
        first, last = self.blocks[index]
        parts: list[str] = []
        for i in range(first, last + 1):
            parts.append(self.sentences[i])
            if i < last:
                parts.append(self.separators[i])
        return "".join(parts)


@dataclass(slots=True, frozen=True)
class Skip:
    """A trace a stage dropped, with a machine-readable reason and a human detail."""

    trace_id: str
    stage: str
    reason: str
    detail: str = ""
    row: dict[str, Any] | None = None
    responses: tuple[str, ...] = ()     # raw teacher responses, when a teacher answer failed
