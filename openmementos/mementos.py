"""Stage 5, mementos: compress each block, judge the memento, refine it with the feedback.

A memento under ``threshold`` is rewritten with the judge's feedback and judged again, up to
``max_rounds`` refinements (two in the paper). Every round's verdict is kept on the trace; the
memento kept is the best-judged draft, so a refinement that makes things worse never replaces a
better draft, and one that is longer than the draft it refined without scoring higher is
discarded: refinement must not creep towards the length cap. The next round refines the draft
kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from .answers import parse_memento, parse_verdict
from .errors import TeacherAnswerError
from .records import JudgeRound, Skip, Trace
from .teacher.base import CompressRequest, JudgeRequest, RefineRequest, Teacher
from .tokens import TokenCounter


@dataclass(frozen=True, slots=True)
class MementoConfig:
    threshold: float = 8.0
    max_rounds: int = 2
    target_ratio: float = 0.18


def _block_memento(
    trace: Trace, index: int, previous: tuple[str, ...], teacher: Teacher, config: MementoConfig
) -> tuple[str, list[JudgeRound]]:
    block = trace.block_text(index)
    memento = parse_memento(
        teacher.compress(CompressRequest(trace.problem, block, index, previous, config.target_ratio))
    )
    rounds: list[JudgeRound] = []
    best_score, best, feedback = float("-inf"), memento, ""
    for attempt in range(config.max_rounds + 1):
        verdict = parse_verdict(teacher.judge(JudgeRequest(trace.problem, block, memento, index, previous)))
        rounds.append(JudgeRound(verdict.score, verdict.feedback, {**verdict.parts, **{f"-{k}": v for k, v in verdict.deductions.items()}}))
        if verdict.score > best_score or (verdict.score == best_score and len(memento) <= len(best)):
            best_score, best, feedback = verdict.score, memento, verdict.feedback
        if best_score >= config.threshold or attempt == config.max_rounds:
            break
        memento = parse_memento(
            teacher.refine(
                RefineRequest(trace.problem, block, best, feedback, index, previous, config.target_ratio)
            )
        )
    return best, rounds


def memento_trace(trace: Trace, teacher: Teacher, counter: TokenCounter, config: MementoConfig = MementoConfig()) -> Trace | Skip:
    """Fill ``trace.mementos``, ``trace.memento_tokens`` and ``trace.judge_rounds``."""
    mementos: list[str] = []
    rounds: list[list[JudgeRound]] = []
    try:
        for index in range(len(trace.blocks)):
            memento, verdicts = _block_memento(trace, index, tuple(mementos), teacher, config)
            mementos.append(memento)
            rounds.append(verdicts)
    except TeacherAnswerError as error:
        return Skip(trace.trace_id, "mementos", error.reason, f"block {len(mementos)}: {error}", responses=error.responses)
    trace.mementos = mementos
    trace.judge_rounds = rounds
    trace.memento_tokens = counter.count_many(mementos)
    return trace
