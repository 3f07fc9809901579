"""Recognising row schemas and turning a raw row into a :class:`Trace` or a :class:`Skip`.

Where the problem and the reasoning are found (a :class:`FieldMap` name replaces each lookup):

- chat rows: ``conversations`` (OpenThoughts3, OpenThoughts-114k) or ``messages``, a list of
  ``{from, value}`` or ``{role, content}`` turns; the problem is the one human/user turn, the
  response the one gpt/assistant turn (system turns are ignored).
- flat rows: the first present of ``problem, question, prompt, instruction`` and of
  ``cot, response, completion, generation, output`` (MEMENTO's own ``problem`` + ``cot`` form).

How the thinking is marked inside the response:

- ``<think>THINKING</think>ANSWER`` (OpenThoughts3, MEMENTO);
- ``THINKING</think>ANSWER``: the opening tag was in the prompt (R1-distill outputs);
- ``<|begin_of_thought|>THINKING<|end_of_thought|>`` then
  ``<|begin_of_solution|>ANSWER<|end_of_solution|>`` (OpenThoughts-114k): the solution markers
  are dropped and the text between them becomes the answer.

THINKING and ANSWER are kept exactly as written, whitespace included.

A mapped trace field (``FieldMap.trace``) is read the same way when it carries its own end of
thinking (``</think>`` or ``<|end_of_thought|>``); the answer is then what follows it. When it
carries no thinking tags at all and an answer field is mapped too, it is the thinking alone and
the answer field the answer (``--trace-field reasoning --answer-field answer``). A trace field
with no end of thinking and no answer field is an incomplete trace (``no_think_close``): that is
what a runaway generation looks like, so it is never taken as thinking on trust.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .format import SPECIAL_TOKENS, THINK_END, THINK_START, find_reserved
from .records import Skip, Trace
from .sources import FieldMap, RawRow

__all__ = ["FieldMap", "normalise_domain", "to_trace"]

STAGE = "input"
PROBLEM_FIELDS = ("problem", "question", "prompt", "instruction")
RESPONSE_FIELDS = ("cot", "response", "completion", "generation", "output")
CHAT_FIELDS = ("conversations", "messages")
ID_FIELDS = ("task_id", "id", "item_id")
USER_ROLES = ("human", "user")
ASSISTANT_ROLES = ("gpt", "assistant", "model")

BEGIN_THOUGHT = "<|begin_of_thought|>"
END_THOUGHT = "<|end_of_thought|>"
BEGIN_SOLUTION = "<|begin_of_solution|>"
END_SOLUTION = "<|end_of_solution|>"

_DOMAINS = {
    "math": ("math", "maths", "mathematics"),
    "code": ("code", "coding", "programming", "cs", "computer science", "computer_science"),
    "science": (
        "science", "biology", "chemistry", "physics", "astronomy", "geology", "earth science",
        "medicine", "bio", "chem",
    ),
}
_DOMAIN_OF = {name: domain for domain, names in _DOMAINS.items() for name in names}
_MISSING = object()


class _Reject(Exception):
    """Internal: one row cannot become a trace; :func:`to_trace` turns it into a Skip."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class _Texts:
    problem: str
    thinking: str
    answer: str
    schema: str  # "conversations" | "flat" | "mapped": where the reasoning came from
    markers: str  # "think" | "think_close_only" | "thought_markers" | "thinking_field"
    hashed: str  # the source text the fallback trace id is a hash of


def to_trace(raw: RawRow, fields: FieldMap = FieldMap()) -> Trace | Skip:
    """Turn one raw row into a :class:`Trace`, or a :class:`Skip` saying why it cannot be one.

    Skip reasons (stage ``input``): the decoding errors of :class:`RawRow` (``malformed_json``,
    ``nested_too_deep``, ``not_utf8``, ``not_an_object``), ``missing_problem``, ``missing_trace``, ``missing_answer``
    (a mapped answer field absent), ``multi_turn``, ``empty_thinking``, ``no_think_close``,
    ``multiple_think_blocks``, ``text_before_think`` and ``reserved_tokens``. The trace id is the
    row's id field (mapped, or task_id, id, item_id), else a hash of its problem and trace text,
    so the same row gets the same id on every run. A difficulty outside int64 is unknown (-1),
    as a difficulty that is not a whole number is.

    >>> row = {"problem": "1+1?", "cot": "<think>\\nTwo.\\n</think>\\n\\n2"}
    >>> t = to_trace(RawRow(0, "x.jsonl:1", row))
    >>> (t.thinking, t.answer)
    ('\\nTwo.\\n', '\\n\\n2')
    """
    if raw.row is None:
        detail = f"{raw.detail} ({raw.origin})" if raw.detail else raw.origin
        return Skip(f"row-{raw.index}", STAGE, raw.error or "undecodable", detail, None)
    row = raw.row
    row_id = _row_id(row, fields)
    try:
        texts = _find_texts(row, fields)
    except _Reject as reject:
        trace_id = row_id or f"row-{raw.index}"
        return Skip(trace_id, STAGE, reject.reason, f"{reject.detail} ({raw.origin})", row)
    trace_id = row_id or hashlib.sha256(texts.hashed.encode("utf-8")).hexdigest()[:16]
    source = _get(row, fields.source or "source")
    source = str(source) if _present(source) else ""
    try:
        _check(texts)
        # the id and source go into the shards as text too: no unpaired surrogate may hide there
        _text(trace_id, "the row id", "missing_problem", allow_empty=True)
        _text(source, "the source field", "missing_problem", allow_empty=True)
    except _Reject as reject:
        return Skip(trace_id, STAGE, reject.reason, f"{reject.detail} ({raw.origin})", row)

    raw_domain = _get(row, fields.domain or "domain")
    domain = normalise_domain(raw_domain)
    if domain is None:
        domain = normalise_domain(fields.default_domain) or fields.default_domain or "unknown"
    extra: dict[str, Any] = {"input_schema": texts.schema, "think_markers": texts.markers}
    if isinstance(raw_domain, str) and raw_domain != domain:
        extra["raw_domain"] = raw_domain
    return Trace(
        trace_id=trace_id,
        problem=texts.problem,
        thinking=texts.thinking,
        answer=texts.answer,
        domain=domain,
        source=source,
        difficulty=_difficulty(_get(row, fields.difficulty or "difficulty")),
        extra=extra,
    )


def normalise_domain(value: Any) -> str | None:
    """``math``, ``code`` or ``science`` for a recognisable domain name, else None.

    >>> normalise_domain("Biology"), normalise_domain("puzzle")
    ('science', None)
    """
    if not isinstance(value, str):
        return None
    return _DOMAIN_OF.get(value.strip().lower())


# --- finding the texts --------------------------------------------------------------------------


def _find_texts(row: dict, fields: FieldMap) -> _Texts:
    turns = _chat_turns(row)
    problem = _find_problem(row, fields, turns)
    if fields.trace:
        value = _get(row, fields.trace)
        if not _present(value):
            raise _Reject("missing_trace", f"no mapped trace field '{fields.trace}' in the row")
        where = f"field '{fields.trace}'"
        trace = _text(value, where, "missing_trace", allow_empty=True)
        schema = "mapped"
    elif turns is not None:
        trace = _assistant_turn(*turns)
        schema, where = "conversations", f"the assistant turn of '{turns[0]}'"
    else:
        name = next((n for n in RESPONSE_FIELDS if _present(_get(row, n))), None)
        if name is None:
            looked = ", ".join(RESPONSE_FIELDS)
            raise _Reject(
                "missing_trace",
                f"no trace: looked for {' or '.join(CHAT_FIELDS)} turns and the fields {looked} "
                "(map another field with FieldMap.trace / --trace-field)",
            )
        schema, where = "flat", f"field '{name}'"
        trace = _text(row[name], where, "missing_trace", allow_empty=True)

    if fields.answer and not _has_thinking_tags(trace):
        value = _get(row, fields.answer)
        if value is _MISSING:
            raise _Reject("missing_answer", f"no mapped answer field '{fields.answer}' in the row")
        where = f"field '{fields.answer}'"
        answer = "" if value is None else _text(value, where, "missing_answer", allow_empty=True)
        return _Texts(problem, trace, answer, schema, "thinking_field", f"{problem}\0{trace}\0{answer}")
    if not trace.strip():
        raise _Reject("missing_trace", f"{where} is empty")
    thinking, answer, markers = _split_response(trace, where)
    return _Texts(problem, thinking, answer, schema, markers, f"{problem}\0{trace}")


def _find_problem(row: dict, fields: FieldMap, turns: tuple[str, list, list] | None) -> str:
    if fields.problem:
        value = _get(row, fields.problem)
        if not _present(value):
            raise _Reject("missing_problem", f"no mapped problem field '{fields.problem}' in the row")
        return _text(value, f"field '{fields.problem}'", "missing_problem")
    if turns is not None:
        name, users, _ = turns
        if len(users) > 1:
            raise _Reject("multi_turn", f"'{name}' has {len(users)} user turns; one per row is expected")
        if users:
            return _text(users[0], f"the user turn of '{name}'", "missing_problem")
    for name in PROBLEM_FIELDS:
        value = _get(row, name)
        if _present(value):
            return _text(value, f"field '{name}'", "missing_problem")
    looked = ", ".join(PROBLEM_FIELDS)
    raise _Reject(
        "missing_problem",
        f"no problem: looked for a user turn in {' or '.join(CHAT_FIELDS)} and the fields {looked} "
        "(map another field with FieldMap.problem / --problem-field)",
    )


def _chat_turns(row: dict) -> tuple[str, list, list] | None:
    """(field name, user turn texts, assistant turn texts) of a chat row, or None."""
    for name in CHAT_FIELDS:
        turns = row.get(name)
        if not isinstance(turns, list):
            continue
        users, assistants = [], []
        for turn in turns:
            if not isinstance(turn, dict):
                continue
            role = str(turn.get("from", turn.get("role", ""))).lower()
            text = turn.get("value", turn.get("content"))
            if role in USER_ROLES:
                users.append(text)
            elif role in ASSISTANT_ROLES:
                assistants.append(text)
        return name, users, assistants
    return None


def _assistant_turn(name: str, users: list, assistants: list) -> str:
    if not assistants:
        raise _Reject("missing_trace", f"'{name}' has no gpt/assistant turn")
    if len(assistants) > 1:
        raise _Reject("multi_turn", f"'{name}' has {len(assistants)} assistant turns; one per row is expected")
    return _text(assistants[0], f"the assistant turn of '{name}'", "missing_trace")


def _get(row: dict, name: str) -> Any:
    """``row[name]``, or the value at a dotted path (``metadata.subject``), or _MISSING."""
    if name in row:
        return row[name]
    value: Any = row
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _present(value: Any) -> bool:
    return value is not _MISSING and value is not None


def _text(value: Any, where: str, missing_reason: str, allow_empty: bool = False) -> str:
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError as error:
            raise _Reject("not_utf8", f"{where} is not UTF-8 (byte {error.start})") from None
    if not isinstance(value, str):
        raise _Reject(missing_reason, f"{where} holds a {type(value).__name__}, not text")
    try:
        # JSON escapes can smuggle in lone surrogates, which no UTF-8 output can hold.
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _Reject("not_utf8", f"{where} holds an unpaired surrogate at character {error.start}") from None
    if not allow_empty and not value.strip():
        raise _Reject(missing_reason, f"{where} is empty")
    return value


# --- splitting a response -----------------------------------------------------------------------


def _has_thinking_tags(text: str) -> bool:
    return any(tag in text for tag in (THINK_START, THINK_END, BEGIN_THOUGHT, END_THOUGHT))


def _split_response(text: str, where: str) -> tuple[str, str, str]:
    """(thinking, answer, markers) of one response, exactly as written."""
    if THINK_START in text or THINK_END in text:
        thinking, answer = _split_between(text, where, THINK_START, THINK_END)
        return thinking, answer, "think" if THINK_START in text else "think_close_only"
    if BEGIN_THOUGHT in text or END_THOUGHT in text:
        thinking, rest = _split_between(text, where, BEGIN_THOUGHT, END_THOUGHT)
        return thinking, _solution(rest), "thought_markers"
    raise _Reject(
        "no_think_close",
        f"no </think> or {END_THOUGHT} in {where} ({len(text):,} characters): an incomplete trace",
    )


def _split_between(text: str, where: str, start_tag: str, end_tag: str) -> tuple[str, str]:
    opens, closes = text.count(start_tag), text.count(end_tag)
    if closes == 0:
        raise _Reject(
            "no_think_close",
            f"{where} opens {start_tag} but never closes it ({len(text):,} characters): an incomplete trace",
        )
    if opens > 1 or closes > 1:
        raise _Reject("multiple_think_blocks", f"{where} has {opens} {start_tag} and {closes} {end_tag}")
    end = text.index(end_tag)
    begin = 0
    if opens:
        start = text.index(start_tag)
        if start > end:
            raise _Reject("multiple_think_blocks", f"{where} has {start_tag} after {end_tag}")
        if text[:start].strip():
            raise _Reject("text_before_think", f"{where} has {start:,} characters of text before {start_tag}")
        begin = start + len(start_tag)
    return text[begin:end], text[end + len(end_tag):]


def _solution(rest: str) -> str:
    """The answer after <|end_of_thought|>: the text inside the solution markers, if any."""
    start = rest.find(BEGIN_SOLUTION)
    if start == -1 or rest[:start].strip():
        return rest
    body = rest[start + len(BEGIN_SOLUTION):]
    end = body.find(END_SOLUTION)
    return body if end == -1 else body[:end] + body[end + len(END_SOLUTION):]


def _check(texts: _Texts) -> None:
    if not texts.thinking.strip():
        raise _Reject("empty_thinking", "the thinking is empty")
    for name, text in (("thinking", texts.thinking), ("answer", texts.answer)):
        token = find_reserved(text)
        if token is not None:
            raise _Reject("reserved_tokens", f"the {name} contains the reserved token {token}")
    token = next((t for t in SPECIAL_TOKENS if t in texts.problem), None)
    if token is not None:
        raise _Reject("reserved_tokens", f"the problem contains the reserved token {token}")


def _row_id(row: dict, fields: FieldMap) -> str:
    for name in (fields.id,) if fields.id else ID_FIELDS:
        value = _get(row, name)
        if _present(value) and not isinstance(value, (dict, list)) and str(value).strip():
            return str(value)
    return ""


_INT64 = range(-(2**63), 2**63)   # the published column is int64


def _difficulty(value: Any) -> int:
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 40:
        number = int(value.strip())
    else:
        number = None
    return number if number is not None and number in _INT64 else -1
