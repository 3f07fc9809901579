"""Adding the memento special tokens to a tokenizer and giving their embeddings a sensible start.

The four tokens come from :mod:`openmementos.format`. They are added as whole tokens that are
never split and that decoding keeps (like Qwen3's own ``<think>``), so generated text can be
parsed with ``format.parse``. A new token's embedding starts as the mean of the embeddings of
related words plus Gaussian noise (sigma 0.01), as in the paper: a word's embedding is the mean
of its tokens' embeddings (the word tokenised alone, without a leading space), and the start is
the mean over the token's words. Input embeddings, and output embeddings when they are not tied
to them, are initialised the same way (each from its own matrix), with independent noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ConfigError
from ..format import BLOCK_END, BLOCK_START, SPECIAL_TOKENS, SUMMARY_END, SUMMARY_START
from .masks import MementoTokenIds

RELATED_WORDS: dict[str, tuple[str, ...]] = {
    BLOCK_START: ("block", "start", "begin", "section", "step"),
    BLOCK_END: ("block", "end", "finish", "section", "done"),
    SUMMARY_START: ("summary", "summarize", "brief", "recap", "overview"),
    SUMMARY_END: ("summary", "end", "finish", "done", "complete"),
}


@dataclass(frozen=True, slots=True)
class EmbeddingInit:
    """What :func:`add_memento_tokens` did, for the run card."""

    added: tuple[str, ...]                 # tokens that were new to the tokenizer
    token_ids: MementoTokenIds
    rows_before: int                       # embedding rows before any resize
    rows_after: int
    output_initialised: bool               # an untied output matrix got the same treatment

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "token_ids": {t: getattr(self.token_ids, n) for t, n in zip(SPECIAL_TOKENS, _FIELDS)},
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "output_initialised": self.output_initialised,
        }


_FIELDS = ("block_start", "block_end", "summary_start", "summary_end")


def memento_token_ids(tokenizer) -> MementoTokenIds:
    """The ids of the four special tokens; :class:`ConfigError` if the tokenizer lacks one."""
    ids = []
    for token in SPECIAL_TOKENS:
        encoded = tokenizer.encode(token, add_special_tokens=False)
        if len(encoded) != 1:
            raise ConfigError(
                f"the tokenizer splits {token} into {len(encoded)} tokens",
                "stage 1 adds the memento tokens; a stage-2 --init checkpoint must come from stage 1",
            )
        ids.append(encoded[0])
    return MementoTokenIds(*ids)


def word_token_ids(tokenizer, words: tuple[str, ...]) -> list[list[int]]:
    """Each word's token ids, the word tokenised alone without a leading space."""
    return [tokenizer.encode(word, add_special_tokens=False) for word in words]


def _related_mean(matrix: torch.Tensor, per_word: list[list[int]]) -> torch.Tensor:
    rows = [matrix[ids].float().mean(0) for ids in per_word]
    return torch.stack(rows).mean(0)


def add_memento_tokens(model, tokenizer, noise_std: float = 0.01, seed: int = 42) -> EmbeddingInit:
    """Add the special tokens the tokenizer lacks, resize the model if needed, initialise them.

    Tokens already present are left alone (their embeddings are assumed trained). Rows that a
    model already has beyond the tokenizer's length (Qwen3 pads its vocabulary to a multiple of
    128) are reused without a resize.
    """
    from tokenizers import AddedToken

    vocab = tokenizer.get_vocab()
    missing = [t for t in SPECIAL_TOKENS if t not in vocab]
    if missing:
        tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in missing])
    token_ids = memento_token_ids(tokenizer)
    embeddings = model.get_input_embeddings()
    rows_before = embeddings.weight.shape[0]
    if len(tokenizer) > rows_before:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    output = model.get_output_embeddings()
    untied = output is not None and output.weight.data_ptr() != model.get_input_embeddings().weight.data_ptr()
    generator = torch.Generator().manual_seed(seed)
    matrices = [model.get_input_embeddings().weight] + ([output.weight] if untied else [])
    with torch.no_grad(), _gathered(matrices):
        for matrix in matrices:
            for token in missing:
                target = _related_mean(matrix, word_token_ids(tokenizer, RELATED_WORDS[token]))
                noise = torch.randn(target.shape, generator=generator) * noise_std
                matrix[tokenizer.convert_tokens_to_ids(token)] = (target + noise.to(target.device)).to(matrix.dtype)
    return EmbeddingInit(
        added=tuple(missing),
        token_ids=token_ids,
        rows_before=rows_before,
        rows_after=model.get_input_embeddings().weight.shape[0],
        output_initialised=bool(missing) and untied,
    )


def _gathered(params: list[torch.Tensor]):
    # Under DeepSpeed ZeRO-3 the matrices are partitioned from loading on: gather them to edit
    # (rank 0's edit is broadcast; the seeded noise is the same on every rank anyway).
    from contextlib import nullcontext

    from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled

    if not is_deepspeed_zero3_enabled():
        return nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters(params, modifier_rank=0)
