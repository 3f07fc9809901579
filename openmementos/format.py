"""The memento text format: special tokens, render and parse. The one place that knows it.

An assistant turn in memento format reads::

    <think>\n
    <|block_start|>BLOCK 1<|block_end|>\n<|summary_start|>MEMENTO 1<|summary_end|>\n
    ...
    </think>ANSWER

``ANSWER`` is kept exactly as the source had it after ``</think>`` (usually starting with a
blank line). ``parse(render(x)) == x`` for any blocks and mementos free of the reserved tokens.
Parsing accepts any whitespace between structural tags, so responses written by other tools
(or sampled from a model) parse too; text inside a block or a memento is kept byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_START = "<think>"
THINK_END = "</think>"
BLOCK_START = "<|block_start|>"
BLOCK_END = "<|block_end|>"
SUMMARY_START = "<|summary_start|>"
SUMMARY_END = "<|summary_end|>"

SPECIAL_TOKENS = (BLOCK_START, BLOCK_END, SUMMARY_START, SUMMARY_END)
RESERVED = (THINK_START, THINK_END) + SPECIAL_TOKENS

_RESERVED_RE = re.compile("|".join(re.escape(t) for t in RESERVED))


@dataclass(frozen=True, slots=True)
class MementoResponse:
    """A parsed assistant turn: blocks and their mementos, pairwise, and the final answer."""

    blocks: tuple[str, ...]
    mementos: tuple[str, ...]
    answer: str


class FormatError(ValueError):
    """The text is not a well-formed memento-format response; the message says where."""


def find_reserved(text: str) -> str | None:
    """The first reserved token found in ``text``, or None."""
    match = _RESERVED_RE.search(text)
    return match.group(0) if match else None


def render(blocks: list[str] | tuple[str, ...], mementos: list[str] | tuple[str, ...], answer: str) -> str:
    """Render blocks, mementos and the answer as one assistant turn.

    >>> render(["Try x=2."], ["x=2 works."], "\\n\\n**2**")
    '<think>\\n<|block_start|>Try x=2.<|block_end|>\\n<|summary_start|>x=2 works.<|summary_end|>\\n</think>\\n\\n**2**'
    """
    if len(blocks) != len(mementos):
        raise FormatError(f"{len(blocks)} blocks but {len(mementos)} mementos: one memento per block")
    for kind, texts in (("block", blocks), ("memento", mementos), ("answer", [answer])):
        for i, text in enumerate(texts):
            token = find_reserved(text)
            if token is not None:
                raise FormatError(f"{kind} {i} contains the reserved token {token}")
    parts = [THINK_START, "\n"]
    for block, memento in zip(blocks, mementos):
        parts += [BLOCK_START, block, BLOCK_END, "\n", SUMMARY_START, memento, SUMMARY_END, "\n"]
    parts += [THINK_END, answer]
    return "".join(parts)


_TOKEN_RE = re.compile("|".join(re.escape(t) for t in RESERVED))
# the token that must come next after each token (None: end of thinking may follow)
_NEXT = {
    THINK_START: (BLOCK_START,),
    BLOCK_START: (BLOCK_END,),
    BLOCK_END: (SUMMARY_START,),
    SUMMARY_START: (SUMMARY_END,),
    SUMMARY_END: (BLOCK_START, THINK_END),
}


def parse(response: str) -> MementoResponse:
    """Parse an assistant turn written by :func:`render` (or in the same layout).

    Raises :class:`FormatError` naming the first problem: a missing ``<think>``, tokens out of
    order, nested or unbalanced, text outside blocks and mementos, or no ``</think>``.
    """
    pos = 0
    expected: tuple[str, ...] = (THINK_START,)
    blocks: list[str] = []
    mementos: list[str] = []
    opened_at = 0
    for match in _TOKEN_RE.finditer(response):
        token = match.group(0)
        between = response[pos:match.start()]
        if token not in expected:
            raise FormatError(
                f"{token} at character {match.start()} where {' or '.join(expected)} was expected"
            )
        if token in (BLOCK_END, SUMMARY_END):
            (blocks if token == BLOCK_END else mementos).append(response[opened_at:match.start()])
        elif between.strip():
            where = "before <think>" if token == THINK_START else f"before {token}"
            raise FormatError(f"text outside any block or memento {where} at character {pos}")
        opened_at = match.end()
        pos = match.end()
        if token == THINK_END:
            if not blocks:
                raise FormatError("no blocks between <think> and </think>")
            return MementoResponse(tuple(blocks), tuple(mementos), response[pos:])
        expected = _NEXT[token]
    raise FormatError(f"response ends where {' or '.join(expected)} was expected")
