"""The dataset card: front matter the Hub and ``datasets`` read, and a body that states the facts."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from openmementos import __version__
from openmementos import format as fmt
from openmementos.hub.card import size_category
from openmementos.hub.provenance import Provenance, load_provenance
from openmementos.hub.provenance_md import provenance_markdown
from openmementos.hub.push import PushJob, prepare
from openmementos.hub.stats import by_domain, load
from openmementos.pipeline import SegmentJob, run_segment
from openmementos.validate import ValidateConfig, ValidateJob, validate


@pytest.fixture(scope="module")
def segmented(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("seg") / "shards"
    run_segment(SegmentJob(input="sample", out=out, workers=1))
    return out


@pytest.fixture(scope="module")
def passing(segmented, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pass") / "passing"
    validate(ValidateJob(segmented, write_passing=out, workers=1, min_pass_rate=0.0))
    return out


@pytest.fixture(scope="module")
def card(passing) -> str:
    return prepare(PushJob(passing, "someone/mementos", dry_run=True, workers=1)).card


def front(card: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert match, "the card must open with YAML front matter"
    return yaml.safe_load(match.group(1))


def section(card: str, title: str) -> str:
    return card.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_front_matter_has_what_the_hub_reads(card, passing):
    meta = front(card)
    assert meta["license"] == "mit" and meta["language"] == ["en"] and meta["task_categories"] == ["text-generation"]
    assert meta["size_categories"] == ["n<1K"] and meta["pretty_name"] == "mementos"
    assert meta["configs"] == [
        {"config_name": "default", "default": True, "data_files": [{"split": "train", "path": "data/train-*"}]},
        {"config_name": "full", "data_files": [{"split": "train", "path": "full/train-*"}]},
    ]
    info = {c["config_name"]: c for c in meta["dataset_info"]}
    kept = json.loads((passing / "manifest.json").read_text())["counts"]["kept"]
    assert info["default"]["splits"][0]["num_examples"] == info["full"]["splits"][0]["num_examples"] == kept
    assert [f["name"] for f in info["default"]["features"]] == ["problem", "response", "domain", "source", "difficulty"]
    features = {f["name"]: f for f in info["full"]["features"]}
    assert features["difficulty"] == {"name": "difficulty", "dtype": "int64"}
    assert features["blocks"] == {"name": "blocks", "list": {"list": "int64"}}
    assert features["block_summaries"] == {"name": "block_summaries", "list": "string"}


def test_size_categories_follow_the_hub_buckets():
    assert [size_category(n) for n in (0, 999, 1_000, 228_557, 2_000_000)] == ["n<1K", "n<1K", "1K<n<10K", "100K<n<1M", "1M<n<10M"]


def test_the_format_example_is_a_real_record_that_parses(card, passing):
    body = section(card, "The `response` format")
    response = re.search(r"```text\n(.*?)\n```", body, re.S).group(1)
    parsed = fmt.parse(response)
    assert len(parsed.blocks) >= 2 and all(m for m in parsed.mementos)
    assert "[…]" in response and "**problem**:" in body


def test_counts_by_domain_match_the_shards(card, passing):
    table = by_domain(load(passing))
    body = section(card, "Counts by domain")
    for row in table.to_dicts():
        assert f"| {row['domain']} | {row['examples']:,} | {row['share']:.1%} | 100.0% |" in body


def test_block_and_memento_statistics_are_stated_per_domain(card, passing):
    body = section(card, "Blocks and mementos")
    row = by_domain(load(passing)).row(0, named=True)
    assert f"| {row['domain']} | {row['blocks_median']:,.1f} ({row['blocks_q1']:,.1f}–{row['blocks_q3']:,.1f}) | " in body
    assert f"{row['block_tokens_median']:,.0f} ({row['block_tokens_q1']:,.0f}–{row['block_tokens_q3']:,.0f})" in body
    assert "characters per memento" in body and "Token counts are recorded by `segment` (tokenizer `cl100k_base`)" in body


def test_validation_states_the_pass_rate_and_the_manifest_check(card, passing):
    body = section(card, "Validation")
    kept = json.loads((passing / "manifest.json").read_text())["counts"]["kept"]
    assert f"**{kept} of {kept} records pass (100.0%)**" in body
    shards = sum(len(files) for files in json.loads((passing / "manifest.json").read_text())["shards"].values())
    assert shards >= 2 and f"`manifest.json`: all {shards} shards listed match their sha256 and row counts." in body
    assert "--force" not in card


def test_provenance_names_the_source_the_filter_the_teacher_prompts_thresholds_version_and_cost(card, segmented):
    body = section(card, "Provenance")
    manifest = json.loads((segmented / "manifest.json").read_text())
    sample = manifest["config"]["input"]["files"][0]
    assert f"`sample.jsonl`: {sample['size']:,} bytes, sha256 `{sample['sha256']}`" in body
    assert f"- Rows read: {manifest['counts']['input_rows']}; annotated: {manifest['counts']['kept']};" in body
    assert "- Filtered by `openmementos validate --write-passing`:" in body
    assert "400 to 32,000 tokens" in body
    for role in ("scorer", "compressor", "judge", "refiner"):
        assert f"| {role} | `heuristic` | rules=heuristic-rules-3 |" in body
    for name, digest in manifest["prompt_versions"].items():
        assert f"| `{name}` | `{digest}` |" in body
    assert "| segmentation.min_block_tokens | 200 |" in body and "| mementos.threshold | 8 |" in body
    assert "| validate.min_judge_score | 8 | checked before upload |" in body
    assert f"Built with `openmementos` {__version__} (run configuration hash `{manifest['config_hash']}`)" in body
    assert "No teacher calls were paid for" in body


def test_the_card_is_the_same_bytes_every_time_and_holds_no_local_path(passing, card):
    again = prepare(PushJob(passing, "someone/mementos", dry_run=True, workers=1)).card
    assert again == card
    assert str(passing.parent) not in card and "/tmp" not in card


def test_an_llm_run_shows_model_per_role_hub_source_sampling_and_the_cost_table():
    segment = {
        "version": "0.1.0", "config_hash": "abc123", "tokenizer": "o200k_base",
        "config": {
            "input": {"kind": "hub", "hub_id": "open-thoughts/OpenThoughts3-1.2M", "split": "train", "limit": 5000, "spec": "ot3"},
            "select": {"min_tokens": 400, "max_tokens": 32000, "reject_cjk": True},
            "sampling": {"domain_mix": {"math": 0.54, "code": 0.19, "science": 0.27}, "total": 1000, "seed": 7, "difficulty_mix": None},
            "mementos": {"threshold": 8.0, "max_rounds": 2, "target_ratio": 0.18},
        },
        "teacher": {"name": "openai:gpt-4.1-mini", "roles": {
            "scorer": {"model": "gpt-4.1-mini", "temperature": 0.0, "max_tokens": 1024, "reasoning_effort": None},
            "judge": {"model": "o4-mini", "temperature": 1.0, "max_tokens": 4096, "reasoning_effort": "low"}}},
        "prompt_versions": {"judge": "812f50f8e663"},
        "counts": {"input_rows": 5000, "kept": 1000, "failed": 2, "quarantined": 3, "skips": {"selection/too_long": 12}},
        "cost": {"roles": {
            "scorer": {"requests": 10, "cache_hits": 2, "input_tokens": 1000, "cached_tokens": 100, "output_tokens": 50, "cost_usd": 0.5},
            "judge": {"requests": 5, "cache_hits": 0, "input_tokens": 2000, "cached_tokens": 0, "output_tokens": 500, "cost_usd": 1.25}},
            "total_cost_usd": 1.75},
    }
    text = provenance_markdown(Provenance(segment, segment), ValidateConfig().as_dict(), "9.9.9")
    assert "[open-thoughts/OpenThoughts3-1.2M](https://huggingface.co/datasets/open-thoughts/OpenThoughts3-1.2M), split `train`; revision: not recorded" in text
    assert "first 5,000 rows" in text and "dropped at selection/too_long: 12" in text
    assert "Stratified sample of 1,000 traces: domain mix code=0.19, math=0.54, science=0.27, seed 7." in text
    assert "| judge | `o4-mini` | max_tokens=4096, reasoning_effort=low, temperature=1 |" in text
    assert "| scorer | `gpt-4.1-mini` | max_tokens=1024, temperature=0 |" in text
    assert "| **total** | 15 | 2 | 3,000 | 100 | 550 | $1.75 |" in text
    assert "validated and published with `openmementos` 9.9.9. Tokenizer: `o200k_base`." in text


def test_provenance_falls_back_to_the_row_columns_when_the_segment_run_is_gone(passing, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(passing, moved)
    manifest = json.loads((moved / "manifest.json").read_text())
    manifest["validated_from"] = str(tmp_path / "no-such-folder")
    (moved / "manifest.json").write_text(json.dumps(manifest))
    prov = load_provenance(moved)
    assert prov.segment is None and len(prov.filters) == 1
    assert prov.tokenizer == "cl100k_base" and prov.teacher_roles()["judge"]["model"] == "heuristic"
    text = provenance_markdown(prov, {}, __version__)
    assert "Source: not recorded" in text and "| `judge` |" in text
