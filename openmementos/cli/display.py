"""Progress bars and summary tables for the terminal (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ..pipeline import Reporter, RunSummary


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} traces/s" if speed else "- traces/s", style="progress.data.speed")


class ProgressReporter(Reporter):
    """A rich progress bar: traces/s, ETA, and kept / skipped / failed counts."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.counts = [0, 0, 0]
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]segment"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[counts]}"),
            console=console,
            transient=False,
        )
        self.task = None

    def _label(self) -> str:
        kept, skipped, failed = self.counts
        return f"[green]kept {kept}[/] [yellow]skipped {skipped}[/] [red]failed {failed}[/]"

    def start(self, total: int | None, resumed_from: int, teacher: str) -> None:
        if teacher == "heuristic":
            self.console.print("teacher: heuristic (offline, deterministic: no API key, no network)")
        else:
            self.console.print(f"teacher: {teacher}")
        if resumed_from:
            self.console.print(f"resuming after input row {resumed_from} (finished shards are kept)")
        remaining = None if total is None else max(0, total - resumed_from)
        self.progress.start()
        self.task = self.progress.add_task("segment", total=remaining, counts=self._label())

    def advance(self, kept: int, skipped: int, failed: int) -> None:
        for i, n in enumerate((kept, skipped, failed)):
            self.counts[i] += n
        self.progress.update(self.task, advance=kept + skipped + failed, counts=self._label())

    def stop(self) -> None:
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
    if summary.seconds:
        table.add_row("traces/s", f"{summary.input_rows / summary.seconds:,.1f}")
    return table
