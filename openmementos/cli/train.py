"""``openmementos train-sft``: the two-stage MEMENTO SFT recipe on OpenMementos shards.

Imports torch, transformers and TRL only inside the command, so ``openmementos --help`` and the
core package work without the ``train`` extra.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..errors import ConfigError
from ..extras import require
from ..train.config import SFTRecipe, help_text, load_recipe
from . import app, hints

_RUN = "Run"
_RECIPE = "Recipe (paper defaults; also settable in --config YAML)"
_MASK = "Stage-2 memento mask"
_D = SFTRecipe()


def _h(name: str) -> str:
    default = getattr(_D, name)
    return f"{help_text(name)} [default: {'auto' if default is None else default}]"


def _require_train_extra() -> None:
    require("train-sft", "train", "torch", "transformers", "trl", "accelerate", "yaml")


def _table(result) -> Table:
    card = result.card
    data, metrics = card["data"], card["metrics"]
    table = Table(title=f"stage {result.stage} ({card['attention']} attention)", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("rows read", f"{data['rows']:,}")
    table.add_row("[green]rows trained on", f"{data['kept']:,}")
    for reason, count in data["skips"].items():
        table.add_row(f"[yellow]skipped: {reason}", f"{count:,}")
    table.add_row("truncated to --max-length", f"{data['truncated']:,} ({data['truncated_tokens']:,} tokens cut)")
    table.add_row("optimiser steps", f"{metrics['global_step']:,}")
    if metrics["first_loss"] is not None:
        table.add_row("loss (first -> last log)", f"{metrics['first_loss']:.4f} -> {metrics['last_loss']:.4f}")
    table.add_row("seconds", f"{metrics['seconds']:,.1f}")
    table.add_row("saved to", str(result.final))
    return table


@app.command("train-sft")
def train_sft(
    data: Annotated[list[str], typer.Option("--data", "-d", help="Shards to train on: a segment output folder (its data/ shards), a folder of .parquet files, or a file. Repeat for several.", rich_help_panel=_RUN)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: stage1/ and stage2/ with checkpoints, final/ models and run cards.", rich_help_panel=_RUN)] = Path("runs/memento-sft"),
    stage: Annotated[str, typer.Option(help="'1' (causal attention, from --model), '2' (memento mask, from --init) or 'both' (2 starts from 1's final model).", rich_help_panel=_RUN)] = "both",
    model: Annotated[Optional[str], typer.Option(help="Stage 1's base model: a local folder with config.json and weights (e.g. a Qwen3 snapshot).", rich_help_panel=_RUN)] = None,
    init: Annotated[Optional[str], typer.Option(help="Stage 2's starting model, for --stage 2: a stage-1 final folder.", rich_help_panel=_RUN)] = None,
    tokenizer: Annotated[Optional[str], typer.Option(help="Tokenizer folder, if not the model's own.", rich_help_panel=_RUN)] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML file of recipe fields (the names below with underscores); options given here win.", rich_help_panel=_RUN)] = None,
    limit: Annotated[Optional[int], typer.Option(help="Train on the first N rows only (smoke runs).", min=1, rich_help_panel=_RUN)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint (finished stages are kept).", rich_help_panel=_RUN)] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Delete what --out holds for these stages and start again.", rich_help_panel=_RUN)] = False,
    json_summary: Annotated[bool, typer.Option("--json", help="Print the run cards as JSON instead of tables.", rich_help_panel=_RUN)] = False,
    learning_rate: Annotated[Optional[float], typer.Option("--lr", "--learning-rate", help=_h("learning_rate"), rich_help_panel=_RECIPE)] = None,
    lr_scheduler: Annotated[Optional[str], typer.Option(help=_h("lr_scheduler"), rich_help_panel=_RECIPE)] = None,
    warmup_ratio: Annotated[Optional[float], typer.Option(help=_h("warmup_ratio"), rich_help_panel=_RECIPE)] = None,
    adam_beta1: Annotated[Optional[float], typer.Option(help=_h("adam_beta1"), rich_help_panel=_RECIPE)] = None,
    adam_beta2: Annotated[Optional[float], typer.Option(help=_h("adam_beta2"), rich_help_panel=_RECIPE)] = None,
    weight_decay: Annotated[Optional[float], typer.Option(help=_h("weight_decay"), rich_help_panel=_RECIPE)] = None,
    max_grad_norm: Annotated[Optional[float], typer.Option(help=_h("max_grad_norm"), rich_help_panel=_RECIPE)] = None,
    epochs: Annotated[Optional[float], typer.Option(help=_h("epochs"), rich_help_panel=_RECIPE)] = None,
    max_steps: Annotated[Optional[int], typer.Option(help=_h("max_steps"), rich_help_panel=_RECIPE)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help=_h("batch_size"), rich_help_panel=_RECIPE)] = None,
    grad_accum: Annotated[Optional[int], typer.Option(help=_h("grad_accum"), rich_help_panel=_RECIPE)] = None,
    bf16: Annotated[Optional[bool], typer.Option("--bf16/--no-bf16", help=_h("bf16"), rich_help_panel=_RECIPE)] = None,
    gradient_checkpointing: Annotated[Optional[bool], typer.Option("--gradient-checkpointing/--no-gradient-checkpointing", help=_h("gradient_checkpointing"), rich_help_panel=_RECIPE)] = None,
    seed: Annotated[Optional[int], typer.Option(help=_h("seed"), rich_help_panel=_RECIPE)] = None,
    max_length: Annotated[Optional[int], typer.Option(help=_h("max_length"), rich_help_panel=_RECIPE)] = None,
    over_long: Annotated[Optional[str], typer.Option(help=_h("over_long"), rich_help_panel=_RECIPE)] = None,
    strict: Annotated[Optional[bool], typer.Option("--strict/--no-strict", help=_h("strict"), rich_help_panel=_RECIPE)] = None,
    chat_template: Annotated[Optional[str], typer.Option(help=_h("chat_template"), rich_help_panel=_RECIPE)] = None,
    embedding_noise_std: Annotated[Optional[float], typer.Option(help=_h("embedding_noise_std"), rich_help_panel=_RECIPE)] = None,
    save_steps: Annotated[Optional[int], typer.Option(help=_h("save_steps"), rich_help_panel=_RECIPE)] = None,
    save_total_limit: Annotated[Optional[int], typer.Option(help=_h("save_total_limit"), rich_help_panel=_RECIPE)] = None,
    logging_steps: Annotated[Optional[int], typer.Option(help=_h("logging_steps"), rich_help_panel=_RECIPE)] = None,
    attention: Annotated[Optional[str], typer.Option(help=_h("attention"), rich_help_panel=_MASK)] = None,
    dense_backend: Annotated[Optional[str], typer.Option(help=_h("dense_backend"), rich_help_panel=_MASK)] = None,
    mask_delimiters: Annotated[Optional[bool], typer.Option("--mask-delimiters/--no-mask-delimiters", help=_h("mask_delimiters"), rich_help_panel=_MASK)] = None,
    keep_last_n_blocks: Annotated[Optional[int], typer.Option(help=_h("keep_last_n_blocks"), rich_help_panel=_MASK)] = None,
) -> None:
    """Fine-tune a model on memento-format shards: stage 1 causal, stage 2 with the memento mask."""
    recipe = load_recipe(config) if config is not None else SFTRecipe()
    recipe = recipe.replace(
        learning_rate=learning_rate, lr_scheduler=lr_scheduler, warmup_ratio=warmup_ratio, adam_beta1=adam_beta1,
        adam_beta2=adam_beta2, weight_decay=weight_decay, max_grad_norm=max_grad_norm, epochs=epochs,
        max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum, bf16=bf16,
        gradient_checkpointing=gradient_checkpointing, seed=seed, max_length=max_length, over_long=over_long,
        strict=strict, chat_template=chat_template, embedding_noise_std=embedding_noise_std, save_steps=save_steps,
        save_total_limit=save_total_limit, logging_steps=logging_steps, attention=attention,
        dense_backend=dense_backend, mask_delimiters=mask_delimiters, keep_last_n_blocks=keep_last_n_blocks,
    )
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite contradict each other", "pick one")
    _require_train_extra()
    from ..train.trainer import TrainJob, run_train

    console = Console(stderr=True)
    job = TrainJob(data=tuple(data), out=out, recipe=recipe, stage=stage, model=model, init=init,
                   tokenizer=tokenizer, limit=limit, resume=resume, overwrite=overwrite)
    with contextlib.redirect_stdout(sys.stderr):    # the trainer's log lines; stdout carries only the result
        results = run_train(job, say=console.print)
    if not results[-1].main_process:                # under `accelerate launch`, one rank reports
        return
    if json_summary:
        typer.echo(json.dumps([r.card for r in results], indent=2))
        return
    for result in results:
        console.print(_table(result))
    typer.echo(f"final model: {results[-1].final.resolve()}")
    typer.echo(hints.after_train(results[-1].final))
