"""The checks ``validate`` runs, their severities, and the thresholds they read.

Every check has a stable name (``group.check``). An *error* makes its record fail; a *warning*
is reported and counted but the record still passes. ``--severity NAME=LEVEL`` changes a
check's level, ``--checks``/``--skip-check`` choose which run (a group name selects the group).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError

ERROR = "error"
WARNING = "warning"
LEVELS = (ERROR, WARNING)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    name: str
    severity: str
    option: str  # the threshold option(s) that tune it, "" if none
    what: str


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("structure.schema", ERROR, "", "row matches schemas/openmementos_row.json; Parquet columns have the published types"),
    CheckSpec("structure.tokens", ERROR, "", "special tokens balanced, in order, never nested; none inside problem, memento, sentence or answer text"),
    CheckSpec("structure.coverage", ERROR, "", "blocks cover every sentence in order, no gap, no overlap; per-block columns have one entry per block"),
    CheckSpec("structure.roundtrip", ERROR, "", "response parses back to the same blocks and mementos (and block_summaries, answer) when re-rendered"),
    CheckSpec("structure.source_text", ERROR, "", "each block's text equals its sentences rebuilt from the source (byte for byte with separators)"),
    CheckSpec("sizes.block_tokens", ERROR, "--min-block-tokens 200, --max-block-tokens none", "every block within [min, max] tokens"),
    CheckSpec("sizes.memento_empty", ERROR, "", "no memento is empty or whitespace"),
    CheckSpec("sizes.memento_longer_than_block", ERROR, "", "no memento has more tokens than its block"),
    CheckSpec("sizes.ratio", WARNING, "--max-ratio 0.5", "memento/block characters of each block at most max-ratio"),
    CheckSpec("sizes.inflated", ERROR, "--max-memento-share 0.6", "no memento restates its block: at most this share of its characters"),
    CheckSpec("sizes.compression", WARNING, "--ratio-low 0.05, --ratio-high 0.35", "trace compression (memento tokens / block tokens) in a band for single traces; the report gives the data set's pooled value against the paper's 0.10-0.25"),
    CheckSpec("faithfulness.recall", ERROR, "--min-number-recall 0.2, --recall-min-numbers 3", "the memento states enough of its block's numbers and final value"),
    CheckSpec("faithfulness.hallucination", ERROR, "--max-unsupported 0", "numbers in a memento come from its block, earlier blocks, earlier mementos or the problem"),
    CheckSpec("faithfulness.lookahead", ERROR, "", "no memento states a number found only in later blocks or the answer"),
    CheckSpec("faithfulness.duplicate", ERROR, "", "no two mementos of a trace are the same text"),
    CheckSpec("faithfulness.changed_number", ERROR, "", "a memento's numbers agree with the trace in context: together in one passage, with their names, in true arithmetic, in the trace's formulas"),
    CheckSpec("faithfulness.order", ERROR, "", "each memento shares the most distinctive words with its own block: none swapped, none about a later block"),
    CheckSpec("style.ascii", WARNING, "", "mementos write sub- and superscripts in ASCII (x_1, n^2), as the paper's judge asks"),
    CheckSpec("style.narration", WARNING, "", "mementos do not narrate the process ('in this block', 'the model')"),
    CheckSpec("judge.min_score", ERROR, "--min-judge-score 8, --judge SPEC", "every memento's final judge score (best round) at least the minimum"),
    CheckSpec("records.duplicate", ERROR, "", "no record repeats an earlier one: the same problem and response, or the same trace_id"),
    CheckSpec("manifest.integrity", ERROR, "", "every shard's sha256 and row count match manifest.json (run level, when present)"),
)
CHECK_NAMES = tuple(spec.name for spec in CHECKS)
GROUPS = tuple(dict.fromkeys(name.split(".")[0] for name in CHECK_NAMES))


def _select(patterns: tuple[str, ...], option: str) -> set[str]:
    chosen: set[str] = set()
    for pattern in patterns:
        found = {n for n in CHECK_NAMES if n == pattern or n.split(".")[0] == pattern}
        if not found:
            raise ConfigError(f"{option}: no check or group named {pattern!r}", f"choose from {', '.join(GROUPS + CHECK_NAMES)}")
        chosen |= found
    return chosen


@dataclass(frozen=True, slots=True)
class ValidateConfig:
    """Thresholds and check selection. Defaults are the documented ones (README, ``--help``).

    >>> ValidateConfig(skip=("style",)).severity_of("style.ascii") is None
    True
    """

    min_block_tokens: int = 200
    max_block_tokens: int | None = None
    max_ratio: float = 0.5              # characters; real MEMENTO mementos reach 0.50
    max_memento_share: float = 0.6       # characters; above it a memento is a paraphrase (sizes.inflated)
    ratio_low: float = 0.05              # one trace's compression; real MEMENTO traces span 0.11-0.29
    ratio_high: float = 0.35
    min_number_recall: float = 0.2
    recall_min_numbers: int = 3          # blocks with fewer distinct numbers (ignoring single digits) are not judged
    max_unsupported: int = 0             # unsupported numbers (ignoring single digits) allowed per memento
    min_judge_score: float = 8.0
    judge: str | None = None             # re-judge with this teacher instead of reading judge_scores
    tokenizer: str | None = None         # None: the rows' own tokenizer column, else cl100k_base
    recount: bool = False                # count block tokens even where block_tokens is recorded
    checks: tuple[str, ...] = ()         # only these checks or groups (empty: all)
    skip: tuple[str, ...] = ()
    severity: tuple[tuple[str, str], ...] = ()   # (check, level) overrides
    _levels: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_block_tokens is not None and self.max_block_tokens < self.min_block_tokens:
            raise ConfigError(f"--max-block-tokens {self.max_block_tokens} is below --min-block-tokens {self.min_block_tokens}")
        if not 0 < self.max_ratio <= self.max_memento_share:
            raise ConfigError(f"--max-ratio {self.max_ratio} must be above 0 and at most --max-memento-share {self.max_memento_share}")
        if not 0 <= self.ratio_low <= self.ratio_high:
            raise ConfigError(f"--ratio-low {self.ratio_low} and --ratio-high {self.ratio_high} do not make a band")
        enabled = _select(self.checks, "--checks") if self.checks else set(CHECK_NAMES)
        enabled -= _select(self.skip, "--skip-check")
        levels = {spec.name: spec.severity for spec in CHECKS if spec.name in enabled}
        for name, level in self.severity:
            if level not in LEVELS:
                raise ConfigError(f"--severity {name}={level}: unknown level", "use error or warning")
            for chosen in _select((name,), "--severity"):
                if chosen in levels:
                    levels[chosen] = level
        object.__setattr__(self, "_levels", levels)

    def severity_of(self, check: str) -> str | None:
        """The level of an enabled check, or None when it does not run."""
        return self._levels.get(check)

    def as_dict(self) -> dict:
        return {
            "min_block_tokens": self.min_block_tokens, "max_block_tokens": self.max_block_tokens,
            "max_ratio": self.max_ratio, "max_memento_share": self.max_memento_share,
            "ratio_low": self.ratio_low, "ratio_high": self.ratio_high,
            "min_number_recall": self.min_number_recall, "recall_min_numbers": self.recall_min_numbers,
            "max_unsupported": self.max_unsupported, "min_judge_score": self.min_judge_score,
            "judge": self.judge, "tokenizer": self.tokenizer, "recount": self.recount,
            "severities": dict(self._levels),
        }
