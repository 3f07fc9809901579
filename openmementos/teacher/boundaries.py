"""Boundary rules of the offline teacher: how strong a break each cut between sentences is.

The optimiser cuts wherever the scores are highest on average, so the block sizes it finds
follow how often the teacher hands out its top score. The LLM teacher of the paper gives 3 to
a *major* transition (roughly one per thousand tokens of reasoning: blocks average about 1,150
tokens); these rules aim at the same: a few strong breaks, many plain ones.

Each cut gets a strength in [0, 1] from four signals, then a score:

- the next sentence's opener: a new approach, a verification, a conclusion or a heading is
  strongest; a new step ("Now, ...") and a reconsideration ("Wait, ...") less so;
- the previous sentence's close: a finished sentence, better one that states a result;
- a change of vocabulary between the sentences before and after the cut (content words,
  numbers and symbols), as in TextTiling;
- a blank line, worth more where blank lines are rare in the window.

The paper's never-cut rules come first and give 0: inside code or display math, after a colon,
an operator, an open bracket or a connecting word, before a sentence that continues the previous
one or refers back to it, and before a connective ("Therefore x = 3") that carries on a math
derivation. A score of 3 also needs the cut to be the strongest within about a window's reach
(non-maximum suppression), so strong cuts cannot crowd together.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from .textfacts import _FENCE, _STOPWORDS

# -- never-cut rules --------------------------------------------------------------------------

# the next sentence continues the previous one: a lowercase or operator start, a word that
# joins it on, or a pronoun that points back ("This gives", "It follows")
_CONTINUATION = re.compile(
    r"(?:(?:Then|And|Which|Or|Since|Because|This|That|These|Those|It|Here|Where|Whereas)\b"
    r"|[a-z]|[=+\-*/^<>)\]}|,;:]|\\(?:\)|\]|right|end|times|cdot))"
)
# "Therefore", "Thus", "Hence", "So" carry a derivation on when both sides are mathematics
_CONNECTIVE = re.compile(r"(?:Therefore|Thus|Hence|So)\b")
_DIGIT = re.compile(r"\d")
_MATH = re.compile(r"\\[a-zA-Z]+|\\[(\[]|\$|[=<>^_≤≥≠≈⇒→√±×÷]|\d\s*[-+*/]\s*\(?\s*[\w(]")
_REFERS_BACK = re.compile(
    r"\b(?:this|that|these|the\s+above|the\s+previous|the\s+last|the\s+same)\s+(?:equation|expression|result"
    r"|formula|value|step|identity|inequality|system|substitution|calculation|sum|product|term)s?\b",
    re.IGNORECASE,
)
# the previous sentence needs the next: it ends with ':', an operator, an open bracket, a comma
# or a connecting word
_NEEDS_NEXT = re.compile(
    r"(?::|[=+\-*/^<>({\[,;&]|\\\\|\\(?:times|cdot|left|frac|\(|\[)|\b(?:and|or|of|the|to|is|are|with|by"
    r"|for|a|an|in|that|where|then|so|as|from|into|be|we|get|gives|becomes|equals))\s*$",
    re.IGNORECASE,
)
_LIST_MARKER = re.compile(r"^(?:\(?\d+[.)]|\(?[a-z][.)]|[-*\u2022])$")
# an assumption under test stays with its verdict ("Suppose x = 2." ... "Then 4 = 5, impossible.")
_ASSUMPTION = re.compile(r"(?:Suppose|Assume|Let's\s+say|Say)\b", re.IGNORECASE)

# -- openers of the next sentence, strongest first --------------------------------------------

_CONCLUSION_OPENER = (
    r"(?:(?:So|Therefore|Thus|Hence|Finally),?\s+)?(?:I\s+think\s+|it\s+seems\s+|in\s+conclusion,?\s+)?"
    r"the\s+(?:final\s+|correct\s+|best\s+)?(?:answer|code|solution|result)\s+(?:is|should|would|must|seems)"
    r"|In\s+conclusion|Putting\s+(?:it|this|everything)\s+(?:all\s+)?together|(?:\*\*)?Final\s+answer"
    r"|So\s+I\s+think\s+(?:the|that's|it's)|Therefore,?\s+the\s+(?:code|answer|solution|final)"
)
_CONCLUSION = re.compile(_CONCLUSION_OPENER, re.IGNORECASE)

_OPENERS: tuple[tuple[float, re.Pattern[str]], ...] = tuple(
    (weight, re.compile(pattern, re.IGNORECASE))
    for weight, pattern in (
        # the conclusion of the work, a heading
        (1.0, _CONCLUSION_OPENER),
        (0.9, r"\#{1,6}\s|\*\*[^*\n]{2,60}\*\*|(?:Step|Case|Part)\s+\(?\w+\)?\s*[:.)]"),
        # a new step of the work
        (0.9, r"(?:Now\b|Next\b|Moving\s+on|Now\s+that|First(?:ly)?,|Second(?:ly)?,|Third(?:ly)?,|Finally\b|Going\s+back"
              r"|Back\s+to|On\s+the\s+other\s+hand|(?:Let\s+me|Let's|Let\s+us)\s+(?:now\s+)?(?:compute|calculate|consider"
              r"|look|recall|write|denote|find|solve|work|figure|analy[sz]e|simplify|expand|factor|rewrite|use|apply|evaluate"
              r"|code|implement|think\s+about|go\s+back|move))"),
        # a new approach, a verification
        (0.8, r"(?:Alternatively\b|Another\s+(?:approach|way|method|idea|thought|angle|option|strategy|possibility)"
              r"|Instead\b|(?:Maybe|Perhaps)\s+(?:there's\s+)?(?:a\s+)?(?:better|different|simpler|smarter)\s+"
              r"(?:approach|way|method)|(?:Let\s+me|Let's|I'll|I\s+should)\s+(?:try\s+(?:a\s+different|another|something)"
              r"|think\s+differently|start\s+over|approach\s+(?:this|it)\s+differently))"),
        (0.8, r"[^.?!:]{0,30}?\b(?:let\s+me|let's|I'll|I\s+should|I\s+need\s+to|to|now)\s+(?:(?:just|quickly|now|also"
              r"|again)\s+)?(?:verify|double[- ]check|check|confirm|test|make\s+sure|sanity[- ]check|re-?check"
              r"|re-?verify|re-?examine)\b|Double[- ]check|Verification\b|Sanity\s+check|Checking\b|Testing\b"),
        # an addition, an affirmation after a check
        (0.5, r"Also\b|Additionally\b|Similarly\b|Furthermore\b|Moreover\b|In\s+addition\b"
              r"|(?:We|I)\s+(?:also\s+)?(?:know|have|need)\b"),
        (0.4, r"(?:Yes|Right|Correct|Great|Good|Perfect)\b|That\s+(?:seems|works|checks|makes)"),
        # a reconsideration: common inside a thought in these traces, so a weak break on its own
        (0.3, r"(?:Wait|Hmm+|Hold\s+on|Actually|Oh|What\s+(?:if|about)|Let\s+me\s+think|But)\b"),
    )
)
# an interjection before the opener proper: "Hmm, so the answer is", "But now, let me", "Okay, so now"
_INTERJECTION = re.compile(r"(?:(?:Okay|OK|Alright|All\s+right|Hmm+|Wait|But|So|Oh|Yes|Well|And),?\s+){1,2}", re.IGNORECASE)


def _opener(sentence: str) -> float:
    """The weight of the strongest opener class the sentence starts with, after any interjection."""
    bare = sentence[_INTERJECTION.match(sentence).end():] if _INTERJECTION.match(sentence) else sentence
    return max((weight for weight, rx in _OPENERS if rx.match(bare) or rx.match(sentence)), default=0.0)


# -- what the previous sentence closes on ------------------------------------------------------

_TERMINAL = re.compile(r"(?:[.!?]|\\\]|\$\$|```)[\"')\]*]*\s*$")
_RESULT = re.compile(
    r"(?:=\s*[-\w\\{}()./√π^]+[.!]?\s*$|\\boxed|answer\s+(?:is|should\s+be)"
    r"|\b(?:is|are|equals?|gives?|get|be)\s+(?:\\\(\s*)?-?\d[^.?!]{0,40}[.!]\s*$"
    r"|\b(?:correct|works|holds|checks\s+out|consistent|confirmed|matches|that's\s+(?:it|all|right|correct|the\s+answer)"
    r"|is\s+(?:the\s+)?(?:solution|answer|result))\b)",
    re.IGNORECASE,
)
_TRAILING_THOUGHT = re.compile(r"(?:Let\s+me\s+(?:think|see)|Let's\s+see|Hmm+)[.!]?\s*$", re.IGNORECASE)

# -- vocabulary shift --------------------------------------------------------------------------

_TERM = re.compile(r"[A-Za-z]{4,}|\d+(?:\.\d+)?|\\[a-zA-Z]+")
_SHIFT_CHARS = 600   # context on each side of a cut that the vocabulary comparison reads

# -- combining the signals ---------------------------------------------------------------------

WEIGHTS = {"opener": 0.5, "close": 0.2, "shift": 0.2, "blank": 0.1}
# Calibrated on the real traces in shared/data (mean block size on traces over 4K tokens) and
# checked against the cuts of real MEMENTO outputs; see benchmarks/bench_fidelity.py.
STRONG = 0.7           # a 3 needs at least this strength ...
RADIUS_CHARS = 1600    # ... and the highest strength within this many characters on each side
GOOD = 0.5             # a 2: a clear transition
PLAIN = 0.2            # a 1: a finished sentence with some break; below it 0 or 1 by the close


def score_window(sentences: Sequence[str], boundaries: Sequence[int], paragraph_breaks: Sequence[bool] = ()) -> list[int]:
    """Scores 0-3 for the cuts after ``sentences[i]``, ``i`` in ``boundaries``.

    Strengths are computed for every cut the window shows (not only those asked), so the
    strongest-nearby test sees the context sentences as well.

    >>> score_window(("x = 2.", "Alternatively, try y.", "Then y = 3."), (0, 1))
    [3, 0]
    """
    n = len(sentences)
    inside = _inside_structure(sentences)
    blank = [i < len(paragraph_breaks) and bool(paragraph_breaks[i]) for i in range(max(n - 1, 0))]
    blank_rate = sum(blank) / len(blank) if blank else 0.0
    terms = [_terms(s) for s in sentences]
    strengths = [_strength(sentences, terms, i, inside[i], blank[i], blank_rate) for i in range(n - 1)]
    offsets = _offsets(sentences)
    scores = []
    for i in boundaries:
        strength = strengths[i] if i < len(strengths) else None
        scores.append(_score(strength, i, strengths, offsets, sentences[i]))
    return scores


def _score(strength: float | None, i: int, strengths: list[float | None], offsets: list[int], prev: str) -> int:
    if strength is None:
        return 0
    if strength >= STRONG and _strongest_nearby(i, strengths, offsets, RADIUS_CHARS):
        return 3
    if strength >= GOOD:
        return 2
    if strength >= PLAIN or _TERMINAL.search(prev):
        return 1
    return 0


def _strongest_nearby(i: int, strengths: list[float | None], offsets: list[int], radius: int) -> bool:
    """Whether cut ``i`` is the strongest within ``radius`` characters (earlier cuts win ties)."""
    mine = strengths[i]
    for j, other in enumerate(strengths):
        if j == i or other is None or abs(offsets[j] - offsets[i]) > radius:
            continue
        if other > mine or (other == mine and j < i):
            return False
    return True


def _offsets(sentences: Sequence[str]) -> list[int]:
    """Character offset of each cut (after sentence i) from the window start."""
    out, total = [], 0
    for sentence in sentences:
        total += len(sentence) + 1
        out.append(total)
    return out


def _inside_structure(sentences: Sequence[str]) -> list[bool]:
    """Whether each sentence ends inside a code fence or display math, in one pass."""
    inside: list[bool] = []
    fences = dollars = brackets = 0
    for sentence in sentences:
        fences += sentence.count(_FENCE)
        dollars += sentence.count("$$")
        brackets = max(0, brackets + sentence.count("\\[") - sentence.count("\\]"))
        inside.append(fences % 2 == 1 or dollars % 2 == 1 or brackets > 0)
    return inside


def _never_cut(prev: str, nxt: str, inside: bool) -> bool:
    if inside or not prev or _NEEDS_NEXT.search(prev) or _LIST_MARKER.match(prev):
        return True
    if prev.count("(") + prev.count("{") > prev.count(")") + prev.count("}"):
        return True  # an open bracket: mid-formula
    if nxt.startswith(_FENCE):
        return False  # code after an introduction: scored by the rest, never a strong cut
    if _CONTINUATION.match(nxt) or _REFERS_BACK.search(nxt[:60]):
        return True
    if _CONNECTIVE.match(nxt) and _MATH.search(prev) and (_MATH.search(nxt) or _DIGIT.search(nxt)) and not _CONCLUSION.match(nxt):
        return True  # "x + y = 24." then "Therefore, x = 12.": one derivation (but "So the answer is" may open a block)
    return bool(_ASSUMPTION.match(prev))


def _strength(sentences: Sequence[str], terms: list[Counter], i: int, inside: bool, blank: bool, blank_rate: float) -> float | None:
    prev, nxt = sentences[i].strip(), sentences[i + 1].strip()
    if _never_cut(prev, nxt, inside):
        return None
    opener = _opener(nxt)
    if nxt.startswith(_FENCE):
        opener = 0.0  # code belongs with the sentence that introduces it
    close = 0.0
    if _TERMINAL.search(prev):
        close = 0.5 if prev.rstrip().endswith("?") else 0.6
        if _RESULT.search(prev) or _TRAILING_THOUGHT.search(prev):
            close = 1.0
    shift = _shift(sentences, terms, i)
    spread = (1.0 - blank_rate) if blank else 0.0
    return (WEIGHTS["opener"] * opener + WEIGHTS["close"] * close + WEIGHTS["shift"] * shift
            + WEIGHTS["blank"] * spread)


def _terms(sentence: str) -> Counter:
    return Counter(t.lower() for t in _TERM.findall(sentence) if t.lower() not in _STOPWORDS)


def _shift(sentences: Sequence[str], terms: list[Counter], i: int) -> float:
    """1 - cosine similarity of the terms within _SHIFT_CHARS before and after the cut."""
    before, after = Counter(), Counter()
    size, j = 0, i
    while j >= 0 and size < _SHIFT_CHARS:
        before.update(terms[j])
        size += len(sentences[j])
        j -= 1
    size, j = 0, i + 1
    while j < len(sentences) and size < _SHIFT_CHARS:
        after.update(terms[j])
        size += len(sentences[j])
        j += 1
    if not before or not after:
        return 0.5
    dot = sum(count * after[t] for t, count in before.items())
    norm = math.sqrt(sum(c * c for c in before.values()) * sum(c * c for c in after.values()))
    return 1.0 - dot / norm
