"""``openmementos push-to-hub`` and ``openmementos stats``: publish shards, and describe them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..extras import require
from ..validate import ValidateConfig
from . import app, hints

_HUB = "Hub"
_CHECKS = "Checks before upload"
_CARD = "Dataset card"
_D = ValidateConfig()

_PUSH_EPILOG = (
    "The token comes from HF_TOKEN or the saved login (`hf auth login`); it is never printed or written. "
    "HF_ENDPOINT points at another Hub. Exit codes: 0 pushed (or nothing to push), 1 refused: the dataset fails "
    "validation or its manifest (nothing sent), 2 could not run (no token, no permission, invalid repo id, network down)."
)


@app.command("push-to-hub", epilog=_PUSH_EPILOG)
def push_to_hub(
    shards: Annotated[Path, typer.Argument(help="A folder written by segment or by validate --write-passing: data/, full/, manifest.json.")],
    repo_id: Annotated[str, typer.Argument(help="The dataset repo, NAMESPACE/NAME; created if it does not exist.")],
    private: Annotated[bool, typer.Option("--private", help="Create the repo private (an existing repo keeps its visibility).", rich_help_panel=_HUB)] = False,
    revision: Annotated[str, typer.Option(help="Branch to push to; created from main if missing.", rich_help_panel=_HUB)] = "main",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate, then list every file with its destination and print the card; no network call, no token needed.", rich_help_panel=_HUB)] = False,
    max_files_per_commit: Annotated[int, typer.Option(help="Files per commit (the Hub recommends under 100).", min=1, rich_help_panel=_HUB)] = 100,
    force: Annotated[bool, typer.Option("--force", help="Push even if validation or the manifest checksums fail; the card then says so.", rich_help_panel=_CHECKS)] = False,
    min_pass_rate: Annotated[float, typer.Option(help="Least share of records that must pass validation.", min=0.0, max=1.0, rich_help_panel=_CHECKS)] = 1.0,
    workers: Annotated[int, typer.Option(help="Validation worker processes; 0 uses every core.", min=0, rich_help_panel=_CHECKS)] = 0,
    min_block_tokens: Annotated[int, typer.Option(help="sizes.block_tokens: smallest block, in tokens.", min=0, rich_help_panel=_CHECKS)] = _D.min_block_tokens,
    min_judge_score: Annotated[float, typer.Option(help="judge.min_score: least final judge score (out of 10) of every memento.", min=0.0, max=10.0, rich_help_panel=_CHECKS)] = _D.min_judge_score,
    license: Annotated[str, typer.Option("--license", help="License id for the card's metadata (the source data's license binds too).", rich_help_panel=_CARD)] = "mit",
    pretty_name: Annotated[Optional[str], typer.Option(help="Title of the card; default: the repo name.", rich_help_panel=_CARD)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON (files, uploads, commits; the card under --dry-run).", rich_help_panel=_HUB)] = False,
) -> None:
    """Publish shards as a Hub dataset: configs default (data/) and full (full/), the card as README.md, and manifest.json.

    Validates first and refuses a dataset that fails; uploads only files the Hub does not hold yet (a second push sends nothing, an interrupted push resumes), in as few commits as the Hub recommends.
    """
    require("push-to-hub", "hub", "polars", "huggingface_hub")
    from ..hub.card import CardOptions
    from ..hub.push import PushJob
    from ..hub.push import push_to_hub as run_push

    config = ValidateConfig(min_block_tokens=min_block_tokens, min_judge_score=min_judge_score)
    job = PushJob(shards, repo_id, private=private, revision=revision, dry_run=dry_run, force=force, min_pass_rate=min_pass_rate,
                  validate=config, card=CardOptions(license=license, pretty_name=pretty_name), max_files_per_commit=max_files_per_commit,
                  workers=workers)
    say = (lambda message: None) if as_json else typer.echo
    result = run_push(job, say)
    if as_json:
        typer.echo(json.dumps({**result.as_dict(), **({"card": result.card} if dry_run else {})}, indent=2))
        return
    if dry_run:
        _print_plan(result)
        typer.echo(hints.after_push(shards, repo_id, True, result.url))
        return
    for note in result.notes:
        typer.echo(f"note: {note}")
    if result.commits:
        typer.echo(f"pushed to {result.url} (branch {result.revision}): {len(result.uploaded)} file(s) in {len(result.commits)} commit(s)"
                   + (f", {len(result.deleted)} stale file(s) deleted" if result.deleted else ""))
    else:
        typer.echo(f"up to date: {result.url} (branch {result.revision})")
    typer.echo(hints.after_push(shards, repo_id, False, result.url))


def _print_plan(result) -> None:
    width = max(len(str(f.local)) if f.local else 11 for f in result.files)
    dest = max(len(f.path) for f in result.files)
    typer.echo(f"dry run: nothing was sent. {len(result.files)} file(s) would go to datasets/{result.repo_id} "
               f"(branch {result.revision}, {result.url}):")
    for f in result.files:
        source = str(f.local) if f.local else "(generated)"
        typer.echo(f"  {source:<{width}}  ->  {f.path:<{dest}}  {f.size:>12,} bytes  sha256 {f.sha256[:12]}")
    typer.echo("\nREADME.md (the dataset card):\n")
    typer.echo(result.card)


_MEASURES = (("blocks per trace", "blocks", 0), ("tokens per block", "block_tokens", 0), ("tokens per memento", "memento_tokens", 0),
             ("chars per block", "block_chars", 0), ("chars per memento", "memento_chars", 0),
             ("memento/block (tokens)", "ratio_tokens", 2), ("memento/block (chars)", "ratio_chars", 2))
_MEANS = (("mean blocks per trace", "blocks", 2), ("mean tokens per block", "block_tokens", 0), ("mean tokens per memento", "memento_tokens", 0))


def _spread(row: dict, name: str, digits: int = 0) -> str:
    if row.get(f"{name}_median") is None:
        return "-"
    return f"{row[f'{name}_median']:,.{digits}f} ({row[f'{name}_q1']:,.{digits}f}-{row[f'{name}_q3']:,.{digits}f})"


@app.command()
def stats(
    shards: Annotated[Path, typer.Argument(help="A segment output folder (data/, full/), a folder of OpenMementos Parquet shards, or one shard.")],
    png: Annotated[Optional[Path], typer.Option("--png", help="Write the four histograms of the paper's Figure 3 (and figure3.png, all four) here as PNG.")] = None,
    config_name: Annotated[str, typer.Option("--config", help="Which config to read: auto (full/ when present: recorded token counts), full, or default (parse response and count tokens).")] = "auto",
    tokenizer: Annotated[Optional[str], typer.Option(help="Count tokens with this ('cl100k_base', 'o200k_base' or a tokenizer.json) when they are not recorded.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON instead of tables.")] = False,
) -> None:
    """Statistics by domain: examples, blocks per trace, block and memento sizes in tokens and characters, compression ratios (medians and quartiles)."""
    require("stats", "hub", "polars")
    if png is not None:
        require("stats --png", "hub", "matplotlib")
    from ..hub.stats import by_domain, load, summary
    from ..journal import unfinished_output
    from ..outputs import check_folder, writing

    if png is not None:
        check_folder(png, "--png")
    data = load(shards, config_name, tokenizer)
    if unfinished_output(shards):
        typer.echo(f"warning: {shards} has no manifest.json: the run that wrote it did not finish, "
                   "so these statistics may miss rows", err=True)
    paths = []
    if png is not None:
        from ..hub.plots import write_pngs
        with writing(png, "choose another --png folder"):
            paths = write_pngs(data, png)
    if as_json:
        typer.echo(json.dumps({**summary(data), "png": [str(p) for p in paths]}, indent=2))
        return
    rows = by_domain(data).to_dicts()
    table = Table(title=f"{data.traces.height:,} traces, {data.blocks.height:,} blocks ({data.config} config; tokens {data.tokenizer})",
                  caption="median (first-third quartile); ratios are memento / block, per block", header_style="bold")
    table.add_column("by domain")
    for r in rows:
        table.add_column(r["domain"], justify="right")
    table.add_row("examples", *(f"{r['examples']:,} ({r['share']:.0%})" for r in rows))
    for label, name, digits in _MEASURES:
        table.add_row(label, *(_spread(r, name, digits) for r in rows))
    for label, name, digits in _MEANS:
        table.add_row(label, *(f"{r[f'{name}_mean'] or 0:,.{digits}f}" for r in rows))
    Console().print(table)
    if data.unparsed:
        typer.echo(f"{data.unparsed:,} row(s) whose response is not memento format were left out")
    for path in paths:
        typer.echo(f"wrote {path}")
    typer.echo(hints.after_stats(shards))
