"""Stage 1, selection: keep complete, non-CJK traces within token bounds; optionally stratify.

Completeness (a closed thinking section) is decided when a row becomes a trace
(``rowschema``); this stage applies the content rules and the sampling plan. Every drop is a
:class:`Skip` with a reason, so the run can count and write it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from .records import Skip, Trace
from .tokens import TokenCounter

# CJK ideographs, kana and hangul: the paper drops traces that switch language mid-thought.
_CJK = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"
)
# No tokenizer emits more than one token per character of ordinary text, and none fewer than
# one per ~12 characters; beyond these bounds we know the answer without tokenizing.
_MAX_CHARS_PER_TOKEN = 12


@dataclass(frozen=True, slots=True)
class SelectConfig:
    min_tokens: int = 400          # two blocks of the default 200 tokens, at least
    max_tokens: int = 32_000       # the paper's SFT context; longer traces cannot be trained on whole
    reject_cjk: bool = True


def select_trace(trace: Trace, counter: TokenCounter, config: SelectConfig = SelectConfig()) -> Trace | Skip:
    """Return the trace (with ``extra['thinking_tokens']`` set) or a Skip naming the rule."""
    text = trace.thinking
    if config.reject_cjk:
        match = _CJK.search(text) or _CJK.search(trace.answer)
        if match:
            return Skip(trace.trace_id, "select", "cjk_text", f"CJK character {match.group(0)!r} at {match.start()}")
    if len(text) > config.max_tokens * _MAX_CHARS_PER_TOKEN:
        return Skip(trace.trace_id, "select", "too_long", f"{len(text)} characters, far over {config.max_tokens} tokens")
    if len(text) < config.min_tokens:
        return Skip(trace.trace_id, "select", "too_short", f"{len(text)} characters, under {config.min_tokens} tokens")
    tokens = counter.count(text)
    if tokens > config.max_tokens:
        return Skip(trace.trace_id, "select", "too_long", f"{tokens} tokens > max {config.max_tokens}")
    if tokens < config.min_tokens:
        return Skip(trace.trace_id, "select", "too_short", f"{tokens} tokens < min {config.min_tokens}")
    trace.extra["thinking_tokens"] = tokens
    return trace


def parse_mix(text: str) -> dict[str, float]:
    """``"math=0.54,code=0.19,science=0.27"`` -> shares normalised to sum to 1."""
    shares: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r} is not NAME=SHARE")
        try:
            share = float(value)
        except ValueError:
            raise ValueError(f"share {value!r} of {name!r} is not a number") from None
        if share < 0:
            raise ValueError(f"share of {name!r} is negative")
        shares[name.strip()] = share
    total = sum(shares.values())
    if not shares or total <= 0:
        raise ValueError("the mix needs at least one positive share")
    return {name: share / total for name, share in shares.items()}


def difficulty_bucket(difficulty: int) -> str:
    if difficulty < 0:
        return "unknown"
    return "easy" if difficulty <= 3 else "medium" if difficulty <= 6 else "hard"


@dataclass(slots=True)
class Stratifier:
    """Keep ``total`` traces in the target mix by domain (and difficulty bucket), streaming.

    Each stratum has a quota (an empty ``domain_mix`` means no quotas, thinning only); a trace is kept while its stratum has room. ``keep_fraction``
    below 1 thins the stream first by a seeded hash of the trace id, so different seeds draw
    different (but reproducible) subsets from the same input. ``taken`` is the whole state;
    it is saved with each finished shard so a resumed run continues the same plan.
    """

    domain_mix: dict[str, float]
    total: int
    difficulty_mix: dict[str, float] | None = None
    seed: int = 0
    keep_fraction: float = 1.0
    taken: dict[str, int] = field(default_factory=dict)

    def _quota(self, stratum: str) -> int:
        domain, _, bucket = stratum.partition("/")
        share = self.domain_mix.get(domain, 0.0)
        if self.difficulty_mix is not None:
            share *= self.difficulty_mix.get(bucket, 0.0)
        return round(share * self.total)

    def stratum(self, trace: Trace) -> str:
        bucket = difficulty_bucket(trace.difficulty) if self.difficulty_mix is not None else "any"
        return f"{trace.domain}/{bucket}"

    def offer(self, trace: Trace) -> Trace | Skip:
        if self.keep_fraction < 1.0:
            digest = hashlib.sha256(f"{self.seed}:{trace.trace_id}".encode()).digest()
            if int.from_bytes(digest[:8], "big") / 2**64 >= self.keep_fraction:
                return Skip(trace.trace_id, "select", "not_sampled", f"seed {self.seed}")
        if not self.domain_mix:  # thinning only, no quotas
            return trace
        stratum = self.stratum(trace)
        if self.taken.get(stratum, 0) >= self._quota(stratum):
            return Skip(trace.trace_id, "select", "stratum_full", f"quota of {stratum} reached")
        self.taken[stratum] = self.taken.get(stratum, 0) + 1
        return trace

    def is_done(self, taken: dict[str, int]) -> bool:
        """True once every stratum's quota is met by ``taken`` (counts per stratum)."""
        if not self.domain_mix:
            return False
        strata = {f"{d}/{b}" for d in self.domain_mix for b in (self.difficulty_mix or {"any": 1})}
        return all(taken.get(s, 0) >= self._quota(s) for s in strata)
