"""The card's Provenance section: source, selection, teacher per role, prompts, thresholds, cost.

Only what the manifests recorded is stated; what they lack is said to be unrecorded, never
guessed. Local paths are not published: local inputs are named by file name, size and hash.
"""

from __future__ import annotations

from typing import Any

from .markdown import table
from .provenance import Provenance

# (config section, setting, what it means) for the thresholds table, in pipeline order.
THRESHOLDS = (
    ("sentences", "min_tokens", "sentences shorter than this merge into a neighbour"),
    ("scoring", "window", "sentences per boundary-scoring window (first pass)"),
    ("scoring", "second_window", "sentences per window (second pass, averaged with the first)"),
    ("scoring", "context", "sentences of context around each window"),
    ("segmentation", "min_block_tokens", "smallest block, in tokens"),
    ("segmentation", "max_block_tokens", "largest block, in tokens"),
    ("segmentation", "lam", "lambda: weight of the block-size CV against the mean cut score"),
    ("segmentation", "min_blocks", "fewest blocks per trace"),
    ("segmentation", "max_blocks", "most blocks per trace"),
    ("mementos", "threshold", "judge score (of 10) below which a memento is refined"),
    ("mementos", "max_rounds", "refinement rounds at most"),
    ("mementos", "target_ratio", "memento length asked for, as a share of the block"),
)
VALIDATE_THRESHOLDS = ("min_block_tokens", "max_block_tokens", "max_ratio", "ratio_low", "ratio_high", "min_number_recall",
                       "recall_min_numbers", "max_unsupported", "min_judge_score", "judge")


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_value(v)}" for k, v in sorted(value.items())) or "none"
    return str(value)


def source_markdown(prov: Provenance) -> str:
    source = prov.config.get("input")
    if not source:
        return "- Source: not recorded (no segment manifest was found for these shards)."
    kind = source.get("kind")
    if kind == "hub":
        hub_id = source.get("hub_id")
        what = (f"[{hub_id}](https://huggingface.co/datasets/{hub_id}), split `{source.get('split')}`; revision: not recorded "
                "(the dataset's default branch when the run streamed it)")
    elif kind == "sample":
        what = "the sample traces bundled with `openmementos`"
    else:
        what = "local files"
    lines = [f"- Source dataset: {what}" + (f", first {source['limit']:,} rows" if source.get("limit") else "") + "."]
    for file in source.get("files") or []:
        digest = f"sha256 `{file['sha256']}`" if file.get("sha256") else "sha256 not recorded"
        lines.append(f"  - `{file['path']}`: {file.get('size', 0):,} bytes, {digest}")
    counts = (prov.segment or {}).get("counts") or {}
    if counts:
        lines.append(f"- Rows read: {counts.get('input_rows', 0):,}; annotated: {counts.get('kept', 0):,}; "
                     f"failed: {counts.get('failed', 0):,}; quarantined (teacher failed): {counts.get('quarantined', 0):,}.")
        for reason, count in sorted((counts.get("skips") or {}).items()):
            lines.append(f"  - dropped at {reason}: {count:,}")
    for step in prov.filters:
        rate = f" ({step['pass_rate']:.1%})" if isinstance(step.get("pass_rate"), (int, float)) else ""
        lines.append(f"- Filtered by `openmementos validate --write-passing`: {step.get('kept', 0):,} of "
                     f"{step.get('input_rows', 0):,} rows kept{rate}; thresholds: {_value(_thresholds(step.get('validate_config') or {}))}.")
    return "\n".join(lines)


def _thresholds(config: dict[str, Any]) -> dict[str, Any]:
    return {k: config[k] for k in VALIDATE_THRESHOLDS if k in config}


def selection_markdown(prov: Provenance) -> str:
    config = prov.config
    select = config.get("select")
    if not select:
        return "Not recorded."
    lines = [(f"- Traces kept when their thinking has {select.get('min_tokens', 0):,} to {select.get('max_tokens', 0):,} tokens, "
              f"a closed thinking section{', and no CJK text' if select.get('reject_cjk') else ''}.")]
    sampling = config.get("sampling")
    if sampling:
        lines.append(f"- Stratified sample of {sampling.get('total', 0):,} traces: domain mix {_value(sampling.get('domain_mix'))}"
                     + (f", difficulty mix {_value(sampling['difficulty_mix'])}" if sampling.get("difficulty_mix") else "")
                     + f", seed {sampling.get('seed')}.")
    else:
        lines.append("- No sampling: every selected trace was annotated.")
    if config.get("partition"):
        part = config["partition"]
        lines.append(f"- Partition {part.get('index')}/{part.get('count')} of the input (rows whose position modulo "
                     f"{part.get('count')} is {part.get('index')}).")
    return "\n".join(lines)


def teacher_markdown(prov: Provenance) -> str:
    rows = []
    for role, detail in prov.teacher_roles().items():
        settings = {k: v for k, v in detail.items() if k != "model" and v is not None}
        rows.append([role, f"`{detail.get('model')}`", _value(settings) if settings else "-"])
    return table(["role", "teacher model", "settings"], rows)


def prompts_markdown(prov: Provenance) -> str:
    versions = prov.prompt_versions
    if not versions:
        return "Not recorded."
    return table(["prompt", "content hash (sha256, first 12)"], [[f"`{name}`", f"`{h}`"] for name, h in sorted(versions.items())])


def thresholds_markdown(prov: Provenance, validate_config: dict[str, Any]) -> str:
    config = prov.config
    rows = [[f"{section}.{name}", _value(config[section][name]), meaning]
            for section, name, meaning in THRESHOLDS if name in (config.get(section) or {})]
    rows += [[f"validate.{name}", _value(validate_config[name]), "checked before upload"]
             for name in VALIDATE_THRESHOLDS if name in validate_config]
    return table(["setting", "value", "meaning"], rows)


def cost_markdown(prov: Provenance) -> str:
    cost = prov.cost
    teacher = ((prov.segment or {}).get("teacher") or {}).get("name") or prov.rows.get("teacher")
    if not cost or not cost.get("roles"):
        if teacher == "heuristic":
            return "No teacher calls were paid for: the offline heuristic teacher made every annotation."
        return "Not recorded."
    rows = [[role, f"{u.get('requests', 0):,}", f"{u.get('cache_hits', 0):,}", f"{u.get('input_tokens', 0):,}",
             f"{u.get('cached_tokens', 0):,}", f"{u.get('output_tokens', 0):,}",
             "unpriced" if u.get("unpriced") else f"${u.get('cost_usd', 0):,.2f}"] for role, u in sorted(cost["roles"].items())]
    totals = [sum((u.get(k) or 0) for u in cost["roles"].values()) for k in ("requests", "cache_hits", "input_tokens", "cached_tokens", "output_tokens")]
    rows.append(["**total**", *(f"{t:,}" for t in totals), f"${cost.get('total_cost_usd', 0):,.2f}"])
    return table(["role", "requests", "cache hits", "input tokens", "cached input tokens", "output tokens", "cost (USD)"], rows)


def provenance_markdown(prov: Provenance, validate_config: dict[str, Any], version: str) -> str:
    built = (prov.segment or {}).get("version") or "not recorded"
    config_hash = (prov.segment or {}).get("config_hash")
    toolkit = (f"Built with `openmementos` {built}" + (f" (run configuration hash `{config_hash}`)" if config_hash else "")
               + f"; validated and published with `openmementos` {version}. Tokenizer: `{prov.tokenizer or 'not recorded'}`.")
    return "\n\n".join([
        "### Source\n\n" + source_markdown(prov),
        "### Selection rules\n\n" + selection_markdown(prov),
        "### Teacher model per role\n\n" + teacher_markdown(prov),
        "### Prompts\n\n" + prompts_markdown(prov),
        "### Thresholds\n\n" + thresholds_markdown(prov, validate_config),
        "### Toolkit\n\n" + toolkit,
        "### Cost and tokens spent\n\n" + cost_markdown(prov),
    ])
