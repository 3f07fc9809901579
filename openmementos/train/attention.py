"""The stage-2 forward: the model takes the collator's mask metadata and builds its own mask.

:func:`attach_memento_attention` wraps ``model.forward`` (as TRL's fused LM head does) so that a
batch carrying ``memento_block``, ``memento_role`` and ``memento_done`` is run with the memento
mask as ``attention_mask``: a dense additive ``[B, 1, T, T]`` mask for SDPA or eager attention,
or a FlexAttention ``BlockMask``. The mask is built on the batch's device, in the dtype the
attention scores will have, so nothing of size ``T x T`` crosses from the data loader. It runs
unchanged under DDP, FSDP and DeepSpeed, which call the module and so this forward.
"""

from __future__ import annotations

import functools
import types

import torch

from .masks import MaskMetadata, MaskPolicy, dense_mask, flex_block_mask

IMPLEMENTATIONS = ("dense", "flex")


def attention_implementation(kind: str, dense_backend: str = "sdpa") -> str:
    """The transformers ``attn_implementation`` that applies a mask of ``kind``."""
    return "flex_attention" if kind == "flex" else dense_backend


def build_mask(meta: MaskMetadata, policy: MaskPolicy, kind: str, dtype: torch.dtype):
    """The mask of ``kind`` ('dense' or 'flex') for a batch's metadata."""
    if kind == "flex":
        return flex_block_mask(meta, policy)
    return dense_mask(meta, policy, dtype=dtype)


def _score_dtype(model, device: torch.device) -> torch.dtype:
    # Under autocast the attention scores take the autocast dtype, not the weights' dtype.
    if torch.is_autocast_enabled(device.type):
        return torch.get_autocast_dtype(device.type)
    return model.dtype


def attach_memento_attention(model, policy: MaskPolicy, kind: str) -> None:
    """Make ``model(..., memento_block=, memento_role=, memento_done=)`` use the memento mask.

    Attach it after the trainer has added its own forward wrappers, so that this one is the
    outermost and the metadata never reaches the backbone. A call without the metadata (e.g.
    ``generate``) runs the plain forward.
    """
    if kind not in IMPLEMENTATIONS:
        raise ValueError(f"kind must be one of {IMPLEMENTATIONS}, not {kind!r}")
    inner = model.forward

    @functools.wraps(type(model).forward)
    def forward(self, *args, memento_block=None, memento_role=None, memento_done=None, **kwargs):
        if memento_block is not None:
            meta = MaskMetadata(memento_block, memento_role, memento_done)
            device = memento_block.device
            kwargs["attention_mask"] = build_mask(meta, policy, kind, _score_dtype(self, device))
        return inner(*args, **kwargs)

    model.forward = types.MethodType(forward, model)
    model.memento_attention = (kind, policy)   # lets a caller (and the tests) see what is attached
