"""Small Markdown helpers for the card."""

from __future__ import annotations

import re
from typing import Any

NUMBER = re.compile(r"^(\**)[-+$]?[\d.,]+(%| \(.*\))?\1$|^none$|^-$")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; columns of numbers are right-aligned, the others left-aligned.

    >>> print(table(["domain", "rows"], [["math", 3]]))
    | domain | rows |
    | --- | ---: |
    | math | 3 |
    """
    line = lambda cells: "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    numeric = [bool(rows) and all(NUMBER.match(str(r[i])) for r in rows) for i in range(len(headers))]
    rule = "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def fence(text: str, info: str = "text") -> str:
    """``text`` in a code fence longer than any run of backticks inside it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}{info}\n{text}\n{marks}"
