"""Turn teacher requests into chat messages and a JSON-schema response format.

The prompt texts live in ``prompts/`` (hashed); the answer schemas in ``schemas/``. A
:class:`Call` is everything that determines the teacher's answer except the sampling
parameters, so it is also what the cache key is built from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..resources import load_prompt, load_schema
from .base import BoundaryRequest, CompressRequest, JudgeRequest, RefineRequest

# which prompt and which answer schema each role uses
ROLE_PROMPT = {"scorer": "boundary_scoring", "compressor": "compress", "judge": "judge", "refiner": "refine"}
ROLE_SCHEMA = {"scorer": "boundary_scores", "compressor": "memento", "judge": "judge_verdict", "refiner": "memento"}


@dataclass(frozen=True, slots=True)
class Call:
    role: str                      # scorer | compressor | judge | refiner
    messages: tuple[dict[str, str], ...]
    schema_name: str
    schema: dict[str, Any]
    prompt_version: str
    expected: int = 0              # boundary count, for the scorer


def _mementos(previous: tuple[str, ...]) -> str:
    if not previous:
        return "(none: this is the first block)"
    return "\n".join(f"{i + 1}. {m}" for i, m in enumerate(previous))


def _sentences(request: BoundaryRequest) -> str:
    lines = []
    for offset, sentence in enumerate(request.sentences):
        number = request.first_index + offset
        lines.append(f"[{number}] {sentence}")
        if offset < len(request.paragraph_breaks) and request.paragraph_breaks[offset]:
            lines.append("")  # show the writer's paragraph break
    return "\n".join(lines)


def _scores_schema(count: int) -> dict[str, Any]:
    # The stored schema, with the exact count: servers that enforce schemas then cannot
    # return a wrong number of scores.
    schema = dict(load_schema("boundary_scores"))
    scores = dict(schema["properties"]["scores"], minItems=count, maxItems=count)
    schema["properties"] = {"scores": scores}
    return schema


def _call(role: str, fields: dict[str, Any], schema: dict[str, Any] | None = None, expected: int = 0) -> Call:
    prompt = load_prompt(ROLE_PROMPT[role])
    text = prompt.text.format(**fields)
    schema_name = ROLE_SCHEMA[role]
    return Call(
        role=role,
        messages=({"role": "user", "content": text},),
        schema_name=schema_name,
        schema=schema or load_schema(schema_name),
        prompt_version=prompt.version,
        expected=expected,
    )


def boundary_call(request: BoundaryRequest) -> Call:
    ids = [request.first_index + b for b in request.boundaries]
    fields = {
        "problem": request.problem,
        "sentences": _sentences(request),
        "boundaries": ", ".join(str(i) for i in ids),
        "count": len(ids),
    }
    return _call("scorer", fields, _scores_schema(len(ids)), expected=len(ids))


def _target(block: str, ratio: float) -> int:
    return max(40, int(len(block) * ratio))


def _block_fields(request: CompressRequest | JudgeRequest | RefineRequest) -> dict[str, Any]:
    """The fields every memento prompt shows: the problem, what came before, the block."""
    fields = {
        "problem": request.problem,
        "previous_mementos": _mementos(request.previous_mementos),
        "block": request.block,
        "block_index": request.block_index + 1,
    }
    if not isinstance(request, JudgeRequest):  # the writers get a length target
        fields["block_chars"] = len(request.block)
        fields["target_chars"] = _target(request.block, request.target_ratio)
    return fields


def compress_call(request: CompressRequest) -> Call:
    return _call("compressor", _block_fields(request))


def judge_call(request: JudgeRequest) -> Call:
    return _call("judge", {**_block_fields(request), "memento": request.memento})


def refine_call(request: RefineRequest) -> Call:
    return _call("refiner", {**_block_fields(request), "memento": request.memento, "feedback": request.feedback})
