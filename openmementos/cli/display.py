"""Progress bars and summary tables for the terminal (rich).

One rate everywhere: traces/s is the input rows this run consumed over the seconds since it
began reading them. The bar, its ETA and the summary table all use it (``RunSummary.traces_per_second``).
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn
from rich.table import Column, Table
from rich.text import Text

from ..pipeline import Reporter, RunSummary


def _rate(task) -> float | None:
    elapsed = task.elapsed
    return task.completed / elapsed if elapsed and task.completed else None


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        rate = _rate(task)
        return Text(f"{rate:,.1f} traces/s" if rate else "- traces/s", style="progress.data.speed")


class _EtaColumn(ProgressColumn):
    """Time left at the rate shown beside it (rich's own ETA averages a different window)."""

    def render(self, task) -> Text:
        rate = _rate(task)
        if task.total is None or not rate:
            return Text("ETA -:--:--", style="progress.remaining")
        seconds = int(max(0.0, task.total - task.completed) / rate)
        return Text(f"ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}", style="progress.remaining")


class _Progress(Progress):
    """A progress bar with a live line under it (the LLM teacher's requests, tokens and spend)."""

    def __init__(self, *columns, below=None, **options) -> None:
        self.below = below   # before super().__init__, which renders once
        super().__init__(*columns, **options)

    def get_renderables(self):
        yield from super().get_renderables()
        line = self.below() if self.below is not None else None
        if line is not None:
            yield line


def compact(number: float) -> str:
    """1,234 / 12.3K / 4.56M: token counts that stay readable on one line."""
    if number < 10_000:
        return f"{number:,.0f}"
    if number < 1_000_000:
        return f"{number / 1e3:,.1f}K"
    return f"{number / 1e6:,.2f}M"


def models_of(teacher: Any) -> dict[str, str]:
    """Role -> model of an LLM teacher (empty for the offline one)."""
    try:
        roles = teacher.describe().get("roles") or {}
    except Exception:
        return {}
    return {role: config.get("model", "") for role, config in roles.items() if isinstance(config, dict)}


def _model_label(models: dict[str, str]) -> str:
    distinct = sorted(set(models.values()))
    if len(distinct) <= 1:
        return distinct[0] if distinct else ""
    return ", ".join(f"{role} {model}" for role, model in models.items())


class TeacherMeter:
    """The LLM teacher's live figures, read from its ledger: requests/s, tokens in and out,
    spend so far and the projected total (spend per input row so far x the rows in the input)."""

    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger
        self.started = time.monotonic()
        self.requests_before = self._totals()["requests"]

    def _totals(self) -> dict[str, Any]:
        roles = self.ledger.as_dict()["roles"].values()
        return {key: sum(r[key] for r in roles) for key in ("requests", "cache_hits", "failed_requests", "input_tokens", "output_tokens")} | {
            "cost": sum(r["cost_usd"] for r in roles), "unpriced": any(r["unpriced"] for r in roles)}

    def line(self, rows_done: int, rows_total: int | None) -> Text:
        totals = self._totals()
        elapsed = max(1e-9, time.monotonic() - self.started)
        per_second = (totals["requests"] - self.requests_before) / elapsed
        parts = [f"{totals['requests']:,} requests ({per_second:,.1f}/s)"]
        if totals["cache_hits"]:
            parts.append(f"{totals['cache_hits']:,} cached")
        if totals["failed_requests"]:
            parts.append(f"{totals['failed_requests']:,} failed")
        parts.append(f"tokens {compact(totals['input_tokens'])} in / {compact(totals['output_tokens'])} out")
        if totals["unpriced"] and not totals["cost"]:
            parts.append("cost unknown: no price for the model (--prices FILE)")
        else:
            parts.append(f"${totals['cost']:,.2f} spent" + (" + unpriced" if totals["unpriced"] else ""))
            if rows_total and rows_done:
                parts.append(f"${totals['cost'] * rows_total / rows_done:,.2f} projected")
        return Text("  " + " · ".join(parts), style="dim")


class ProgressReporter(Reporter):
    """A rich progress bar: traces/s, ETA, kept / skipped / failed counts, and for an LLM
    teacher the model in the header and a live line of requests, tokens and spend."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.counts = [0, 0, 0]
        self.meter: TeacherMeter | None = None
        self.models: dict[str, str] = {}
        self.resumed_from = 0
        self.total: int | None = None
        self.progress = _Progress(
            SpinnerColumn(),
            TextColumn("[bold]segment"),
            BarColumn(bar_width=None),
            MofNCompleteColumn(),
            _RateColumn(table_column=Column(no_wrap=True)),
            _EtaColumn(table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[counts]}", table_column=Column(no_wrap=True)),
            console=console,
            transient=False,
            below=self._teacher_line,
        )
        self.task = None

    def _label(self) -> str:
        kept, skipped, failed = self.counts
        return f"[green]kept {kept}[/] [yellow]skipped {skipped}[/] [red]failed {failed}[/]"

    def watch(self, teacher: Any) -> None:
        ledger = getattr(teacher, "ledger", None)
        self.meter = TeacherMeter(ledger) if ledger is not None else None
        self.models = models_of(teacher)

    def _teacher_line(self) -> Text | None:
        if self.meter is None or self.task is None:
            return None
        done = self.progress.tasks[0].completed
        return self.meter.line(self.resumed_from + done, self.total)

    def start(self, total: int | None, resumed_from: int, teacher: str) -> None:
        if teacher == "heuristic":
            self.console.print("teacher: heuristic (offline, deterministic: no API key, no network)")
        else:
            label = _model_label(self.models)
            self.console.print(f"teacher: {teacher}" + (f" · model {label}" if label else ""))
        if resumed_from:
            self.console.print(f"resuming after input row {resumed_from} (finished shards are kept)")
        self.resumed_from, self.total = resumed_from, total
        remaining = None if total is None else max(0, total - resumed_from)
        self.progress.start()
        self.task = self.progress.add_task("", total=remaining, counts=self._label())

    def advance(self, kept: int, skipped: int, failed: int) -> None:
        for i, n in enumerate((kept, skipped, failed)):
            self.counts[i] += n
        self.progress.update(self.task, advance=kept + skipped + failed, counts=self._label())

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop_task(self.task)   # the rate's clock stops where the run's does
        self.progress.stop()


def summary_table(summary: RunSummary) -> Table:
    table = Table(title="segment summary", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("input rows", f"{summary.input_rows:,}")
    table.add_row("[green]kept (annotated)", f"{summary.kept:,}")
    table.add_row("[red]failed (internal errors)", f"{summary.failed:,}")
    table.add_row("[red]quarantined (teacher failed; --retry-quarantine)", f"{summary.quarantined:,}")
    for reason, count in sorted(summary.skips.items()):
        table.add_row(f"[yellow]skipped: {reason}", f"{count:,}")
    if summary.ignored:   # every file of the input folder that was not read, by name
        table.add_row("[yellow]input files not read (other suffix, or hidden): " + ", ".join(summary.ignored),
                      f"{len(summary.ignored):,}")
    table.add_row("shards (per config)", f"{summary.shards:,}")
    if summary.traces_per_second:
        table.add_row("traces/s (rows this run / seconds reading them)", f"{summary.traces_per_second:,.1f}")
    if summary.cost:
        roles = summary.cost.get("roles") or {}
        requests = sum(r["requests"] for r in roles.values())
        hits = sum(r["cache_hits"] for r in roles.values())
        table.add_row("teacher requests" + (" (+ cache hits)" if hits else ""), f"{requests:,}" + (f" (+{hits:,})" if hits else ""))
        table.add_row("tokens in / out", f"{compact(sum(r['input_tokens'] for r in roles.values()))} / "
                                         f"{compact(sum(r['output_tokens'] for r in roles.values()))}")
        unpriced = [role for role, r in roles.items() if r["unpriced"]]
        cost = f"${summary.cost.get('total_cost_usd', 0):,.4f}"
        table.add_row("cost (USD)" + (f"; no price for {', '.join(unpriced)}" if unpriced else ""), cost)
    return table
