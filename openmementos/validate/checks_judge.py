"""Judge scores: every memento's final score must reach the minimum.

``segment`` records every judge round per block (``judge_scores``) and keeps the best-judged
draft, so a block's final score is the best of its rounds. With ``--judge SPEC`` the mementos are
judged again through the teacher (the same rubric, prompt and answer validation as ``segment``):
``heuristic`` offline, or ``openai:MODEL`` through the teacher engine (``OPENAI_BASE_URL``,
``OPENAI_API_KEY``), whose answers are cached like ``segment``'s.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..answers import parse_verdict
from ..errors import TeacherAnswerError
from ..teacher.base import JudgeRequest, Teacher
from .config import ValidateConfig
from .record import Finding, Record


def _recorded(record: Record) -> list[float | None] | None:
    rounds = record.get("judge_scores")
    if not isinstance(rounds, list) or len(rounds) != len(record.blocks):
        return None
    return [max(r) if r else None for r in rounds]


def _rejudged(record: Record, teacher: Teacher) -> list[float | None]:
    problem = record.get("problem") or ""
    requests = [JudgeRequest(problem, block, memento, i, tuple(record.mementos[:i]))
                for i, (block, memento) in enumerate(zip(record.blocks, record.mementos))]

    def score(request: JudgeRequest) -> float | None:
        try:
            return parse_verdict(teacher.judge(request)).score
        except TeacherAnswerError:
            return None  # an unusable answer: this block is not judged

    if getattr(teacher, "concurrent", False) and len(requests) > 1:
        # a remote judge: the blocks of a record are asked at once, not one round trip after another
        with ThreadPoolExecutor(len(requests)) as pool:
            return list(pool.map(score, requests))
    return [score(r) for r in requests]


def min_score(record: Record, level: str, config: ValidateConfig, teacher: Teacher | None) -> list[Finding] | None:
    if record.parsed is None:
        return None
    scores = _rejudged(record, teacher) if teacher is not None else _recorded(record)
    if scores is None:
        return None  # no judge scores recorded and no --judge: nothing to check
    source = "re-judged" if teacher is not None else "judge"
    return [Finding("judge.min_score", level, f"memento {i} {source} score {s:g} is below --min-judge-score {config.min_judge_score:g}",
                    block=i, weight=1 + (config.min_judge_score - s) / 10)
            for i, s in enumerate(scores) if s is not None and s < config.min_judge_score]
