"""Faithfulness checks, offline and deterministic: recall, hallucination, look-ahead, duplicates,
changed numbers (:mod:`.claims`) and memento order (:mod:`.alignment`).

They compare numbers by value (:mod:`.numerals`), the part of a memento that can be checked
without a model. Single digits are ignored: they are everywhere and prove nothing. A memento may
state what its own block, an earlier block, an earlier memento or the problem states; a number
found only in a later block or in the final answer is look-ahead (a memento must not know the
future), and one found nowhere is a hallucination.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import ValidateConfig
from .alignment import misplaced
from .claims import Sources, changed_numbers
from .numerals import atoms, final_value, number_recall, trivial
from .record import Finding, Record

_SHOW = 5  # values quoted in a message


@dataclass(slots=True)
class Facts:
    problem: set[str]
    blocks: list[set[str]]        # every value (stated and fraction values) of each block
    stated: list[set[str]]        # values each memento writes out
    mementos: list[set[str]]      # every value of each memento
    answer_text: str
    finals: list[str | None]      # each block's final value
    _answer: set[str] | None = None

    @property
    def answer(self) -> set[str]:
        # read only when a memento states a value found nowhere before it: usually never
        if self._answer is None:
            self._answer = _values(self.answer_text)
        return self._answer


def _values(text: str) -> set[str]:
    stated, derived = atoms(text)
    return stated | derived


def facts(record: Record) -> Facts | None:
    """The values of every part of a parsed record, computed once."""
    if record.parsed is None:
        return None
    if "facts" not in record.cache:
        problem = record.get("problem")
        memento_atoms = [atoms(m) for m in record.mementos]
        record.cache["facts"] = Facts(
            problem=_values(problem) if isinstance(problem, str) else set(),
            blocks=[_values(b) for b in record.blocks],
            stated=[s for s, _ in memento_atoms],
            mementos=[s | d for s, d in memento_atoms],
            answer_text=record.parsed.answer,
            finals=[final_value(b) for b in record.blocks],
        )
    return record.cache["facts"]


def _quote(items) -> str:
    items = sorted(items, key=lambda v: (len(v), v))
    more = f" and {len(items) - _SHOW} more" if len(items) > _SHOW else ""
    return ", ".join(items[:_SHOW]) + more


def recall(record: Record, level: str, config: ValidateConfig, known: Facts | None) -> list[Finding] | None:
    """Share of the block's new numbers the memento states; the block's final value counts twice.

    Numbers the problem or an earlier memento already states are context, not news: a memento
    need not repeat them (a code block that re-runs the sample input of the problem states no
    new number at all).
    """
    if known is None:
        return None
    found = []
    context = set(known.problem)
    for i, (block, memento, final) in enumerate(zip(known.blocks, known.mementos, known.finals)):
        got = number_recall(block, memento, final, context)
        context |= memento
        if len(got.wanted) < config.recall_min_numbers or got.score >= config.min_number_recall:
            continue
        lost = "" if got.final_kept else f"; final value {got.final} missing"
        found.append(Finding("faithfulness.recall", level,
                             f"memento {i} states {len(got.kept)} of its block's {len(got.wanted)} new numbers (recall "
                             f"{got.score:.2f} < --min-number-recall {config.min_number_recall}){lost}; missing: "
                             f"{_quote(got.wanted - got.kept)}",
                             block=i, weight=1 + config.min_number_recall - got.score))
    return found


def _unsupported(known: Facts) -> list[tuple[int, list[str], dict[str, str]]]:
    """Per memento: values found nowhere before it, and those of them the future holds (value -> where)."""
    out = []
    seen = set(known.problem)
    for i, stated in enumerate(known.stated):
        seen |= known.blocks[i]
        missing = sorted(v for v in stated if v not in seen and not trivial(v))
        future: dict[str, str] = {}
        for value in missing:
            later = next((j for j in range(i + 1, len(known.blocks)) if value in known.blocks[j]), None)
            if later is not None:
                future[value] = f"block {later}"
            elif value in known.answer:
                future[value] = "the answer"
        out.append((i, [v for v in missing if v not in future], future))
        seen |= known.mementos[i]
    return out


def _unsupported_cached(record: Record, known: Facts) -> list[tuple[int, list[str], dict[str, str]]]:
    if "unsupported" not in record.cache:
        record.cache["unsupported"] = _unsupported(known)
    return record.cache["unsupported"]


def hallucination(record: Record, level: str, config: ValidateConfig, known: Facts | None) -> list[Finding] | None:
    if known is None:
        return None
    found = []
    for i, nowhere, _ in _unsupported_cached(record, known):
        if len(nowhere) > config.max_unsupported:
            found.append(Finding("faithfulness.hallucination", level,
                                 f"memento {i} states {_quote(nowhere)}, found in no earlier block, memento or the problem",
                                 block=i, weight=1 + len(nowhere)))
    return found


def lookahead(record: Record, level: str, known: Facts | None) -> list[Finding] | None:
    if known is None:
        return None
    found = []
    for i, _, future in _unsupported_cached(record, known):
        if future:
            where = ", ".join(f"{v} (only in {place})" for v, place in sorted(future.items())[:_SHOW])
            found.append(Finding("faithfulness.lookahead", level, f"memento {i} knows the future: {where}", block=i, weight=1 + len(future)))
    return found


def duplicate(record: Record, level: str) -> list[Finding] | None:
    if record.parsed is None:
        return None
    first: dict[str, int] = {}
    found = []
    for i, memento in enumerate(record.mementos):
        key = " ".join(memento.split()).casefold()
        if not key:
            continue  # empty mementos have their own check
        if key in first:
            found.append(Finding("faithfulness.duplicate", level, f"memento {i} repeats memento {first[key]}", block=i, weight=2.0))
        else:
            first[key] = i
    return found


def changed_number(record: Record, level: str) -> list[Finding] | None:
    """Numbers checked in their context (:mod:`.claims`): a changed digit, a value swapped for
    another of the block, false arithmetic, a formula with other numbers than the trace's."""
    if record.parsed is None:
        return None
    sources = Sources()
    problem = record.get("problem")
    if isinstance(problem, str):
        sources.add(problem)
    found = []
    for i, (block, memento) in enumerate(zip(record.blocks, record.mementos)):
        sources.add(block)
        reasons = changed_numbers(memento, sources)
        if reasons:
            more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
            found.append(Finding("faithfulness.changed_number", level, f"memento {i}: {reasons[0]}{more}", block=i,
                                 weight=1 + len(reasons)))
        sources.add(memento)
    return found


def order(record: Record, level: str) -> list[Finding] | None:
    """Mementos in another block's place, by the words they share (:mod:`.alignment`)."""
    if record.parsed is None:
        return None
    return [Finding("faithfulness.order", level, f"memento {i} {why}", block=i, weight=2.0)
            for i, why in sorted(misplaced(record.blocks, record.mementos).items())]
