"""The four histograms of the MEMENTO paper's Figure 3, by domain, as matplotlib figures.

Blocks per sample, block size, memento (summary) size and compression ratio. Each domain is
normalised to its own count (the y axis is a share of that domain's traces or blocks), so domains
of different sizes compare by shape; light fills under a coloured outline keep overlapping
domains apart. A dashed line marks each domain's median, with its value in a label at the top;
the dashes of the domains interleave, so medians that coincide still show every colour. The
compression panel shades the paper's target band for a data set (0.10-0.25), against which
``validate`` reports the pooled compression (single traces are flagged only outside 0.05-0.35). Figures are built without pyplot, so this works in any thread and never opens a window.

    >>> paths = write_pngs(load("shards/"), Path("plots/"))        # doctest: +SKIP
    [plots/blocks_per_sample.png, plots/block_size.png, plots/summary_size.png, plots/compression_ratio.png, plots/figure3.png]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..validate.report import PAPER_BAND
from .stats import ShardStats

COLORS = {"math": "#1f77b4", "code": "#ff7f0e", "science": "#2ca02c"}
_OTHER_COLORS = ("#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
CLIP_QUANTILE = 0.995     # long tails go into the last bin, so the body of the distribution stays readable
FILL_ALPHA = 0.12         # light enough that two or three overlapping domains stay legible
BAND = PAPER_BAND   # the paper's target compression for a data set; validate reports the pooled value against it


@dataclass(frozen=True)
class Panel:
    name: str          # file stem
    title: str
    xlabel: str
    unit: str          # what one count is: "traces" or "blocks"
    frame: str         # "traces" or "blocks"
    column: str
    discrete: bool = False


PANELS = (
    Panel("blocks_per_sample", "Blocks per sample", "blocks in the trace", "traces", "traces", "blocks", discrete=True),
    Panel("block_size", "Block size", "block size (tokens)", "blocks", "blocks", "block_tokens"),
    Panel("summary_size", "Memento (summary) size", "memento size (tokens)", "blocks", "blocks", "memento_tokens"),
    Panel("compression_ratio", "Compression ratio", "memento tokens / block tokens", "blocks", "blocks", "ratio_tokens"),
)


def domain_colors(domains: list[str]) -> dict[str, str]:
    others = iter(_OTHER_COLORS * (len(domains) // len(_OTHER_COLORS) + 1))
    return {d: COLORS.get(d) or next(others) for d in domains}


def _bins(values: np.ndarray, discrete: bool) -> tuple[np.ndarray, float | None]:
    """Shared bin edges for every domain, and the clip point if a long tail was folded in."""
    if discrete:
        low, high = int(values.min()), int(values.max())
        return np.arange(low, high + 2) - 0.5, None
    top = float(np.quantile(values, CLIP_QUANTILE))
    clip = top if top < values.max() else None
    low = float(values.min())
    return np.histogram_bin_edges(values, bins=30, range=(low, max(top, low + 1e-9))), clip


def draw(ax: Axes, stats: ShardStats, panel: Panel) -> None:
    """One histogram on ``ax``: a filled step per domain, its median dashed, a legend with n and median."""
    frame = getattr(stats, panel.frame).drop_nulls(panel.column)
    everything = frame[panel.column].to_numpy().astype(float)
    ax.set_title(panel.title, fontsize=12, fontweight="bold")
    ax.set_ylabel(f"share of {panel.unit} in the domain")
    if everything.size == 0:
        ax.set_xlabel(panel.xlabel)
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return
    edges, clip = _bins(everything, panel.discrete)
    colors = domain_colors(stats.domains)
    ratio = panel.column.startswith("ratio")
    if ratio:
        ax.axvspan(*BAND, color="0.55", alpha=0.15, zorder=0, linewidth=0,
                   label=f"target band {BAND[0]:.2f}-{BAND[1]:.2f} (validate: pooled)")
    shown_domains = [d for d in stats.domains if (frame["domain"] == d).any()]
    dash = 4.0
    for slot, domain in enumerate(shown_domains):
        values = frame.filter(frame["domain"] == domain)[panel.column].to_numpy().astype(float)
        shown = np.minimum(values, clip) if clip is not None else values
        weights = np.full(values.size, 1.0 / values.size)
        median = float(np.median(values))
        text = f"{median:,.2f}" if ratio else f"{median:,.0f}"
        label = f"{domain} (n={values.size:,} {panel.unit}, median {text})"
        ax.hist(shown, bins=edges, weights=weights, histtype="stepfilled", alpha=FILL_ALPHA, color=colors[domain])
        ax.hist(shown, bins=edges, weights=weights, histtype="step", linewidth=1.8, color=colors[domain], label=label)
        # each domain's dashes start where the one before's end: coinciding medians alternate colours
        pattern = (slot * dash, (dash, dash * (len(shown_domains) - 1) or dash))
        ax.axvline(median, color=colors[domain], linestyle=pattern, linewidth=1.6)
        # the median's value on a label of its own height, so labels of coinciding medians do not overlap
        ax.annotate(text, xy=(median, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12 - 12 * slot),
                    textcoords="offset points", fontsize=8, color=colors[domain], fontweight="bold",
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    ax.set_xlabel(panel.xlabel + (f"  (last bin: \u2265 {clip:,.2f})" if clip is not None and panel.column.startswith("ratio")
                                  else f"  (last bin: \u2265 {clip:,.0f})" if clip is not None else ""))
    if panel.discrete:
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="best", title="domain (dashed: median)", title_fontsize=8, framealpha=0.9)


def histograms(stats: ShardStats) -> dict[str, Figure]:
    """The four histograms, one figure each, keyed by file stem."""
    figures = {}
    for panel in PANELS:
        figure = Figure(figsize=(7.5, 4.8), dpi=110, layout="constrained")
        draw(figure.add_subplot(), stats, panel)
        figures[panel.name] = figure
    return figures


def figure3(stats: ShardStats) -> Figure:
    """All four histograms on one 2x2 figure, titled like the paper's Figure 3."""
    figure = Figure(figsize=(14, 9), dpi=100, layout="constrained")
    for ax, panel in zip(figure.subplots(2, 2).flat, PANELS):
        draw(ax, stats, panel)
    figure.suptitle(f"OpenMementos statistics by domain ({stats.traces.height:,} traces, {stats.blocks.height:,} blocks; "
                    f"config {stats.config})", fontsize=14)
    return figure


def write_pngs(stats: ShardStats, out: Path) -> list[Path]:
    """Write the four histograms and the combined ``figure3.png`` to ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in [*histograms(stats).items(), ("figure3", figure3(stats))]:
        path = out / f"{name}.png"
        figure.savefig(path)
        paths.append(path)
    return paths
