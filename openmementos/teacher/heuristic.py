"""The offline teacher: deterministic rules that stand in for the LLM teacher.

Its answers are plain dicts that pass ``openmementos.answers``, like an LLM's would:

- boundaries (:mod:`.boundaries`): a strength per cut from the next sentence's opener, the
  previous sentence's close, a change of vocabulary and blank lines; 3 only for the strongest
  cut nearby, so strong cuts stay about as rare as in the paper's data; the paper's never-cut
  rules give 0.
- compress: extractive. It states the block's result first (a value, a chosen option, the
  verdict on code), then adds the sentences that bring the most new formulas, numbers, methods
  and checks per character, narration stripped, up to ``target_ratio`` of the block's tokens.
  Every character comes from the block, so no number is invented.
- judge: a rubric proxy calibrated on real MEMENTO mementos: the block's concluding formulas
  (verbatim or with the same numbers and variables), its key numbers, methods, checks, numbers
  found nowhere, narration, and its result (deducted when missing, credited more when first).
- refine: drops unsupported numbers and narration, leads with the result, and adds the block
  sentences that carry what the feedback names as missing, growing the draft by half its
  length target at most.

    >>> HeuristicTeacher().score_boundaries(BoundaryRequest("p", ("x = 2.", "Alternatively, try y."), (0,)))
    {'scores': [3]}
"""

from __future__ import annotations
import heapq
from dataclasses import dataclass
from typing import Any
from ..validate.numerals import number_recall
from .base import BoundaryRequest, CompressRequest, JudgeRequest, RefineRequest
from .boundaries import score_window
from .textfacts import (
    _CHECK,
    _CLAUSE,
    _Covered,
    _FEEDBACK_CHECK,
    _FEEDBACK_FORMULA,
    _FEEDBACK_METHODS,
    _FEEDBACK_NUMBERS,
    _FEEDBACK_UNSUPPORTED,
    _Facts,
    _IN_WORDS,
    _LEADING,
    _METHOD_RE,
    _NARRATION_JUDGED,
    _STOPWORDS,
    _Unit,
    _VERDICT,
    _VERDICT_WORDS,
    _WORD,
    _analyse,
    _formula_credit,
    _formula_kept,
    _last_value,
    _values,
    _size,
    _ascii,
    _compact,
    _depth,
    _finish,
    _join,
    _norm,
    _numbers,
    _sentences,
    _truncate,
)

# 2: paragraph breaks lift boundary scores; 3: boundary strengths calibrated to the paper's block
# sizes, token-sized mementos, results of code and multiple choice, judge calibrated on real mementos
RULES_VERSION = "heuristic-rules-3"


@dataclass(frozen=True, slots=True)
class _Budget:
    tokens: float  # length target, in estimated tokens
    chars: int     # the same target in characters (for cutting a long result sentence)
    cap: int       # no memento is longer than this many characters
REFINE_GROWTH = 1.5  # a refined memento may reach this multiple of the length target (or its draft's length)
RECALL_FLOOR = 0.3   # share of a block's new numbers a memento keeps when it can (validate fails under 0.2) ...
RECALL_GROWTH = 2.0  # ... growing to this multiple of the length target at most


class HeuristicTeacher:
    """A deterministic, picklable offline teacher; the module docstring lists its rules.

    ``hard_cap``: no memento exceeds this share of its block (the paper's limit is half);
    ``min_chars``: the length target never drops below this; ``feedback_items``: how many
    missing numbers or formulas the judge names at most.
    """

    name = "heuristic"

    def __init__(self, *, hard_cap: float = 0.5, min_chars: int = 80, feedback_items: int = 8) -> None:
        self.hard_cap = hard_cap
        self.min_chars = min_chars
        self.feedback_items = feedback_items

    def describe(self) -> dict[str, Any]:
        params = {"hard_cap": self.hard_cap, "min_chars": self.min_chars, "feedback_items": self.feedback_items}
        return {"name": self.name, "rules": RULES_VERSION, "params": params}

    def __repr__(self) -> str:
        return f"HeuristicTeacher(hard_cap={self.hard_cap}, min_chars={self.min_chars})"

    # -- boundaries ------------------------------------------------------------------------

    def score_boundaries(self, request: BoundaryRequest) -> dict[str, Any]:
        return {"scores": score_window(request.sentences, request.boundaries, request.paragraph_breaks)}

    # -- compress --------------------------------------------------------------------------

    def _budget(self, facts: _Facts, block: str, ratio: float) -> _Budget:
        """The length target for ``ratio`` of the block's *tokens*, and the hard cap.

        A memento is made of the block's sentences with the narration stripped, so it is denser
        in symbols than the block: the same share of characters would be a larger share of
        tokens. The target is kept in estimated tokens (:func:`_size`); the character figures
        use the density of the block's own compacted sentences. The cap stays below the
        block's own length.
        """
        length = len(block.strip())
        tokens = _size(block)
        unit_chars = sum(len(u.text) for u in facts.units)
        unit_tokens = sum(u.size for u in facts.units)
        density = unit_chars / unit_tokens if unit_tokens else length / max(tokens, 1)
        cap = max(1, min(int(self.hard_cap * tokens * density), length - 1))
        target = max(ratio * tokens, self.min_chars / density)
        return _Budget(tokens=target, chars=min(cap, int(target * density)), cap=cap)

    def compress(self, request: CompressRequest) -> dict[str, Any]:
        facts = _analyse(request.block)
        budget = self._budget(facts, request.block, request.target_ratio)
        earlier = " ".join(request.previous_mementos)
        seen = _norm(earlier)
        covered = _Covered(
            formulas={f for f in facts.formulas if f in seen},
            # what the problem or an earlier memento states is context, not news
            numbers=set(_numbers(earlier)) | set(_numbers(request.problem)),
            words=set(_WORD.findall(earlier.lower())) - _STOPWORDS,
        )
        lead = self._lead(facts, budget.chars)
        if lead:
            covered.add(facts.units[facts.result], lead)
        chosen = self._pick(facts, budget.tokens - _size(lead), covered, skip=facts.result if lead else -1)
        parts = [lead] + [facts.units[i].text for i in sorted(chosen)]
        memento = _join(self._add_new_numbers(request, facts, parts, chosen | {facts.result}, budget))
        if not memento:  # nothing worth keeping: the first sentences, within the target
            memento = _truncate(_join([u.text for u in facts.units]) or request.block.strip(), budget.chars)
        return {"memento": _finish(memento, request.block, budget.cap)}

    @staticmethod
    def _add_new_numbers(request: CompressRequest | RefineRequest, facts: _Facts, parts: list[str], used: set[int],
                         budget: _Budget) -> list[str]:
        """``parts`` plus block clauses until the memento states RECALL_FLOOR of the block's new
        numbers (``validate``'s recall, with a margin), the most missing numbers per token first,
        within RECALL_GROWTH times the length target: a dense block must not lose its numbers to
        the length target. Clauses are added in block order after the given parts."""
        context = _values(request.problem).union(*map(_values, request.previous_mementos))
        block, final = _values(request.block), _last_value(request.block)
        candidates = [(i, k, clause) for i, u in enumerate(facts.units) if i not in used
                      for k, clause in enumerate(_clauses(u.text)) if _values(clause)]
        added: list[tuple[int, int, str]] = []

        def text(extra: list[tuple[int, int, str]]) -> str:
            return _join(parts + [clause.strip(" ,;") for _, _, clause in sorted(extra)])

        got = number_recall(block, _values(text(added)), final, context)
        while len(got.wanted) >= 3 and got.score < RECALL_FLOOR:
            missing = (got.wanted - got.kept) | ({got.final} if not got.final_kept else set())
            ranked = sorted((c for c in candidates if c not in added and _values(c[2]) & missing),
                            key=lambda c: (-len(_values(c[2]) & missing) / (_size(c[2]) + 4), c[0], c[1]))
            fitting = next((c for c in ranked if _size(text(added + [c])) <= RECALL_GROWTH * budget.tokens
                            and len(text(added + [c])) <= budget.cap), None)
            if fitting is None:
                break
            added.append(fitting)
            got = number_recall(block, _values(text(added)), final, context)
        return parts + [clause.strip(" ,;") for _, _, clause in sorted(added)]

    @staticmethod
    def _lead(facts: _Facts, budget: int) -> str:
        """The result sentence; when it is long, only its clauses up to the one stating the result."""
        if facts.result < 0:
            return ""
        text = facts.units[facts.result].text
        limit = int(0.7 * budget)
        if len(text) <= limit:
            return text
        clauses = _clauses(text)
        last = max((i for i, c in enumerate(clauses) if facts.states_result(c)), default=len(clauses) - 1)
        first = last
        while first > 0 and len(" ".join(clauses[first - 1:last + 1])) <= limit:
            first -= 1
        return _truncate(_LEADING.sub("", " ".join(clauses[first:last + 1])), max(limit, len(clauses[last])))

    @staticmethod
    def _pick(facts: _Facts, room: float, covered: _Covered, skip: int) -> set[int]:
        """Lazy greedy over units by gain per token, within ``room`` estimated tokens: gains only
        shrink as the draft grows, so a unit whose refreshed gain still beats the next stale one
        is the true best."""
        heap = [(-covered.gain(u, facts.check), i) for i, u in enumerate(facts.units) if i != skip and u.text]
        heapq.heapify(heap)
        chosen: set[int] = set()
        while heap and room > 0:
            stale, i = heapq.heappop(heap)
            unit = facts.units[i]
            fresh = covered.gain(unit, facts.check)
            if fresh <= 0 or unit.size > room:
                continue
            if heap and -fresh > heap[0][0] and fresh < -stale:
                heapq.heappush(heap, (-fresh, i))
                continue
            chosen.add(i)
            room -= unit.size + 1
            covered.add(unit, unit.text)
        return chosen

    # -- judge -----------------------------------------------------------------------------

    def judge(self, request: JudgeRequest) -> dict[str, Any]:
        facts = _analyse(request.block)
        memento = request.memento
        earlier = " ".join(request.previous_mementos)
        norm_earlier, earlier_numbers = _norm(earlier), set(_numbers(earlier))
        problem_numbers = set(_numbers(request.problem))
        memento_numbers = set(_numbers(memento))
        known = set(facts.numbers) | problem_numbers | earlier_numbers

        # judged on what the block concluded, not on every step of its working; what earlier
        # mementos or the problem already carry need not be repeated
        wanted_formulas = [f for f in facts.key_formulas if f not in norm_earlier]
        credit = {f: _formula_credit(f, memento) for f in wanted_formulas}
        missing_formulas = [f for f in wanted_formulas if credit[f] < 1]
        wanted_numbers = sorted(facts.key_numbers - earlier_numbers - problem_numbers, key=lambda n: (-facts.numbers.get(n, 0), n))
        missing_numbers = [n for n in wanted_numbers if n not in memento_numbers]
        missing_methods = sorted(m for m in facts.methods if not _METHOD_RE[m].search(memento))
        # single digits prove nothing either way: every text has a 2 or a 0 somewhere
        unsupported = sorted((n for n in memento_numbers - known if len(n) >= 2 or "." in n), key=lambda n: (len(n), n))
        sentences = _sentences(memento)
        stated = facts.states_result(memento)
        first = bool(sentences) and facts.states_result(sentences[0])
        narration = sorted({m.group(0).lower() for m in _NARRATION_JUDGED.finditer(memento)})
        in_words = [rx.pattern for rx, symbol in _IN_WORDS
                    if rx.search(memento) and not rx.search(request.block) and symbol in _ascii(request.block)]

        def share(missing: list, wanted: list) -> float:
            return 1.0 if not wanted else 1.0 - len(missing) / len(wanted)

        formula_share = sum(credit.values()) / len(credit) if credit else 1.0
        if facts.kind in ("number", "value"):  # the rubric: the final value earns the first point, the rest the second
            numbers = float(stated) + share(missing_numbers, wanted_numbers)
        else:
            numbers = 2 * share(missing_numbers, wanted_numbers)
        if not facts.methods or len(missing_methods) < len(facts.methods):
            methods = 2.0
        else:  # the rubric's "method implied": it shows in the formulas or the result kept
            methods = 1.0 if (wanted_formulas and formula_share > 0) or (stated and facts.value) else 0.0
        scores = {
            "formulas": round(3 * formula_share, 2),
            "numbers": round(numbers, 2),
            "methods": methods,
            "validation": 1.0 if not facts.check or _CHECK.search(memento) or _VERDICT_WORDS.search(memento) else 0.0,
            "correctness": 0.0 if unsupported else 1.0,
            "result_first": 1.0 if first else 0.5 if stated else 0.0,
        }
        deductions = {
            "hallucination": min(3.0, 1.5 * len(unsupported)),
            "narration": min(3.0, 1.0 * len(narration)),
            "formulas_in_words": 1.0 if in_words else 0.0,
            "missing_critical_values": 0.0 if stated else 2.0,
        }
        feedback = self._feedback(facts, stated, first, unsupported, missing_numbers, missing_formulas,
                                  missing_methods, scores, narration, in_words)
        return {"scores": scores, "deductions": deductions, "feedback": feedback}

    def _feedback(self, facts: _Facts, stated: bool, first: bool, unsupported: list[str], missing_numbers: list[str],
                  missing_formulas: list[str], missing_methods: list[str], scores: dict[str, float],
                  narration: list[str], in_words: list[str]) -> str:
        k = self.feedback_items
        result = {"option": f"option {facts.value}", "verdict": "whether the code works"}.get(facts.kind, facts.value)
        lines = []
        if not stated:
            lines.append(f"missing result: {result} (state it in the first sentence)")
        elif not first:
            lines.append(f"result not first: open with the block's result {result}")
        if unsupported:
            lines.append(f"unsupported numbers: {', '.join(unsupported[:k])} (not in the block, problem or earlier mementos)")
        if missing_numbers:
            lines.append(f"missing numbers: {', '.join(missing_numbers[:k])}")
        lines += [f"missing formula: {facts.formulas[f]}" for f in missing_formulas[:k]]
        if scores["methods"] < 2:
            lines.append(f"missing methods: {', '.join(missing_methods[:k])}")
        if not scores["validation"]:
            lines.append("missing check: the block verifies its result; keep the check and its outcome")
        if narration:
            lines.append(f"narration: remove {', '.join(repr(n) for n in narration)}")
        if in_words:
            lines.append("formulas in words: write them with symbols as the block does")
        return "\n".join(lines) or "no changes needed"

    # -- refine ----------------------------------------------------------------------------

    def refine(self, request: RefineRequest) -> dict[str, Any]:
        facts = _analyse(request.block)
        budget = self._budget(facts, request.block, request.target_ratio)
        # a refinement adds what the judge found missing, but must not creep towards the cap
        limit = max(REFINE_GROWTH * budget.tokens, _size(request.memento))
        feedback = request.feedback
        known = set(facts.numbers) | set(_numbers(request.problem))
        known |= set(_numbers(" ".join(request.previous_mementos)))
        for match in _FEEDBACK_UNSUPPORTED.finditer(feedback):
            known -= set(_numbers(match.group(1)))
        # the draft's sentences, narration stripped, minus any that claim a number the block lacks
        kept = [t for t in map(_compact, _sentences(request.memento)) if t and set(_numbers(t)) <= known]

        wants = {("n", n) for m in _FEEDBACK_NUMBERS.finditer(feedback) for n in _numbers(m.group(1))
                 if n in facts.numbers}
        wants |= {("f", _norm(m.group(1))) for m in _FEEDBACK_FORMULA.finditer(feedback) if _norm(m.group(1))}
        wants |= {("m", name) for m in _FEEDBACK_METHODS.finditer(feedback) for name in facts.methods
                  if name.lower() in m.group(1).lower()}
        if not wants:  # free-text feedback: any block number it names
            wants = {("n", n) for n in _numbers(feedback) if n in facts.numbers}
        if _FEEDBACK_CHECK.search(feedback) and facts.check:
            wants.add(("c", ""))

        # the result goes first: the draft's sentence stating it, else the block's result sentence
        stating = next((i for i, t in enumerate(kept) if facts.value and facts.states_result(t)), None)
        if stating is not None:
            lead, body = kept[stating], kept[:stating] + kept[stating + 1:]
        else:
            lead = self._lead(facts, budget.chars)
            body = [t for t in kept if _norm(t) != _norm(lead)]
        wants = {w for w in wants if not self._meets(w, " ".join([lead] + body))}

        # what the judge asked for comes first: the parts of block sentences (their clauses that
        # carry a missing item) with the most missing items per token; then as much of the rest
        # of the draft as the limit leaves room for
        pieces = [(i, p) for i, u in enumerate(facts.units) for p in [self._carrying(u, wants)] if p]

        def satisfies(piece: tuple[int, str]) -> set:
            return {w for w in wants if self._meets(w, piece[1], facts.units[piece[0]] if piece[1] == facts.units[piece[0]].text else None)}

        pieces.sort(key=lambda piece: (-len(satisfies(piece)) / (_size(piece[1]) + 6), piece[0]))
        added: list[tuple[int, str]] = []
        for piece in pieces:
            got = satisfies(piece)
            grown = _join([lead, *(text for _, text in added), piece[1]])
            if got and _size(grown) <= limit and len(grown) <= budget.cap:
                added.append(piece)
                wants -= got
        kept_body: list[str] = []
        for sentence in body:
            grown = _join([lead, *(text for _, text in added), *kept_body, sentence])
            if _size(grown) <= limit and len(grown) <= budget.cap:
                kept_body.append(sentence)
        parts = [lead, *(text for _, text in sorted(added)), *kept_body]
        memento = _join(self._add_new_numbers(request, facts, parts, {i for i, _ in added} | {facts.result}, budget))
        return {"memento": _finish(memento or request.memento, request.block, budget.cap)}

    def _carrying(self, unit: _Unit, wants: set) -> str:
        """The shortest run of ``unit``'s clauses that carries every wanted item the unit carries."""
        wanted = {w for w in wants if self._meets(w, unit.text, unit)}
        if not wanted:
            return ""
        clauses = _clauses(unit.text)
        for width in range(1, len(clauses) + 1):
            for start in range(len(clauses) - width + 1):
                text = _LEADING.sub("", " ".join(clauses[start:start + width])).strip(" ,;")
                if all(self._meets(w, text) for w in wanted):
                    return text
        return unit.text

    @staticmethod
    def _meets(want: tuple[str, str], text: str, unit: _Unit | None = None) -> bool:
        kind, item = want
        if kind == "n":
            return item in (unit.numbers if unit else _numbers(text))
        if kind == "f":
            return _formula_kept(item, text)
        if kind == "m":
            return _METHOD_RE[item].search(text) is not None
        # a check with its work or outcome, not a bare "Check:"
        return unit.check if unit else _CHECK.search(text) is not None and bool(_numbers(text) or _VERDICT.search(text))


def _clauses(text: str) -> list[str]:
    """The clauses of a sentence, never split inside brackets: "[3, 1, 2]" is one piece."""
    clauses: list[str] = []
    for part in _CLAUSE.split(text):
        if clauses and _depth(clauses[-1]) > 0:
            clauses[-1] += " " + part
        else:
            clauses.append(part)
    return clauses
