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

import re
from fractions import Fraction

_ATOM = re.compile(
    r"\\[dt]?frac\s*\{\s*(\d+(?:\.\d+)?)\s*\}\s*\{\s*(\d+(?:\.\d+)?)\s*\}"   # \frac{a}{b}
    r"|\\[dt]?frac\s*(\d)(\d)"                                               # \frac34
    r"|(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?)"       # 1,000 / 12 / 0.50
    r"(?:\s*/\s*(\d+(?:\.\d+)?)(?!\w|\.\d))?"                                # ... / 4
)
# the value a block ends on: what follows its last "=", "is", "\boxed{", "gives", ...
_RESULT = re.compile(
    r"(?:=|\\boxed\{|\bis\b|\bequals\b|\bgives\b|\\approx|≈|\\Rightarrow|⇒|=>|\\implies)\s*\$?(?:\\\(|\\\[)?\s*-?\s*"
    r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?)(?!\w|\.\d)"
)


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


def atoms(text: str) -> tuple[set[str], set[str]]:
    """``(stated, derived)``: canonical values written in ``text``, and the values of its fractions."""
    stated: set[str] = set()
    derived: set[str] = set()
    if not any(c.isdigit() for c in text):
        return stated, derived
    for top, bottom, top1, bottom1, number, over in _ATOM.findall(text):
        if number:
            stated.add(canonical(number))
            if over:
                top, bottom = number, over
        elif top1:
            top, bottom = top1, bottom1
        if top:
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


def trivial(value: str) -> bool:
    """Single digits are everywhere (step numbers, small coefficients): no evidence either way."""
    return len(value) == 1


def final_value(text: str) -> str | None:
    """The last non-trivial value a result sign introduces in ``text`` (``= 504``, ``is 12``)."""
    for number in reversed(_RESULT.findall(text)):
        value = canonical(number)
        if not trivial(value):
            return value
    return None
