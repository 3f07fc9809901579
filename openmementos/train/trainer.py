"""The two-stage MEMENTO SFT run: TRL's ``SFTTrainer`` with our data, collator and stage-2 mask.

Stage 1 trains with ordinary causal attention from a base model, adding the special tokens;
stage 2 starts from stage 1's final model with the memento mask. Each stage writes under
``OUT/stage{1,2}/``: the trainer's ``checkpoint-N/`` folders (resume continues from the last),
``job.json`` (what the stage was asked to do, written first and checked on resume), and
``final/`` (model, tokenizer with the special tokens and chat template, and ``run_card.json``,
written last: its presence means the stage finished).
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from ..errors import ConfigError, InputError, OutputError
from ..outputs import check_folder
from ..shards import write_json
from .config import SFTRecipe
from .data import DataStats, ShardFile, encode_rows, iter_rows, resolve_shards
from .masks import MaskPolicy

RUN_CARD = "run_card.json"
JOB_FILE = "job.json"


@dataclass(frozen=True)
class TrainJob:
    """Everything one ``train-sft`` call needs; the library entry point is :func:`run_train`."""

    data: tuple[str, ...]
    out: Path
    recipe: SFTRecipe = field(default_factory=SFTRecipe)
    stage: str = "both"                  # "1", "2" or "both"
    model: str | None = None             # stage 1: a local model folder (weights + config)
    init: str | None = None              # stage 2 alone: the stage-1 model to start from
    tokenizer: str | None = None         # defaults to the model's own
    limit: int | None = None             # train on the first N rows only (smoke runs)
    resume: bool = False
    overwrite: bool = False


@dataclass(slots=True)
class StageResult:
    stage: int
    final: Path
    card: dict[str, Any]
    skipped_existing: bool = False       # the stage had finished before this call (resume)
    main_process: bool = True            # False on the other ranks under `accelerate launch`


def run_train(job: TrainJob, say: Callable[[str], None] = print) -> list[StageResult]:
    """Run the stages of ``job`` in order and return their results (run cards included)."""
    if job.stage not in ("1", "2", "both"):
        raise ConfigError(f"--stage must be 1, 2 or both, not {job.stage!r}")
    if job.stage in ("1", "both") and not job.model:
        raise ConfigError("stage 1 needs a base model", "pass --model PATH (a local model folder)")
    if job.stage == "2" and not job.init:
        raise ConfigError("stage 2 alone needs the stage-1 model", "pass --init OUT/stage1/final (or use --stage both)")
    if job.stage == "both" and job.init:
        raise ConfigError("--init is for --stage 2; --stage both starts stage 2 from its own stage 1")
    # everything that can be checked is checked before a model loads (minutes, for a large one)
    if job.stage in ("2", "both"):
        _resolve_attention(2, job.recipe)
    check_folder(job.out, "--out")
    for option, value in (("--model", job.model), ("--init", job.init), ("--tokenizer", job.tokenizer)):
        check_model_path(value, option)
    shards = resolve_shards(job.data)
    results = []
    if job.stage in ("1", "both"):
        results.append(_run_stage(1, job, job.model, shards, say))
    if job.stage in ("2", "both"):
        start = str(results[0].final) if results else job.init
        results.append(_run_stage(2, job, start, shards, say))
    return results


def check_model_path(value: str | None, option: str) -> None:
    """Refuse at once a model or tokenizer folder that does not exist, rather than let
    transformers try it as a Hub id for minutes. ``OWNER/NAME`` with no local ``OWNER`` folder may
    be a Hub id: it is refused only when the Hub cannot be reached."""
    if value is None or Path(value).expanduser().exists():
        return
    parts = value.split("/")
    hub_id = len(parts) == 2 and all(parts) and not value.startswith((".", "~")) and not Path(parts[0]).exists()
    hint = "pass a local model folder (config.json and weights), e.g. a snapshot from `hf download`"
    if not hub_id:
        raise InputError(f"{option} {value}: no such folder", hint)
    from ..sources import hub_unreachable

    problem = hub_unreachable(("HF_HUB_OFFLINE",))
    if problem:
        raise InputError(f"{option} {value}: no such folder, and the Hugging Face Hub cannot be reached to fetch it "
                         f"as a Hub id ({problem})", hint)


def stage_dir(out: Path, stage: int) -> Path:
    return out / f"stage{stage}"


def _job_record(stage: int, job: TrainJob, start: str, shards: list[ShardFile], kind: str) -> dict[str, Any]:
    return {
        "stage": stage,
        "start_from": start,
        "tokenizer": job.tokenizer,
        "recipe": job.recipe.as_dict(),
        "recipe_digest": job.recipe.digest(),
        "attention": kind,
        "limit": job.limit,
        "data": [s.sha256 for s in shards],
    }


def _prepare_folder(folder: Path, record: dict[str, Any], job: TrainJob) -> str | None:
    """Check what ``folder`` holds against this job; return the checkpoint to resume from."""
    if job.overwrite and folder.exists():
        shutil.rmtree(folder)
    if not folder.exists() or not any(folder.iterdir()):
        return None
    if not job.resume:
        raise OutputError(f"{folder} holds an earlier run", "add --resume to continue it, or --overwrite to start over")
    previous = json.loads((folder / JOB_FILE).read_text()) if (folder / JOB_FILE).is_file() else None
    if previous != record:
        changed = sorted(k for k in record if previous is None or previous.get(k) != record[k])
        raise ConfigError(f"{folder} holds a run with other settings ({', '.join(changed)})",
                          "resume with the same options, or --overwrite to start over")
    return _last_checkpoint(folder)


def _resolve_attention(stage: int, recipe: SFTRecipe) -> str:
    import torch

    if stage == 1:
        return "causal"
    kind = recipe.attention
    if kind == "auto":
        kind = "flex" if torch.cuda.is_available() else "dense"
    if kind == "flex" and not torch.cuda.is_available():
        raise ConfigError("FlexAttention has no CPU backward pass", "train stage 2 on CPU with --attention dense")
    return kind


def load_tokenizer(path: str, chat_template: str | None):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot load a tokenizer from {path}: {error}".splitlines()[0],
                         "pass a local folder with tokenizer.json and tokenizer_config.json (--tokenizer)") from None
    if chat_template is not None:
        file = Path(chat_template)
        if not file.is_file():
            raise ConfigError(f"no chat template file at {file}")
        tokenizer.chat_template = file.read_text(encoding="utf-8")
    if not tokenizer.chat_template:
        raise ConfigError(f"the tokenizer at {path} has no chat template", "pass one with --chat-template FILE.jinja")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(path: str, attn_implementation: str):
    import torch
    from transformers import AutoModelForCausalLM

    try:
        # float32 master weights; --bf16 trains under autocast (mixed precision)
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation=attn_implementation)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot load a model from {path}: {error}".splitlines()[0],
                         "pass a local model folder (config.json and weights); Hub downloads need network") from None


def sft_config(recipe: SFTRecipe, folder: Path, attention: str):
    import torch
    from trl import SFTConfig

    cuda = torch.cuda.is_available()
    return SFTConfig(
        output_dir=str(folder),
        learning_rate=recipe.learning_rate,
        lr_scheduler_type=recipe.lr_scheduler,
        warmup_steps=recipe.warmup_ratio,           # below 1: a fraction of all steps
        adam_beta1=recipe.adam_beta1,
        adam_beta2=recipe.adam_beta2,
        weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.max_grad_norm,
        num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps,
        per_device_train_batch_size=recipe.batch_size,
        gradient_accumulation_steps=recipe.grad_accum,
        bf16=cuda if recipe.bf16 is None else recipe.bf16,
        activation_checkpointing=recipe.gradient_checkpointing,
        seed=recipe.seed,
        data_seed=recipe.seed,
        optim="adamw_torch_fused" if cuda else "adamw_torch",
        save_strategy="steps",
        save_steps=recipe.save_steps,
        save_total_limit=recipe.save_total_limit,
        logging_steps=recipe.logging_steps,
        report_to="none",
        # our data is tokenised and labelled already, and our collator needs every column
        max_length=None,
        dataset_kwargs={"skip_prepare_dataset": True},
        remove_unused_columns=False,
        packing=False,
        padding_free=False,
        use_cpu=not cuda,
        run_name=f"memento-sft-{attention}",
    )


def _encode(job: TrainJob, shards: list[ShardFile], tokenizer, token_ids) -> tuple[list[dict], DataStats]:
    rows = iter_rows(shards)
    if job.limit is not None:
        rows = (row for i, row in zip(range(job.limit), rows))
    examples, stats = encode_rows(rows, tokenizer, token_ids, job.recipe.max_length, job.recipe.over_long)
    if not examples:
        raise InputError("no row can be trained on: " + stats.describe_skips(), "check the shards with format.parse")
    if job.recipe.strict and stats.skipped:
        raise InputError("bad rows and --strict: " + stats.describe_skips(), "fix or drop these rows, or train without --strict")
    return examples, stats


def _run_stage(stage: int, job: TrainJob, start: str, shards: list[ShardFile], say) -> StageResult:
    folder = stage_dir(job.out, stage)
    final = folder / "final"
    recipe = job.recipe
    kind = _resolve_attention(stage, recipe)
    record = _job_record(stage, job, start, shards, kind)
    # The trainer's arguments first: they set up the distributed state under `accelerate launch`
    # (and make loading shard the weights under DeepSpeed ZeRO-3). Only rank 0 touches the folder.
    args = sft_config(recipe, folder, kind)
    main = args.process_index == 0
    say = say if main else (lambda message: None)
    if job.resume and (final / RUN_CARD).is_file():
        say(f"stage {stage}: already finished in {final}")
        return StageResult(stage, final, json.loads((final / RUN_CARD).read_text()), skipped_existing=True, main_process=main)
    with args.main_process_first(local=False):
        checkpoint = _prepare_folder(folder, record, job) if main else _last_checkpoint(folder)

    import datasets
    from transformers import set_seed
    from trl import SFTTrainer

    from .attention import attach_memento_attention, attention_implementation
    from .collator import MementoCollator
    from .tokens import add_memento_tokens

    set_seed(recipe.seed)
    tokenizer = load_tokenizer(job.tokenizer or start, recipe.chat_template)
    model = load_model(start, "sdpa" if kind == "causal" else attention_implementation(kind, recipe.dense_backend))
    init = add_memento_tokens(model, tokenizer, recipe.embedding_noise_std, recipe.seed)
    if stage == 2 and init.added:
        say(f"stage 2: {start} lacked {', '.join(init.added)}; added and initialised them (was it a stage-1 model?)")
    examples, stats = _encode(job, shards, tokenizer, init.token_ids)
    say(f"stage {stage}: {stats.kept} rows to train on, {sum(stats.skips.values())} skipped, "
        f"{stats.truncated} truncated to {recipe.max_length} tokens; attention: {kind}")
    if stats.skipped:
        say("  " + stats.describe_skips())

    if main:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / JOB_FILE, record)
    trainer = SFTTrainer(
        model=model,
        args=args,
        data_collator=MementoCollator(tokenizer.pad_token_id, None if stage == 1 else init.token_ids),
        train_dataset=datasets.Dataset.from_dict({k: [e[k] for e in examples] for k in ("input_ids", "labels", "row")}),
        processing_class=tokenizer,
    )
    if stage == 2:
        attach_memento_attention(trainer.model, MaskPolicy(recipe.mask_delimiters, recipe.keep_last_n_blocks), kind)
    began = time.time()
    output = trainer.train(resume_from_checkpoint=checkpoint)
    seconds = time.time() - began
    trainer.save_model(str(final))          # every rank: FSDP and ZeRO-3 gather the weights here
    card = run_card(stage, job, start, shards, stats, init.as_dict(), kind, trainer, output.metrics, seconds, checkpoint)
    if main:
        tokenizer.save_pretrained(str(final))
        write_json(final / RUN_CARD, card)  # last: its presence means the stage finished
    trainer.accelerator.wait_for_everyone()
    return StageResult(stage, final, card, main_process=main)


def _last_checkpoint(folder: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def _versions() -> dict[str, str]:
    import accelerate
    import torch
    import transformers
    import trl

    return {"openmementos": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "trl": trl.__version__, "accelerate": accelerate.__version__, "python": platform.python_version()}


def run_card(stage, job, start, shards, stats, init, kind, trainer, metrics, seconds, resumed_from) -> dict[str, Any]:
    """The JSON record of one finished stage: data and its hashes, recipe, stage, metrics."""
    history = trainer.state.log_history
    losses = [(h["step"], h["loss"]) for h in history if "loss" in h]
    manifests = {}
    for shard in shards:
        if shard.manifest is not None:
            manifests[str(shard.manifest)] = shard.manifest_sha256
    return {
        "format": "openmementos-train/1",
        "stage": stage,
        "attention": kind,
        "mask": None if stage == 1 else {"mask_delimiters": job.recipe.mask_delimiters,
                                          "keep_last_n_blocks": job.recipe.keep_last_n_blocks},
        "start_from": start,
        "resumed_from": resumed_from,
        "recipe": job.recipe.as_dict(),
        "recipe_digest": job.recipe.digest(),
        "data": {"shards": [s.as_dict() for s in shards], "manifests": manifests, "limit": job.limit, **stats.as_dict()},
        "tokenizer": {"special_tokens": init, "chat_template_sha256": _text_sha(trainer.processing_class.chat_template)},
        "metrics": {
            **{k: v for k, v in metrics.items() if isinstance(v, (int, float))},
            "first_loss": losses[0][1] if losses else None,
            "last_loss": losses[-1][1] if losses else None,
            "loss_curve": losses,
            "global_step": trainer.state.global_step,
            "epochs": trainer.state.epoch,
            "seconds": round(seconds, 3),
            "world_size": trainer.args.world_size,
        },
        "versions": _versions(),
    }


def _text_sha(text: str | None) -> str | None:
    import hashlib

    return None if text is None else hashlib.sha256(text.encode()).hexdigest()
