"""What :class:`~openmementos.testing.FakeOpenAI` answers: one function per teacher task.

The contract, which the OpenAI-compatible engine relies on:

* A *responder* is ``responder(request) -> str | dict``: it gets the parsed JSON body of one
  ``POST /v1/chat/completions`` and returns the assistant's content (a dict is sent as JSON).
* The default responder is :class:`TaskResponder`. It finds the request's task with
  :func:`detect_task` and calls the function registered for it in its ``tasks`` mapping.
* The task is ``response_format.json_schema.name`` when that names a registered task (the engine
  sends ``boundary_scores``, ``memento`` or ``judge_verdict``: compress and refine both answer a
  ``memento``). Without it, the first task whose hint appears in the messages' text wins, in the
  order of :data:`TASK_HINTS` and then of the registered names.
* A request of no known task gets a short plain-text answer (never an error).

Raise :class:`ResponderError` from a task function to answer HTTP 400 with its message: the
fake server's way to say "your request breaks the documented contract".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

Responder = Callable[[dict[str, Any]], "str | dict[str, Any]"]

# Searched for (case-sensitive) in every message's text when the request names no known schema.
# Judge first: a judge prompt talks about mementos too. The extra hints match the project's own
# prompts (prompts/*.md), so a request built from them is routed without a response_format.
TASK_HINTS: dict[str, tuple[str, ...]] = {
    "judge_verdict": ("judge_verdict", '"deductions"'),
    "boundary_scores": ("boundary_scores", "Boundaries to score:", "boundary ids"),
    "memento": ("memento",),
}

JUDGE_VERDICT = {
    # Parts add up to 9 (formulas 2 of 3), no deductions: a good but not perfect memento.
    "scores": {"formulas": 2, "numbers": 2, "methods": 2, "validation": 1, "correctness": 1, "result_first": 1},
    "deductions": {"hallucination": 0, "narration": 0, "formulas_in_words": 0, "missing_critical_values": 0},
    "feedback": "missing formula: keep the block's key equation verbatim",
}


class ResponderError(ValueError):
    """The request cannot be answered under the contract; the server answers 400 with this text."""


def message_text(message: Mapping[str, Any]) -> str:
    """The text of one chat message, whether ``content`` is a string or a list of text parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(request: Mapping[str, Any]) -> str:
    users = [m for m in request.get("messages") or [] if m.get("role") == "user"]
    return message_text(users[-1]) if users else ""


def _schema_block(request: Mapping[str, Any]) -> dict[str, Any]:
    fmt = request.get("response_format")
    if isinstance(fmt, dict) and isinstance(fmt.get("json_schema"), dict):
        return fmt["json_schema"]
    return {}


def detect_task(request: Mapping[str, Any], names: Mapping[str, Any] | list[str] = TASK_HINTS) -> str | None:
    """The task of ``request`` among ``names``, or None.

    >>> detect_task({"response_format": {"type": "json_schema", "json_schema": {"name": "memento"}}})
    'memento'
    >>> detect_task({"messages": [{"role": "user", "content": "Boundaries to score: 3"}]})
    'boundary_scores'
    """
    names = list(names)
    schema_name = _schema_block(request).get("name")
    if schema_name in names:
        return schema_name
    text = "\n".join(message_text(m) for m in request.get("messages") or [])
    ordered = [n for n in TASK_HINTS if n in names] + [n for n in names if n not in TASK_HINTS]
    for name in ordered:
        if any(hint in text for hint in TASK_HINTS.get(name, (name,))):
            return name
    return None


def boundary_count(request: Mapping[str, Any]) -> int:
    """How many boundaries the request asks to score.

    Read, in order, from ``response_format.json_schema.schema.properties.scores.minItems``, a
    line ``Boundaries to score: N``, or the prompt's wording ``Score these N boundary ids``.
    """
    schema = _schema_block(request).get("schema") or {}
    min_items = ((schema.get("properties") or {}).get("scores") or {}).get("minItems")
    if isinstance(min_items, int):
        return min_items
    text = last_user_text(request)
    match = re.search(r"Boundaries to score:\s*(\d+)", text) or re.search(r"Score these (\d+) boundary", text)
    if match:
        return int(match.group(1))
    raise ResponderError(
        "FakeOpenAI cannot tell how many boundaries to score: set scores.minItems in the json_schema "
        "or put a line 'Boundaries to score: N' in the user message"
    )


def answer_boundary_scores(request: Mapping[str, Any]) -> dict[str, Any]:
    """``{"scores": [...]}`` with exactly :func:`boundary_count` integers 0-3, a fixed pattern."""
    return {"scores": [(3 * i + 1) % 4 for i in range(boundary_count(request))]}


def answer_memento(request: Mapping[str, Any]) -> dict[str, Any]:
    """``{"memento": ...}``: the first sentence of the text between ``<block>`` and ``</block>``
    in the last user message, or of its first 200 characters when there are no markers."""
    text = last_user_text(request)
    match = re.search(r"<block>(.*?)</block>", text, re.DOTALL)
    source = match.group(1) if match else text[:200]
    first = re.split(r"(?<=[.!?])\s", source.strip(), maxsplit=1)[0].strip()
    return {"memento": first[:200] or "The block states nothing."}


def answer_judge_verdict(request: Mapping[str, Any]) -> dict[str, Any]:
    """A valid verdict (``schemas/judge_verdict.json``) whose parts add up to 9."""
    return json.loads(json.dumps(JUDGE_VERDICT))


DEFAULT_TASKS: dict[str, Responder] = {
    "boundary_scores": answer_boundary_scores,
    "memento": answer_memento,
    "judge_verdict": answer_judge_verdict,
}


class TaskResponder:
    """Route each request to ``tasks[detect_task(request)]``; ``tasks`` extends the defaults.

    ``responder.tasks`` may be changed while the server runs (a test registering a task).
    """

    def __init__(self, tasks: Mapping[str, Responder] | None = None) -> None:
        self.tasks: dict[str, Responder] = {**DEFAULT_TASKS, **(tasks or {})}

    def __call__(self, request: dict[str, Any]) -> str | dict[str, Any]:
        task = detect_task(request, self.tasks)
        if task is None:
            return "FakeOpenAI: no teacher task recognised in this request."
        return self.tasks[task](request)
