"""Which block each memento is about, from the words they share: order checks without numbers.

A memento summarises its own block, so it shares more of that block's distinctive words than of
any other block's. Words are weighed by how few blocks of the trace use them (idf), so the
vocabulary of the whole problem counts little. Two mementos in swapped places each share more
with the other's block than with their own: that is flagged, for mementos without numbers
(science, code) too. A single memento that merely leans towards a later block is not: a real
MEMENTO science memento does (0.42 of its words in the next block, 0.26 in its own).

Calibrated on the real MEMENTO outputs and on ``segment`` shards of real traces, where no clean
row is flagged, against every swap of two mementos (``benchmarks/bench_fidelity.py``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[A-Za-z]{3,}")
_STEM = 6  # "chromatography" and "chromatogram" meet
_STOP = frozenset(
    "that this these those with from have then than they them their there where which when what will would could"
    " should about into also just like some such only more most very each both other same because since while were"
    " been being does done make made need want know think thing things mean means maybe perhaps probably here again"
    " still even well really actually sure okay right wait first second next find given uses using use gives give"
    " step steps block value values result results the and for are but not you all can was our out".split()
)


def _terms(text: str) -> Counter:
    return Counter(w[:_STEM] for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP)


def similarities(blocks: Sequence[str], mementos: Sequence[str]) -> list[list[float]]:
    """``s[i][j]``: the idf-weighted share of memento ``i``'s words found in block ``j``."""
    block_terms = [_terms(b) for b in blocks]
    n = len(blocks)
    df = Counter(t for terms in block_terms for t in set(terms))
    unseen = math.log(n + 1)
    idf = {t: math.log((n + 1) / (count + 0.5)) for t, count in df.items()}
    out = []
    for memento in mementos:
        terms = _terms(memento)
        total = sum(idf.get(t, unseen) for t in terms) or 1.0
        out.append([sum(idf.get(t, 0.0) for t in terms if t in block) / total for block in block_terms])
    return out


def misplaced(blocks: Sequence[str], mementos: Sequence[str]) -> dict[int, str]:
    """Mementos that read as another block's: memento index -> why."""
    if len(blocks) < 2 or len(blocks) != len(mementos):
        return {}
    s = similarities(blocks, mementos)
    found: dict[int, str] = {}
    k = len(mementos)
    for i in range(k):
        for j in range(i + 1, k):
            if s[i][j] > s[i][i] and s[j][i] > s[j][j] and s[i][j] + s[j][i] > s[i][i] + s[j][j]:
                found.setdefault(i, f"reads as block {j}'s memento and memento {j} as block {i}'s (swapped?)")
                found.setdefault(j, f"reads as block {i}'s memento and memento {i} as block {j}'s (swapped?)")
    return found
