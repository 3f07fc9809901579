"""The numbers a memento states, checked in context: a changed number must not pass.

A number found somewhere in the trace proves little on its own (a digit changed to another
digit, or a value swapped for another value of the same block, is still "found"). These tests
look at a number together with what the memento says about it:

- **co-occurrence**: the numbers of one memento clause (split at ``;``, sentence ends, ``=>``)
  appear together in one window of at most three source sentences, and a number bound to a name
  (``radius = 3``, ``h is 6``) appears in such a window with that name;
- **arithmetic**: a chain of pure-number sides (``2*3 = 6``, ``1008/2 = 504``) holds, up to the
  rounding of its written decimals, unless the sources write the same slip;
- **bindings**: a name the sources give exactly one value (``l = 12``) keeps it;
- **formulas**: a formula the sources write with other numbers (``r+s = 2l`` against ``3l``,
  ``A[-1]`` against ``A[-2]``) keeps its numbers.

Sources are what a memento may know: the problem, its own and earlier blocks, earlier mementos.
LaTeX and ASCII spellings meet (``\\frac{a}{b}`` is ``((a)/(b))``, ``\\times`` and ``·`` are ``*``,
``x²`` is ``x^2``). Calibrated on the real MEMENTO outputs and on ``segment`` shards of real
traces: none of their clean rows is flagged (``benchmarks/bench_fidelity.py``).
"""

from __future__ import annotations

import ast
import functools
import operator
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .numerals import canonical, values

_SUPERSCRIPTS = str.maketrans({"²": "^2", "³": "^3", "¹": "^1", "⁴": "^4", "⁰": "^0", "×": "*", "·": "*", "⋅": "*",
                               "−": "-", "√": " sqrt"})
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
_TIMES = re.compile(r"\\(?:times|cdot)")
_LATEX = re.compile(r"\\(?:left|right|[dt]?frac|text|mathrm|quad|,|;|!)|[{}$]|\\\(|\\\)|\\\[|\\\]")

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n[ \t]*\n")
_CLAUSE = re.compile(r";|(?<=[.!?])\s+|\n|,\s+(?=[A-Za-z])|:\s+|=>|⇒|->|→|\\implies|\\Rightarrow")
_NUMBER = re.compile(r"(?<![A-Za-z_\d.])(\d+(?:\.\d+)?)")
_BOUND = re.compile(r"([A-Za-z][A-Za-z_]*)\s*(?:\(\s*[^()]{0,12}\))?\s*(?:=|:=|\bis\b|\bequals\b|≈|\\approx)\s*[-(\s]*$")
_CHAIN_BREAK = re.compile(r"[<>≈,;:]")   # what ends an = chain (plain text scans, no backtracking)
_PURE = re.compile(r"^[\d\s.+\-*/^()]+$")
_PLAIN = re.compile(r"-?\d+(?:\.\d+)?")
_FORMULA_CHAR = r"[\w+\-*/^()\[\]|.']"
# a run of formula characters that holds a digit; it starts where a run starts, so it scans in linear time
_FORMULA = re.compile(rf"(?<!{_FORMULA_CHAR}){_FORMULA_CHAR}*\d{_FORMULA_CHAR}*")
_LETTERS = re.compile(r"[A-Za-z]+")
_DIGIT = re.compile(r"\d")
_FORMULA_NOISE = re.compile(r"[()\[\]|'\s]")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_SPACED_SIGN = re.compile(r"\s+(?=[-+*/^)|])|(?<=[-+*/^(|])\s+")  # spaces around signs, inside brackets
_IMPLICIT = re.compile(r"\*(?=\s*[A-Za-z])")
_NAME_NOISE = re.compile(r"[\s()\[\]{}]")
# a run of formula tokens: one- or two-letter names (not short words), numbers, signs, brackets
_MATH_TOKEN = (r"(?:(?<![A-Za-z])(?!(?:if|is|in|of|to|so|as|at|by|be|we|or|an|on|it|no|do|and|the|for)(?![A-Za-z]))"
               r"[A-Za-z]{1,2}(?![A-Za-z])|[\d.]+(?![\d.])|[-+*/^()\[\]{}|_'])")  # whole numbers only: no backtracking
_LAST_WORD = re.compile(r"(?<![\w'])[A-Za-z][A-Za-z_]{2,14}$")
_MATH_TAIL = re.compile(rf"(?:{_MATH_TOKEN}\s*)*$", re.IGNORECASE)
_MATH_HEAD = re.compile(rf"(?:\s*{_MATH_TOKEN})*", re.IGNORECASE)
_WINDOW = 3            # sentences a fact may spread over
_SPACES = re.compile(r"\s+")
_NEEDS_VALUES = re.compile(r"\d,\d|/|frac")
_SHORT_NAME = 15       # longest left-hand side kept as a binding
_LONGEST_SIDE = 120    # the end of a side read for its formula (searching all of a long prose side is quadratic)
_OPERATOR = re.compile(r"[-+*/^]")
_FORMULA_WORD = 6      # a longer word glued to a number is prose ("type2"), not a formula
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos}


def plain(text: str) -> str:
    """``text`` with LaTeX and typographic math spelled in plain ASCII."""
    text = _TIMES.sub("*", text.translate(_SUPERSCRIPTS))
    text = _SQRT.sub(r" sqrt(\1)", _FRAC.sub(r"((\1)/(\2))", text))
    return _LATEX.sub(" ", text)


def _numbers(text: str) -> set[str]:
    return {canonical(n) for n in _NUMBER.findall(text)}


@dataclass(slots=True)
class Sources:
    """What a memento may know, indexed once per record and grown one block and memento at a time."""

    sentences: list[str] = field(default_factory=list)        # every source sentence, in order
    first: list[int] = field(default_factory=list)            # per sentence: the first sentence of its text
    by_value: dict[str, set[int]] = field(default_factory=dict)  # value -> sentences that hold it
    bindings: dict[str, set[str]] = field(default_factory=dict)
    formulas: dict[str, set[tuple[str, ...]]] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)      # the texts in plain spelling
    squeezed: list[str] = field(default_factory=list)   # those texts without spaces, made when a slip is first looked up
    indexed: int = 0                                     # texts read for bindings and formulas so far

    def add(self, text: str) -> None:
        clean = plain(text)
        first = len(self.sentences)
        for sentence in _SENTENCE.split(clean):
            if not sentence.strip():
                continue
            found = _numbers(sentence)
            if _NEEDS_VALUES.search(sentence):  # what only the numerals reader sees: 1,000 and 3/4
                found |= values(sentence)
            for value in found:
                self.by_value.setdefault(value, set()).add(len(self.sentences))
            self.sentences.append(sentence)
            self.first.append(first)
        self.texts.append(clean)

    def windows_with(self, numbers: set[str]) -> Iterator[tuple[int, int]]:
        """The windows (``start``, ``end``) of at most ``_WINDOW`` sentences of one text that hold
        every number of ``numbers``, found from the sentences of its rarest number (lazily: most
        callers stop at the first)."""
        hits = [self.by_value.get(number) for number in numbers]
        if not all(hits):
            return
        rarest = min(hits, key=len)
        for at in sorted(rarest):
            for start in range(max(self.first[at], at - _WINDOW + 1), at + 1):
                for end in range(at + 1, min(start + _WINDOW, len(self.sentences)) + 1):
                    if self.first[end - 1] == self.first[start] and all(
                            any(k in hit for k in range(start, end)) for hit in hits):
                        yield start, end

    def near(self, numbers: set[str], pattern: re.Pattern[str]) -> bool:
        """Whether ``pattern`` occurs in a window that holds every number of ``numbers``."""
        seen: dict[int, bool] = {}
        for start, end in self.windows_with(numbers):
            for k in range(start, end):
                if k not in seen:
                    seen[k] = pattern.search(self.sentences[k]) is not None
                if seen[k]:
                    return True
        return False

    def writes(self, squeezed: str) -> bool:
        """Whether a source writes ``squeezed`` (spaces aside): the trace's own slip is no new error."""
        self.squeezed.extend(_SPACES.sub("", text) for text in self.texts[len(self.squeezed):])
        return any(squeezed in text for text in self.squeezed)

    def _index(self) -> None:
        """Read the ``name = value`` statements and formulas of the texts added since the last call
        (only a memento that states some needs them, so most texts are never read for them)."""
        for clean in self.texts[self.indexed:]:
            for name, stated in _bindings(clean).items():
                self.bindings.setdefault(name, set()).update(stated)
            for skeleton, stated in _formulas(clean).items():
                self.formulas.setdefault(skeleton, set()).update(stated)
        self.indexed = len(self.texts)


def changed_numbers(memento: str, sources: Sources) -> list[str]:
    """Why numbers of ``memento`` look changed against ``sources`` (empty: nothing found)."""
    clean = plain(memento)
    found: list[str] = []
    for clause in _CLAUSE.split(clean):
        reason = _uncorroborated(clause, sources) or _false_arithmetic(clause, sources)
        if reason:
            found.append(reason)
    statements, formulas = _statements(clean), _formulas(clean)
    if statements or formulas:
        sources._index()
    for name, value in dict.fromkeys(statements):
        known = sources.bindings.get(name, set())
        if len(known) == 1 and value not in known:
            found.append(f"{name} = {value} where the trace has {name} = {_show(known)}")
    for skeleton, stated in formulas.items():
        known = sources.formulas.get(skeleton)
        if known and not stated <= known:
            found.append(f"{_fill(skeleton, sorted(stated - known)[0])} where the trace writes "
                         f"{_fill(skeleton, sorted(known)[0])}")
    return found


def _uncorroborated(clause: str, sources: Sources) -> str | None:
    numbers = _numbers(clause)
    if not numbers:
        return None
    if next(sources.windows_with(numbers), None) is None:
        return f"{clause.strip()!r}: its numbers never appear together in the trace"
    for match in _NUMBER.finditer(clause):
        bound = _BOUND.search(clause[: match.start()])
        if bound is None:
            continue
        name = bound.group(1).lower()
        stem = _stem(name.rstrip("s") if len(name) > 3 else name)
        if not sources.near(numbers, stem):
            return f"{clause.strip()!r}: {match.group(1)} never appears with {name!r} in the trace"
    return None


@functools.lru_cache(maxsize=1024)
def _stem(word: str) -> re.Pattern[str]:
    """``word`` at the start of a word, any case (``radius`` finds "Radius" and "radii" finds "radii")."""
    return re.compile(rf"(?i)(?<![A-Za-z]){re.escape(word)}")


def _false_arithmetic(clause: str, sources: Sources) -> str | None:
    for chain in _chains(clause):
        sides = [s.strip() for s in chain.split("=")]
        for left, right in zip(sides, sides[1:]):
            a, b = _evaluate(left), _evaluate(right)
            if a is None or b is None or (_PLAIN.fullmatch(left) and _PLAIN.fullmatch(right)):
                continue  # not both computed, or two bare numbers ("10 = 3": a label)
            tolerance = max(_rounding(left), _rounding(right)) + 1e-9 * max(abs(a), abs(b), 1)
            slip = _SPACES.sub("", f"{left}={right}")
            if abs(a - b) > tolerance and not sources.writes(slip):
                return f"{left} = {right} does not hold"
    return None


def _chains(clause: str) -> list[str]:
    """The pieces of ``clause`` that hold an ``=`` between relation signs and commas."""
    if "=" not in clause:
        return []
    return [piece for piece in _CHAIN_BREAK.split(clause) if "=" in piece and piece.strip("= \t")]


def _evaluate(side: str) -> float | None:
    """The value of a side made only of numbers and + - * / ^ ( ), else None."""
    if not _PURE.match(side) or not _DIGIT.search(side) or len(side) > 60:
        return None
    try:
        tree = ast.parse(side.replace("^", "**").strip(), mode="eval").body
        return float(_value(tree))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return None


def _value(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 12 or abs(left) > 1e6):
            raise ValueError("power too large to check")
        return _OPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_value(node.operand))
    raise ValueError("not arithmetic")


def _rounding(side: str) -> float:
    """How far a written decimal may be from the exact value: the trace rounds its own steps."""
    side = side.strip()
    if not _PLAIN.fullmatch(side) or "." not in side:
        return 0.0
    return 10 ** -len(side.split(".")[1]) + 0.002 * abs(float(side))


def _bindings(clean: str) -> dict[str, set[str]]:
    """Every value each name is given (see :func:`_statements`)."""
    out: dict[str, set[str]] = {}
    for name, value in _statements(clean):
        out.setdefault(name, set()).add(value)
    return out


def _statements(clean: str) -> list[tuple[str, str]]:
    """``name = number`` statements: the symbolic sides of an = chain that starts or ends on a
    plain number (``h = 2r = 6``, ``72 = ((r+s)/2)*6``), names without spaces or brackets."""
    out: list[tuple[str, str]] = []
    for clause in _CLAUSE.split(clean):
        for chain in _chains(clause):
            if not _DIGIT.search(chain):
                continue  # no number to bind
            for sides in _formula_chains([s.strip().rstrip(".,;:!?").strip() for s in chain.split("=")]):
                ends = [side for side in (sides[-1], sides[0]) if _PLAIN.fullmatch(side)]
                if not ends:
                    continue
                value = ("-" if ends[0].startswith("-") else "") + canonical(ends[0].lstrip("-"))
                for side in sides:
                    name = _NAME_NOISE.sub("", side).lower().strip("-+*/^|_'")  # "- y = 0" is a list item, not -y
                    if re.search(r"[a-z]", name) and len(name) <= _SHORT_NAME:
                        out.append((name, value))
    return out


def _formula_chains(sides: list[str]) -> list[list[str]]:
    """The = chains a run of sides holds: words cut it ("r+s = 2l with l = 12" is two chains),
    and the words before its first side or after its last are not part of it."""
    chains, current = [], [_tail(sides[0])]
    for k in range(1, len(sides)):
        side = sides[k]
        head = _MATH_HEAD.match(side).group(0).strip()
        current.append(head)
        if head != side.strip() and k < len(sides) - 1:  # words cut the chain; the last side starts none
            chains.append(current)
            current = [_tail(side)]
    chains.append(current)
    return [[side for side in chain if side] for chain in chains if sum(bool(side) for side in chain) >= 2]


def _tail(side: str) -> str:
    """The formula a side ends on, else its last word (a named quantity: "the area = 72")."""
    tail = _MATH_TAIL.search(side, max(0, len(side) - _LONGEST_SIDE)).group(0).strip()
    if tail:
        return tail
    word = _LAST_WORD.search(side, max(0, len(side) - 16))
    return word.group(0) if word else ""


def _formulas(clean: str) -> dict[str, set[tuple[str, ...]]]:
    """Formulas with letters and numbers, by skeleton (numbers replaced by ``#``): ``2l`` -> ``#l``."""
    out: dict[str, set[tuple[str, ...]]] = {}
    # one spelling: no spaces around signs ("r - s" is "r-s"), implicit products ("6*sqrt" is "6sqrt")
    tight = _IMPLICIT.sub("", _SPACED_SIGN.sub("", clean))
    for match in _FORMULA.finditer(tight):
        run = match.group(0)
        if "_" in run or "**" in run or not _OPERATOR.search(run) or not _LETTERS.search(run):
            continue  # a name ("3a", "a_40"), emphasis or a plain number, not a formula
        token = _FORMULA_NOISE.sub("", run).strip(".-+/^").lower()
        if not _DIGIT.search(token) or len(token) > 40 or not _OPERATOR.search(token):
            continue
        if any(len(word) > _FORMULA_WORD for word in _LETTERS.findall(token)):
            continue
        out.setdefault(_DIGITS.sub("#", token), set()).add(tuple(_DIGITS.findall(token)))
    return out


def _fill(skeleton: str, numbers: Sequence[str]) -> str:
    parts = iter(numbers)
    return re.sub("#", lambda _: next(parts, "#"), skeleton)


def _show(found: set[str]) -> str:
    return " or ".join(sorted(found)[:3])
