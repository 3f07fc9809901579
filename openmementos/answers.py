"""Validate teacher answers: JSON schema first, then the semantic checks a schema cannot say.

Every function raises :class:`TeacherAnswerError` with a message fit to send back to the teacher
("you gave 15 scores, 16 were asked for"), and never pads or invents a value.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jsonschema

from .errors import TeacherAnswerError
from .resources import load_schema

RUBRIC_MAX = {"formulas": 3, "numbers": 2, "methods": 2, "validation": 1, "correctness": 1, "result_first": 1}


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float
    parts: dict[str, float]
    deductions: dict[str, float]
    feedback: str


@functools.lru_cache(maxsize=None)
def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _plainly_valid(name: str, raw: object) -> bool:
    """A strict subset of what the schema accepts, checked in microseconds: the answers a
    well-behaved teacher gives. Anything else goes through jsonschema (the source of truth)."""
    if type(raw) is not dict:
        return False
    if name == "boundary_scores":
        scores = raw.get("scores")
        return len(raw) == 1 and type(scores) is list and all(type(s) is int and 0 <= s <= 3 for s in scores)
    if name == "memento":
        memento = raw.get("memento")
        return len(raw) == 1 and type(memento) is str and len(memento) >= 1
    if name == "judge_verdict":
        scores, deductions = raw.get("scores"), raw.get("deductions")
        score_limits, deduction_limits = _verdict_limits()
        return (len(raw) == 3 and type(raw.get("feedback")) is str
                and type(scores) is dict and scores.keys() == score_limits.keys()
                and all(type(v) in (int, float) and 0 <= v <= score_limits[k] for k, v in scores.items())
                and type(deductions) is dict and deductions.keys() <= deduction_limits.keys()
                and all(type(v) in (int, float) and 0 <= v <= deduction_limits[k] for k, v in deductions.items()))
    return False


@functools.lru_cache(maxsize=None)
def _verdict_limits() -> tuple[dict[str, float], dict[str, float]]:
    """Each rubric part's and deduction's maximum, read from the schema itself."""
    properties = load_schema("judge_verdict")["properties"]
    return tuple({k: v["maximum"] for k, v in properties[part]["properties"].items()}  # type: ignore[return-value]
                 for part in ("scores", "deductions"))


def _check(name: str, raw: object) -> dict:
    if _plainly_valid(name, raw):
        return raw  # type: ignore[return-value]
    errors = sorted(_validator(name).iter_errors(raw), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "the answer"
        raise TeacherAnswerError(f"{where}: {first.message}", raw)
    return raw  # type: ignore[return-value]


def parse_boundary_scores(raw: object, expected: int) -> list[int]:
    answer = _check("boundary_scores", raw)
    scores = answer["scores"]
    if len(scores) != expected:
        raise TeacherAnswerError(f"you gave {len(scores)} scores, {expected} were asked for", raw)
    return list(scores)


def parse_memento(raw: object) -> str:
    from .format import find_reserved

    memento = _check("memento", raw)["memento"]
    if not memento.strip():
        raise TeacherAnswerError("the memento is empty", raw)
    token = find_reserved(memento)
    if token is not None:
        raise TeacherAnswerError(f"the memento contains the reserved token {token}", raw)
    return memento.strip()


def parse_verdict(raw: object) -> Verdict:
    answer = _check("judge_verdict", raw)
    parts = {k: float(v) for k, v in answer["scores"].items()}
    deductions = {k: float(v) for k, v in answer["deductions"].items()}
    total = max(0.0, min(10.0, sum(parts.values()) - sum(deductions.values())))
    return Verdict(round(total, 3), parts, deductions, answer["feedback"])
