"""Size checks: block tokens within bounds, mementos non-empty, shorter than their block, compressed.

Counting every block costs about 1 ms per 7 KB of text, more than all other checks together, so
the counts ``segment`` recorded (``block_tokens``: the sum of the block's sentence tokens, what its
minimum was enforced on; ``memento_tokens``) are reused when the rows name the same tokenizer,
the block counts agree with ``sentence_tokens``, and every count is plausible for its text
(between a byte and eight bytes a token). Anything else is counted; ``--recount`` counts always.
"""

from __future__ import annotations

from typing import Callable

from ..tokens import TIKTOKEN_NAMES, TokenCounter
from .config import ValidateConfig
from .record import Finding, Record, Stats

CounterFor = Callable[[str], TokenCounter]


def tokenizer_name(record: Record, config: ValidateConfig) -> str:
    """The tokenizer to count in: the option, else the row's own (if we can rebuild it), else cl100k_base."""
    if config.tokenizer:
        return config.tokenizer
    own = record.get("tokenizer")
    return own if own in TIKTOKEN_NAMES else "cl100k_base"


def _plausible(counts: list[int], texts: tuple[str, ...]) -> bool:
    # a byte-level BPE token is at least one byte, and text averages well under 8 bytes a token:
    # a count outside that range was written for another text (a memento edited after segment)
    for n, text in zip(counts, texts):
        size = len(text.encode("utf-8"))
        if not (type(n) is int and size / 8 <= n <= size):
            return False
    return True


def _recorded(record: Record, column: str, texts: tuple[str, ...], counter_name: str) -> list[int] | None:
    recorded = record.get(column)
    if not isinstance(recorded, list) or len(recorded) != len(texts) or record.get("tokenizer") != counter_name:
        return None
    if column == "block_tokens":
        sentence_tokens, blocks = record.get("sentence_tokens"), record.get("blocks")
        if isinstance(sentence_tokens, list) and isinstance(blocks, list) and len(blocks) == len(recorded):
            try:
                if any(sum(sentence_tokens[a:b + 1]) != n for (a, b), n in zip(blocks, recorded)):
                    return None  # the blocks moved since the counts were written: count again
            except (TypeError, ValueError):
                return None
    return list(recorded) if _plausible(recorded, texts) else None


def stats(record: Record, config: ValidateConfig, counter_for: CounterFor) -> Stats | None:
    """Token counts of every block and memento (computed once per record)."""
    if record.parsed is None:
        return None
    if "stats" not in record.cache:
        counter = counter_for(tokenizer_name(record, config))
        counts = []
        for column, texts in (("block_tokens", record.blocks), ("memento_tokens", record.mementos)):
            found = None if config.recount else _recorded(record, column, texts, counter.name)
            counts.append(found if found is not None else counter.count_many(list(texts)))
        record.cache["stats"] = Stats(*counts)
    return record.cache["stats"]


def block_tokens(record: Record, level: str, config: ValidateConfig, sizes: Stats | None) -> list[Finding] | None:
    if sizes is None:
        return None
    found = []
    low, high = config.min_block_tokens, config.max_block_tokens
    for i, n in enumerate(sizes.block_tokens):
        if n < low:
            found.append(Finding("sizes.block_tokens", level, f"block {i} has {n} tokens, fewer than --min-block-tokens {low}", block=i, weight=1 + (low - n) / low))
        elif high is not None and n > high:
            found.append(Finding("sizes.block_tokens", level, f"block {i} has {n} tokens, more than --max-block-tokens {high}", block=i, weight=1 + (n - high) / high))
    return found


def memento_empty(record: Record, level: str) -> list[Finding] | None:
    if record.parsed is None:
        return None
    return [Finding("sizes.memento_empty", level, f"memento {i} is empty", block=i, weight=3.0)
            for i, memento in enumerate(record.mementos) if not memento.strip()]


def memento_longer(record: Record, level: str, sizes: Stats | None) -> list[Finding] | None:
    if sizes is None:
        return None
    return [Finding("sizes.memento_longer_than_block", level, f"memento {i} has {m} tokens, its block {b}", block=i, weight=1 + m / max(b, 1))
            for i, (m, b) in enumerate(zip(sizes.memento_tokens, sizes.block_tokens)) if m > b]


def ratio(record: Record, level: str, config: ValidateConfig, sizes: Stats | None, longer_reported: bool) -> list[Finding] | None:
    """Per block memento/block characters above ``max_ratio``: the published statistics are in
    characters, and token counts of symbol-dense mementos run higher (longer-than-block mementos
    have their own check)."""
    if sizes is None:
        return None
    found = []
    for i, (memento, block) in enumerate(zip(record.mementos, record.blocks)):
        if longer_reported and sizes.memento_tokens[i] > sizes.block_tokens[i]:
            continue
        value = len(memento) / len(block) if block else float("inf")
        if config.max_ratio < value <= config.max_memento_share:
            found.append(Finding("sizes.ratio", level, f"memento {i} is {value:.2f} of its block ({len(memento)}/{len(block)} characters), "
                                 f"above --max-ratio {config.max_ratio}", block=i, weight=value))
    return found


def inflated(record: Record, level: str, config: ValidateConfig, sizes: Stats | None, longer_reported: bool) -> list[Finding] | None:
    """A memento that restates its block instead of compressing it: more than ``max_memento_share``
    of the block's characters (real MEMENTO mementos reach 0.50 at most; the compressor's cap is 0.5)."""
    if sizes is None:
        return None
    found = []
    for i, (memento, block) in enumerate(zip(record.mementos, record.blocks)):
        if longer_reported and sizes.memento_tokens[i] > sizes.block_tokens[i]:
            continue  # reported once, by its own check
        value = len(memento) / len(block) if block else float("inf")
        if value > config.max_memento_share:
            found.append(Finding("sizes.inflated", level, f"memento {i} is {value:.2f} of its block's characters "
                                 f"({len(memento)}/{len(block)}), above --max-memento-share {config.max_memento_share}: "
                                 f"a paraphrase, not a summary", block=i, weight=1 + value))
    return found


def compression(record: Record, level: str, config: ValidateConfig, sizes: Stats | None) -> list[Finding] | None:
    """The whole trace's memento tokens over block tokens, against a band wide enough for single
    traces (the paper's 0.10-0.25 target is for the data set: the report gives its pooled value)."""
    value = sizes.compression if sizes else None
    if value is None:
        return None
    if config.ratio_low <= value <= config.ratio_high:
        return []
    side = "below --ratio-low" if value < config.ratio_low else "above --ratio-high"
    bound = config.ratio_low if value < config.ratio_low else config.ratio_high
    return [Finding("sizes.compression", level, f"trace compression {value:.2f} is {side} {bound}", weight=0.5)]
