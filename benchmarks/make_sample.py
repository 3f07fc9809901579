#!/usr/bin/env python3
"""Generate the bundled sample of reasoning traces (``openmementos/data/sample.jsonl``).

We write these traces ourselves. Parameterised problem families compute every number that
appears in a trace and compose it into QwQ/R1-style thinking: restating the problem, a plan, the
work, a wrong turn and its correction ("Wait, ..."), a verification and an alternative method.
A handful of fully hand-written traces add variety. Standard library only, deterministic for a
given seed; each row follows the OpenThoughts3-1.2M schema
(``difficulty``, ``source``, ``domain``, ``conversations``).

    python benchmarks/make_sample.py                # writes openmementos/data/sample.jsonl
    python benchmarks/make_sample.py --check        # ... and prints a summary table
    python benchmarks/make_sample.py --count 20000 --out /tmp/traces.jsonl   # benchmark corpus

The benchmark corpus uses a different seed from the sample, mixes lengths (a few short traces,
mostly 1-5K tokens, about 3% multi-part traces near 10K tokens) and writes well over 1,000 traces
per second.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import random
import re
import sys
import time
from collections import deque
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PATH = ROOT / "openmementos" / "data" / "sample.jsonl"
SAMPLE_SEED = 20260410
CORPUS_SEED = 7919

# ---------------------------------------------------------------------------------------------
# small text helpers
# ---------------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"<<(\w+)>>")


def T(template: str, **kw) -> str:
    """Fill ``<<name>>`` placeholders (LaTeX braces make str.format awkward)."""
    return _PLACEHOLDER.sub(lambda m: str(kw[m.group(1)]), template)


class Ctx:
    """The random source and how much optional material a trace should carry."""

    __slots__ = ("rng", "extra")

    def __init__(self, rng: random.Random, extra: int = 1) -> None:
        self.rng = rng
        self.extra = extra  # 0: lean, 1: normal, 2: thorough, 3: very thorough

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def randint(self, a: int, b: int) -> int:
        return self.rng.randint(a, b)


def tf(x) -> str:
    """A rational number as LaTeX."""
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    sign = "-" if x < 0 else ""
    return f"{sign}\\frac{{{abs(x.numerator)}}}{{{x.denominator}}}"


def pf(x) -> str:
    """A rational number as plain text."""
    x = Fraction(x)
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def par(x) -> str:
    """LaTeX for x, in parentheses when negative."""
    s = tf(x)
    return f"({s})" if Fraction(x) < 0 else s


def sg(x) -> str:
    """x as a signed term to append: '+ 3', '- \\frac{1}{2}'."""
    x = Fraction(x)
    return f"- {tf(-x)}" if x < 0 else f"+ {tf(x)}"


def sci(x: float, n: int = 3) -> str:
    mant, exp = f"{x:.{n - 1}e}".split("e")
    return f"{mant} \\times 10^{{{int(exp)}}}"


def sig(x: float, n: int = 3) -> str:
    """x to n significant figures, scientific notation (LaTeX) when very large or small."""
    if x == 0:
        return "0"
    e = math.floor(math.log10(abs(x)))
    if e >= 6 or e <= -4:
        return sci(x, n)
    d = max(n - 1 - e, 0)
    return f"{x:.{d}f}"


def fx(x: float, d: int = 4) -> str:
    s = f"{x:.{d}f}"
    return "0." + "0" * d if s == "-0." + "0" * d else s


def poly_tex(a: int, b: int, c: int, var: str = "x") -> str:
    terms: list[str] = []
    for coef, power in ((a, 2), (b, 1), (c, 0)):
        if coef == 0:
            continue
        mono = f"{var}^2" if power == 2 else (var if power == 1 else "")
        mag = abs(coef)
        body = (str(mag) if (mag != 1 or power == 0) else "") + mono
        if not terms:
            terms.append(("-" if coef < 0 else "") + body)
        else:
            terms.append(("- " if coef < 0 else "+ ") + body)
    return " ".join(terms)


def say_mul(a: int, b: int) -> str:
    """R1-style mental multiplication of two positive integers, e.g. '37 * 24 = 740 + 148 = 888'."""
    if a < b:
        a, b = b, a
    if b < 10 or b % 10 == 0 or a * b < 200:
        return f"{a} * {b} = {a * b}"
    hi, lo = (b // 10) * 10, b % 10
    return f"{a} * {b} = {a} * {hi} + {a} * {lo} = {a * hi} + {a * lo} = {a * b}"


def say_running(nums) -> str:
    """'3 + 6 = 9, 9 + 12 = 21, ...' running totals."""
    total = nums[0]
    parts = []
    for x in nums[1:]:
        parts.append(f"{total} {'-' if x < 0 else '+'} {abs(x)} = {total + x}")
        total += x
    return ", ".join(parts)


def join_words(items) -> str:
    items = [str(i) for i in items]
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 seat', '3 seats' (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# ---------------------------------------------------------------------------------------------
# phrase banks shared by the families
# ---------------------------------------------------------------------------------------------

OPENERS = [
    "Okay, so I need to <<task>>.",
    "Alright, let's see. I need to <<task>>.",
    "Okay, let me try to figure this out. The problem asks me to <<task>>.",
    "Hmm, let's see. I have to <<task>>.",
    "Okay, so the question wants me to <<task>>.",
    "Let me start by making sure I understand the problem. I need to <<task>>.",
    "Okay, let's tackle this. The goal is to <<task>>.",
]
PART_OPENERS = [
    "Now part (<<label>>): I need to <<task>>.",
    "Moving on to part (<<label>>). Here I have to <<task>>.",
    "Okay, part (<<label>>) is next. It asks me to <<task>>.",
    "Next, part (<<label>>). The task is to <<task>>.",
]
# A phrase that ends in MARK has the case of the next letter fixed when the trace is rendered:
# lower after ", " or ": ", upper after ". " (so templates need not know which phrase was drawn).
MARK = "\x1f"
WAIT = ["Wait, \x1f", "Wait, hold on. \x1f", "Hmm, wait. \x1f", "Hold on, \x1f", "Wait a second. \x1f",
        "Hmm, hold on. \x1f", "Wait, no. \x1f"]
CHECK = [
    "Let me check this.",
    "Let me verify that.",
    "Let me double-check before going on.",
    "Let me make sure that's right.",
    "Let me sanity check this.",
    "Before I trust that, let me verify it.",
]
ALSO = [
    "Alternatively, \x1f",
    "Another way to see this: \x1f",
    "Let me also try a different approach to confirm. \x1f",
    "Just to be thorough, let me get the same result another way. \x1f",
    "To be safe, let me redo this with a different method. \x1f",
]
_PROPER = {"I", "I'm", "I'll", "I've", "I'd", "Vieta's", "Heron's", "Euler's", "Fermat's", "Python",
           "Python's", "Kadane's", "BFS", "DP", "Newton's", "Cramer's", "Ohm's", "Kirchhoff's",
           "Lineweaver-Burk", "Michaelis-Menten", "Avogadro's", "Boyle's", "Charles's", "Bezout's"}
_MARKED = re.compile(r"([,:.]) \x1f(\S+)")


def _fix_case(m: re.Match) -> str:
    punct, word = m.group(1), m.group(2)
    if punct == ".":
        word = word[:1].upper() + word[1:]
    elif word not in _PROPER and not word.startswith("\\") and word[:1].isupper():
        word = word[:1].lower() + word[1:]
    return f"{punct} {word}"


def finalize(text: str) -> str:
    return _MARKED.sub(_fix_case, text) if MARK in text else text
CLOSERS = [
    "So I'm confident the answer is <<ans>>.",
    "Both approaches agree, so the answer is <<ans>>.",
    "Okay, everything checks out. The answer is <<ans>>.",
    "So the final answer should be <<ans>>.",
    "Everything is consistent, so I'll go with <<ans>>.",
]
REREAD = [
    "Let me re-read the question to make sure I'm answering what was asked.",
    "Let me go back to the problem statement once more to be sure I answered the right question.",
    "Before writing this up, let me re-read the problem.",
]


def trace(domain, family, task, problem, paras, answer, difficulty):
    return {
        "domain": domain,
        "family": family,
        "task": task,
        "problem": problem,
        "paras": [p for p in paras if p],
        "answer": answer,
        "difficulty": max(1, min(10, int(difficulty))),
    }


SUMMARY_INTROS = [
    "So, to summarize the solution:",
    "Let me put the whole argument together:",
    "Summarizing the steps:",
    "Okay, so the full solution is:",
    "Let me recap before writing the final answer:",
]


RECHECK_INTROS = [
    "Let me redo the key arithmetic once more, slowly, since that's where mistakes hide:",
    "Before finalizing, let me recheck each computation line by line:",
    "I'll go over the arithmetic again to rule out a slip:",
    "One more pass over the numbers, just to be safe:",
]
RECHECK_OUTROS = ["All of those check out.", "Everything matches.", "No slips there.", "Good, all consistent."]


def recheck(c: Ctx, facts) -> str:
    """A line-by-line arithmetic recheck; ``facts`` are already-true statements like '37 * 24 = 888'."""
    return "\n".join([c.pick(RECHECK_INTROS)] + [f"- {f}" for f in facts] + [c.pick(RECHECK_OUTROS)])


def summary(c: Ctx, steps) -> str:
    """A numbered recap paragraph, the way R1 traces often end their thinking."""
    lines = [c.pick(SUMMARY_INTROS)]
    lines += [f"{i}. {step}" for i, step in enumerate(steps, 1)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# math families
# ---------------------------------------------------------------------------------------------


def _quad_vieta(c: Ctx):
    while True:
        a = c.pick([1, 1, 1, 2, 3])
        b = c.randint(-9, 9)
        k = c.randint(-12, 12)
        D = b * b - 4 * a * k
        if b and k and D > 0 and math.gcd(math.gcd(a, abs(b)), abs(k)) == 1:
            break
    S, P = Fraction(-b, a), Fraction(k, a)
    Sw = -S
    p2 = S * S - 2 * P
    p3 = S**3 - 3 * P * S
    sq = math.isqrt(D)
    perfect = sq * sq == D
    r1 = (-b + math.sqrt(D)) / (2 * a)
    r2 = (-b - math.sqrt(D)) / (2 * a)
    poly = poly_tex(a, b, k)
    kw = dict(poly=poly, a=a, b=b, k=k, D=D, S=tf(S), P=tf(P), Sw=tf(Sw), pS=par(S), pP=par(P),
              pSw=par(Sw), p2=tf(p2), p3=tf(p3), p3w=tf(-p3), S2=tf(S * S), m2P=sg(-2 * P),
              Sw3=tf(Sw**3), m3PSw=sg(-3 * P * Sw), S3=tf(S**3), m3PS=sg(-3 * P * S),
              pb=par(b), negb=-b, twoa=2 * a, sqrtD=fx(math.sqrt(D)), r1=fx(r1), r2=fx(r2),
              sum=fx(r1 + r2), r1c=fx(r1**3), r2c=fx(r2**3), sumc=fx(r1**3 + r2**3),
              r1s=fx(r1**2), r2s=fx(r2**2), sums=fx(r1**2 + r2**2), p3dec=fx(float(p3)),
              p2dec=fx(float(p2)), four_ak=4 * a * k, b2=b * b, m4ak=sg(-4 * a * k), pk=par(k))
    paras = []
    if perfect:
        paras.append(T(r"""The equation is \(<<poly>> = 0\). The discriminant is \(<<pb>>^2 - 4 \cdot <<a>> \cdot <<pk>> = <<b2>> <<m4ak>> = <<D>>\), which happens to be a perfect square, so the roots are rational and I could just compute them. But the question is about symmetric expressions in the roots, and Vieta's formulas handle those directly without ever finding the roots. Let me do it that way and then use the actual roots as a check.""", **kw))
    else:
        paras.append(T(r"""The equation is \(<<poly>> = 0\), with roots \(\alpha\) and \(\beta\). I could find the roots explicitly with the quadratic formula, but the discriminant is \(<<pb>>^2 - 4 \cdot <<a>> \cdot <<pk>> = <<b2>> <<m4ak>> = <<D>>\), which is not a perfect square, so the roots involve \(\sqrt{<<D>>}\). Cubing expressions like that by hand is messy and error-prone. Both \(\alpha^2+\beta^2\) and \(\alpha^3+\beta^3\) are symmetric in the roots, though, so they can be written in terms of \(\alpha+\beta\) and \(\alpha\beta\), and those come straight from Vieta's formulas.""", **kw))
    paras.append(T(r"""Vieta's formulas: for \(ax^2 + bx + c = 0\), the sum of the roots is \(\frac{b}{a}\) and the product is \(\frac{c}{a}\). Here \(a = <<a>>\), \(b = <<b>>\), \(c = <<k>>\), so \(\alpha + \beta = <<Sw>>\) and \(\alpha\beta = <<P>>\).""", **kw))
    paras.append(T(r"""First, \(\alpha^2 + \beta^2\). Since \((\alpha+\beta)^2 = \alpha^2 + 2\alpha\beta + \beta^2\), I get
\[
\alpha^2 + \beta^2 = (\alpha+\beta)^2 - 2\alpha\beta = <<pSw>>^2 - 2 \cdot <<pP>> = <<S2>> <<m2P>> = <<p2>>.
\]""", **kw))
    paras.append(T(r"""Now the cubes. The identity I want is \(\alpha^3 + \beta^3 = (\alpha+\beta)^3 - 3\alpha\beta(\alpha+\beta)\). Let me make sure I remember it correctly by expanding: \((\alpha+\beta)^3 = \alpha^3 + 3\alpha^2\beta + 3\alpha\beta^2 + \beta^3 = \alpha^3 + \beta^3 + 3\alpha\beta(\alpha+\beta)\). Yes, so subtracting \(3\alpha\beta(\alpha+\beta)\) leaves exactly \(\alpha^3+\beta^3\). Another form is \((\alpha+\beta)(\alpha^2 - \alpha\beta + \beta^2)\), which is the sum-of-cubes factorization; both should give the same thing.""", **kw))
    paras.append(T(r"""Plugging in:
\[
\alpha^3 + \beta^3 = <<pSw>>^3 - 3 \cdot <<pP>> \cdot <<pSw>> = <<Sw3>> <<m3PSw>> = <<p3w>>.
\]
So \(\alpha^3+\beta^3 = <<p3w>>\)? <<check>>""", check=c.pick(CHECK), **kw))
    paras.append(T(r"""The roots from the quadratic formula are
\[
x = \frac{<<negb>> \pm \sqrt{<<D>>}}{<<twoa>>}.
\]
With \(\sqrt{<<D>>} \approx <<sqrtD>>\), that gives \(\alpha \approx <<r1>>\) and \(\beta \approx <<r2>>\). Their sum is about \(<<sum>>\).""", **kw))
    paras.append(T(r"""<<wait>>that's \(<<S>>\), not \(<<Sw>>\). The sign is off. Let me redo Vieta carefully instead of from memory: \(a(x-\alpha)(x-\beta) = ax^2 - a(\alpha+\beta)x + a\alpha\beta\). Matching coefficients with \(ax^2 + bx + c\) gives \(-a(\alpha+\beta) = b\), so \(\alpha + \beta = -\frac{b}{a}\), and \(a\alpha\beta = c\), so \(\alpha\beta = \frac{c}{a}\). I dropped the minus sign on the sum. The correct values are \(\alpha+\beta = <<S>>\) and \(\alpha\beta = <<P>>\).""", wait=c.pick(WAIT), **kw))
    paras.append(T(r"""Does the mistake affect \(\alpha^2 + \beta^2\)? No: that expression only depends on \((\alpha+\beta)^2\), and squaring removes the sign. So \(\alpha^2+\beta^2 = <<p2>>\) still stands. The cube expression is odd in \(\alpha+\beta\), though: both \((\alpha+\beta)^3\) and \(3\alpha\beta(\alpha+\beta)\) flip sign when the sum does. Redoing it:
\[
\alpha^3 + \beta^3 = <<pS>>^3 - 3 \cdot <<pP>> \cdot <<pS>> = <<S3>> <<m3PS>> = <<p3>>.
\]
So my first value had exactly the wrong sign, which is consistent with what the error should do.""", **kw))
    paras.append(T(r"""Numerical check with the approximate roots: \(\alpha^2 \approx <<r1s>>\) and \(\beta^2 \approx <<r2s>>\), which add to about \(<<sums>>\); compare \(<<p2>> = <<p2dec>>\). Good. Cubes: \(\alpha^3 \approx <<r1c>>\) and \(\beta^3 \approx <<r2c>>\), sum about \(<<sumc>>\); compare \(<<p3>> = <<p3dec>>\). That matches to the precision I'm carrying.""", **kw))
    p4 = S * p3 - P * p2
    kw.update(p4=tf(p4), Sp2=tf(S * S), mP2=sg(-P * 2), Sp3=tf(S * p2), mPS=sg(-P * S),
              Sp4=tf(S * p3), mPp2=sg(-P * p2), pp2=par(p2), pp3=par(p3),
              p4dec=fx(r1**4 + r2**4))
    paras.append(T(r"""<<alt>>There is a recurrence for power sums. Let \(p_n = \alpha^n + \beta^n\). Dividing the equation by \(a\), each root satisfies \(x^2 = <<S>>x - <<pP>>\), i.e. \(x^2 = (\alpha+\beta)x - \alpha\beta\). Multiplying by \(x^{n-2}\) and adding the two versions (one for each root) gives
\[
p_n = (\alpha+\beta)p_{n-1} - \alpha\beta\, p_{n-2}, \qquad p_0 = 2,\; p_1 = <<S>>.
\]
Then \(p_2 = <<pS>> \cdot <<pS>> - <<pP>> \cdot 2 = <<Sp2>> <<mP2>> = <<p2>>\), and \(p_3 = <<pS>> \cdot <<pp2>> - <<pP>> \cdot <<pS>> = <<Sp3>> <<mPS>> = <<p3>>\). Same values.""", alt=c.pick(ALSO), **kw))
    if c.extra >= 2:
        paras.append(T(r"""While I have the recurrence set up, one more step is a cheap consistency test: \(p_4 = <<pS>> \cdot <<pp3>> - <<pP>> \cdot <<pp2>> = <<Sp4>> <<mPp2>> = <<p4>>\). Numerically \(\alpha^4 + \beta^4 \approx <<p4dec>>\). Consistent, so the recurrence and the values are right.""", **kw))
    paras.append(summary(c, [
        T(r"""Vieta: \(\alpha+\beta = -b/a = <<S>>\), \(\alpha\beta = c/a = <<P>>\) (watch the sign of the sum).""", **kw),
        T(r"""\(\alpha^2+\beta^2 = (\alpha+\beta)^2 - 2\alpha\beta = <<p2>>\).""", **kw),
        T(r"""\(\alpha^3+\beta^3 = (\alpha+\beta)^3 - 3\alpha\beta(\alpha+\beta) = <<p3>>\), confirmed by the power-sum recurrence and by the numerical roots.""", **kw),
    ]))
    paras.append(T(r"""So \(\alpha^2 + \beta^2 = <<p2>>\) and \(\alpha^3 + \beta^3 = <<p3>>\). The lesson here is the sign in Vieta: the sum of the roots is \(-b/a\).""", **kw))
    problem = T(r"""Let \(\alpha\) and \(\beta\) be the roots of \(<<poly>> = 0\). Find the values of \(\alpha^2 + \beta^2\) and \(\alpha^3 + \beta^3\).""", **kw)
    answer = T(r"""By Vieta's formulas, \(\alpha + \beta = <<S>>\) and \(\alpha\beta = <<P>>\). Then

\[
\alpha^2 + \beta^2 = (\alpha+\beta)^2 - 2\alpha\beta = <<p2>>,
\]
\[
\alpha^3 + \beta^3 = (\alpha+\beta)^3 - 3\alpha\beta(\alpha+\beta) = <<p3>>.
\]

\[
\boxed{\alpha^2+\beta^2 = <<p2>>,\quad \alpha^3+\beta^3 = <<p3>>}
\]""", **kw)
    task = "find \\(\\alpha^2+\\beta^2\\) and \\(\\alpha^3+\\beta^3\\) for the roots of a quadratic"
    return trace("math", "quadratic", task, problem, paras, answer, 3 + (a > 1))


def _quad_difference(c: Ctx):
    while True:
        r = c.randint(-9, 9)
        d = c.randint(1, 9)
        k0 = r * (r + d)
        K = abs(2 * r + d)
        if k0 != 0 and K != 0 and abs(k0) <= 60:
            break
    m1, m2 = Fraction(-d + K, 2), Fraction(-d - K, 2)
    kw = dict(d=d, c0=k0, sc=sg(k0), K=K, K2=K * K, d2=d * d, four_c=4 * k0, pfour_c=par(4 * k0), sfour_c=sg(4 * k0), m4c=sg(-4 * k0),
              r1=tf(Fraction(K + d, 2)), r2=tf(Fraction(K - d, 2)), n1=tf(-Fraction(K + d, 2)),
              n2=tf(-Fraction(K - d, 2)), m1=tf(m1), m2=tf(m2), m1d=tf(m1 + d), m2d=tf(m2 + d),
              k1=tf(2 * m1 + d), k2=tf(2 * m2 + d), pc=par(k0), negd=-d, dd=d)
    if k0 > 0:
        kw["realcond"] = T(r"""Since the constant term is positive, real roots need \(k^2 \ge <<four_c>>\), i.e. \(|k| \ge 2\sqrt{<<c0>>} \approx <<bound>>\). So small values of \(k\) are ruled out from the start; any answer I get should have \(|k|\) at least that big. The value \(k^2 = d^2 + 4c\) that I'm about to derive automatically exceeds \(4c\), so this won't bite, but it's a useful sanity bound.""", bound=fx(2 * math.sqrt(k0), 3), **kw)
    else:
        kw["realcond"] = T(r"""Here the constant term is negative, so \(-4(<<c0>>) > 0\) and the discriminant is positive for every \(k\). The roots are always real, and since their product is negative they always have opposite signs. So the reality condition is free; only the difference condition matters.""", **kw)
    problem = T(r"""Find all real values of \(k\) for which the equation \(x^2 - kx <<sc>> = 0\) has two real roots that differ by exactly \(<<d>>\).""", **kw)
    paras = [
        T(r"""The equation is \(x^2 - kx <<sc>> = 0\). Call the roots \(\alpha\) and \(\beta\), and say \(\alpha \ge \beta\). The condition is \(\alpha - \beta = <<d>>\). For a monic quadratic \(x^2 - kx + c\), Vieta gives \(\alpha + \beta = k\) (here the sign works out nicely because the middle coefficient is already \(-k\)) and \(\alpha\beta = <<c0>>\).""", **kw),
        T(r"""Before the main computation, let me think about which \(k\) even give real roots, since the problem insists on real roots. The discriminant is \(k^2 - 4(<<c0>>)\). <<realcond>>""", **kw),
        T(r"""The difference of the roots is connected to the sum and product through
\[
(\alpha - \beta)^2 = (\alpha+\beta)^2 - 4\alpha\beta.
\]
Let me double check that identity: \((\alpha+\beta)^2 - 4\alpha\beta = \alpha^2 + 2\alpha\beta + \beta^2 - 4\alpha\beta = \alpha^2 - 2\alpha\beta + \beta^2 = (\alpha-\beta)^2\). Yes. It's also just the discriminant: for \(x^2 - kx + c\), \(\Delta = k^2 - 4c\), and the two roots are \(\frac{k \pm \sqrt{\Delta}}{2}\), which differ by \(\sqrt{\Delta}\).""", **kw),
        T(r"""So the condition becomes
\[
k^2 - 4 \cdot <<pc>> = <<d>>^2 \quad\Longrightarrow\quad k^2 = <<d2>> <<sfour_c>> = <<K2>>.
\]
Therefore \(k = \sqrt{<<K2>>} = <<K>>\).""", **kw),
        T(r"""<<check>> With \(k = <<K>>\) the equation is \(x^2 - <<K>>x <<sc>> = 0\). The discriminant is \(<<K2>> <<m4c>> = <<d2>>\), so the roots are \(\frac{<<K>> \pm <<dd>>}{2}\), which are \(<<r1>>\) and \(<<r2>>\). Their difference is \(<<d>>\), their product should be \(<<c0>>\), and their sum should be \(<<K>>\). Good.""", check=c.pick(CHECK), **kw),
        T(r"""<<wait>>\(k^2 = <<K2>>\) has two solutions, and I only took the positive square root. What about \(k = -<<K>>\)? Then the equation is \(x^2 + <<K>>x <<sc>> = 0\), and its roots are the negatives of the previous ones: \(<<n1>>\) and \(<<n2>>\). If \(x\) is a root of \(x^2 - kx + c\), then \(-x\) is a root of \(x^2 + kx + c\), because \((-x)^2 + k(-x) + c = x^2 - kx + c\). Negating both roots doesn't change the distance between them, so the difference is still \(<<d>>\). The problem says 'all real values', so both count.""", wait=c.pick(WAIT), **kw),
        T(r"""And the reality condition: for both values of \(k\) the discriminant is \(k^2 - 4(<<c0>>) = <<d2>> > 0\), so the roots are real and distinct, as they must be to differ by \(<<d>>\).""", **kw),
        T(r"""<<alt>>Let me parametrize the roots directly. Let them be \(m\) and \(m + <<d>>\). Then the product condition gives
\[
m(m + <<d>>) = <<c0>> \quad\Longrightarrow\quad m^2 + <<d>>m <<msc>> = 0.
\]
The discriminant of this is \(<<d2>> <<sfour_c>> = <<K2>>\), so \(m = \frac{<<negd>> \pm <<K>>}{2}\), giving \(m = <<m1>>\) or \(m = <<m2>>\).

- If \(m = <<m1>>\), the roots are \(<<m1>>\) and \(<<m1d>>\), and \(k\) is their sum, \(<<k1>>\).
- If \(m = <<m2>>\), the roots are \(<<m2>>\) and \(<<m2d>>\), and \(k = <<k2>>\).

Same two values, found without the identity, which is reassuring.""", alt=c.pick(ALSO), msc=sg(-k0), **kw),
    ]
    if c.extra >= 2:
        paras.append(T(r"""One more sanity check on the general picture: the roots differ by \(\sqrt{k^2 - 4c}\), which grows with \(|k|\). With \(c = <<c0>>\) fixed, the smallest possible difference occurs when \(k^2\) is as small as allowed. So for each target difference there is exactly one value of \(k^2\), hence exactly two values of \(k\) (opposite signs), unless the target forces \(k = 0\). Here \(k^2 = <<K2>> \neq 0\), so exactly two.""", **kw))
    paras.append(summary(c, [
        T(r"""Vieta: \(\alpha+\beta = k\), \(\alpha\beta = <<c0>>\).""", **kw),
        T(r"""\((\alpha-\beta)^2 = k^2 - 4(<<c0>>) = <<d2>>\), so \(k^2 = <<K2>>\).""", **kw),
        T(r"""Both signs of \(k\) work: \(k = <<K>>\) gives roots \(<<r1>>, <<r2>>\) and \(k = -<<K>>\) gives \(<<n1>>, <<n2>>\).""", **kw),
    ]))
    paras.append(T(r"""<<reread>> It asks for all real \(k\) with real roots differing by exactly \(<<d>>\). That's \(k = <<K>>\) and \(k = -<<K>>\).""", reread=c.pick(REREAD), **kw))
    answer = T(r"""Let the roots be \(\alpha, \beta\). Then \(\alpha + \beta = k\), \(\alpha\beta = <<c0>>\), and
\[
(\alpha-\beta)^2 = (\alpha+\beta)^2 - 4\alpha\beta = k^2 - 4(<<c0>>) = <<d2>>,
\]
so \(k^2 = <<K2>>\). For \(k = <<K>>\) the roots are \(<<r1>>, <<r2>>\); for \(k = -<<K>>\) they are \(<<n1>>, <<n2>>\). Both pairs differ by \(<<d>>\).

\[
\boxed{k = \pm <<K>>}
\]""", **kw)
    task = "find the values of \\(k\\) that make the roots of a quadratic differ by a given amount"
    return trace("math", "quadratic", task, problem, paras, answer, 4)


def _quad_factor(c: Ctx):
    while True:
        p, r = c.randint(1, 5), c.randint(1, 5)
        q, s = c.randint(-9, 9), c.randint(-9, 9)
        if not q or not s or p * r == 1 or Fraction(q, p) == Fraction(s, r):
            continue
        a, b, k = p * r, -(p * s + q * r), q * s
        if b and math.gcd(math.gcd(a, abs(b)), abs(k)) == 1 and a <= 15:
            break
    x1, x2 = Fraction(q, p), Fraction(s, r)
    if x1 < x2:
        x1, x2 = x2, x1
    D = b * b - 4 * a * k
    sq = math.isqrt(D)
    w1, w2 = Fraction(-b + sq, a), Fraction(-b - sq, a)

    def plug(x):
        t1, t2 = a * x * x, b * x
        return T(r"""\(<<a>> \cdot <<px2>> <<t2>> <<tk>> = <<t1>> <<t2>> <<tk>> = <<v>>\)""",
                 a=a, px2=par(x * x), t1=tf(t1), t2=sg(t2), tk=sg(k), v=tf(t1 + t2 + k))

    m1, m2 = -p * s, -q * r  # split of the middle term: m1 + m2 = b, m1 * m2 = a * k
    N = abs(a * k)
    if a * k > 0:
        sign = 1 if b > 0 else -1
        lead = f"Since the product is positive and the sum is {'positive' if b > 0 else 'negative'}, both numbers are {'positive' if b > 0 else 'negative'}."
    else:
        lead = "Since the product is negative, the two numbers have opposite signs."
    rows = []
    for dv in range(1, math.isqrt(N) + 1):
        if N % dv:
            continue
        if a * k > 0:
            u, v = sign * dv, sign * (N // dv)
        else:
            u, v = (dv, -(N // dv)) if b < 0 else (-dv, N // dv)
        hit = u + v == b
        rows.append(f"- {u} and {v}: sum {u + v}" + (". That's the one." if hit else ""))
        if hit:
            m1, m2 = u, v
            break
    pairs = lead + " Going through the factor pairs:\n" + "\n".join(rows)
    tries = []
    for _ in range(12):
        u1, u2 = c.pick([(1, a), (a, 1)] + [(dv, a // dv) for dv in range(2, a) if a % dv == 0])
        v1 = c.pick([dv for dv in range(1, abs(k) + 1) if k % dv == 0]) * c.pick([1, -1])
        v2 = k // v1
        mid = u1 * v2 + u2 * v1
        if mid != b and (u1, v1, u2, v2) not in [t[:4] for t in tries]:
            tries.append((u1, v1, u2, v2, mid))
        if len(tries) == 2:
            break
    lines = [f"- \\(({poly_tex(0, u1, v1)})({poly_tex(0, u2, v2)})\\): the middle term is \\({u1} \\cdot {par(v2)} + {u2} \\cdot {par(v1)} = {mid}\\), not {b}."
             for u1, v1, u2, v2, mid in tries]
    inspect = ("Let me first try to factor by inspection, \\((ux + v)(u'x + v')\\) with \\(uu' = " + str(a) + "\\) and \\(vv' = " + str(k) + "\\). A couple of guesses:\n"
               + "\n".join(lines) + "\nThere are a lot of sign and order combinations to try, so rather than guess, let me just solve it systematically.")
    kw = dict(poly=poly_tex(a, b, k), a=a, b=b, k=k, D=D, sq=sq, pb=par(b), b2=b * b,
              four_ak=4 * a * k, m4ak=sg(-4 * a * k), pk=par(k), negb=-b, twoa=2 * a, x1=tf(x1), x2=tf(x2), w1=tf(w1), w2=tf(w2),
              plug_w1=plug(w1), plug1=plug(x1), plug2=plug(x2), ak=a * k, m1=m1, m2=m2,
              sm1=sg(m1), sm2=sg(m2), S=tf(x1 + x2), P=tf(x1 * x2), negba=tf(Fraction(-b, a)),
              ca=tf(Fraction(k, a)), pairs=pairs, nb_plus=-b + sq, nb_minus=-b - sq, f1=f"({p}x {sg(-q)})",
              f2=f"({r}x {sg(-s)})", g1=tf(Fraction(-b + sq, 2 * a)), g2=tf(Fraction(-b - sq, 2 * a)))
    problem = T(r"""Solve the equation \(<<poly>> = 0\).""", **kw)
    paras = [
        T(r"""It's a quadratic with \(a = <<a>>\), \(b = <<b>>\), \(c = <<k>>\). The leading coefficient isn't 1, so factoring by inspection is a bit harder; let me start with the discriminant to see what kind of roots to expect.""", **kw),
        T(r"""\[
\Delta = b^2 - 4ac = <<pb>>^2 - 4 \cdot <<a>> \cdot <<pk>> = <<b2>> <<m4ak>> = <<D>>.
\]
\(<<D>> = <<sq>>^2\), a perfect square, so the roots are rational and the quadratic factors over the integers.""", **kw),
        inspect,
        T(r"""Quadratic formula: \(x = \frac{-b \pm \sqrt{\Delta}}{a}\), so \(x = \frac{<<negb>> \pm <<sq>>}{<<a>>}\), giving \(x = <<w1>>\) or \(x = <<w2>>\). Let me plug the first one back in: <<plug_w1>>.""", **kw),
        T(r"""<<wait>>that's not zero, so something is off. The quadratic formula is \(x = \frac{-b \pm \sqrt{b^2-4ac}}{2a}\): the denominator is \(2a\), not \(a\). I wrote it from memory too fast. Redo:
\[
x = \frac{<<negb>> \pm <<sq>>}{<<twoa>>}, \qquad x = \frac{<<nb_plus>>}{<<twoa>>} = <<g1>>, \qquad x = \frac{<<nb_minus>>}{<<twoa>>} = <<g2>>.
\]""", wait=c.pick(WAIT), **kw),
        T(r"""Now plug in again. For \(x = <<x1>>\): <<plug1>>. For \(x = <<x2>>\): <<plug2>>. Both are zero, good.""", **kw),
        T(r"""<<alt>>Let me factor it with the ac-method. I need two numbers whose product is \(ac = <<a>> \cdot <<k>> = <<ak>>\) and whose sum is \(b = <<b>>\). <<pairs>>

So the pair is \(<<m1>>\) and \(<<m2>>\): product \(<<ak>>\), sum \(<<b>>\). Split the middle term:
\[
<<a>>x^2 <<sm1>>x <<sm2>>x <<sk>> = 0.
\]
Grouping the first two and last two terms and pulling out common factors gives \(<<f1>><<f2>> = 0\). Let me expand to be sure: the \(x^2\) coefficient is \(<<a>>\), the constant is \(<<k>>\), and the middle coefficient is \(<<b>>\). It matches. So the roots are where each factor vanishes, \(x = <<x1>>\) and \(x = <<x2>>\).""", alt=c.pick(ALSO), sk=sg(k), **kw),
        T(r"""Vieta check: the sum of roots should be \(-b/a = <<negba>>\) and the product \(c/a = <<ca>>\). I have \(<<x1>> + <<px2>> = <<S>>\) and \(<<x1>> \cdot <<px2>> = <<P>>\). Both match.""", px2=par(x2), **kw),
    ]
    if c.extra >= 2:
        paras.append(T(r"""It's worth noting why my first attempt was plausible-looking but wrong: dividing by \(a\) instead of \(2a\) exactly doubles both roots, so I got \(<<w1>>\) and \(<<w2>>\), twice the true roots \(<<g1>>\) and \(<<g2>>\). The sum of those would be \(2 \cdot (-b/a)\), which already fails Vieta. Checking a root by substitution caught it immediately.""", **kw))
    paras.append(summary(c, [
        T(r"""Discriminant \(<<D>> = <<sq>>^2\), so the roots are rational.""", **kw),
        T(r"""Quadratic formula with denominator \(2a = <<twoa>>\): \(x = <<g1>>\) or \(x = <<g2>>\).""", **kw),
        T(r"""Factorization \(<<f1>><<f2>>\) confirms it, and both roots satisfy the equation and Vieta's formulas.""", **kw),
    ]))
    paras.append(T(r"""So the solutions are \(x = <<x1>>\) and \(x = <<x2>>\).""", **kw))
    answer = T(r"""The discriminant is \(<<pb>>^2 - 4(<<a>>)(<<k>>) = <<D>> = <<sq>>^2\), so
\[
x = \frac{<<negb>> \pm <<sq>>}{<<twoa>>}.
\]
Equivalently, \(<<poly>> = <<f1>><<f2>>\).

\[
\boxed{x = <<x1>> \text{ or } x = <<x2>>}
\]""", **kw)
    return trace("math", "quadratic", "solve a quadratic equation", problem, paras, answer, 2 + (a > 4))


def math_quadratic(c: Ctx, variant: str | None = None):
    variant = variant or c.pick(["vieta", "difference", "factor"])
    return {"vieta": _quad_vieta, "difference": _quad_difference, "factor": _quad_factor}[variant](c)


def _arith_multiples(c: Ctx):
    k = c.randint(6, 19)
    L = c.randint(50, 400)
    U = L + c.randint(200, 900)
    if c.chance(0.3):
        L = k * (-(-L // k))  # sometimes an endpoint is itself a multiple
    qL, qU = -(-L // k), U // k
    f, l = k * qL, k * qU
    n = qU - qL + 1
    S = n * (f + l) // 2
    fl = f + l
    if n % 2 == 0:
        sum_line = T(r"""\(n\) is even, so \(\frac{<<n>>}{2} = <<h>>\), and \(S = <<h>> \cdot <<fl>>\). Computing: <<mul>>.""", n=n, h=n // 2, fl=fl, mul=say_mul(n // 2, fl))
    else:
        sum_line = T(r"""\(n\) is odd but \(<<fl>>\) is even, so \(S = <<n>> \cdot \frac{<<fl>>}{2} = <<n>> \cdot <<h>>\). Computing: <<mul>>.""", n=n, h=fl // 2, fl=fl, mul=say_mul(n, fl // 2))
    TU, TL = qU * (qU + 1) // 2, (qL - 1) * qL // 2
    kw = dict(k=k, L=L, U=U, qL=qL, qU=qU, f=f, l=l, n=n, nm1=n - 1, S=S, fl=fl, diff=l - f,
              Lm1=L - 1, qLm1=qL - 1, fk=f - k, lk=l + k, Lr=L % k, Ur=U % k, Ldec=f"{L / k:.3f}",
              Udec=f"{U / k:.3f}", sum_line=sum_line, TU=TU, TL=TL, qU1=qU + 1, Sk=S // k,
              k3=3 * k, k2=2 * k, avg=Fraction(fl, 2), first=join_words([f, f + k, f + 2 * k]),
              last=join_words([l - 2 * k, l - k, l]), mulTU=say_mul(qU, qU + 1),
              mulTL=say_mul(qL - 1, qL) if qL > 1 else f"0 * 1 = 0", kmul=say_mul(k, TU - TL),
              TUL=TU - TL, twoTU=qU * (qU + 1), twoTL=(qL - 1) * qL)
    problem = T(r"""What is the sum of all multiples of <<k>> between <<L>> and <<U>>, inclusive?""", **kw)
    paras = [
        T(r"""The brute-force way would be to list every multiple of <<k>> in the range and add them up, but there are roughly \(\frac{<<U>> - <<L>>}{<<k>>} \approx <<rough>>\) of them, which is a lot of additions to do reliably by hand. There's a better way: consecutive multiples of <<k>> differ by exactly <<k>>, so they form an arithmetic sequence, and the sum of an arithmetic sequence only needs the first term, the last term and the number of terms. Also, "inclusive" means that if <<L>> or <<U>> is itself a multiple of <<k>>, it counts.""", rough=round((U - L) / k), **kw),
        T(r"""The multiples of <<k>> form an arithmetic sequence with common difference <<k>>, so the plan is:
1. Find the first multiple of <<k>> that is at least <<L>>.
2. Find the last multiple of <<k>> that is at most <<U>>.
3. Count how many terms there are.
4. Use the arithmetic series formula \(S = \frac{n}{2}(\text{first} + \text{last})\).""", **kw),
    ]
    if L % k == 0:
        paras.append(T(r"""Step 1. \(<<L>> \div <<k>> = <<qL>>\) exactly, so <<L>> is itself a multiple of <<k>>. Since the range is inclusive, the first term is <<L>> itself.""", **kw))
    else:
        paras.append(T(r"""Step 1. \(<<L>> \div <<k>> \approx <<Ldec>>\), so <<L>> is not a multiple. The multiple just below is \(<<k>> \cdot <<qLm1>> = <<fk>>\), which is less than <<L>>, so it's out. The next one is \(<<k>> \cdot <<qL>> = <<f>>\). So the first term is <<f>>.""", **kw))
    paras.append(T(r"""Step 2. \(<<U>> \div <<k>> \approx <<Udec>>\), so the quotient is <<qU>> (remainder <<Ur>>). \(<<k>> \cdot <<qU>> = <<l>>\), and the next multiple would be \(<<l>> + <<k>> = <<lk>>\), which exceeds <<U>>. So the last term is <<l>>.""", **kw))
    paras.append(T(r"""Step 3. The number of terms: \(\frac{<<l>> - <<f>>}{<<k>>} = \frac{<<diff>>}{<<k>>} = <<nm1>>\). So there are <<nm1>> terms.""", **kw))
    paras.append(T(r"""<<wait>>let me test that counting rule on a tiny case. The multiples of <<k>> from <<k>> to <<k3>> are <<k>>, <<k2>>, <<k3>>: three numbers. But \(\frac{<<k3>> - <<k>>}{<<k>>} = 2\). The difference divided by the step counts the gaps between consecutive terms, not the terms. There's always one more term than gaps, so the right count is \(n = \frac{\text{last} - \text{first}}{\text{step}} + 1 = <<nm1>> + 1 = <<n>>\). Classic fencepost error; good thing I checked before using it.""", wait=c.pick(WAIT), **kw))
    paras.append(T(r"""Let me count a second way to be sure. The number of multiples of <<k>> from 1 up to <<U>> is \(\lfloor <<U>>/<<k>> \rfloor = <<qU>>\). The number of multiples of <<k>> below <<L>>, i.e. up to <<Lm1>>, is \(\lfloor <<Lm1>>/<<k>> \rfloor = <<qLm1>>\). So the count in the range is \(<<qU>> - <<qLm1>> = <<n>>\). Matches.""", **kw))
    paras.append(T(r"""Step 4. First plus last is \(<<f>> + <<l>> = <<fl>>\), so \(S = \frac{<<n>>}{2} \cdot <<fl>>\). <<sum_line>> So \(S = <<S>>\).""", **kw))
    paras.append(T(r"""<<alt>>I can factor out the <<k>>: the terms are \(<<k>> \cdot <<qL>>, <<k>> \cdot (<<qL>>+1), \ldots, <<k>> \cdot <<qU>>\), so
\[
S = <<k>> \,(<<qL>> + \cdots + <<qU>>) = <<k>> \left( \frac{<<qU>> \cdot <<qU1>>}{2} - \frac{<<qLm1>> \cdot <<qL>>}{2} \right).
\]
Here <<mulTU>>, half of which is <<TU>>; and <<mulTL>>, half of which is <<TL>>. The difference is \(<<TU>> - <<TL>> = <<TUL>>\), and then <<kmul>>. Same total, \(<<S>>\).""", alt=c.pick(ALSO), **kw))
    paras.append(T(r"""<<check>> The first few terms are <<first>>, and the last few are <<last>>, all multiples of <<k>> inside the range. The average term is \(\frac{<<fl>>}{2} = <<avg>>\), and \(<<n>>\) terms times that average gives back \(<<S>>\). Also \(S/<<k>> = <<Sk>>\) is an integer, as it must be since every term is a multiple of <<k>>.""", check=c.pick(CHECK), avg=tf(Fraction(fl, 2)), **{k_: v for k_, v in kw.items() if k_ != "avg"}))
    if c.extra >= 2:
        ends = []
        if L % k == 0:
            ends.append(f"{L}")
        if U % k == 0:
            ends.append(f"{U}")
        if ends:
            paras.append(T(r"""One subtlety is the word "inclusive". Here it matters: <<ends>> <<verb>> a multiple of <<k>>, so an exclusive reading would drop <<pron>> and change the sum. The problem says inclusive, so <<pron>> stay<<s_>> in.""", ends=join_words(ends), verb="is" if len(ends) == 1 else "are", pron="it" if len(ends) == 1 else "both", s_="s" if len(ends) == 1 else "", k=k))
        else:
            paras.append(T(r"""One subtlety is the word "inclusive". Neither <<L>> nor <<U>> is a multiple of <<k>>, so inclusive versus exclusive makes no difference here; the answer is the same either way.""", **kw))
    if c.extra >= 2:
        paras.append(recheck(c, [f"{k} * {qL} = {f}", f"{k} * {qU} = {l}", f"({l} - {f}) / {k} = {(l - f) // k}, plus 1 gives {n}",
                                 f"{f} + {l} = {fl}", say_mul(n, fl) + f", half of that is {S}"]))
    if c.extra >= 3:
        paras.append(T(r"""I also want to make sure the whole method is right, not just the arithmetic, so let me run it on a small range I can add by hand: multiples of <<k>> between <<lo>> and <<hi>>. First is <<k2>>, last is <<k5>>, count \(\frac{<<k5>> - <<k2>>}{<<k>>} + 1 = 4\), formula sum \(\frac{4}{2}(<<k2>> + <<k5>>) = <<small>>\). Directly: \(<<k2>> + <<k3>> + <<k4>> + <<k5>> = <<small>>\). The method works.""", lo=k + 1, hi=5 * k + 2, k2=2 * k, k3=3 * k, k4=4 * k, k5=5 * k, small=14 * k, k=k))
    paras.append(summary(c, [
        T(r"""First multiple \(<<f>>\), last multiple \(<<l>>\).""", **kw),
        T(r"""Number of terms \(\frac{<<l>> - <<f>>}{<<k>>} + 1 = <<n>>\) (not <<nm1>>: fencepost).""", **kw),
        T(r"""Sum \(\frac{<<n>>}{2}(<<f>> + <<l>>) = <<S>>\), confirmed by factoring out <<k>>.""", **kw),
    ]))
    answer = T(r"""The multiples of <<k>> in the range run from \(<<f>> = <<k>> \cdot <<qL>>\) to \(<<l>> = <<k>> \cdot <<qU>>\), so there are \(<<qU>> - <<qL>> + 1 = <<n>>\) terms. Their sum is
\[
S = \frac{<<n>>}{2}\,(<<f>> + <<l>>) = <<S>>.
\]

\[
\boxed{<<S>>}
\]""", **kw)
    task = f"add up all the multiples of {k} between {L} and {U}"
    return trace("math", "arithmetic_series", task, problem, paras, answer, 2)


def _arith_terms(c: Ctx):
    while True:
        a1 = c.randint(-20, 30)
        d = c.pick([-7, -5, -4, -3, -2, 2, 3, 4, 5, 6, 7]) if c.chance(0.8) else Fraction(c.pick([1, 3, 5]), 2)
        m = c.randint(2, 9)
        nn = m + c.randint(3, 12)
        N = c.randint(12, 40)
        if N != nn and N != m:
            break
    X, Y = a1 + (m - 1) * d, a1 + (nn - 1) * d
    dw = Fraction(Y - X, nn - m + 1)
    a1w = X - (m - 1) * dw
    aN = a1 + (N - 1) * d
    S = Fraction(N, 2) * (2 * a1 + (N - 1) * d)
    kw = dict(m=m, n=nn, N=N, X=tf(X), Y=tf(Y), d=tf(d), pd=par(d), a1=tf(a1), pa1=par(a1),
              dw=tf(dw), nm=nn - m, nm1=nn - m + 1, YX=tf(Y - X), m1=m - 1, n1=nn - 1, N1=N - 1,
              md=tf((m - 1) * d), aN=tf(aN), S=tf(S), twoa1=tf(2 * a1), Nd=tf((N - 1) * d),
              inner=tf(2 * a1 + (N - 1) * d), half=tf(Fraction(N, 2)), sumaN=tf(a1 + aN),
              a1w=tf(a1w), anw=tf(a1w + (nn - 1) * dw), mth=ordinal(m), nth=ordinal(nn), Nth=ordinal(N))
    if N % 2:
        mid = (N + 1) // 2
        kw.update(midline=T(r"""Since \(N = <<N>>\) is odd, there is a single middle term, the \(<<mid>>\)th: \(a_{<<mid>>} = <<pa1>> + <<mid1>> \cdot <<pd>> = <<amid>>\). Then \(S = <<N>> \cdot <<pamid>> = <<S>>\).""",
                                 N=N, mid=mid, mid1=mid - 1, pa1=par(a1), pd=par(d), amid=tf(a1 + (mid - 1) * d), pamid=par(a1 + (mid - 1) * d), S=tf(S)))
    else:
        h = N // 2
        kw.update(midline=T(r"""Since \(N = <<N>>\) is even, the two middle terms are \(a_{<<h>>} = <<ah>>\) and \(a_{<<h1>>} = <<ah1>>\). Their average is \(<<avg>>\), and \(S = <<N>> \cdot <<pavg>> = <<S>>\).""",
                                 N=N, h=h, h1=h + 1, ah=tf(a1 + (h - 1) * d), ah1=tf(a1 + h * d), avg=tf(a1 + (h - 1) * d + d / 2), pavg=par(a1 + (h - 1) * d + d / 2), S=tf(S)))
    problem = T(r"""In an arithmetic sequence, the <<mth>> term is \(<<X>>\) and the <<nth>> term is \(<<Y>>\). Find the sum of the first <<N>> terms.""", **kw)
    paras = [
        T(r"""I know two terms of the sequence, but neither of them is the first term, and the sum formula needs the first term (or the first and last). A helpful way to picture it: \(a_k\) is a linear function of the index \(k\), so the two given terms are two points \((<<m>>, <<X>>)\) and \((<<n>>, <<Y>>)\) on a line, and the common difference is the slope of that line. Once I have the slope and one point, everything else follows.""", **kw),
        T(r"""For an arithmetic sequence with first term \(a_1\) and common difference \(d\), the \(k\)th term is \(a_k = a_1 + (k-1)d\) and the sum of the first \(N\) terms is \(S_N = \frac{N}{2}\left(2a_1 + (N-1)d\right)\). So I need \(a_1\) and \(d\), and I have two conditions for two unknowns.""", **kw),
        T(r"""From the <<mth>> term: \(a_1 + <<m1>>d = <<X>>\). From the <<nth>> term: \(a_1 + <<n1>>d = <<Y>>\).""", **kw),
        T(r"""To get \(d\) quickly: going from the <<mth>> term to the <<nth>> term, there are \(<<n>> - <<m>> + 1 = <<nm1>>\) terms involved, so the change \(<<Y>> - <<pX>> = <<YX>>\) is spread over <<nm1>> steps, giving \(d = <<dw>>\). Then \(a_1 = <<X>> - <<m1>> \cdot <<pdw>> = <<a1w>>\).""", pX=par(X), pdw=par(dw), **kw),
        T(r"""<<check>> With that \(a_1\) and \(d\), the <<nth>> term would be \(<<a1w>> + <<n1>> \cdot <<pdw>> = <<anw>>\), but it should be \(<<Y>>\). <<wait>>I counted terms instead of steps. From term <<m>> to term <<n>> there are <<nm1>> terms but only \(<<n>> - <<m>> = <<nm>>\) steps of size \(d\). Subtracting the two equations directly avoids that confusion: \((<<n1>> - <<m1>>)d = <<Y>> - <<pX>>\), i.e. \(<<nm>>d = <<YX>>\), so \(d = <<d>>\).""", check=c.pick(CHECK), wait=c.pick(WAIT), pX=par(X), pdw=par(dw), **kw),
        T(r"""Then \(a_1 = <<X>> - <<m1>> \cdot <<pd>> = <<X>> - <<pmd>> = <<a1>>\). Checking both given terms: \(a_<<m>> = <<a1>> + <<m1>> \cdot <<pd>> = <<X>>\) and \(a_{<<n>>} = <<a1>> + <<n1>> \cdot <<pd>> = <<Y>>\). Both correct now.""", pmd=par((m - 1) * d), **kw),
        T(r"""Now the sum:
\[
S_{<<N>>} = \frac{<<N>>}{2}\left(2 \cdot <<pa1>> + <<N1>> \cdot <<pd>>\right) = <<half>>\,(<<twoa1>> <<sNd>>) = <<half>> \cdot <<pinner>> = <<S>>.
\]""", sNd=sg((N - 1) * d), pinner=par(2 * a1 + (N - 1) * d), **kw),
        T(r"""<<alt>>the sum is also \(N\) times the average of the first and last terms. The <<Nth>> term is \(a_{<<N>>} = <<a1>> + <<N1>> \cdot <<pd>> = <<aN>>\). Then \(S = \frac{<<N>>}{2}(<<a1>> + <<paN>>) = <<half>> \cdot <<psumaN>> = <<S>>\). Same.""", alt=c.pick(ALSO), paN=par(aN), psumaN=par(a1 + aN), **kw),
        T(r"""And a third angle, using symmetry: the average of an arithmetic sequence's first \(N\) terms equals the average of its middle term(s). <<midline>> All three agree.""", **kw),
    ]
    if c.extra >= 2:
        terms = [a1 + i * d for i in range(min(N, 6))]
        kw["firstterms"] = ", ".join(tf(t) for t in terms)
        paras.append(T(r"""Let me also write out the first few terms to see the pattern concretely: \(<<firstterms>>, \ldots\). Consecutive differences are all \(<<d>>\), and the <<mth>> term in this list (counting from 1) is \(<<X>>\) as required.""", **kw) if m <= 6 else T(r"""Let me also write out the first few terms to see the pattern concretely: \(<<firstterms>>, \ldots\). Consecutive differences are all \(<<d>>\). Continuing <<nm>> more steps from \(a_<<m>> = <<X>>\) lands on \(<<Y>>\), as required.""", **kw))
    if c.extra >= 2:
        paras.append(recheck(c, [f"{pf(Y)} - ({pf(X)}) = {pf(Y - X)}, and {pf(Y - X)} / {nn - m} = {pf(d)}",
                                 f"{m - 1} * ({pf(d)}) = {pf((m - 1) * d)}, so a_1 = {pf(X)} - ({pf((m - 1) * d)}) = {pf(a1)}",
                                 f"a_{N} = {pf(a1)} + {N - 1} * ({pf(d)}) = {pf(aN)}",
                                 f"{pf(a1)} + ({pf(aN)}) = {pf(a1 + aN)}, times {N}/2 gives {pf(S)}"]))
    if c.extra >= 3:
        seq = [a1 + i * d for i in range(N)]
        flips = [i for i in range(1, N) if (seq[i] > 0) != (seq[i - 1] > 0) or seq[i] == 0]
        if flips:
            j = flips[0]
            paras.append(T(r"""It's also worth checking the sign of the sum against the terms themselves. The terms cross from <<from_>> to <<to>> between \(a_{<<j>>} = <<aj>>\) and \(a_{<<j1>>} = <<aj1>>\), so among the first <<N>> terms, <<npos>> are positive and the rest are not. The positive ones sum to <<spos>> and the others to <<sneg>>; together \(<<spos>> <<ssneg>> = <<S>>\). Consistent with the formula.""",
                           from_="positive" if seq[j - 1] > 0 else "non-positive", to="non-positive" if seq[j - 1] > 0 else "positive", j=j, j1=j + 1,
                           aj=tf(seq[j - 1]), aj1=tf(seq[j]), npos=sum(1 for v in seq if v > 0), spos=tf(sum(v for v in seq if v > 0)),
                           sneg=tf(sum(v for v in seq if v <= 0)), ssneg=sg(sum(v for v in seq if v <= 0)), N=N, S=tf(S)))
        else:
            paras.append(T(r"""It's also worth checking the sign of the sum against the terms: all of the first <<N>> terms are <<sgn>> (from <<a1>> to <<aN>>), so the sum must be <<sgn>> too, and <<S>> is.""",
                           N=N, sgn="positive" if seq[0] > 0 else "negative", a1=tf(a1), aN=tf(aN), S=tf(S)))
        f4 = [a1 + i * d for i in range(4)]
        paras.append(T(r"""As a last check of the formula itself, take \(N = 4\): the first four terms are \(<<t4>>\), which add to \(<<s4>>\), and the formula gives \(\frac{4}{2}(2 \cdot <<pa1>> + 3 \cdot <<pd>>) = 2 \cdot <<pin4>> = <<s4>>\). Good.""", t4=", ".join(tf(t) for t in f4), s4=tf(sum(f4)), pin4=par(2 * a1 + 3 * d), pa1=par(a1), pd=par(d)))
    paras.append(summary(c, [
        T(r"""\(d = \frac{<<YX>>}{<<nm>>} = <<d>>\) (steps, not terms, between the <<mth>> and <<nth>> terms).""", **kw),
        T(r"""\(a_1 = <<a1>>\), and \(a_{<<N>>} = <<aN>>\).""", **kw),
        T(r"""\(S_{<<N>>} = \frac{<<N>>}{2}(a_1 + a_{<<N>>}) = <<S>>\).""", **kw),
    ]))
    answer = T(r"""Subtracting \(a_1 + <<m1>>d = <<X>>\) from \(a_1 + <<n1>>d = <<Y>>\) gives \(<<nm>>d = <<YX>>\), so \(d = <<d>>\) and \(a_1 = <<a1>>\). Then \(a_{<<N>>} = <<aN>>\) and
\[
S_{<<N>>} = \frac{<<N>>}{2}\left(a_1 + a_{<<N>>}\right) = <<S>>.
\]

\[
\boxed{<<S>>}
\]""", **kw)
    task = "find the sum of the first few terms of an arithmetic sequence given two of its terms"
    return trace("math", "arithmetic_series", task, problem, paras, answer, 3)


def math_arithmetic(c: Ctx, variant: str | None = None):
    variant = variant or c.pick(["multiples", "terms"])
    return {"multiples": _arith_multiples, "terms": _arith_terms}[variant](c)


def _geom_finite(c: Ctx):
    a = c.pick([1, 2, 3, 5, 7])
    r = c.pick([2, 2, 3, -2, -3])
    n = c.randint(6, 10) if abs(r) == 2 else c.randint(5, 8)
    terms = [a * r**i for i in range(n)]
    last = terms[-1]
    S = sum(terms)
    Sw = sum(terms[:-1])
    shown = " ".join(
        [str(terms[0])] + [("- " if t < 0 else "+ ") + str(abs(t)) for t in terms[1:3]]
        + [("- " if last < 0 else "+ ") + "\\cdots " + ("- " if last < 0 else "+ ") + str(abs(last))]
    )
    kw = dict(a=a, r=r, pr=par(r), n=n, n1=n - 1, last=last, S=S, Sw=Sw, shown=shown, q=last // a,
              rn=r**n, rn1=r ** (n - 1), prn=par(r**n), r1=r - 1, pr1=par(r - 1), rlast=r * last,
              running=say_running(terms), terms=", ".join(str(t) for t in terms), a_last=last - a,
              lastsign="negative" if last < 0 else "positive", slast=sg(last))
    problem = T(r"""Evaluate the sum \(<<shown>>\), where each term is \(<<r>>\) times the previous one.""", **kw)
    paras = [
        T(r"""First let me make sure it really is geometric: \(<<t1>> / <<t0>> = <<r>>\) and \(<<t2>> / <<pt1>> = <<r>>\). Yes, constant ratio <<r>>. I could add all the terms one at a time, but it's cleaner to use the closed form and then check by direct addition, since there aren't too many terms.""", t0=terms[0], t1=terms[1], pt1=par(terms[1]), t2=terms[2], **kw),
        T(r"""This is a finite geometric series with first term \(a = <<a>>\) and common ratio \(r = <<r>>\). The formula for the sum of the first \(n\) terms is
\[
S_n = a\,\frac{r^n - 1}{r - 1},
\]
so the main job is to figure out how many terms there are.""", **kw),
        T(r"""The last term is \(<<last>>\). Terms have the form \(<<a>> \cdot <<pr>>^j\), so \(<<pr>>^j = <<last>>/<<a>> = <<q>>\), which means \(j = <<n1>>\) (since \(<<pr>>^{<<n1>>} = <<rn1>>\)). So the exponent on the last term is <<n1>>, and I'll say there are <<n1>> terms.""", **kw),
        T(r"""Then \(S = <<a>> \cdot \frac{<<pr>>^{<<n1>>} - 1}{<<pr>> - 1} = <<a>> \cdot \frac{<<rn1>> - 1}{<<r1>>} = <<Sw>>\).""", **kw),
        T(r"""<<check>> The series is short enough to add directly. The terms are <<terms>>. Running total: <<running>>. So the actual sum is \(<<S>>\), not \(<<Sw>>\).""", check=c.pick(CHECK), **kw),
        T(r"""<<wait>>I see the problem. The exponents run from \(0\) (the first term is \(<<a>> \cdot <<pr>>^0\)) up to <<n1>>, so there are \(<<n1>> + 1 = <<n>>\) terms, not <<n1>>. My value \(<<Sw>>\) is the sum of everything except the last term: indeed \(<<Sw>> + <<plast>> = <<S>>\). Another fencepost error, this time with exponents.""", wait=c.pick(WAIT), plast=par(last), **kw),
        T(r"""Redo with \(n = <<n>>\):
\[
S = <<a>> \cdot \frac{<<pr>>^{<<n>>} - 1}{<<pr>> - 1} = <<a>> \cdot \frac{<<rn>> - 1}{<<r1>>} = <<S>>.
\]
Let me double check the arithmetic: \(<<pr>>^{<<n>>} = <<rn>>\), minus 1 is <<rnm1>>, <<divtxt>>times <<a>> is <<S>>.""", rnm1=r**n - 1, divtxt=("" if r == 2 else f"divided by {r - 1} is {(r**n - 1) // (r - 1)}, "), **kw),
        T(r"""<<alt>>the shift-and-subtract trick that proves the formula. Let \(S = <<a>> + <<a>>r + \cdots <<slast>>\). Multiplying by \(r = <<r>>\) shifts every term one place: \(rS = <<a>>r + \cdots <<slast>> \cdot <<pr>>\). Subtracting, everything cancels except the ends:
\[
rS - S = <<last>> \cdot <<pr>> - <<a>> = <<rlast>> - <<a>>, \qquad S = \frac{<<rlast>> - <<a>>}{<<r1>>} = <<S>>.
\]
That's also the handy form \(S = \frac{r \cdot \text{last} - \text{first}}{r - 1}\), which needs no term count at all, and that's exactly why it would have avoided my mistake.""", alt=c.pick(ALSO), **kw),
    ]
    if c.extra >= 2:
        pows = [r**i for i in range(1, n + 1)]
        paras.append(recheck(c, [
            "powers of " + str(r) + ": " + ", ".join(str(x) for x in pows) + f" (each one {r} times the previous), so {r}^{n} = {r**n}",
            f"{r**n} - 1 = {r**n - 1}" + ("" if r == 2 else f", and {r**n - 1} / {r - 1} = {(r**n - 1) // (r - 1)}"),
            say_mul(a, abs((r**n - 1) // (r - 1))) + (f", with sign: {S}" if S < 0 else ""),
            f"last term: {a} * {r}^{n - 1} = {a} * {r**(n - 1)} = {last}",
        ]))
    if r < 0:
        paras.append(T(r"""Since the ratio is negative, the signs alternate, and the sum should have the sign pattern of the largest term in absolute value, which is the last one (<<lastsign>>) and dominates the rest. <<S>> is <<Ssign>>, consistent.""", Ssign="negative" if S < 0 else "positive", **kw))
    elif c.extra >= 2:
        paras.append(T(r"""Sanity check on size: with ratio <<r>>, all the terms before the last add up to \(\frac{\text{last} - a}{r - 1} = \frac{<<last>> - <<a>>}{<<r1>>} = <<earlier>>\), which is exactly the \(<<Sw>>\) I got by mistake earlier. <<sizetxt>>""", earlier=(last - a) // (r - 1), sizetxt=(f"So the total is just under twice the last term: \\(2 \\cdot {last} - {a} = {S}\\)." if r == 2 else f"So the total is the last term plus a bit less than half of it, just under \\(1.5 \\times {last}\\); {S} fits that."), **kw))
    if c.extra >= 3:
        t3 = [a, a * r, a * r * r]
        paras.append(T(r"""Since I already tripped over the term count once, let me test the formula itself on a tiny case I can add by hand: three terms \(<<t0>> <<t1>> <<t2>>\) add to \(<<s3>>\), and the formula with \(n = 3\) gives \(<<a>> \cdot \frac{<<pr>>^3 - 1}{<<r1>>} = <<a>> \cdot \frac{<<r3m1>>}{<<r1>>} = <<s3>>\). So \(n\) really is the number of terms, with exponents \(0\) to \(n-1\).""", t0=t3[0], t1=sg(t3[1]), t2=sg(t3[2]), s3=sum(t3), r3m1=r**3 - 1, a=a, pr=par(r), r1=r - 1))
    paras.append(summary(c, [
        T(r"""Terms are \(<<a>> \cdot <<pr>>^j\) for \(j = 0, \ldots, <<n1>>\), so there are <<n>> terms.""", **kw),
        T(r"""\(S = <<a>> \cdot \frac{<<pr>>^{<<n>>} - 1}{<<r1>>} = <<S>>\), confirmed by direct addition and by \(\frac{r \cdot \text{last} - \text{first}}{r-1}\).""", **kw),
    ]))
    answer = T(r"""The series is geometric with \(a = <<a>>\), \(r = <<r>>\), and the last term is \(<<a>> \cdot <<pr>>^{<<n1>>}\), so it has <<n>> terms:
\[
S = <<a>> \cdot \frac{<<pr>>^{<<n>>} - 1}{<<pr>> - 1} = <<S>>.
\]

\[
\boxed{<<S>>}
\]""", **kw)
    return trace("math", "geometric_series", "evaluate a finite geometric sum", problem, paras, answer, 2)


def _geom_infinite(c: Ctx):
    r = Fraction(*c.pick([(1, 2), (1, 3), (2, 3), (-1, 2), (1, 4), (3, 4), (-1, 3), (2, 5), (3, 5), (-2, 3)]))
    a = Fraction(c.randint(1, 12))
    S = a / (1 - r)
    Tq = a * a / (1 - r * r)
    kw = dict(r=tf(r), a=tf(a), S=tf(S), Tq=tf(Tq), S2=tf(S * S), pS=par(S), TS=tf(Tq / S),
              num=tf(S * S - Tq), den=tf(S * S + Tq), one_r=tf(1 - r), one_pr=tf(1 + r),
              pr=par(r), r2=tf(r * r), a2=tf(a * a), one_r2=tf(1 - r * r))
    partial = []
    tot = Fraction(0)
    for i in range(6):
        tot += a * r**i
        partial.append(fx(float(tot), 4))
    kw["partials"] = ", ".join(partial)
    kw["Sdec"] = fx(float(S), 4)
    kw["Tdec"] = fx(float(Tq), 4)
    tot2, sqp = Fraction(0), []
    for i in range(6):
        tot2 += a * a * r ** (2 * i)
        sqp.append(fx(float(tot2), 4))
    kw["sq_partials"] = ", ".join(sqp)
    kw["sq_terms"] = ", ".join(tf(a * a * r ** (2 * i)) for i in range(3))
    problem = T(r"""An infinite geometric series has sum \(<<S>>\), and the sum of the squares of its terms is \(<<Tq>>\). Find the first term and the common ratio of the series.""", **kw)
    paras = [
        T(r"""Two unknowns (the first term and the ratio) and two pieces of information (the sum and the sum of squares), so I expect to set up two equations and solve. The series is infinite, so for the sum to exist at all the ratio must satisfy \(|r| < 1\); I'll keep that in mind as a constraint on whatever I find, and if the algebra produced \(|r| \ge 1\) I'd have to reject it.""", **kw),
        T(r"""Let the first term be \(a\) and the ratio \(r\), with \(|r| < 1\) so that the series converges. Then the sum is
\[
\frac{a}{1 - r} = <<S>>. \qquad (1)
\]""", **kw),
        T(r"""For the squares, my first instinct is to square the sum: if the series adds to \(<<S>>\), then the squares add to \(<<pS>>^2 = <<S2>>\)? But the problem says \(<<Tq>>\), which is different, so that can't be the right relationship. <<wait>>of course: \((a + ar + ar^2 + \cdots)^2\) contains all the cross terms \(2a^2r\), \(2a^2r^2\), and so on. The square of the sum is not the sum of the squares.""", wait=c.pick(WAIT), **kw),
        T(r"""The squares themselves are \(a^2, a^2r^2, a^2r^4, \ldots\), which is again a geometric series, with first term \(a^2\) and ratio \(r^2\). Since \(|r| < 1\), \(r^2 < 1\) too, so it converges to
\[
\frac{a^2}{1 - r^2} = <<Tq>>. \qquad (2)
\]""", **kw),
        T(r"""Now divide (2) by (1). The left side is \(\frac{a^2}{1-r^2} \cdot \frac{1-r}{a} = \frac{a(1-r)}{(1-r)(1+r)} = \frac{a}{1+r}\). So
\[
\frac{a}{1 + r} = \frac{<<Tq>>}{<<S>>} = <<TS>>. \qquad (3)
\]
From (1), \(a = <<S>>(1 - r)\), and from (3), \(a = <<TS>>(1 + r)\). Setting them equal:
\[
<<S>>(1 - r) = <<TS>>(1 + r).
\]""", **kw),
        T(r"""Solving for \(r\) in general: \(S(1-r) = \frac{T}{S}(1+r)\) means \(S^2(1 - r) = T(1 + r)\), so \(S^2 - T = r(S^2 + T)\) and
\[
r = \frac{S^2 - T}{S^2 + T} = \frac{<<S2>> - <<Tq>>}{<<S2>> + <<Tq>>} = \frac{<<num>>}{<<den>>} = <<r>>.
\]
Then \(a = <<S>>(1 - <<pr>>) = <<S>> \cdot <<one_r>> = <<a>>\).""", **kw),
        T(r"""<<check>> The ratio \(<<r>>\) has absolute value less than 1, so the series converges. Sum: \(\frac{<<a>>}{1 - <<pr>>} = \frac{<<a>>}{<<one_r>>} = <<S>>\). Correct. Squares: first term \(<<a2>>\), ratio \(<<r2>>\), sum \(\frac{<<a2>>}{1 - <<r2>>} = \frac{<<a2>>}{<<one_r2>>} = <<Tq>>\). Correct too.""", check=c.pick(CHECK), **kw),
        T(r"""Numerically, the partial sums of the original series are <<partials>>, heading toward \(<<Sdec>>\). And the first squared terms are \(<<sq_terms>>\), shrinking by a factor \(<<r2>>\) each time, fine.""", **kw),
        T(r"""And the partial sums of the squares: <<sq_partials>>, approaching \(<<Tdec>>\).""", **kw) if c.extra >= 3 else "",
        T(r"""<<alt>>substitution without dividing. Square (1): \(a^2 = <<S2>>(1-r)^2\). Put that into (2): \(\frac{<<S2>>(1-r)^2}{(1-r)(1+r)} = <<Tq>>\), i.e. \(<<S2>>\,\frac{1-r}{1+r} = <<Tq>>\). Cross-multiplying gives the same linear equation \(<<S2>>(1-r) = <<Tq>>(1+r)\), hence the same \(r = <<r>>\). Good: dividing the equations was legitimate because \(a \neq 0\) and \(r \neq 1\).""", alt=c.pick(ALSO), **kw),
        summary(c, [
            T(r"""Sum: \(\frac{a}{1-r} = <<S>>\). Sum of squares: a geometric series with ratio \(r^2\), \(\frac{a^2}{1-r^2} = <<Tq>>\) (not the square of the sum).""", **kw),
            T(r"""Dividing gives \(\frac{a}{1+r} = <<TS>>\); solving, \(r = <<r>>\) and \(a = <<a>>\).""", **kw),
            T(r"""Both sums check out and \(|r| < 1\).""", **kw),
        ]),
    ]
    answer = T(r"""Let the first term be \(a\) and the ratio \(r\) (\(|r|<1\)). Then
\[
\frac{a}{1-r} = <<S>>, \qquad \frac{a^2}{1-r^2} = <<Tq>>.
\]
Dividing, \(\frac{a}{1+r} = <<TS>>\). Combining with \(a = <<S>>(1-r)\) gives \(r = \frac{S^2 - T}{S^2 + T} = <<r>>\) and \(a = <<a>>\).

\[
\boxed{a = <<a>>,\ r = <<r>>}
\]""", **kw)
    return trace("math", "geometric_series", "find the first term and ratio of an infinite geometric series from its sum and the sum of its squares", problem, paras, answer, 4)


def math_geometric(c: Ctx, variant: str | None = None):
    variant = variant or c.pick(["finite", "infinite"])
    return {"finite": _geom_finite, "infinite": _geom_infinite}[variant](c)


def _pow_table(base: int, m: int):
    """Lines 'base^j = prev * base = X, which is Y mod m' until the power returns to 1."""
    lines, val, j = [f"\\({base}^1 \\equiv {base}\\)"], base % m, 1
    while True:
        j += 1
        prod = val * base
        val = prod % m
        lines.append(f"\\({base}^{{{j}}} \\equiv {prod} \\equiv {val}\\)" if prod >= m else f"\\({base}^{{{j}}} \\equiv {prod}\\)")
        if val == 1:
            return lines, j


def _square_chain(base: int, exp: int, m: int):
    """Binary exponentiation with every squaring and product written out; returns (lines, result)."""
    bits = bin(exp)[2:]
    sq = [base % m]
    lines = [f"\\({base}^{{1}} \\equiv {sq[0]}\\)"]
    for i in range(1, len(bits)):
        prod = sq[-1] * sq[-1]
        sq.append(prod % m)
        tail = f" \\equiv {sq[-1]}" if prod >= m else ""
        lines.append(f"\\({base}^{{{2**i}}} \\equiv {sq[-2]}^2 = {prod}{tail}\\)")
    used = [i for i, b in enumerate(reversed(bits)) if b == "1"]
    acc, steps = 1, []
    for i in used:
        prod = acc * sq[i]
        steps.append(f"{acc} \\cdot {sq[i]} = {prod} \\equiv {prod % m}" if prod >= m else f"{acc} \\cdot {sq[i]} = {prod}")
        acc = prod % m
    parts = " + ".join(str(2**i) for i in reversed(used))
    return lines, steps, parts, acc, bits


def _mod_power(c: Ctx):
    m = c.pick([7, 11, 13, 13, 17, 19, 9])
    while True:
        a = c.randint(2, 60)
        n = c.randint(100, 2025)
        ar = a % m
        if math.gcd(a, m) == 1 and ar not in (0, 1, m - 1) and n % 4:
            break
    table, o = _pow_table(ar, m)
    rr = n % o
    ans = pow(ar, n, m)
    prime = m != 9
    phi = m - 1 if prime else 6
    lines, steps, parts, acc, bits = _square_chain(ar, n, m)
    assert acc == ans
    digits = math.floor(n * math.log10(a)) + 1
    wrong_e = m if prime else m - 1
    w_rem = n % wrong_e
    kw = dict(a=a, m=m, n=n, ar=ar, o=o, rr=rr, ans=ans, phi=phi, digits=digits, q=n // o, qo=(n // o) * o,
              pernote=(" (and the table shows the period is exactly " + str(o) + ")" if o == (m - 1 if m != 9 else 6) else f" (or modulo the actual period {o}, which divides {m - 1 if m != 9 else 6})"),
              table="\n".join(f"- {t}" for t in table), wrong_e=wrong_e, w_rem=w_rem, wq=n // wrong_e,
              wval=pow(ar, w_rem, m), arwe=pow(ar, wrong_e, m), sqlines="\n".join(f"- {t}" for t in lines),
              steps=", then ".join(f"\\({t}\\)" for t in steps), parts=parts, bits=bits, aq=a // m,
              aqm=(a // m) * m, phiq=phi // o)
    problem = T(r"""Find the remainder when \(<<a>>^{<<n>>}\) is divided by <<m>>.""", **kw)
    paras = [
        T(r"""The number \(<<a>>^{<<n>>}\) is astronomically large: \(\log_{10}\) of it is \(<<n>> \log_{10} <<a>>\), so it has about <<digits>> digits. Computing it directly is out of the question. But remainders of powers modulo a fixed number must eventually repeat, since there are only <<m>> possible remainders and each power's remainder determines the next one. So the plan is to find the cycle of powers modulo <<m>> and use it to shrink the exponent.""", **kw),
        T(r"""First, reduce the base: <<red>> So \(<<a>>^{<<n>>} \equiv <<ar>>^{<<n>>} \pmod{<<m>>}\), which is the same question with a smaller base.""",
          red=(T(r"""\(<<a>> = <<aq>> \cdot <<m>> + <<ar>>\), so \(<<a>> \equiv <<ar>> \pmod{<<m>>}\).""", **kw) if a >= m else T(r"""<<a>> is already less than <<m>>, so there's nothing to reduce and \(<<ar>> = <<a>>\).""", **kw)), **kw),
    ]
    if prime:
        paras.append(T(r"""Now Fermat's little theorem should help. Since <<m>> is prime and doesn't divide <<ar>>, Fermat gives \(<<ar>>^{<<m>>} \equiv 1 \pmod{<<m>>}\). Then I can reduce the exponent modulo <<m>>: \(<<n>> = <<wq>> \cdot <<m>> + <<w_rem>>\), so \(<<ar>>^{<<n>>} \equiv <<ar>>^{<<w_rem>>}\). Before computing that, let me write out the powers of <<ar>> modulo <<m>> to see the cycle explicitly; it will also let me look up \(<<ar>>^{<<w_rem>>}\).""", **kw))
    else:
        paras.append(T(r"""Now Fermat's little theorem should help: for \(a\) not divisible by the modulus, \(a^{<<wrong_e>>} \equiv 1 \pmod{9}\), so I can reduce the exponent modulo <<wrong_e>>: \(<<n>> = <<wq>> \cdot <<wrong_e>> + <<w_rem>>\), giving \(<<ar>>^{<<n>>} \equiv <<ar>>^{<<w_rem>>}\). Before computing that, let me write out the powers of <<ar>> modulo 9 to see the cycle explicitly.""", **kw))
    paras.append(T(r"""Powers of <<ar>> modulo <<m>>, each obtained by multiplying the previous remainder by <<ar>> and reducing:
<<table>>
So the remainders return to 1 at exponent <<o>>, and from then on they repeat with period <<o>>.""", **kw))
    if prime:
        paras.append(T(r"""<<wait>>the table says the powers cycle with period <<o>>, and \(<<ar>>^{<<m>>} \equiv <<arwe>>\), not 1. So my version of Fermat was wrong. The theorem is \(a^{p-1} \equiv 1 \pmod p\), equivalently \(a^p \equiv a\). I mixed up the exponent. With the correct statement the exponent reduces modulo <<phi>><<pernote>>, not modulo <<m>>. Reducing modulo <<m>> would have given \(<<ar>>^{<<w_rem>>} \equiv <<wval>>\), which <<same>>""", wait=c.pick(WAIT), same="happens to coincide here, but only by luck." if pow(ar, w_rem, m) == ans else "is not the right answer.", **kw))
    else:
        paras.append(T(r"""<<wait>>the table says the cycle length is <<o>>, and \(<<ar>>^{8} \equiv <<arwe>> \pmod 9\), not 1. Fermat's little theorem needs a prime modulus, and 9 is not prime. The right tool is Euler's theorem: \(a^{\varphi(9)} \equiv 1\) for \(\gcd(a, 9) = 1\), where \(\varphi(9) = 6\) counts 1, 2, 4, 5, 7, 8. The period <<o>> divides 6, consistent with the table. Reducing modulo 8 would have given \(<<ar>>^{<<w_rem>>} \equiv <<wval>>\), which <<same>>""", wait=c.pick(WAIT), same="happens to coincide here, but only by luck." if pow(ar, w_rem, m) == ans else "is not the right answer.", **kw))
    paras.append(T(r"""So reduce the exponent modulo <<o>>: \(<<n>> = <<q>> \cdot <<o>> + <<rr>>\) (check: \(<<q>> \cdot <<o>> = <<qo>>\), and \(<<n>> - <<qo>> = <<rr>>\)). Therefore
\[
<<ar>>^{<<n>>} = \left(<<ar>>^{<<o>>}\right)^{<<q>>} \cdot <<ar>>^{<<rr>>} \equiv 1^{<<q>>} \cdot <<ar>>^{<<rr>>} \equiv <<ans>> \pmod{<<m>>}.
\]""" if rr else r"""So reduce the exponent modulo <<o>>: \(<<n>> = <<q>> \cdot <<o>>\) exactly (check: \(<<q>> \cdot <<o>> = <<qo>>\)). Therefore \(<<ar>>^{<<n>>} = (<<ar>>^{<<o>>})^{<<q>>} \equiv 1 \pmod{<<m>>}\).""", **kw))
    paras.append(T(r"""<<alt>>I'll verify with repeated squaring, which doesn't rely on the cycle at all. In binary, \(<<n>> = <<bits>>_2\), i.e. \(<<n>> = <<parts>>\). Squaring repeatedly modulo <<m>>:
<<sqlines>>
Multiplying together the powers for the 1-bits (reducing as I go): <<steps>>. The result is <<ans>>, the same as from the cycle.""", alt=c.pick(ALSO), **kw))
    paras.append(T(r"""Consistency: the period <<o>> divides \(\varphi(<<m>>) = <<phi>>\) (\(<<phi>> = <<phiq>> \cdot <<o>>\)), exactly as Lagrange's theorem requires for the order of an element of the group of units modulo <<m>>.""", **kw) if o != phi else
        T(r"""Consistency: the period equals \(\varphi(<<m>>) = <<phi>>\), the largest possible, which means <<ar>> is a primitive root modulo <<m>>: its powers run through every remainder coprime to <<m>>, as the table shows.""", **kw))
    if c.extra >= 2:
        facts = []
        val = ar
        for j in range(2, min(o, 5) + 1):
            prod = val * ar
            facts.append(f"{val} * {ar} = {prod} = {prod // m} * {m} + {prod % m}")
            val = prod % m
        facts.append(f"{o} * {n // o} = {(n // o) * o}, remainder {rr}")
        paras.append(recheck(c, facts))
    paras.append(summary(c, [
        T(r"""\(<<a>> \equiv <<ar>> \pmod{<<m>>}\).""", **kw),
        T(r"""Powers of <<ar>> repeat with period <<o>> modulo <<m>> (Fermat/Euler: \(a^{<<phi>>} \equiv 1\), not \(a^{<<wrong_e>>}\)).""", **kw),
        T(r"""\(<<n>> \equiv <<rr>> \pmod{<<o>>}\), so the remainder is \(<<ar>>^{<<rr>>} \bmod <<m>> = <<ans>>\), confirmed by repeated squaring.""", **kw),
    ]))
    answer = T(r"""Since \(<<a>> \equiv <<ar>> \pmod{<<m>>}\) and the powers of <<ar>> modulo <<m>> have period <<o>>, and \(<<n>> = <<q>> \cdot <<o>> + <<rr>>\),
\[
<<a>>^{<<n>>} \equiv <<ar>>^{<<rr>>} \equiv <<ans>> \pmod{<<m>>}.
\]

\[
\boxed{<<ans>>}
\]""", **kw)
    task = f"find the remainder of a large power modulo {m}"
    return trace("math", "modular_arithmetic", task, problem, paras, answer, 3)


def _mod_last2(c: Ctx):
    while True:
        a = c.randint(3, 97)
        n = c.randint(100, 2999)
        if math.gcd(a, 10) == 1 and n % 40 not in (0, 1):
            break
    e = n % 40
    ans = pow(a, n, 100)
    lines, steps, parts, acc, bits = _square_chain(a, e, 100)
    assert acc == ans == pow(a, e, 100)
    r4, r25 = pow(a, n, 4), pow(a, n % 20, 25)
    l25, s25, p25, acc25, b25 = _square_chain(a % 25, n % 20, 25) if n % 20 else ([], [], "", 1, "")
    cands = [r25 + 25 * j for j in range(4)]
    order = next(j for j in range(1, 41) if pow(a, j, 100) == 1)
    kw = dict(a=a, n=n, e=e, ans=f"{ans:02d}", ansn=ans, q=n // 40, q40=(n // 40) * 40, bits=bits, parts=parts,
              sqlines="\n".join(f"- {t}" for t in lines), steps=", then ".join(f"\\({t}\\)" for t in steps),
              a4=a % 4, r4=r4, a25=a % 25, e20=n % 20, r25=r25, cands=", ".join(str(x) for x in cands),
              l25="\n".join(f"- {t}" for t in l25), s25=", then ".join(f"\\({t}\\)" for t in s25), b25=b25, p25=p25,
              order=order, n_ord=n % order, par4="even" if n % 2 == 0 else "odd",
              asnote=f" (as \\({a} \\equiv {a % 25} \\pmod{{25}}\\))" if a >= 25 else "")
    kw["comb25"] = (T(r"""and combining the 1-bits of \(<<e20>> = <<p25>>\): <<s25>>.""", **kw) if "+" in p25 else "and that power is the one I need.")
    problem = T(r"""What are the last two digits of \(<<a>>^{<<n>>}\)?""", **kw)
    paras = [
        T(r"""The last two digits of a number are its remainder modulo 100. So I need \(<<a>>^{<<n>>} \bmod 100\). The number itself has thousands of digits, so I'll need some modular arithmetic to cut the exponent down.""", **kw),
        T(r"""Since \(\gcd(<<a>>, 100) = 1\) (<<a>> is odd and doesn't end in 5), Fermat's little theorem gives \(<<a>>^{99} \equiv 1 \pmod{100}\), so I could reduce the exponent modulo 99. <<wait>>Fermat's little theorem is for a prime modulus, and 100 is not prime. The general statement is Euler's theorem: if \(\gcd(a, n) = 1\) then \(a^{\varphi(n)} \equiv 1 \pmod n\). Here
\[
\varphi(100) = 100 \left(1 - \tfrac{1}{2}\right)\left(1 - \tfrac{1}{5}\right) = 100 \cdot \tfrac{1}{2} \cdot \tfrac{4}{5} = 40.
\]
So \(<<a>>^{40} \equiv 1 \pmod{100}\), and the exponent reduces modulo 40, not 99.""", wait=c.pick(WAIT), **kw),
        T(r"""\(<<n>> = <<q>> \cdot 40 + <<e>>\) (since \(<<q>> \cdot 40 = <<q40>>\)). So
\[
<<a>>^{<<n>>} = \left(<<a>>^{40}\right)^{<<q>>} \cdot <<a>>^{<<e>>} \equiv <<a>>^{<<e>>} \pmod{100}.
\]""", **kw),
        T(r"""Now compute \(<<a>>^{<<e>>} \bmod 100\) by repeated squaring. \(<<e>> = <<bits>>_2 = <<parts>>\).
<<sqlines>>
Now multiply the needed pieces: <<steps>>. So \(<<a>>^{<<e>>} \equiv <<ansn>> \pmod{100}\), and the last two digits are <<ans>>.""", **kw),
        T(r"""<<alt>>split 100 into \(4 \cdot 25\) and use the Chinese remainder theorem, since working modulo 4 and modulo 25 separately is easier and independent of what I did above.""", alt=c.pick(ALSO), **kw),
        T(r"""Modulo 4: \(<<a>> \equiv <<a4>> \pmod 4\). <<mod4>> So \(<<a>>^{<<n>>} \equiv <<r4>> \pmod 4\).""",
          mod4=("So every power is 1 modulo 4." if a % 4 == 1 else T(r"""Since \(3 \equiv -1\), the power is \((-1)^{<<n>>}\), and <<n>> is <<par4>>.""", **kw)), **kw),
        T(r"""Modulo 25: \(\varphi(25) = 20\), so the exponent reduces modulo 20: \(<<n>> \equiv <<e20>> \pmod{20}\). <<m25>>""",
          m25=(T(r"""So I need \(<<a25>>^{<<e20>>} \bmod 25\)<<asnote>>. Squaring:
<<l25>>
<<comb25>> So \(<<a>>^{<<n>>} \equiv <<r25>> \pmod{25}\).""", **kw) if n % 20 else T(r"""Since 20 divides <<n>>, \(<<a>>^{<<n>>} \equiv 1 \pmod{25}\).""", **kw)), **kw),
        T(r"""Combine: the numbers below 100 that are \(\equiv <<r25>> \pmod{25}\) are <<cands>>. Which one is \(\equiv <<r4>> \pmod 4\)? Checking each, it's <<ansn>>. That agrees with the direct computation.""", **kw),
    ]
    if c.extra >= 2:
        if order <= 10:
            pw = ", ".join(f"{pow(a, j, 100):02d}" for j in range(1, order + 1))
            paras.append(T(r"""Actually, the cycle might be even shorter than 40. Listing the last two digits of \(<<a>>^1, <<a>>^2, \ldots\): <<pw>>. So \(<<a>>^{<<order>>} \equiv 1 \pmod{100}\), the order of <<a>> is just <<order>>, and \(<<n>> \equiv <<n_ord>> \pmod{<<order>>}\) gives the same answer <<ans>> as a third check.""", pw=pw, **kw))
        else:
            paras.append(T(r"""By the way, the true order of <<a>> modulo 100 is <<order>>, which divides 20 (the Carmichael function \(\lambda(100) = \operatorname{lcm}(\lambda(4), \lambda(25)) = \operatorname{lcm}(2, 20) = 20\)), and 20 in turn divides 40. Reducing modulo 40 is therefore safe even though it isn't the smallest period.""", **kw))
    if c.extra >= 3:
        cyc = [pow(a % 10, j, 10) for j in range(1, 5)]
        paras.append(T(r"""A cheap partial check: the last digit alone. Powers of <<a10>> modulo 10 cycle through <<cyc>> with period dividing 4, and \(<<n>> \equiv <<n4>> \pmod 4\), so the last digit of \(<<a>>^{<<n>>}\) is <<ld>>. The answer <<ans>> ends in <<ld2>>. <<ok>>""", a10=a % 10, cyc=", ".join(map(str, cyc)), n4=n % 4, ld=pow(a, n, 10), ld2=ans % 10,
                       ok="Consistent." if pow(a, n, 10) == ans % 10 else "", **kw))
    paras.append(summary(c, [
        r"""Last two digits = value modulo 100; Euler (not Fermat, 100 isn't prime): \(\varphi(100) = 40\).""",
        T(r"""\(<<n>> \equiv <<e>> \pmod{40}\), so compute \(<<a>>^{<<e>>} \bmod 100 = <<ansn>>\) by repeated squaring.""", **kw),
        T(r"""CRT check: \(\equiv <<r4>> \pmod 4\) and \(\equiv <<r25>> \pmod{25}\) gives <<ansn>> again.""", **kw),
    ]))
    answer = T(r"""We need \(<<a>>^{<<n>>} \bmod 100\). Since \(\gcd(<<a>>, 100) = 1\) and \(\varphi(100) = 40\), Euler's theorem gives \(<<a>>^{<<n>>} \equiv <<a>>^{<<e>>} \pmod{100}\), and repeated squaring gives \(<<a>>^{<<e>>} \equiv <<ansn>> \pmod{100}\). (Check: the value is \(\equiv <<r4>> \pmod 4\) and \(\equiv <<r25>> \pmod{25}\).)

The last two digits are \(\boxed{<<ans>>}\).""", **kw)
    return trace("math", "modular_arithmetic", "find the last two digits of a large power", problem, paras, answer, 4)


def _mod_linear(c: Ctx):
    while True:
        m = c.randint(23, 150)
        a = c.randint(3, min(29, m - 1))
        b = c.randint(1, m - 1)
        if math.gcd(a, m) == 1 and b % a:
            break
    # extended Euclid, tracking r_i = s_i * m + t_i * a
    rows = [(m, 0), (a, 1)]
    lines = []
    while rows[-1][0] != 1:
        (r0, t0), (r1, t1) = rows[-2], rows[-1]
        q = r0 // r1
        r2, t2 = r0 - q * r1, t0 - q * t1
        lines.append(f"\\({r0} = {q} \\cdot {r1} + {r2}\\), so \\({r2} = {r0} - {q} \\cdot {r1} \\equiv {t2} \\cdot {a} \\pmod{{{m}}}\\)")
        rows.append((r2, t2))
    t = rows[-1][1]
    inv = t % m
    x = inv * b % m
    k = next(j for j in range(a) if (b + j * m) % a == 0)
    trial = [b + j * m for j in range(k + 1)]
    kw = dict(a=a, b=b, m=m, t=t, inv=inv, x=x, invtxt=(f"\\({t} \\equiv {inv} \\pmod{{{m}}}\\)" if t != inv else f"\\({inv}\\)"),
              brute=", ".join(f"{a * j % m}" for j in range(1, 9)), bez=f"{a} \\cdot {inv} - {(a * inv) // m} \\cdot {m} = {a * inv} - {(a * inv) // m * m} = 1", ax=a * x, axq=(a * x) // m, k=k, xk=(b + k * m) // a,
              lines="\n".join(f"- {ln}" for ln in lines), bdec=f"{b / a:.4f}".rstrip("0"), ainv=a * inv,
              ainvq=(a * inv) // m, binv=b * inv, binvq=(b * inv) // m,
              trial=", ".join(f"{v}" + (" (divisible)" if v % a == 0 else "") for v in trial))
    problem = T(r"""Solve the congruence \(<<a>>x \equiv <<b>> \pmod{<<m>>}\). Give the smallest positive solution.""", **kw)
    paras = [
        T(r"""I need an integer \(x\) with \(<<a>>x - <<b>>\) divisible by <<m>>. The naive move is to divide: \(x = <<b>>/<<a>> \approx <<bdec>>\). But that's not an integer, and in modular arithmetic "dividing by <<a>>" doesn't mean ordinary division. <<wait>>I need to multiply by the inverse of <<a>> modulo <<m>>, i.e. a number \(y\) with \(<<a>>y \equiv 1 \pmod{<<m>>}\).""", wait=c.pick(WAIT), **kw),
        T(r"""The modulus is small enough that I could just try \(x = 1, 2, 3, \ldots\) and compute \(<<a>>x \bmod <<m>>\): for \(x = 1\) to \(8\) that gives <<brute>>. No <<b>> yet, and in the worst case I'd have to go up to <<m>>. That's tedious and doesn't generalize, so let me do it properly.""", **kw),
        T(r"""Does the inverse exist? Only if \(\gcd(<<a>>, <<m>>) = 1\). Let me run the Euclidean algorithm, keeping track of each remainder as a multiple of <<a>> modulo <<m>> (the extended Euclidean algorithm). Starting from \(<<m>> \equiv 0 \cdot <<a>>\) and \(<<a>> \equiv 1 \cdot <<a>>\):
<<lines>>
The last nonzero remainder is 1, so \(\gcd(<<a>>, <<m>>) = 1\) and the inverse exists. Moreover the last line says \(1 \equiv <<t>> \cdot <<a>> \pmod{<<m>>}\).""", **kw),
        T(r"""So the inverse of <<a>> is <<invtxt>>. <<check>> \(<<a>> \cdot <<inv>> = <<ainv>> = <<ainvq>> \cdot <<m>> + 1\). Yes.""", check=c.pick(CHECK), **kw),
        T(r"""Multiplying both sides of \(<<a>>x \equiv <<b>>\) by <<inv>>:
\[
x \equiv <<b>> \cdot <<inv>> = <<binv>> \equiv <<x>> \pmod{<<m>>},
\]
since \(<<binv>> = <<binvq>> \cdot <<m>> + <<x>>\).""", **kw),
        T(r"""Verify in the original congruence: \(<<a>> \cdot <<x>> = <<ax>>\), and \(<<ax>> - <<axq>> \cdot <<m>> = <<b>>\). So \(<<a>> \cdot <<x>> \equiv <<b>> \pmod{<<m>>}\). Correct.""", **kw),
        T(r"""<<alt>>I want a multiple of <<m>> to add to <<b>> so that the result is divisible by <<a>>; then dividing gives \(x\). Going through \(<<b>> + j \cdot <<m>>\) for \(j = 0, 1, 2, \ldots\): <<trial>>. So \(j = <<k>>\) works and \(x = \frac{<<b>> + <<k>> \cdot <<m>>}{<<a>>} = <<xk>>\)<<tail>>. Same answer. This trial method always succeeds within <<a>> steps because the values \(<<b>> + j<<m>>\) run through every residue class modulo <<a>> (as \(\gcd(<<a>>, <<m>>) = 1\)).""",
          alt=c.pick(ALSO), tail="" if (b + k * m) // a == x else f", which reduces to {x} modulo {m}", **kw),
        T(r"""It's also worth writing the Bezout identity out in plain integers, since that's really what the extended algorithm produced: \(<<bez>>\). So <<inv>> times <<a>> overshoots a multiple of <<m>> by exactly 1, which is the definition of the inverse.""", **kw),
        T(r"""Since \(\gcd(<<a>>, <<m>>) = 1\), the solution is unique modulo <<m>>: every solution has the form \(x = <<x>> + <<m>>t\). The smallest positive one is <<x>>.""", **kw),
    ]
    if c.extra >= 2:
        paras.append(recheck(c, [say_mul(a, inv) + f" = {(a * inv) // m} * {m} + {(a * inv) % m}",
                                 say_mul(b, inv) + f" = {(b * inv) // m} * {m} + {x}",
                                 say_mul(a, x) + f" = {(a * x) // m} * {m} + {b}"]))
    if c.extra >= 3:
        paras.append(r"""Side thought: what if the coefficient and the modulus had shared a factor? For instance \(6x \equiv 4 \pmod{10}\): \(\gcd(6, 10) = 2\) divides 4, so divide everything by 2 to get \(3x \equiv 2 \pmod 5\). The inverse of 3 modulo 5 is 2 (\(3 \cdot 2 = 6 \equiv 1\)), so \(x \equiv 4 \pmod 5\), i.e. \(x \equiv 4\) or \(9 \pmod{10}\): two solutions modulo 10. Check: \(6 \cdot 4 = 24 \equiv 4\) and \(6 \cdot 9 = 54 \equiv 4\). And if the gcd didn't divide the right side, there'd be no solution at all. Here the gcd is 1, so there is exactly one solution modulo the modulus, as found.""")
    paras.append(summary(c, [
        T(r"""Extended Euclid: \(1 \equiv <<t>> \cdot <<a>> \pmod{<<m>>}\), so \(<<a>>^{-1} \equiv <<inv>>\).""", **kw),
        T(r"""\(x \equiv <<b>> \cdot <<inv>> \equiv <<x>> \pmod{<<m>>}\), checked directly and by the trial method.""", **kw),
    ]))
    answer = T(r"""Since \(\gcd(<<a>>, <<m>>) = 1\), <<a>> is invertible modulo <<m>>; the extended Euclidean algorithm gives \(<<a>>^{-1} \equiv <<inv>> \pmod{<<m>>}\) (indeed \(<<a>> \cdot <<inv>> = <<ainv>> \equiv 1\)). Then
\[
x \equiv <<b>> \cdot <<inv>> \equiv <<x>> \pmod{<<m>>},
\]
and \(<<a>> \cdot <<x>> = <<ax>> \equiv <<b>> \pmod{<<m>>}\).

\[
\boxed{x = <<x>>}
\]""", **kw)
    return trace("math", "modular_arithmetic", "solve a linear congruence", problem, paras, answer, 4)


def math_modular(c: Ctx, variant: str | None = None):
    variant = variant or c.pick(["power", "last2", "linear"])
    return {"power": _mod_power, "last2": _mod_last2, "linear": _mod_linear}[variant](c)


GROUPS = [("men", "women"), ("juniors", "seniors"), ("chemists", "physicists"), ("boys", "girls"),
          ("engineers", "designers")]


def _comb_committee(c: Ctx):
    g1, g2 = c.pick(GROUPS)
    M, W, k = c.randint(4, 9), c.randint(4, 9), c.randint(3, 5)
    N = M + W
    C = math.comb
    total = C(N, k)
    kind = c.pick(["both", "two"])
    if kind == "both":
        bad = [C(M, k), C(W, k)]
        ans = total - sum(bad)
        over = M * W * C(N - 2, k - 2)
        cases = [(j, C(M, j), C(W, k - j)) for j in range(1, k)]
        mult = [(j, j * (k - j), C(M, j) * C(W, k - j)) for j in range(1, k)]
        cond = f"at least one of the {g1} and at least one of the {g2}"
    else:
        bad = [C(M, k), W * C(M, k - 1)]
        ans = total - sum(bad)
        over = C(W, 2) * C(N - 2, k - 2)
        cases = [(k - w, C(M, k - w), C(W, w)) for w in range(2, k + 1)]
        mult = [(k - w, C(w, 2), C(W, w) * C(M, k - w)) for w in range(2, k + 1)]
        cond = f"at least two {g2}"
    assert sum(a * b for _, a, b in mult) == over
    assert sum(x * y for _, x, y in cases) == ans
    kw = dict(g1=g1, g2=g2, M=M, W=W, k=k, N=N, total=total, ans=ans, over=over, cond=cond, seats=plural(k - 2, "seat"),
              CMk=C(M, k), CWk=C(W, k), CMk1=C(M, k - 1), k1=k - 1, k2=k - 2, N2=N - 2, CN2=C(N - 2, k - 2),
              CW2=C(W, 2), bad=" + ".join(str(b) for b in bad), badsum=sum(bad), diff=over - ans,
              cases="\n".join(f"- {plural(j, g1[:-1], g1)}, {plural(k - j, g2[:-1], g2)}: \\(\\binom{{{M}}}{{{j}}}\\binom{{{W}}}{{{k - j}}} = {x} \\cdot {y} = {x * y}\\)" for j, x, y in cases),
              casesum=" + ".join(str(x * y) for _, x, y in cases),
              mult="\n".join(f"- {plural(j, g1[:-1], g1)} and {plural(k - j, g2[:-1], g2)}: {plural(cnt, 'committee')}, each counted {'once' if mu == 1 else f'{mu} times'}, contributing {mu * cnt}" for j, mu, cnt in mult),
              multsum=" + ".join(str(mu * cnt) for _, mu, cnt in mult))
    problem = T(r"""A club has <<M>> <<g1>> and <<W>> <<g2>>. In how many ways can a committee of <<k>> people be chosen if it must include <<cond>>?""", **kw)
    paras = [
        T(r"""Committees are unordered, so this is about combinations. There are <<N>> people in total. The restriction is "<<cond>>". Restrictions of the "at least" type are usually easiest by complement: count all committees, then subtract the ones that violate the condition. But let me first think about a direct construction, since that's the first thing that comes to mind.""", **kw),
    ]
    if kind == "both":
        paras.append(T(r"""Direct attempt: to guarantee the condition, first pick one of the <<g1>> (<<M>> ways) and one of the <<g2>> (<<W>> ways), then fill the remaining <<seats>> from the other <<N2>> people: \(\binom{<<N2>>}{<<k2>>} = <<CN2>>\) ways. Total: \(<<M>> \cdot <<W>> \cdot <<CN2>> = <<over>>\).""", **kw))
    else:
        paras.append(T(r"""Direct attempt: to guarantee two <<g2>>, first pick two of them, \(\binom{<<W>>}{2} = <<CW2>>\) ways, then fill the remaining <<seats>> from the other <<N2>> people: \(\binom{<<N2>>}{<<k2>>} = <<CN2>>\) ways. Total: \(<<CW2>> \cdot <<CN2>> = <<over>>\).""", **kw))
    paras.append(T(r"""Hmm, let me compare with the total number of committees with no restriction at all: \(\binom{<<N>>}{<<k>>} = <<total>>\). <<cmp>> <<wait>>the direct construction overcounts. A committee that has several <<who>> gets produced once for each choice of which ones were the 'guaranteed' picks. The guaranteed seats are not distinguishable from the others in the final committee.""",
                   cmp=("My count is even larger than the total, which is impossible." if over > total else "My count is suspiciously close to that total, even though the restriction should remove a decent number of committees."),
                   who=(f"{g1} or several {g2}" if kind == "both" else g2), wait=c.pick(WAIT), **kw))
    if kind == "both":
        paras.append(T(r"""Let me see the overcount on a tiny example to make sure I understand it. Say there are 2 <<g1>> (A, B) and 2 <<g2>> (x, y), and the committee has 3 people. The possible committees are ABx, ABy, Axy, Bxy: 4 in total, and every one of them has at least one of each group. The direct method gives \(2 \cdot 2 \cdot \binom{2}{1} = 8\). Listing what it produces: pick A and x, then add B or y, giving ABx and Axy; pick A and y, then B or x, giving ABy and Axy; pick B and x, giving ABx and Bxy; pick B and y, giving ABy and Bxy. Each committee appears exactly twice. So the direct method really does double count here, and in general the multiplicity depends on the committee's composition.""", **kw))
    else:
        paras.append(T(r"""Let me see the overcount on a tiny example to make sure I understand it. Say there are 2 <<g1>> (A, B) and 3 <<g2>> (x, y, z), and the committee has 3 people with at least two <<g2>>. Valid committees: Axy, Axz, Ayz, Bxy, Bxz, Byz (two <<g2>>) and xyz (three): 7 in total. The direct method gives \(\binom{3}{2} \cdot \binom{3}{1} = 9\). The difference comes from xyz, which gets produced three times (once for each pair chosen as the 'guaranteed' two). So committees with more than two <<g2>> are overcounted.""", **kw))
    paras.append(T(r"""Complement instead. The committees that violate the condition are <<violate>>. So
\[
\binom{<<N>>}{<<k>>} - <<badexpr>> = <<total>> - (<<bad>>) = <<total>> - <<badsum>> = <<ans>>.
\]""",
                   violate=(f"the all-{g1} ones, \\(\\binom{{{M}}}{{{k}}} = {C(M, k)}\\), and the all-{g2} ones, \\(\\binom{{{W}}}{{{k}}} = {C(W, k)}\\). These two sets don't overlap (a committee can't be all {g1} and all {g2} at once), so there's no double subtraction" if kind == "both"
                            else f"those with no {g2}, \\(\\binom{{{M}}}{{{k}}} = {C(M, k)}\\), and those with exactly one, \\({W} \\cdot \\binom{{{M}}}{{{k - 1}}} = {W} \\cdot {C(M, k - 1)} = {W * C(M, k - 1)}\\). These are disjoint cases"),
                   badexpr=(f"\\binom{{{M}}}{{{k}}} - \\binom{{{W}}}{{{k}}}" if kind == "both" else f"\\binom{{{M}}}{{{k}}} - {W}\\binom{{{M}}}{{{k - 1}}}"), **kw))
    paras.append(T(r"""<<check>> Casework by the number of <<g1>> on the committee, counting each composition exactly once:
<<cases>>
Sum: \(<<casesum>> = <<ans>>\). Matches the complement count.""", check=c.pick(CHECK), **kw))
    paras.append(T(r"""And I can explain the overcount exactly. In the direct construction, a committee is produced once for every way of choosing its 'guaranteed' members from among its own members:
<<mult>>
Sum: \(<<multsum>> = <<over>>\), which is precisely my wrong total. So the overcount of \(<<over>> - <<ans>> = <<diff>>\) is fully accounted for.""", **kw))
    if c.extra >= 2:
        paras.append(recheck(c, [f"C({N}, {k}) = {total}", f"C({M}, {k}) = {C(M, k)}", (f"C({W}, {k}) = {C(W, k)}" if kind == "both" else f"{W} * C({M}, {k - 1}) = {W} * {C(M, k - 1)} = {W * C(M, k - 1)}"),
                                 f"{total} - {sum(bad)} = {ans}"]))
    if c.extra >= 3:
        if kind == "both":
            other = total - C(M, k) - W * C(M, k - 1)
            paras.append(T(r"""Out of curiosity, the complement method handles other conditions just as easily. For "at least two <<g2>>" I'd subtract the committees with no <<g2>> (<<CMk>>) and those with exactly one (\(<<W>> \cdot \binom{<<M>>}{<<k1>>} = <<W>> \cdot <<CMk1>> = <<one>>\)), giving \(<<total>> - <<CMk>> - <<one>> = <<other>>\). That's a different question, though; the one asked is about having both groups represented.""", one=W * C(M, k - 1), other=other, **kw))
        else:
            other = total - C(M, k) - C(W, k)
            paras.append(T(r"""Out of curiosity, the complement method handles other conditions just as easily. For "at least one of each group" I'd subtract the all-<<g1>> committees (<<CMk>>) and the all-<<g2>> ones (<<CWk>>), giving \(<<total>> - <<CMk>> - <<CWk>> = <<other>>\). That's a different question, though; the one asked requires two <<g2>>.""", other=other, **kw))
    paras.append(summary(c, [
        T(r"""Total committees \(\binom{<<N>>}{<<k>>} = <<total>>\).""", **kw),
        T(r"""Subtract the violating ones (<<bad>>), leaving <<ans>>.""", **kw),
        T(r"""Casework confirms <<ans>>; the 'reserve seats first' count <<over>> overcounts.""", **kw),
    ]))
    answer = T(r"""Count by complement. There are \(\binom{<<N>>}{<<k>>} = <<total>>\) committees in all, and <<badsum>> of them violate the condition (<<bad>>). Hence
\[
<<total>> - <<badsum>> = <<ans>>.
\]
(Casework over the committee's composition gives \(<<casesum>> = <<ans>>\) as well.)

\[
\boxed{<<ans>>}
\]""", **kw)
    return trace("math", "combinatorics", "count committees with a composition restriction", problem, paras, answer, 3)


WORDS = [("COFFEE", "F"), ("BALLOON", "L"), ("LETTER", "T"), ("ARRANGE", "R"), ("PEPPER", "E"),
         ("SUCCESS", "C"), ("BANANA", "N"), ("COMMITTEE", "M"), ("PARALLEL", "A"), ("GOOGLE", "G"),
         ("ADDRESS", "D"), ("REFEREE", "R"), ("MISSISSIPPI", "P"), ("STATISTICS", "I"), ("ASSESSMENT", "E"),
         ("BOOKKEEPER", "O"), ("CALCULATOR", "C"), ("ENGINEERING", "G"), ("MAMMAL", "A"), ("APPLE", "P"),
         ("LITTLE", "T"), ("TOMORROW", "R"), ("TERRITORY", "T"), ("SALSA", "A")]


def _comb_arrange(c: Ctx):
    word, X = c.pick(WORDS)
    n = len(word)
    counts = {}
    for ch in word:
        counts[ch] = counts.get(ch, 0) + 1
    assert counts[X] == 2
    F = math.factorial
    den = 1
    for v in counts.values():
        den *= F(v)
    den_o = den // 2
    total = F(n) // den
    glued = F(n - 1) // den_o
    ans = total - glued
    others = F(n - 2) // den_o
    gaps = math.comb(n - 1, 2)
    assert others * gaps == ans
    mults = ", ".join(f"{ch} appears {v} times" for ch, v in sorted(counts.items()) if v > 1)
    singles = [ch for ch, v in sorted(counts.items()) if v == 1]
    den_expr = " \\cdot ".join(f"{v}!" for ch, v in sorted(counts.items()) if v > 1)
    den_o_expr = " \\cdot ".join(f"{v}!" for ch, v in sorted(counts.items()) if v > 1 and ch != X) or "1"
    rest = "".join(sorted(word.replace(X, "")))
    kw = dict(word=word, X=X, n=n, n1=n - 1, n2=n - 2, total=total, glued=glued, ans=ans, others=others, gaps=gaps,
              mults=mults, den=den, den_o=den_o, den_expr=den_expr, den_o_expr=den_o_expr, fn=F(n), fn1=F(n - 1),
              fn2=F(n - 2), glued2=2 * glued, wrong=total - 2 * glued, singles=join_words(singles) if singles else "none",
              prob=tf(Fraction(glued, total)), two_n=tf(Fraction(2, n)),
              two_n_expr=(f"\\frac{{2}}{{{n}}}" if Fraction(2, n).denominator == n else f"\\frac{{2}}{{{n}}} = {tf(Fraction(2, n))}"), rest=rest, XX=X + X)
    problem = T(r"""How many distinct arrangements of the letters of the word <<word>> are there in which the two <<X>>'s are not next to each other?""", **kw)
    paras = [
        T(r"""First, let me understand the letters. <<word>> has <<n>> letters: <<mults>>; the letters appearing once are <<singles>>. Since some letters repeat, swapping identical letters doesn't create a new arrangement, so I'll need the multinomial formula \(\frac{n!}{\prod m_i!}\) rather than plain \(n!\).""", **kw),
        T(r"""The standard approach for "not next to each other" is complement: count all arrangements, then subtract those where the two <<X>>'s are adjacent.""", **kw),
        T(r"""All arrangements: \(\frac{<<n>>!}{<<den_expr>>} = \frac{<<fn>>}{<<den>>} = <<total>>\).""", **kw),
        T(r"""Adjacent arrangements: glue the two <<X>>'s into a single block "<<XX>>". Then I'm arranging <<n1>> objects: the block plus the other <<n2>> letters (<<rest>>). The number of arrangements is \(\frac{<<n1>>!}{<<den_o_expr>>} = \frac{<<fn1>>}{<<den_o>>} = <<glued>>\). And the two <<X>>'s inside the block can be ordered in \(2!\) ways, so that's \(2 \cdot <<glued>> = <<glued2>>\) adjacent arrangements, leaving \(<<total>> - <<glued2>> = <<wrong>>\).""", **kw),
        T(r"""<<wait>>the two <<X>>'s are identical. Swapping them inside the block gives exactly the same string, so there's no factor of 2 here. That factor belongs to problems where the two glued items are distinguishable (like two specific people sitting together). So the adjacent count is just <<glued>>, and the answer is \(<<total>> - <<glued>> = <<ans>>\).""", wait=c.pick(WAIT), **kw),
        T(r"""Let me make sure about the identical-letters point with a small example, the word XXAB. Total arrangements: \(\frac{4!}{2!} = 12\). With the X's glued: arrange the block XX with A and B, \(3! = 6\): XXAB, XXBA, AXXB, BXXA, ABXX, BAXX. Those are all 6 adjacent ones, and doubling would give 12, i.e. every arrangement, which is absurd since XAXB has the X's apart. The non-adjacent ones are XAXB, XBXA, XABX, XBAX, AXBX, BXAX: 6 of them, and \(12 - 6 = 6\). So indeed no factor of 2.""", **kw),
        T(r"""<<alt>>the gap method, which counts the non-adjacent arrangements directly. Arrange the other <<n2>> letters first: \(\frac{<<n2>>!}{<<den_o_expr>>} = \frac{<<fn2>>}{<<den_o>>} = <<others>>\) ways. These <<n2>> letters create <<n1>> gaps (one before each letter plus one at the end). Placing the two identical <<X>>'s into two different gaps guarantees they're separated, and choosing the gaps is \(\binom{<<n1>>}{2} = <<gaps>>\) ways. Total: \(<<others>> \cdot <<gaps>> = <<ans>>\). Same answer, and this method has no room for the spurious factor of 2 since I'm choosing a set of gaps.""", alt=c.pick(ALSO), **kw),
        T(r"""One more sanity check: in a random arrangement, the chance that the two <<X>>'s are adjacent is \(\frac{<<glued>>}{<<total>>} = <<prob>>\). There's a neat direct argument for this: the two <<X>>'s occupy a uniformly random pair of the <<n>> positions, and out of \(\binom{<<n>>}{2}\) pairs exactly <<n1>> are adjacent, so the probability is \(\frac{<<n1>>}{\binom{<<n>>}{2}} = <<two_n_expr>>\). It matches, which also confirms that the factor of 2 was wrong (with it, the probability would have been doubled).""", **kw),
    ]
    if c.extra >= 2:
        paras.append(recheck(c, [f"{n}! = {F(n)}, divided by {den} gives {total}", f"{n - 1}! = {F(n - 1)}, divided by {den_o} gives {glued}",
                                 f"{n - 2}! = {F(n - 2)}, divided by {den_o} gives {others}", say_mul(others, gaps)]))
    if c.extra >= 3:
        paras.append(T(r"""A curious coincidence worth noticing: the number of arrangements that start with <<X>> is also <<glued>>. Fixing an <<X>> in the first position leaves <<n1>> letters, one of which is the other <<X>>, to arrange freely: \(\frac{<<n1>>!}{<<den_o_expr>>} = <<glued>>\). It's the same count as the glued case because in both cases I'm arranging <<n1>> objects with the same repetition pattern. Not needed for the answer, but it's a nice consistency check on the glued count.""", **kw))
    paras.append(summary(c, [
        T(r"""All arrangements: \(<<total>>\).""", **kw),
        T(r"""Arrangements with the <<X>>'s adjacent (glued, no factor 2 since they're identical): \(<<glued>>\).""", **kw),
        T(r"""Non-adjacent: \(<<total>> - <<glued>> = <<ans>>\), confirmed by the gap method \(<<others>> \cdot <<gaps>>\).""", **kw),
    ]))
    answer = T(r"""Total arrangements of <<word>>: \(\frac{<<n>>!}{<<den_expr>>} = <<total>>\). Treating the two (identical) <<X>>'s as one block gives \(\frac{<<n1>>!}{<<den_o_expr>>} = <<glued>>\) arrangements with them adjacent. Hence
\[
<<total>> - <<glued>> = <<ans>>.
\]
(Gap method: \(<<others>> \cdot \binom{<<n1>>}{2} = <<ans>>\).)

\[
\boxed{<<ans>>}
\]""", **kw)
    return trace("math", "combinatorics", f"count arrangements of {word} with the two {X}'s apart", problem, paras, answer, 3)


def math_combinatorics(c: Ctx, variant: str | None = None):
    variant = variant or c.pick(["committee", "arrange"])
    return {"committee": _comb_committee, "arrange": _comb_arrange}[variant](c)


def _heronian(limit: int = 30):
    out = []
    for a in range(2, limit + 1):
        for b in range(a, limit + 1):
            for cc in range(b, min(a + b, limit + 1)):
                p16 = (a + b + cc) * (-a + b + cc) * (a - b + cc) * (a + b - cc)
                r = math.isqrt(p16)
                if r * r == p16 and r % 4 == 0 and a * a + b * b != cc * cc and a != cc:
                    out.append((a, b, cc, r // 4))
    return out


HERONIAN = _heronian()


def _triangle(c: Ctx, variant: str | None = None):
    variant = variant or c.pick(["radii", "altitude"])
    a, b, cc, K = c.pick(HERONIAN)
    s = (a + b + cc) // 2
    P = a + b + cc
    X = P * (P - a) * (P - b) * (P - cc)
    r, R, h = Fraction(K, s), Fraction(a * b * cc, 4 * K), Fraction(2 * K, cc)
    cosC = Fraction(a * a + b * b - cc * cc, 2 * a * b)
    sinC = Fraction(2 * K, a * b)
    xC = Fraction(b * b + cc * cc - a * a, 2 * cc)
    num = a * a + b * b - cc * cc
    kw = dict(a=a, b=b, c=cc, K=K, s=s, sa=s - a, sb=s - b, sc=s - cc, P=P, Pa=P - a, Pb=P - b, Pc=P - cc, X=X,
              sqX=fx(math.sqrt(X), 1), bound=tf(Fraction(b * cc, 2)), p1=s * (s - a), p2=(s - b) * (s - cc),
              prod=s * (s - a) * (s - b) * (s - cc), mul1=say_mul(s, s - a), mul2=say_mul(s - b, s - cc),
              mul3=say_mul(s * (s - a), (s - b) * (s - cc)), r=tf(r), R=tf(R), h=tf(h), rdec=fx(float(r), 3),
              Rdec=fx(float(R), 3), abc=a * b * cc, fourK=4 * K, cosC=tf(cosC), sinC=tf(sinC), num=num,
              a2=a * a, b2=b * b, c2=cc * cc, twoab=2 * a * b, twoab2=(2 * a * b) ** 2, num2=num * num,
              sixteenK2=16 * K * K, fourK_=4 * K, half_ab=tf(Fraction(a * b, 2)), xC=tf(xC), h2=tf(h * h),
              xC2=tf(xC * xC), R2r=tf(R - 2 * r), twor=tf(2 * r), angle=fx(math.degrees(math.acos(float(cosC))), 2),
              obtuse="obtuse" if cosC < 0 else "acute", twoK=2 * K)
    ask = ("its area, its inradius, and its circumradius" if variant == "radii"
           else "its area, the length of the altitude to the longest side, and the cosine of its largest angle")
    problem = T(r"""A triangle has side lengths <<a>>, <<b>>, and <<c>>. Find <<ask>>.""", ask=ask, **kw)
    paras = [
        T(r"""All three sides are given, so the natural tool for the area is Heron's formula, and the other quantities follow from the area. Let me first check the triangle inequality: \(<<a>> + <<b>> = <<ab>> > <<c>>\), so the triangle exists. Is it a right triangle? \(<<a2>> + <<b2>> = <<a2b2>>\) versus \(<<c2>>\): not equal, so no, and since \(<<a2b2>> <<cmp>> <<c2>>\) the largest angle (opposite the side <<c>>) is <<obtuse>>.""",
          ab=a + b, a2b2=a * a + b * b, cmp=">" if cosC > 0 else "<", **kw),
        T(r"""Heron's formula: area \(= \sqrt{s(s-a)(s-b)(s-c)}\). With the perimeter \(s = <<a>> + <<b>> + <<c>> = <<P>>\), the factors are \(<<P>>, <<Pa>>, <<Pb>>, <<Pc>>\), and the product is \(<<X>>\). Its square root is about \(<<sqX>>\).""", **kw),
        T(r"""<<wait>>that's way too big. The area of a triangle is \(\frac{1}{2} \cdot (\text{side}) \cdot (\text{side}) \cdot \sin(\text{included angle})\), so it can never exceed \(\frac{1}{2} \cdot <<b>> \cdot <<c>> = <<bound>>\). The mistake: in Heron's formula \(s\) is the semi-perimeter, half the perimeter, not the perimeter itself.""", wait=c.pick(WAIT), **kw),
        T(r"""Quick test of the corrected formula on the 3-4-5 right triangle, whose area I know is \(\frac{1}{2} \cdot 3 \cdot 4 = 6\): the semi-perimeter is 6, and \(\sqrt{6 \cdot 3 \cdot 2 \cdot 1} = \sqrt{36} = 6\). Right. With the full perimeter 12 I'd get \(\sqrt{12 \cdot 9 \cdot 8 \cdot 7} = \sqrt{6048} \approx 77.8\), way off, consistent with the mistake I just made.""", **kw),
        T(r"""Redo: \(s = \frac{<<P>>}{2} = <<s>>\), and \(s - a = <<sa>>\), \(s - b = <<sb>>\), \(s - c = <<sc>>\). The product \(s(s-a)(s-b)(s-c)\): first <<mul1>>, then <<mul2>>, then <<mul3>>. So the area is \(\sqrt{<<prod>>}\). Is <<prod>> a perfect square? \(<<K>>^2 = <<prod>>\). Yes, so the area is exactly \(<<K>>\).""", **kw),
    ]
    if variant == "radii":
        paras.append(T(r"""Inradius: the area equals \(r \cdot s\) (split the triangle into three triangles from the incenter, each with height \(r\)). So \(r = \frac{K}{s} = \frac{<<K>>}{<<s>>} = <<r>> \approx <<rdec>>\).""", **kw))
        paras.append(T(r"""Circumradius: \(K = \frac{abc}{4R}\), so \(R = \frac{abc}{4K} = \frac{<<a>> \cdot <<b>> \cdot <<c>>}{4 \cdot <<K>>} = \frac{<<abc>>}{<<fourK>>} = <<R>> \approx <<Rdec>>\).""", **kw))
    else:
        paras.append(T(r"""Altitude to the longest side (length <<c>>): area \(= \frac{1}{2} \cdot <<c>> \cdot h\), so \(h = \frac{2K}{<<c>>} = \frac{<<twoK>>}{<<c>>} = <<h>>\).""", **kw))
        paras.append(T(r"""Largest angle: it's opposite the longest side, call it \(C\). Law of cosines: \(\cos C = \frac{a^2 + b^2 - c^2}{2ab} = \frac{<<a2>> + <<b2>> - <<c2>>}{2 \cdot <<a>> \cdot <<b>>} = \frac{<<num>>}{<<twoab>>} = <<cosC>>\). That's about \(<<angle>>^\circ\), <<obtuse>> as predicted.""", **kw))
    paras.append(T(r"""<<check>> Independent route to the area via the angle \(C\) between sides <<a>> and <<b>>. \(\cos C = \frac{<<num>>}{<<twoab>>}\), so \(\sin^2 C = 1 - \cos^2 C = \frac{<<twoab2>> - <<num2>>}{<<twoab2>>} = \frac{<<sixteenK2>>}{<<twoab2>>}\). And \(<<sixteenK2>> = <<fourK_>>^2\), so \(\sin C = \frac{<<fourK_>>}{<<twoab>>} = <<sinC>>\). Then the area is \(\frac{1}{2}ab\sin C = <<half_ab>> \cdot <<sinC>> = <<K>>\). Matches Heron.""", check=c.pick(CHECK), **kw))
    if variant == "radii":
        paras.append(T(r"""The law of sines gives the circumradius too: \(\frac{c}{\sin C} = 2R\), so \(R = \frac{<<c>>}{2 \cdot <<sinC>>} = <<R>>\). Same value. And Euler's inequality \(R \ge 2r\) holds: \(<<R>> \ge <<twor>>\), with room to spare (equality would mean equilateral).""", **kw))
    else:
        paras.append(T(r"""Coordinates as a check on the altitude: put the side of length <<c>> on the x-axis from \((0,0)\) to \((<<c>>, 0)\), with the vertex at distance <<b>> from the origin and <<a>> from \((<<c>>,0)\). Subtracting the two circle equations gives \(x = \frac{<<b>>^2 + <<c>>^2 - <<a>>^2}{2 \cdot <<c>>} = <<xC>>\), and then \(y^2 = <<b2>> - <<xC2>> = <<h2>>\), so \(y = <<h>>\). The height of that vertex above the base is exactly the altitude, so \(h = <<h>>\) is confirmed.""", **kw))
    if c.extra >= 2:
        paras.append(recheck(c, [f"s = {P}/2 = {s}; s - a = {s - a}, s - b = {s - b}, s - c = {s - cc}", say_mul(s * (s - a), (s - b) * (s - cc)),
                                 say_mul(K, K) + " (so the area is " + str(K) + ")",
                                 (f"{a} * {b} * {cc} = {a * b * cc}, and 4 * {K} = {4 * K}" if variant == "radii" else f"2 * {K} = {2 * K}, divided by {cc} is {pf(h)}")]))
    if c.extra >= 3 and variant == "radii":
        paras.append(T(r"""A last geometric check on the inradius: the tangent lengths from the vertices to the incircle are \(s - a = <<sa>>\), \(s - b = <<sb>>\) and \(s - c = <<sc>>\), and each side is the sum of two of them: \(<<sb>> + <<sc>> = <<a>>\), \(<<sa>> + <<sc>> = <<b>>\), \(<<sa>> + <<sb>> = <<c>>\). The area is also \(r\) times the sum of the tangent lengths, \(<<r>> \times (<<sa>> + <<sb>> + <<sc>>) = <<r>> \times <<s>> = <<K>>\). Consistent.""", **kw))
    ansline = (T(r"""area \(<<K>>\), inradius \(<<r>>\), circumradius \(<<R>>\)""", **kw) if variant == "radii"
               else T(r"""area \(<<K>>\), altitude \(<<h>>\), \(\cos C = <<cosC>>\)""", **kw))
    paras.append(summary(c, [
        T(r"""Semi-perimeter \(s = <<s>>\) (not the perimeter), Heron gives area \(\sqrt{<<prod>>} = <<K>>\).""", **kw),
        (T(r"""\(r = K/s = <<r>>\), \(R = abc/(4K) = <<R>>\).""", **kw) if variant == "radii" else T(r"""\(h = 2K/<<c>> = <<h>>\), \(\cos C = <<cosC>>\).""", **kw)),
        ("Checked with the law of cosines and the law of sines." if variant == "radii" else "Checked with the law of cosines and with coordinates."),
    ]))
    if variant == "radii":
        answer = T(r"""With \(s = <<s>>\), Heron's formula gives \(K = \sqrt{<<s>> \cdot <<sa>> \cdot <<sb>> \cdot <<sc>>} = <<K>>\). Then
\[
r = \frac{K}{s} = <<r>>, \qquad R = \frac{abc}{4K} = \frac{<<abc>>}{<<fourK>>} = <<R>>.
\]

\[
\boxed{K = <<K>>,\ r = <<r>>,\ R = <<R>>}
\]""", **kw)
    else:
        answer = T(r"""With \(s = <<s>>\), Heron's formula gives \(K = \sqrt{<<s>> \cdot <<sa>> \cdot <<sb>> \cdot <<sc>>} = <<K>>\). The altitude to the side of length <<c>> is \(h = \frac{2K}{<<c>>} = <<h>>\), and the largest angle satisfies
\[
\cos C = \frac{<<a>>^2 + <<b>>^2 - <<c>>^2}{2 \cdot <<a>> \cdot <<b>>} = <<cosC>>.
\]

\[
\boxed{K = <<K>>,\ h = <<h>>,\ \cos C = <<cosC>>}
\]""", **kw)
    task = (f"find the area, inradius and circumradius of a triangle with sides {a}, {b}, {cc}" if variant == "radii" else
            f"find the area, the altitude to the longest side and the cosine of the largest angle of a triangle with sides {a}, {b}, {cc}")
    return trace("math", "geometry", task, problem, paras, answer, 3)


def math_geometry(c: Ctx, variant: str | None = None):
    return _triangle(c, variant)


COLOR_SETS = [("red", "blue", "green"), ("red", "white", "black"), ("yellow", "purple", "orange")]


def _prob_urn(c: Ctx):
    names = c.pick(COLOR_SETS)
    cnt = [c.randint(3, 8) for _ in range(3)]
    N = sum(cnt)
    C = math.comb
    same = sum(C(x, 2) for x in cnt)
    tot = C(N, 2)
    p = Fraction(same, tot)
    pw = Fraction(sum(x * x for x in cnt), N * N)
    diff = cnt[0] * cnt[1] + cnt[0] * cnt[2] + cnt[1] * cnt[2]
    kw = dict(c0n=names[0], c1n=names[1], c2n=names[2], N=N, tot=tot, same=same, p=tf(p), pdec=fx(float(p), 4), pw=tf(pw), pwdec=fx(float(pw), 4), diff=diff,
              pdiff=tf(Fraction(diff, tot)), NN=N * N, N1=N - 1, sq=" + ".join(f"{x}^2" for x in cnt),
              sqv=sum(x * x for x in cnt), pairs=" + ".join(f"\\binom{{{x}}}{{2}}" for x in cnt),
              pairv=" + ".join(str(C(x, 2)) for x in cnt), balls=join_words(f"{x} {nm}" for x, nm in zip(cnt, names)),
              seq=" + ".join(f"\\frac{{{x}}}{{{N}}} \\cdot \\frac{{{x - 1}}}{{{N - 1}}}" for x in cnt),
              seqn=" + ".join(f"{x * (x - 1)}" for x in cnt), seqnum=sum(x * (x - 1) for x in cnt), NN1=N * (N - 1),
              prods=" + ".join([f"{cnt[0]} \\cdot {cnt[1]}", f"{cnt[0]} \\cdot {cnt[2]}", f"{cnt[1]} \\cdot {cnt[2]}"]),
              prodv=" + ".join(str(v) for v in [cnt[0] * cnt[1], cnt[0] * cnt[2], cnt[1] * cnt[2]]))
    problem = T(r"""A bag contains <<balls>> balls. Two balls are drawn at random without replacement. What is the probability that both balls are the same color?""", **kw)
    paras = [
        T(r"""There are \(<<N>>\) balls in total. "Same color" means both <<c0n>>, both <<c1n>>, or both <<c2n>>. These three events are mutually exclusive, so I can add their probabilities.""", **kw),
        T(r"""For each color, the chance of drawing it is (count)/<<N>>, so the chance of two of that color is \((\text{count}/<<N>>)^2\). Adding over colors: \(\frac{<<sq>>}{<<N>>^2} = \frac{<<sqv>>}{<<NN>>} = <<pw>> \approx <<pwdec>>\).""", **kw),
        T(r"""<<wait>>squaring treats the two draws as independent, which is drawing with replacement. Here the first ball is not put back, so after drawing one ball of some color, there's one fewer of that color and one fewer ball overall. I need to account for that.""", wait=c.pick(WAIT), **kw),
        T(r"""To see the difference concretely, take a tiny bag with 2 red balls \(R_1, R_2\) and 1 blue ball \(B\). Without replacement the possible pairs are \(\{R_1, R_2\}, \{R_1, B\}, \{R_2, B\}\), equally likely, and only the first is same-colored: probability \(\frac{1}{3}\). The squaring formula would give \(\frac{2^2 + 1^2}{3^2} = \frac{5}{9}\), which is the with-replacement answer (it counts drawing \(B\) twice, for example). So I definitely need the without-replacement calculation.""", **kw),
        T(r"""Counting approach: the number of unordered pairs of balls is \(\binom{<<N>>}{2} = \frac{<<N>> \cdot <<N1>>}{2} = <<tot>>\), all equally likely. The same-color pairs number \(<<pairs>> = <<pairv>> = <<same>>\). So
\[
P(\text{same}) = \frac{<<same>>}{<<tot>>} = <<p>> \approx <<pdec>>.
\]""", **kw),
        T(r"""<<alt>>sequential draws. For each color, \(P(\text{first is that color}) \cdot P(\text{second is too} \mid \text{first was})\):
\[
<<seq>> = \frac{<<seqn>>}{<<NN1>>} = \frac{<<seqnum>>}{<<NN1>>} = <<p>>.
\]
Same answer, as it should be: ordered and unordered counting both give the same probability.""", alt=c.pick(ALSO), **kw),
        T(r"""Complement check: the probability of two different colors counts pairs with one ball from each of two colors: \(<<prods>> = <<prodv>> = <<diff>>\) pairs, so \(P(\text{different}) = \frac{<<diff>>}{<<tot>>} = <<pdiff>>\). And \(<<same>> + <<diff>> = <<tot>>\), so the two probabilities add to 1. Good.""", **kw),
        T(r"""Intuition check: without replacement, drawing a ball of some color makes a second ball of that color slightly less likely, so the answer should be a bit smaller than the with-replacement value. Indeed \(<<pdec>> < <<pwdec>>\).""", **kw),
    ]
    if c.extra >= 2:
        paras.append(recheck(c, [f"{N} * {N - 1} / 2 = {tot}"] + [f"C({x}, 2) = {x} * {x - 1} / 2 = {C(x, 2)}" for x in cnt]
                             + [f"{same} / {tot} reduces to {pf(p)}"]))
    if c.extra >= 3:
        t3 = C(N, 3)
        g3 = cnt[0] * cnt[1] * cnt[2]
        paras.append(T(r"""As a side note, the same counting handles three draws. The chance that three balls drawn without replacement are all different colors is \(\frac{<<c0>> \cdot <<c1>> \cdot <<c2>>}{\binom{<<N>>}{3}} = \frac{<<g3>>}{<<t3>>} = <<p3>>\), since each rainbow triple is one ball from each color. Not what's asked, but it confirms I have the counting framework straight.""", c0=cnt[0], c1=cnt[1], c2=cnt[2], g3=g3, t3=t3, p3=tf(Fraction(g3, t3)), **kw))
    paras.append(summary(c, [
        T(r"""Total unordered pairs \(\binom{<<N>>}{2} = <<tot>>\); same-color pairs \(<<same>>\).""", **kw),
        T(r"""\(P = <<p>>\) (not \(<<pw>>\), which would be with replacement).""", **kw),
        r"""Sequential computation and the complement both agree.""",
    ]))
    answer = T(r"""There are \(\binom{<<N>>}{2} = <<tot>>\) equally likely pairs, of which \(<<pairs>> = <<same>>\) are the same color. So
\[
P = \frac{<<same>>}{<<tot>>} = <<p>>.
\]

\[
\boxed{<<p>>}
\]""", **kw)
    return trace("math", "probability", "find the probability that two balls drawn without replacement match in color", problem, paras, answer, 3)


def _two_dice(t: int) -> int:
    return max(0, 6 - abs(t - 7)) if 2 <= t <= 12 else 0


def _prob_dice(c: Ctx):
    s = c.randint(9, 15)
    C = math.comb
    terms = [(j, C(3, j), C(s - 6 * j - 1, 2)) for j in range(4) if s - 6 * j - 1 >= 2]
    count = sum((-1) ** j * a * b for j, a, b in terms)
    by_first = [(d, s - d, _two_dice(s - d)) for d in range(1, 7)]
    assert sum(x for _, _, x in by_first) == count
    p = Fraction(count, 216)
    kw = dict(s=s, count=count, p=tf(p), pdec=fx(float(p), 4), s1=s - 1, s7=s - 7, s13=s - 13, Cs=C(s - 1, 2),
              ie=" ".join((f"- {a} \\binom{{{s - 6 * j - 1}}}{{2}}" if j % 2 else (f"+ {a} \\binom{{{s - 6 * j - 1}}}{{2}}" if j else f"\\binom{{{s - 1}}}{{2}}")) for j, a, b in terms),
              iev=" ".join((f"- {a * b}" if j % 2 else (f"+ {a * b}" if j else f"{b}")) for j, a, b in terms),
              firsts="\n".join(f"- first die {d}: the other two must sum to {t}, which happens in {x} way{'s' if x != 1 else ''}" for d, t, x in by_first),
              fsum=" + ".join(str(x) for _, _, x in by_first), sym=21 - s, over=C(s - 1, 2) - count)
    problem = T(r"""Three fair six-sided dice are rolled. What is the probability that the sum of the numbers shown is <<s>>?""", **kw)
    paras = [
        T(r"""There are \(6^3 = 216\) equally likely outcomes (ordered triples). I need the number of ordered triples \((a, b, c)\) with each entry between 1 and 6 and \(a + b + c = <<s>>\).""", **kw),
        T(r"""Stars and bars: substitute \(a' = a - 1\) etc., so \(a' + b' + c' = <<s>> - 3\) with \(a', b', c' \ge 0\). The number of nonnegative solutions is \(\binom{<<s>> - 3 + 2}{2} = \binom{<<s1>>}{2} = <<Cs>>\). So the probability would be \(<<Cs>>/216\).""", **kw),
        T(r"""<<wait>>stars and bars doesn't know that a die can't show more than 6. With a total of <<s>>, one die could be 7 or more in those <<Cs>> solutions (for instance \((<<big>>, 1, 1)\)), and those aren't real outcomes. I need inclusion-exclusion to remove solutions where some die exceeds 6.""",
          wait=c.pick(WAIT), big=s - 2, **kw),
        T(r"""Before applying inclusion-exclusion to three dice, let me test the idea on two dice, where I know the answers. Two dice summing to 10: stars and bars gives \(\binom{10 - 1}{1} = 9\) solutions in positive integers, but the real count is 3 (4+6, 5+5, 6+4). The fake ones are those with a die of 7 or more: \((7,3), (8,2), (9,1)\) and the mirror images, 6 of them, and \(9 - 6 = 3\). The correction term counts, for each die, the solutions where it's at least 7: setting \(a = 6 + a''\) leaves \(a'' + b = 4\) with both at least 1, which has \(\binom{3}{1} = 3\) solutions, times 2 dice = 6. Good, the method works.""", **kw),
        T(r"""If die \(a\) is at least 7, write \(a = 6 + a''\) with \(a'' \ge 1\); then \(a'' + b + c = <<s>> - 6\) with all three at least 1, which has \(\binom{<<s>> - 6 - 1}{2}\) solutions. Any one of the 3 dice could be the big one. If two dice were both at least 7 the sum would be at least 15, which <<twobig>> Inclusion-exclusion:
\[
<<ie>> = <<iev>> = <<count>>.
\]""", twobig=("is possible here, so that term is added back." if s >= 15 else "is impossible for this total."), **kw),
        T(r"""So there are <<count>> favorable outcomes, and <<over>> of the stars-and-bars solutions were fake. The probability is \(\frac{<<count>>}{216} = <<p>> \approx <<pdec>>\).""", **kw),
        T(r"""<<check>> Condition on the first die. Two dice sum to \(t\) in \(6 - |t - 7|\) ways for \(2 \le t \le 12\) (and 0 ways otherwise):
<<firsts>>
Total: \(<<fsum>> = <<count>>\). Matches.""", check=c.pick(CHECK), **kw),
        T(r"""Symmetry check: replacing each die value \(x\) by \(7 - x\) maps sums of <<s>> to sums of \(21 - <<s>> = <<sym>>\), so both sums must have the same count. Computing the count for <<sym>> with the same inclusion-exclusion recipe gives <<symcount>>, consistent.""", symcount=sum((-1) ** j * C(3, j) * C(21 - s - 6 * j - 1, 2) for j in range(4) if 21 - s - 6 * j - 1 >= 2), **kw),
    ]
    if c.extra >= 2:
        paras.append(T(r"""As a broader sanity check, the distribution of three dice is symmetric about 10.5 and peaks at 10 and 11 with 27 outcomes each. <<count>> <<rel>> 27, which fits a total of <<s>>.""", rel="is at most", **kw))
    if c.extra >= 3:
        dist = [sum(1 for x in range(1, 7) for y in range(1, 7) if 1 <= t - x - y <= 6) for t in range(3, 19)]
        paras.append(T(r"""For completeness, here is the whole distribution of the sum of three dice (sums 3 to 18), built by the same conditioning: <<dist>>. These add up to <<tot>>, which is \(6^3\), and the entry for <<s>> is <<count>>. The probability of a sum of at least <<s>> would be \(\frac{<<ge>>}{216} = <<pge>>\), but the question only asks for exactly <<s>>.""",
                       dist=", ".join(str(x) for x in dist), tot=sum(dist), ge=sum(dist[s - 3:]), pge=tf(Fraction(sum(dist[s - 3:]), 216)), **kw))
    paras.append(summary(c, [
        T(r"""Stars and bars without the cap gives <<Cs>>, which overcounts.""", **kw),
        T(r"""Inclusion-exclusion for dice above 6: <<count>> outcomes.""", **kw),
        T(r"""Probability \(<<count>>/216 = <<p>>\), confirmed by conditioning on the first die.""", **kw),
    ]))
    answer = T(r"""Count ordered triples of values in \(\{1,\dots,6\}\) summing to <<s>>. By stars and bars with inclusion-exclusion (removing solutions where a die exceeds 6),
\[
<<ie>> = <<count>>.
\]
So the probability is
\[
\frac{<<count>>}{216} = <<p>>.
\]

\[
\boxed{<<p>>}
\]""", **kw)
    return trace("math", "probability", f"find the probability that three dice sum to {s}", problem, paras, answer, 4)


def math_probability(c: Ctx, variant: str | None = None):
    variant = variant or c.pick(["urn", "urn", "dice"])
    return {"urn": _prob_urn, "dice": _prob_dice}[variant](c)


def _divisor_numbers():
    out = []
    for e1 in range(1, 5):
        for e2 in range(1, 4):
            for p in (5, 7, 11, 13):
                for e3 in (1, 2):
                    N = 2**e1 * 3**e2 * p**e3
                    if 100 <= N <= 5000 and (e1 + 1) * (e2 + 1) * (e3 + 1) <= 36:
                        out.append((N, ((2, e1), (3, e2), (p, e3))))
    return out


DIVISOR_NUMBERS = _divisor_numbers()


def math_divisors(c: Ctx, variant: str | None = None):
    N, fac = c.pick(DIVISOR_NUMBERS)
    divs = [d for d in range(1, N + 1) if N % d == 0]
    nd = len(divs)
    sigma = sum(divs)
    odd = [d for d in divs if d % 2]
    sq = [d for d in divs if math.isqrt(d) ** 2 == d]
    ask_odd = variant == "odd" if variant else c.chance(0.5)
    fac_tex = " \\cdot ".join(f"{p}^{{{e}}}" if e > 1 else f"{p}" for p, e in fac)
    wrong = 1
    for _, e in fac:
        wrong *= e
    pairs = [(d, N // d) for d in divs if d * d <= N]
    sig_parts = [(p ** (e + 1) - 1) // (p - 1) for p, e in fac]
    # factorization steps by repeated division
    steps, m = [], N
    for p, e in fac:
        for _ in range(e):
            steps.append(f"{m} / {p} = {m // p}")
            m //= p
    kw = dict(N=N, fac=fac_tex, nd=nd, sigma=sigma, wrong=wrong, steps=", ".join(steps),
              ex=" \\cdot ".join(f"({e} + 1)" for _, e in fac), exv=" \\cdot ".join(str(e + 1) for _, e in fac),
              exw=" \\cdot ".join(str(e) for _, e in fac),
              pairs="\n".join(f"- {d} and {q}" for d, q in pairs), npairs=len(pairs),
              sigf=" \\cdot ".join(f"(1 + {' + '.join(str(p ** i) for i in range(1, e + 1))})" for p, e in fac),
              sigv=" \\cdot ".join(str(v) for v in sig_parts),
              pairsums=say_running([d + q for d, q in pairs]) if len(pairs) > 1 else str(pairs[0][0] + pairs[0][1]),
              nodd=len(odd), oddl=", ".join(str(d) for d in odd), sumodd=sum(odd),
              oddex=" \\cdot ".join(f"({e} + 1)" for p, e in fac if p != 2),
              nsq=len(sq), sql=", ".join(str(d) for d in sq), smallest=fac[0][0])
    ask = "how many of them are odd" if ask_odd else "how many of them are perfect squares"
    problem = T(r"""How many positive divisors does <<N>> have, and what is their sum? Also, <<ask>>?""", ask=ask, **kw)
    paras = [
        T(r"""Everything about divisors follows from the prime factorization, so let me factor <<N>> first. Dividing out small primes: <<steps>>. So \(<<N>> = <<fac>>\).""", **kw),
        T(r"""A divisor of <<N>> is a product of the same primes with exponents no bigger than in <<N>>. So the number of divisors is the product of the exponents: \(<<exw>> = <<wrong>>\).""", **kw),
        T(r"""<<wait>>that can't be right: even the divisor 1 isn't accounted for properly. For each prime, the exponent in a divisor can be any value from 0 up to the exponent in <<N>>, inclusive, so a prime with exponent \(e\) contributes \(e + 1\) choices, not \(e\). Redo:
\[
d(<<N>>) = <<ex>> = <<exv>> = <<nd>>.
\]""", wait=c.pick(WAIT), **kw),
        T(r"""<<check>> Listing divisors in complementary pairs \((d, <<N>>/d)\) with \(d \le \sqrt{<<N>>}\):
<<pairs>>
That's <<npairs>> pairs, so <<nd>> divisors<<sqnote>>. Good, matches the formula.""", check=c.pick(CHECK),
          sqnote=(" (the square root pairs with itself, so it's counted once)" if math.isqrt(N) ** 2 == N else ""), **kw),
        T(r"""Sum of divisors: the sum factors the same way, because expanding the product \(\prod_p (1 + p + \cdots + p^{e})\) produces every divisor exactly once:
\[
\sigma(<<N>>) = <<sigf>> = <<sigv>> = <<sigma>>.
\]""", **kw),
        T(r"""<<alt>>add up the pairs from my list. The pair sums, accumulated: <<pairsums>>. <<sqfix>>So the total is <<sigma>>. It matches the formula.""", alt=c.pick(ALSO),
          sqfix=(f"The square root {math.isqrt(N)} was listed paired with itself, so I subtract it once. " if math.isqrt(N) ** 2 == N else ""), **kw),
    ]
    if ask_odd:
        paras.append(T(r"""Odd divisors: a divisor is odd exactly when it has no factor of 2, i.e. the exponent of 2 is 0. The other primes are free, so the count is \(<<oddex>> = <<nodd>>\). From my list they are <<oddl>>, which is <<nodd>> numbers. (Their sum is <<sumodd>>, the sum of divisors of the odd part of <<N>>.)""", **kw))
    else:
        paras.append(T(r"""Perfect-square divisors: a divisor is a perfect square exactly when every exponent in it is even. For each prime with exponent \(e\) in <<N>>, the allowed even exponents are \(0, 2, \ldots\) up to \(e\), which is \(\lfloor e/2 \rfloor + 1\) choices. Multiplying: <<nsq>>. From my list the square divisors are <<sql>>: that's <<nsq>>.""", **kw))
    if c.extra >= 2:
        paras.append(T(r"""A rough plausibility check on \(\sigma\): the sum of divisors of a number with many small prime factors is typically a few times the number itself. Here \(\sigma(<<N>>)/<<N>> \approx <<ratio>>\), which is reasonable for a number divisible by 2 and 3 (for instance \(\sigma(6)/6 = 2\) and \(\sigma(12)/12 \approx 2.33\)).""", ratio=fx(sigma / N, 2), **kw))
    paras.append(summary(c, [
        T(r"""\(<<N>> = <<fac>>\).""", **kw),
        T(r"""Number of divisors \(<<ex>> = <<nd>>\) (exponents plus one).""", **kw),
        T(r"""Sum of divisors \(<<sigv>> = <<sigma>>\), confirmed by adding the listed pairs.""", **kw),
        (T(r"""Odd divisors: <<nodd>>.""", **kw) if ask_odd else T(r"""Square divisors: <<nsq>>.""", **kw)),
    ]))
    last = T(r"""<<nodd>> of them are odd""", **kw) if ask_odd else T(r"""<<nsq>> of them are perfect squares""", **kw)
    answer = T(r"""Since \(<<N>> = <<fac>>\),
\[
d(<<N>>) = <<ex>> = <<nd>>, \qquad \sigma(<<N>>) = <<sigf>> = <<sigma>>.
\]
<<lastcap>>.

\[
\boxed{<<nd>> \text{ divisors, sum } <<sigma>>,\ <<lastbox>>}
\]""", lastcap=last[0].upper() + last[1:], lastbox=(f"{len(odd)} \\text{{ odd}}" if ask_odd else f"{len(sq)} \\text{{ squares}}"), **kw)
    return trace("math", "number_theory", f"count and add up the divisors of {N}", problem, paras, answer, 3)


SYSTEM_CONTEXTS = {
    "tickets": dict(u=(9, 20), v=(4, 8), x="adult tickets", y="child tickets", lo=20, hi=160,
                    problem="A theater sold <<T>> tickets for a show. Adult tickets cost \\$<<u>> each and child tickets cost \\$<<v>> each. The total revenue was \\$<<R>>. How many adult tickets and how many child tickets were sold?",
                    unit_T="tickets", unit_R="dollars"),
    "coins": dict(u=(25, 25), v=(10, 10), x="quarters", y="dimes", lo=8, hi=60,
                  problem="A jar contains only quarters and dimes, <<T>> coins in all, worth \\$<<Rd>>. How many quarters and how many dimes are in the jar?",
                  unit_T="coins", unit_R="cents"),
    "animals": dict(u=(4, 4), v=(2, 2), x="cows", y="chickens", lo=10, hi=80,
                    problem="A farm has only cows and chickens. Altogether the animals have <<T>> heads and <<R>> legs. How many cows and how many chickens are there?",
                    unit_T="heads", unit_R="legs"),
}


def math_linear_system(c: Ctx, variant: str | None = None):
    ctx_name = variant or c.pick(list(SYSTEM_CONTEXTS))
    ctx = SYSTEM_CONTEXTS[ctx_name]
    u = c.randint(*ctx["u"])
    v = c.randint(*ctx["v"])
    x, y = c.randint(ctx["lo"], ctx["hi"]), c.randint(ctx["lo"], ctx["hi"])
    Tt, R = x + y, u * x + v * y
    xw = Fraction(R - v * Tt, u + v)
    kw = dict(u=u, v=v, x=x, y=y, T=Tt, R=R, Rd=f"{R / 100:.2f}", X=ctx["x"], Y=ctx["y"], uT=ctx["unit_T"],
              uR=ctx["unit_R"], vT=v * Tt, uTT=u * Tt, RvT=R - v * Tt, uTR=u * Tt - R, umv=u - v, upv=u + v,
              xw=tf(xw), xwdec=fx(float(xw), 3), ux=u * x, vy=v * y, det=v - u, Tv=Tt * v,
              mulvT=say_mul(v, Tt), mulux=say_mul(u, x), mulvy=say_mul(v, y), mulT=say_mul(u, Tt))
    problem = T(ctx["problem"], **kw)
    paras = [
        T(r"""Let \(x\) be the number of <<X>> and \(y\) the number of <<Y>>. There are two facts, so two equations. Counting <<uT>>: \(x + y = <<T>>\). Counting <<uR>>: each of the <<X>> contributes <<u>> and each of the <<Y>> contributes <<v>>, so \(<<u>>x + <<v>>y = <<R>>\).""", **kw),
        T(r"""Before the algebra, a quick feasibility check: if all <<T>> were <<Y>>, the total would be \(<<v>> \cdot <<T>> = <<vT>>\) <<uR>>, and if all were <<X>> it would be \(<<u>> \cdot <<T>> = <<uTT>>\). The actual total <<R>> lies between those, so there is a valid split, and it should be somewhere in the middle.""", **kw),
        T(r"""Substitution: \(y = <<T>> - x\), so \(<<u>>x + <<v>>(<<T>> - x) = <<R>>\). Expanding: \(<<u>>x + <<vT>> - <<v>>x = <<R>>\)... let me collect terms: \(<<upv>>x = <<R>> - <<vT>> = <<RvT>>\), so \(x = <<xw>> \approx <<xwdec>>\).""", **kw),
        T(r"""<<wait>>that <<bad>>. Let me look at the collecting step again: \(<<u>>x - <<v>>x\) is \((<<u>> - <<v>>)x = <<umv>>x\), not \(<<upv>>x\). I added the coefficients instead of subtracting them. So \(<<umv>>x = <<RvT>>\), and \(x = <<RvT>>/<<umv>> = <<x>>\).""", wait=c.pick(WAIT),
          bad=("isn't a whole number, and you can't have a fraction of a " + ctx["x"].rstrip("s") if xw.denominator != 1 else "gives a suspiciously small number; let me check it against the second equation before going on"), **kw),
        T(r"""Then \(y = <<T>> - <<x>> = <<y>>\).""", **kw),
        T(r"""<<check>> Count: \(<<x>> + <<y>> = <<T>>\). Total: <<mulux>> and <<mulvy>>, and \(<<ux>> + <<vy>> = <<R>>\). Both equations hold.""", check=c.pick(CHECK), **kw),
        T(r"""<<alt>>elimination. Multiply the first equation by <<u>>: \(<<u>>x + <<u>>y = <<uTT>>\). Subtract the second equation: \((<<u>> - <<v>>)y = <<uTT>> - <<R>>\), i.e. \(<<umv>>y = <<uTR>>\), so \(y = <<y>>\). Then \(x = <<T>> - <<y>> = <<x>>\). Same result.""", alt=c.pick(ALSO), **kw),
        T(r"""There's also the classic mental shortcut: start by assuming all <<T>> are <<Y>>, giving <<vT>>. Each swap of one of the <<Y>> for one of the <<X>> adds \(<<u>> - <<v>> = <<umv>>\). The shortfall is \(<<R>> - <<vT>> = <<RvT>>\), so the number of swaps is \(<<RvT>>/<<umv>> = <<x>>\). Exactly the same computation as substitution, just phrased in words, and it makes the earlier mistake obvious: the swap changes the total by the difference of the values, not their sum.""", **kw),
    ]
    if c.extra >= 2:
        paras.append(T(r"""And with Cramer's rule, just to see all the methods agree: the coefficient determinant of \(\begin{pmatrix} 1 & 1 \\ <<u>> & <<v>> \end{pmatrix}\) is \(1 \cdot <<v>> - 1 \cdot <<u>> = <<det>>\). Then \(x = \frac{<<T>> \cdot <<v>> - 1 \cdot <<R>>}{<<det>>} = \frac{<<Tv>> - <<R>>}{<<det>>} = <<x>>\) and \(y = \frac{1 \cdot <<R>> - <<u>> \cdot <<T>>}{<<det>>} = \frac{<<R>> - <<uTT>>}{<<det>>} = <<y>>\). Consistent.""", **kw))
    paras.append(summary(c, [
        T(r"""Equations: \(x + y = <<T>>\), \(<<u>>x + <<v>>y = <<R>>\).""", **kw),
        T(r"""Substitution gives \(<<umv>>x = <<RvT>>\) (coefficients subtract), so \(x = <<x>>\), \(y = <<y>>\).""", **kw),
        r"""Checked in both equations and by elimination.""",
    ]))
    answer = T(r"""Let \(x\) be the number of <<X>> and \(y\) the number of <<Y>>:
\[
x + y = <<T>>, \qquad <<u>>x + <<v>>y = <<R>>.
\]
Substituting \(y = <<T>> - x\) gives \(<<umv>>x = <<RvT>>\), so \(x = <<x>>\) and \(y = <<y>>\). Check: \(<<u>> \cdot <<x>> + <<v>> \cdot <<y>> = <<R>>\).

\[
\boxed{<<x>> \text{ <<X>>},\ <<y>> \text{ <<Y>>}}
\]""", **kw)
    return trace("math", "algebra", f"solve a two-variable word problem about {ctx['x']} and {ctx['y']}", problem, paras, answer, 2)


def math_lattice(c: Ctx, variant: str | None = None):
    variant = variant or c.pick(["avoid", "through"])
    W, H = c.randint(4, 7), c.randint(3, 6)
    a, b = c.randint(1, W - 1), c.randint(1, H - 1)
    C = math.comb
    total = C(W + H, W)
    to_p, from_p = C(a + b, a), C(W - a + H - b, W - a)
    through = to_p * from_p
    avoid = total - through
    grid = [[0] * (W + 1) for _ in range(H + 1)]
    for yy in range(H + 1):
        for xx in range(W + 1):
            if (xx, yy) == (a, b):
                grid[yy][xx] = 0
            elif xx == 0 and yy == 0:
                grid[yy][xx] = 1
            else:
                grid[yy][xx] = (grid[yy][xx - 1] if xx else 0) + (grid[yy - 1][xx] if yy else 0)
    assert grid[H][W] == avoid
    ans = avoid if variant == "avoid" else through
    rows = "\n".join(f"- \\(y = {yy}\\): " + ", ".join(str(v) for v in grid[yy]) for yy in range(H + 1))
    kw = dict(W=W, H=H, a=a, b=b, WH=W + H, total=total, to_p=to_p, from_p=from_p, through=through, avoid=avoid,
              ans=ans, ab=a + b, rest=W - a + H - b, Wa=W - a, Hb=H - b, wrong=to_p + from_p, rows=rows,
              mul=say_mul(to_p, from_p) if to_p > 1 and from_p > 1 else f"{to_p} * {from_p} = {through}",
              fact=f"{W + H}! / ({W}! {H}!)")
    verb = "do not pass through" if variant == "avoid" else "pass through"
    problem = T(r"""A path on the integer grid starts at \((0,0)\) and ends at \((<<W>>,<<H>>)\), moving one unit right or one unit up at each step. How many such paths <<verb>> the point \((<<a>>,<<b>>)\)?""", verb=verb, **kw)
    paras = [
        T(r"""Every such path consists of exactly <<W>> right-steps (R) and <<H>> up-steps (U), <<WH>> steps in all, and a path is determined by which of the <<WH>> positions hold the R's. So the total number of paths is \(\binom{<<WH>>}{<<W>>} = <<total>>\).""", **kw),
        T(r"""Let me sanity check that formula on a tiny grid: from \((0,0)\) to \((2,2)\) the paths are RRUU, RURU, RUUR, URRU, URUR, UURR, which is 6, and \(\binom{4}{2} = 6\). Good.""", **kw),
        T(r"""Paths through \((<<a>>,<<b>>)\): the path splits into a part from \((0,0)\) to \((<<a>>,<<b>>)\) and a part from \((<<a>>,<<b>>)\) to \((<<W>>,<<H>>)\). The first part has \(\binom{<<ab>>}{<<a>>} = <<to_p>>\) options, the second has \(<<Wa>>\) rights and \(<<Hb>>\) ups, so \(\binom{<<rest>>}{<<Wa>>} = <<from_p>>\) options. So there are \(<<to_p>> + <<from_p>> = <<wrong>>\) paths through the point.""", **kw),
        T(r"""<<wait>>combining the two halves isn't a sum. Any first half can be followed by any second half, so the choices multiply: <<mul>> paths go through \((<<a>>,<<b>>)\). Adding would be right if I had to choose either one or the other, which isn't the situation.""", wait=c.pick(WAIT), **kw),
    ]
    if variant == "avoid":
        paras.append(T(r"""So the paths avoiding the point number \(<<total>> - <<through>> = <<avoid>>\).""", **kw))
    else:
        paras.append(T(r"""So <<through>> paths pass through the point, and consequently \(<<total>> - <<through>> = <<avoid>>\) avoid it.""", **kw))
    paras.append(T(r"""<<check>> Dynamic programming: the number of ways to reach a lattice point is the sum of the ways to reach the point to its left and the point below it, with the blocked point \((<<a>>,<<b>>)\) set to 0 so that no path uses it. Row by row from the bottom (the entries are \(x = 0, 1, \ldots, <<W>>\)):
<<rows>>
The top-right entry is <<avoid>>, the number of paths avoiding the point. <<tail>>""", check=c.pick(CHECK),
                   tail=("That matches." if variant == "avoid" else "Then the paths through it are \\(<<total>> - <<avoid>> = <<through>>\\), matching."), **kw).replace("<<total>>", str(total)).replace("<<avoid>>", str(avoid)).replace("<<through>>", str(through)))
    if c.extra >= 2:
        paras.append(T(r"""Also, the fraction of paths that go through the point is \(\frac{<<through>>}{<<total>>} \approx <<frac>>\). <<comment>>""", frac=fx(through / total, 3),
                       comment=("That's a large share, which makes sense because the point sits near the diagonal of the grid, where paths are concentrated." if abs(a / W - b / H) < 0.25
                                else "It's a modest share, which makes sense because the point is off the diagonal, and most paths stay closer to it."), **kw))
        paras.append(recheck(c, [f"C({W + H}, {W}) = {total}", f"C({a + b}, {a}) = {to_p}", f"C({W - a + H - b}, {W - a}) = {from_p}",
                                 f"{to_p} * {from_p} = {through}", f"{total} - {through} = {avoid}"]))
    paras.append(summary(c, [
        T(r"""All paths: \(\binom{<<WH>>}{<<W>>} = <<total>>\).""", **kw),
        T(r"""Through \((<<a>>,<<b>>)\): \(\binom{<<ab>>}{<<a>>}\binom{<<rest>>}{<<Wa>>} = <<through>>\) (multiply, don't add).""", **kw),
        T(r"""Avoiding it: \(<<avoid>>\); confirmed by the DP table.""", **kw),
    ]))
    box = "avoid" if variant == "avoid" else "through"
    answer = T(r"""There are \(\binom{<<WH>>}{<<W>>} = <<total>>\) paths in all, and \(\binom{<<ab>>}{<<a>>}\binom{<<rest>>}{<<Wa>>} = <<to_p>> \cdot <<from_p>> = <<through>>\) of them pass through \((<<a>>,<<b>>)\).""", **kw)
    if box == "avoid":
        answer += T(r""" Hence \(<<total>> - <<through>> = <<avoid>>\) avoid it.

\[
\boxed{<<avoid>>}
\]""", **kw)
    else:
        answer += T(r"""

\[
\boxed{<<through>>}
\]""", **kw)
    return trace("math", "combinatorics", "count lattice paths relative to a point", problem, paras, answer, 3)


# ---------------------------------------------------------------------------------------------
# code families
# ---------------------------------------------------------------------------------------------

TWO_SUM_CODE = '''```python
def two_sum(nums: list[int], target: int) -> list[int]:
    seen = {}  # value -> index where we saw it
    for i, x in enumerate(nums):
        need = target - x
        if need in seen:
            return [seen[need], i]
        seen[x] = i
    return []
```'''


def code_two_sum(c: Ctx, variant: str | None = None):
    while True:
        n = c.randint(6, 9)
        nums = [c.randint(-9, 25) for _ in range(n)]
        i, j = sorted(c.rng.sample(range(n), 2))
        target = nums[i] + nums[j]
        pairs = [(p, q) for p in range(n) for q in range(p + 1, n) if nums[p] + nums[q] == target]
        if len(pairs) == 1 and target % 2 == 0 and nums.count(target // 2) == 1 and nums.index(target // 2) < j:
            break
        if len(pairs) == 1 and c.chance(0.3):
            break
    seen, steps, result = {}, [], None
    for k, x in enumerate(nums):
        need = target - x
        if need in seen:
            steps.append(f"- i = {k}, x = {x}: need {need}, which is in seen at index {seen[need]}. Return [{seen[need]}, {k}].")
            result = [seen[need], k]
            break
        seen[x] = k
        steps.append(f"- i = {k}, x = {x}: need {need}, not in seen. Store {x} -> {k}.")
    assert result == [i, j]
    half = target // 2 if target % 2 == 0 and (target // 2) in nums else None
    kw = dict(nums=nums, target=target, i=i, j=j, n=n, ni=nums[i], nj=nums[j], steps="\n".join(steps), code=TWO_SUM_CODE,
              npairs=n * (n - 1) // 2)
    problem = T(r"""Given an array of integers `nums` and an integer `target`, return the indices of the two numbers that add up to `target`. You may assume that each input has exactly one solution, and you may not use the same element twice. Return the answer as a list `[i, j]` with `i < j`.

Example: `nums = <<nums>>`, `target = <<target>>`.

Write an efficient Python function `two_sum(nums, target)`.""", **kw)
    paras = [
        T(r"""So the input is a list of integers and a target, and I have to find two different positions whose values add up to the target. Exactly one valid pair exists, and I can't use the same index twice. For the example, `nums = <<nums>>` and `target = <<target>>`.""", **kw),
        T(r"""The obvious approach is brute force: check every pair.

```python
def two_sum_brute(nums, target):
    n = len(nums)
    for i in range(n):
        for j in range(i + 1, n):
            if nums[i] + nums[j] == target:
                return [i, j]
    return []
```

That's \(O(n^2)\) time: for the example it's at most \(\binom{<<n>>}{2} = <<npairs>>\) pair checks, fine, but for \(n = 10^5\) it's about \(5 \times 10^9\) checks, way too slow. I should aim for \(O(n)\).""", **kw),
        T(r"""The key observation: for each element `x`, the partner I need is exactly `target - x`. If I can look up whether that value exists in constant time, I only need one pass. A dictionary from value to index does that.""", **kw),
        T(r"""First idea: build the whole dictionary up front, `index = {x: i for i, x in enumerate(nums)}`, then loop over `i` and check whether `target - nums[i]` is in `index`. <<wait>>there are two problems with that. If `target - x == x`, the lookup finds `x` itself and I'd return `[i, i]`, using the same element twice. For instance with `nums = [3, 2, 4]` and `target = 6`, at `i = 0` the needed value is 3, which is in the dictionary at index 0, so I'd return `[0, 0]` instead of the correct `[1, 2]`. And with duplicates like `[3, 3]`, the comprehension keeps only the last index of each value. Both are fixable with extra checks, but there's a cleaner way.""", wait=c.pick(WAIT), **kw),
        T(r"""One pass, checking before inserting: for each index `i`, first look for `target - x` among the elements *before* `i`, and only then add `x` to the dictionary. Then an element can never pair with itself, and for duplicates the earlier index is already stored when the later copy arrives.

<<code>>""", **kw),
        T(r"""Let me trace the example, `nums = <<nums>>`, `target = <<target>>`, starting from an empty `seen`:
<<steps>>

So the function returns `[<<i>>, <<j>>]`. Check: `nums[<<i>>] + nums[<<j>>] = <<ni>> + <<pnj>> = <<target>>`. Correct, and \(<<i>> < <<j>>\) as required, because the earlier index is always the one stored in `seen`.""", pnj=f"({nums[j]})" if nums[j] < 0 else nums[j], **kw),
        T(r"""Edge cases:
1. `[3, 2, 4]`, target 6: i = 0 stores 3; i = 1 needs 4, not there, stores 2; i = 2 needs 2, found at index 1, returns `[1, 2]`. The self-pair `[0, 0]` never happens, because 3 is looked up before it is stored.
2. `[3, 3]`, target 6: i = 0 stores 3 -> 0; i = 1 needs 3, found at 0, returns `[0, 1]`. Duplicates work.
3. Negative numbers and zero: nothing in the logic depends on sign; `target - x` is just arithmetic.
4. No solution (not possible per the statement): the loop finishes and returns `[]`.""", **kw),
        T(r"""<<alt>>sort and use two pointers. Sort the indices by value, put one pointer at each end, and move the left pointer right if the sum is too small or the right pointer left if it's too large. That's \(O(n \log n)\) because of the sort and needs care to report original indices, so the hash map version is better here. Still, it's a nice check: in sorted order the two values <<ni>> and <<nj>> are the only pair meeting at <<target>>.""", alt=c.pick(ALSO), **kw),
        T(r"""Complexity: one pass over the list with \(O(1)\) average dictionary operations, so \(O(n)\) time and \(O(n)\) extra space for the dictionary in the worst case.""", **kw),
    ]
    if c.extra >= 3:
        order = sorted(range(n), key=lambda k_: nums[k_])
        lo_, hi_, steps2 = 0, n - 1, []
        while lo_ < hi_:
            s2 = nums[order[lo_]] + nums[order[hi_]]
            if s2 == target:
                steps2.append(f"- {nums[order[lo_]]} + {nums[order[hi_]]} = {s2}: found")
                break
            if s2 < target:
                steps2.append(f"- {nums[order[lo_]]} + {nums[order[hi_]]} = {s2} < {target}: move left pointer right")
                lo_ += 1
            else:
                steps2.append(f"- {nums[order[lo_]]} + {nums[order[hi_]]} = {s2} > {target}: move right pointer left")
                hi_ -= 1
        paras.append(T(r"""For completeness, here's the two-pointer version, so I can compare:

```python
def two_sum_sorted(nums, target):
    order = sorted(range(len(nums)), key=lambda k: nums[k])
    lo, hi = 0, len(nums) - 1
    while lo < hi:
        s = nums[order[lo]] + nums[order[hi]]
        if s == target:
            return sorted([order[lo], order[hi]])
        if s < target:
            lo += 1
        else:
            hi -= 1
    return []
```

On the example, the values in sorted order are <<sv>>, and the pointers move like this:
<<steps2>>
It finds the same pair, indices <<i>> and <<j>>, after sorting the original indices back into order. Correct, but \(O(n \log n)\), so the hash map stays my answer.""", sv=sorted(nums), steps2="\n".join(steps2), **kw))
    if c.extra >= 2:
        paras.append(r"""One more consideration: the \(O(1)\) dictionary operations are average-case. Python's hash of an int is essentially the int itself, so someone could in principle craft inputs that collide, but for ordinary inputs that's not a concern, and the alternatives (sorting, or a balanced tree) would cost \(O(\log n)\) per operation anyway. I also considered returning early versus collecting all pairs; the problem guarantees exactly one answer, so returning at the first hit is correct and fastest.""")
    answer = T(r"""Use a single pass with a dictionary from value to index. For each element `x` at index `i`, check whether `target - x` has already been seen; if so, return the stored index and `i`, otherwise record `x`. Looking up before inserting prevents pairing an element with itself, and the earlier index is always stored, so the result is ordered.

For the example, the answer is `[<<i>>, <<j>>]`. Time \(O(n)\), space \(O(n)\).

<<code>>""", **kw)
    return trace("code", "two_sum", "write a function that finds two indices whose values add up to a target", problem, paras, answer, 2)


LIS_CODE = '''```python
from bisect import bisect_left


def length_of_lis(nums: list[int]) -> int:
    tails = []  # tails[k] = smallest tail of an increasing subsequence of length k + 1
    for x in nums:
        k = bisect_left(tails, x)
        if k == len(tails):
            tails.append(x)
        else:
            tails[k] = x
    return len(tails)
```'''


def code_lis(c: Ctx, variant: str | None = None):
    while True:
        n = c.randint(9, 11)
        nums = [c.randint(0, 20) for _ in range(n)]
        if len(set(nums)) < n:
            break
    dp, parent, lines = [1] * n, [-1] * n, []
    for i in range(n):
        best_j = -1
        for j in range(i):
            if nums[j] < nums[i] and dp[j] + 1 > dp[i]:
                dp[i], best_j = dp[j] + 1, j
        parent[i] = best_j
        smaller = [j for j in range(i) if nums[j] < nums[i]]
        if smaller:
            lines.append(f"- dp[{i}] (value {nums[i]}): smaller earlier values at indices {', '.join(map(str, smaller))}, best dp among them is {dp[i] - 1}, so dp[{i}] = {dp[i]}")
        else:
            lines.append(f"- dp[{i}] (value {nums[i]}): nothing earlier is smaller, so dp[{i}] = 1")
    L = max(dp)
    end = dp.index(L)
    seq = []
    while end != -1:
        seq.append(nums[end])
        end = parent[end]
    seq.reverse()
    tails, tl = [], []
    for x in nums:
        k = bisect.bisect_left(tails, x)
        action = f"append (new length {k + 1})" if k == len(tails) else f"replace tails[{k}] = {tails[k]} with {x}"
        if k == len(tails):
            tails.append(x)
        else:
            tails[k] = x
        tl.append(f"- x = {x}: bisect_left gives {k}, {action}; tails = {tails}")
    assert len(tails) == L
    tails_r = []
    for x in nums:
        k = bisect.bisect_right(tails_r, x)
        if k == len(tails_r):
            tails_r.append(x)
        else:
            tails_r[k] = x
    nondec = len(tails_r)
    final_tails = list(tails)
    is_sub = _is_subsequence(final_tails, nums)
    kw = dict(nums=nums, n=n, L=L, seq=seq, dp=dp, lines="\n".join(lines), tl="\n".join(tl), tails=final_tails,
              nondec=nondec, code=LIS_CODE, pairs=n * (n - 1) // 2)
    problem = T(r"""Given an integer array `nums`, return the length of the longest strictly increasing subsequence. A subsequence keeps the original order but may skip elements.

Example: `nums = <<nums>>`.

Aim for better than \(O(n^2)\) time.""", **kw)
    paras = [
        T(r"""So I need the length of the longest strictly increasing subsequence (LIS). Subsequence, not subarray: elements can be skipped, but order is preserved. Strictly increasing means equal values can't both be used. The example `<<nums>>` has some repeated values, which is a good test of the strictness.""", **kw),
        T(r"""The standard starting point is an \(O(n^2)\) DP: let `dp[i]` be the length of the longest increasing subsequence that ends exactly at index `i`. Then `dp[i] = 1 + max(dp[j] for j < i if nums[j] < nums[i])`, or 1 if there is no such `j`. The answer is `max(dp)`.

```python
def length_of_lis_quadratic(nums):
    dp = [1] * len(nums)
    for i in range(len(nums)):
        for j in range(i):
            if nums[j] < nums[i]:
                dp[i] = max(dp[i], dp[j] + 1)
    return max(dp, default=0)
```""", **kw),
        T(r"""Let me run it on the example to have a reference answer:
<<lines>>

So `dp = <<dp>>` and the maximum is <<L>>. Following the choices backwards gives one LIS: <<seq>>, which is strictly increasing and has length <<L>>.""", **kw),
        T(r"""That's \(O(n^2)\); the problem wants better. The classic improvement is patience sorting: keep an array `tails` where `tails[k]` is the smallest possible tail value of an increasing subsequence of length `k + 1` seen so far. `tails` is always sorted, so for each new `x` I can binary search for the first position with `tails[k] >= x`; if there is none, `x` extends the longest subsequence (append), otherwise `x` becomes a better (smaller) tail for length `k + 1` (replace).""", **kw),
        T(r"""<<code>>""", **kw),
        T(r"""Tracing it on the example:
<<tl>>

Final length <<L>>, matching the DP.""", **kw),
        T(r"""Now, is `tails` itself an LIS? It's tempting to return it as the subsequence. <<wait>>it isn't one in general, because a replacement can put a late small value into an early slot while the later slots hold values from earlier positions. Here the final `tails` is <<tails>>, which <<subnote>>. Only its length is meaningful. To recover an actual subsequence I'd need to store, for each element, the index of its predecessor at the time it was placed, like the parent pointers in the DP.""",
          wait=c.pick(WAIT), subnote=("happens to be a valid subsequence of the input, but that's luck" if is_sub else "is not even a subsequence of the input in that order"), **kw),
        T(r"""Another subtle point: `bisect_left` versus `bisect_right`. With `bisect_right`, an element equal to an existing tail would go after it, so equal values could extend a subsequence. That computes the longest non-decreasing subsequence instead. On this input `bisect_right` would give <<nondec>><<cmp>>. For strictly increasing, `bisect_left` is correct: an equal value replaces the tail instead of extending it. A tiny test: `[2, 2, 2]` must give 1; with `bisect_left` the first 2 is appended and the others replace `tails[0]`, so length 1.""",
          cmp=(f", not {L}, so the difference matters here" if nondec != L else f", the same as {L} by coincidence"), **kw),
        T(r"""Edge cases: an empty list gives `tails = []` and length 0; a strictly decreasing list keeps replacing `tails[0]` and gives 1; an already increasing list appends every time and gives `n`.""", **kw),
        T(r"""Complexity: each element does one binary search over `tails` (length at most \(n\)) and one \(O(1)\) update, so \(O(n \log n)\) time and \(O(n)\) space.""", **kw),
    ]
    if c.extra >= 2:
        paras.append(T(r"""<<alt>>I could verify the answer by brute force over all \(2^{<<n>>}\) subsets for an input this small, but the DP already does that logically, and the two independent methods agree on <<L>>. I'm confident.""", alt=c.pick(ALSO), **kw))
    answer = T(r"""Maintain `tails`, where `tails[k]` is the smallest tail of any strictly increasing subsequence of length `k + 1`. For each element, `bisect_left` finds the first tail that is `>= x`: replace it, or append if `x` is larger than every tail. `bisect_left` (not `bisect_right`) enforces strictness. The length of `tails` is the answer: <<L>> for the example (e.g. <<seq>>). Time \(O(n \log n)\), space \(O(n)\).

<<code>>""", **kw)
    return trace("code", "lis", "find the length of the longest strictly increasing subsequence", problem, paras, answer, 5)


def _is_subsequence(sub, seq) -> bool:
    it = iter(seq)
    return all(any(x == y for y in it) for x in sub)


SEARCH_RANGE_CODE = '''```python
def search_range(nums: list[int], target: int) -> list[int]:
    def lower_bound(x: int) -> int:
        # first index with nums[i] >= x (len(nums) if none)
        lo, hi = 0, len(nums)
        while lo < hi:
            mid = (lo + hi) // 2
            if nums[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return lo

    first = lower_bound(target)
    if first == len(nums) or nums[first] != target:
        return [-1, -1]
    return [first, lower_bound(target + 1) - 1]
```'''


def _lb_trace(nums, x):
    lo, hi, lines = 0, len(nums), []
    while lo < hi:
        mid = (lo + hi) // 2
        if nums[mid] < x:
            lines.append(f"- lo = {lo}, hi = {hi}, mid = {mid}, nums[mid] = {nums[mid]} < {x}, so lo = {mid + 1}")
            lo = mid + 1
        else:
            lines.append(f"- lo = {lo}, hi = {hi}, mid = {mid}, nums[mid] = {nums[mid]} >= {x}, so hi = {mid}")
            hi = mid
    lines.append(f"- lo = hi = {lo}: stop, return {lo}")
    return lines, lo


def code_binary_search(c: Ctx, variant: str | None = None):
    while True:
        n = c.randint(10, 14)
        nums = sorted(c.randint(1, 30) for _ in range(n))
        vals = [v for v in set(nums) if 2 <= nums.count(v) <= 4]
        if vals:
            break
    target = c.pick(sorted(vals))
    first, last = nums.index(target), n - 1 - nums[::-1].index(target)
    l1, f = _lb_trace(nums, target)
    l2, g = _lb_trace(nums, target + 1)
    assert f == first and g - 1 == last
    absent = next(v for v in range(1, 32) if v not in nums and v > nums[0])
    l3, h = _lb_trace(nums, absent)
    kw = dict(nums=nums, n=n, target=target, first=first, last=last, l1="\n".join(l1), l2="\n".join(l2), t1=target + 1,
              g=g, absent=absent, l3="\n".join(l3), h=h, hval=(nums[h] if h < n else "out of range"), code=SEARCH_RANGE_CODE,
              logn=math.ceil(math.log2(n + 1)), cnt=nums.count(target))
    problem = T(r"""Given an array of integers `nums` sorted in non-decreasing order, find the starting and ending position of a given `target` value. If `target` is not found, return `[-1, -1]`. Your algorithm must run in \(O(\log n)\) time.

Example: `nums = <<nums>>`, `target = <<target>>`.""", **kw)
    paras = [
        T(r"""The array is sorted, possibly with duplicates, and I need the first and last index of `target`. \(O(\log n)\) rules out scanning, even though a linear scan would be trivial: find any occurrence, then walk left and right. Walking can cost \(O(n)\) if the target fills most of the array, so I need binary search for both ends.""", **kw),
        T(r"""A first attempt: ordinary binary search to find some occurrence, then expand outward. As I said, the expansion is linear in the number of copies, so that fails the bound in the worst case (e.g. an array of all 7s). Better: two binary searches, one for the leftmost position and one for the rightmost.""", **kw),
        T(r"""For the leftmost: find the first index `i` with `nums[i] >= target`, the classic lower bound. My first draft:

```python
lo, hi = 0, len(nums) - 1
while lo <= hi:
    mid = (lo + hi) // 2
    if nums[mid] < target:
        lo = mid + 1
    else:
        hi = mid
```""", **kw),
        T(r"""<<wait>>with `while lo <= hi` and `hi = mid`, when `lo == hi` the middle is `mid = lo`, and if `nums[mid] >= target` I set `hi = mid`, which changes nothing. Infinite loop. The two conventions have to match: either a closed interval `[lo, hi]` with `hi = mid - 1` (and then remember the best candidate separately), or a half-open interval `[lo, hi)` with `hi = len(nums)`, `while lo < hi`, and `hi = mid`. The half-open version returns the insertion point directly, so I'll use it. With `lo < hi`, `mid` is always strictly less than `hi`, so `hi = mid` always shrinks the range, and `lo = mid + 1` always grows `lo`: guaranteed termination.""", wait=c.pick(WAIT), **kw),
        T(r"""For the rightmost position, I don't need a second variant: for integers, the last index of `target` is one less than the first index with a value `>= target + 1`. So `last = lower_bound(target + 1) - 1`. If `target` isn't present, `lower_bound(target)` either runs off the end or lands on a larger value, and I return `[-1, -1]`.

<<code>>""", **kw),
        T(r"""Trace on the example, `nums = <<nums>>` (indices 0 to <<n1>>), target <<target>>. First, `lower_bound(<<target>>)`:
<<l1>>

So `first = <<first>>`, and `nums[<<first>>] = <<target>>`, so the target is present.""", n1=n - 1, **kw),
        T(r"""Then `lower_bound(<<t1>>)`:
<<l2>>

So `last = <<g>> - 1 = <<last>>`. The answer is `[<<first>>, <<last>>]`. Checking against the array directly: the value <<target>> appears <<cnt>> times, at indices <<first>> through <<last>>. Correct.""", **kw),
        T(r"""<<check>> What about a missing target, say <<absent>>?
<<l3>>

`lower_bound(<<absent>>) = <<h>>`, and `nums[<<h>>]` is <<hval>>, not <<absent>>, so the function returns `[-1, -1]`. Good. Other edge cases: an empty array gives `lower_bound = 0 == len(nums)`, so `[-1, -1]`; a target smaller than everything gives index 0 with a larger value, so `[-1, -1]`; a target larger than everything gives `len(nums)`, so `[-1, -1]`; an array where every element equals the target gives `[0, n - 1]`.""", check=c.pick(CHECK), **kw),
        T(r"""One caveat: `target + 1` relies on integer values. For floats I'd write a separate `upper_bound` with `nums[mid] <= x` in the comparison. In Python, `bisect.bisect_left` and `bisect.bisect_right` are exactly these two functions, so an alternative implementation is `first = bisect_left(nums, target)` and `last = bisect_right(nums, target) - 1`.""", **kw),
        T(r"""Complexity: two binary searches, each at most about \(\lceil \log_2(n+1) \rceil\) iterations (<<logn>> for this array), so \(O(\log n)\) time and \(O(1)\) extra space.""", **kw),
    ]
    answer = T(r"""Run a lower-bound binary search (first index with value `>= x`, half-open interval so it always terminates) twice: `first = lower_bound(target)`, and if `nums[first] == target`, `last = lower_bound(target + 1) - 1`. For the example this gives `[<<first>>, <<last>>]`. Time \(O(\log n)\), space \(O(1)\).

<<code>>""", **kw)
    return trace("code", "binary_search", "find the first and last positions of a target in a sorted array in logarithmic time", problem, paras, answer, 4)


MERGE_CODE = '''```python
def merge(intervals: list[list[int]]) -> list[list[int]]:
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)  # overlap or touch: extend
        else:
            merged.append([start, end])
    return merged
```'''


def _merge(iv, touch=True, use_max=True):
    out = []
    for s_, e in sorted(iv):
        if out and (s_ <= out[-1][1] if touch else s_ < out[-1][1]):
            out[-1][1] = max(out[-1][1], e) if use_max else e
        else:
            out.append([s_, e])
    return out


def code_intervals(c: Ctx, variant: str | None = None):
    while True:
        base = c.randint(1, 4)
        ivs = []
        pos = base
        for _ in range(c.randint(3, 4)):
            length = c.randint(2, 6)
            ivs.append([pos, pos + length])
            pos += length + c.pick([-1, 0, 2, 3])
        # a nested interval and a touching pair
        outer = c.pick(ivs)
        if outer[1] - outer[0] >= 3:
            ivs.append([outer[0] + 1, outer[1] - 1])
        ivs.append([pos + 2, pos + 4])
        ivs.append([pos + 4, pos + 7])
        c.rng.shuffle(ivs)
        good = _merge(ivs)
        if _merge(ivs, touch=False) != good and _merge(ivs, use_max=False) != good and len(ivs) >= 6:
            break
    srt = sorted(ivs)
    lines, out = [], []
    for s_, e in srt:
        if out and s_ <= out[-1][1]:
            old = list(out[-1])
            out[-1][1] = max(out[-1][1], e)
            lines.append(f"- [{s_}, {e}]: starts at {s_} <= {old[1]}, overlaps the last merged interval {old}; new end max({old[1]}, {e}) = {out[-1][1]}")
        else:
            lines.append(f"- [{s_}, {e}]: " + (f"starts at {s_} > {out[-1][1]}, no overlap; start a new interval" if out else "first interval, just add it"))
            out.append([s_, e])
    assert out == good
    kw = dict(ivs=ivs, srt=srt, good=good, lines="\n".join(lines), lt=_merge(ivs, touch=False), nomax=_merge(ivs, use_max=False),
              code=MERGE_CODE, n=len(ivs), m=len(good))
    problem = T(r"""Given a list of intervals where `intervals[i] = [start_i, end_i]`, merge all overlapping intervals and return the list of non-overlapping intervals that cover all the intervals in the input. Intervals that touch at an endpoint (like `[1, 4]` and `[4, 5]`) count as overlapping.

Example: `intervals = <<ivs>>`.""", **kw)
    paras = [
        T(r"""So I'm given <<n>> intervals in no particular order, and I need to merge any that overlap or touch, returning disjoint intervals covering the same points. The example input `<<ivs>>` is unsorted, which is the first thing to deal with.""", **kw),
        T(r"""Brute force idea: repeatedly scan all pairs, merge any two that overlap, and repeat until nothing changes. That's \(O(n^2)\) per pass and potentially many passes. Much better: sort by start. After sorting, any interval that overlaps the current merged block must start no later than that block's end, and once an interval starts after the block's end, no later interval (they start even later) can reach back into the block. So a single left-to-right sweep suffices.""", **kw),
        T(r"""First draft of the sweep:

```python
merged = []
for start, end in sorted(intervals):
    if merged and start < merged[-1][1]:
        merged[-1][1] = end
    else:
        merged.append([start, end])
```

Let me test it on the example. Sorted: `<<srt>>`. Running the draft gives `<<lt_or_nomax>>`.""", lt_or_nomax=_merge(ivs, touch=False, use_max=False), **kw),
        T(r"""<<wait>>that's wrong in two ways. First, the comparison `start < merged[-1][1]` misses intervals that only touch, and the problem says touching intervals count as overlapping; it has to be `<=`. With only that bug, the output would be `<<lt>>`. Second, `merged[-1][1] = end` is wrong when the new interval is nested inside the current block: a later interval with a smaller end would shrink the block. It has to be `max(merged[-1][1], end)`. With only that bug, the output would be `<<nomax>>`. Both bugs show up on this input, which contains a touching pair and a nested interval.""", wait=c.pick(WAIT), **kw),
        T(r"""Corrected version:

<<code>>""", **kw),
        T(r"""Trace with the fix, over the sorted list `<<srt>>`:
<<lines>>

Result: `<<good>>`, <<m>> intervals.""", **kw),
        T(r"""<<check>> Every input interval should lie inside exactly one output interval, and the output intervals should be disjoint with gaps between them (no two touching, otherwise they should have been merged). Going through the input `<<ivs>>`: each one fits inside one of `<<good>>`. And consecutive outputs are separated by strict gaps. Good.""", check=c.pick(CHECK), **kw),
        T(r"""Edge cases:
1. Empty input: the loop doesn't run, return `[]`.
2. A single interval: returned as is.
3. All intervals nested in the first: the `max` keeps the outer end, one interval out.
4. Intervals given as tuples: `sorted` handles them, and I build new lists for the output, so I never mutate the caller's data. (Mutating `merged[-1]` is fine because those lists are my own copies.)""", **kw),
        T(r"""Complexity: sorting is \(O(n \log n)\), the sweep is \(O(n)\), so \(O(n \log n)\) overall, with \(O(n)\) space for the output (and for the sorted copy).""", **kw),
    ]
    if c.extra >= 3:
        covered = sorted({x2 for a_, b_ in ivs for x2 in range(2 * a_, 2 * b_ + 1)})
        paras.append(T(r"""Another check that doesn't depend on the sweep at all: the set of points covered by the input must equal the set covered by the output. Working on a half-unit grid (so that touching endpoints count), the input covers <<npts>> grid points, and the output intervals cover \(<<outpts>>\) grid points, i.e. <<npts2>>. They agree, and no grid point is covered twice by the output, so the merged intervals are disjoint.""",
                       npts=len(covered), outpts=" + ".join(str(2 * (b_ - a_) + 1) for a_, b_ in good), npts2=sum(2 * (b_ - a_) + 1 for a_, b_ in good), **kw))
    if c.extra >= 2:
        paras.append(T(r"""<<alt>>I could think of it as a sweep over events: +1 at each start, -1 at each end, with starts processed before ends at equal coordinates (so touching intervals merge), and emit a merged interval whenever the running count returns to 0. It gives the same output but needs \(2n\) events and a careful tie-break, so the sort-by-start version is simpler.""", alt=c.pick(ALSO), **kw))
    answer = T(r"""Sort by start, then sweep: if an interval starts at or before the end of the last merged interval (`<=`, since touching counts), extend that end to `max(end, new_end)` (nested intervals must not shrink it); otherwise start a new merged interval. For the example the result is `<<good>>`. Time \(O(n \log n)\), space \(O(n)\).

<<code>>""", **kw)
    return trace("code", "intervals", "merge overlapping intervals", problem, paras, answer, 4)


BFS_CODE = '''```python
from collections import deque


def shortest_path(grid: list[list[int]]) -> int:
    rows, cols = len(grid), len(grid[0])
    if grid[0][0] == 1 or grid[rows - 1][cols - 1] == 1:
        return -1
    dist = [[-1] * cols for _ in range(rows)]
    dist[0][0] = 0
    queue = deque([(0, 0)])
    while queue:
        r, c = queue.popleft()
        if (r, c) == (rows - 1, cols - 1):
            return dist[r][c]
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and grid[nr][nc] == 0 and dist[nr][nc] == -1:
                dist[nr][nc] = dist[r][c] + 1  # mark when enqueued, not when popped
                queue.append((nr, nc))
    return -1
```'''


def _bfs(grid):
    R, Cc = len(grid), len(grid[0])
    dist = [[-1] * Cc for _ in range(R)]
    dist[0][0] = 0
    q = deque([(0, 0)])
    while q:
        r, cc = q.popleft()
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nr, nc = r + dr, cc + dc
            if 0 <= nr < R and 0 <= nc < Cc and grid[nr][nc] == 0 and dist[nr][nc] == -1:
                dist[nr][nc] = dist[r][cc] + 1
                q.append((nr, nc))
    return dist


def code_bfs_grid(c: Ctx, variant: str | None = None):
    while True:
        R, Cc = c.randint(5, 6), c.randint(6, 7)
        grid = [[1 if c.chance(0.28) else 0 for _ in range(Cc)] for _ in range(R)]
        grid[0][0] = grid[R - 1][Cc - 1] = 0
        dist = _bfs(grid)
        D = dist[R - 1][Cc - 1]
        if D > R + Cc - 2:  # walls force a detour
            break
    levels = {}
    for r in range(R):
        for cc in range(Cc):
            if dist[r][cc] >= 0:
                levels.setdefault(dist[r][cc], []).append((r, cc))
    lvl_lines = [f"- distance {d}: " + ", ".join(f"({r},{cc})" for r, cc in levels[d]) for d in sorted(levels) if d <= D]
    # a cell with two neighbours one level closer: pushed twice if visited were marked on pop
    dup = None
    for r in range(R):
        for cc in range(Cc):
            d = dist[r][cc]
            if d > 0:
                prev = [(r + dr, cc + dc) for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))
                        if 0 <= r + dr < R and 0 <= cc + dc < Cc and dist[r + dr][cc + dc] == d - 1]
                if len(prev) >= 2 and dup is None:
                    dup = ((r, cc), prev[:2])
    # path reconstruction backwards
    path = [(R - 1, Cc - 1)]
    while path[-1] != (0, 0):
        r, cc = path[-1]
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nr, nc = r + dr, cc + dc
            if 0 <= nr < R and 0 <= nc < Cc and dist[nr][nc] == dist[r][cc] - 1:
                path.append((nr, nc))
                break
    path.reverse()
    pic = "\n".join("".join("#" if grid[r][cc] else ("*" if (r, cc) in path else ".") for cc in range(Cc)) for r in range(R))
    raw = "\n".join("".join("#" if v else "." for v in row) for row in grid)
    kw = dict(grid=grid, R=R, C=Cc, D=D, manh=R + Cc - 2, lvls="\n".join(lvl_lines), pic=pic, raw=raw, code=BFS_CODE,
              path=" -> ".join(f"({r},{cc})" for r, cc in path), cells=R * Cc, extra_steps=D - (R + Cc - 2),
              reach=sum(1 for r in range(R) for cc in range(Cc) if dist[r][cc] >= 0))
    dup_txt = ("For example, in this grid cell ({0},{1}) is at distance {2} and has two neighbours at distance {3}, ({4},{5}) and ({6},{7}); with marking on pop, both would enqueue it.".format(
        dup[0][0], dup[0][1], dist[dup[0][0]][dup[0][1]], dist[dup[0][0]][dup[0][1]] - 1, dup[1][0][0], dup[1][0][1], dup[1][1][0], dup[1][1][1]) if dup else
        "In this particular grid the corridors are narrow enough that it wouldn't happen, but in an open area it happens constantly.")
    problem = T(r"""You are given an `R x C` grid of 0s (open) and 1s (walls). Starting at the top-left cell, you may move up, down, left or right to an adjacent open cell. Return the minimum number of moves needed to reach the bottom-right cell, or -1 if it is unreachable.

Example (`.` = 0, `#` = 1), <<R>> rows and <<C>> columns:
```
<<raw>>
```""", **kw)
    paras = [
        T(r"""So it's a shortest path on an unweighted grid graph: each open cell is a node, edges connect orthogonally adjacent open cells, every move costs 1. For unweighted shortest paths, breadth-first search is the right tool: BFS visits nodes in order of distance from the source, so the first time it reaches the target, that's the minimum number of moves.""", **kw),
        T(r"""Why not DFS? DFS would find *a* path, but not necessarily the shortest; to get the shortest with DFS I'd have to explore all paths and keep the minimum, which is exponential in the worst case. Dijkstra would work but is overkill with all weights equal to 1. BFS it is.""", **kw),
        T(r"""Lower bound for sanity: without walls the answer would be the Manhattan distance, \((<<R>> - 1) + (<<C>> - 1) = <<manh>>\). Walls can only make it longer, so I expect at least <<manh>>.""", **kw),
        T(r"""My first sketch kept a `visited` set and marked a cell when it was popped from the queue:

```python
while queue:
    r, c = queue.popleft()
    if (r, c) in visited:
        continue
    visited.add((r, c))
    for nr, nc in neighbours(r, c):
        if open_cell(nr, nc) and (nr, nc) not in visited:
            queue.append((nr, nc))
```

<<wait>>that's correct but wasteful: a cell can be appended several times before it is first popped, once by each neighbour that discovers it at the same level. <<dup>> In a large open grid the queue can hold many duplicates. Marking a cell as visited at the moment it's enqueued fixes that: each cell enters the queue at most once, so the work is \(O(R \cdot C)\). Storing the distance in a `dist` array doubles as the visited marker.""", wait=c.pick(WAIT), dup=dup_txt, **kw),
        T(r"""<<code>>""", **kw),
        T(r"""Let me trace the BFS on the example. I'll write cells as (row, column), 0-indexed. The cells reached at each distance (BFS layers):
<<lvls>>

The target (<<R1>>,<<C1>>) first appears at distance <<D>>, so the answer is <<D>>.""", R1=R - 1, C1=Cc - 1, **kw),
        T(r"""<<check>> Following distances backwards from the target (each step to a neighbour whose distance is one less) gives a shortest route: <<path>>. That's <<D>> moves. Drawn on the grid with `*` marking the route:
```
<<pic>>
```
It only steps on open cells and never moves diagonally. It's <<extra_steps>> moves longer than the Manhattan bound of <<manh>>, because the walls force a detour.""", check=c.pick(CHECK), **kw),
        T(r"""Edge cases:
1. Start or target is a wall: return -1 immediately (the code checks this first).
2. A 1x1 grid with an open cell: the start is the target, and the loop returns `dist[0][0] = 0` on the first pop.
3. Target walled off: the queue empties without reaching it, and the function returns -1.
4. Bounds: `0 <= nr < rows and 0 <= nc < cols` is checked before indexing, so no negative-index wraparound (in Python `grid[-1]` would silently read the last row, which is a classic bug).""", **kw),
        T(r"""Complexity: each of the \(R \cdot C\) cells is enqueued at most once and examines 4 neighbours, so \(O(R \cdot C)\) time and \(O(R \cdot C)\) space for `dist` and the queue. Here <<reach>> of the <<cells>> cells are reachable.""", **kw),
    ]
    if c.extra >= 2:
        paras.append(T(r"""<<alt>>bidirectional BFS from both corners would roughly halve the explored area on big grids, and A* with the Manhattan heuristic would explore fewer cells when walls are sparse. For this problem size plain BFS is simplest and clearly correct.""", alt=c.pick(ALSO), **kw))
    answer = T(r"""Breadth-first search from the top-left cell, marking each cell with its distance when it is enqueued (so no cell is queued twice). The first time the bottom-right cell is dequeued, its distance is the minimum number of moves. For the example the answer is **<<D>>** (e.g. <<path>>). Time and space \(O(R \cdot C)\).

<<code>>""", **kw)
    return trace("code", "bfs_grid", "find the shortest path length through a grid with walls", problem, paras, answer, 4)


KADANE_CODE = '''```python
def max_subarray(nums: list[int]) -> int:
    best = cur = nums[0]
    for x in nums[1:]:
        cur = max(x, cur + x)  # extend the current run or start fresh at x
        best = max(best, cur)
    return best
```'''


def code_kadane(c: Ctx, variant: str | None = None):
    while True:
        n = c.randint(9, 12)
        nums = [c.randint(-9, 9) for _ in range(n)]
        if sum(1 for x in nums if x < 0) >= 3 and max(nums) > 0 and nums[0] != 0:
            break
    best = cur = nums[0]
    lines = [f"- start: cur = best = {nums[0]}"]
    start = bs = be = 0
    for i in range(1, n):
        x = nums[i]
        if x > cur + x:
            cur, start = x, i
            how = f"start fresh at {x} (previous run was negative)"
        else:
            how = f"extend: cur + {x} = {cur + x}" if x >= 0 else f"extend: cur - {-x} = {cur + x}"
            cur = cur + x
        if cur > best:
            best, bs, be = cur, start, i
            how += f"; new best {best}"
        lines.append(f"- x = {x}: {how}; cur = {cur}, best = {best}")
    brute = max(sum(nums[i:j + 1]) for i in range(n) for j in range(i, n))
    assert brute == best
    sub = nums[bs:be + 1]
    kw = dict(nums=nums, n=n, best=best, lines="\n".join(lines), sub=sub, bs=bs, be=be, code=KADANE_CODE,
              subsum=" + ".join(str(x) if x >= 0 else f"({x})" for x in sub), nsub=n * (n + 1) // 2)
    problem = T(r"""Given an integer array `nums`, find the contiguous subarray (containing at least one number) with the largest sum, and return that sum.

Example: `nums = <<nums>>`.

Write an \(O(n)\) Python function.""", **kw)
    paras = [
        T(r"""I need the maximum sum over all contiguous, non-empty subarrays. There are \(\frac{n(n+1)}{2}\) subarrays (<<nsub>> for the example), so brute force with prefix sums is \(O(n^2)\); the request is \(O(n)\), which points to Kadane's algorithm.""", **kw),
        T(r"""The idea: scan left to right, keeping `cur`, the best sum of a subarray that ends at the current position. For the next element `x`, the best subarray ending there either extends the previous one (`cur + x`) or starts fresh at `x`. Starting fresh is better exactly when `cur` is negative. Then `best` is the maximum `cur` ever seen.""", **kw),
        T(r"""A common way to write it:

```python
best = cur = 0
for x in nums:
    cur = max(0, cur + x)
    best = max(best, cur)
return best
```

<<wait>>this allows an empty subarray with sum 0. If every number is negative, e.g. `[-3, -1, -2]`, it returns 0, but the problem requires at least one element, so the answer should be -1. The fix is to initialize with the first element and let `cur` restart at `x` rather than at 0: `cur = max(x, cur + x)`. Then for `[-3, -1, -2]`: cur = -3, best = -3; x = -1: cur = max(-1, -4) = -1, best = -1; x = -2: cur = max(-2, -3) = -2, best stays -1. Correct.""", wait=c.pick(WAIT), **kw),
        T(r"""<<code>>""", **kw),
        T(r"""Trace on the example `<<nums>>`:
<<lines>>

So the maximum subarray sum is <<best>>.""", **kw),
        T(r"""<<check>> Tracking where the best run starts and ends, it is indices <<bs>> through <<be>>, the subarray <<sub>>, whose sum is \(<<subsum>> = <<best>>\). And a brute-force pass over all <<nsub>> subarrays (which I can run mentally only partially, but the code version is simple: `max(sum(nums[i:j+1]) for i in range(n) for j in range(i, n))`) gives <<best>> as well.""", check=c.pick(CHECK), **kw),
        T(r"""Why is it correct? Any optimal subarray ends at some index `j`; the value of `cur` at `j` is by induction the best sum of a subarray ending at `j`, which is at least the optimal sum; and `best` is the maximum over all `j`. So `best` equals the optimum.""", **kw),
        T(r"""Edge cases:
1. Single element: the loop body never runs, return `nums[0]`.
2. All negative: returns the largest (least negative) element, as shown above.
3. All non-negative: `cur` never restarts, and the answer is the total sum.
4. Empty input isn't allowed by the statement; `nums[0]` would raise `IndexError`, which is reasonable for invalid input.""", **kw),
        T(r"""Complexity: one pass, \(O(n)\) time, \(O(1)\) extra space.""", **kw),
    ]
    if c.extra >= 2:
        paras.append(T(r"""<<alt>>divide and conquer: the best subarray lies in the left half, the right half, or crosses the middle, where it's the best suffix of the left plus the best prefix of the right. That gives \(O(n \log n)\). Or prefix sums: the answer is the max over \(j\) of \(P_j - \min_{i<j} P_i\), which is also \(O(n)\) and is really the same algorithm in disguise.""", alt=c.pick(ALSO), **kw))
    if c.extra >= 3:
        paras.append(T(r"""If the caller also wanted the subarray itself, a small extension tracks where the current run started:

```python
def max_subarray_with_indices(nums):
    best, cur = nums[0], nums[0]
    start = best_start = best_end = 0
    for i in range(1, len(nums)):
        if nums[i] > cur + nums[i]:
            cur, start = nums[i], i
        else:
            cur += nums[i]
        if cur > best:
            best, best_start, best_end = cur, start, i
    return best, best_start, best_end
```

On the example this returns `(<<best>>, <<bs>>, <<be>>)`, the run I identified above. Ties: with the strict `>` comparisons, it keeps the earliest maximal run and, when restarting is equally good as extending, it extends; either convention is fine unless the problem specifies one.""", **kw))
    answer = T(r"""Kadane's algorithm: keep `cur`, the best sum of a subarray ending at the current element (`cur = max(x, cur + x)`), and `best`, the largest `cur` seen. Initializing both with `nums[0]` handles all-negative arrays (no empty subarray). For the example the answer is **<<best>>** (subarray <<sub>>). Time \(O(n)\), space \(O(1)\).

<<code>>""", **kw)
    return trace("code", "kadane", "find the maximum subarray sum in linear time", problem, paras, answer, 3)


# ---------------------------------------------------------------------------------------------
# science families
# ---------------------------------------------------------------------------------------------

G = 9.8


def sci_projectile(c: Ctx, variant: str | None = None):
    variant = variant or c.pick(["ground", "cliff"])
    v0 = c.randint(12, 35)
    th = c.pick([25, 30, 35, 37, 40, 50, 53, 60])
    rad = math.radians(th)
    sn, cs = math.sin(rad), math.cos(rad)
    vx, vy = v0 * cs, v0 * sn
    kw = dict(v0=v0, th=th, sn=fx(sn, 4), cs=fx(cs, 4), vx=fx(vx, 2), vy=fx(vy, 2), g=G, comp=90 - th)
    if variant == "ground":
        Tf = 2 * vy / G
        H = vy * vy / (2 * G)
        Rg = vx * Tf
        Tw = 2 * vx / G
        kw.update(Tf=fx(Tf, 2), H=fx(H, 1), R=fx(Rg, 1), Tw=fx(Tw, 2), vy2=fx(vy * vy, 1), v02=v0 * v0,
                  s2=fx(math.sin(2 * rad), 4), R2=fx(v0 * v0 * math.sin(2 * rad) / G, 1), tup=fx(vy / G, 2),
                  ke0=fx(0.5 * v0 * v0, 1), ketop=fx(0.5 * vx * vx, 1), gh=fx(G * H, 1), sumE=fx(0.5 * vx * vx + G * H, 1),
                  Rw=fx(vy * Tw, 1), vx2=fx(vx * vx, 1))
        problem = T(r"""A ball is launched from level ground with a speed of <<v0>> m/s at an angle of <<th>>\(^\circ\) above the horizontal. Ignoring air resistance and taking \(g = 9.8\ \text{m/s}^2\), find (a) the time of flight, (b) the maximum height, and (c) the horizontal range.""", **kw)
        paras = [
            T(r"""Classic projectile motion. Without air resistance the horizontal and vertical motions are independent: horizontally the velocity is constant, vertically there's constant downward acceleration \(g\). So first I'll split the launch velocity into components.""", **kw),
            T(r"""\(\sin <<th>>^\circ \approx <<sn>>\) and \(\cos <<th>>^\circ \approx <<cs>>\). For the vertical motion I need the vertical component, and the time to go up and come back down is \(T = \frac{2 v_y}{g}\). Using \(v_y = v_0\cos\theta = <<v0>> \times <<cs>> \approx <<vx>>\) m/s, \(T = \frac{2 \times <<vx>>}{9.8} \approx <<Tw>>\) s.""", **kw),
            T(r"""<<wait>>the angle is measured from the horizontal, so the vertical component is the one opposite the angle: \(v_y = v_0 \sin\theta\), and \(v_x = v_0\cos\theta\). I swapped them. Sanity check of the convention: at \(\theta = 90^\circ\) (straight up) all the velocity should be vertical, and \(\sin 90^\circ = 1\). Right. So:
\[
v_x = <<v0>> \times <<cs>> \approx <<vx>>\ \text{m/s}, \qquad v_y = <<v0>> \times <<sn>> \approx <<vy>>\ \text{m/s}.
\]""", wait=c.pick(WAIT), **kw),
            T(r"""(a) Time of flight. The vertical position is \(y = v_y t - \frac{1}{2} g t^2\), which returns to 0 at \(t = \frac{2 v_y}{g}\):
\[
T = \frac{2 \times <<vy>>}{9.8} \approx <<Tf>>\ \text{s}.
\]
The time to reach the top is half of that, \(v_y / g \approx <<tup>>\) s.""", **kw),
            T(r"""(b) Maximum height. At the top, the vertical velocity is zero, so \(v_y^2 = 2 g H\):
\[
H = \frac{v_y^2}{2g} = \frac{<<vy2>>}{19.6} \approx <<H>>\ \text{m}.
\]""", **kw),
            T(r"""(c) Range. Horizontal velocity is constant for the whole flight:
\[
R = v_x T = <<vx>> \times <<Tf>> \approx <<R>>\ \text{m}.
\]""", **kw),
            T(r"""<<check>> The range formula \(R = \frac{v_0^2 \sin 2\theta}{g}\) gives \(\frac{<<v02>> \times <<s2>>}{9.8} \approx <<R2>>\) m. Matches. Energy check at the top (per unit mass): initially \(\frac{1}{2}v_0^2 = <<ke0>>\) J/kg; at the top the speed is just \(v_x\), so kinetic energy is \(\frac{1}{2}v_x^2 \approx <<ketop>>\) J/kg and potential energy \(gH \approx <<gh>>\) J/kg, total \(\approx <<sumE>>\) J/kg. Conserved, good.""", check=c.pick(CHECK), **kw),
            T(r"""Side note: the mistaken components would have given a flight time of <<Tw>> s and a range of about <<Rw>> m, which is the answer for a launch at <<comp>>\(^\circ\). Interesting that the range is the same (complementary angles give equal ranges, since \(\sin 2\theta = \sin(180^\circ - 2\theta)\)), but the time and height are not, so the mistake would have mattered for (a) and (b).""", **kw),
        ]
        if c.extra >= 2:
            pts = [Tf * k / 4 for k in range(5)]
            tab = "\n".join(f"- \\(t = {fx(t_, 2)}\\) s: \\(x \\approx {fx(vx * t_, 1)}\\) m, \\(y \\approx {fx(vy * t_ - 0.5 * G * t_ * t_, 1)}\\) m" for t_ in pts)
            paras.append(T(r"""Let me also tabulate a few points of the trajectory, at quarters of the flight time, using \(x = v_x t\) and \(y = v_y t - 4.9t^2\):
<<tab>>
The height is zero at both ends, peaks at the midpoint at <<H>> m, and the quarter points have equal heights (three quarters of the maximum, since \(y\) is a parabola in \(t\)), so the numbers hang together.""", tab=tab, **kw))
            paras.append(recheck(c, [f"{v0} * {fx(sn, 4)} = {fx(vy, 3)}", f"{v0} * {fx(cs, 4)} = {fx(vx, 3)}", f"2 * {fx(vy, 3)} / 9.8 = {fx(Tf, 3)}",
                                     f"{fx(vy, 3)}^2 = {fx(vy * vy, 2)}, / 19.6 = {fx(H, 2)}", f"{fx(vx, 3)} * {fx(Tf, 3)} = {fx(Rg, 2)}"]))
        if c.extra >= 3:
            paras.append(T(r"""For perspective, the maximum possible range at this speed is at \(45^\circ\): \(R_{max} = \frac{v_0^2}{g} = \frac{<<v02>>}{9.8} \approx <<Rmax>>\) m. At <<th>>\(^\circ\) the range is \(\sin(<<th2>>^\circ) \approx <<s2>>\) of that, which is the <<R>> m I found. In reality air resistance would shorten the range and lower the peak, and make the descent steeper than the ascent, but the problem says to ignore it.""", Rmax=fx(v0 * v0 / G, 1), th2=2 * th, **kw))
        paras.append(summary(c, [T(r"""Components: \(v_x \approx <<vx>>\) m/s, \(v_y \approx <<vy>>\) m/s (sine for vertical).""", **kw),
                                 T(r"""\(T = 2v_y/g \approx <<Tf>>\) s, \(H = v_y^2/(2g) \approx <<H>>\) m, \(R = v_x T \approx <<R>>\) m.""", **kw)]))
        answer = T(r"""Components: \(v_x = <<v0>>\cos <<th>>^\circ \approx <<vx>>\) m/s, \(v_y = <<v0>>\sin <<th>>^\circ \approx <<vy>>\) m/s.

(a) \(T = \dfrac{2v_y}{g} \approx <<Tf>>\ \text{s}\)

(b) \(H = \dfrac{v_y^2}{2g} \approx <<H>>\ \text{m}\)

(c) \(R = v_x T = \dfrac{v_0^2 \sin 2\theta}{g} \approx <<R>>\ \text{m}\)

\[
\boxed{T \approx <<Tf>>\ \text{s},\quad H \approx <<H>>\ \text{m},\quad R \approx <<R>>\ \text{m}}
\]""", **kw)
        return trace("science", "projectile", "analyse a projectile launched from level ground", problem, paras, answer, 3)
    h = c.randint(10, 45)
    disc = vy * vy + 2 * G * h
    t = (vy + math.sqrt(disc)) / G
    x = vx * t
    vimp = math.sqrt(v0 * v0 + 2 * G * h)
    t_back = 2 * vy / G
    t2 = (-vy + math.sqrt(disc)) / G
    vyimp = math.sqrt(disc)
    kw.update(h=h, t=fx(t, 2), x=fx(x, 1), disc=fx(disc, 1), sq=fx(math.sqrt(disc), 2), vimp=fx(vimp, 1), tback=fx(t_back, 2),
              xback=fx(vx * t_back, 1), t2=fx(t2, 2), tsum=fx(t_back + t2, 2), v02=v0 * v0, twogh=fx(2 * G * h, 1),
              vy2=fx(vy * vy, 1), vyimp=fx(vyimp, 2), vimp2=fx(math.hypot(vx, vyimp), 1),
              ang=fx(math.degrees(math.atan2(vyimp, vx)), 1), hmax=fx(h + vy * vy / (2 * G), 1))
    problem = T(r"""A stone is thrown from the top of a cliff <<h>> m high with a speed of <<v0>> m/s at <<th>>\(^\circ\) above the horizontal. It lands on the flat ground at the base of the cliff. Ignoring air resistance (\(g = 9.8\ \text{m/s}^2\)), how long is the stone in the air, how far from the base of the cliff does it land, and how fast is it moving just before impact?""", **kw)
    paras = [
        T(r"""Set up coordinates with the origin at the launch point, \(x\) horizontal and \(y\) up. The ground is at \(y = -<<h>>\) m. Components: \(v_x = <<v0>>\cos <<th>>^\circ \approx <<v0>> \times <<cs>> \approx <<vx>>\) m/s and \(v_y = <<v0>>\sin <<th>>^\circ \approx <<v0>> \times <<sn>> \approx <<vy>>\) m/s (vertical is the sine component because the angle is from the horizontal).""", **kw),
        T(r"""Time of flight: the standard result is \(T = \frac{2v_y}{g} = \frac{2 \times <<vy>>}{9.8} \approx <<tback>>\) s, giving a horizontal distance of \(<<vx>> \times <<tback>> \approx <<xback>>\) m.""", **kw),
        T(r"""<<wait>>\(2v_y/g\) is the time to come back down to the launch height, which is correct only on level ground. Here, at that moment, the stone is still <<h>> m above the ground and moving downward, so it stays in the air longer. I need to solve for when \(y = -<<h>>\):
\[
-<<h>> = <<vy>>\,t - 4.9\,t^2 \quad\Longrightarrow\quad 4.9\,t^2 - <<vy>>\,t - <<h>> = 0.
\]""", wait=c.pick(WAIT), **kw),
        T(r"""Quadratic formula, taking the positive root:
\[
t = \frac{<<vy>> + \sqrt{<<vy>>^2 + 4 \times 4.9 \times <<h>>}}{2 \times 4.9} = \frac{<<vy>> + \sqrt{<<vy2>> + <<twogh>>}}{9.8} = \frac{<<vy>> + \sqrt{<<disc>>}}{9.8} \approx \frac{<<vy>> + <<sq>>}{9.8} \approx <<t>>\ \text{s}.
\]
(The other root is negative, corresponding to a time before the throw on the extended parabola, so I discard it.)""", **kw),
        T(r"""Horizontal distance: \(x = v_x t \approx <<vx>> \times <<t>> \approx <<x>>\) m from the base of the cliff.""", **kw),
        T(r"""Impact speed: by energy conservation, \(\frac{1}{2}v^2 = \frac{1}{2}v_0^2 + g h\), so \(v = \sqrt{v_0^2 + 2gh} = \sqrt{<<v02>> + <<twogh>>} \approx <<vimp>>\) m/s. Note the angle doesn't matter for the speed, only for the direction.""", **kw),
        T(r"""<<check>> Component-wise at impact: \(v_x\) is unchanged, <<vx>> m/s, and \(v_y^2 = <<vy>>^2 + 2 \times 9.8 \times <<h>> = <<disc>>\), so \(|v_y| \approx <<vyimp>>\) m/s downward. Then \(\sqrt{<<vx>>^2 + <<vyimp>>^2} \approx <<vimp2>>\) m/s. Matches. The stone hits the ground moving about <<ang>>\(^\circ\) below the horizontal.""", check=c.pick(CHECK), **kw),
        T(r"""<<alt>>split the flight into two pieces. Up and back to launch height takes <<tback>> s (the level-ground result), and at that moment the stone moves downward at <<vy>> m/s. Then it falls <<h>> m starting with that downward speed: \(<<h>> = <<vy>>\,t_2 + 4.9\,t_2^2\), so \(t_2 = \frac{-<<vy>> + \sqrt{<<disc>>}}{9.8} \approx <<t2>>\) s. Total \(<<tback>> + <<t2>> \approx <<tsum>>\) s, the same as before.""", alt=c.pick(ALSO), **kw),
        T(r"""Plausibility: the stone rises to \(<<h>> + \frac{v_y^2}{2g} \approx <<hmax>>\) m above the ground before falling, and it flies longer and farther than it would on level ground (<<tback>> s and <<xback>> m), as expected.""", **kw),
    ]
    if c.extra >= 2:
        pts = [t * k / 4 for k in range(5)]
        tab = "\n".join(f"- \\(t = {fx(t_, 2)}\\) s: \\(x \\approx {fx(vx * t_, 1)}\\) m, height above the ground \\(\\approx {fx(h + vy * t_ - 0.5 * G * t_ * t_, 1)}\\) m" for t_ in pts)
        paras.append(T(r"""A quick table of the motion at quarters of the flight time, with height measured from the ground (\(<<h>> + v_y t - 4.9t^2\)):
<<tab>>
It starts at <<h>> m, rises, and reaches 0 exactly at the landing time, as it should.""", tab=tab, **kw))
    paras.append(summary(c, [T(r"""\(4.9t^2 - <<vy>>t - <<h>> = 0\) gives \(t \approx <<t>>\) s (not \(2v_y/g\), which ignores the cliff).""", **kw),
                             T(r"""\(x = v_x t \approx <<x>>\) m; \(v = \sqrt{v_0^2 + 2gh} \approx <<vimp>>\) m/s.""", **kw)]))
    answer = T(r"""With \(v_x \approx <<vx>>\) m/s and \(v_y \approx <<vy>>\) m/s, the landing time solves \(4.9t^2 - <<vy>>t - <<h>> = 0\):
\[
t = \frac{<<vy>> + \sqrt{<<vy>>^2 + 2(9.8)(<<h>>)}}{9.8} \approx <<t>>\ \text{s}.
\]
Horizontal distance \(x = v_x t \approx <<x>>\) m, and by energy conservation the impact speed is \(\sqrt{v_0^2 + 2gh} \approx <<vimp>>\) m/s.

\[
\boxed{t \approx <<t>>\ \text{s},\quad x \approx <<x>>\ \text{m},\quad v \approx <<vimp>>\ \text{m/s}}
\]""", **kw)
    return trace("science", "projectile", "analyse a projectile thrown from a cliff", problem, paras, answer, 4)


R_GAS = 8.314


def sci_ideal_gas(c: Ctx, variant: str | None = None):
    P1 = c.randint(95, 120)
    V1 = c.randint(20, 120) / 10
    T1c = c.randint(10, 35)
    P2 = c.randint(150, 400)
    T2c = c.randint(60, 150)
    T1, T2 = T1c + 273.15, T2c + 273.15
    V2 = V1 * (P1 / P2) * (T2 / T1)
    V2w = V1 * (P1 / P2) * (T2c / T1c)
    n = P1 * V1 / (R_GAS * T1)
    kw = dict(P1=P1, V1=fx(V1, 1), T1c=T1c, P2=P2, T2c=T2c, T1=fx(T1, 2), T2=fx(T2, 2), V2=sig(V2, 3), V2w=sig(V2w, 3),
              n=sig(n, 3), pr=fx(P1 / P2, 4), tr=fx(T2 / T1, 4), trw=fx(T2c / T1c, 3), V2n=sig(n * R_GAS * T2 / P2, 3),
              RT1=fx(R_GAS * T1, 1), PV=fx(P1 * V1, 1), nRT2=fx(n * R_GAS * T2, 1), cmp="smaller" if V2 < V1 else "larger",
              ratio_all=fx(V2 / V1, 3), n4=fx(n, 4))
    problem = T(r"""A sample of gas occupies <<V1>> L at <<P1>> kPa and <<T1c>>\(^\circ\)C. It is compressed to <<P2>> kPa and heated to <<T2c>>\(^\circ\)C. Assuming ideal behavior, what is the new volume? Also, how many moles of gas are in the sample?""", **kw)
    paras = [
        T(r"""The amount of gas is fixed, and pressure, volume and temperature all change, so this is the combined gas law: \(\frac{P_1V_1}{T_1} = \frac{P_2V_2}{T_2}\), which follows from \(PV = nRT\) with \(n\) constant. Solving for the new volume: \(V_2 = V_1 \cdot \frac{P_1}{P_2} \cdot \frac{T_2}{T_1}\).""", **kw),
        T(r"""Plugging in: the pressure ratio is \(\frac{<<P1>>}{<<P2>>} \approx <<pr>>\), the temperature ratio is \(\frac{<<T2c>>}{<<T1c>>} \approx <<trw>>\), so \(V_2 \approx <<V1>> \times <<pr>> \times <<trw>> \approx <<V2w>>\) L.""", **kw),
        T(r"""<<wait>>I used Celsius temperatures. The gas laws need absolute temperature, because \(V \propto T\) only holds when \(T\) is measured from absolute zero. With Celsius, a gas at \(0^\circ\)C would have zero volume, and a ratio like \(<<T2c>>/<<T1c>>\) is meaningless physically. Convert to kelvin: \(T_1 = <<T1c>> + 273.15 = <<T1>>\) K and \(T_2 = <<T2c>> + 273.15 = <<T2>>\) K.""", wait=c.pick(WAIT), **kw),
        T(r"""Redo: temperature ratio \(\frac{<<T2>>}{<<T1>>} \approx <<tr>>\). Then
\[
V_2 = <<V1>>\ \text{L} \times <<pr>> \times <<tr>> \approx <<V2>>\ \text{L}.
\]
The Celsius mistake would have given <<V2w>> L, badly off.""", **kw),
        T(r"""Does the direction make sense? The pressure went up by a factor of about \(<<P2>>/<<P1>>\), which shrinks the volume, and the absolute temperature went up by a factor of only <<tr>>, which expands it. Overall \(V_2/V_1 \approx <<ratio_all>>\), so the volume ends up <<cmp>>. Reasonable.""", **kw),
        T(r"""Moles: \(n = \frac{PV}{RT}\). With \(P\) in kPa and \(V\) in L, the matching gas constant is \(R = 8.314\ \text{L kPa mol}^{-1}\text{K}^{-1}\) (since 1 J = 1 kPa L). So
\[
n = \frac{<<P1>> \times <<V1>>}{8.314 \times <<T1>>} = \frac{<<PV>>}{<<RT1>>} \approx <<n>>\ \text{mol}.
\]""", **kw),
        T(r"""<<check>> Using \(n\) directly in the final state: \(V_2 = \frac{nRT_2}{P_2} = \frac{<<n4>> \times 8.314 \times <<T2>>}{<<P2>>} \approx \frac{<<nRT2>>}{<<P2>>} \approx <<V2n>>\) L. Same as the combined gas law, as it must be.""", check=c.pick(CHECK), **kw),
        T(r"""Order of magnitude check on \(n\): at STP one mole occupies about 22.4 L, and here the conditions are near room temperature and roughly atmospheric pressure, where a mole takes about 24 L. So <<V1>> L should be roughly \(<<V1>>/24 \approx <<est>>\) mol. My <<n>> mol is in line with that.""", est=fx(V1 / 24, 3), **kw),
    ]
    if c.extra >= 2:
        Pc = P1 * T2 / T1
        paras.append(T(r"""A related what-if, to make sure I understand the two effects separately: if the gas were heated to <<T2c>>\(^\circ\)C in a rigid container (volume fixed at <<V1>> L), the pressure would rise to \(<<P1>> \times \frac{<<T2>>}{<<T1>>} \approx <<Pc>>\) kPa. Compressing it further to <<P2>> kPa then shrinks the volume by the factor \(\frac{<<Pc>>}{<<P2>>}\), giving \(<<V1>> \times \frac{<<Pc>>}{<<P2>>} \approx <<V2>>\) L. Same answer, split into a heating step and a compression step. And if the gas were nitrogen (\(M = 28.0\) g/mol), the sample would have a mass of about \(<<n>> \times 28.0 \approx <<mass>>\) g.""", Pc=sig(Pc, 4), mass=sig(n * 28.0, 3), **kw))
        paras.append(recheck(c, [f"{P1} / {P2} = {fx(P1 / P2, 4)}", f"{fx(T2, 2)} / {fx(T1, 2)} = {fx(T2 / T1, 4)}", f"{fx(V1, 1)} * {fx(P1 / P2, 4)} * {fx(T2 / T1, 4)} = {fx(V2, 3)}",
                                 f"{P1} * {fx(V1, 1)} = {fx(P1 * V1, 1)}; 8.314 * {fx(T1, 2)} = {fx(R_GAS * T1, 1)}; ratio {fx(n, 4)}"]))
    paras.append(summary(c, [r"""Convert to kelvin (the Celsius shortcut is wrong).""",
                             T(r"""\(V_2 = V_1 \frac{P_1}{P_2}\frac{T_2}{T_1} \approx <<V2>>\) L.""", **kw),
                             T(r"""\(n = P_1V_1/(RT_1) \approx <<n>>\) mol, consistent with \(nRT_2/P_2\).""", **kw)]))
    answer = T(r"""Use absolute temperatures: \(T_1 = <<T1>>\) K, \(T_2 = <<T2>>\) K. By the combined gas law,
\[
V_2 = V_1 \cdot \frac{P_1}{P_2} \cdot \frac{T_2}{T_1} = <<V1>> \times \frac{<<P1>>}{<<P2>>} \times \frac{<<T2>>}{<<T1>>} \approx <<V2>>\ \text{L}.
\]
The amount of gas is \(n = \dfrac{P_1V_1}{RT_1} = \dfrac{<<P1>> \times <<V1>>}{8.314 \times <<T1>>} \approx <<n>>\) mol.

\[
\boxed{V_2 \approx <<V2>>\ \text{L},\quad n \approx <<n>>\ \text{mol}}
\]""", **kw)
    return trace("science", "ideal_gas", "find the new volume of a gas after compression and heating", problem, paras, answer, 3)


ATOMIC = {"H": 1.008, "C": 12.011, "N": 14.007, "O": 15.999, "Fe": 55.845, "Na": 22.990, "Cl": 35.45, "Al": 26.982}
REACTIONS = [
    ("CH4 + 2 O2 -> CO2 + 2 H2O", [("CH4", 1), ("O2", 2)], [("CO2", 1), ("H2O", 2)], "methane burns in oxygen"),
    ("C3H8 + 5 O2 -> 3 CO2 + 4 H2O", [("C3H8", 1), ("O2", 5)], [("CO2", 3), ("H2O", 4)], "propane burns in oxygen"),
    ("N2 + 3 H2 -> 2 NH3", [("N2", 1), ("H2", 3)], [("NH3", 2)], "ammonia is made from nitrogen and hydrogen"),
    ("2 H2 + O2 -> 2 H2O", [("H2", 2), ("O2", 1)], [("H2O", 2)], "hydrogen burns in oxygen"),
    ("Fe2O3 + 3 CO -> 2 Fe + 3 CO2", [("Fe2O3", 1), ("CO", 3)], [("Fe", 2), ("CO2", 3)], "iron(III) oxide is reduced by carbon monoxide"),
    ("4 Al + 3 O2 -> 2 Al2O3", [("Al", 4), ("O2", 3)], [("Al2O3", 2)], "aluminum burns in oxygen"),
    ("2 Na + Cl2 -> 2 NaCl", [("Na", 2), ("Cl2", 1)], [("NaCl", 2)], "sodium reacts with chlorine"),
]


def _formula_parts(f: str):
    return [(el, int(n) if n else 1) for el, n in re.findall(r"([A-Z][a-z]?)(\d*)", f)]


def molar_mass(f: str) -> float:
    return sum(ATOMIC[el] * n for el, n in _formula_parts(f))


def _mm_line(f: str) -> str:
    parts = _formula_parts(f)
    terms = " + ".join(f"{n} \\times {ATOMIC[el]}" if n > 1 else f"{ATOMIC[el]}" for el, n in parts)
    if len(parts) == 1 and parts[0][1] == 1:
        return f"\\(M(\\text{{{f}}}) = {molar_mass(f):.3f}\\) g/mol (straight from the periodic table)"
    return f"\\(M(\\text{{{f}}}) = {terms} = {molar_mass(f):.3f}\\) g/mol"


def _tex_eq(eq: str) -> str:
    out = []
    for tok in eq.split():
        if tok == "->":
            out.append("\\rightarrow")
        elif tok == "+" or tok.isdigit():
            out.append(tok)
        else:
            out.append("\\text{" + re.sub(r"(\d+)", r"}_{\1}\\text{", tok) + "}")
    return "\\(" + " ".join(out).replace("\\text{}", "") + "\\)"


def sci_stoichiometry(c: Ctx, variant: str | None = None):
    eq, reac, prods, desc = c.pick(REACTIONS)
    (A, ca), (B, cb) = reac
    MA, MB = molar_mass(A), molar_mass(B)
    mA = c.randint(10, 80) + c.pick([0, 0.5])
    nA = mA / MA
    factor = c.pick([0.55, 0.7, 0.8, 1.25, 1.4, 1.7])
    nB_need = nA * cb / ca
    mB = round(nB_need * factor * MB, 1)
    nB = mB / MB
    limA = nA / ca < nB / cb
    L, Lc, nL, ML = (A, ca, nA, MA) if limA else (B, cb, nB, MB)
    X, Xc, nX, MX, mX = (B, cb, nB, MB, mB) if limA else (A, ca, nA, MA, mA)
    P, pc = c.pick(prods)
    MP = molar_mass(P)
    nP = nL * pc / Lc
    mP = nP * MP
    nX_used = nL * Xc / Lc
    left = (nX - nX_used) * MX
    naive_lim = A if nA < nB else B
    prod_masses = [(f, k, nL * k / Lc * molar_mass(f)) for f, k in prods]
    kw = dict(eq=_tex_eq(eq), desc=desc, A=A, B=B, mA=mA, mB=mB, nA=sig(nA, 4), nB=sig(nB, 4), ca=ca, cb=cb,
              mmA=_mm_line(A), mmB=_mm_line(B), mmP=_mm_line(P), P=P, pc=pc, L=L, X=X, Lc=Lc, Xc=Xc,
              rA=sig(nA / ca, 4), rB=sig(nB / cb, 4), nP=sig(nP, 4), mP=sig(mP, 3), nXu=sig(nX_used, 4),
              mXu=sig(nX_used * MX, 3), left=sig(left, 3), mX=mX, naive=naive_lim, nL=sig(nL, 4), nX=sig(nX, 4),
              need=sig(nA * cb / ca, 4), needm=sig(nA * cb / ca * MB, 3), MX=f"{MX:.3f}", MP=f"{MP:.3f}",
              tot_in=sig(nL * ML + nX_used * MX, 4), tot_out=sig(sum(m for _, _, m in prod_masses), 4),
              outs=" and ".join(f"{sig(m, 4)} g of {f}" for f, _, m in prod_masses), mL=sig(nL * ML, 4))
    kw["outtxt"] = (f"the products formed are {kw['outs']}, totalling about {kw['tot_out']} g" if len(prod_masses) > 1
                    else f"the product formed is {kw['tot_out']} g of {prod_masses[0][0]}")
    problem = T(r"""When <<desc>>, the reaction is <<eq>>. If <<mA>> g of <<A>> reacts with <<mB>> g of <<B>>, which reactant is limiting, what mass of <<P>> is produced, and how much of the excess reactant is left over?""", **kw)
    naive_txt = (r"""So <<naive>> is the limiting reactant, since there's less of it.""" )
    paras = [
        T(r"""This is a limiting-reactant problem. The plan: convert both masses to moles, compare them against the stoichiometric ratio from the balanced equation, then use the limiting reactant to compute the product and the leftover excess. First, molar masses:
- <<mmA>>
- <<mmB>>
- <<mmP>>""", **kw),
        T(r"""Moles: \(n(\text{<<A>>}) = \frac{<<mA>>}{<<MA>>} \approx <<nA>>\) mol and \(n(\text{<<B>>}) = \frac{<<mB>>}{<<MB>>} \approx <<nB>>\) mol.""", MA=f"{MA:.3f}", MB=f"{MB:.3f}", **kw),
        T(r"""Comparing the two amounts, <<naive>> has fewer moles. So <<naive>> is the limiting reactant, since there's less of it.""", **kw),
        T(r"""<<wait>>that ignores the coefficients. The equation consumes <<ca>> mol of <<A>> for every <<cb>> mol of <<B>>, so I have to compare each amount divided by its coefficient (the number of 'reaction batches' each reactant could support): \(\frac{<<nA>>}{<<ca>>} \approx <<rA>>\) for <<A>> and \(\frac{<<nB>>}{<<cb>>} \approx <<rB>>\) for <<B>>. The smaller one runs out first, so the limiting reactant is <<L>>. <<same>>""", wait=c.pick(WAIT),
          same=("Here the naive comparison happened to give the same conclusion, but only by luck." if naive_lim == L else "The naive comparison got it wrong."), **kw),
        T(r"""Another way to say it: to use up all <<nA>> mol of <<A>>, I'd need \(<<nA>> \times \frac{<<cb>>}{<<ca>>} \approx <<need>>\) mol of <<B>>, i.e. about <<needm>> g. I have <<mB>> g, so <<B>> is <<enough>>, consistent with <<L>> being limiting.""",
          enough=("more than enough" if limA else "not enough"), **kw),
        T(r"""Product: from the equation, <<Lc>> mol of <<L>> gives <<pc>> mol of <<P>>. So \(n(\text{<<P>>}) = <<nL>> \times \frac{<<pc>>}{<<Lc>>} \approx <<nP>>\) mol, and the mass is \(<<nP>> \times <<MP>> \approx <<mP>>\) g.""", **kw),
        T(r"""Excess left over: the <<L>> consumes \(<<nL>> \times \frac{<<Xc>>}{<<Lc>>} \approx <<nXu>>\) mol of <<X>>, which is about <<mXu>> g. Started with <<mX>> g, so about <<left>> g of <<X>> remains.""", **kw),
        T(r"""<<check>> Conservation of mass: the reactants actually consumed have mass \(<<mL>> + <<mXu>> \approx <<tot_in>>\) g, and <<outtxt>>. Equal within rounding, so the stoichiometry is consistent.""", check=c.pick(CHECK), **kw),
    ]
    if c.extra >= 2:
        oth = [(f, k) for f, k in prods if f != P]
        if oth:
            f2, k2 = oth[0]
            n2 = nL * k2 / Lc
            paras.append(T(r"""For completeness, the other product: <<L>> also gives <<k2>> mol of <<f2>> per <<Lc>> mol, so \(<<nL>> \times \frac{<<k2>>}{<<Lc>>} \approx <<n2>>\) mol, and with \(M(\text{<<f2>>}) = <<M2>>\) g/mol that's about <<m2>> g. That number went into the mass balance above.""", k2=k2, f2=f2, n2=sig(n2, 4), M2=f"{molar_mass(f2):.3f}", m2=sig(n2 * molar_mass(f2), 4), **kw))
        paras.append(T(r"""One practical remark: this is the theoretical yield. In a real experiment the isolated mass of <<P>> would usually be lower, and the percent yield would be (actual / <<mP>> g) \(\times 100\%\). The problem asks for the amount produced by complete reaction, so <<mP>> g is the answer.""", **kw))
        paras.append(recheck(c, [f"{mA} / {MA:.3f} = {nA:.4f}", f"{mB} / {MB:.3f} = {nB:.4f}", f"ratios: {nA / ca:.4f} vs {nB / cb:.4f}",
                                 f"{nP:.4f} mol * {MP:.3f} g/mol = {mP:.2f} g"]))
    paras.append(summary(c, [T(r"""Moles: <<nA>> mol <<A>>, <<nB>> mol <<B>>; dividing by coefficients shows <<L>> is limiting.""", **kw),
                             T(r"""<<P>> formed: <<nP>> mol = <<mP>> g.""", **kw),
                             T(r"""Excess <<X>> remaining: about <<left>> g; mass balance checks.""", **kw)]))
    answer = T(r"""Moles: \(n(\text{<<A>>}) \approx <<nA>>\) mol, \(n(\text{<<B>>}) \approx <<nB>>\) mol. Dividing by the coefficients (<<ca>> and <<cb>>) gives <<rA>> vs <<rB>>, so **<<L>>** is limiting.

- <<P>> produced: \(<<nL>> \times \frac{<<pc>>}{<<Lc>>} \approx <<nP>>\) mol \(\approx <<mP>>\) g
- <<X>> consumed: \(\approx <<mXu>>\) g, so \(<<mX>> - <<mXu>> \approx <<left>>\) g remains

\[
\boxed{\text{limiting: <<L>>},\quad m(\text{<<P>>}) \approx <<mP>>\ \text{g},\quad \text{<<X>> left} \approx <<left>>\ \text{g}}
\]""", **kw)
    return trace("science", "stoichiometry", "find the limiting reactant and the product yield", problem, paras, answer, 3)


ISOTOPES = [("carbon-14", 5730, "years", "y"), ("iodine-131", 8.02, "days", "d"), ("cobalt-60", 5.27, "years", "y"),
            ("technetium-99m", 6.01, "hours", "h"), ("phosphorus-32", 14.3, "days", "d"), ("strontium-90", 28.8, "years", "y"),
            ("radon-222", 3.82, "days", "d")]


def sci_half_life(c: Ctx, variant: str | None = None):
    variant = variant or c.pick(["remaining", "time"])
    name, Th, unit, u = c.pick(ISOTOPES)
    lam = math.log(2) / Th
    kw = dict(name=name, Th=Th, unit=unit, lam=sig(lam, 4), ln2="0.6931")
    if variant == "remaining":
        N0 = c.pick([50, 80, 100, 120, 200, 250, 400, 500])
        k = c.pick([1.5, 2.5, 3.3, 4.2, 0.7, 2.2, 3.7])
        t = round(k * Th, 3 if Th < 10 else 0)
        if t == int(t):
            t = int(t)
        n = t / Th
        frac = 0.5**n
        N = N0 * frac
        lin = N0 * (1 - n / 2)
        fl = math.floor(n)
        kw.update(N0=N0, t=t, n=fx(n, 4), frac=sig(frac, 4), N=sig(N, 3), lin=sig(lin, 3), fl=fl, fl1=fl + 1,
                  Nfl=sig(N0 * 0.5**fl, 4), Nfl1=sig(N0 * 0.5 ** (fl + 1), 4), lt=sig(lam * t, 4), e=sig(math.exp(-lam * t), 4),
                  N2=sig(N0 * math.exp(-lam * t), 3), pct=sig(100 * frac, 3), nln2=sig(n * math.log(2), 4),
                  decayed=sig(N0 - N, 3))
        problem = T(r"""The half-life of <<name>> is <<Th>> <<unit>>. A sample initially contains <<N0>> mg of <<name>>. How much remains after <<t>> <<unit>>?""", **kw)
        paras = [
            T(r"""Radioactive decay is first order: in each half-life, half of whatever is present decays, regardless of how much there is. So the amount is \(N(t) = N_0 \left(\tfrac{1}{2}\right)^{t/T_{1/2}}\). The first step is to see how many half-lives fit into <<t>> <<unit>>.""", **kw),
            T(r"""Number of half-lives: \(\frac{<<t>>}{<<Th>>} \approx <<n>>\). Not a whole number, so I can't just halve repeatedly.""", **kw),
            T(r"""One rough idea: the sample loses half its mass per half-life, so maybe it loses mass at a steady rate of \(\frac{<<N0>>/2}{<<Th>>}\) mg per <<unit_s>>, and after <<n>> half-lives it has lost \(<<n>> \times \frac{<<N0>>}{2}\), leaving \(<<N0>>(1 - <<n>>/2) \approx <<lin>>\) mg.<<neg>>""", unit_s=unit.rstrip("s"),
              neg=(" That's negative, which is impossible." if lin < 0 else ""), **kw),
            T(r"""<<wait>>that's linear decay, and it's wrong. The first half-life removes half of <<N0>> mg, but the second removes half of what's left, which is less. Under the linear model the sample would be completely gone after exactly 2 half-lives, which contradicts the whole idea of a half-life (after 2 half-lives a quarter should remain). Decay is exponential.""", wait=c.pick(WAIT), **kw),
            T(r"""Exponential: \(N = <<N0>> \times \left(\tfrac{1}{2}\right)^{<<n>>}\). \(\left(\tfrac{1}{2}\right)^{<<n>>} = 2^{-<<n>>} \approx <<frac>>\), so \(N \approx <<N0>> \times <<frac>> \approx <<N>>\) mg. That's about <<pct>>% of the original; <<decayed>> mg has decayed.""", **kw),
            T(r"""<<check>> Bracketing: after <<fl>> whole half-lives there would be <<Nfl>> mg, and after <<fl1>> there would be <<Nfl1>> mg. Since <<n>> is between <<fl>> and <<fl1>>, the answer has to be between those, and <<N>> mg is. It's also closer to the geometric mean of the two than to their average, as expected for exponential behavior.""", check=c.pick(CHECK), **kw),
            T(r"""<<alt>>the decay constant. \(\lambda = \frac{\ln 2}{T_{1/2}} = \frac{0.6931}{<<Th>>} \approx <<lam>>\) per <<unit_s>>. Then \(\lambda t \approx <<lam>> \times <<t>> \approx <<lt>>\), and \(e^{-<<lt>>} \approx <<e>>\), so \(N = <<N0>> e^{-\lambda t} \approx <<N2>>\) mg. Same answer; the two forms are identical because \(\left(\tfrac12\right)^{t/T} = e^{-(t/T)\ln 2}\), and \(<<n>> \times \ln 2 \approx <<nln2>>\) is exactly the exponent \(\lambda t\).""", alt=c.pick(ALSO), unit_s=unit.rstrip("s"), **kw),
        ]
        if c.extra >= 2:
            rows_ = "\n".join(f"- after {k} half-li{'fe' if k == 1 else 'ves'} ({sig(k * Th, 4)} {unit}): {sig(N0 * 0.5**k, 4)} mg" for k in range(0, fl + 2))
            paras.append(T(r"""Let me write out the amounts at whole half-lives to see where the answer sits:
<<rows_>>
At <<t>> <<unit>> (<<n>> half-lives) the value <<N>> mg lies between the entries for <<fl>> and <<fl1>> half-lives, closer to the one for <<near>>, which is right since <<n>> is closer to <<near>>.""", rows_=rows_, near=(fl if n - fl < 0.5 else fl + 1), **kw))
            paras.append(T(r"""Units check: \(t/T_{1/2}\) is dimensionless as long as both are in <<unit>>, which they are. And the result is in mg because \(N_0\) is. If the half-life had been given in different units I would have had to convert first; mixing, say, days and hours in the exponent is a classic source of errors.""", **kw))
        paras.append(summary(c, [T(r"""\(t/T_{1/2} \approx <<n>>\) half-lives.""", **kw),
                                 T(r"""\(N = <<N0>>(1/2)^{<<n>>} \approx <<N>>\) mg (exponential, not linear), confirmed with \(e^{-\lambda t}\).""", **kw)]))
        answer = T(r"""The elapsed time is \(\frac{<<t>>}{<<Th>>} \approx <<n>>\) half-lives, so
\[
N = N_0\left(\tfrac{1}{2}\right)^{t/T_{1/2}} = <<N0>> \times 2^{-<<n>>} \approx <<N>>\ \text{mg}.
\]

\[
\boxed{\approx <<N>>\ \text{mg}}
\]""", **kw)
        return trace("science", "half_life", f"find how much {name} remains after some time", problem, paras, answer, 3)
    pct = c.pick([30, 20, 15, 10, 5, 40, 12.5, 1])
    n = math.log2(100 / pct)
    t = n * Th
    fl = math.floor(n)
    lin_t = Th * (fl + (0.5**fl * 100 - pct) / (0.5**fl * 100 - 0.5 ** (fl + 1) * 100)) if fl < n else t
    kw.update(pct=pct, n=fx(n, 4), t=sig(t, 3), ratio=tf(Fraction(100) / Fraction(pct).limit_denominator()), ratiod=sig(100 / pct, 4),
              lnr=fx(math.log(100 / pct), 4), l2=fx(math.log10(100 / pct), 4), fl=fl, fl1=fl + 1, lo=sig(fl * Th, 4), hi=sig((fl + 1) * Th, 4),
              plo=sig(100 * 0.5**fl, 4), phi=sig(100 * 0.5 ** (fl + 1), 4), lint=sig(lin_t, 3), chk=sig(100 * 0.5 ** (t / Th), 3),
              tl=sig(math.log(100 / pct) / lam, 3))
    problem = T(r"""The half-life of <<name>> is <<Th>> <<unit>>. How long does it take for a sample to decay to <<pct>>% of its original activity?""", **kw)
    paras = [
        T(r"""Activity is proportional to the number of undecayed nuclei, so it decays with the same half-life: \(A(t) = A_0 \left(\tfrac12\right)^{t/T_{1/2}}\). I need \(t\) such that \(A/A_0 = <<pct>>/100\).""", **kw),
        T(r"""Setting up: \(\left(\tfrac12\right)^{t/T_{1/2}} = \frac{<<pct>>}{100}\), equivalently \(2^{t/T_{1/2}} = \frac{100}{<<pct>>} = <<ratiod>>\). So the number of half-lives is \(n = \log_2 <<ratiod>>\).""", **kw),
        T(r"""Estimating by bracketing first: after <<fl>> half-lives, \(<<plo>>\)% remains; after <<fl1>>, \(<<phi>>\)% remains. <<pct>>% is in between, so <<fl>> < n < <<fl1>>. Interpolating linearly between those two points would give \(t \approx <<lint>>\) <<unit>>.""", **kw) if fl < n else "",
        T(r"""<<wait>>linear interpolation between half-lives isn't exact, because the curve is exponential, not a straight line. I should just solve the equation with logarithms:
\[
n = \log_2 <<ratiod>> = \frac{\ln <<ratiod>>}{\ln 2} = \frac{<<lnr>>}{0.6931} \approx <<n>>.
\]""", wait=c.pick(WAIT), **kw) if fl < n else T(r"""Here it's an exact power of two: \(n = \log_2 <<ratiod>> = <<n>>\).""", **kw),
        T(r"""So \(t = n \, T_{1/2} \approx <<n>> \times <<Th>> \approx <<t>>\) <<unit>>.""", **kw),
        T(r"""<<check>> After <<t>> <<unit>>, the fraction left is \(\left(\tfrac12\right)^{<<t>>/<<Th>>} \approx <<chk>>\)%, which is the target <<pct>>%. Good. Using base-10 logs instead: \(n = \frac{\log_{10} <<ratiod>>}{\log_{10} 2} = \frac{<<l2>>}{0.30103} \approx <<n>>\). Same.""", check=c.pick(CHECK), **kw),
        T(r"""<<alt>>with the decay constant \(\lambda = \ln 2 / T_{1/2} \approx <<lam>>\) per <<unit_s>>: \(A = A_0 e^{-\lambda t}\) gives \(t = \frac{\ln(100/<<pct>>)}{\lambda} = \frac{<<lnr>>}{<<lam>>} \approx <<tl>>\) <<unit>>. Consistent.""", alt=c.pick(ALSO), unit_s=unit.rstrip("s"), **kw),
    ]
    if c.extra >= 2:
        rows_ = "\n".join(f"- {k} half-li{'fe' if k == 1 else 'ves'} ({sig(k * Th, 4)} {unit}): {sig(100 * 0.5**k, 4)}%" for k in range(0, fl + 2))
        paras.append(T(r"""Table of remaining activity at whole half-lives:
<<rows_>>
The target <<pct>>% sits <<where>>, consistent with \(n \approx <<n>>\).""", rows_=rows_, where=(f"between {fl} and {fl + 1} half-lives" if fl < n else f"exactly at {fl} half-lives"), **kw))
        paras.append(T(r"""A useful rule of thumb as a final sanity check: each factor of 10 in activity takes \(\log_2 10 \approx 3.32\) half-lives. Going down to <<pct>>% is a factor of <<ratiod>>, so about \(3.32 \times \log_{10} <<ratiod>> \approx <<n2>>\) half-lives. Consistent with <<n>>.""", n2=fx(3.3219 * math.log10(100 / pct), 2), **kw))
    paras.append(summary(c, [T(r"""\(2^{n} = 100/<<pct>>\), so \(n = \log_2(100/<<pct>>) \approx <<n>>\) half-lives.""", **kw),
                             T(r"""\(t = n T_{1/2} \approx <<t>>\) <<unit>>.""", **kw)]))
    answer = T(r"""We need \(\left(\tfrac12\right)^{t/T_{1/2}} = <<pct>>/100\), so
\[
t = T_{1/2}\,\log_2\frac{100}{<<pct>>} = <<Th>> \times \frac{\ln(100/<<pct>>)}{\ln 2} \approx <<Th>> \times <<n>> \approx <<t>>\ \text{<<unit>>}.
\]

\[
\boxed{t \approx <<t>>\ \text{<<unit>>}}
\]""", **kw)
    return trace("science", "half_life", f"find how long {name} takes to decay to a given fraction", problem, paras, answer, 3)


def sci_circuit(c: Ctx, variant: str | None = None):
    V = c.pick([6, 9, 12, 24])
    R1 = c.randint(2, 20)
    R2, R3 = c.randint(3, 30), c.randint(3, 30)
    R23 = Fraction(R2 * R3, R2 + R3)
    Rt = R1 + R23
    I = V / Rt
    V23 = I * R23
    I2, I3 = V23 / R2, V23 / R3
    P = V * I
    kw = dict(V=V, R1=R1, R2=R2, R3=R3, R23=sig(float(R23), 4), R23f=tf(R23), Rt=sig(float(Rt), 4), I=sig(float(I), 3),
              V1=sig(float(I * R1), 3), V23=sig(float(V23), 3), I2=sig(float(I2), 3), I3=sig(float(I3), 3), P=sig(float(P), 3),
              P1=sig(float(I * I * R1), 3), P2=sig(float(I2 * I2 * R2), 3), P3=sig(float(I3 * I3 * R3), 3),
              Psum=sig(float(I * I * R1 + I2 * I2 * R2 + I3 * I3 * R3), 3), Rw=R2 + R3 + R1, Iw=sig(V / (R1 + R2 + R3), 3),
              prod=R2 * R3, s=R2 + R3, I23=sig(float(I2 + I3), 3), Vsum=sig(float(I * R1 + V23), 3),
              inv=f"\\frac{{1}}{{{R2}}} + \\frac{{1}}{{{R3}}} = \\frac{{{R3} + {R2}}}{{{R2 * R3}}}", split2=sig(float(Fraction(R3, R2 + R3)), 4),
              Idiv=sig(float(I * R3 / (R2 + R3)), 3), lower=min(R2, R3))
    problem = T(r"""A <<V>> V battery (negligible internal resistance) is connected to a resistor \(R_1 = <<R1>>\ \Omega\) in series with a parallel combination of \(R_2 = <<R2>>\ \Omega\) and \(R_3 = <<R3>>\ \Omega\). Find the current drawn from the battery, the current through \(R_2\) and through \(R_3\), and the power dissipated in \(R_3\).""", **kw)
    paras = [
        T(r"""Let me picture the circuit: battery, then \(R_1\), then a junction where the current splits between \(R_2\) and \(R_3\), which rejoin and return to the battery. So \(R_2 \parallel R_3\) acts as one equivalent resistor in series with \(R_1\). Plan: reduce to a single equivalent resistance, get the total current from Ohm's law, then work back out to the branches.""", **kw),
        T(r"""Equivalent resistance: \(R_1 + R_2 + R_3 = <<R1>> + <<R2>> + <<R3>> = <<Rw>>\ \Omega\), so the current would be \(<<V>>/<<Rw>> \approx <<Iw>>\) A.""", **kw),
        T(r"""<<wait>>that's treating everything as series. \(R_2\) and \(R_3\) are in parallel: the current has two paths, which makes it easier for charge to flow, so the combination must have less resistance than either branch alone, not more. For parallel resistors the reciprocals add:
\[
\frac{1}{R_{23}} = <<inv>> \quad\Longrightarrow\quad R_{23} = \frac{R_2 R_3}{R_2 + R_3} = \frac{<<prod>>}{<<s>>} = <<R23f>> \approx <<R23>>\ \Omega.
\]
Indeed less than <<lower>> \(\Omega\), the smaller of the two.""", wait=c.pick(WAIT), **kw),
        T(r"""Total resistance: \(R_{\text{tot}} = <<R1>> + <<R23>> \approx <<Rt>>\ \Omega\). Battery current: \(I = \frac{<<V>>}{<<Rt>>} \approx <<I>>\) A.""", **kw),
        T(r"""Voltage across \(R_1\): \(<<I>> \times <<R1>> \approx <<V1>>\) V. The rest appears across the parallel pair: \(V_{23} = I R_{23} \approx <<V23>>\) V (both branches share this voltage). Then \(I_2 = \frac{<<V23>>}{<<R2>>} \approx <<I2>>\) A and \(I_3 = \frac{<<V23>>}{<<R3>>} \approx <<I3>>\) A.""", **kw),
        T(r"""Power in \(R_3\): \(P_3 = I_3^2 R_3 \approx <<I3>>^2 \times <<R3>> \approx <<P3>>\) W (equivalently \(V_{23}^2/R_3\)).""", **kw),
        T(r"""<<check>> Kirchhoff's current law at the junction: \(I_2 + I_3 \approx <<I2>> + <<I3>> = <<I23>>\) A, which equals the battery current <<I>> A. Kirchhoff's voltage law around the loop: \(<<V1>> + <<V23>> \approx <<Vsum>>\) V, the battery voltage. Power balance: the battery supplies \(VI \approx <<V>> \times <<I>> \approx <<P>>\) W, and the resistors dissipate \(<<P1>> + <<P2>> + <<P3>> \approx <<Psum>>\) W. All consistent.""", check=c.pick(CHECK), **kw),
        T(r"""<<alt>>current divider rule: in a parallel pair, each branch takes a share of the current inversely proportional to its resistance, so \(I_2 = I \cdot \frac{R_3}{R_2 + R_3} \approx <<I>> \times <<split2>> \approx <<Idiv>>\) A. Same as before. The branch with the smaller resistance carries the larger current, which matches the numbers.""", alt=c.pick(ALSO), **kw),
    ]
    if c.extra >= 2:
        In = V / (R1 + R2)
        paras.append(T(r"""What-if check on the physics: if \(R_3\) were removed (an open circuit in that branch), the only path would be \(R_1\) and \(R_2\) in series, \(<<R1>> + <<R2>> = <<r12>>\ \Omega\), and the current would drop to \(<<V>>/<<r12>> \approx <<In>>\) A. Adding \(R_3\) in parallel gives the current an extra path, lowering the total resistance and raising the current to <<I>> A. That's the right direction.""", r12=R1 + R2, In=sig(In, 3), **kw))
        paras.append(T(r"""A note on precision: I kept \(R_{23} = <<R23f>>\ \Omega\) exact and only rounded at the end, which is why the Kirchhoff checks close so well. Rounding intermediate values to two digits could make the power balance off by a few percent and hide a real mistake.""", **kw))
    paras.append(summary(c, [T(r"""\(R_{23} = R_2R_3/(R_2+R_3) \approx <<R23>>\ \Omega\) (parallel, not series); \(R_{\text{tot}} \approx <<Rt>>\ \Omega\).""", **kw),
                             T(r"""\(I \approx <<I>>\) A, \(I_2 \approx <<I2>>\) A, \(I_3 \approx <<I3>>\) A, \(P_3 \approx <<P3>>\) W; KCL, KVL and power balance check.""", **kw)]))
    answer = T(r"""\(R_{23} = \dfrac{<<R2>> \cdot <<R3>>}{<<R2>> + <<R3>>} \approx <<R23>>\ \Omega\), so \(R_{\text{tot}} \approx <<Rt>>\ \Omega\) and \(I = <<V>>/<<Rt>> \approx <<I>>\) A. The parallel pair has \(V_{23} \approx <<V23>>\) V across it, giving \(I_2 \approx <<I2>>\) A, \(I_3 \approx <<I3>>\) A, and \(P_3 = I_3^2R_3 \approx <<P3>>\) W.

\[
\boxed{I \approx <<I>>\ \text{A},\ I_2 \approx <<I2>>\ \text{A},\ I_3 \approx <<I3>>\ \text{A},\ P_3 \approx <<P3>>\ \text{W}}
\]""", **kw)
    return trace("science", "circuits", "analyse a series-parallel resistor circuit", problem, paras, answer, 3)


ACIDS = [("acetic acid", "CH3COOH", 1.8e-5), ("formic acid", "HCOOH", 1.8e-4), ("hydrofluoric acid", "HF", 6.8e-4),
         ("hypochlorous acid", "HOCl", 3.0e-8), ("benzoic acid", "C6H5COOH", 6.3e-5), ("nitrous acid", "HNO2", 4.5e-4)]


def sci_ph(c: Ctx, variant: str | None = None):
    name, formula, Ka = c.pick(ACIDS)
    C = c.pick([0.010, 0.050, 0.10, 0.20, 0.25, 0.50])
    x_app = math.sqrt(Ka * C)
    x = (-Ka + math.sqrt(Ka * Ka + 4 * Ka * C)) / 2
    pct_app = 100 * x_app / C
    kw = dict(name=name, name_cap=name[0].upper() + name[1:], f=formula, Ka=sci(Ka, 2), C=f"{C:.3f}".rstrip("0").rstrip(".") if C < 0.1 else f"{C:.2f}",
              pHs=fx(-math.log10(C), 2), xa=sci(x_app, 3), pha=fx(-math.log10(x_app), 2), pct=sig(pct_app, 3),
              x=sci(x, 3), ph=fx(-math.log10(x), 2), KaC=sci(Ka * C, 3), disc=sci(Ka * Ka + 4 * Ka * C, 4),
              pKa=fx(-math.log10(Ka), 2), pct_ex=sig(100 * x / C, 3), Kback=sci(x * x / (C - x), 3),
              logC=fx(math.log10(C), 3), half=fx(0.5 * (-math.log10(Ka) - math.log10(C)), 2), ohm=sci(1e-14 / x, 2))
    ok = pct_app < 5
    problem = T(r"""What is the pH of a <<C>> M solution of <<name>> (\(\text{<<f>>}\))? \(K_a = <<Ka>>\).""", **kw)
    paras = [
        T(r"""<<name_cap>> at <<C>> M. Hmm, the quick answer would be \(\text{pH} = -\log(<<C>>) = <<pHs>>\).""", **kw),
        T(r"""<<wait>>that assumes the acid dissociates completely, which is only true for strong acids like HCl. <<name_cap>> is a weak acid (\(K_a = <<Ka>>\) is small), so only a small fraction of it ionizes, and \([\text{H}^+]\) will be much less than <<C>> M. The pH must be higher than <<pHs>>. I need the equilibrium.""", wait=c.pick(WAIT), **kw),
        T(r"""ICE table for \(\text{HA} \rightleftharpoons \text{H}^+ + \text{A}^-\):
- Initial: \([\text{HA}] = <<C>>\), \([\text{H}^+] \approx 0\), \([\text{A}^-] = 0\)
- Change: \(-x\), \(+x\), \(+x\)
- Equilibrium: \(<<C>> - x\), \(x\), \(x\)

So \(K_a = \frac{x^2}{<<C>> - x} = <<Ka>>\). (I'm ignoring the \(10^{-7}\) M of \(\text{H}^+\) from water, which should be negligible; I'll check that at the end.)""", **kw),
        T(r"""Since \(K_a\) is small, assume \(x \ll <<C>>\), so \(<<C>> - x \approx <<C>>\). Then \(x^2 \approx <<Ka>> \times <<C>> = <<KaC>>\), and \(x \approx <<xa>>\) M, giving \(\text{pH} \approx <<pha>>\).""", **kw),
        T(r"""<<check>> The approximation is usually accepted if \(x\) is less than 5% of the initial concentration: \(\frac{<<xa>>}{<<C>>} \times 100\% \approx <<pct>>\%\). <<verdict>>""", check=c.pick(CHECK),
          verdict=("That's under 5%, so the approximation is fine." if ok else "That's over 5%, so the approximation is not good enough here; I need to solve the quadratic."), **kw),
        T(r"""<<intro>> \(x^2 + K_a x - K_a C = 0\), so
\[
x = \frac{-K_a + \sqrt{K_a^2 + 4K_aC}}{2} = \frac{-<<Ka>> + \sqrt{<<disc>>}}{2} \approx <<x>>\ \text{M}.
\]
\(\text{pH} = -\log(<<x>>) \approx <<ph>>\). Percent ionization \(\approx <<pct_ex>>\%\).""",
          intro=("Let me solve the quadratic anyway to see how much difference it makes." if ok else "The exact equation: \\(x^2 = K_a(C - x)\\), i.e."), **kw),
        T(r"""Plugging back: \(\frac{x^2}{<<C>> - x}\) with \(x = <<x>>\) gives \(\approx <<Kback>>\), which reproduces \(K_a\). <<diffnote>>""",
          diffnote=("The approximate and exact pH agree to two decimals, as expected when ionization is this small." if fx(-math.log10(x), 2) == fx(-math.log10(x_app), 2)
                    else "The approximate pH was slightly off, which is why the exact solution is the one to report."), **kw),
        T(r"""<<alt>>the shortcut formula for a weak acid: \(\text{pH} \approx \frac{1}{2}(\text{p}K_a - \log C)\). Here \(\text{p}K_a = <<pKa>>\) and \(\log <<C>> = <<logC>>\), so \(\text{pH} \approx \frac{1}{2}(<<pKa>> + <<mlogC>>) = <<half>>\). That's the same as the approximate result (it's the same approximation written in logs).""", alt=c.pick(ALSO), mlogC=fx(-math.log10(C), 3), **kw),
        T(r"""Water check: \([\text{H}^+] \approx <<x>>\) M is far above \(10^{-7}\) M, so water's contribution is negligible; \([\text{OH}^-] = 10^{-14}/[\text{H}^+] \approx <<ohm>>\) M. And the pH <<ph>> is higher than the strong-acid value <<pHs>>, as it should be for a weak acid.""", **kw),
    ]
    if c.extra >= 2:
        C10 = C / 10
        x10 = (-Ka + math.sqrt(Ka * Ka + 4 * Ka * C10)) / 2
        paras.append(T(r"""Side check on the chemistry: diluting a weak acid increases its percent ionization. At a tenth of the concentration, <<C10>> M, the quadratic gives \(x \approx <<x10>>\) M, which is <<p10>>% ionized versus <<pct_ex>>% now, and the pH rises to <<ph10>>. For a strong acid, a tenfold dilution would raise the pH by exactly 1; here it rises by only about <<dph>>, because the extra dissociation partly compensates.""",
                       C10=sig(C10, 2), x10=sci(x10, 3), p10=sig(100 * x10 / C10, 3), ph10=fx(-math.log10(x10), 2), dph=fx(math.log10(x / x10), 2), **kw))
        paras.append(T(r"""Significant figures: \(K_a\) is given to two significant figures, so the pH deserves two decimal places (the digits after the decimal point in a pH carry the precision of the concentration). I'll report \(\text{pH} \approx <<ph>>\).""", **kw))
    if c.extra >= 3:
        paras.append(T(r"""One more consistency check from a different formula: the Henderson-Hasselbalch equation \(\text{pH} = \text{p}K_a + \log\frac{[\text{A}^-]}{[\text{HA}]}\) holds at any equilibrium. Here \([\text{A}^-] = <<x>>\) and \([\text{HA}] = <<C>> - x \approx <<ha>>\), so the ratio is about <<hh_ratio>>, its log is <<hh_log>>, and \(<<pKa>> + (<<hh_log>>) \approx <<hh>>\). Same pH.""",
                       ha=sig(C - x, 4), hh_ratio=sig(x / (C - x), 3), hh_log=fx(math.log10(x / (C - x)), 2), hh=fx(-math.log10(Ka) + math.log10(x / (C - x)), 2), **kw))
    paras.append(summary(c, [r"""Weak acid, so not \(-\log C\); set up \(K_a = x^2/(C - x)\).""",
                             T(r"""Approximation gives \(x \approx <<xa>>\) (<<pct>>% ionized); exact quadratic gives \(x \approx <<x>>\) M.""", **kw),
                             T(r"""\(\text{pH} \approx <<ph>>\).""", **kw)]))
    answer = T(r"""For \(\text{HA} \rightleftharpoons \text{H}^+ + \text{A}^-\) with \(K_a = \dfrac{x^2}{<<C>> - x} = <<Ka>>\):
\[
x = \frac{-K_a + \sqrt{K_a^2 + 4K_a C}}{2} \approx <<x>>\ \text{M} \quad (\text{about } <<pct_ex>>\% \text{ ionized}),
\]
so \(\text{pH} = -\log[\text{H}^+] \approx <<ph>>\).

\[
\boxed{\text{pH} \approx <<ph>>}
\]""", **kw)
    return trace("science", "acid_base", f"find the pH of a weak acid solution", problem, paras, answer, 4)


def sci_enzyme(c: Ctx, variant: str | None = None):
    Km = c.pick([0.5, 0.8, 1.2, 2.0, 2.5, 4.0, 5.0])
    Vmax = c.pick([20, 40, 50, 80, 120, 150, 200])
    S = c.pick([0.5, 1.0, 2.0, 3.0, 5.0, 8.0])
    frac = c.pick([0.75, 0.8, 0.9])
    I, Ki = c.pick([1.0, 2.0, 5.0]), c.pick([0.5, 1.0, 2.0, 4.0])
    v = Vmax * S / (Km + S)
    Sfrac = frac / (1 - frac) * Km
    Kapp = Km * (1 + I / Ki)
    vi = Vmax * S / (Kapp + S)
    vw = (Vmax / (1 + I / Ki)) * S / (Km + S)
    kw = dict(Km=Km, Vmax=Vmax, S=S, frac=frac, pctf=int(round(frac * 100)), I=I, Ki=Ki, v=sig(v, 3), Sf=sig(Sfrac, 3),
              rat=tf(Fraction(frac).limit_denominator(20) / (1 - Fraction(frac).limit_denominator(20))), Kapp=sig(Kapp, 3),
              fac=sig(1 + I / Ki, 3), vi=sig(vi, 3), vw=sig(vw, 3), KmS=sig(Km + S, 3), KappS=sig(Kapp + S, 3),
              VS=sig(Vmax * S, 4), slope=sig(Km / Vmax, 4), icpt=sig(1 / Vmax, 4), invS=sig(1 / S, 4),
              invv=sig(Km / Vmax / S + 1 / Vmax, 4), vlb=sig(1 / (Km / Vmax / S + 1 / Vmax), 3), half=sig(Vmax / 2, 3),
              fracv=sig(v / Vmax, 3), drop=sig(100 * (1 - vi / v), 3), Sfi=sig(frac / (1 - frac) * Kapp, 3), ViS=sig(Vmax * 0.5, 3))
    problem = T(r"""An enzyme follows Michaelis-Menten kinetics with \(K_m = <<Km>>\) mM and \(V_{max} = <<Vmax>>\ \mu\text{mol/min}\).
(a) What is the reaction rate at \([S] = <<S>>\) mM?
(b) What substrate concentration gives <<pctf>>% of \(V_{max}\)?
(c) A competitive inhibitor is added at \([I] = <<I>>\) mM, with \(K_i = <<Ki>>\) mM. What is the rate at \([S] = <<S>>\) mM now?""", **kw)
    paras = [
        T(r"""Michaelis-Menten: \(v = \frac{V_{max}[S]}{K_m + [S]}\). \(K_m\) is the substrate concentration at which the rate is half of \(V_{max}\), so at \([S] = <<Km>>\) mM the rate would be <<half>> \(\mu\)mol/min. Useful reference point.""", **kw),
        T(r"""(a) \(v = \frac{<<Vmax>> \times <<S>>}{<<Km>> + <<S>>} = \frac{<<VS>>}{<<KmS>>} \approx <<v>>\ \mu\text{mol/min}\). That's \(<<fracv>>\) of \(V_{max}\). <<cmpnote>>""",
          cmpnote=("Since [S] is above K_m, the rate is above half of V_max; makes sense." if S > Km else ("[S] equals K_m, so exactly half; makes sense." if S == Km else "Since [S] is below K_m, the rate is below half of V_max; makes sense.")), **kw),
        T(r"""(b) I want \(\frac{[S]}{K_m + [S]} = <<frac>>\). Solving: \([S] = <<frac>>(K_m + [S])\), so \([S](1 - <<frac>>) = <<frac>> K_m\), i.e. \([S] = \frac{<<frac>>}{1 - <<frac>>} K_m = <<rat>> K_m = <<Sf>>\) mM. Check: \(\frac{<<Sf>>}{<<Km>> + <<Sf>>} = <<frac>>\). Yes. It takes a substrate concentration well above \(K_m\) to get close to \(V_{max}\), because the curve saturates slowly.""", **kw),
        T(r"""(c) With an inhibitor, my first thought is that the rate ceiling drops: \(V_{max}\) divided by \(1 + [I]/K_i = <<fac>>\), which gives \(v \approx <<vw>>\ \mu\)mol/min.""", **kw),
        T(r"""<<wait>>that's the behavior of a noncompetitive inhibitor. A competitive inhibitor binds the active site and competes with the substrate, so enough substrate can always outcompete it: \(V_{max}\) is unchanged, and instead the apparent \(K_m\) increases by the factor \(1 + [I]/K_i\):
\[
K_m^{app} = K_m\left(1 + \frac{[I]}{K_i}\right) = <<Km>> \times <<fac>> = <<Kapp>>\ \text{mM}.
\]""", wait=c.pick(WAIT), **kw),
        T(r"""Then \(v = \frac{<<Vmax>> \times <<S>>}{<<Kapp>> + <<S>>} = \frac{<<VS>>}{<<KappS>>} \approx <<vi>>\ \mu\text{mol/min}\), a drop of about <<drop>>% from the uninhibited rate. To reach <<pctf>>% of \(V_{max}\) with the inhibitor present you'd now need \([S] = <<rat>> \times <<Kapp>> \approx <<Sfi>>\) mM.""", **kw),
        T(r"""<<check>> Lineweaver-Burk form of part (a): \(\frac{1}{v} = \frac{K_m}{V_{max}}\cdot\frac{1}{[S]} + \frac{1}{V_{max}}\). Slope \(\frac{<<Km>>}{<<Vmax>>} = <<slope>>\), intercept \(\frac{1}{<<Vmax>>} = <<icpt>>\), and \(\frac{1}{[S]} = <<invS>>\). So \(\frac{1}{v} \approx <<slope>> \times <<invS>> + <<icpt>> = <<invv>>\), giving \(v \approx <<vlb>>\). Matches (a). In this plot a competitive inhibitor raises the slope but leaves the y-intercept \(1/V_{max}\) fixed, consistent with what I used in (c).""", check=c.pick(CHECK), **kw),
    ]
    if c.extra >= 2:
        mults = [0.5, 1, 2, 5, 10]
        tab = "\n".join(f"- \\([S] = {sig(mu * Km, 3)}\\) mM (\\({'' if mu == 1 else (str(mu) if mu < 1 else int(mu))}K_m\\)): \\(v = {sig(Vmax * mu / (1 + mu), 3)}\\), i.e. {sig(100 * mu / (1 + mu), 3)}% of \\(V_{{max}}\\)" for mu in mults)
        paras.append(T(r"""To see the saturation behavior, a few points on the uninhibited curve:
<<tab>>
Even at ten times \(K_m\) the rate is only about 91% of \(V_{max}\), which is why part (b) needed \([S]\) several times \(K_m\).""", tab=tab, **kw))
        paras.append(T(r"""Units: \(K_m\), \([S]\), \([I]\) and \(K_i\) are all in mM, so the ratios are dimensionless and the rates come out in the units of \(V_{max}\), \(\mu\)mol/min. If \(K_i\) had been given in \(\mu\)M I'd have had to convert first.""", **kw))
    if c.extra >= 3:
        paras.append(T(r"""And one more rearrangement as a check, the Eadie-Hofstee form \(v = V_{max} - K_m \frac{v}{[S]}\): with \(v = <<v>>\) and \([S] = <<S>>\), \(\frac{v}{[S]} \approx <<vs>>\), so \(V_{max} - K_m \frac{v}{[S]} \approx <<Vmax>> - <<Km>> \times <<vs>> \approx <<eh>>\). That reproduces \(v\), so part (a) is solid from three directions.""",
                       vs=sig(v / S, 4), eh=sig(Vmax - Km * v / S, 3), **kw))
    paras.append(summary(c, [T(r"""(a) \(v \approx <<v>>\ \mu\)mol/min.""", **kw),
                             T(r"""(b) \([S] = \frac{<<frac>>}{1-<<frac>>}K_m \approx <<Sf>>\) mM.""", **kw),
                             T(r"""(c) Competitive: \(K_m^{app} = <<Kapp>>\) mM, \(V_{max}\) unchanged, \(v \approx <<vi>>\ \mu\)mol/min.""", **kw)]))
    answer = T(r"""(a) \(v = \dfrac{V_{max}[S]}{K_m + [S]} = \dfrac{<<Vmax>> \times <<S>>}{<<Km>> + <<S>>} \approx <<v>>\ \mu\text{mol/min}\)

(b) \(\dfrac{[S]}{K_m + [S]} = <<frac>> \Rightarrow [S] = <<rat>>K_m \approx <<Sf>>\) mM

(c) A competitive inhibitor leaves \(V_{max}\) unchanged and raises \(K_m^{app} = K_m(1 + [I]/K_i) = <<Kapp>>\) mM, so \(v = \dfrac{<<Vmax>> \times <<S>>}{<<Kapp>> + <<S>>} \approx <<vi>>\ \mu\text{mol/min}\).

\[
\boxed{v \approx <<v>>,\quad [S] \approx <<Sf>>\ \text{mM},\quad v_{inh} \approx <<vi>>\ \mu\text{mol/min}}
\]""", **kw)
    return trace("science", "enzyme_kinetics", "work through Michaelis-Menten kinetics with and without a competitive inhibitor", problem, paras, answer, 4)


# ---------------------------------------------------------------------------------------------
# composing rows
# ---------------------------------------------------------------------------------------------

FAMILIES = {
    "math": [(math_quadratic, 3), (math_arithmetic, 2), (math_geometric, 2), (math_modular, 3), (math_combinatorics, 2),
             (math_geometry, 2), (math_probability, 2), (math_divisors, 1), (math_linear_system, 1), (math_lattice, 1)],
    "code": [(code_two_sum, 1), (code_lis, 1), (code_binary_search, 1), (code_intervals, 1), (code_bfs_grid, 1), (code_kadane, 1)],
    "science": [(sci_projectile, 1), (sci_ideal_gas, 1), (sci_stoichiometry, 1), (sci_half_life, 1), (sci_circuit, 1),
                (sci_ph, 1), (sci_enzyme, 1)],
}
DOMAIN_WEIGHTS = (("math", 0.55), ("code", 0.20), ("science", 0.25))
LABELS = "abcdefgh"
_WORD = re.compile(r"\w+|[^\w\s]")


def approx_tokens(text: str) -> int:
    """A stdlib stand-in for a BPE count: words and symbols, within ~20% of cl100k_base here."""
    return len(_WORD.findall(text))


def row(domain: str, difficulty: int, problem: str, thinking: str, answer: str, source: str) -> dict:
    return {
        "difficulty": difficulty,
        "source": source,
        "domain": domain,
        "conversations": [
            {"from": "human", "value": problem},
            {"from": "gpt", "value": f"<think>\n{thinking}\n</think>\n\n{answer}"},
        ],
    }


def render_single(t: dict, c: Ctx, source: str) -> dict:
    paras = list(t["paras"])
    paras[0] = T(c.pick(OPENERS), task=t["task"]) + " " + paras[0]
    return row(t["domain"], t["difficulty"], t["problem"], finalize("\n\n".join(paras)), t["answer"], source)


def render_multi(parts: list[dict], c: Ctx, source: str) -> dict:
    k = len(parts)
    problem = f"Solve the following {k} problems.\n\n" + "\n\n".join(
        f"({LABELS[i]}) {p['problem']}" for i, p in enumerate(parts))
    paras = []
    for i, p in enumerate(parts):
        ps = list(p["paras"])
        if i == 0:
            head = T(c.pick(OPENERS), task=f"work through {k} separate problems") + " " + \
                f"They're independent, so I'll take them in order. Part (a) asks me to {p['task']}."
        else:
            head = T(c.pick(PART_OPENERS), label=LABELS[i], task=p["task"])
        ps[0] = head + " " + ps[0]
        paras.extend(ps)
    answer = "\n\n".join(f"**({LABELS[i]})** {p['answer']}" for i, p in enumerate(parts))
    difficulty = max(p["difficulty"] for p in parts) + (1 if k > 2 else 0)
    return row(parts[0]["domain"], difficulty, problem, finalize("\n\n".join(paras)), answer, source)


def pick_family(c: Ctx, domain: str):
    fams = FAMILIES[domain]
    total = sum(w for _, w in fams)
    r = c.rng.random() * total
    for fn, w in fams:
        r -= w
        if r < 0:
            return fn
    return fams[-1][0]


def pick_domain(c: Ctx) -> str:
    r = c.rng.random()
    for d, w in DOMAIN_WEIGHTS:
        r -= w
        if r < 0:
            return d
    return DOMAIN_WEIGHTS[-1][0]


def synthetic_row(c: Ctx) -> dict:
    """One benchmark trace: mostly single problems of mixed depth, some 2-part, ~3% long 5-7 part (~8-12K tokens)."""
    domain = pick_domain(c)
    r = c.rng.random()
    if r < 0.03:
        c.extra = 3
        k = c.pick([5, 6, 7])
        parts = [pick_family(c, domain)(c) for _ in range(k)]
        return render_multi(parts, c, f"openmementos-synthetic/{domain}")
    c.extra = c.pick([0, 1, 1, 2, 2, 2, 3, 3])
    if r < 0.15:
        parts = [pick_family(c, domain)(c) for _ in range(2)]
        return render_multi(parts, c, f"openmementos-synthetic/{domain}")
    return render_single(pick_family(c, domain)(c), c, f"openmementos-synthetic/{domain}")


def write_corpus(path: Path, count: int, seed: int) -> float:
    c = Ctx(random.Random(seed))
    t0 = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        buf = []
        for _ in range(count):
            buf.append(json.dumps(synthetic_row(c), ensure_ascii=False))
            if len(buf) >= 512:
                fh.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            fh.write("\n".join(buf) + "\n")
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# hand-written traces (fixed text, for variety of style)
# ---------------------------------------------------------------------------------------------

HANDWRITTEN = [
    dict(domain="math", difficulty=3, problem=r'''How many positive integers less than 1000 have digits that add up to 10?''',
         thinking=r'''Okay, so I need to count the positive integers below 1000 whose digits sum to 10. Those are the one-, two- and three-digit numbers. A one-digit number has digit sum at most 9, so none of those work. So I'm really counting two- and three-digit numbers.

A standard trick: write every number from 0 to 999 with exactly three digits, padding with leading zeros. So 7 becomes 007 and 46 becomes 046. Leading zeros don't change the digit sum, and the padded string determines the number, so this is a bijection between {0, ..., 999} and strings \(abc\) with \(a, b, c \in \{0, \ldots, 9\}\). The number 0 itself (000) has digit sum 0, so it won't be counted by accident, and "positive" takes care of itself.

So the question becomes: how many solutions does
\[
a + b + c = 10
\]
have with each of \(a, b, c\) an integer from 0 to 9?

Without the upper bound of 9 this is stars and bars: the number of nonnegative integer solutions of \(a + b + c = 10\) is \(\binom{10 + 2}{2} = \binom{12}{2} = 66\). So the answer is 66?

Hmm, let me sanity check with the two-digit numbers, which I can list. Those correspond to \(a = 0\), so \(b + c = 10\). Stars and bars would say \(\binom{11}{1} = 11\) solutions: \(b = 0, 1, \ldots, 10\). But \(b = 0\) means \(c = 10\), which isn't a digit, and \(b = 10\) isn't a digit either. The real two-digit numbers are 19, 28, 37, 46, 55, 64, 73, 82, 91: that's 9, not 11.

Wait, so the upper bound does matter here. Since the total is 10, a single digit can exceed 9 only by being exactly 10, with the other two digits 0. In the three-digit setting that's \((10, 0, 0)\), \((0, 10, 0)\) and \((0, 0, 10)\): three bad solutions. Two digits can't both be 10 or more, since the total is only 10. So by inclusion-exclusion the count is
\[
\binom{12}{2} - 3\binom{2}{2} = 66 - 3 = 63.
\]
The general correction term: if \(a \ge 10\), set \(a' = a - 10 \ge 0\), then \(a' + b + c = 0\), which has \(\binom{0 + 2}{2} = 1\) solution, and there are 3 choices of which digit is too big.

Let me double-check 63 by casework on the hundreds digit \(a\). For each \(a\), I need \(b + c = 10 - a\) with \(0 \le b, c \le 9\).

- \(a = 0\): \(b + c = 10\), \(b\) from 1 to 9, so 9 ways.
- \(a = 1\): \(b + c = 9\), \(b\) from 0 to 9, so 10 ways.
- \(a = 2\): \(b + c = 8\), 9 ways.
- \(a = 3\): \(b + c = 7\), 8 ways.
- \(a = 4\): 7 ways.
- \(a = 5\): 6 ways.
- \(a = 6\): 5 ways.
- \(a = 7\): 4 ways.
- \(a = 8\): 3 ways.
- \(a = 9\): \(b + c = 1\), 2 ways.

Total: \(9 + 10 = 19\), \(19 + 9 = 28\), \(28 + 8 = 36\), \(36 + 7 = 43\), \(43 + 6 = 49\), \(49 + 5 = 54\), \(54 + 4 = 58\), \(58 + 3 = 61\), \(61 + 2 = 63\). Good, 63 again.

So there are 9 two-digit numbers and \(63 - 9 = 54\) three-digit numbers. Let me spot check the three-digit ones with hundreds digit 1: 109, 118, 127, 136, 145, 154, 163, 172, 181, 190. Ten of them, matching the \(a = 1\) line. And with hundreds digit 9: 901 and 910. Two, matching.

Another way to see it: generating functions. The number of ways is the coefficient of \(x^{10}\) in \((1 + x + \cdots + x^9)^3 = \left(\frac{1 - x^{10}}{1 - x}\right)^3\). Expanding, \((1 - x^{10})^3 = 1 - 3x^{10} + 3x^{20} - x^{30}\), and \(\frac{1}{(1-x)^3} = \sum_n \binom{n+2}{2} x^n\). The coefficient of \(x^{10}\) is \(\binom{12}{2} - 3\binom{2}{2} = 66 - 3 = 63\). Same computation as the inclusion-exclusion, just packaged differently.

One more consistency check I like: replacing each digit \(d\) by \(9 - d\) maps a three-digit string with digit sum \(s\) to one with digit sum \(27 - s\). So the count for sum 10 should equal the count for sum 17. For 17: \(\binom{19}{2} - 3\binom{9}{2} + 3\binom{-1}{2}\)... the last term corresponds to two digits being at least 10, which needs a total of at least 20, impossible for 17, so it's just \(\binom{19}{2} - 3\binom{9}{2} = 171 - 3 \cdot 36 = 171 - 108 = 63\). Matches.

Let me also make sure about the boundary: "less than 1000" excludes 1000, whose digit sum is 1 anyway. And I haven't included 0. So the answer is 63.''',
         answer=r'''Write each number below 1000 as a three-digit string \(abc\) (leading zeros allowed); we need \(a + b + c = 10\) with \(0 \le a, b, c \le 9\).

Stars and bars gives \(\binom{12}{2} = 66\) nonnegative solutions, but three of them, \((10,0,0), (0,10,0), (0,0,10)\), use a "digit" of 10. Hence
\[
66 - 3 = 63.
\]
(Casework on the hundreds digit gives \(9 + 10 + 9 + 8 + 7 + 6 + 5 + 4 + 3 + 2 = 63\).)

\[
\boxed{63}
\]'''),
    dict(domain="math", difficulty=3, problem=r'''Find the minimum value of \(x^2 + y^2\) over all real numbers \(x, y\) satisfying \(3x + 4y = 10\), and the point where it is attained.''',
         thinking=r'''Okay, so I need to minimize \(x^2 + y^2\) subject to the linear constraint \(3x + 4y = 10\). Geometrically, \(x^2 + y^2\) is the squared distance from the origin to the point \((x, y)\), and the constraint is a line. So the question is really: what's the closest point on the line \(3x + 4y = 10\) to the origin, and what's its squared distance?

Before using any formula, let me get a feel for the numbers by trying some points on the line. The intercepts: if \(x = 0\), then \(y = 10/4 = 2.5\), and \(x^2 + y^2 = 6.25\). If \(y = 0\), then \(x = 10/3 \approx 3.33\), and \(x^2 + y^2 = 100/9 \approx 11.1\). So the minimum is 6.25?

Hmm, no. Wait, I've only checked two points on the line; there's no reason the minimum should be at an intercept. The closest point is where the perpendicular from the origin meets the line, which is generally somewhere else. Let me try a point in between, say \(x = 1\): then \(4y = 7\), \(y = 1.75\), and \(x^2 + y^2 = 1 + 3.0625 = 4.0625\). That's already much smaller than 6.25. So the intercepts were a red herring.

Method 1, substitution. From the constraint, \(y = \frac{10 - 3x}{4}\). Then
\[
f(x) = x^2 + \left(\frac{10 - 3x}{4}\right)^2 = x^2 + \frac{(10 - 3x)^2}{16}.
\]
Expanding \((10 - 3x)^2 = 100 - 30x + 9x^2\), so \(f(x) = \frac{16x^2 + 9x^2 - 30x + 100}{16} = \frac{25x^2 - 30x + 100}{16}\). The vertex of \(25x^2 - 30x + 100\) is at \(x = \frac{30}{50} = \frac{3}{5}\).

Let me check that against my trial values: at \(x = 0.6\), \(y = (10 - 1.8)/4 = 2.05\), and \(x^2 + y^2 = 0.36 + 4.2025 = 4.5625\). But at \(x = 1\) I got 4.0625, which is smaller. So \(x = 0.6\) can't be the minimum. Something's off.

Let me redo the expansion: \((10 - 3x)^2 = 100 - 2 \cdot 10 \cdot 3x + 9x^2 = 100 - 60x + 9x^2\). I wrote \(30x\) instead of \(60x\), forgetting the factor 2 in the cross term. Corrected:
\[
f(x) = \frac{25x^2 - 60x + 100}{16}.
\]
Vertex at \(x = \frac{60}{2 \cdot 25} = \frac{6}{5} = 1.2\). Then \(y = \frac{10 - 3.6}{4} = \frac{6.4}{4} = 1.6 = \frac{8}{5}\). And
\[
f\left(\tfrac{6}{5}\right) = \frac{25 \cdot \frac{36}{25} - 60 \cdot \frac{6}{5} + 100}{16} = \frac{36 - 72 + 100}{16} = \frac{64}{16} = 4.
\]
Directly: \(x^2 + y^2 = 1.44 + 2.56 = 4\). And \(3(1.2) + 4(1.6) = 3.6 + 6.4 = 10\), so the point is on the line. The value 4 is smaller than the 4.0625 I found at \(x = 1\), consistent with \(x = 1.2\) being the minimum and \(x = 1\) being close to it.

Method 2, geometry. The distance from the origin to the line \(3x + 4y - 10 = 0\) is
\[
\frac{|3 \cdot 0 + 4 \cdot 0 - 10|}{\sqrt{3^2 + 4^2}} = \frac{10}{5} = 2,
\]
so the minimum squared distance is \(2^2 = 4\). The foot of the perpendicular lies along the normal direction \((3, 4)\): \((x, y) = t(3, 4)\) with \(3(3t) + 4(4t) = 25t = 10\), so \(t = \frac{2}{5}\) and the point is \(\left(\frac{6}{5}, \frac{8}{5}\right)\). Same point.

Method 3, Cauchy-Schwarz, which gives the bound in one line: \((3x + 4y)^2 \le (3^2 + 4^2)(x^2 + y^2)\), i.e. \(100 \le 25(x^2 + y^2)\), so \(x^2 + y^2 \ge 4\). Equality holds when \((x, y)\) is proportional to \((3, 4)\), which is the same point as above. So 4 is not just a critical value but a guaranteed lower bound that is attained.

Method 4, Lagrange multipliers, just to see all roads lead to the same place: \(\nabla(x^2 + y^2) = \lambda \nabla(3x + 4y)\) gives \(2x = 3\lambda\) and \(2y = 4\lambda\), so \(y = \frac{4}{3}x\). Substituting: \(3x + \frac{16}{3}x = \frac{25}{3}x = 10\), so \(x = \frac{6}{5}\), \(y = \frac{8}{5}\). Same.

Is it a minimum rather than a maximum? \(f(x)\) is an upward-opening parabola in \(x\), and along the line \(x^2 + y^2\) grows without bound as you move away, so there's no maximum at all, and the single critical point is the global minimum.

So the minimum value is 4, attained at \(\left(\frac{6}{5}, \frac{8}{5}\right)\). The mistakes to remember: checking only the intercepts, and dropping the factor 2 in \((a - b)^2 = a^2 - 2ab + b^2\). The trial value at \(x = 1\) caught the second one quickly.''',
         answer=r'''Since \(x^2 + y^2\) is the squared distance from the origin, the minimum is the squared distance from the origin to the line \(3x + 4y = 10\):
\[
d = \frac{|{-10}|}{\sqrt{3^2 + 4^2}} = 2, \qquad x^2 + y^2 \ge 4.
\]
Equivalently, by Cauchy-Schwarz, \(100 = (3x + 4y)^2 \le 25(x^2 + y^2)\). Equality holds for \((x, y) \parallel (3, 4)\), i.e. at \(\left(\tfrac{6}{5}, \tfrac{8}{5}\right)\), where \(x^2 + y^2 = \tfrac{36}{25} + \tfrac{64}{25} = 4\).

\[
\boxed{4 \text{ at } \left(\tfrac{6}{5}, \tfrac{8}{5}\right)}
\]'''),
    dict(domain="math", difficulty=4, problem=r'''A function \(f\) is defined for all nonzero real numbers and satisfies \(f(x) + 2f\!\left(\frac{1}{x}\right) = 3x\) for every \(x \neq 0\). Find \(f(2)\).''',
         thinking=r'''Okay, so I have a functional equation: \(f(x) + 2f(1/x) = 3x\) for all nonzero \(x\), and I need \(f(2)\). The equation ties the value at \(x\) to the value at \(1/x\), so plugging in \(x = 2\) alone won't be enough; it involves \(f(1/2)\) as well.

Let me first see whether a simple guess works. Try \(f(x) = ax + b\). Then
\[
f(x) + 2f(1/x) = ax + b + 2\left(\frac{a}{x} + b\right) = ax + \frac{2a}{x} + 3b.
\]
For this to equal \(3x\) for all \(x\), I need \(a = 3\), \(2a = 0\) (no \(1/x\) term), and \(3b = 0\). But \(a = 3\) and \(2a = 0\) contradict each other. So \(f\) is not linear. Given the \(1/x\), maybe \(f\) has a \(1/x\) term itself. Rather than guess, let me use the structure of the equation.

Plug in \(x = 2\):
\[
f(2) + 2f\!\left(\tfrac12\right) = 6. \qquad (1)
\]
Plug in \(x = \frac12\):
\[
f\!\left(\tfrac12\right) + 2f(2) = \tfrac32. \qquad (2)
\]
Two equations in the two unknowns \(A = f(2)\) and \(B = f(1/2)\):
\[
A + 2B = 6, \qquad 2A + B = \tfrac32.
\]
From the second, \(B = \frac32 - 2A\). Substituting into the first: \(A + 2\left(\frac32 - 2A\right) = 6\), so \(A + 3 - 4A = 6\), i.e. \(-3A = 3\), and \(A = 1\).

Let me check it: with \(A = 1\), \(B = \frac32 - 2 = -\frac12\). Then equation (1): \(1 + 2\left(-\frac12\right) = 0\), but it should be 6. That's wrong. Wait, \(-3A = 3\) gives \(A = -1\), not 1. Sign slip. Redo: \(A = -1\), \(B = \frac32 - 2(-1) = \frac32 + 2 = \frac72\).

Check (1): \(-1 + 2 \cdot \frac72 = -1 + 7 = 6\). Good. Check (2): \(\frac72 + 2(-1) = \frac72 - 2 = \frac32\). Good. So \(f(2) = -1\).

Let me also find \(f\) in general, which is a stronger check. Replace \(x\) by \(1/x\) in the original equation:
\[
f\!\left(\tfrac1x\right) + 2f(x) = \frac{3}{x}.
\]
Now I have the system
\[
f(x) + 2f(1/x) = 3x, \qquad 2f(x) + f(1/x) = \frac3x.
\]
Multiply the second by 2: \(4f(x) + 2f(1/x) = \frac6x\). Subtract the first: \(3f(x) = \frac6x - 3x\), so
\[
f(x) = \frac{2}{x} - x.
\]
Check in the original equation: \(f(x) + 2f(1/x) = \left(\frac2x - x\right) + 2\left(2x - \frac1x\right) = \frac2x - x + 4x - \frac2x = 3x\). Yes, it works for every nonzero \(x\). This also explains why the linear guess failed: \(f\) has a \(\frac{2}{x}\) term.

Then \(f(2) = \frac22 - 2 = 1 - 2 = -1\), and \(f(1/2) = 4 - \frac12 = \frac72\), both matching what I found from the two-equation system.

A couple more spot checks of the formula: at \(x = 1\) the equation reads \(3f(1) = 3\), so \(f(1) = 1\), and the formula gives \(2 - 1 = 1\). At \(x = -1\): \(3f(-1) = -3\), so \(f(-1) = -1\), and the formula gives \(-2 + 1 = -1\). Consistent.

Actually, the failed linear guess can be repaired directly, which is a nice third confirmation. Try \(f(x) = ax + \frac{b}{x}\) instead. Then \(f(1/x) = \frac{a}{x} + bx\), and
\[
f(x) + 2f(1/x) = ax + \frac{b}{x} + \frac{2a}{x} + 2bx = (a + 2b)x + \frac{b + 2a}{x}.
\]
Matching \(3x\): \(a + 2b = 3\) and \(2a + b = 0\). From the second, \(b = -2a\); then \(a - 4a = 3\), so \(a = -1\) and \(b = 2\). That's \(f(x) = -x + \frac{2}{x}\), the same function. Of course, an ansatz only finds solutions of the assumed form; the elimination argument is what shows there are no others.

Is the solution unique? The derivation forced \(f(x) = \frac2x - x\) for every \(x\) from the equation itself (I only used the given equation at \(x\) and at \(1/x\)), so yes, there's exactly one such function, and \(f(2) = -1\).''',
         answer=r'''Substituting \(x \to \frac1x\) gives \(f\!\left(\frac1x\right) + 2f(x) = \frac3x\). Together with the original equation,
\[
f(x) + 2f\!\left(\tfrac1x\right) = 3x, \qquad 2f(x) + f\!\left(\tfrac1x\right) = \tfrac3x,
\]
eliminating \(f(1/x)\) gives \(3f(x) = \frac6x - 3x\), so \(f(x) = \frac2x - x\) (which indeed satisfies the equation). Hence
\[
f(2) = 1 - 2 = -1.
\]

\[
\boxed{-1}
\]'''),
    dict(domain="code", difficulty=5, problem=r'''Design a data structure for a Least Recently Used (LRU) cache. Implement a class `LRUCache` with:

- `LRUCache(capacity)`: initialize with a positive capacity.
- `get(key)`: return the value of the key if present, otherwise -1.
- `put(key, value)`: insert or update the key. If the number of keys exceeds the capacity, evict the least recently used key.

Both `get` and `put` must run in \(O(1)\) average time.''',
         thinking=r'''Okay, so I need an LRU cache with O(1) `get` and `put`. "Recently used" means touched by either a `get` or a `put`. When the cache is over capacity after a `put`, the key that was touched longest ago gets evicted.

Two requirements pull in different directions. Fast lookup by key says hash map. Fast "which key is the oldest" plus fast "move this key to the newest position" says some kind of ordered structure where I can remove an arbitrary element and append at the end in O(1). A plain list fails: removing from the middle is O(n). A heap keyed by timestamp gives O(log n), and updating a key's timestamp inside a heap is awkward. The classic answer is a hash map plus a doubly linked list: the map goes from key to list node, and the list keeps nodes in recency order, so unlinking a node and re-inserting it at the end are both O(1) pointer updates.

In Python, `collections.OrderedDict` is exactly a hash map fused with a doubly linked list, and it exposes `move_to_end(key)` and `popitem(last=False)`, both O(1). So the short version:

```python
from collections import OrderedDict


class LRUCache:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self.data = OrderedDict()

    def get(self, key: int) -> int:
        if key not in self.data:
            return -1
        self.data.move_to_end(key)
        return self.data[key]

    def put(self, key: int, value: int) -> None:
        self.data[key] = value
        if len(self.data) > self.capacity:
            self.data.popitem(last=False)
```

Let me trace a typical sequence with capacity 2: `put(1, 1)`, `put(2, 2)`, `get(1)`, `put(3, 3)`, `get(2)`, `put(4, 4)`, `get(1)`, `get(3)`, `get(4)`.

- `put(1, 1)`: order [1].
- `put(2, 2)`: order [1, 2].
- `get(1)`: found, returns 1, move to end: order [2, 1].
- `put(3, 3)`: order [2, 1, 3], size 3 > 2, evict the front, key 2: order [1, 3].
- `get(2)`: not found, -1.
- `put(4, 4)`: order [1, 3, 4], evict 1: order [3, 4].
- `get(1)`: -1. `get(3)`: 3, order [4, 3]. `get(4)`: 4, order [3, 4].

Outputs: 1, -1, -1, 3, 4. That's the expected behavior.

Wait, there's a bug in `put` for an existing key. If I call `put` on a key that's already present, `self.data[key] = value` updates the value but leaves the key in its old position; assigning to an existing key in an OrderedDict does not move it. So an updated key could be evicted as if it were old. Example with capacity 2: `put(1, 1)`, `put(2, 2)`, `put(1, 10)`, `put(3, 3)`. The update of key 1 should make it the most recent, so `put(3, 3)` should evict key 2. With my code the order after `put(1, 10)` is still [1, 2], so key 1 gets evicted. Wrong. Fix: call `move_to_end` on every put of an existing key:

```python
    def put(self, key: int, value: int) -> None:
        if key in self.data:
            self.data.move_to_end(key)
        self.data[key] = value
        if len(self.data) > self.capacity:
            self.data.popitem(last=False)
```

Re-trace that example: `put(1, 1)` gives [1]; `put(2, 2)` gives [1, 2]; `put(1, 10)` moves 1 to the end, [2, 1], value 10; `put(3, 3)` gives [2, 1, 3], evicts 2, leaving [1, 3]. Then `get(1)` returns 10. Correct.

An interviewer might not accept OrderedDict, so let me also write the explicit version. I'll use sentinel head and tail nodes so that inserting and removing never need special cases for an empty list or for the ends.

```python
class Node:
    __slots__ = ("key", "value", "prev", "next")

    def __init__(self, key=0, value=0):
        self.key, self.value = key, value
        self.prev = self.next = None


class LRUCache:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self.map = {}
        self.head, self.tail = Node(), Node()  # head.next is oldest, tail.prev is newest
        self.head.next, self.tail.prev = self.tail, self.head

    def _unlink(self, node):
        node.prev.next, node.next.prev = node.next, node.prev

    def _append(self, node):
        last = self.tail.prev
        last.next, node.prev = node, last
        node.next, self.tail.prev = self.tail, node

    def get(self, key: int) -> int:
        node = self.map.get(key)
        if node is None:
            return -1
        self._unlink(node)
        self._append(node)
        return node.value

    def put(self, key: int, value: int) -> None:
        node = self.map.get(key)
        if node is not None:
            node.value = value
            self._unlink(node)
            self._append(node)
            return
        node = Node(key, value)
        self.map[key] = node
        self._append(node)
        if len(self.map) > self.capacity:
            oldest = self.head.next
            self._unlink(oldest)
            del self.map[oldest.key]
```

The node stores its key precisely so that eviction can delete the map entry: when I pop the oldest node off the list, I need to know which key to remove from the dictionary.

Checking the pointer logic in `_append`: before, the list ends `last <-> tail`. After, it should be `last <-> node <-> tail`. The four assignments set `last.next = node`, `node.prev = last`, `node.next = tail`, `tail.prev = node`. All four links are covered. In `_unlink`, the neighbours of `node` are joined to each other; the node's own pointers are left dangling, which is fine because it's immediately re-appended or discarded.

Edge cases:
1. Capacity 1: every new key evicts the previous one; a `put` on the existing key just updates it and never evicts, because the early return happens before the size check.
2. `get` on a missing key returns -1 and doesn't change the order.
3. Repeated `get` on the same key: unlink and append at the end, harmless.

Complexity: every operation does a constant number of dictionary operations and pointer updates, so O(1) average time (average because of hashing), and O(capacity) space.

I'll present the OrderedDict version as the main answer since it's shortest and clearly correct, and mention that it's the same structure as the explicit list.''',
         answer=r'''Keep a hash map for O(1) lookup together with a doubly linked list in recency order (oldest at the front). `OrderedDict` provides both: `move_to_end` marks a key as most recent, and `popitem(last=False)` evicts the oldest. Note that updating an existing key must also move it to the end.

```python
from collections import OrderedDict


class LRUCache:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self.data = OrderedDict()

    def get(self, key: int) -> int:
        if key not in self.data:
            return -1
        self.data.move_to_end(key)
        return self.data[key]

    def put(self, key: int, value: int) -> None:
        if key in self.data:
            self.data.move_to_end(key)
        self.data[key] = value
        if len(self.data) > self.capacity:
            self.data.popitem(last=False)
```

Both operations are O(1) on average; space is O(capacity).'''),
    dict(domain="science", difficulty=4, problem=r'''In a randomly mating population in Hardy-Weinberg equilibrium, 16% of individuals show a recessive phenotype determined by a single autosomal gene with alleles \(A\) (dominant) and \(a\) (recessive).

(a) What are the frequencies of the two alleles?
(b) What fraction of the population are heterozygous carriers, and how many of each genotype would you expect in a population of 500?
(c) Two individuals with the dominant phenotype have a child. What is the probability that the child shows the recessive phenotype?''',
         thinking=r'''Okay, so this is a Hardy-Weinberg problem. Under Hardy-Weinberg equilibrium, with allele frequencies \(p\) for \(A\) and \(q\) for \(a\) (\(p + q = 1\)), the genotype frequencies are \(p^2\) for AA, \(2pq\) for Aa and \(q^2\) for aa. The recessive phenotype shows up only in aa individuals, so the 16% is the aa frequency.

So \(q = 0.16\)? Then \(p = 0.84\)... Hmm, wait. No: 16% is the frequency of the aa genotype, which is \(q^2\), not \(q\). The allele frequency is the square root: \(q = \sqrt{0.16} = 0.4\). Then \(p = 1 - 0.4 = 0.6\). That's the key step and the easy one to get wrong. With \(q = 0.16\) I'd have predicted only \(0.16^2 = 0.0256\), about 2.6%, affected individuals, which contradicts the data.

(a) \(q = 0.4\), \(p = 0.6\).

(b) Heterozygotes: \(2pq = 2 \times 0.6 \times 0.4 = 0.48\), so 48% of the population are carriers. Homozygous dominant: \(p^2 = 0.36\). Check that the three add up: \(0.36 + 0.48 + 0.16 = 1.00\). Good.

In a population of 500:
- AA: \(0.36 \times 500 = 180\)
- Aa: \(0.48 \times 500 = 240\)
- aa: \(0.16 \times 500 = 80\)

Total \(180 + 240 + 80 = 500\). Let me also verify the allele frequencies from these counts, which is a nice independent check. There are \(2 \times 500 = 1000\) alleles in total. The a alleles: each aa individual carries two and each Aa carries one, so \(2 \times 80 + 240 = 160 + 240 = 400\), and \(400/1000 = 0.4\). The A alleles: \(2 \times 180 + 240 = 600\), which is 0.6. Consistent with (a).

It's a little surprising at first that carriers (48%) are three times as common as affected individuals (16%), but that's typical: for a recessive allele, most copies are hidden in heterozygotes. Here the fraction of a alleles sitting in heterozygotes is \(240/400 = 60\%\).

(c) Now two parents with the dominant phenotype, so each is AA or Aa. The child can be aa only if both parents are carriers, and then with probability \(\frac14\) (each carrier passes on a with probability \(\frac12\)).

What's the chance that a phenotypically dominant individual is a carrier? My first instinct is 0.48, the carrier frequency. Wait, that's the fraction of carriers in the whole population, but I already know this person isn't aa, so I have to condition on that:
\[
P(\text{Aa} \mid \text{dominant phenotype}) = \frac{2pq}{p^2 + 2pq} = \frac{0.48}{0.36 + 0.48} = \frac{0.48}{0.84} = \frac{4}{7} \approx 0.571.
\]
Conditioning raises it from 0.48 to about 0.571, because the aa individuals have been excluded from the pool.

The two parents are independent (random mating), so
\[
P(\text{child aa}) = \frac47 \times \frac47 \times \frac14 = \frac{16}{49} \times \frac14 = \frac{4}{49} \approx 0.0816.
\]

Let me double-check with a different route. A dominant-phenotype parent transmits a with probability \(P(\text{Aa} \mid \text{dominant}) \times \frac12 = \frac47 \times \frac12 = \frac27\). Equivalently, among the alleles carried by dominant-phenotype individuals, the a fraction is \(\frac{2pq/2}{p^2 + 2pq} = \frac{pq}{p^2 + 2pq} = \frac{q}{p + 2q} = \frac{0.4}{1.4} = \frac27\). The child is aa if both parents transmit a: \(\left(\frac27\right)^2 = \frac{4}{49}\). Same answer.

For comparison, if I had used the unconditioned 0.48, I'd get \(0.48^2 \times 0.25 \approx 0.0576\), noticeably too small. And the overall rate of aa children across all matings is just \(q^2 = 0.16\) under random mating; it's much lower for two unaffected parents, \(\frac{4}{49} \approx 8.2\%\), which makes sense.

Assumptions worth stating: random mating, no selection, mutation or migration, a large population, and a single autosomal gene with complete dominance. Under those, the answers are \(q = 0.4\), \(p = 0.6\); 48% carriers, i.e. 180 AA, 240 Aa and 80 aa out of 500; and \(\frac{4}{49} \approx 0.082\) for the child.''',
         answer=r'''**(a)** The recessive phenotype is the aa genotype, so \(q^2 = 0.16\), giving \(q = 0.4\) and \(p = 1 - q = 0.6\).

**(b)** Carriers: \(2pq = 0.48\) (48%). In 500 individuals: AA \(= 0.36 \times 500 = 180\), Aa \(= 0.48 \times 500 = 240\), aa \(= 0.16 \times 500 = 80\).

**(c)** A dominant-phenotype individual is a carrier with probability \(\dfrac{2pq}{p^2 + 2pq} = \dfrac{0.48}{0.84} = \dfrac47\). Both parents must be carriers and the child must receive a from each:
\[
\frac47 \cdot \frac47 \cdot \frac14 = \frac{4}{49} \approx 0.082.
\]

\[
\boxed{q = 0.4,\ p = 0.6;\quad 2pq = 0.48\ (180, 240, 80);\quad P = \tfrac{4}{49} \approx 0.082}
\]'''),
]

HANDWRITTEN.append(dict(
    domain="science", difficulty=3,
    problem=r"""A 2.0 kg block is released from rest at the top of a ramp inclined at 30° to the horizontal. The ramp is 5.0 m long and the coefficient of kinetic friction between block and ramp is 0.20. Using \(g = 9.8\ \text{m/s}^2\), find the speed of the block at the bottom of the ramp, the time it takes to get there, and the work done by friction.""",
    thinking=r"""Okay, so a block slides down a rough incline from rest. I need the final speed after 5.0 m, the time, and the work done by friction. Let me set up the forces first, with the x-axis along the incline (pointing down the slope) and the y-axis perpendicular to it.

Forces on the block: gravity \(mg = 2.0 \times 9.8 = 19.6\) N straight down, the normal force \(N\) perpendicular to the surface, and kinetic friction \(f = \mu_k N\) pointing up the slope (opposing the motion).

Gravity components: along the slope \(mg\sin 30^\circ = 19.6 \times 0.5 = 9.8\) N, and into the slope \(mg\cos 30^\circ\).

Friction: \(f = \mu_k N\), and the normal force is just the weight, \(N = mg = 19.6\) N, so \(f = 0.20 \times 19.6 = 3.92\) N. Net force along the slope: \(9.8 - 3.92 = 5.88\) N, acceleration \(a = 5.88 / 2.0 = 2.94\ \text{m/s}^2\).

Hmm, wait. That's not right: on an incline the normal force isn't the full weight. There's no acceleration perpendicular to the surface, so \(N\) balances only the perpendicular component of gravity: \(N = mg\cos 30^\circ = 19.6 \times 0.8660 \approx 16.97\) N. I used the flat-ground value. At 30° the difference is about 13%, which matters.

Redo:
\[
f = \mu_k mg\cos 30^\circ = 0.20 \times 16.97 \approx 3.395\ \text{N}.
\]
Net force along the slope: \(9.8 - 3.395 \approx 6.405\) N, so
\[
a = \frac{6.405}{2.0} \approx 3.203\ \text{m/s}^2.
\]
Equivalently, \(a = g(\sin\theta - \mu_k\cos\theta) = 9.8(0.5 - 0.20 \times 0.8660) = 9.8 \times 0.3268 \approx 3.203\ \text{m/s}^2\). Note the mass cancels, as it always does for this kind of problem; the 2.0 kg only matters for forces, energies and work.

Does the block actually slide? For it to accelerate down the slope we need \(\tan\theta > \mu\): \(\tan 30^\circ \approx 0.577 > 0.20\), yes. (Strictly, whether it starts moving from rest depends on the static coefficient, which isn't given; the problem says it slides, so I'll take that as given.)

Speed at the bottom, from \(v^2 = v_0^2 + 2aL\) with \(v_0 = 0\):
\[
v^2 = 2 \times 3.203 \times 5.0 \approx 32.03\ \text{m}^2/\text{s}^2, \qquad v \approx 5.66\ \text{m/s}.
\]
(With the wrong normal force I would have gotten \(v = \sqrt{2 \times 2.94 \times 5.0} = \sqrt{29.4} \approx 5.42\) m/s, too slow, because friction was overestimated.)

Time: \(v = at\), so \(t = \frac{5.66}{3.203} \approx 1.77\) s. Check with \(L = \frac12 a t^2\): \(\frac12 \times 3.203 \times 1.767^2 \approx 0.5 \times 3.203 \times 3.122 \approx 5.00\) m. Good.

Work done by friction: friction is constant and opposite to the displacement, so
\[
W_f = -f L = -3.395 \times 5.0 \approx -16.97\ \text{J} \approx -17\ \text{J}.
\]

Let me verify everything with energy instead of forces. The block descends a height \(h = L\sin 30^\circ = 5.0 \times 0.5 = 2.5\) m, so gravity does \(mgh = 2.0 \times 9.8 \times 2.5 = 49\) J of work. The normal force does no work (perpendicular to the motion). Work-energy theorem:
\[
\tfrac12 m v^2 = mgh + W_f = 49 - 16.97 = 32.03\ \text{J}.
\]
Then \(v^2 = \frac{2 \times 32.03}{2.0} = 32.03\), \(v \approx 5.66\) m/s. Exactly the same as the kinematics, which is reassuring: both use the same friction force, but the bookkeeping is different.

Another sanity check: without friction the speed would be \(\sqrt{2gh} = \sqrt{2 \times 9.8 \times 2.5} = \sqrt{49} = 7.0\) m/s. With friction it should be less, and 5.66 m/s is less. The fraction of the potential energy lost to friction is \(16.97/49 \approx 35\%\), which equals \(\frac{\mu\cos\theta}{\sin\theta} = \frac{0.20 \times 0.866}{0.5} \approx 0.346\), a neat cross-check since both the friction work and the gravitational work are proportional to \(L\).

Significant figures: the data have two significant figures (2.0 kg, 5.0 m, 0.20), so I'll quote \(v \approx 5.7\) m/s, \(t \approx 1.8\) s and \(W_f \approx -17\) J, mentioning the unrounded values 5.66 m/s and 1.77 s.""",
    answer=r"""Along the incline, \(a = g(\sin 30^\circ - \mu_k \cos 30^\circ) = 9.8(0.500 - 0.20 \times 0.866) \approx 3.20\ \text{m/s}^2\) (the normal force is \(mg\cos 30^\circ \approx 16.97\) N, so friction is \(\approx 3.39\) N).

- Speed: \(v = \sqrt{2aL} = \sqrt{2(3.20)(5.0)} \approx 5.66\ \text{m/s}\)
- Time: \(t = v/a \approx 1.77\ \text{s}\)
- Work by friction: \(W_f = -\mu_k mg\cos 30^\circ \cdot L \approx -17\ \text{J}\)

Energy check: \(mgh = 49\) J, and \(49 - 17 = 32\) J \(= \frac12(2.0)(5.66)^2\).

\[
\boxed{v \approx 5.7\ \text{m/s},\quad t \approx 1.8\ \text{s},\quad W_f \approx -17\ \text{J}}
\]""",
))


def handwritten_row(h: dict, source: str) -> dict:
    return row(h["domain"], h["difficulty"], h["problem"], h["thinking"], h["answer"], source)


# ---------------------------------------------------------------------------------------------
# the bundled sample
# ---------------------------------------------------------------------------------------------

# (kind, ...): "single" family variant extra | "pair" [(family, variant), (family, variant)] extra | "hand" index.
# Short families are paired into two-part problems so every thinking section is 1.2K-4.5K tokens.
SAMPLE_PLAN = [
    ("hand", 0), ("hand", 1), ("hand", 2),
    ("single", math_quadratic, "vieta", 2),
    ("single", math_quadratic, "difference", 3),
    ("single", math_quadratic, "factor", 3),
    ("single", math_arithmetic, "multiples", 3),
    ("single", math_geometric, "infinite", 3),
    ("single", math_modular, "power", 3),
    ("single", math_modular, "linear", 3),
    ("single", math_geometry, "altitude", 3),
    ("pair", [(math_combinatorics, "committee"), (math_combinatorics, "arrange")], 2),
    ("pair", [(math_probability, "urn"), (math_probability, "dice")], 2),
    ("pair", [(math_arithmetic, "terms"), (math_geometric, "finite")], 2),
    ("pair", [(math_divisors, "odd"), (math_lattice, "avoid")], 2),
    ("pair", [(math_linear_system, "animals"), (math_lattice, "through")], 2),
    ("pair", [(math_modular, "last2"), (math_geometry, "radii")], 2),
    ("pair", [(math_linear_system, "coins"), (math_divisors, "square")], 1),
    ("pair", [(math_linear_system, "tickets"), (math_combinatorics, "committee")], 1),
    ("hand", 3),
    ("single", code_two_sum, None, 3),
    ("single", code_lis, None, 2),
    ("single", code_binary_search, None, 2),
    ("single", code_intervals, None, 3),
    ("single", code_bfs_grid, None, 2),
    ("single", code_kadane, None, 3),
    ("hand", 4), ("hand", 5),
    ("single", sci_projectile, "ground", 3),
    ("single", sci_ph, None, 3),
    ("single", sci_enzyme, None, 3),
    ("pair", [(sci_half_life, "remaining"), (sci_half_life, "time")], 2),
    ("pair", [(sci_ideal_gas, None), (sci_stoichiometry, None)], 2),
    ("pair", [(sci_circuit, None), (sci_projectile, "cliff")], 2),
]
SAMPLE_TOKENS = (1300, 4300)  # target band for approx_tokens(thinking); the real bound is 1,200-4,500


def _thinking(r: dict) -> str:
    v = r["conversations"][1]["value"]
    return v[v.index("<think>\n") + 8: v.index("\n</think>")]


def build_sample(seed: int = SAMPLE_SEED) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for entry in SAMPLE_PLAN:
        kind = entry[0]
        if kind == "hand":
            h = HANDWRITTEN[entry[1]]
            rows.append(handwritten_row(h, f"openmementos-sample/{h['domain']}"))
            continue
        for _ in range(60):  # redraw numbers until the trace lands in the token band
            c = Ctx(random.Random(rng.getrandbits(64)), entry[-1])
            if kind == "single":
                t = entry[1](c, entry[2])
                r = render_single(t, c, f"openmementos-sample/{t['domain']}")
            else:
                parts = [fn(c, v) for fn, v in entry[1]]
                r = render_multi(parts, c, f"openmementos-sample/{parts[0]['domain']}")
            if SAMPLE_TOKENS[0] <= approx_tokens(_thinking(r)) <= SAMPLE_TOKENS[1]:
                break
        else:
            raise RuntimeError(f"no draw of {entry} fits the token band")
        rows.append(r)
    return rows


def write_sample(path: Path = SAMPLE_PATH, seed: int = SAMPLE_SEED) -> list[dict]:
    rows = build_sample(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return rows


# ---------------------------------------------------------------------------------------------
# checks (uses the project's tokenizer when it is importable)
# ---------------------------------------------------------------------------------------------

_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def _shingles(text: str, n: int = 8) -> set:
    words = re.findall(r"[A-Za-z]+", text.lower())
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def check_rows(rows: list[dict], lo: int = 1200, hi: int = 4500) -> list[str]:
    """Problems found in the sample (empty when it is fine); prints a summary table."""
    try:
        sys.path.insert(0, str(ROOT))
        from openmementos.tokens import TiktokenCounter

        count, counter_name = TiktokenCounter("cl100k_base").count, "cl100k_base"
    except Exception:  # noqa: BLE001 - the check still runs without the package
        count, counter_name = approx_tokens, "approx (openmementos not importable)"
    problems, per_domain, thinks = [], {}, []
    for i, r in enumerate(rows):
        if set(r) != {"difficulty", "source", "domain", "conversations"}:
            problems.append(f"row {i}: keys {sorted(r)}")
        if not (isinstance(r["difficulty"], int) and 1 <= r["difficulty"] <= 10):
            problems.append(f"row {i}: difficulty {r['difficulty']!r}")
        conv = r["conversations"]
        if [m["from"] for m in conv] != ["human", "gpt"]:
            problems.append(f"row {i}: conversation roles")
        value = conv[1]["value"]
        if value.count("<think>") != 1 or value.count("</think>") != 1 or not value.startswith("<think>\n"):
            problems.append(f"row {i}: think tags")
        answer = value.split("</think>", 1)[1]
        if r["domain"] == "code" and "```python" not in answer:
            problems.append(f"row {i}: code answer without a final code block")
        if r["domain"] != "code" and "\\boxed{" not in answer:
            problems.append(f"row {i}: answer without \\boxed")
        text = conv[0]["value"] + value
        if _CJK.search(text):
            problems.append(f"row {i}: CJK characters")
        th = _thinking(r)
        n = count(th)
        if not lo <= n <= hi:
            problems.append(f"row {i}: {n} thinking tokens")
        per_domain.setdefault(r["domain"], []).append(n)
        thinks.append(_shingles(th))
    worst = (0.0, None)
    for i in range(len(thinks)):
        for j in range(i + 1, len(thinks)):
            inter = len(thinks[i] & thinks[j])
            sim = inter / max(1, len(thinks[i] | thinks[j]))
            if sim > worst[0]:
                worst = (sim, (i, j))
    if worst[0] > 0.5:
        problems.append(f"rows {worst[1]} are near-duplicates (8-gram Jaccard {worst[0]:.2f})")
    total = sum(len(v) for v in per_domain.values())
    print(f"thinking tokens ({counter_name})")
    print(f"{'domain':<9}{'count':>6}{'share':>8}{'min':>7}{'median':>8}{'max':>7}")
    for d in ("math", "code", "science"):
        v = sorted(per_domain.get(d, []))
        if v:
            med = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) // 2
            print(f"{d:<9}{len(v):>6}{len(v) / total:>8.0%}{v[0]:>7}{med:>8}{v[-1]:>7}")
    allv = sorted(x for v in per_domain.values() for x in v)
    print(f"{'all':<9}{total:>6}{'':>8}{allv[0]:>7}{allv[len(allv) // 2]:>8}{allv[-1]:>7}")
    print(f"most similar pair of thinking sections: rows {worst[1]}, 8-gram Jaccard {worst[0]:.2f}")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="write a synthetic corpus here instead of the bundled sample")
    ap.add_argument("--count", type=int, default=20000, help="number of synthetic traces (with --out)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (defaults differ for sample and corpus)")
    ap.add_argument("--check", action="store_true", help="validate the sample and print a summary table")
    args = ap.parse_args(argv)
    if args.out is not None:
        seed = CORPUS_SEED if args.seed is None else args.seed
        secs = write_corpus(args.out, args.count, seed)
        size = args.out.stat().st_size
        print(f"wrote {args.count} traces to {args.out} ({size / 1e6:.1f} MB) in {secs:.2f}s "
              f"({args.count / secs:,.0f} traces/s)")
        return 0
    rows = write_sample(SAMPLE_PATH, SAMPLE_SEED if args.seed is None else args.seed)
    print(f"wrote {len(rows)} traces to {SAMPLE_PATH.relative_to(ROOT)} ({SAMPLE_PATH.stat().st_size / 1e3:.0f} kB)")
    if args.check:
        problems = check_rows(rows)
        for p in problems:
            print("PROBLEM:", p)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
