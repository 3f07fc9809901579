"""Statistics of OpenMementos shards by domain, computed with polars.

Works from either config. ``full`` shards carry the token counts ``segment`` recorded
(``block_tokens``, ``memento_tokens``); from ``default`` alone, ``response`` is parsed with
:func:`openmementos.format.parse` and each block and memento is counted with the tokenizer
(slower: prefer ``full`` for large datasets). Characters always come from the parsed response,
so both configs give the same character statistics.

    >>> stats = load("shards/")                                     # doctest: +SKIP
    >>> by_domain(stats).select("domain", "examples", "blocks_median")  # doctest: +SKIP
    shape: (4, 3)   math 12 9.0 / code 10 8.5 / science 12 7.0 / all 34 8.0
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from ..errors import InputError
from ..format import FormatError, parse
from ..tokens import TIKTOKEN_NAMES, TokenCounter, make_counter

QUANTILES = {"q1": 0.25, "median": 0.5, "q3": 0.75}
# Per-trace and per-block measures, in the order tables show them.
TRACE_MEASURES = ("blocks",)
BLOCK_MEASURES = ("block_tokens", "memento_tokens", "block_chars", "memento_chars", "ratio_tokens", "ratio_chars")
DOMAIN_ORDER = ("math", "code", "science")
ALL = "all"
_BATCH = 512


@dataclass(frozen=True)
class ShardStats:
    """One row per block and one row per trace, ready for polars aggregation and plots."""

    blocks: pl.DataFrame      # domain, trace, block, block_tokens, memento_tokens, block_chars, memento_chars, ratio_tokens, ratio_chars
    traces: pl.DataFrame      # domain, trace, blocks
    config: str               # the config read: "full" or "default"
    tokenizer: str            # what counted the tokens ("recorded by segment" for full)
    files: tuple[str, ...]
    unparsed: int             # rows whose response is not memento format (left out of every table)

    @property
    def domains(self) -> list[str]:
        present = set(self.traces["domain"].to_list())
        return [d for d in DOMAIN_ORDER if d in present] + sorted(present - set(DOMAIN_ORDER))


def find_shards(path: str | Path, config: str = "auto") -> tuple[str, list[Path]]:
    """``(config, parquet files)`` for a segment output folder, a folder of shards or one file."""
    path = Path(path)
    if config not in ("auto", "full", "default"):
        raise InputError(f"unknown config {config!r}", "use auto, full or default")
    if not path.exists():
        raise InputError(f"{path} does not exist", "pass a segment output folder (data/, full/) or a Parquet file")
    if path.is_file():
        return ("full" if "block_tokens" in pq.read_schema(path).names else "default"), [path]
    wanted = {"auto": ("full", "data"), "full": ("full",), "default": ("data",)}[config]
    for folder in wanted:
        files = sorted((path / folder).glob("*.parquet"))
        if files:
            return ("full" if folder == "full" else "default"), files
    files = sorted(p for p in path.glob("*.parquet") if not p.name.startswith("."))
    if not files:
        raise InputError(f"no Parquet shards under {path}", "pass a segment output folder (data/, full/) or a folder of shards")
    return ("full" if "block_tokens" in pq.read_schema(files[0]).names else "default"), files


def _rows(files: list[Path], columns: list[str]) -> Iterator[dict[str, Any]]:
    for file in files:
        for batch in pq.ParquetFile(file).iter_batches(batch_size=_BATCH, columns=columns):
            data = batch.to_pydict()
            yield from (dict(zip(data, values)) for values in zip(*data.values()))


def _manifest_tokenizer(path: Path) -> str | None:
    manifest = path / "manifest.json" if path.is_dir() else path.parent.parent / "manifest.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("tokenizer")
    except (OSError, ValueError, AttributeError):
        return None


def load(path: str | Path, config: str = "auto", tokenizer: str | None = None) -> ShardStats:
    """Read the shards under ``path`` into per-block and per-trace frames.

    ``tokenizer`` counts tokens when they were not recorded (the ``default`` config): default the
    manifest's tiktoken encoding, else ``cl100k_base``.
    """
    chosen, files = find_shards(path, config)
    recorded = chosen == "full" and tokenizer is None
    counter: TokenCounter | None = None
    if not recorded:
        spec = tokenizer or (name if (name := _manifest_tokenizer(Path(path))) in TIKTOKEN_NAMES else None)
        counter = make_counter(spec)
    columns = ["domain", "response"] + (["block_tokens", "memento_tokens"] if recorded else [])
    block_rows: dict[str, list] = {k: [] for k in ("domain", "trace", "block", "block_tokens", "memento_tokens", "block_chars", "memento_chars")}
    trace_rows: dict[str, list] = {"domain": [], "trace": [], "blocks": []}
    unparsed = 0
    for trace, row in enumerate(_rows(files, columns)):
        try:
            parsed = parse(row["response"] or "")
        except FormatError:
            unparsed += 1
            continue
        n = len(parsed.blocks)
        tokens = (row.get("block_tokens"), row.get("memento_tokens"))
        if not recorded or len(tokens[0] or []) != n or len(tokens[1] or []) != n:
            counter = counter or make_counter(None)
            counts = counter.count_many(list(parsed.blocks) + list(parsed.mementos))
            tokens = (counts[:n], counts[n:])
        domain = row["domain"] or "(none)"
        trace_rows["domain"].append(domain)
        trace_rows["trace"].append(trace)
        trace_rows["blocks"].append(n)
        for i, (block, memento) in enumerate(zip(parsed.blocks, parsed.mementos)):
            for key, value in (("domain", domain), ("trace", trace), ("block", i), ("block_tokens", tokens[0][i]),
                               ("memento_tokens", tokens[1][i]), ("block_chars", len(block)), ("memento_chars", len(memento))):
                block_rows[key].append(value)
    blocks = pl.DataFrame(block_rows, schema={"domain": pl.String, "trace": pl.Int64, "block": pl.Int64, "block_tokens": pl.Int64,
                                              "memento_tokens": pl.Int64, "block_chars": pl.Int64, "memento_chars": pl.Int64})
    blocks = blocks.with_columns(
        ratio_tokens=pl.when(pl.col("block_tokens") > 0).then(pl.col("memento_tokens") / pl.col("block_tokens")),
        ratio_chars=pl.when(pl.col("block_chars") > 0).then(pl.col("memento_chars") / pl.col("block_chars")),
    )
    traces = pl.DataFrame(trace_rows, schema={"domain": pl.String, "trace": pl.Int64, "blocks": pl.Int64})
    return ShardStats(blocks, traces, chosen, "recorded by segment" if recorded else counter.name, tuple(str(f) for f in files), unparsed)


def _aggregations(columns: tuple[str, ...]) -> list[pl.Expr]:
    exprs: list[pl.Expr] = []
    for column in columns:
        exprs += [pl.col(column).quantile(q, "linear").alias(f"{column}_{name}") for name, q in QUANTILES.items()]
        exprs.append(pl.col(column).mean().alias(f"{column}_mean"))
    return exprs


def by_domain(stats: ShardStats) -> pl.DataFrame:
    """One row per domain, then ``all``: examples, share, and q1/median/q3/mean of every measure.

    Columns: ``domain, examples, share, blocks_{q1,median,q3,mean}``, then the same four for each
    of ``block_tokens, memento_tokens, block_chars, memento_chars, ratio_tokens, ratio_chars``
    (ratios are memento / block, per block).
    """
    total = stats.traces.height
    per_trace = [pl.len().alias("examples"), *_aggregations(TRACE_MEASURES)]
    traces = pl.concat([
        stats.traces.group_by("domain").agg(per_trace),
        stats.traces.select(pl.lit(ALL).alias("domain"), *per_trace),
    ], how="vertical_relaxed")
    blocks = pl.concat([
        stats.blocks.group_by("domain").agg(_aggregations(BLOCK_MEASURES)),
        stats.blocks.select(pl.lit(ALL).alias("domain"), *_aggregations(BLOCK_MEASURES)),
    ], how="vertical_relaxed")
    order = {name: i for i, name in enumerate([*stats.domains, ALL])}
    table = traces.join(blocks, on="domain", how="left").with_columns(
        share=pl.col("examples") / max(total, 1),
        _order=pl.col("domain").replace_strict(order, default=len(order)),
    )
    return table.sort("_order").drop("_order").select("domain", "examples", "share", pl.exclude("domain", "examples", "share"))


def summary(stats: ShardStats) -> dict[str, Any]:
    """Everything ``openmementos stats --json`` prints: where the numbers come from and the table."""
    return {
        "config": stats.config,
        "tokenizer": stats.tokenizer,
        "files": list(stats.files),
        "examples": stats.traces.height,
        "blocks": stats.blocks.height,
        "unparsed": stats.unparsed,
        "domains": by_domain(stats).to_dicts(),
    }
