"""The SFT recipe: one frozen record with the paper's defaults, loadable from YAML.

Every field carries its help text (``field.metadata["help"]``); the CLI shows the same text.
Defaults are the MEMENTO paper's (appendix A) unless the help says "ours". Precedence when
several sources set a field: command-line option > YAML file > default here.

>>> recipe = SFTRecipe().replace(epochs=1, learning_rate=1e-4)
>>> recipe.epochs, recipe.lr_scheduler, recipe.warmup_ratio
(1.0, 'cosine', 0.05)

This module does not import torch, so the CLI can read it for ``--help``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

STAGES = ("1", "2", "both")
ATTENTIONS = ("auto", "dense", "flex")
DENSE_BACKENDS = ("sdpa", "eager")
OVER_LONG = ("truncate", "skip")


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class SFTRecipe:
    """How one SFT stage trains. The same recipe serves stage 1 and stage 2."""

    learning_rate: float = _f(8e-5, "Peak learning rate (paper: 8e-5).")
    lr_scheduler: str = _f("cosine", "Learning-rate schedule after warmup (paper: cosine); any transformers scheduler name.")
    warmup_ratio: float = _f(0.05, "Fraction of the steps spent in linear warmup (paper: 5%).")
    adam_beta1: float = _f(0.9, "AdamW beta1 (paper: 0.9).")
    adam_beta2: float = _f(0.999, "AdamW beta2 (paper: 0.999).")
    weight_decay: float = _f(0.0, "AdamW weight decay (paper: none).")
    max_grad_norm: float = _f(1.0, "Gradient clipping norm (paper: 1.0).")
    epochs: float = _f(5.0, "Epochs per stage (paper: 5).")
    max_steps: int = _f(-1, "Stop after this many optimiser steps; -1 trains for --epochs (a few steps make a smoke run).")
    batch_size: int = _f(1, "Sequences per device per step; the global batch is this x --grad-accum x GPUs.")
    grad_accum: int = _f(1, "Gradient accumulation steps; the global batch is --batch-size x this x GPUs.")
    bf16: bool | None = _f(None, "Train in bfloat16; unset means on when a CUDA GPU is present (paper: bf16 on GPU).")
    gradient_checkpointing: bool = _f(True, "Recompute activations in the backward pass to save memory (paper: on).")
    seed: int = _f(42, "Seed for data order, initialisation noise and dropout (paper: 42).")
    max_length: int = _f(32768, "Longest tokenised chat; longer ones are truncated (or skipped) and counted (paper: 32K).")
    over_long: str = _f("truncate", "What to do with chats over --max-length: 'truncate' (paper; counted) or 'skip' (counted).")
    strict: bool = _f(False, "Refuse to train when any row is bad, naming the rows, instead of skipping them with counts.")
    attention: str = _f("auto", "Stage-2 mask implementation: 'dense' (additive [B,1,T,T] mask; CPU, short sequences), 'flex' (FlexAttention block mask; GPU, long sequences) or 'auto' (flex on CUDA, dense otherwise).")
    dense_backend: str = _f("sdpa", "Attention kernel that applies the dense mask: 'sdpa' or 'eager'.")
    mask_delimiters: bool = _f(False, "Stage 2: also hide a finished block's <|block_start|> and <|block_end|> (visible by default).")
    keep_last_n_blocks: int = _f(0, "Stage 2: keep the content of the last N finished blocks visible (0: hide every finished block).")
    chat_template: str | None = _f(None, "A Jinja chat-template file to use instead of the tokenizer's own (Qwen3: ChatML, no system prompt).")
    embedding_noise_std: float = _f(0.01, "Sigma of the Gaussian noise added to each new token's embedding (paper: 0.01).")
    save_steps: int = _f(500, "Save a checkpoint every this many optimiser steps.")
    save_total_limit: int | None = _f(2, "Keep at most this many checkpoints per stage; unset keeps all.")
    logging_steps: int = _f(10, "Log the loss every this many optimiser steps.")

    def replace(self, **changes: Any) -> "SFTRecipe":
        """A copy with ``changes`` applied (``None`` values are ignored) and checked."""
        unknown = sorted(set(changes) - set(field_names()))
        if unknown:
            raise ConfigError(f"unknown recipe field(s): {', '.join(unknown)}", f"known fields: {', '.join(field_names())}")
        given = {k: _coerce(k, v) for k, v in changes.items() if v is not None}
        recipe = dataclasses.replace(self, **given)
        recipe.check()
        return recipe

    def check(self) -> None:
        """Raise :class:`ConfigError` for values out of range."""
        problems = []
        if self.attention not in ATTENTIONS:
            problems.append(f"attention must be one of {', '.join(ATTENTIONS)}, not {self.attention!r}")
        if self.dense_backend not in DENSE_BACKENDS:
            problems.append(f"dense_backend must be one of {', '.join(DENSE_BACKENDS)}, not {self.dense_backend!r}")
        if self.over_long not in OVER_LONG:
            problems.append(f"over_long must be one of {', '.join(OVER_LONG)}, not {self.over_long!r}")
        for name in ("learning_rate", "epochs", "max_grad_norm"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be above 0")
        for name in ("batch_size", "grad_accum", "max_length", "save_steps", "logging_steps"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if not 0 <= self.warmup_ratio < 1:
            problems.append("warmup_ratio must be in [0, 1)")
        if self.keep_last_n_blocks < 0 or self.embedding_noise_std < 0 or self.weight_decay < 0:
            problems.append("keep_last_n_blocks, embedding_noise_std and weight_decay cannot be negative")
        if problems:
            raise ConfigError("bad training recipe: " + "; ".join(problems))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short content hash, recorded in run cards and checked on resume."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(SFTRecipe)]


def help_text(name: str) -> str:
    """The help text of one recipe field, for the CLI."""
    return next(f.metadata["help"] for f in dataclasses.fields(SFTRecipe) if f.name == name)


_TYPES = {f.name: f.type for f in dataclasses.fields(SFTRecipe)}


def _coerce(name: str, value: Any) -> Any:
    # YAML gives ints for floats ("epochs: 5") and strings for numbers written like "8e-5".
    kind = _TYPES[name]
    try:
        if kind == "float":
            return float(value)
        if kind in ("int", "int | None"):
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError(value)
            return int(float(value))
        if kind in ("bool", "bool | None") and not isinstance(value, bool):
            raise ValueError(value)
        if kind in ("str", "str | None"):
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"recipe field {name} expects {kind}, got {value!r}") from None
    return value


def load_recipe(path: str | Path, base: SFTRecipe | None = None) -> SFTRecipe:
    """Read a YAML mapping of recipe fields (unknown keys are refused) over ``base`` or the defaults.

    A file may hold the fields at the top level or under a ``recipe:`` key.
    """
    import yaml

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"no recipe file at {file}", "pass a YAML file of recipe fields, e.g. 'learning_rate: 1e-4'")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{file} is not valid YAML: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("recipe"), dict) and len(data) == 1:
        data = data["recipe"]
    if not isinstance(data, dict):
        raise ConfigError(f"{file} must hold a mapping of recipe fields")
    unknown = sorted(set(data) - set(field_names()))
    if unknown:
        raise ConfigError(f"{file}: unknown recipe field(s) {', '.join(unknown)}", f"known fields: {', '.join(field_names())}")
    # YAML's null is a real value for the optional fields (e.g. bf16: null means auto).
    required = sorted(k for k, v in data.items() if v is None and "None" not in _TYPES[k])
    if required:
        raise ConfigError(f"{file}: {', '.join(required)} cannot be null")
    recipe = (base or SFTRecipe()).replace(**{k: v for k, v in data.items() if v is not None})
    return dataclasses.replace(recipe, **{k: None for k, v in data.items() if v is None})
