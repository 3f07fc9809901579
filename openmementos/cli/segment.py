"""``openmementos segment``: raw traces in, OpenMementos shards out."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from rich.console import Console

from .. import logs
from ..outputs import check_folder
from ..pipeline import check_paths
from ..errors import ConfigError
from ..extras import require
from ..journal import STATE_DIR
from ..mementos import MementoConfig
from ..pipeline import Partition, SamplingPlan, SegmentJob, run_segment
from ..scoring import ScoreConfig
from ..segmentation import SegmentConfig
from ..select import SelectConfig, parse_mix
from ..sentences import SplitConfig
from ..sources import FieldMap
from ..teacher.factory import DEFAULT_TEACHER, TeacherOptions, max_block_tokens_for
from . import app, current_argv, hints
from .display import ProgressReporter, summary_table
from .options import log_level_option, verbose_option
from .runconfig import load_config_file, merged_options

_INPUT = "Inputs"
_TEACHER = "Teacher"
_SELECT = "Selection and sampling"
_SEGMENT = "Segmentation"
_MEMENTO = "Mementos"
_OUTPUT = "Output"

# Defaults come from the library's config records, so the CLI and the Python API agree.
_SELECT_DEFAULTS = SelectConfig()
_SCORE_DEFAULTS = ScoreConfig()
_SEGMENT_DEFAULTS = SegmentConfig()
_MEMENTO_DEFAULTS = MementoConfig()
LogLevelOption = log_level_option(_OUTPUT)
VerboseOption = verbose_option(_OUTPUT)
# never recorded in the manifest: a secret, and URLs that may carry credentials or name private hosts
_NOT_RECORDED = ("api_key", "base_url", "role_base_url")


def _mix(text: str | None, option: str) -> dict[str, float] | None:
    if text is None:
        return None
    try:
        return parse_mix(text)
    except ValueError as error:
        raise ConfigError(f"{option}: {error}", f"write it like {option} math=0.54,code=0.19,science=0.27") from None


def _role_urls(items: list[str]) -> dict[str, tuple[str, ...]]:
    urls: dict[str, list[str]] = {}
    for item in items:
        role, sep, url = item.partition("=")
        if not sep or not url:
            raise ConfigError(f"--role-base-url {item!r} is not ROLE=URL", "e.g. --role-base-url judge=http://127.0.0.1:8001/v1")
        urls.setdefault(role.strip(), []).append(url.strip())
    return {role: tuple(u) for role, u in urls.items()}


def _role_params(items: list[str]) -> dict[str, dict[str, str]]:
    params: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        role, dot, name = key.partition(".")
        if not sep or not dot or name not in ("temperature", "max_tokens", "reasoning_effort"):
            raise ConfigError(f"--role-param {item!r} is not ROLE.KEY=VALUE", "KEY is temperature, max_tokens or reasoning_effort, e.g. judge.temperature=0")
        params.setdefault(role.strip(), {})[name] = value.strip()
    return params


def _dry_run(job: SegmentJob, options: TeacherOptions, console: Console, as_json: bool) -> None:
    from rich.table import Table

    from ..quote import quote_job

    model = options.spec.split(":", 1)[1] if options.spec.startswith("openai:") else options.spec
    models = {role: options.role_models.get(role, model) for role in ("scorer", "compressor", "judge", "refiner")}
    quote = quote_job(job, models, options.prices)
    if as_json:
        typer.echo(json.dumps(quote.as_dict(), indent=2))
        return
    table = Table(title=f"dry run: {quote.traces} traces, about {quote.blocks} blocks (nothing sent)")
    for column in ("role", "model", "requests", "input tokens", "output tokens"):
        table.add_column(column, justify="left" if column in ("role", "model") else "right")
    for role, row in sorted(quote.refine_max.items()):
        base = quote.base.get(role)
        span = lambda a, b: f"{a:,}" if a == b else f"{a:,} - {b:,}"  # noqa: E731
        table.add_row(role, models[role], span(base.requests if base else 0, row.requests),
                      span(base.input_tokens if base else 0, row.input_tokens), span(base.output_tokens if base else 0, row.output_tokens))
    console.print(table)
    low, high = quote.cost(quote.base), quote.cost(quote.refine_max)
    if low is None:
        console.print("cost: no price for these models; pass --prices FILE to quote it")
    else:
        console.print(f"cost: ${low:,.2f} (no refinement) to ${high:,.2f} (every memento refined {job.mementos.max_rounds}x)")
    if quote.skipped:
        console.print(f"skipped before any request: {dict(quote.skipped)}")


@app.command()
def segment(
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML file of options: the option names below (dashes or underscores) and their values, e.g. 'teacher: heuristic' and 'min-block-tokens: 300'. Options given on the command line win; the manifest records the merged options.", is_eager=True, callback=load_config_file, rich_help_panel=_INPUT)] = None,
    input: Annotated[str, typer.Option("--input", "-i", help="What to read: 'sample' (bundled traces), 'ot3' (open-thoughts/OpenThoughts3-1.2M, streamed from the Hub), 'hf:OWNER/NAME' (any Hub dataset), or a local .jsonl/.json/.parquet file (.jsonl.gz and .jsonl.zst too) or folder.", rich_help_panel=_INPUT)] = "sample",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the shards (data/, full/, rejects/, manifest.json). Re-running the same command resumes here.", rich_help_panel=_OUTPUT)] = Path("shards"),
    split: Annotated[str, typer.Option(help="Dataset split for Hub inputs.", rich_help_panel=_INPUT)] = "train",
    limit: Annotated[Optional[int], typer.Option(help="Read at most this many input rows. A larger limit on the same --out continues the run from where it stopped.", min=1, rich_help_panel=_INPUT)] = None,
    problem_field: Annotated[Optional[str], typer.Option(help="Column holding the problem, for inputs in a foreign schema.", rich_help_panel=_INPUT)] = None,
    trace_field: Annotated[Optional[str], typer.Option(help="Column holding the reasoning trace (with <think>...</think>, or the thinking alone).", rich_help_panel=_INPUT)] = None,
    answer_field: Annotated[Optional[str], typer.Option(help="Column holding the final answer, when the trace column holds only the thinking.", rich_help_panel=_INPUT)] = None,
    domain_field: Annotated[Optional[str], typer.Option(help="Column holding the domain (math, code, science).", rich_help_panel=_INPUT)] = None,
    source_field: Annotated[Optional[str], typer.Option(help="Column holding the source name.", rich_help_panel=_INPUT)] = None,
    difficulty_field: Annotated[Optional[str], typer.Option(help="Column holding an integer difficulty.", rich_help_panel=_INPUT)] = None,
    id_field: Annotated[Optional[str], typer.Option(help="Column holding a stable row id.", rich_help_panel=_INPUT)] = None,
    domain: Annotated[Optional[str], typer.Option(help="Domain to record for rows that have none.", rich_help_panel=_INPUT)] = None,
    teacher: Annotated[str, typer.Option(help="Who scores boundaries and writes mementos: 'heuristic' (offline, deterministic, no key) or 'openai:MODEL'.", rich_help_panel=_TEACHER)] = DEFAULT_TEACHER,
    scorer_model: Annotated[Optional[str], typer.Option(help="Model for boundary scoring (default: the --teacher model).", rich_help_panel=_TEACHER)] = None,
    compressor_model: Annotated[Optional[str], typer.Option(help="Model that writes mementos (default: the --teacher model).", rich_help_panel=_TEACHER)] = None,
    judge_model: Annotated[Optional[str], typer.Option(help="Model that judges mementos (default: the --teacher model).", rich_help_panel=_TEACHER)] = None,
    refiner_model: Annotated[Optional[str], typer.Option(help="Model that refines mementos (default: the compressor's).", rich_help_panel=_TEACHER)] = None,
    base_url: Annotated[Optional[list[str]], typer.Option(help="OpenAI-compatible base URL (repeat to spread requests over several servers; default: $OPENAI_BASE_URL, else OpenAI).", rich_help_panel=_TEACHER)] = None,
    role_base_url: Annotated[Optional[list[str]], typer.Option(help="ROLE=URL: a base URL for one role only (scorer, compressor, judge, refiner); repeatable.", rich_help_panel=_TEACHER)] = None,
    api_key: Annotated[Optional[str], typer.Option(help="API key (prefer $OPENAI_API_KEY: options show in process lists). Never written anywhere.", rich_help_panel=_TEACHER)] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature for every role.", min=0.0, rich_help_panel=_TEACHER)] = 0.0,
    max_output_tokens: Annotated[int, typer.Option(help="Output token budget per request (doubled, up to 16K, when an answer is cut).", min=16, rich_help_panel=_TEACHER)] = 2048,
    reasoning_effort: Annotated[Optional[str], typer.Option(help="reasoning_effort for reasoning models (low, medium, high).", rich_help_panel=_TEACHER)] = None,
    role_param: Annotated[Optional[list[str]], typer.Option(help="ROLE.KEY=VALUE: per-role temperature, max_tokens or reasoning_effort; repeatable.", rich_help_panel=_TEACHER)] = None,
    context_window: Annotated[Optional[int], typer.Option(help="The teacher model's context in tokens: blocks are capped so memento prompts fit, and scoring windows that do not fit are split.", min=1024, rich_help_panel=_TEACHER)] = None,
    concurrency: Annotated[int, typer.Option(help="Most requests in flight at once.", min=1, rich_help_panel=_TEACHER)] = 32,
    traces_in_flight: Annotated[int, typer.Option(help="Traces annotated at once with an LLM teacher (each waits on its own requests).", min=1, rich_help_panel=_TEACHER)] = 64,
    rpm: Annotated[Optional[float], typer.Option(help="Client-side limit on requests per minute.", min=1, rich_help_panel=_TEACHER)] = None,
    tpm: Annotated[Optional[float], typer.Option(help="Client-side limit on tokens per minute.", min=1, rich_help_panel=_TEACHER)] = None,
    request_timeout: Annotated[float, typer.Option(help="Seconds before a request is abandoned and retried.", min=1, rich_help_panel=_TEACHER)] = 120.0,
    answer_retries: Annotated[int, typer.Option(help="Times an invalid answer is sent back with the validation error before the trace is quarantined.", min=0, rich_help_panel=_TEACHER)] = 2,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the on-disk answer cache.", rich_help_panel=_TEACHER)] = False,
    cache_path: Annotated[Optional[Path], typer.Option(help="Answer cache file (default: ~/.cache/openmementos/teacher-cache.sqlite).", rich_help_panel=_TEACHER)] = None,
    prices: Annotated[Optional[Path], typer.Option(help='Price table JSON: {"model": {"input": USD/M, "cached_input": USD/M, "output": USD/M}}.', rich_help_panel=_TEACHER)] = None,
    batch_api: Annotated[bool, typer.Option("--batch-api", help="Send the LLM teacher's requests through the OpenAI Batch API, at its half price: rounds of JSONL batches (one per step the traces wait on; answers may take up to 24 h each), failed lines asked again. Re-running the same command after a crash polls the batches already submitted (OUT/.openmementos/batches.jsonl) instead of sending them again.", rich_help_panel=_TEACHER)] = False,
    batch_poll_seconds: Annotated[float, typer.Option(help="With --batch-api: seconds before the first poll of a submitted batch; the wait grows to 10x.", min=0.0, rich_help_panel=_TEACHER)] = 60.0,
    tokenizer: Annotated[Optional[str], typer.Option(help="Count tokens with 'cl100k_base' (default), 'o200k_base', or a Hugging Face tokenizer.json (file or model folder) to size blocks in the student's tokens.", rich_help_panel=_TEACHER)] = None,
    min_tokens: Annotated[int, typer.Option(help="Drop traces whose thinking has fewer tokens.", min=1, rich_help_panel=_SELECT)] = _SELECT_DEFAULTS.min_tokens,
    max_tokens: Annotated[int, typer.Option(help="Drop traces whose thinking has more tokens.", min=1, rich_help_panel=_SELECT)] = _SELECT_DEFAULTS.max_tokens,
    allow_cjk: Annotated[bool, typer.Option("--allow-cjk", help="Keep traces with CJK characters (dropped by default, as in the paper).", rich_help_panel=_SELECT)] = False,
    domain_mix: Annotated[Optional[str], typer.Option(help="Stratify by domain: target shares like 'math=0.54,code=0.19,science=0.27' (needs --sample).", rich_help_panel=_SELECT)] = None,
    difficulty_mix: Annotated[Optional[str], typer.Option(help="Also stratify by difficulty bucket: 'easy=0.3,medium=0.4,hard=0.3' (1-3, 4-6, 7-10).", rich_help_panel=_SELECT)] = None,
    sample: Annotated[Optional[int], typer.Option(help="Number of traces to keep with --domain-mix.", min=1, rich_help_panel=_SELECT)] = None,
    sample_fraction: Annotated[float, typer.Option(help="Thin the input to this fraction first, by a seeded hash of each trace id.", min=0.0, max=1.0, rich_help_panel=_SELECT)] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed for --sample-fraction.", rich_help_panel=_SELECT)] = 0,
    window: Annotated[int, typer.Option(help="Boundaries scored per teacher call.", min=1, rich_help_panel=_SEGMENT)] = _SCORE_DEFAULTS.window,
    second_window: Annotated[int, typer.Option(help="Window of the second scoring pass (coprime with --window); 0 for a single pass.", min=0, rich_help_panel=_SEGMENT)] = _SCORE_DEFAULTS.second_window or 0,
    lam: Annotated[float, typer.Option("--lambda", help="Weight of the block-size coefficient of variation in the objective.", min=0.0, rich_help_panel=_SEGMENT)] = _SEGMENT_DEFAULTS.lam,
    min_block_tokens: Annotated[int, typer.Option(help="Smallest block, in tokens.", min=1, rich_help_panel=_SEGMENT)] = _SEGMENT_DEFAULTS.min_block_tokens,
    max_block_tokens: Annotated[Optional[int], typer.Option(help="Largest block, in tokens (no limit by default).", min=1, rich_help_panel=_SEGMENT)] = None,
    min_blocks: Annotated[int, typer.Option(help="Fewest blocks per trace.", min=1, rich_help_panel=_SEGMENT)] = 1,
    max_blocks: Annotated[Optional[int], typer.Option(help="Most blocks per trace (free by default).", min=1, rich_help_panel=_SEGMENT)] = None,
    judge_threshold: Annotated[float, typer.Option(help="Mementos the judge scores below this (out of 10) are refined.", min=0.0, max=10.0, rich_help_panel=_MEMENTO)] = _MEMENTO_DEFAULTS.threshold,
    refine_rounds: Annotated[int, typer.Option(help="Most refinement rounds per memento.", min=0, rich_help_panel=_MEMENTO)] = _MEMENTO_DEFAULTS.max_rounds,
    target_ratio: Annotated[float, typer.Option(help="Target memento/block length ratio given to the compressor.", min=0.01, max=1.0, rich_help_panel=_MEMENTO)] = _MEMENTO_DEFAULTS.target_ratio,
    shard: Annotated[Optional[str], typer.Option(help="I/N: process only input rows whose position modulo N is I, so N machines split one input (combine with 'openmementos merge').", rich_help_panel=_OUTPUT)] = None,
    rows_per_shard: Annotated[int, typer.Option(help="Start a new shard after this many rows.", min=1, rich_help_panel=_OUTPUT)] = 1000,
    shard_mb: Annotated[int, typer.Option(help="Start a new shard after about this many MB of text.", min=1, rich_help_panel=_OUTPUT)] = 256,
    workers: Annotated[int, typer.Option(help="Worker processes for the per-trace stages; 0 uses every core.", min=0, rich_help_panel=_OUTPUT)] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Delete what --out holds from an earlier run and start again.", rich_help_panel=_OUTPUT)] = False,
    retry_quarantine: Annotated[bool, typer.Option("--retry-quarantine", help="Run the quarantined traces of this finished run again (same options); recovered rows become new shards.", rich_help_panel=_OUTPUT)] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Quote requests, tokens and cost from the real prompts of this input, send nothing and write nothing.", rich_help_panel=_OUTPUT)] = False,
    json_summary: Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary instead of the table.", rich_help_panel=_OUTPUT)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors (and the --json summary).", rich_help_panel=_OUTPUT)] = False,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
) -> None:
    """Annotate reasoning traces into OpenMementos shards: select, split, score, segment, write mementos.

    Each run also writes its log to OUT/logs/segment-YYYYmmdd-HHMMSS.log (API keys and tokens scrubbed).
    """
    level = logs.setup(log_level.value if log_level else None, verbose)
    logs.add_secret(api_key or os.environ.get("OPENAI_API_KEY"))
    options = merged_options(click.get_current_context(), leave_out=_NOT_RECORDED)
    if (domain_mix is None) != (sample is None):
        raise ConfigError("--domain-mix and --sample go together", "give both, e.g. --domain-mix math=0.5,code=0.5 --sample 1000")
    if min_tokens > max_tokens:
        raise ConfigError(f"--min-tokens {min_tokens} is above --max-tokens {max_tokens}")
    teacher_options = TeacherOptions(
        spec=teacher,
        role_models={k: v for k, v in (("scorer", scorer_model), ("compressor", compressor_model), ("judge", judge_model),
                                      ("refiner", refiner_model or compressor_model)) if v},
        base_urls=tuple(base_url or ()),
        role_base_urls=_role_urls(role_base_url or []),
        api_key=api_key,
        temperature=temperature,
        max_output_tokens=max_output_tokens,
        reasoning_effort=reasoning_effort,
        role_params=_role_params(role_param or []),
        concurrency=concurrency,
        requests_per_minute=rpm,
        tokens_per_minute=tpm,
        request_timeout=request_timeout,
        answer_retries=answer_retries,
        cache=not no_cache,
        cache_path=cache_path,
        prices=prices,
        context_window=context_window,
    )
    fitted = max_block_tokens_for(teacher_options)
    if fitted is not None and (max_block_tokens is None or max_block_tokens > fitted):
        max_block_tokens = fitted  # windowing: no block may outgrow what the teacher can read
    partition = None
    if shard is not None:
        try:
            partition = Partition.parse(shard)
        except ValueError as error:
            raise ConfigError(f"--shard {error}", "write it like --shard 0/4 (this machine's index, then the machine count)") from None
    sampling = None
    if domain_mix is not None:
        sampling = SamplingPlan(_mix(domain_mix, "--domain-mix"), sample, _mix(difficulty_mix, "--difficulty-mix"), seed, sample_fraction)
    elif sample_fraction < 1.0:
        sampling = SamplingPlan({}, 0, None, seed, sample_fraction)
    job = SegmentJob(
        input=input,
        out=out,
        split=split,
        limit=limit,
        fields=FieldMap(problem_field, trace_field, answer_field, domain_field, source_field, difficulty_field, id_field, domain),
        teacher=teacher,
        teacher_options=teacher_options,
        tokenizer=tokenizer,
        select=SelectConfig(min_tokens, max_tokens, not allow_cjk),
        sentences=SplitConfig(),
        scoring=ScoreConfig(window, second_window or None),
        segmentation=SegmentConfig(lam, min_block_tokens, max_block_tokens, min_blocks, max_blocks),
        mementos=MementoConfig(judge_threshold, refine_rounds, target_ratio),
        sampling=sampling,
        partition=partition,
        rows_per_shard=rows_per_shard,
        shard_bytes=shard_mb * 2**20,
        workers=workers or os.cpu_count() or 1,
        overwrite=overwrite,
        traces_in_flight=traces_in_flight,
        options=options,
    )
    console = Console(stderr=True, quiet=quiet)
    if batch_api and not dry_run:
        require("--batch-api", "batch", "openai")
    if dry_run:
        _dry_run(job, teacher_options, console, json_summary)
        return
    summary = _run(job, console, retry_quarantine, batch_api, batch_poll_seconds, level)
    if json_summary:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
    if summary.already_complete:
        console.print(f"nothing to do: {out} already holds this finished run ({summary.kept} rows)")
    elif not json_summary:
        console.print(summary_table(summary))
    if not quiet and not json_summary:
        typer.echo(f"shards written to {out.resolve()} (data/ and full/; manifest.json)")
        typer.echo(hints.after_segment(out))


def _run(job: SegmentJob, console: Console, retry_quarantine: bool, batch_api: bool, batch_poll_seconds: float, level: int):
    """The run, with its log file under the output folder. A run that writes nothing (it failed
    before its first row, or found the run already finished) takes its log file with it."""
    check_folder(job.out, "--out")   # before the log file goes under it
    check_paths(job)
    out_existed = job.out.exists()
    before = _journal_size(job.out)
    log_file, keep_log = None, False
    try:
        with logs.run_log(job.out, "segment", current_argv(), level) as log_file:
            if retry_quarantine:
                from ..retry import retry_quarantine as retry

                summary = retry(job, ProgressReporter(console))
            elif batch_api:
                from ..batchrun import ConsoleBatchProgress, run_batch_segment

                summary = run_batch_segment(job, ProgressReporter(console), poll_seconds=batch_poll_seconds,
                                            progress=ConsoleBatchProgress(console))
            else:
                summary = run_segment(job, ProgressReporter(console))
        keep_log = not summary.already_complete   # nothing to do: the finished run's folder stays as it was
        return summary
    finally:
        if log_file is not None and not keep_log and _journal_size(job.out) == before:
            logs.discard(log_file, job.out if not out_existed else None)


def _journal_size(out: Path) -> int:
    """How much of the run journal exists (it grows by a line per chunk written); -1: none."""
    try:
        return (out / STATE_DIR / "journal.jsonl").stat().st_size
    except OSError:
        return -1
