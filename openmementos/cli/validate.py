"""``openmementos validate``: check every record before anyone trains on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ..errors import ConfigError
from ..validate import CHECKS, ValidateConfig, ValidateJob, ValidationSummary
from ..validate import Progress as ValidateProgress
from ..validate import validate as run_validate
from . import app, hints

_CHECKS = "Checks and thresholds"
_INPUT = "Input"
_OUTPUT = "Output"
_D = ValidateConfig()

_EPILOG = "Checks (severity; threshold options): " + "; ".join(
    f"{spec.name} ({spec.severity}{'; ' + spec.option if spec.option else ''})" for spec in CHECKS
) + ". Exit codes: 0 all records pass (or the pass rate reaches --min-pass-rate), 1 checks failed, 2 could not run."


def _severities(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        name, sep, level = value.partition("=")
        if not sep:
            raise ConfigError(f"--severity {value}: expected NAME=LEVEL", "e.g. --severity sizes.ratio=error")
        pairs.append((name.strip(), level.strip()))
    return tuple(pairs)


def _names(values: list[str]) -> tuple[str, ...]:
    return tuple(n.strip() for value in values for n in value.split(",") if n.strip())


class _Bar(ValidateProgress):
    def __init__(self, console: Console) -> None:
        self.progress = Progress(SpinnerColumn(), TextColumn("[bold]validate"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.fields[failed]}"), console=console, transient=True)
        self.failed = 0

    def start(self, total: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("validate", total=total, failed="")

    def advance(self, records: int, failed: int) -> None:
        self.failed += failed
        self.progress.update(self.task, advance=records, failed=f"[red]failed {self.failed}")

    def stop(self) -> None:
        self.progress.stop()


def _q(dist: dict | None, key: str = "median", digits: int = 0) -> str:
    if not dist:
        return "-"
    return f"{dist[key]:,.{digits}f}"


def _spread(dist: dict | None, digits: int = 0) -> str:
    if not dist:
        return "-"
    return f"{dist['median']:,.{digits}f} ({dist['p10']:,.{digits}f}-{dist['p90']:,.{digits}f})"


def _render(console: Console, summary: ValidationSummary, config: ValidateConfig, worst: int) -> None:
    data = summary.as_dict()
    head = Table(title="validate summary", header_style="bold")
    head.add_column("what")
    head.add_column("value", justify="right")
    head.add_row("records", f"{data['records']:,}")
    head.add_row("[green]passed", f"{data['passed']:,}")
    head.add_row("[red]failed", f"{data['failed']:,}")
    head.add_row("[yellow]with warnings", f"{data['with_warnings']:,}")
    head.add_row("pass rate", f"{data['pass_rate']:.1%}")
    pooled = data["compression"]["pooled"]
    if pooled is not None:
        low, high = data["compression"]["paper_band"]
        style = "" if low <= pooled <= high else "[yellow]"
        head.add_row("compression (pooled)", f"{style}{pooled:.3f} (paper: {low:.2f}-{high:.2f})")
    head.add_row("records/s", f"{data['records_per_second']:,.0f}")
    console.print(head)

    checks = Table(title="checks", header_style="bold")
    for column in ("check", "severity", "failed records", "warned records", "findings", "not judged"):
        checks.add_column(column, justify="left" if column in ("check", "severity") else "right")
    for spec in CHECKS:
        level = config.severity_of(spec.name)
        row = data["checks"][spec.name]
        style = "red" if row["failed_records"] else "yellow" if row["warned_records"] else ""
        checks.add_row(f"[{style}]{spec.name}" if style else spec.name, level or "off", f"{row['failed_records']:,}",
                       f"{row['warned_records']:,}", f"{row['findings']:,}", f"{row['not_judged']:,}")
    console.print(checks)

    domains = Table(title="distributions by domain: median (p10-p90)", header_style="bold")
    for column in ("domain", "records", "pass rate", "blocks/trace", "tokens/block", "tokens/memento", "memento/block", "compression"):
        domains.add_column(column, justify="left" if column == "domain" else "right")
    for name, d in data["domains"].items():
        domains.add_row(name, f"{d['records']:,}", f"{d['pass_rate']:.1%}", _spread(d["blocks_per_trace"]), _spread(d["tokens_per_block"]),
                        _spread(d["tokens_per_memento"]), _spread(d["ratio"], 2), _spread(d["compression"], 2))
    console.print(domains)

    if data["worst"][:worst]:
        bad = Table(title="worst examples", header_style="bold")
        for column in ("record", "checks", "reason"):
            bad.add_column(column, overflow="fold")
        for example in data["worst"][:worst]:
            bad.add_row(example["origin"], ", ".join(example["checks"]), example["reason"])
        console.print(bad)
    integrity = data["integrity"]
    for problem in integrity["problems"]:
        console.print(f"[red]manifest.integrity[/]: {problem}")
    if integrity["shards_checked"] and not integrity["problems"]:
        console.print(f"manifest.json: {integrity['shards_checked']} shards match their sha256 and row counts")


@app.command(epilog=_EPILOG)
def validate(
    path: Annotated[Path, typer.Argument(help="A segment output folder (data/, full/, manifest.json), an OpenMementos Parquet or JSONL file, or a folder of them.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout instead of the tables and the verdict line (the exit code is the same).", rich_help_panel=_OUTPUT)] = False,
    report_path: Annotated[Optional[Path], typer.Option("--report", help="Write the full report here as JSON: the summary and every record's results.", rich_help_panel=_OUTPUT)] = None,
    write_passing: Annotated[Optional[Path], typer.Option(help="Write the passing rows here as shards in the same layout and schema; failing rows go to rejects/ with their reasons.", rich_help_panel=_OUTPUT)] = None,
    min_pass_rate: Annotated[float, typer.Option(help="Exit 0 when at least this share of records passes (and the manifest matches).", min=0.0, max=1.0, rich_help_panel=_OUTPUT)] = 1.0,
    worst: Annotated[int, typer.Option(help="How many of the worst records to show.", min=0, rich_help_panel=_OUTPUT)] = 10,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the verdict line.", rich_help_panel=_OUTPUT)] = False,
    config_name: Annotated[str, typer.Option("--config", help="Which config of a segment folder to read: auto (full/ when present), full, or default (data/: blocks and mementos parsed from response).", rich_help_panel=_INPUT)] = "auto",
    workers: Annotated[int, typer.Option(help="Worker processes; 0 uses every core.", min=0, rich_help_panel=_INPUT)] = 0,
    tokenizer: Annotated[Optional[str], typer.Option(help="Count tokens with 'cl100k_base', 'o200k_base' or a tokenizer.json; default: the rows' own tokenizer column, else cl100k_base.", rich_help_panel=_INPUT)] = None,
    recount: Annotated[bool, typer.Option("--recount", help="Count block tokens even where segment recorded them.", rich_help_panel=_INPUT)] = False,
    min_block_tokens: Annotated[int, typer.Option(help="sizes.block_tokens: smallest block, in tokens.", min=0, rich_help_panel=_CHECKS)] = _D.min_block_tokens,
    max_block_tokens: Annotated[Optional[int], typer.Option(help="sizes.block_tokens: largest block, in tokens (no limit by default).", min=1, rich_help_panel=_CHECKS)] = None,
    max_ratio: Annotated[float, typer.Option(help="sizes.ratio: warn about a memento above this share of its block's characters.", min=0.0, rich_help_panel=_CHECKS)] = _D.max_ratio,
    max_memento_share: Annotated[float, typer.Option(help="sizes.inflated: fail a memento above this share of its block's characters (a paraphrase, not a summary).", min=0.0, rich_help_panel=_CHECKS)] = _D.max_memento_share,
    ratio_low: Annotated[float, typer.Option(help="sizes.compression: low end of the band for one trace's memento/block tokens (the data set's pooled value is reported against the paper's 0.10-0.25).", min=0.0, rich_help_panel=_CHECKS)] = _D.ratio_low,
    ratio_high: Annotated[float, typer.Option(help="sizes.compression: high end of the band for one trace.", min=0.0, rich_help_panel=_CHECKS)] = _D.ratio_high,
    min_number_recall: Annotated[float, typer.Option(help="faithfulness.recall: least share of a block's numbers (final value counted twice) its memento must state.", min=0.0, max=1.0, rich_help_panel=_CHECKS)] = _D.min_number_recall,
    recall_min_numbers: Annotated[int, typer.Option(help="faithfulness.recall: judge only blocks with at least this many distinct numbers (single digits ignored).", min=1, rich_help_panel=_CHECKS)] = _D.recall_min_numbers,
    max_unsupported: Annotated[int, typer.Option(help="faithfulness.hallucination: numbers a memento may state that appear nowhere before it.", min=0, rich_help_panel=_CHECKS)] = _D.max_unsupported,
    min_judge_score: Annotated[float, typer.Option(help="judge.min_score: least final judge score (out of 10) of every memento.", min=0.0, max=10.0, rich_help_panel=_CHECKS)] = _D.min_judge_score,
    judge: Annotated[Optional[str], typer.Option(help="Re-judge every memento with this teacher ('heuristic' or 'openai:MODEL') instead of reading judge_scores.", rich_help_panel=_CHECKS)] = None,
    checks: Annotated[list[str], typer.Option("--checks", help="Run only these checks or groups (repeat or comma-separate), e.g. --checks structure,faithfulness.lookahead.", rich_help_panel=_CHECKS)] = [],  # noqa: B006
    skip_check: Annotated[list[str], typer.Option("--skip-check", help="Do not run this check or group (repeatable).", rich_help_panel=_CHECKS)] = [],  # noqa: B006
    severity: Annotated[list[str], typer.Option("--severity", help="Change a check's level: NAME=error or NAME=warning (repeatable), e.g. sizes.ratio=error.", rich_help_panel=_CHECKS)] = [],  # noqa: B006
) -> None:
    """Check OpenMementos records (structure, sizes, faithfulness, style, judge scores) and explain every rejection.

    PATH is a segment output folder (data/, full/, manifest.json), an OpenMementos Parquet or JSONL file, or a folder of them.
    """
    config = ValidateConfig(
        min_block_tokens=min_block_tokens, max_block_tokens=max_block_tokens, max_ratio=max_ratio,
        max_memento_share=max_memento_share, ratio_low=ratio_low,
        ratio_high=ratio_high, min_number_recall=min_number_recall, recall_min_numbers=recall_min_numbers,
        max_unsupported=max_unsupported, min_judge_score=min_judge_score, judge=judge, tokenizer=tokenizer, recount=recount,
        checks=_names(checks), skip=_names(skip_check), severity=_severities(severity),
    )
    job = ValidateJob(path, config, config_name, report_path, write_passing, workers, min_pass_rate)
    console, errors = Console(), Console(stderr=True)
    summary = run_validate(job, _Bar(errors) if errors.is_terminal and not quiet else None)
    if as_json:
        typer.echo(json.dumps({**summary.as_dict(), "exit_code": summary.exit_code,
                               "report": str(report_path) if report_path else None,
                               "write_passing": str(write_passing) if write_passing else None}, indent=2))
        raise typer.Exit(summary.exit_code)
    if not quiet:
        _render(console, summary, config, worst)
    report = summary.report
    verdict = "PASS" if summary.ok else "FAIL"
    integrity = f", {len(report.integrity)} manifest problem(s)" if report.integrity else ""
    typer.echo(f"{verdict}: {report.passed:,} of {report.records:,} records pass ({report.pass_rate:.1%}, "
               f"--min-pass-rate {min_pass_rate:g}){integrity}")
    if report_path:
        typer.echo(f"report written to {report_path}")
    if write_passing:
        typer.echo(f"passing rows written to {write_passing} (failing rows in rejects/)")
    if not quiet and summary.exit_code != 2:
        typer.echo(hints.after_validate(path, summary.ok, write_passing))
    raise typer.Exit(summary.exit_code)
