"""``openmementos stats``: tables by domain from either config, and readable Figure 3 histograms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from openmementos import format as fmt
from openmementos.hub.stats import by_domain, load, summary
from openmementos.pipeline import SegmentJob, run_segment
from openmementos.shards import DEFAULT_SCHEMA


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("seg") / "shards"
    run_segment(SegmentJob(input="sample", out=out, workers=1))
    return out


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", "openmementos.cli", "stats", *args], capture_output=True, text=True, env=env)


def test_full_uses_the_recorded_token_counts_and_parses_characters_from_response(shards):
    stats = load(shards)
    full = pl.read_parquet(shards / "full" / "*.parquet")
    assert stats.config == "full" and stats.tokenizer == "recorded by segment" and stats.unparsed == 0
    assert stats.blocks["block_tokens"].to_list() == full["block_tokens"].explode().to_list()
    assert stats.blocks["memento_tokens"].to_list() == full["memento_tokens"].explode().to_list()
    first = fmt.parse(full["response"][0])
    assert stats.blocks.filter(pl.col("trace") == 0)["block_chars"].to_list() == [len(b) for b in first.blocks]
    assert stats.blocks.filter(pl.col("trace") == 0)["memento_chars"].to_list() == [len(m) for m in first.mementos]


def test_default_alone_gives_the_same_traces_and_characters_and_counts_tokens_itself(shards):
    full, default = load(shards), load(shards, config="default")
    assert default.config == "default" and default.tokenizer == "cl100k_base"
    assert default.traces.equals(full.traces)
    columns = ["domain", "trace", "block", "block_chars", "memento_chars"]
    assert default.blocks.select(columns).equals(full.blocks.select(columns))
    # a block counted alone differs from the sum of its sentences' counts by a few tokens at most
    gap = (default.blocks["block_tokens"] - full.blocks["block_tokens"]).abs()
    assert gap.max() <= 0.05 * full.blocks["block_tokens"].max()


def test_by_domain_counts_examples_and_states_quartiles(shards):
    stats = load(shards)
    table = by_domain(stats)
    domains = pl.read_parquet(shards / "data" / "*.parquet")["domain"].value_counts()
    expected = dict(zip(domains["domain"].to_list(), domains["count"].to_list()))
    rows = {r["domain"]: r for r in table.to_dicts()}
    assert table["domain"].to_list() == ["math", "code", "science", "all"]
    assert {d: rows[d]["examples"] for d in expected} == expected and rows["all"]["examples"] == sum(expected.values())
    assert sum(rows[d]["share"] for d in expected) == pytest.approx(1.0)
    math_blocks = stats.blocks.filter(pl.col("domain") == "math")["block_tokens"].to_numpy()
    assert rows["math"]["block_tokens_median"] == pytest.approx(np.median(math_blocks))
    assert rows["math"]["block_tokens_q1"] == pytest.approx(np.quantile(math_blocks, 0.25))
    assert rows["math"]["block_tokens_q3"] == pytest.approx(np.quantile(math_blocks, 0.75))
    ratios = stats.blocks.filter(pl.col("domain") == "code")
    assert rows["code"]["ratio_chars_median"] == pytest.approx(np.median(ratios["memento_chars"] / ratios["block_chars"]))


def test_rows_not_in_memento_format_are_counted_and_left_out(tmp_path):
    good = fmt.render(["We need x with 2x + 3 = 11, so x = 4."], ["2x + 3 = 11 => x = 4."], "\n\n**4**")
    rows = [{"problem": "p", "response": good, "domain": "math", "source": "s", "difficulty": 1},
            {"problem": "p", "response": good.replace(fmt.BLOCK_END, "", 1), "domain": "math", "source": "s", "difficulty": 1}]
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(rows, schema=DEFAULT_SCHEMA), tmp_path / "x.parquet")
    stats = load(tmp_path / "x.parquet")
    assert stats.unparsed == 1 and stats.traces.height == 1 and summary(stats)["unparsed"] == 1


def test_the_four_histograms_have_titles_axes_and_a_legend_entry_per_domain(shards):
    plots = pytest.importorskip("openmementos.hub.plots", reason="matplotlib is not installed (pip install '.[hub]')")
    PANELS, histograms = plots.PANELS, plots.histograms
    stats = load(shards)
    figures = histograms(stats)
    assert list(figures) == ["blocks_per_sample", "block_size", "summary_size", "compression_ratio"]
    for panel in PANELS:
        ax = figures[panel.name].axes[0]
        assert ax.get_title() == panel.title and ax.get_xlabel().startswith(panel.xlabel) and ax.get_ylabel()
        labels = [t.get_text() for t in ax.get_legend().get_texts() if not t.get_text().startswith("target band")]
        assert [label.split(" ")[0] for label in labels] == ["math", "code", "science"]
        assert all("median" in label and "n=" in label for label in labels)


def _stats_with(blocks_per_trace: dict[str, list[int]], ratio: float = 0.4):
    """ShardStats whose domains have the given blocks per trace (every block 400 tokens)."""
    import polars as pl

    from openmementos.hub.stats import ShardStats

    traces = [(domain, f"{domain}-{i}", n) for domain, counts in blocks_per_trace.items() for i, n in enumerate(counts)]
    blocks = [(domain, trace, b, 400, int(400 * ratio), 1600, int(1600 * ratio), ratio, ratio)
              for domain, trace, n in traces for b in range(n)]
    return ShardStats(
        blocks=pl.DataFrame(blocks, schema=["domain", "trace", "block", "block_tokens", "memento_tokens", "block_chars",
                                            "memento_chars", "ratio_tokens", "ratio_chars"], orient="row"),
        traces=pl.DataFrame(traces, schema=["domain", "trace", "blocks"], orient="row"),
        config="full", tokenizer="recorded by segment", files=(), unparsed=0)


def test_the_compression_panel_shades_the_band_validate_reports():
    plots = pytest.importorskip("openmementos.hub.plots", reason="matplotlib is not installed (pip install '.[hub]')")
    from openmementos.validate.report import PAPER_BAND

    ax = plots.histograms(_stats_with({"math": [3, 4], "code": [2]}, ratio=0.45))["compression_ratio"].axes[0]
    band = [p for p in ax.patches if str(p.get_label()).startswith("target band")]
    assert len(band) == 1
    xs = band[0].get_path().transformed(band[0].get_patch_transform()).vertices[:, 0]
    low, high = PAPER_BAND
    assert np.isclose(xs.min(), low) and np.isclose(xs.max(), high)
    assert ax.get_xlim()[0] <= low and ax.get_xlim()[1] >= 0.45   # the band is in view even when the data are not in it
    assert "target band 0.10-0.25 (validate: pooled)" in [t.get_text() for t in ax.get_legend().get_texts()]
    others = plots.histograms(_stats_with({"math": [3, 4]}))
    assert not [p for name in ("blocks_per_sample", "block_size") for p in others[name].axes[0].patches
                if str(p.get_label()).startswith("target band")]


def test_coinciding_medians_keep_every_colour_and_a_label_each_and_fills_are_light():
    plots = pytest.importorskip("openmementos.hub.plots", reason="matplotlib is not installed (pip install '.[hub]')")
    from matplotlib.colors import to_hex

    # every domain's median is 4 blocks
    ax = plots.histograms(_stats_with({"math": [3, 4, 5], "code": [4, 4, 6], "science": [2, 4, 9]}))["blocks_per_sample"].axes[0]
    medians = [line for line in ax.lines if list(line.get_xdata()) == [4, 4]]
    assert sorted(to_hex(line.get_color()) for line in medians) == sorted(plots.COLORS.values())
    offsets = {line._unscaled_dash_pattern[0] for line in medians}   # (offset, dashes): no public getter
    assert len(offsets) == 3   # interleaved dashes: each colour shows between the others'
    labels = [t for t in ax.texts if t.get_text() == "4"]
    assert len(labels) == 3 and len({t.xyann[1] for t in labels}) == 3   # stacked, not drawn over each other
    fills = [p for p in ax.patches if p.get_fill() and not str(p.get_label()).startswith("target band")]
    assert fills and all(p.get_alpha() <= 0.15 for p in fills)


def test_the_command_prints_tables_and_writes_readable_pngs(shards, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install '.[hub]')")
    result = cli(str(shards), "--png", str(tmp_path / "png"))
    assert result.returncode == 0, result.stderr
    for text in ("by domain", "math", "code", "science", "tokens per block", "memento/block (chars)", "median (first-third quartile)"):
        assert text in result.stdout, text
    from PIL import Image

    assert result.stdout.splitlines()[-1] == f"next: openmementos push-to-hub {shards} NAMESPACE/NAME --dry-run"
    names = ["blocks_per_sample", "block_size", "summary_size", "compression_ratio", "figure3"]
    for name in names:
        path = tmp_path / "png" / f"{name}.png"
        assert f"wrote {path}" in result.stdout
        with Image.open(path) as image:
            width, height = image.size
            assert width >= 800 and height >= 500
            assert len(np.unique(np.asarray(image.convert("L")))) > 20   # not a blank canvas


def test_the_command_reads_a_data_folder_as_json(shards):
    result = cli(str(shards / "data"), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["config"] == "default" and data["examples"] == 34 and [d["domain"] for d in data["domains"]][-1] == "all"


def test_a_missing_folder_is_one_line_and_a_hint(tmp_path):
    result = cli(str(tmp_path / "nope"))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and lines[0].startswith("error: ") and "does not exist" in lines[0] and lines[1].startswith("hint: ")


def test_help_snapshot():
    result = cli("--help")
    assert result.returncode == 0 and "--png" in result.stdout and "--config" in result.stdout
    snapshot = Path(__file__).parent / "snapshots" / "stats_help.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.write_text(result.stdout)
    assert result.stdout == snapshot.read_text(), "stats --help changed: review it, then UPDATE_SNAPSHOTS=1"
