"""Numbers and numeric expressions of a text, compared by value.

The faithfulness checks compare what a memento states with what its block (and the rest of the
trace) states. Both sides are reduced to canonical value strings, so ``1,000`` equals ``1000``,
``0.50`` equals ``0.5``, and ``\\frac{3}{4}``, ``\\dfrac34`` and ``3/4`` equal ``0.75``:

>>> sorted(values("1,000 items at 0.50 each; \\\\frac{3}{4} of them, i.e. 3/4"))
['0.5', '0.75', '1000', '3', '4']
>>> sorted(values("x_1 + a2 = 12\\\\sqrt{3}"))
['12', '3']

Digits glued to a letter or underscore (``x1``, ``a_2``) are names, not numbers. A fraction
counts as its numerator, its denominator and its value.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction

# Scanning text with a regex costs ~30 ns a character in Python; mapping bytes with a table and
# splitting costs a fifth of that. Every letter becomes "a" (so ``x1`` is still a name, and the
# words of a text collapse into a few distinct tokens), digits and the characters inside numbers
# stay, every other byte (non-ASCII included) becomes a space.
_LETTERS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_TABLE = bytes(ord("a") if c in _LETTERS else c if c in b"0123456789.,/" else 0x20 for c in range(256))
_DIGITS = frozenset(b"0123456789")
# tokens that are words (now runs of "a"), maybe with a full stop or comma: dropped in one set difference
_WORDS = frozenset(b"a" * n + end for n in range(1, 48) for end in (b"", b".", b",", b"..", b"..."))
# within one token: digits glued after a letter, "_" or "." are not a number (x1, a_2, .5)
_NUMBER = re.compile(rb"(?<![a.\d])(\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?)(?:/(\d+(?:\.\d+)?)(?![\d.]))?")
_FRAC = re.compile(r"\\[dt]?frac\s*(?:\{\s*(\d+(?:\.\d+)?)\s*\}\s*\{\s*(\d+(?:\.\d+)?)\s*\}|(\d)(\d))")
# the value a block ends on: the number after its last "=", "is", "\\boxed{", "gives", ...
_MARKERS = ("=", "=>", "\\boxed{", " is ", " equals ", " gives ", "\\approx", "≈", "\\Rightarrow", "⇒", "\\implies")
_AFTER = re.compile(r"\s*\$?(?:\\\(|\\\[)?\s*-?\s*(\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?)(?!\w|\.\d)")


@functools.lru_cache(maxsize=65536)
def canonical(number: str) -> str:
    """``'1,000'`` -> ``'1000'``, ``'0.50'`` -> ``'0.5'``, ``'007'`` -> ``'7'``, ``'2.0'`` -> ``'2'``."""
    if "," in number:
        number = number.replace(",", "")
    if "." in number:
        number = number.rstrip("0").rstrip(".")
        whole, _, decimals = number.partition(".")
        whole = whole.lstrip("0") or "0"
        return f"{whole}.{decimals}" if decimals else whole
    return number.lstrip("0") or "0"


@functools.lru_cache(maxsize=65536)
def _fraction(top: str, bottom: str) -> str | None:
    try:
        value = Fraction(canonical(top)) / Fraction(canonical(bottom))
    except (ZeroDivisionError, ValueError):
        return None
    if value.denominator == 1:
        return str(value.numerator)
    rest = value.denominator
    for prime in (2, 5):
        while rest % prime == 0:
            rest //= prime
    if rest == 1:  # a terminating decimal: 3/4 -> 0.75, so it meets "0.75" written out
        return canonical(format(value.numerator / value.denominator, ".12f"))
    return f"{value.numerator}/{value.denominator}"


_CACHE: dict[bytes, tuple[tuple[str, ...], tuple[str, ...]]] = {}
_CACHE_MAX = 50_000  # tokens remembered (numbers repeat across records); bounded so memory stays flat


def _token(token: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(stated, derived)`` values of one token: ``12``, ``1,000``, ``3/4``, ``2K/24``, ``1,2,3``."""
    token = token.rstrip(b".,/")  # sentence punctuation after a number
    stated: list[str] = []
    derived: list[str] = []
    pieces = [token] if b"," not in token or _NUMBER.fullmatch(token) else token.split(b",")
    for piece in pieces:
        for top, bottom in _NUMBER.findall(piece):
            stated.append(canonical(top.decode()))
            if bottom:
                stated.append(canonical(bottom.decode()))
                value = _fraction(top.decode(), bottom.decode())
                if value is not None:
                    derived.append(value)
    return tuple(stated), tuple(derived)


def atoms(text: str) -> tuple[set[str], set[str]]:
    """``(stated, derived)``: canonical values written in ``text``, and the values of its fractions."""
    stated: set[str] = set()
    derived: set[str] = set()
    data = text.encode("utf-8", "surrogatepass")
    for token in set(data.translate(_TABLE).split()) - _WORDS:  # each distinct token once
        if token[0] not in _DIGITS and b"/" not in token:
            continue  # a word or a name like x1 (N/63 still holds a number)
        found = _CACHE.get(token)
        if found is None:
            found = _token(token)
            if len(_CACHE) < _CACHE_MAX:
                _CACHE[token] = found
        stated.update(found[0])
        if found[1]:
            derived.update(found[1])
    if b"frac" in data:
        for top, bottom, top1, bottom1 in _FRAC.findall(text):
            top, bottom = top or top1, bottom or bottom1
            stated.add(canonical(top))
            stated.add(canonical(bottom))
            value = _fraction(top, bottom)
            if value is not None:
                derived.add(value)
    return stated, derived


def values(text: str) -> set[str]:
    """Canonical values of every number and numeric fraction in ``text``."""
    stated, derived = atoms(text)
    return stated | derived


@dataclass(frozen=True, slots=True)
class Recall:
    """How many of a block's new values a memento states (see :func:`number_recall`)."""

    score: float
    wanted: frozenset[str]      # the block's non-trivial values the context does not already hold
    kept: frozenset[str]        # those the memento states
    final: str | None           # the block's final value, unless the context already holds it
    final_kept: bool


def number_recall(block: set[str], memento: set[str], final: str | None, context: set[str]) -> Recall:
    """The share of the block's new values that the memento states, the final value counting twice.

    ``context`` is what the reader already has (the problem, earlier mementos): values found
    there are not news, so a memento need not repeat them.

    >>> number_recall({"12", "24", "504"}, {"504"}, "504", {"12"}).score
    0.6666666666666666
    """
    wanted = frozenset(v for v in block if not trivial(v) and v not in context)
    if final is not None and final in context:
        final = None
    kept = wanted & memento
    final_kept = final is None or final in memento
    total = len(wanted) + (final is not None)
    score = (len(kept) + (final is not None and final_kept)) / total if total else 1.0
    return Recall(score, wanted, frozenset(kept), final, final_kept)


def trivial(value: str) -> bool:
    """Single digits are everywhere (step numbers, small coefficients): no evidence either way."""
    return len(value) == 1


def final_value(text: str, *, trivial_too: bool = False) -> str | None:
    """The last non-trivial value a result sign introduces in ``text`` (``= 504``, ``is 12``);
    with ``trivial_too``, single digits count as well.

    >>> final_value("so r + s = 24, and the answer is 504. Check: x = 2.")
    '504'
    """
    best: tuple[int, str] | None = None
    for marker in _MARKERS:
        end = len(text)
        while True:
            at = text.rfind(marker, 0, end)
            if at < 0 or (best is not None and at <= best[0]):
                break
            match = _AFTER.match(text, at + len(marker))
            if match:
                value = canonical(match.group(1))
                if trivial_too or not trivial(value):
                    best = (at, value)
                    break
            end = at
    return best[1] if best else None
