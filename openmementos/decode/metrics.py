"""What one generation costs and how it is shaped: the numbers the paper reports per trace.

KV accounting counts *steps*: the forward pass that produces generated token ``t`` reads the KV
entries live at that moment (the prompt's and every kept token's, its input's included). The
peak is the largest such count and the area under the curve (AUC) their sum over the
generation's steps. The decoder measures them on its cache; replay computes them from text with
the same :class:`~openmementos.decode.blocks.BlockTracker`, so the two agree token for token.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from .models import ModelShape


@dataclass(slots=True)
class KVLedger:
    """Peak and AUC of the live-entry count over steps.

    >>> ledger = KVLedger()
    >>> ledger.add(5, steps=3)      # three steps reading 5, 6 and 7 entries
    >>> ledger.add(4)
    >>> ledger.steps, ledger.peak, ledger.auc
    (4, 7, 22)
    """

    steps: int = 0
    peak: int = 0
    auc: int = 0

    def add(self, live: int, steps: int = 1) -> None:
        """``steps`` consecutive steps, the first reading ``live`` entries and each next one more."""
        if steps <= 0:
            return
        self.steps += steps
        self.peak = max(self.peak, live + steps - 1)
        self.auc += steps * live + steps * (steps - 1) // 2


@dataclass(frozen=True, slots=True)
class GenerationMetrics:
    """One generation: its size, its block structure and what its KV cache held."""

    mode: str
    prompt_tokens: int
    generated_tokens: int
    blocks: int                       # blocks closed by a <|summary_end|>
    block_tokens: int                 # their content tokens
    memento_tokens: int               # their mementos' text tokens
    forced_block_ends: int = 0        # <|block_end|> forced by max_block_tokens
    violations: int = 0               # memento tags out of order
    format_valid: bool | None = None  # the text parses as memento format (None: no text)
    peak_kv_tokens: int = 0
    kv_auc_tokens: int = 0
    seconds: float = 0.0
    evict_seconds: float = 0.0        # of which: dropping entries and compacting the cache

    @property
    def memento_ratio(self) -> float | None:
        """Memento tokens per block token, over the generation's finished blocks."""
        return self.memento_tokens / self.block_tokens if self.block_tokens else None

    @property
    def tokens_per_second(self) -> float | None:
        return self.generated_tokens / self.seconds if self.seconds > 0 else None

    def as_dict(self, shape: ModelShape | None = None) -> dict:
        out = asdict(self)
        out["memento_ratio"] = self.memento_ratio
        out["tokens_per_second"] = self.tokens_per_second
        if shape is not None:
            out["peak_kv_bytes"] = self.peak_kv_tokens * shape.bytes_per_token
            out["kv_auc_bytes"] = self.kv_auc_tokens * shape.bytes_per_token
        return out


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def summarise(metrics: list[GenerationMetrics], shape: ModelShape | None = None) -> dict:
    """Means over generations (medians for the KV peak and AUC too), and KV in bytes with ``shape``."""
    if not metrics:
        return {"generations": 0}
    seconds = sum(m.seconds for m in metrics)
    tokens = sum(m.generated_tokens for m in metrics)
    valid = [m.format_valid for m in metrics if m.format_valid is not None]
    out = {
        "generations": len(metrics),
        "generated_tokens": _mean([m.generated_tokens for m in metrics]),
        "blocks": _mean([m.blocks for m in metrics]),
        "memento_ratio": _mean([m.memento_ratio for m in metrics]),
        "format_valid": sum(valid) / len(valid) if valid else None,
        "forced_block_ends": sum(m.forced_block_ends for m in metrics),
        "violations": sum(m.violations for m in metrics),
        "peak_kv_tokens": _mean([m.peak_kv_tokens for m in metrics]),
        "peak_kv_tokens_median": statistics.median(m.peak_kv_tokens for m in metrics),
        "peak_kv_tokens_max": max(m.peak_kv_tokens for m in metrics),
        "kv_auc_tokens": _mean([m.kv_auc_tokens for m in metrics]),
        "kv_auc_tokens_median": statistics.median(m.kv_auc_tokens for m in metrics),
        "seconds": seconds,
        "tokens_per_second": tokens / seconds if seconds > 0 else None,
        "evict_share": sum(m.evict_seconds for m in metrics) / seconds if seconds > 0 else None,
    }
    if shape is not None:
        per = shape.bytes_per_token
        out["kv_model"] = shape.as_dict()
        for key in ("peak_kv_tokens", "peak_kv_tokens_median", "peak_kv_tokens_max", "kv_auc_tokens", "kv_auc_tokens_median"):
            out[key.replace("tokens", "bytes")] = out[key] * per
    return out
