"""The stage-2 memento attention mask: metadata from token ids, then a dense or a block mask.

**The rule.** A block ``b`` is the span from its ``<|block_start|>`` (position ``s``) to its
``<|summary_end|>`` (position ``z``), ``<|block_end|>`` at ``e`` and ``<|summary_start|>`` at ``m``
in between. Its tokens have one of three roles:

- *content*: ``s < k < e``, the block's reasoning text;
- *delimiter*: ``s``, ``e`` and whatever lies between ``e`` and ``m`` (the ``\\n``);
- *memento*: ``m <= k <= z``, the summary with its two tags.

Every other token (the prompt, ``<think>``, the ``\\n`` between blocks, ``</think>``, the answer,
padding) is *outside*. Attention is causal, and a query at position ``q`` also cannot see key
``k`` when ``k`` is the content of a block ``b`` that is *finished* at ``q`` (``z_b <= q``) and not
one of the ``keep_last_n_blocks`` most recently finished ones. With ``mask_delimiters`` the
delimiters of such a block are hidden too. So the memento tokens, while being written, still
see their block; from ``<|summary_end|>`` on, only the memento stands for it; the prompt and
every memento stay visible to the end. Position ids are never renumbered. Hiding acts on
attention only: the memento's own states, computed while it still saw its block, carry what
the block said onward, which is what lets inference drop the block's KV cache.

With ids ``1..4`` for the four special tokens and ``9`` for text (P = prompt, A = answer)::

    >>> import torch
    >>> ids = torch.tensor([[9, 1, 9, 2, 3, 9, 4, 1, 9, 2, 3, 9, 4, 9]])
    >>> meta = mask_metadata(ids, MementoTokenIds(1, 2, 3, 4))
    >>> meta.role.tolist()  # 0 outside, 1 delimiter, 2 content, 3 memento
    [[0, 1, 2, 1, 3, 3, 3, 1, 2, 1, 3, 3, 3, 0]]
    >>> meta.block.tolist()
    [[-1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, -1]]
    >>> meta.done.tolist()  # blocks finished at or before each position
    [[0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2]]
    >>> names = "P bs c be ss m se bs c be ss m se A".split()
    >>> print(picture(visible(meta)[0], names))  # row q, column k: x = q sees k
    P  x.............
    bs xx............
    c  xxx...........
    be xxxx..........
    ss xxxxx.........
    m  xxxxxx........
    se xx.xxxx.......
    bs xx.xxxxx......
    c  xx.xxxxxx.....
    be xx.xxxxxxx....
    ss xx.xxxxxxxx...
    m  xx.xxxxxxxxx..
    se xx.xxxxx.xxxx.
    A  xx.xxxxx.xxxxx

The metadata is computed with cumulative sums over the ids of the special tokens (no text is
re-parsed). :func:`dense_mask` turns it into an additive float mask ``[B, 1, T, T]`` (0 or the
dtype's minimum: eager attention needs a float mask, a bool one is silently wrong there);
:func:`flex_block_mask` into a FlexAttention ``BlockMask`` whose tiles are classified from
per-tile summaries of the metadata, so it never builds a ``T x T`` tensor.
:func:`reference_visible` is the slow token-by-token definition the tests compare against.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

OUTSIDE, DELIMITER, CONTENT, MEMENTO = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class MementoTokenIds:
    """Token ids of ``<|block_start|>``, ``<|block_end|>``, ``<|summary_start|>``, ``<|summary_end|>``."""

    block_start: int
    block_end: int
    summary_start: int
    summary_end: int


@dataclass(frozen=True, slots=True)
class MaskPolicy:
    """The stage-2 options: hide delimiters too; keep the last N finished blocks visible."""

    mask_delimiters: bool = False
    keep_last_n_blocks: int = 0


@dataclass(frozen=True, slots=True)
class MaskMetadata:
    """Per-token tensors, each ``[B, T]``: block index (-1 outside), role, finished-block count."""

    block: torch.Tensor
    role: torch.Tensor
    done: torch.Tensor

    def to(self, device: torch.device | str) -> "MaskMetadata":
        return MaskMetadata(self.block.to(device), self.role.to(device), self.done.to(device))


def mask_metadata(input_ids: torch.Tensor, ids: MementoTokenIds) -> MaskMetadata:
    """Block index, role and finished-block count of every token, from the special-token ids.

    Well-formed sequences (as the data step guarantees, possibly cut short by truncation) get
    the roles of the module docstring; a block cut before its ``<|summary_end|>`` is never
    finished, so nothing of it is hidden.
    """
    is_bs, is_be = input_ids == ids.block_start, input_ids == ids.block_end
    is_ss, is_se = input_ids == ids.summary_start, input_ids == ids.summary_end
    n_bs = is_bs.cumsum(-1, dtype=torch.int32)
    n_be = is_be.cumsum(-1, dtype=torch.int32)
    n_ss = is_ss.cumsum(-1, dtype=torch.int32)
    n_se = is_se.cumsum(-1, dtype=torch.int32)
    n_se_before = n_se - is_se.to(torch.int32)
    in_block = n_bs > n_se_before
    content = (n_bs > n_be) & ~is_bs
    memento = n_ss > n_se_before
    role = torch.full_like(input_ids, OUTSIDE, dtype=torch.int8)
    role[in_block] = DELIMITER
    role[content] = CONTENT
    role[memento] = MEMENTO
    block = torch.where(in_block, n_bs - 1, torch.full_like(n_bs, -1))
    return MaskMetadata(block=block, role=role, done=n_se)


def _hideable(meta: MaskMetadata, policy: MaskPolicy) -> torch.Tensor:
    hide = meta.role == CONTENT
    if policy.mask_delimiters:
        hide |= meta.role == DELIMITER
    return hide


def _visible_rows(meta: MaskMetadata, policy: MaskPolicy, hide: torch.Tensor, q0: int, q1: int) -> torch.Tensor:
    t = meta.block.shape[-1]
    q = torch.arange(q0, q1, device=meta.block.device)[:, None]
    k = torch.arange(t, device=meta.block.device)[None, :]
    limit = meta.done[:, q0:q1, None] - policy.keep_last_n_blocks
    hidden = hide[:, None, :] & (meta.block[:, None, :] < limit)
    return (k <= q)[None] & ~hidden


def visible(meta: MaskMetadata, policy: MaskPolicy = MaskPolicy()) -> torch.Tensor:
    """``[B, T, T]`` bool: ``[b, q, k]`` is True when query ``q`` may attend to key ``k``."""
    t = meta.block.shape[-1]
    return _visible_rows(meta, policy, _hideable(meta, policy), 0, t)


def dense_mask(
    meta: MaskMetadata,
    policy: MaskPolicy = MaskPolicy(),
    dtype: torch.dtype = torch.float32,
    rows_per_chunk: int = 2048,
) -> torch.Tensor:
    """Additive float mask ``[B, 1, T, T]``: 0 where visible, ``finfo(dtype).min`` elsewhere.

    Built a slab of query rows at a time, so the peak is the output plus one slab of bools.
    """
    b, t = meta.block.shape
    hide = _hideable(meta, policy)
    out = torch.zeros(b, 1, t, t, dtype=dtype, device=meta.block.device)
    low = torch.finfo(dtype).min
    for q0 in range(0, t, rows_per_chunk):
        q1 = min(t, q0 + rows_per_chunk)
        out[:, 0, q0:q1].masked_fill_(~_visible_rows(meta, policy, hide, q0, q1), low)
    return out


def mask_mod(meta: MaskMetadata, policy: MaskPolicy = MaskPolicy()):
    """The FlexAttention ``mask_mod`` of the rule: ``(b, h, q, k) -> visible``."""
    hide = _hideable(meta, policy)
    block, done, keep = meta.block, meta.done, policy.keep_last_n_blocks

    def memento_mask(b, h, q_idx, kv_idx):
        hidden = hide[b, kv_idx] & (block[b, kv_idx] < done[b, q_idx] - keep)
        return (kv_idx <= q_idx) & ~hidden

    return memento_mask


def _tile_stats(meta: MaskMetadata, hide: torch.Tensor, size: int):
    # Pad to whole tiles; padded keys are never hideable, padded queries repeat the last count.
    b, t = meta.block.shape
    n = -(-t // size)
    pad = n * size - t
    block = torch.nn.functional.pad(meta.block, (0, pad), value=-1).view(b, n, size)
    hide = torch.nn.functional.pad(hide, (0, pad), value=False).view(b, n, size)
    done = torch.cat([meta.done, meta.done[:, -1:].expand(b, pad)], dim=1).view(b, n, size)
    big = torch.iinfo(torch.int32).max
    hidden_blocks = torch.where(hide, block, torch.full_like(block, big))
    k_min = hidden_blocks.amin(-1)                               # smallest hideable block in the key tile
    k_max = torch.where(hide, block, torch.full_like(block, -1)).amax(-1)
    k_all = hide.all(-1)                                         # every key of the tile is hideable
    q_min, q_max = done[..., 0], done[..., -1]                   # done never decreases along q
    return n, k_min, k_max, k_all, q_min, q_max


def flex_block_mask(meta: MaskMetadata, policy: MaskPolicy = MaskPolicy(), block_size: int = 128):
    """A FlexAttention ``BlockMask`` for the rule, built in O(T + (T/block_size)^2).

    A tile (query tile ``i``, key tile ``j``) is *empty* when it lies above the diagonal or every
    key in it is hidden from every query in it; *full* when it lies below the diagonal and no key
    in it can be hidden from any query in it; *partial* otherwise (``mask_mod`` decides per
    token). Being conservative (partial when unsure) keeps it exact.
    """
    from torch.nn.attention.flex_attention import BlockMask

    b, t = meta.block.shape
    hide = _hideable(meta, policy)
    n, k_min, k_max, k_all, q_min, q_max = _tile_stats(meta, hide, block_size)
    keep = policy.keep_last_n_blocks
    i = torch.arange(n, device=meta.block.device)
    below, above = i[None, :] < i[:, None], i[None, :] > i[:, None]       # [n_q, n_k]
    maybe_hidden = k_min[:, None, :] < (q_max[:, :, None] - keep)          # [b, n_q, n_k]
    all_hidden = k_all[:, None, :] & (k_max[:, None, :] < (q_min[:, :, None] - keep))
    full = below[None] & ~maybe_hidden
    empty = above[None] | all_hidden
    partial = ~full & ~empty

    def ordered(flags: torch.Tensor):
        # indices of the set tiles first (in order), then the rest; counts per query tile
        counts = flags.sum(-1, dtype=torch.int32)
        order = torch.argsort((~flags).to(torch.int8), dim=-1, stable=True).to(torch.int32)
        return counts[:, None], order[:, None]

    kv_num, kv_idx = ordered(partial)
    full_num, full_idx = ordered(full)
    return BlockMask.from_kv_blocks(
        kv_num, kv_idx, full_num, full_idx, BLOCK_SIZE=block_size,
        mask_mod=mask_mod(meta, policy), seq_lengths=(t, t),
    )


def reference_visible(ids: list[int], token_ids: MementoTokenIds, policy: MaskPolicy = MaskPolicy()) -> list[list[bool]]:
    """The rule applied token by token, from the definition (slow; for tests)."""
    spans = []  # (s, e, m, z) of each block, z = None while unfinished
    current: dict[str, int] = {}
    for pos, tok in enumerate(ids):
        if tok == token_ids.block_start:
            current = {"s": pos}
        elif tok == token_ids.block_end and "s" in current:
            current["e"] = pos
        elif tok == token_ids.summary_start and "e" in current:
            current["m"] = pos
        elif tok == token_ids.summary_end and "m" in current:
            current["z"] = pos
            spans.append(current)
            current = {}

    def hidden_keys(block: dict[str, int]) -> set[int]:
        keys = set(range(block["s"] + 1, block["e"]))
        if policy.mask_delimiters:
            keys |= {block["s"]} | set(range(block["e"], block["m"]))
        return keys

    t = len(ids)
    rows = []
    for q in range(t):
        finished = [blk for blk in spans if blk["z"] <= q]
        to_hide = finished[: max(0, len(finished) - policy.keep_last_n_blocks)]
        hidden = set().union(*(hidden_keys(blk) for blk in to_hide)) if to_hide else set()
        rows.append([k <= q and k not in hidden for k in range(t)])
    return rows


def picture(visible_2d: torch.Tensor, labels: list[str] | None = None) -> str:
    """Draw a ``[T, T]`` visibility matrix, one query per line (x visible, . hidden)."""
    rows = visible_2d.tolist()
    labels = labels or [str(i) for i in range(len(rows))]
    width = max(len(label) for label in labels)
    return "\n".join(f"{label:<{width}} " + "".join("x" if v else "." for v in row) for label, row in zip(labels, rows))
