"""Stage 5 on the real heuristic judge: which draft a block keeps after refinement.

The teachers here are the offline heuristic teacher with one step replaced (its first draft, or
its refinement), so the judge that decides "better" is the real one.
"""

from __future__ import annotations

from openmementos.answers import parse_verdict
from openmementos.mementos import MementoConfig, memento_trace
from openmementos.records import Trace
from openmementos.teacher import CompressRequest, JudgeRequest, RefineRequest
from openmementos.teacher.heuristic import HeuristicTeacher
from openmementos.tokens import TiktokenCounter

PROBLEM = "A rectangle has sides 12 and 35. Find its diagonal."
BLOCK = ("Let me set up the sides: the width is 12 and the length is 35. The diagonal splits the rectangle into two "
         "right triangles, so by Pythagoras d^2 = 12^2 + 35^2 = 144 + 1225 = 1369. Then d = sqrt(1369) = 37. "
         "Check: 37^2 = 1369, correct.")
DRAFT = "Diagonal d = 37 (d^2 = 12^2 + 35^2 = 1369)."   # drops 1225 and the check: under 8
PADDING = " The diagonal of the rectangle is what was asked."


class FirstDraft(HeuristicTeacher):
    """The heuristic teacher, starting from ``DRAFT``."""

    def compress(self, request: CompressRequest) -> dict:
        return {"memento": DRAFT}


class PaddingRefiner(FirstDraft):
    """Refines by adding a sentence that says nothing new: longer, and no better."""

    def refine(self, request: RefineRequest) -> dict:
        return {"memento": request.memento + PADDING}


def _trace() -> Trace:
    return Trace(trace_id="t", problem=PROBLEM, thinking=BLOCK, answer="37", sentences=[BLOCK], separators=[""],
                 blocks=[(0, 0)])


def _score(teacher: HeuristicTeacher, memento: str) -> float:
    return parse_verdict(teacher.judge(JudgeRequest(PROBLEM, BLOCK, memento, 0, ()))).score


def test_a_refinement_longer_than_its_draft_and_not_better_is_discarded():
    teacher = PaddingRefiner()
    draft, padded = _score(teacher, DRAFT), _score(teacher, DRAFT + PADDING)
    assert draft < MementoConfig().threshold and padded <= draft  # the premise, by the real judge
    trace = memento_trace(_trace(), teacher, TiktokenCounter("cl100k_base"))
    assert trace.mementos == [DRAFT]
    # both refinements were judged and recorded; neither replaced the draft
    assert len(trace.judge_rounds[0]) == 1 + MementoConfig().max_rounds
    assert [r.score for r in trace.judge_rounds[0]][0] == draft


def test_a_longer_refinement_that_scores_higher_is_kept():
    teacher = FirstDraft()  # the heuristic teacher's own refinement adds what the judge missed
    trace = memento_trace(_trace(), teacher, TiktokenCounter("cl100k_base"))
    kept = trace.mementos[0]
    assert len(kept) > len(DRAFT)
    assert _score(teacher, kept) > _score(teacher, DRAFT)
    assert _score(teacher, kept) >= MementoConfig().threshold
    assert len(trace.judge_rounds[0]) == 2  # the first refinement reached the threshold: no second round
