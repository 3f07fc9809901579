"""``segment --dry-run``: what a run would cost, before any request is sent.

Counts the tokens of the real prompts this run would send: the scoring windows of every
selected trace exactly, and the memento prompts of the blocks that the offline heuristic's
segmentation predicts (the teacher's own cuts are only known after scoring). Output tokens are
estimated from the answer shapes. Two totals bracket the judge loop: no memento refined, and
every memento refined the maximum number of rounds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .duplicates import Duplicates
from .mementos import MementoConfig
from .records import Trace
from .rowschema import to_trace
from .scoring import window_request, score_trace, windows
from .segmentation import segment_trace
from .select import select_trace
from .sentences import split_trace
from .sources import open_input
from .teacher.base import CompressRequest, JudgeRequest, RefineRequest
from .teacher.heuristic import HeuristicTeacher
from .teacher.ledger import Ledger, load_prices
from .teacher.prompting import boundary_call, compress_call, judge_call, refine_call
from .tokens import TiktokenCounter, make_counter

_JUDGE_OUTPUT_TOKENS = 160        # the verdict JSON with a few lines of feedback
_SCORE_OUTPUT_TOKENS = 4          # per boundary: a digit, a comma, a space


@dataclass
class RoleQuote:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class Quote:
    traces: int = 0
    skipped: Counter = field(default_factory=Counter)
    blocks: int = 0
    base: dict[str, RoleQuote] = field(default_factory=dict)          # without refinement
    refine_max: dict[str, RoleQuote] = field(default_factory=dict)    # every memento refined max rounds
    models: dict[str, str] = field(default_factory=dict)
    prices: dict[str, dict[str, float]] = field(default_factory=dict)

    def cost(self, roles: dict[str, RoleQuote]) -> float | None:
        ledger = Ledger(self.prices)
        total = 0.0
        for role, quote in roles.items():
            price = ledger.price(self.models[role], quote.input_tokens, 0, quote.output_tokens)
            if price is None:
                return None
            total += price
        return total

    def as_dict(self) -> dict[str, Any]:
        def roles(rows: dict[str, RoleQuote]) -> dict[str, Any]:
            return {r: q.__dict__ for r, q in sorted(rows.items())}

        return {
            "traces": self.traces,
            "skipped": dict(self.skipped),
            "predicted_blocks": self.blocks,
            "models": self.models,
            "without_refinement": {"roles": roles(self.base), "cost_usd": self.cost(self.base)},
            "with_max_refinement": {"roles": roles(self.refine_max), "cost_usd": self.cost(self.refine_max)},
        }


def _add(table: dict[str, RoleQuote], role: str, input_tokens: int, output_tokens: int, times: int = 1) -> None:
    entry = table.setdefault(role, RoleQuote())
    entry.requests += times
    entry.input_tokens += input_tokens * times
    entry.output_tokens += output_tokens * times


def quote_job(job, models: dict[str, str], prices_path=None) -> Quote:
    """Quote ``job`` (a SegmentJob) for the given model per role; sends nothing, writes nothing."""
    counter = make_counter(job.tokenizer)
    prompt_counter = TiktokenCounter("o200k_base")   # the encoding of current OpenAI models
    heuristic = HeuristicTeacher()
    memento_config: MementoConfig = job.mementos
    quote = Quote(models=models, prices=load_prices(prices_path))
    duplicates = Duplicates()   # a duplicate row costs nothing: the run drops it before any request
    for raw in open_input(job.input, split=job.split, limit=job.limit):
        result = to_trace(raw, job.fields)
        if job.partition is not None and raw.index % job.partition.count != job.partition.index:
            if isinstance(result, Trace):
                duplicates.note(result, raw.index, raw.origin)
            continue
        if isinstance(result, Trace):
            result = duplicates.offer(result, raw.index, raw.origin)
        if isinstance(result, Trace):
            result = select_trace(result, counter, job.select)
        if isinstance(result, Trace):
            result = split_trace(result, counter, job.sentences)
        if not isinstance(result, Trace):
            quote.skipped[f"{result.stage}/{result.reason}"] += 1
            continue
        trace = result
        quote.traces += 1
        for size in filter(None, (job.scoring.window, job.scoring.second_window)):
            for bounds in windows(len(trace.sentences) - 1, size):
                call = boundary_call(window_request(trace, bounds, job.scoring.context))
                tokens = prompt_counter.count(call.messages[0]["content"])
                for table in (quote.base, quote.refine_max):
                    _add(table, "scorer", tokens, _SCORE_OUTPUT_TOKENS * len(bounds) + 8)
        # predicted blocks: the heuristic's scores stand in for the teacher's
        segmented = segment_trace(score_trace(trace, heuristic, job.scoring), job.segmentation)
        if not isinstance(segmented, Trace):
            continue
        previous: tuple[str, ...] = ()
        for index in range(len(segmented.blocks)):
            block = segmented.block_text(index)
            memento_tokens = max(20, int(counter.count(block) * memento_config.target_ratio))
            stand_in = block[: max(40, int(len(block) * memento_config.target_ratio))]
            compress = prompt_counter.count(compress_call(CompressRequest(trace.problem, block, index, previous, memento_config.target_ratio)).messages[0]["content"])
            judge = prompt_counter.count(judge_call(JudgeRequest(trace.problem, block, stand_in, index, previous)).messages[0]["content"])
            refine = prompt_counter.count(refine_call(RefineRequest(trace.problem, block, stand_in, "missing numbers: ...", index, previous, memento_config.target_ratio)).messages[0]["content"])
            for table, rounds in ((quote.base, 0), (quote.refine_max, memento_config.max_rounds)):
                _add(table, "compressor", compress, memento_tokens + 8)
                _add(table, "judge", judge, _JUDGE_OUTPUT_TOKENS, 1 + rounds)
                if rounds:
                    _add(table, "refiner", refine, memento_tokens + 8, rounds)
            previous = previous + (stand_in,)
            quote.blocks += 1
    return quote
