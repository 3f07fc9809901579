"""Style checks on mementos (warnings by default): ASCII only, and no narration of the process.

A memento is read back by the model in place of its block, so it should state results, not
describe the trace ("in this block the model computes ..."). Sub- and superscript characters
(``x₁``, ``n²``) tokenize into odd pieces and the paper's judge asks for ``x_1``, ``n^2``; other
symbols (arrows, dashes, ``≤``) are ordinary in real MEMENTO mementos and pass.
"""

from __future__ import annotations

import re
import unicodedata

from .record import Finding, Record

_NARRATION = re.compile(
    r"\b(?:in|from|of)\s+(?:this|the\s+(?:previous|next|current|above|following))\s+(?:block|segment|chunk|section|part)\b"
    r"|\bthis\s+block\b|\bthe\s+(?:model|assistant|author|solver|reasoner|AI)\b"
    r"|\bthe\s+(?:reasoning|thinking)\s+(?:trace|process)\b|\bthe\s+user\b",
    re.IGNORECASE,
)


def _scripted(char: str) -> bool:
    if ord(char) < 128:
        return False
    name = unicodedata.name(char, "")
    return "SUPERSCRIPT" in name or "SUBSCRIPT" in name or name.startswith("MODIFIER LETTER SMALL")


def ascii_only(record: Record, level: str) -> list[Finding] | None:
    if record.parsed is None:
        return None
    found = []
    for i, memento in enumerate(record.mementos):
        if not memento.isascii():
            odd = "".join(dict.fromkeys(c for c in memento if _scripted(c)))
            if odd:
                found.append(Finding("style.ascii", level, f"memento {i} writes sub- or superscripts: {odd[:10]!r} (write x_1, n^2)",
                                     block=i, weight=0.2))
    return found


def narration(record: Record, level: str) -> list[Finding] | None:
    if record.parsed is None:
        return None
    found = []
    for i, memento in enumerate(record.mementos):
        match = _NARRATION.search(memento)
        if match:
            found.append(Finding("style.narration", level, f"memento {i} narrates the process: {match.group(0)!r}", block=i, weight=0.2))
    return found
