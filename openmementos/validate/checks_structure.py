"""Structure checks: schema, special tokens, sentence coverage, render/parse round trip, source text.

Each check takes a :class:`Record` and returns its findings (an empty list: passed) or None when
it cannot judge the record (a column it needs is missing or failed the schema, or the response
did not parse). The response is parsed only by :mod:`openmementos.format`.
"""

from __future__ import annotations

from .. import format as fmt
from .record import Finding, Record
from .schema import row_schema

_MIN_REPEAT = 20  # characters: shorter repeats ("Wait.", "So x = 2.") happen by chance
# provenance columns with one entry per sentence or per block
_PER_UNIT = {"separators": "sentences", "sentence_tokens": "sentences", "block_tokens": "blocks",
             "memento_tokens": "blocks", "judge_scores": "blocks", "judge_feedback": "blocks"}


def schema(record: Record, level: str, type_errors: dict[str, str]) -> list[Finding]:
    """The row against ``schemas/openmementos_row.json`` and the file's Parquet column types."""
    found = [Finding("structure.schema", level, f"{column}: {message}") for column, message in type_errors.items()]
    for column, message in row_schema().problems(record.row):
        found.append(Finding("structure.schema", level, f"{column}: {message}"))
    return found


def bad_columns(findings: list[Finding]) -> set[str]:
    return {f.message.split(":", 1)[0] for f in findings}


def tokens(record: Record, level: str) -> list[Finding] | None:
    """Tokens balanced, in order, never nested (the parser says where); none inside any text."""
    if record.get("response") is None:
        return None
    found = []
    if record.parsed is None:
        found.append(Finding("structure.tokens", level, f"response: {record.parse_error}", weight=3.0))
    texts: list[tuple[str, object]] = [("problem", record.get("problem"))]
    if record.parsed is not None:
        texts.append(("answer", record.parsed.answer))
    for column in ("sentences", "block_summaries"):
        values = record.get(column)
        # one search over the joined list (a token cannot span the newline); locate only on a hit
        if isinstance(values, list) and fmt.find_reserved("\n".join(v for v in values if isinstance(v, str))):
            texts += [(f"{column}[{i}]", v) for i, v in enumerate(values)]
    for where, text in texts:
        if isinstance(text, str):
            token = fmt.find_reserved(text)
            if token is not None:
                found.append(Finding("structure.tokens", level, f"{where} contains the reserved token {token}", weight=3.0))
    return found


def partition_problems(blocks: list, sentences: int) -> list[str]:
    """Why ``blocks`` (inclusive [first, last] pairs) do not cover ``range(sentences)`` in order."""
    problems = []
    expected = 0
    for i, (first, last) in enumerate(blocks):
        if first > last:
            problems.append(f"block {i} is [{first}, {last}]: first after last")
            continue
        if first > expected:
            problems.append(f"sentences {expected}-{first - 1} are in no block (gap before block {i})")
        elif first < expected:
            problems.append(f"block {i} repeats sentences {first}-{min(last, expected - 1)} (overlap with block {i - 1})")
        expected = max(expected, last + 1)
    if expected < sentences:
        problems.append(f"sentences {expected}-{sentences - 1} are in no block (gap at the end)")
    elif expected > sentences:
        problems.append(f"blocks reach sentence {expected - 1}, but there are only {sentences} sentences")
    return problems


def coverage(record: Record, level: str) -> list[Finding] | None:
    """Full config: blocks partition the sentences. Default config: no block repeats the end of the one before."""
    if record.full:
        sentences, blocks, summaries = (record.get(c) for c in ("sentences", "blocks", "block_summaries"))
        if sentences is None or blocks is None or summaries is None:
            return None
        messages = partition_problems(blocks, len(sentences))
        if len(summaries) != len(blocks):
            messages.append(f"{len(blocks)} blocks but {len(summaries)} block_summaries")
        for column, unit in _PER_UNIT.items():
            values, size = record.get(column), len(sentences) if unit == "sentences" else len(blocks)
            if isinstance(values, list) and len(values) != size:
                messages.append(f"{column} has {len(values)} entries for {size} {unit}")
        return [Finding("structure.coverage", level, m, weight=2.0) for m in messages]
    if record.parsed is None:
        return None
    found = []
    blocks = record.blocks
    for i, block in enumerate(blocks):
        if not block.strip():
            found.append(Finding("structure.coverage", level, f"block {i} is empty", block=i, weight=2.0))
    for i in range(1, len(blocks)):
        repeated = _overlap(blocks[i - 1], blocks[i])
        if repeated:
            found.append(Finding("structure.coverage", level, f"block {i} starts by repeating the end of block {i - 1}: {repeated[:60]!r}", block=i, weight=2.0))
    return found


def _overlap(before: str, after: str) -> str:
    """The longest end of ``before`` (at least ``_MIN_REPEAT`` characters) that ``after`` starts with."""
    before, after = before.rstrip(), after.lstrip()
    probe = after[:_MIN_REPEAT]
    if len(probe) < _MIN_REPEAT:
        return ""
    at = before.find(probe)
    while at >= 0:  # the first match is the longest repeated end
        if after.startswith(before[at:]):
            return before[at:]
        at = before.find(probe, at + 1)
    return ""


def roundtrip(record: Record, level: str) -> list[Finding] | None:
    """Re-rendering the parsed response parses back to it; mementos and answer match their columns."""
    parsed = record.parsed
    if parsed is None:
        return None
    found = []
    try:
        rendered = fmt.render(parsed.blocks, parsed.mementos, parsed.answer)
        # a response already in render's layout parses back to itself; others are parsed again
        if rendered != record.get("response") and fmt.parse(rendered) != parsed:
            found.append(Finding("structure.roundtrip", level, "render(parse(response)) does not parse back to the same blocks and mementos"))
    except fmt.FormatError as error:
        found.append(Finding("structure.roundtrip", level, f"the parsed response does not render: {error}"))
    summaries = record.get("block_summaries")
    if isinstance(summaries, list):
        if len(summaries) != len(parsed.mementos):
            found.append(Finding("structure.roundtrip", level, f"response has {len(parsed.mementos)} mementos, block_summaries has {len(summaries)}"))
        else:
            for i, (memento, summary) in enumerate(zip(parsed.mementos, summaries)):
                if memento != summary:
                    found.append(Finding("structure.roundtrip", level, f"memento {i} in response differs from block_summaries[{i}]", block=i))
    blocks = record.get("blocks")
    if isinstance(blocks, list) and len(blocks) != len(parsed.blocks):
        found.append(Finding("structure.roundtrip", level, f"response has {len(parsed.blocks)} blocks, the blocks column {len(blocks)}"))
    answer = record.get("answer")
    if isinstance(answer, str) and answer != parsed.answer:
        found.append(Finding("structure.roundtrip", level, "the text after </think> differs from the answer column"))
    return found


def source_text(record: Record, level: str) -> list[Finding] | None:
    """Each block's text is its sentences (and the separators between them) exactly.

    With ``separators`` the comparison is byte for byte: the source thinking is
    ``leading + sum(sentence + separator)``. Without them (the published full config) it ignores
    whitespace.
    """
    parsed = record.parsed
    sentences, blocks = record.get("sentences"), record.get("blocks")
    if parsed is None or sentences is None or blocks is None or len(blocks) != len(parsed.blocks):
        return None
    if partition_problems(blocks, len(sentences)):
        return None  # coverage explains it; comparing texts of a broken partition says nothing new
    separators = record.get("separators")
    exact = isinstance(separators, list) and len(separators) == len(sentences)
    found = []
    for i, ((first, last), text) in enumerate(zip(blocks, parsed.blocks)):
        if exact:
            parts = []
            for k in range(first, last + 1):
                parts.append(sentences[k])
                if k < last:
                    parts.append(separators[k])
            rebuilt = "".join(parts)
            same = rebuilt == text
        else:
            rebuilt = " ".join(sentences[first:last + 1])
            same = rebuilt.split() == text.split()
        if not same:
            at = next((k for k, (a, b) in enumerate(zip(rebuilt, text)) if a != b), min(len(rebuilt), len(text)))
            found.append(Finding("structure.source_text", level,
                                 f"block {i} differs from its sentences {first}-{last} at character {at}"
                                 + ("" if exact else " (whitespace ignored)"), block=i, weight=2.0))
    return found
