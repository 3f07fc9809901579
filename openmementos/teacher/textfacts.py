"""Text facts for the offline teacher: the patterns it reads in sentences, blocks and mementos
(numbers, formulas, methods, checks, narration, results) and the per-block analysis that its
compressor, judge and refiner share. Pure functions over strings; no teacher protocol here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from ..format import RESERVED
from ..validate.numerals import final_value as _last_value, values as _values


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
_NORM_DROP = re.compile(r"\s+|\\left|\\right|\\[,;!: ]|&|\\\(|\\\)|\\\[|\\\]|\$|`")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,;:.])(?=\s|$)")
_DISPLAY_LINE = re.compile(r"\\\\|\n")  # rows of a display formula
_EQUALS = re.compile(r"=>|=|\\approx|≈")
_LATEX_COMMAND = re.compile(r"\\[a-zA-Z]+")
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
# a chosen option of a multiple-choice question: "the answer is (C)", "So C.", "C is the best answer"
_OPTION = re.compile(
    r"(?i:\b(?:answer|option|choice)\s*(?:is\s+|would\s+be\s+|should\s+be\s+|must\s+be\s+|=\s*|:\s*))"
    r"(?:\*\*)?\(?([A-J])\)?(?![\w'])"
    r"|(?i:\b(?:so|thus|therefore|hence)\s+)\(?([A-J])\)?[.!]"
    r"|(?<![\w'])\(?([A-J])\)?\s+(?i:is\s+(?:the\s+)?(?:answer|correct|right|best)|seems\s+(?:right|correct|best))"
)
# the outcome of code: "the code is correct", "this approach works", "it outputs 30"
_CODE_HINT = re.compile(r"```|\bdef\s+\w+\(|\bprint\(|\binput\(\)|\breturn\s+\w|#include|\w\[-?\w+\]")
_VERDICT_PHRASE = (r"[^.?!]{0,40}?\b(?:is\s+(?:correct|right|fine|okay|valid)|works|should\s+(?:work|be\s+correct)|handles"
                   r"|passes|fails|can\s+be\s+(?:straightforward|simple))\b")
# "the code is correct" first; "it works" only when no sentence names the code
_CODE_VERDICTS = (
    re.compile(r"\b(?:code|solution|program|approach|implementation|logic|function|algorithm|loop)\b" + _VERDICT_PHRASE, re.IGNORECASE),
    re.compile(r"\b(?:it|this|that)\b" + _VERDICT_PHRASE, re.IGNORECASE),
)
# words that carry a verdict in a memento ("confirms", "matches sample", "valid")
_VERDICT_WORDS = re.compile(
    r"\b(?:correct|works?|fine|okay|valid\w*|confirm\w*|verif\w*|handles?|pass(?:es|ed)?|fails?|match(?:es|ed)?"
    r"|satisf\w*|consistent|checks?\s+out|straightforward|simple)\b|✓",
    re.IGNORECASE,
)
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


_TOKEN_PIECE = re.compile(r"\d{1,3}|[A-Za-z]+|[^\sA-Za-z\d]")


def _size(text: str) -> int:
    """An estimate of the tokens of ``text`` (a word, up to three digits or a symbol each): within
    about 10% of cl100k_base on real blocks and mementos, where characters / 4 is off by 35%."""
    return len(_TOKEN_PIECE.findall(text))


def _ascii(text: str) -> str:
    return text.translate(_ASCII)


def _norm(text: str) -> str:
    """The comparison form of a formula: ASCII-folded, no spaces, delimiters or sizing commands."""
    return _NORM_DROP.sub("", _ascii(text)).rstrip(".,;:")


def _numbers(text: str) -> list[str]:
    return [n if "." in n else n.lstrip("0") or "0" for n in _NUMBER.findall(_ascii(text))]


_VALUE_NOISE = re.compile(r"\\(?:left|right|cdot|times|[dt]?frac)|[*(){}\[\]\\]")


def _states(text: str, value: str) -> bool:
    """Whether ``text`` states ``value``: as a whole number (so 24 does not state 4), else up to
    notation (``12\\sqrt{3}`` is ``12*sqrt(3)``, ``\\frac{1}{2}`` is ``(1)/(2)``)."""
    if _PLAIN_NUMBER.fullmatch(value):
        return value in _numbers(text)
    return _VALUE_NOISE.sub("", value) in _VALUE_NOISE.sub("", _norm(text))


def _methods_in(text: str) -> frozenset[str]:
    # forty literal-prefixed searches beat one alternation, which retries every branch per char
    return frozenset(name for name, rx in _METHOD_RE.items() if rx.search(text))


def _mathy(token: str) -> bool:
    """A digit, an operator, a LaTeX command, a non-ASCII symbol, a lone variable or a bracket
    (also a lone variable in brackets: ``((a``, ``b)``)."""
    if _MATHY.search(token) is not None or token in _FUNCTION_WORDS:
        return True
    bare = token.strip("()[]{}|")
    return len(bare) == 1 and bare.isalpha() and (bare != token or bare not in "IA")


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
    size: int  # its estimated tokens
    formulas: tuple[str, ...]  # normalized
    numbers: frozenset[str]
    ordered_numbers: tuple[str, ...]  # in the order written, repeats dropped
    methods: frozenset[str]
    check: bool
    conclusion: bool
    test: bool = False  # it tests a result rather than states one


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the rules need to know about one block, computed once."""

    units: tuple[_Unit, ...]
    formulas: dict[str, str]  # normalized -> as written, in block order
    numbers: dict[str, int]  # number -> occurrences, in block order
    methods: frozenset[str]
    check: bool
    result: int  # index of the unit carrying the block's result, -1 if none
    value: str  # the block's result: a number, a value (normalized), an option letter or "works"; "" if none
    kind: str = ""  # "number" (canonical, as validate compares), "value" (a formula or expression),
    # "option" (a chosen answer letter) or "verdict" (the outcome of code)
    key_formulas: tuple[str, ...] = ()  # normalized formulas of the sentences that conclude something
    key_numbers: frozenset[str] = frozenset()  # numbers those sentences state, and numbers used twice

    def states_result(self, text: str) -> bool:
        """Whether ``text`` states this block's result (always true when the block has none)."""
        if not self.value:
            return True
        if self.kind == "option":
            return re.search(rf"(?<![A-Za-z]){self.value}(?![a-z])", text) is not None
        if self.kind == "verdict":
            return _VERDICT_WORDS.search(text) is not None
        if self.kind == "number":
            return self.value in _values(text)
        return _states(text, self.value)


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
    raw, value = value, _norm(value).strip("()")
    if len(value) > 40:  # numbers from the text as written: "\\approx1.86" would hide the 1
        value = (_numbers(_LATEX_COMMAND.sub(" ", raw)) or [""])[-1]
    return value


def _result(units: list[_Unit], block: str) -> tuple[int, str, str]:
    """The block's result as (unit index, value, kind): a chosen option when it picks one, the
    verdict on its code when it has code, else the number it ends on, else (for symbolic results)
    its last stated answer, its last equation or concluding sentence (a test's only when nothing
    else has one), else its last number."""
    for i in range(len(units) - 1, -1, -1):
        option = _OPTION.search(units[i].text)
        if option:
            return i, next(g for g in option.groups() if g), "option"
    if _CODE_HINT.search(block):
        for verdict in _CODE_VERDICTS:
            for i in range(len(units) - 1, -1, -1):
                if verdict.search(units[i].text) and not units[i].text.endswith("?"):
                    return i, "works", "verdict"
    # the number the block ends on, read as validate reads it (after its last "=", "is", "gives"
    # ...) but not from a sentence that merely tests an earlier result
    number = _last_value(" ".join(u.text for u in units if not u.test), trivial_too=True) or _last_value(block)
    if number is not None:
        holding = [i for i, u in enumerate(units) if number in _values(u.text)]
        if holding:
            return next((i for i in reversed(holding) if not units[i].test), holding[-1]), number, "number"
    # a check restates a result to test it, so it is the result only when nothing else is
    for wanted, checks in (("answer", True), ("finding", False), ("equation", True), ("number", True)):
        for i in range(len(units) - 1, -1, -1):
            unit = units[i]
            if not unit.text or unit.text.endswith("?") or not (unit.formulas or unit.numbers):
                continue
            if (unit.test and not checks) or (wanted == "answer" and not _ANSWER.search(unit.text)):
                continue
            equation = any("=" in f for f in unit.formulas)
            if (wanted == "equation" and not equation) or (wanted == "finding" and not (equation or unit.conclusion)):
                continue
            value = _final_value(unit.text)
            if value:
                return i, value, "value"
    return -1, "", ""


# A memento is judged on what the block's last few concluding sentences established: one
# concluding sentence and one formula per this many estimated block tokens, 1 to 3 and 1 to 4.
_KEY_PER_TOKENS = 250
_KEY_UNITS = 3
_KEY_FORMULAS = 4
_KEY_NUMBERS = 3
_DANGLING = re.compile(r"(?:\b(?:is|are|be|get|gives|equals|becomes|yields|to|of|by|as)|[=:,])\s*$")
_BARE_MARKERS = re.compile(r"[\d.()\[\]\s*#-]+")
_DERIVES_VALUE = re.compile(r"=-?\d+(?:\.\d+)?$")


def _key_items(units: list[_Unit], result: int) -> tuple[tuple[str, ...], frozenset[str]]:
    """The formulas and numbers a memento must keep: those of the block's last few sentences
    that conclude something, and of its result sentence. A block works towards its results:
    the intermediate steps may be dropped. Single digits never count: they are everywhere and
    prove nothing."""
    # a memento's length follows its block's: so does how much it can be asked to keep
    share = max(1, round(sum(u.size for u in units) / _KEY_PER_TOKENS))
    concluding = [i for i, u in enumerate(units) if u.conclusion and u.text and not u.text.endswith("?")]
    chosen = sorted(set(concluding[-min(share, _KEY_UNITS):]) | ({result} if result >= 0 else set()), reverse=True)
    formulas = list(dict.fromkeys(f for i in chosen for f in units[i].formulas if _RELATION.search(f)))
    # short blocks conclude little: the formulas that derive a value ("h = 2r = 6", not "r = 3",
    # not a check restating one) count too
    formulas += [f for u in reversed(units) if not u.check for f in u.formulas
                 if _DERIVES_VALUE.search(f) and len(set(_ATOM.findall(f))) >= 3 and f not in formulas]
    # the latest numbers first: a running sum keeps its total, not every partial sum
    wanted = [n for i in chosen for n in reversed(units[i].ordered_numbers) if len(n) >= 2]
    return tuple(dict.fromkeys(formulas))[:min(share, _KEY_FORMULAS)], frozenset(list(dict.fromkeys(wanted))[:_KEY_NUMBERS * share])


_ATOM = re.compile(r"\d+(?:\.\d+)?|(?<![A-Za-z\\])[A-Za-z](?![A-Za-z])")
_CLAUSES = re.compile(r";|(?<=[.!?])\s+|\n")
_FORMULA_ATOMS_KEPT = 0.75
_LONG_FORMULA_ATOMS = 6


def _formula_credit(formula: str, memento: str) -> float:
    """How much of a (normalized) formula ``memento`` keeps: 1 verbatim (up to spacing and
    delimiters), or when one clause with a relation sign holds all its numbers and one-letter
    variables (``72=((r+s)/2)*6`` keeps ``72 = \\frac{(r + s)}{2} \\times 6``; a long chain may drop
    a step); 0.5 when such a clause holds half of them (the rubric's "paraphrased or
    simplified"); else 0. Powers and products of small numbers count as their values, so
    ``6^2`` keeps a ``36``."""
    if formula in _norm(memento):
        return 1.0
    atoms = set(_ATOM.findall(formula))
    if len(atoms) < 2:
        return 0.0
    best = 0.0
    for clause in _CLAUSES.split(_ascii(memento)):
        if not _RELATION.search(clause):
            continue
        clause = _LATEX_DELIMS.sub(" ", clause)
        held = atoms & (set(_ATOM.findall(clause)) | _computed(clause))
        if held == atoms or (len(atoms) >= _LONG_FORMULA_ATOMS and len(held) >= _FORMULA_ATOMS_KEPT * len(atoms)):
            return 1.0
        if len(held) >= len(atoms) / 2:
            best = 0.5
    return best


def _formula_kept(formula: str, memento: str) -> bool:
    return _formula_credit(formula, memento) == 1.0


_POWER = re.compile(r"(\d{1,3})\s*\^\s*\{?(\d)\}?|(\d{1,4})\s*[*x×]\s*(\d{1,4})")


def _computed(clause: str) -> set[str]:
    """Values of the small powers and products written in ``clause`` (``6^2`` -> 36, ``2*3`` -> 6)."""
    out = set()
    for base, power, left, right in _POWER.findall(clause):
        value = int(base) ** int(power) if base else int(left) * int(right)
        if value < 10**7:
            out.add(str(value))
    return out


@functools.lru_cache(maxsize=256)  # compress, judge and refine of one block share the analysis
def _memento_sentences(block: str) -> list[tuple[str, bool]]:
    """The block's sentences as (text, is code): display math over several lines is one, of code
    only signatures are memento material, and a sentence that stops on "is", "=" or ":" before a
    display formula takes the formula with it ("the count is" + the formula giving 63)."""
    out: list[tuple[str, bool]] = []
    for piece in _PIECES.split(block):
        if piece.startswith(_FENCE):
            out += [(m.group(0), True) for m in _CODE_SIGNATURE.finditer(piece)]
        elif piece.startswith(("$$", "\\[")):
            if out and not out[-1][1] and _DANGLING.search(out[-1][0]):
                out[-1] = (out[-1][0].rstrip() + " " + piece, False)
            else:
                out.append((piece, False))
        else:
            out += [(s, False) for s in _SENTENCE_END.split(piece)]
    return out


def _is_test(sentence: str) -> bool:
    """Whether a sentence tests a result ("Check: 12 * 6 = 72") rather than states one that was
    also checked ("Sum = 28080, confirmed by factoring"): its check word comes before any "="."""
    check = _CHECK.search(sentence)
    if check is None:
        return False
    equals = sentence.find("=")
    return equals < 0 or check.start() < equals


def _analyse(block: str) -> _Facts:
    units: list[_Unit] = []
    formulas: dict[str, str] = {}
    numbers: dict[str, int] = {}
    for sentence, is_code in _memento_sentences(block):
        if not sentence.strip() or _BARE_MARKERS.fullmatch(sentence.strip()):
            continue  # nothing, or only list numbers ("1. 3.")
        raw = [(f, _norm(f)) for f in _formulas(sentence)]
        normed = tuple(dict.fromkeys(n for _, n in raw if len(n) >= 3))
        for form, n in raw:
            if len(n) >= 3:
                formulas.setdefault(n, _SPACES.sub(" ", _ascii(form)))
        nums = _numbers(sentence)
        for n in nums:
            numbers[n] = numbers.get(n, 0) + 1
        text = sentence.strip() if is_code else _compact(sentence)
        units.append(_Unit(
            text=text,
            size=_size(text),
            formulas=normed,
            numbers=frozenset(nums),
            ordered_numbers=tuple(dict.fromkeys(nums)),
            methods=_methods_in(sentence),
            # a check counts when it shows its work or its outcome, not "let me check:"
            check=_CHECK.search(sentence) is not None and bool(normed or nums or _VERDICT.search(sentence)),
            test=_is_test(sentence),
            conclusion=_CONCLUSION.search(sentence) is not None,
        ))
    result, value, kind = _result(units, block)
    key_formulas, key_numbers = _key_items(units, result)
    return _Facts(tuple(units), formulas, numbers, frozenset().union(*(u.methods for u in units)),
                  any(u.check for u in units), result, value, kind, key_formulas, key_numbers)


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
        """New information per token: formulas weigh most, content words least."""
        value = 3.0 * sum(f not in self.formulas for f in unit.formulas)
        value += sum(n not in self.numbers for n in unit.numbers)
        value += 3.0 * len(unit.methods - self.methods)
        value += 4.0 * (block_has_check and unit.check and not self.check)
        value += 0.5 * (unit.conclusion and bool(unit.formulas or unit.numbers))
        if len(unit.text) >= 25:  # "write it:" says nothing however new its words are
            value += 0.3 * len(set(_WORD.findall(unit.text.lower())) - _STOPWORDS - self.words)
        return value / (unit.size + 6)


