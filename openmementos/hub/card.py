"""The dataset card: YAML front matter the Hub reads, then what the dataset is and how it was made.

The card is a pure function of the shards, the validation report and the manifests: no date, no
local path, no token. Pushing the same dataset twice therefore uploads the same ``README.md``,
and the Hub sees nothing new. The Markdown skeleton is ``card_template.md`` beside this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import pyarrow.parquet as pq

from .. import __version__
from ..format import FormatError, parse, render
from .layout import ConfigFiles
from .markdown import fence, table
from .provenance import Provenance
from .provenance_md import provenance_markdown
from .stats import ShardStats, by_domain

TEMPLATE = Path(__file__).with_name("card_template.md")
EXAMPLE_BLOCK_CHARS = 240
EXAMPLE_MEMENTO_CHARS = 160
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"))


@dataclass(frozen=True)
class CardOptions:
    license: str = "mit"
    pretty_name: str | None = None          # default: the repo name
    language: tuple[str, ...] = ("en",)


@dataclass(frozen=True)
class CardFacts:
    """Everything the card states, gathered before rendering."""

    repo_id: str
    configs: list[ConfigFiles]
    stats: ShardStats
    validation: dict[str, Any]              # ValidationSummary.as_dict()
    validate_config: dict[str, Any]         # ValidateConfig.as_dict()
    provenance: Provenance
    forced: tuple[str, ...] = ()            # the problems --force overrode (empty: none)
    example: dict[str, Any] | None = None   # a row: problem, response, domain


def size_category(rows: int) -> str:
    return next((name for bound, name in SIZE_CATEGORIES if rows < bound), "n>1T")


def features_yaml(config: ConfigFiles) -> list[dict[str, Any]]:
    """The config's columns as the ``features`` list of the Hub's YAML (``datasets``' own rendering)."""
    from datasets import Features

    return Features.from_arrow_schema(config.schema)._to_yaml_list()


def front_matter(facts: CardFacts, options: CardOptions) -> dict[str, Any]:
    default = next(c for c in facts.configs if c.name == "default")
    meta: dict[str, Any] = {
        "license": options.license,
        "language": list(options.language),
        "task_categories": ["text-generation"],
        "tags": ["reasoning", "chain-of-thought", "memento", "openmementos", "synthetic"],
        "size_categories": [size_category(default.rows)],
        "pretty_name": options.pretty_name or facts.repo_id.split("/")[-1],
    }
    source = facts.provenance.config.get("input") or {}
    if source.get("kind") == "hub" and source.get("hub_id"):
        meta["source_datasets"] = [source["hub_id"]]
    meta["configs"] = [
        {"config_name": c.name, **({"default": True} if c.name == "default" else {}), "data_files": [{"split": "train", "path": c.pattern}]}
        for c in facts.configs
    ]
    meta["dataset_info"] = [
        {"config_name": c.name, "features": features_yaml(c), "splits": [{"name": "train", "num_bytes": c.num_bytes, "num_examples": c.rows}],
         "download_size": c.download_size, "dataset_size": c.num_bytes}
        for c in facts.configs
    ]
    return meta


def _shorten(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + " […]"


def pick_example(config: ConfigFiles, root: Path, scan: int = 256) -> dict[str, Any] | None:
    """The first of the first ``scan`` rows with the fewest blocks (at least two when any has two)."""
    shard = pq.ParquetFile(root / config.files[0])
    batch = next(shard.iter_batches(batch_size=scan, columns=["problem", "response", "domain"]), None)
    best, best_key = None, None
    for row in batch.to_pylist() if batch is not None else []:
        try:
            blocks = len(parse(row["response"] or "").blocks)
        except FormatError:
            continue
        key = (blocks < 2, blocks)
        if best_key is None or key < best_key:
            best, best_key = row, key
    return best


def example_markdown(row: dict[str, Any] | None) -> tuple[str, str, str]:
    """(markdown, domain, blocks) of one record, its texts shortened, rendered by the format module."""
    if row is None:
        return "(no record in memento format to show)", "-", "0"
    parsed = parse(row["response"])
    shown = render([_shorten(b, EXAMPLE_BLOCK_CHARS) for b in parsed.blocks],
                   [_shorten(m, EXAMPLE_MEMENTO_CHARS) for m in parsed.mementos], "\n\n" + _shorten(parsed.answer, EXAMPLE_MEMENTO_CHARS))
    problem = _shorten(row["problem"] or "", EXAMPLE_BLOCK_CHARS)
    text = f"**problem**: {problem}\n\n**response**:\n\n{fence(shown)}"
    return text, row.get("domain") or "-", str(len(parsed.blocks))


def _spread(row: dict[str, Any], name: str, digits: int = 0) -> str:
    q1, median, q3 = row.get(f"{name}_q1"), row.get(f"{name}_median"), row.get(f"{name}_q3")
    if median is None:
        return "-"
    return f"{median:,.{digits}f} ({q1:,.{digits}f}–{q3:,.{digits}f})"


def counts_markdown(facts: CardFacts) -> str:
    domains = facts.validation.get("domains") or {}
    rows = []
    for row in by_domain(facts.stats).to_dicts():
        checked = domains.get(row["domain"]) if row["domain"] != "all" else {"pass_rate": facts.validation.get("pass_rate")}
        rate = f"{checked['pass_rate']:.1%}" if checked and checked.get("pass_rate") is not None else "-"
        rows.append([row["domain"], f"{row['examples']:,}", f"{row['share']:.1%}", rate])
    note = f"\n\n{facts.stats.unparsed:,} rows whose `response` is not in memento format are left out of these tables." if facts.stats.unparsed else ""
    return table(["domain", "examples", "share", "validation pass rate"], rows) + note


def sizes_markdown(facts: CardFacts) -> str:
    stats = facts.stats
    rows = by_domain(stats).to_dicts()
    tokens = table(
        ["domain", "blocks per trace", "tokens per block", "mean", "tokens per memento", "mean", "memento / block (tokens)"],
        [[r["domain"], _spread(r, "blocks", 1), _spread(r, "block_tokens"), f"{r['block_tokens_mean'] or 0:,.0f}",
          _spread(r, "memento_tokens"), f"{r['memento_tokens_mean'] or 0:,.0f}", _spread(r, "ratio_tokens", 2)] for r in rows],
    )
    chars = table(
        ["domain", "characters per block", "characters per memento", "memento / block (characters)"],
        [[r["domain"], _spread(r, "block_chars"), _spread(r, "memento_chars"), _spread(r, "ratio_chars", 2)] for r in rows],
    )
    source = "recorded by `segment`" if stats.tokenizer == "recorded by segment" else f"counted with `{stats.tokenizer}`"
    tokenizer = facts.provenance.tokenizer
    return (f"Median (first–third quartile) per domain, from the `{stats.config}` config: {stats.traces.height:,} traces, "
            f"{stats.blocks.height:,} blocks. Token counts are {source}"
            f"{f' (tokenizer `{tokenizer}`)' if tokenizer and source.startswith('recorded') else ''}; ratios are per block.\n\n"
            f"{tokens}\n\n{chars}")


def validation_markdown(facts: CardFacts) -> str:
    v = facts.validation
    lines = [(f"Every record was checked with `openmementos validate` (structure, sizes, faithfulness, style, judge scores) "
              f"before upload: **{v.get('passed', 0):,} of {v.get('records', 0):,} records pass ({v.get('pass_rate', 0):.1%})**; "
              f"the push required at least {v.get('min_pass_rate', 1.0):.0%}.")]
    failing = [[name, f"{c['failed_records']:,}", f"{c['warned_records']:,}"] for name, c in (v.get("checks") or {}).items()
               if c.get("failed_records") or c.get("warned_records")]
    lines.append(table(["check", "failed records", "warned records"], failing) if failing else "No check failed or warned on any record.")
    integrity = v.get("integrity") or {}
    if integrity.get("problems"):
        lines.append("`manifest.json` integrity problems:\n\n" + "\n".join(f"- {p}" for p in integrity["problems"]))
    elif integrity.get("shards_checked"):
        lines.append(f"`manifest.json`: all {integrity['shards_checked']} shards listed match their sha256 and row counts.")
    if facts.forced:
        lines.append("**Pushed with `--force`** despite:\n\n" + "\n".join(f"- {p}" for p in facts.forced))
    return "\n\n".join(lines)


def configs_markdown(facts: CardFacts) -> str:
    about = {"default": "`problem`, `response`, `domain`, `source`, `difficulty`",
             "full": "the same, plus `sentences`, `blocks`, `block_summaries` and the provenance columns of each row"}
    return table(["config", "files", "rows", "columns"],
                 [[f"`{c.name}`", f"`{c.pattern}` ({len(c.files)})", f"{c.rows:,}", about.get(c.name, "")] for c in facts.configs])


def render_card(facts: CardFacts, options: CardOptions = CardOptions()) -> str:
    """The card as Markdown with YAML front matter: same facts in, same bytes out."""
    import yaml

    title = options.pretty_name or facts.repo_id.split("/")[-1]
    notice = ""
    if facts.forced:
        notice = (f"> **Warning**: pushed with `--force` although it fails validation ({len(facts.forced)} problem(s)); "
                  "see [Validation](#validation).\n\n")
    example, domain, blocks = example_markdown(facts.example)
    values = {
        "front_matter": yaml.safe_dump(front_matter(facts, options), sort_keys=False, allow_unicode=True, width=1000),
        "title": title,
        "notice": notice,
        "repo_id": facts.repo_id,
        "configs": configs_markdown(facts),
        "example": example,
        "example_domain": domain,
        "example_blocks": blocks,
        "counts": counts_markdown(facts),
        "sizes": sizes_markdown(facts),
        "validation": validation_markdown(facts),
        "provenance": provenance_markdown(facts.provenance, facts.validate_config, __version__),
    }
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(values)
