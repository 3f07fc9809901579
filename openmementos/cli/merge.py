"""``openmementos merge``: the outputs of ``segment --shard I/N`` on N machines -> one dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..merge import merge_outputs
from . import app, hints


@app.command()
def merge(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Folder for the merged dataset.")],
    parts: Annotated[list[Path], typer.Argument(metavar="PART_DIR...", help="The --out folders of the segment --shard I/N runs.")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace what OUT holds from another run or merge.")] = False,
    json_summary: Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary.")] = False,
) -> None:
    """Combine the outputs of N 'segment --shard I/N' runs into one dataset; refuse overlapping or missing partitions.

    OUT receives data/, full/, rejects/, quarantine/ and manifest.json, like a segment output. Each PART_DIR is the
    --out folder of one 'segment --shard I/N' run, finished, all with the same options: together exactly 0/N ... N-1/N.
    Merging the same parts into OUT again does nothing.
    """
    summary = merge_outputs(parts, out, overwrite=overwrite)
    if json_summary:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
        return
    console = Console(stderr=True)
    if summary.already_complete:
        console.print(f"nothing to do: {out} already holds this merge ({summary.kept} rows)")
    else:
        console.print(
            f"merged {summary.parts} parts: {summary.kept} rows kept of {summary.input_rows} input rows, "
            f"{summary.shards} data shards ({summary.files_copied} files copied)"
        )
    typer.echo(f"merged dataset in {out.resolve()} (data/ and full/; manifest.json)")
    typer.echo(hints.after_merge(out))
