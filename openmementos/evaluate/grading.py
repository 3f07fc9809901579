"""Is an extracted answer the gold one? ``math-verify`` when installed, else sympy, else strings.

Every route first compares normalised strings (MATH-style: ``\\dfrac`` is ``\\frac``, ``\\left``,
units of degrees and percent, ``x =`` prefixes and spaces go), so the common exact case costs
nothing. The sympy route turns a small LaTeX subset (fractions, roots, powers, pi, tuples) into
expressions through a character and name whitelist, because sympy's parser evaluates Python and
the text comes from a model.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass

BACKENDS = ("auto", "math_verify", "sympy", "string")


@dataclass(frozen=True, slots=True)
class Grade:
    correct: bool
    method: str       # exact, math_verify, sympy, string, choice, no_answer


def available_backend() -> str:
    """What ``auto`` uses here: math_verify, sympy or string."""
    if importlib.util.find_spec("math_verify") is not None:
        return "math_verify"
    return "sympy" if importlib.util.find_spec("sympy") is not None else "string"


# -- normalisation -----------------------------------------------------------------------------

_TEXT_COMMANDS = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_SPACES = re.compile(r"\\[!,;: ]|\\quad|\\qquad|~")
_VAR_PREFIX = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*(?=\S)")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def _fix_short_commands(s: str) -> str:
    # \frac12 -> \frac{1}{2}, \frac1{x} -> \frac{1}{x}, \sqrt2 -> \sqrt{2}
    s = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac\s*(\d)\s*\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*(\d)", r"\\frac{\1}{\2}", s)
    return re.sub(r"\\sqrt\s*(\d+|[a-zA-Z])", r"\\sqrt{\1}", s)


def normalize(answer: str) -> str:
    r"""A canonical string for exact comparison.

    >>> normalize(r"$x = \dfrac{1}{2}$.") == normalize(r"\frac12")
    True
    >>> normalize(r"\left( 3, \frac{\pi}{2} \right)")
    '(3,\\frac{\\pi}{2})'
    """
    s = answer.strip().replace("\n", " ")
    s = s.replace("$", "").replace("\\(", "").replace("\\)", "").replace("\\[", "").replace("\\]", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\displaystyle", "")
    s = s.replace("\\left", "").replace("\\right", "").replace("\\!", "")
    s = _SPACES.sub(" ", s)
    previous = None
    while previous != s:
        previous, s = s, _TEXT_COMMANDS.sub(r"\1", s)
    s = re.sub(r"\^\s*\{?\\circ\}?", "", s).replace("\\%", "").replace("%", "").replace("\\$", "")
    s = s.replace("\\degree", "").replace("°", "")
    s = _VAR_PREFIX.sub("", s.strip())
    s = s.strip().rstrip(".").strip()
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    s = _fix_short_commands(s)
    s = re.sub(r"^(-?)\.(\d)", r"\g<1>0.\2", s)
    s = re.sub(r"^(-?\d+)/(\d+)$", r"\\frac{\1}{\2}", s)
    return s.replace(" ", "")


# -- sympy -------------------------------------------------------------------------------------

_ALLOWED_NAMES = {"sqrt", "pi", "oo", "log", "ln", "exp", "sin", "cos", "tan", "E", "I"}
_SAFE = re.compile(r"^[A-Za-z0-9_+\-*/().,\s]*$")


def _replace_braced(s: str, command: str, build) -> str:
    """Rewrite ``\\command{a}{b}``-style groups (nested) with ``build(*args)``."""
    from .answers import _braced

    arity = 2 if command == "frac" else 1
    while True:
        at = s.find("\\" + command + "{")
        if at < 0:
            return s
        args, end = [], at + len(command) + 1
        for _ in range(arity):
            if end >= len(s) or s[end] != "{":
                return s
            inner = _braced(s, end)
            if inner is None:
                return s
            args.append(inner)
            end += len(inner) + 2
        s = s[:at] + build(*args) + s[end:]


def latex_to_sympy_text(latex: str) -> str | None:
    """Python-syntax text for a small LaTeX subset, or None when it holds anything else."""
    s = normalize(latex)
    s = re.sub(r"\\sqrt\[([^\]]+)\]\{", r"\\root{\1}{", s)
    s = _replace_braced(s, "frac", lambda a, b: f"(({a})/({b}))")
    s = _replace_braced(s, "root", lambda n, a: f"(({a})**(1/({n})))")
    s = _replace_braced(s, "sqrt", lambda a: f"sqrt({a})")
    s = s.replace("\\pi", "pi").replace("\\infty", "oo").replace("\\cdot", "*").replace("\\times", "*")
    s = s.replace("\\div", "/").replace("\\ln", "log").replace("\\log", "log").replace("\\exp", "exp")
    for fn in ("sin", "cos", "tan"):
        s = s.replace("\\" + fn, fn)
    s = s.replace("{", "(").replace("}", ")").replace("^", "**")
    if "\\" in s or "__" in s or not _SAFE.match(s):
        return None
    names = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", s))
    if any(len(n) > 1 and n not in _ALLOWED_NAMES for n in names):
        return None
    return s


def _split_top(s: str) -> tuple[str, list[str], str]:
    """``(a,b]`` -> ``('(', ['a', 'b'], ']')``; a plain expression -> ``('', [s], '')``."""
    opener, closer = "", ""
    if len(s) >= 2 and s[0] in "([{" and s[-1] in ")]}":
        opener, closer, s = s[0], s[-1], s[1:-1]
    parts, depth, current = [], 0, ""
    for ch in s:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    if len(parts) == 1 and opener:
        return "", [opener + s + closer], ""
    return opener, parts, closer


def _sympy_expr(text: str):
    from sympy.parsing.sympy_parser import (
        convert_xor, implicit_multiplication_application, parse_expr, standard_transformations,
    )

    code = latex_to_sympy_text(text)
    if code is None or not code.strip() or len(code) > 200:
        return None
    transformations = standard_transformations + (implicit_multiplication_application, convert_xor)
    try:
        return parse_expr(code, transformations=transformations, evaluate=True)
    except Exception:        # sympy raises many kinds on malformed input
        return None


def _sympy_same(a: str, b: str) -> bool | None:
    import sympy

    x, y = _sympy_expr(a), _sympy_expr(b)
    if x is None or y is None:
        return None
    try:
        if not x.free_symbols and not y.free_symbols:
            return bool(abs(complex(sympy.N(x - y))) <= 1e-6 * max(1.0, abs(complex(sympy.N(y)))))
        return bool(sympy.simplify(x - y) == 0)
    except Exception:
        return None


def sympy_equal(predicted: str, gold: str) -> bool | None:
    """Equal as sympy expressions (element-wise for tuples and intervals); None when either
    side is outside the supported subset."""
    p_open, p_parts, p_close = _split_top(normalize(predicted))
    g_open, g_parts, g_close = _split_top(normalize(gold))
    if len(p_parts) != len(g_parts):
        return False if len(p_parts) > 1 or len(g_parts) > 1 else None
    if len(g_parts) > 1 and (p_open, p_close) != (g_open, g_close) and "" not in (p_open, g_open):
        return False
    verdicts = [_sympy_same(p, g) for p, g in zip(p_parts, g_parts)]
    if any(v is False for v in verdicts):
        return False
    return None if any(v is None for v in verdicts) else True


def _math_verify_equal(predicted: str, gold: str) -> bool | None:
    from math_verify import parse, verify

    try:
        gold_parsed = parse("\\boxed{" + gold + "}")
        pred_parsed = parse("\\boxed{" + predicted + "}")
        if not gold_parsed or not pred_parsed:
            return None
        return bool(verify(gold_parsed, pred_parsed))
    except Exception:
        return None


# -- grading -----------------------------------------------------------------------------------

def grade_math(predicted: str | None, gold: str, backend: str = "auto") -> Grade:
    """Grade a math answer; ``backend`` is one of :data:`BACKENDS`."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}")
    if predicted is None or not predicted.strip():
        return Grade(False, "no_answer")
    if normalize(predicted) == normalize(gold):
        return Grade(True, "exact")
    backend = available_backend() if backend == "auto" else backend
    if backend == "math_verify":
        verdict = _math_verify_equal(predicted, gold)
        if verdict is not None:
            return Grade(verdict, "math_verify")
        backend = "sympy" if importlib.util.find_spec("sympy") else "string"
    if backend == "sympy":
        verdict = sympy_equal(predicted, gold)
        if verdict is not None:
            return Grade(verdict, "sympy")
    return Grade(False, "string")


def grade_choice(predicted: str | None, gold: str) -> Grade:
    """Grade a multiple-choice letter against a gold letter (``B``, ``(B)`` or ``b``)."""
    if not predicted:
        return Grade(False, "no_answer")
    return Grade(predicted.strip("() ").upper() == gold.strip().strip("() ").upper(), "choice")
