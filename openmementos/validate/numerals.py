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
from fractions import Fraction

# Scanning text with a regex costs ~30 ns a character in Python; mapping bytes with a table and
# splitting costs a fifth of that. Letters stay (so ``x1`` is seen as a name), digits and the
# characters inside numbers stay, every other byte (non-ASCII included) becomes a space.
_KEEP = b"0123456789.,/_" + bytes(range(ord("a"), ord("z") + 1)) + bytes(range(ord("A"), ord("Z") + 1))
_TABLE = bytes(c if c in _KEEP else 0x20 for c in range(256))
_DIGITS = frozenset(b"0123456789")
_NUMBER = re.compile(rb"(\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?)(?:/(\d+(?:\.\d+)?)(?![\d.]))?")
_FRAC = re.compile(r"\\[dt]?frac\s*(?:\{\s*(\d+(?:\.\d+)?)\s*\}\s*\{\s*(\d+(?:\.\d+)?)\s*\}|(\d)(\d))")
# the value a block ends on: what follows its last "=", "is", "\boxed{", "gives", ...
_RESULT = re.compile(
    r"(?:=|\\boxed\{|\bis\b|\bequals\b|\bgives\b|\\approx|≈|\\Rightarrow|⇒|=>|\\implies)\s*\$?(?:\\\(|\\\[)?\s*-?\s*"
    r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?)(?!\w|\.\d)"
)
_TAIL = 1500  # characters: a block's result is near its end


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


def _add(stated: set[str], derived: set[str], top: str, bottom: str | None) -> None:
    stated.add(canonical(top))
    if bottom:
        stated.add(canonical(bottom))
        value = _fraction(top, bottom)
        if value is not None:
            derived.add(value)


def atoms(text: str) -> tuple[set[str], set[str]]:
    """``(stated, derived)``: canonical values written in ``text``, and the values of its fractions."""
    stated: set[str] = set()
    derived: set[str] = set()
    data = text.encode("utf-8", "replace")
    for token in data.translate(_TABLE).split():
        if token[0] not in _DIGITS:
            continue  # a word, a name like x1, or ".5" glued to something
        token = token.rstrip(b".,/")  # sentence punctuation after a number
        pieces = [token] if b"," not in token or _NUMBER.fullmatch(token) else token.split(b",")
        for piece in pieces:
            match = _NUMBER.match(piece)
            if match:
                top, bottom = match.groups()
                _add(stated, derived, top.decode(), bottom.decode() if bottom else None)
    if b"frac" in data:
        for top, bottom, top1, bottom1 in _FRAC.findall(text):
            _add(stated, derived, top or top1, bottom or bottom1)
    return stated, derived


def values(text: str) -> set[str]:
    """Canonical values of every number and numeric fraction in ``text``."""
    stated, derived = atoms(text)
    return stated | derived


def trivial(value: str) -> bool:
    """Single digits are everywhere (step numbers, small coefficients): no evidence either way."""
    return len(value) == 1


def final_value(text: str) -> str | None:
    """The last non-trivial value a result sign introduces in ``text`` (``= 504``, ``is 12``)."""
    for part in (text[-_TAIL:], text[:-_TAIL]) if len(text) > _TAIL else (text,):
        for number in reversed(_RESULT.findall(part)):
            value = canonical(number)
            if not trivial(value):
                return value
    return None
