"""The final answer of a generation: the last ``\\boxed{}``, then fallbacks; or a choice letter.

The answer is looked for after ``</think>`` first (what the model says it concludes), then in the
whole text, so a generation cut inside its thinking still yields its last boxed value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import format as fmt

LETTERS = "ABCDEFGHIJ"

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_FINAL = re.compile(r"answer\s*(?:is\b|:|=)\s*:?\s*(.+?)(?:\n\n|$)", re.IGNORECASE | re.DOTALL)
_BOLD = re.compile(r"\*\*([^*\n]{1,80})\*\*")
_INLINE_MATH = re.compile(r"\$([^$\n]{1,80})\$|\\\(([^\n]{1,80}?)\\\)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")


@dataclass(frozen=True, slots=True)
class Extracted:
    answer: str | None
    method: str           # boxed, final_phrase, bold, inline_math, last_number, letter_*, none


def _braced(text: str, open_at: int) -> str | None:
    """The content of the balanced ``{...}`` starting at ``open_at``, or None if unclosed."""
    depth = 0
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:i]
    return None


def last_boxed(text: str) -> str | None:
    r"""The content of the last complete ``\boxed{...}`` (or ``\fbox{...}``, or ``\boxed 5``).

    >>> last_boxed(r"so \boxed{\frac{1}{2}} and finally \boxed{\left( 3, \frac{\pi}{2} \right)}.")
    '\\left( 3, \\frac{\\pi}{2} \\right)'
    """
    for match in reversed(list(_BOXED.finditer(text))):
        at = match.end()
        if at < len(text) and text[at] == "{":
            content = _braced(text, at)
            if content is not None:
                return content.strip()
        elif at < len(text):
            word = re.match(r"[^\s$.,]+", text[at:])
            if word:
                return word.group(0)
    return None


def _regions(text: str) -> list[str]:
    if fmt.THINK_END in text:
        after = text.rsplit(fmt.THINK_END, 1)[1]
        return [after, text] if after.strip() else [text]
    return [text]


def _clean(answer: str) -> str:
    answer = answer.strip().strip("*").strip()
    answer = re.sub(r"^\$+|\$+$", "", answer).strip()
    return answer.rstrip(".").strip()


def extract_answer(text: str) -> Extracted:
    r"""The math answer: last ``\boxed{}``; else "final answer is X", the last bold, the last
    inline math, the last number (each in the answer after ``</think>`` first).

    >>> extract_answer("<think>x</think>The answer is $\\boxed{504}$.")
    Extracted(answer='504', method='boxed')
    >>> extract_answer("<think>x</think>So the final answer is: 12.")
    Extracted(answer='12', method='final_phrase')
    """
    regions = _regions(text)
    for region in regions:
        boxed = last_boxed(region)
        if boxed:
            return Extracted(boxed, "boxed")
    region = regions[0]
    phrases = list(_FINAL.finditer(region))
    if phrases:
        candidate = phrases[-1].group(1)
        inner = _INLINE_MATH.search(candidate)
        candidate = (inner.group(1) or inner.group(2)) if inner else candidate.split("\n")[0]
        if _clean(candidate):
            return Extracted(_clean(candidate), "final_phrase")
    for pattern, method in ((_BOLD, "bold"), (_INLINE_MATH, "inline_math")):
        found = list(pattern.finditer(region))
        if found:
            groups = [g for g in found[-1].groups() if g]
            if groups and _clean(groups[0]):
                return Extracted(_clean(groups[0]), method)
    numbers = _NUMBER.findall(region)
    if numbers:
        return Extracted(numbers[-1].replace(",", ""), "last_number")
    return Extracted(None, "none")


_CHOICE_PATTERNS = (
    ("boxed", None),
    ("answer_phrase", re.compile(r"answer\s*(?:is|:)?\s*[:\s]*\(?\**\s*([A-J])\b\)?", re.IGNORECASE)),
    ("parenthesised", re.compile(r"\(([A-J])\)")),
    ("last_letter", re.compile(r"(?<![A-Za-z])([A-J])(?![A-Za-z])")),
)


def extract_choice(text: str, letters: str = LETTERS) -> Extracted:
    """The chosen letter: ``\\boxed{B}``, "answer is (B)", the last "(B)", the last lone capital.

    >>> extract_choice("<think>A or C?</think>**Answer: (C)**")
    Extracted(answer='C', method='letter_answer_phrase')
    """
    for region in _regions(text):
        for name, pattern in _CHOICE_PATTERNS:
            if pattern is None:
                boxed = last_boxed(region)
                found = re.sub(r"\\text\{(.*)\}", r"\1", boxed or "").strip("() ").upper()
                hits = [found] if len(found) == 1 else []
            else:
                hits = [m.group(1).upper() for m in pattern.finditer(region)]
            hits = [h for h in hits if h in letters]
            if hits:
                return Extracted(hits[-1], f"letter_{name}")
    return Extracted(None, "none")
