"""Stage 3, boundary scoring: the teacher scores every cut between sentences 0-3, in windows.

Each window asks for ``window`` consecutive boundaries and shows ``context`` sentences on each
side, so the teacher sees what comes before and after every cut. An optional second pass with
a coprime window (11 against 16) moves the window edges, and the two passes are averaged: no
boundary is judged only at the edge of what the teacher saw.
"""

from __future__ import annotations

from dataclasses import dataclass

from .answers import parse_boundary_scores
from .errors import TeacherAnswerError
from .records import Skip, Trace
from .teacher.base import BoundaryRequest, Teacher


@dataclass(frozen=True, slots=True)
class ScoreConfig:
    window: int = 16
    second_window: int | None = 11     # None: a single pass
    context: int = 2                   # sentences shown beyond the first and last boundary


def windows(n_boundaries: int, size: int) -> list[range]:
    """Consecutive ranges of at most ``size`` boundaries covering ``0..n_boundaries-1``."""
    return [range(start, min(start + size, n_boundaries)) for start in range(0, n_boundaries, size)]


def window_request(trace: Trace, bounds: range, context: int) -> BoundaryRequest:
    first = max(0, bounds.start - context)
    # boundary b sits between sentence b and b + 1, so the window must show sentence stop + context
    last = min(len(trace.sentences), bounds.stop + 1 + context)
    return BoundaryRequest(
        problem=trace.problem,
        sentences=tuple(trace.sentences[first:last]),
        boundaries=tuple(b - first for b in bounds),
        first_index=first,
        paragraph_breaks=tuple(sep.count("\n") >= 2 for sep in trace.separators[first:last]),
    )


def _one_pass(trace: Trace, teacher: Teacher, size: int, context: int) -> list[int]:
    spans = windows(len(trace.sentences) - 1, size)
    requests = [window_request(trace, bounds, context) for bounds in spans]
    # Windows are independent: a teacher that can (an LLM server) answers them concurrently.
    score_many = getattr(teacher, "score_many", None)
    answers = score_many(requests) if score_many else [teacher.score_boundaries(r) for r in requests]
    scores: list[int] = []
    for bounds, raw in zip(spans, answers):
        scores += parse_boundary_scores(raw, expected=len(bounds))
    return scores


def score_trace(trace: Trace, teacher: Teacher, config: ScoreConfig = ScoreConfig()) -> Trace | Skip:
    """Fill ``trace.boundary_scores`` (floats; halves when two passes are averaged)."""
    if len(trace.sentences) < 2:
        trace.boundary_scores = []
        return trace
    try:
        first = _one_pass(trace, teacher, config.window, config.context)
        if config.second_window:
            second = _one_pass(trace, teacher, config.second_window, config.context)
            trace.boundary_scores = [(a + b) / 2 for a, b in zip(first, second)]
        else:
            trace.boundary_scores = [float(s) for s in first]
    except TeacherAnswerError as error:
        return Skip(trace.trace_id, "scoring", error.reason, str(error), responses=error.responses)
    return trace
