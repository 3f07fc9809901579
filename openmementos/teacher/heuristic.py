"""The offline teacher: deterministic rules that stand in for the LLM teacher.

Its answers are plain dicts that pass ``openmementos.answers``, like an LLM's would:

- boundaries: the next sentence opening a verification, a new approach or a conclusion scores 3,
  a topic shift 2, any finished sentence 1; the paper's never-cut rules (the previous sentence
  needs the next, or the next refers back to it, or the cut is inside code or a formula) give 0.
- compress: extractive. It states the block's result first, then adds the sentences that bring
  the most new formulas, numbers, methods and checks per character, narration stripped, up to
  ``target_ratio`` of the block. Every character comes from the block, so no number is invented.
- judge: a rubric proxy that checks the memento against the block: formulas kept verbatim,
  number recall, methods named, checks kept, numbers found nowhere, narration, result first.
- refine: drops unsupported numbers and narration, leads with the result, and adds the block
  sentences that carry what the feedback names as missing, within half the block.

    >>> HeuristicTeacher().score_boundaries(BoundaryRequest("p", ("x = 2.", "Alternatively, try y."), (0,)))
    {'scores': [3]}
"""

from __future__ import annotations
import heapq
from typing import Any
from .base import BoundaryRequest, CompressRequest, JudgeRequest, RefineRequest
from .textfacts import (
    _CHECK,
    _CLAUSE,
    _CONCLUDED,
    _CONTINUATION,
    _Covered,
    _FEEDBACK_CHECK,
    _FEEDBACK_FORMULA,
    _FEEDBACK_METHODS,
    _FEEDBACK_NUMBERS,
    _FEEDBACK_UNSUPPORTED,
    _FENCE,
    _Facts,
    _HEADING,
    _IN_WORDS,
    _LEADING,
    _LIST_MARKER,
    _MARKER_2,
    _MARKER_3,
    _METHOD_RE,
    _NARRATION_JUDGED,
    _NEEDS_NEXT,
    _REFERS_BACK,
    _STOPWORDS,
    _TERMINAL,
    _Unit,
    _VERIFY_SOON,
    _WORD,
    _analyse,
    _ascii,
    _compact,
    _depth,
    _finish,
    _join,
    _norm,
    _numbers,
    _sentences,
    _states,
    _truncate,
)

RULES_VERSION = "heuristic-rules-2"  # 2: paragraph breaks lift boundary scores


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
        sentences = request.sentences
        # whether each sentence ends inside a code fence or display math, in one pass
        inside: list[bool] = []
        fences = dollars = brackets = 0
        for sentence in sentences:
            fences += sentence.count(_FENCE)
            dollars += sentence.count("$$")
            brackets = max(0, brackets + sentence.count("\\[") - sentence.count("\\]"))
            inside.append(fences % 2 == 1 or dollars % 2 == 1 or brackets > 0)
        breaks = request.paragraph_breaks
        scores = []
        for i in request.boundaries:
            following = sentences[i + 1] if i + 1 < len(sentences) else ""
            score = self._boundary(sentences[i].strip(), following.strip(), inside[i])
            # A blank line is the writer's own break: it lifts a plain or topic boundary one
            # step, but never overrides a never-cut rule (score 0).
            if 0 < score < 3 and i < len(breaks) and breaks[i]:
                score += 1
            scores.append(score)
        return {"scores": scores}

    @staticmethod
    def _boundary(prev: str, nxt: str, inside: bool) -> int:
        if inside or not prev or _NEEDS_NEXT.search(prev) or _LIST_MARKER.match(prev):
            return 0
        if prev.count("(") + prev.count("{") > prev.count(")") + prev.count("}"):
            return 0  # an open bracket: mid-formula
        if not nxt:
            return 1 if _TERMINAL.search(prev) else 0
        if _CONTINUATION.match(nxt) or _REFERS_BACK.search(nxt[:60]):
            return 0
        if _MARKER_3.match(nxt) or _VERIFY_SOON.match(nxt):
            return 3
        if nxt.startswith(_FENCE):
            return 1  # code belongs with the sentence that introduces it
        if _MARKER_2.match(nxt) or _HEADING.match(nxt):
            return 3 if _CONCLUDED.search(prev) else 2
        return 1 if _TERMINAL.search(prev) else 0

    # -- compress --------------------------------------------------------------------------

    def _budget(self, block: str, ratio: float) -> tuple[int, int]:
        """(length target, hard cap) in characters; the cap is below the block's own length."""
        length = len(block.strip())
        cap = max(1, min(int(self.hard_cap * length), length - 1))
        return min(cap, max(int(ratio * length), self.min_chars)), cap

    def compress(self, request: CompressRequest) -> dict[str, Any]:
        facts = _analyse(request.block)
        budget, cap = self._budget(request.block, request.target_ratio)
        earlier = " ".join(request.previous_mementos)
        seen = _norm(earlier)
        covered = _Covered(
            formulas={f for f in facts.formulas if f in seen},
            numbers=set(_numbers(earlier)),
            words=set(_WORD.findall(earlier.lower())) - _STOPWORDS,
        )
        lead = self._lead(facts, budget)
        if lead:
            covered.add(facts.units[facts.result], lead)
        chosen = self._pick(facts, budget - len(lead), covered, skip=facts.result if lead else -1)
        memento = _join([lead] + [facts.units[i].text for i in sorted(chosen)])
        if not memento:  # nothing worth keeping: the first sentences, within the target
            memento = _truncate(_join([u.text for u in facts.units]) or request.block.strip(), budget)
        return {"memento": _finish(memento, request.block, cap)}

    @staticmethod
    def _lead(facts: _Facts, budget: int) -> str:
        """The result sentence; when it is long, only its clauses up to the one stating the value."""
        if facts.result < 0:
            return ""
        text = facts.units[facts.result].text
        limit = int(0.7 * budget)
        if len(text) <= limit:
            return text
        clauses: list[str] = []
        for part in _CLAUSE.split(text):  # never split inside brackets: "[3, 1, 2]" is one piece
            if clauses and _depth(clauses[-1]) > 0:
                clauses[-1] += " " + part
            else:
                clauses.append(part)
        last = max((i for i, c in enumerate(clauses) if _states(c, facts.value)), default=len(clauses) - 1)
        first = last
        while first > 0 and len(" ".join(clauses[first - 1:last + 1])) <= limit:
            first -= 1
        return _truncate(_LEADING.sub("", " ".join(clauses[first:last + 1])), max(limit, len(clauses[last])))

    @staticmethod
    def _pick(facts: _Facts, room: int, covered: _Covered, skip: int) -> set[int]:
        """Lazy greedy over units by gain per character: gains only shrink as the draft grows,
        so a unit whose refreshed gain still beats the next stale one is the true best."""
        heap = [(-covered.gain(u, facts.check), i) for i, u in enumerate(facts.units) if i != skip and u.text]
        heapq.heapify(heap)
        chosen: set[int] = set()
        while heap and room > 0:
            stale, i = heapq.heappop(heap)
            unit = facts.units[i]
            fresh = covered.gain(unit, facts.check)
            if fresh <= 0 or len(unit.text) + 1 > room:
                continue
            if heap and -fresh > heap[0][0] and fresh < -stale:
                heapq.heappush(heap, (-fresh, i))
                continue
            chosen.add(i)
            room -= len(unit.text) + 2
            covered.add(unit, unit.text)
        return chosen

    # -- judge -----------------------------------------------------------------------------

    def judge(self, request: JudgeRequest) -> dict[str, Any]:
        facts = _analyse(request.block)
        memento, value = request.memento, facts.value
        norm_memento = _norm(memento)
        earlier = " ".join(request.previous_mementos)
        norm_earlier, earlier_numbers = _norm(earlier), set(_numbers(earlier))
        memento_numbers = set(_numbers(memento))
        known = set(facts.numbers) | set(_numbers(request.problem)) | earlier_numbers

        # what earlier mementos already carry need not be repeated
        wanted_formulas = [f for f in facts.formulas if f not in norm_earlier]
        missing_formulas = [f for f in wanted_formulas if f not in norm_memento]
        wanted_numbers = [n for n in facts.numbers if n not in earlier_numbers]
        missing_numbers = [n for n in wanted_numbers if n not in memento_numbers]
        missing_methods = sorted(m for m in facts.methods if not _METHOD_RE[m].search(memento))
        unsupported = sorted(memento_numbers - known, key=lambda n: (len(n), n))
        sentences = _sentences(memento)
        narration = sorted({m.group(0).lower() for m in _NARRATION_JUDGED.finditer(memento)})
        in_words = [rx.pattern for rx, symbol in _IN_WORDS
                    if rx.search(memento) and not rx.search(request.block) and symbol in _ascii(request.block)]

        def share(missing: list, wanted: list) -> float:
            return 1.0 if not wanted else 1.0 - len(missing) / len(wanted)

        named = len(facts.methods) - len(missing_methods)
        scores = {
            "formulas": round(3 * share(missing_formulas, wanted_formulas), 2),
            "numbers": round(2 * share(missing_numbers, wanted_numbers), 2),
            "methods": round(2 * min(1.0, named / min(2, len(facts.methods))), 2) if facts.methods else 2.0,
            "validation": 1.0 if not facts.check or _CHECK.search(memento) else 0.0,
            "correctness": 0.0 if unsupported else 1.0,
            "result_first": float(bool(sentences) and (not value or _states(sentences[0], value))),
        }
        deductions = {
            "hallucination": min(3.0, 1.5 * len(unsupported)),
            "narration": min(3.0, 1.0 * len(narration)),
            "formulas_in_words": 1.0 if in_words else 0.0,
            "missing_critical_values": 2.0 if value and not _states(memento, value) else 0.0,
        }
        k = self.feedback_items
        lines = []
        if deductions["missing_critical_values"]:
            lines.append(f"missing result: {value} (state it in the first sentence)")
        elif not scores["result_first"]:
            lines.append(f"result not first: open with the block's result {value}")
        if unsupported:
            lines.append(f"unsupported numbers: {', '.join(unsupported[:k])} (not in the block, problem or earlier mementos)")
        if missing_numbers:
            ranked = sorted(missing_numbers, key=lambda n: -facts.numbers[n])[:k]
            lines.append(f"missing numbers: {', '.join(ranked)}")
        lines += [f"missing formula: {facts.formulas[f]}" for f in missing_formulas[:k]]
        if scores["methods"] < 2:
            lines.append(f"missing methods: {', '.join(missing_methods[:k])}")
        if not scores["validation"]:
            lines.append("missing check: the block verifies its result; keep the check and its outcome")
        if narration:
            lines.append(f"narration: remove {', '.join(repr(n) for n in narration)}")
        if in_words:
            lines.append("formulas in words: write them with symbols as the block does")
        feedback = "\n".join(lines) or "no changes needed"
        return {"scores": scores, "deductions": deductions, "feedback": feedback}

    # -- refine ----------------------------------------------------------------------------

    def refine(self, request: RefineRequest) -> dict[str, Any]:
        facts = _analyse(request.block)
        budget, cap = self._budget(request.block, request.target_ratio)
        feedback, value = request.feedback, facts.value
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
        stating = next((i for i, t in enumerate(kept) if value and _states(t, value)), None)
        if stating is not None:
            lead, body = kept[stating], kept[:stating] + kept[stating + 1:]
        else:
            lead = self._lead(facts, budget)
            body = [t for t in kept if _norm(t) != _norm(lead)]
        wants = {w for w in wants if not self._meets(w, " ".join([lead] + body))}

        def satisfies(i: int) -> set:
            return {w for w in wants if self._meets(w, facts.units[i].text, facts.units[i])}

        # add the block sentences with the most missing items per character, under the hard cap
        order = sorted(range(len(facts.units)), key=lambda i: (-len(satisfies(i)) / (len(facts.units[i].text) + 25), i))
        added: list[int] = []
        for i in order:
            got = satisfies(i)
            if got and len(_join([lead, *body, *(facts.units[j].text for j in added), facts.units[i].text])) <= cap:
                added.append(i)
                wants -= got
        memento = _join([lead, *body, *(facts.units[i].text for i in sorted(added))])
        return {"memento": _finish(memento or request.memento, request.block, cap)}

    @staticmethod
    def _meets(want: tuple[str, str], text: str, unit: _Unit | None = None) -> bool:
        kind, item = want
        if kind == "n":
            return item in (unit.numbers if unit else _numbers(text))
        if kind == "f":
            return item in _norm(text)
        if kind == "m":
            return _METHOD_RE[item].search(text) is not None
        return unit.check if unit else _CHECK.search(text) is not None
