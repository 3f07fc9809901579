"""Text facts for the offline teacher: the patterns it reads in sentences, blocks and mementos
(numbers, formulas, methods, checks, narration, results) and the per-block analysis that its
compressor, judge and refiner share. Pure functions over strings; no teacher protocol here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from ..format import RESERVED


# -- boundary rules: the start of the next sentence, the end of the previous one --------------

_MARKER_3 = re.compile(  # verification, new approach, conclusion
    r"(?:But,?\s+)?(?:Alternatively\b|Another\s+(?:approach|way|method|idea|option|strategy)"
    r"|Instead\b|In\s+conclusion|Putting\s+(?:it|this|everything)\s+(?:all\s+)?together"
    r"|(?:So,?\s+)?the\s+(?:final\s+)?answer\s+is|(?:The\s+)?[Ff]inal\s+answer"
    r"|(?:Wait,?\s+|Now,?\s+|Okay,?\s+|OK,?\s+)?(?:let\s+me|let's|let\s+us|I(?:'ll|\s+will|\s+should)?)\s+"
    r"(?:try\s+(?:a\s+different|another|again|something)|think\s+differently|start\s+over|re-?examine|recheck"
    r"|re-?verify|double[- ]check|verify|check|confirm|test\b|plug|sanity|approach\s+(?:this|it)\s+differently)"
    r"|(?:To|Now,?\s+to)\s+(?:verify|check|confirm|double[- ]check)|Double[- ]check|Verification\b"
    r"|Sanity\s+check|Checking\b|(?:Maybe|Perhaps)\s+(?:a|there's\s+a)\s+(?:better|different|simpler|smarter)\s+"
    r"(?:approach|way|method))",
    re.IGNORECASE,
)
_MARKER_2 = re.compile(  # topic shift
    r"(?:But,?\s+wait\b|Wait\b|Hmm+\b|Actually\b|Oh\b|(?:Okay|OK|Alright|All\s+right),?\s+(?:so|now|let)\b"
    r"|Now\b|Next\b|First(?:ly)?,|Second(?:ly)?,|Third(?:ly)?,|Finally\b|Moving\s+on|On\s+the\s+other\s+hand"
    r"|Going\s+back|Back\s+to|What\s+(?:if|about)\b|(?:Step|Case|Part)\s+\(?\w+\)?"
    r"|(?:Let\s+me|Let's|Let\s+us)\s+(?:try|compute|calculate|consider|look|think|recall|see|write|denote"
    r"|find|solve|work|go|start|set|figure|analy[sz]e|simplify|expand|factor|rewrite|use|apply|evaluate))",
)
# a verification announced within the first words ("But just to make sure, let me verify ...")
_VERIFY_SOON = re.compile(
    r"^[^.?!:]{0,30}?\b(?:let\s+me|let's|I'll|to)\s+(?:(?:just|quickly|now)\s+)?(?:verify|double[- ]check|check"
    r"|confirm|make\s+sure|sanity[- ]check)\b",
    re.IGNORECASE,
)
_HEADING = re.compile(r"(?:#{1,6}\s|\*\*|\d+\.\s+\*\*|(?:Step|Case|Part)\s+\d+\s*[:.)])")
# the next sentence continues the previous one: a derived consequence, a lowercase or operator
# start, or a pronoun that points back ("This gives", "It follows")
_CONTINUATION = re.compile(
    r"(?:(?:Therefore|Thus|Hence|Then|And|Which|Or|Also|Since|Because|This|That|These|Those|It|Here)\b"
    r"|So\b(?!,?\s+the\s+(?:final\s+)?answer)|[a-z]|[=+\-*/^<>)\]}|,;:]|\\(?:\)|\]|right|end|times|cdot))"
)
_REFERS_BACK = re.compile(
    r"\b(?:this|that|these|the\s+above|the\s+previous|the\s+last|the\s+same)\s+(?:equation|expression|result"
    r"|formula|value|step|identity|inequality|system|substitution|calculation|sum|product|term)s?\b",
    re.IGNORECASE,
)
# the previous sentence needs the next: it ends with ':', an operator, an open bracket, a comma
# or a connecting word, or it is a bare list marker
_NEEDS_NEXT = re.compile(
    r"(?::|[=+\-*/^<>({\[,;&]|\\\\|\\(?:times|cdot|left|frac|\(|\[)|\b(?:and|or|of|the|to|is|are|with|by"
    r"|for|a|an|in|that|where|then|so|as|from|into|be|we|get|gives|becomes|equals))\s*$",
    re.IGNORECASE,
)
_LIST_MARKER = re.compile(r"^(?:\(?\d+[.)]|\(?[a-z][.)]|[-*\u2022])$")
_TERMINAL = re.compile(r"(?:[.!?]|\\\]|\$\$|```)[\"')\]*]*\s*$")
_CONCLUDED = re.compile(r"(?:\\boxed|answer\s+is|=\s*[-\w\\{}()./√π]+[.!]\s*$)", re.IGNORECASE)
_FENCE = "```"
_RESERVED = re.compile("|".join(re.escape(t) for t in RESERVED))

# -- text analysis shared by compress, judge and refine ----------------------------------------
# Everything is compared on an ASCII-folded copy, so "x²" and "x^2" are the same formula.

_ASCII = str.maketrans({
    "²": "^2", "³": "^3", "⇒": "=>", "⟹": "=>", "→": "->", "×": "*", "·": "*", "⋅": "*", "≤": "<=",
    "≥": ">=", "≠": "!=", "−": "-", "–": "-", "—": "-", "…": "...", "\u00a0": " ", "’": "'", "‘": "'",
    "“": '"', "”": '"',
})
# digits glued after a letter are a name (x1, Eq2, a_3), not a number
_NUMBER = re.compile(r"(?<![A-Za-z_])\d+(?:\.\d+)?")
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_LATEX_SPAN = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]|\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.DOTALL)
_LATEX_DELIMS = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|(?<!\\)\$")
_NORM_DROP = re.compile(r"\s+|\\left|\\right|\\[,;!: ]|&|\\\(|\\\)|\\\[|\\\]|\$")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,;:.])(?=\s|$)")
_DISPLAY_LINE = re.compile(r"\\\\|\n")  # rows of a display formula
_EQUALS = re.compile(r"=>|=")
_RELATION = re.compile(r"<=|>=|!=|=>|[=<>≈≡∝]")
_MATH_OP = re.compile(r"[=<>^*/+\-≈√]|\\[a-zA-Z]+")
_MATHY = re.compile(r"[\d=<>^*/+\-≈√]|\\[a-zA-Z]|[^\x00-\x7f]|^[()\[\]{}|]+$")
_FUNCTION_WORDS = frozenset(
    "sqrt sin cos tan cot sec csc log ln exp lim max min mod gcd lcm det arcsin arccos arctan floor ceil".split()
)
_CODE_SIGNATURE = re.compile(r"^\s*(?:async\s+)?(?:def|class|function|fn|func)\s+\w+.*$", re.MULTILINE)
_PIECES = re.compile(r"(\$\$.*?\$\$|\\\[.*?\\\]|```.*?(?:```|$))", re.DOTALL)
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[A-Z\\$(\[*\"'0-9-])|\n+")
_CLAUSE = re.compile(r"(?<=[,;:])\s+|\s+(?=(?:so|but|which|because|since|hence|thus)\b)")
_NARRATION = re.compile(
    r"\b(?:hmm+|wait|okay|ok(?=[,.!])|alright|oh|ah|well(?=,)|let\s+me(?:\s+(?:see|think|just|now|try\s+to))?"
    r"|let's(?:\s+(?:see|think|just|now))?|let\s+us|I\s+(?:think|guess|believe|suppose|remember|recall|need\s+to"
    r"|should|will|'ll|can|could|might|have\s+to|want\s+to|realize|notice|see|wonder|mean)(?:\s+that)?"
    r"|I'll|I'm|I\s+am|actually|basically|essentially|hopefully|right\?"
    r"|in\s+this\s+block|the\s+model|the\s+(?:assistant|author|solver|writer))\b[,.!:]?\s*",
    re.IGNORECASE,
)
_NARRATION_JUDGED = re.compile(
    r"\b(?:in\s+this\s+block|the\s+model|the\s+(?:assistant|author|solver|writer)|I\s+think|let\s+me|let's"
    r"|hmm+|wait|okay|I\s+guess|I'm\s+(?:not\s+sure|going)|we\s+will\s+now)\b",
    re.IGNORECASE,
)
# leading connectives and bullets; words that can carry meaning ("No solution", "Right
# triangle", "First term") are dropped only when a comma marks them as connectives
_LEADING = re.compile(
    r"^(?:(?:[-*\u2022]\s+|(?:so|and|but|then|now|also)\b[,:]?\s*|(?:yes|no|right|again|here|first|next|finally"
    r"|thus|hence|therefore|well)\s*,\s*))+",
    re.IGNORECASE,
)
_CHECK = re.compile(
    r"\b(?:check(?:s|ed|ing)?|verif(?:y|ied|ies|ication)|confirm(?:s|ed)?|double[- ]check|consistent"
    r"|satisf(?:y|ies|ied)|plug(?:ging|ged)?\s+(?:it\s+)?back|sanity)|✓",
    re.IGNORECASE,
)
_VERDICT = re.compile(
    r"\b(?:correct|works|holds|checks\s+out|matches|consistent|satisf(?:y|ies|ied)|(?:does|do)\s*n[o']t)\b|✓",
    re.IGNORECASE,
)
_ANSWER = re.compile(r"\banswer\s+(?:is|should\s+be|would\s+be|=|:)|\\boxed|\bfinal\s+answer", re.IGNORECASE)
_BOXED = re.compile(r"\\boxed\{(.+)\}")
_ANSWER_VALUE = re.compile(r"\banswer\s+(?:is|should\s+be|would\s+be|=|:)\s*(.+?)(?:[.;,]\s|[.;,]?$)", re.IGNORECASE)
_CONCLUSION = re.compile(
    r"(?:\b(?:so|thus|therefore|hence|we\s+get|gives?|giving|yields?|which\s+is|equals|the\s+answer|final|result"
    r"|in\s+total|altogether|simplif(?:y|ies))\b|=>|\\boxed|\\implies|\\Rightarrow)",
    re.IGNORECASE,
)
_METHODS = {
    "substitution": r"substitut", "elimination": r"eliminat", "factoring": r"factor(?:ing|ize|ise|ed)",
    "expansion": r"expand", "completing the square": r"complet\w*\s+the\s+square",
    "quadratic formula": r"quadratic\s+formula", "discriminant": r"discriminant", "Vieta": r"vieta",
    "Pythagorean theorem": r"pythag", "law of cosines": r"law\s+of\s+(?:co)?sines", "induction": r"induction",
    "contradiction": r"contradiction", "case analysis": r"\bcase\s+\d|\bcases\b", "modular arithmetic": r"modul|\bmod\b",
    "derivative": r"derivative|differentiat", "integration": r"integra(?:l|te|tion)", "chain rule": r"chain\s+rule",
    "binomial": r"binomial", "counting": r"permutation|combinatori|\\binom|choose\s+\d", "probability": r"probabilit",
    "recurrence": r"recurren|recursi", "dynamic programming": r"dynamic\s+programming|\bdp\b",
    "binary search": r"binary\s+search", "graph search": r"\bbfs\b|\bdfs\b", "sorting": r"\bsort",
    "similar triangles": r"similar\s+triangle", "coordinates": r"coordinate", "trig identity": r"identit",
    "determinant": r"determinant", "matrix": r"matri(?:x|ces)", "series": r"series|telescop",
    "AM-GM": r"am-gm|am\s*≥\s*gm", "inclusion-exclusion": r"inclusion-exclusion", "pigeonhole": r"pigeonhole",
    "symmetry": r"symmetr", "parity": r"parity", "gcd": r"\bgcd\b|euclid", "logarithm": r"logarithm",
    "prime factorization": r"prime\s+factori", "linear system": r"system\s+of\s+(?:linear\s+)?equations",
    "conservation law": r"conservation", "stoichiometry": r"stoichiometr|\bmoles?\b", "Newton's laws": r"newton",
}
_METHOD_RE = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in _METHODS.items()}
_IN_WORDS = [(re.compile(p, re.IGNORECASE), symbol) for p, symbol in (
    (r"\bsquared\b", "^2"), (r"\bcubed\b", "^3"), (r"\bsquare\s+root\s+of\b", "sqrt"),
    (r"\bto\s+the\s+power\s+of\b", "^"), (r"\bdivided\s+by\b", "/"), (r"\btimes\b", "*"),
)]
_WORD = re.compile(r"[a-z]{4,}")
_STOPWORDS = frozenset(
    "that this these those with from have then than they them their there where which when what will would could"
    " should about into also just like some such only more most very each both other same because since while"
    " were been being does done make made need want know think thing things mean means maybe perhaps probably"
    " here again still even well really actually sure okay right wait first second next find given".split()
)
_FEEDBACK_NUMBERS = re.compile(r"missing\s+numbers?\s*:\s*(.+)", re.IGNORECASE)
_FEEDBACK_FORMULA = re.compile(r"missing\s+formulas?\s*:\s*(.+)", re.IGNORECASE)
_FEEDBACK_METHODS = re.compile(r"missing\s+methods?\s*:\s*(.+)", re.IGNORECASE)
_FEEDBACK_UNSUPPORTED = re.compile(r"unsupported\s+numbers?\s*:\s*(.+)", re.IGNORECASE)
_FEEDBACK_CHECK = re.compile(r"missing\s+check", re.IGNORECASE)


def _ascii(text: str) -> str:
    return text.translate(_ASCII)


def _norm(text: str) -> str:
    """The comparison form of a formula: ASCII-folded, no spaces, delimiters or sizing commands."""
    return _NORM_DROP.sub("", _ascii(text)).rstrip(".,;:")


def _numbers(text: str) -> list[str]:
    return [n if "." in n else n.lstrip("0") or "0" for n in _NUMBER.findall(_ascii(text))]


def _states(text: str, value: str) -> bool:
    """Whether ``text`` states ``value``: as a whole number (so 24 does not state 4), else verbatim."""
    if _PLAIN_NUMBER.fullmatch(value):
        return value in _numbers(text)
    return value in _norm(text)


def _methods_in(text: str) -> frozenset[str]:
    # forty literal-prefixed searches beat one alternation, which retries every branch per char
    return frozenset(name for name, rx in _METHOD_RE.items() if rx.search(text))


def _mathy(token: str) -> bool:
    """A digit, an operator, a LaTeX command, a non-ASCII symbol, a lone variable or a bracket."""
    return _MATHY.search(token) is not None or token in _FUNCTION_WORDS or (
        len(token) == 1 and token.isalpha() and token not in "IA")


def _depth(token: str) -> int:
    return sum(token.count(c) for c in "([{") - sum(token.count(c) for c in ")]}")


def _plain_formulas(text: str) -> list[str]:
    """Runs of math-looking tokens around a relation sign, in text outside LaTeX spans.

    A comma ends a formula only outside brackets, so ``(x, y) = (2, -6)`` stays whole; a short
    name right before a relation (``dx = ...``) belongs to it.
    """
    found: list[str] = []
    run: list[str] = []
    depth = 0
    tokens = text.split()
    for i, token in enumerate(tokens + [""]):
        bare = token.rstrip(".,;:?!")
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if bare and (_mathy(bare) or len(bare) <= 8 and bare.isidentifier() and _RELATION.match(following)):
            step = _depth(bare)
            run.append(token if depth + step > 0 else bare)
            depth = max(0, depth + step)
            if bare == token or depth > 0:  # punctuation outside brackets ends a formula
                continue
        if len(run) >= 2 and any(_RELATION.search(t) for t in run):
            found.append(" ".join(run).rstrip(".,;:"))
        run, depth = [], 0
    return found


def _formulas(text: str) -> list[str]:
    """Formulas of ``text`` as written: LaTeX spans with an operator, plain equations, code signatures."""
    found: list[str] = []
    for match in _LATEX_SPAN.finditer(text):
        body = next(g for g in match.groups() if g is not None)
        for line in _DISPLAY_LINE.split(body):
            line = line.strip().rstrip(".,;")
            if len(_norm(line)) >= 3 and _MATH_OP.search(line):
                found.append(line)
    found += _plain_formulas(_LATEX_SPAN.sub(" ", text))
    found += [m.group(0).strip() for m in _CODE_SIGNATURE.finditer(text)]
    return found


def _compact(sentence: str) -> str:
    """A sentence as a memento may quote it: narration, LaTeX delimiters and leading connectives gone."""
    text = _LATEX_DELIMS.sub("", _NARRATION.sub("", _RESERVED.sub(" ", _ascii(sentence))))
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip(" ,;")
    return _LEADING.sub("", text).strip(" ,;")


@dataclass(frozen=True, slots=True)
class _Unit:
    """One sentence (or display formula, or code signature) of a block."""

    text: str  # the compacted sentence: what a memento may quote
    formulas: tuple[str, ...]  # normalized
    numbers: frozenset[str]
    methods: frozenset[str]
    check: bool
    conclusion: bool


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the rules need to know about one block, computed once."""

    units: tuple[_Unit, ...]
    formulas: dict[str, str]  # normalized -> as written, in block order
    numbers: dict[str, int]  # number -> occurrences, in block order
    methods: frozenset[str]
    check: bool
    result: int  # index of the unit carrying the block's result, -1 if none
    value: str  # the block's final value (normalized), "" if none


def _final_value(sentence: str) -> str:
    """The value a result sentence ends on: a stated or boxed answer, the last right-hand side, the
    last formula, or the last number."""
    text = _ascii(sentence)
    stated = _BOXED.search(text) or _ANSWER_VALUE.search(text)
    formulas = [] if stated else _formulas(text)
    equations = [f for f in formulas if "=" in f]
    if stated:
        value = stated.group(1)
    elif equations:
        value = _EQUALS.split(equations[-1])[-1]
        if len(_norm(value)) <= 1:  # "... = 0" says nothing alone: the equation is the result
            value = equations[-1]
    elif formulas:
        value = formulas[-1]
    else:
        value = next((t for t in reversed(text.split()) if any(c.isdigit() for c in t)), "")
    value = _norm(value).strip("()")
    if len(value) > 40:
        value = (_numbers(value) or [""])[-1]
    return value


def _result(units: list[_Unit]) -> tuple[int, str]:
    """The block's result: its last stated answer, else its last equation, else its last
    concluding sentence with a number, else its last number."""
    # a check restates a result to test it, so it is the result only when nothing else is
    for wanted, checks in (("answer", True), ("equation", False), ("conclusion", False), ("equation", True),
                           ("number", True)):
        for i in range(len(units) - 1, -1, -1):
            unit = units[i]
            if not unit.text or unit.text.endswith("?") or not (unit.formulas or unit.numbers):
                continue
            if (unit.check and not checks) or (wanted == "answer" and not _ANSWER.search(unit.text)):
                continue
            if (wanted == "equation" and not any("=" in f for f in unit.formulas)) or (
                    wanted == "conclusion" and not unit.conclusion):
                continue
            value = _final_value(unit.text)
            if value:
                return i, value
    return -1, ""


@functools.lru_cache(maxsize=256)  # compress, judge and refine of one block share the analysis
def _analyse(block: str) -> _Facts:
    units: list[_Unit] = []
    formulas: dict[str, str] = {}
    numbers: dict[str, int] = {}
    # display math over several lines is one unit; of code, only signatures are memento material
    for piece in _PIECES.split(block):
        if piece.startswith(_FENCE):
            sentences = [m.group(0) for m in _CODE_SIGNATURE.finditer(piece)]
        elif piece.startswith(("$$", "\\[")):
            sentences = [piece]
        else:
            sentences = _SENTENCE_END.split(piece)
        for sentence in sentences:
            if not sentence.strip():
                continue
            raw = [(f, _norm(f)) for f in _formulas(sentence)]
            normed = tuple(dict.fromkeys(n for _, n in raw if len(n) >= 3))
            for form, n in raw:
                if len(n) >= 3:
                    formulas.setdefault(n, _SPACES.sub(" ", _ascii(form)))
            nums = _numbers(sentence)
            for n in nums:
                numbers[n] = numbers.get(n, 0) + 1
            units.append(_Unit(
                text=sentence.strip() if piece.startswith(_FENCE) else _compact(sentence),
                formulas=normed,
                numbers=frozenset(nums),
                methods=_methods_in(sentence),
                # a check counts when it shows its work or its outcome, not "let me check:"
                check=_CHECK.search(sentence) is not None and bool(normed or nums or _VERDICT.search(sentence)),
                conclusion=_CONCLUSION.search(sentence) is not None,
            ))
    result, value = _result(units)
    return _Facts(tuple(units), formulas, numbers, frozenset().union(*(u.methods for u in units)),
                  any(u.check for u in units), result, value)


def _sentences(memento: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(memento.strip()) if s.strip()]


def _join(pieces: list[str]) -> str:
    out = []
    for piece in pieces:
        piece = piece.strip().rstrip(",;")
        if piece:
            out.append(piece if piece[-1] in ".!?:" else piece + ".")
    return " ".join(out)


def _finish(text: str, block: str, cap: int) -> str:
    """The memento as answered: no reserved token, within the cap, never empty."""
    text = _truncate(_RESERVED.sub(" ", text).strip(), cap)
    return text or _truncate(_RESERVED.sub(" ", block).strip(), cap) or "-"


def _truncate(text: str, limit: int) -> str:
    """Cut at a space (else between a non-word and a word character), so no number is split."""
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit + 1)
    if space > 0 and text[:space].strip(" ,;"):
        return text[:space].rstrip(" ,;")
    while limit > 1 and text[limit - 1].isalnum() and text[limit].isalnum():
        limit -= 1
    return text[:limit]


@dataclass(slots=True)
class _Covered:
    """What a memento draft already says, so each further sentence is valued by what it adds."""

    formulas: set[str]
    numbers: set[str]
    words: set[str]
    methods: set[str] = field(default_factory=set)
    check: bool = False

    def add(self, unit: _Unit, text: str) -> None:
        norm = _norm(text)
        self.formulas.update(f for f in unit.formulas if f in norm)
        self.numbers.update(_numbers(text))
        self.words.update(set(_WORD.findall(text.lower())) - _STOPWORDS)
        self.methods.update(m for m in unit.methods if _METHOD_RE[m].search(text))
        self.check = self.check or (unit.check and _CHECK.search(text) is not None)

    def gain(self, unit: _Unit, block_has_check: bool) -> float:
        """New information per character: formulas weigh most, content words least."""
        value = 3.0 * sum(f not in self.formulas for f in unit.formulas)
        value += sum(n not in self.numbers for n in unit.numbers)
        value += 3.0 * len(unit.methods - self.methods)
        value += 4.0 * (block_has_check and unit.check and not self.check)
        value += 0.5 * (unit.conclusion and bool(unit.formulas or unit.numbers))
        if len(unit.text) >= 25:  # "write it:" says nothing however new its words are
            value += 0.3 * len(set(_WORD.findall(unit.text.lower())) - _STOPWORDS - self.words)
        return value / (len(unit.text) + 25)


