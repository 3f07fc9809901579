"""Dropping KV entries from a transformers ``DynamicCache``, in every layer, and knowing what is left.

The cache stores each layer's keys and values as ``[batch, kv_heads, slots, head_dim]``. A
:class:`SlotTable` beside it holds the original position of the entry in every slot (-1 for an
empty slot: left padding of a ragged batch, or an entry dropped but not yet compacted away).
Attention is driven by it alone: the additive mask of a step lets a query see a slot when the
slot is live and its position is not after the query's, and RoPE gets the original positions, so
slot order never matters and nothing is renumbered.
"""

from __future__ import annotations

import torch


def _layers(cache) -> list:
    layers = getattr(cache, "layers", None)
    if layers is None:
        raise TypeError(f"{type(cache).__name__} has no per-layer storage this decoder knows (transformers >= 5)")
    for layer in layers:
        if getattr(layer, "is_sliding", False) or not hasattr(layer, "keys"):
            raise TypeError(f"cannot drop entries from a {type(layer).__name__}: only full-attention DynamicLayers")
    return layers


def select_slots(cache, index: torch.Tensor) -> None:
    """Keep, in every layer, the slots ``index`` (``[batch, n]``, per row) along the sequence dim."""
    for layer in _layers(cache):
        if not getattr(layer, "is_initialized", True) or layer.keys is None or layer.keys.numel() == 0:
            continue
        b, h, _, d = layer.keys.shape
        gather = index.to(layer.keys.device)[:, None, :, None].expand(b, h, index.shape[1], d)
        layer.keys = layer.keys.gather(2, gather)
        layer.values = layer.values.gather(2, gather.expand(b, h, index.shape[1], layer.values.shape[-1]))


def cache_length(cache) -> int:
    """Slots per row that the cache holds (the length of every layer's sequence dim)."""
    return cache.get_seq_length()


class SlotTable:
    """Original positions of the entries in a cache's slots, ``[batch, slots]``, -1 when empty."""

    def __init__(self, batch: int, device: torch.device | str = "cpu") -> None:
        self.pos = torch.empty(batch, 0, dtype=torch.long, device=device)
        self.dirty = False                     # some slot is empty: compact() would free it

    @property
    def live(self) -> list[int]:
        """Live entries per row."""
        return (self.pos >= 0).sum(1).tolist()

    def append(self, positions: torch.Tensor) -> None:
        """Add the slots of one forward's inputs (``[batch, q]``, -1 for padding)."""
        self.pos = torch.cat([self.pos, positions.to(self.pos.device)], dim=1)
        self.dirty |= bool((positions < 0).any())

    def drop(self, row: int, ranges) -> int:
        """Mark the slots of row ``row`` holding any position in ``ranges`` empty; how many were live."""
        pos = self.pos[row]
        hit = torch.zeros_like(pos, dtype=torch.bool)
        for r in ranges:
            if len(r):
                hit |= (pos >= r.start) & (pos < r.stop)
        count = int(hit.sum())
        if count:
            pos[hit] = -1
            self.dirty = True
        return count

    def mask(self, query_pos: torch.Tensor, dtype: torch.dtype, within: torch.Tensor | None = None) -> torch.Tensor:
        """The additive mask ``[batch, 1, q, slots]`` of queries at ``query_pos`` (``[batch, q]``).

        A query sees a live slot whose position is not after its own; ``within`` (``[batch, q,
        slots]`` bool) may hide more. Eager attention needs this float form (a bool mask is
        silently misread there); padding queries (-1) see nothing and their outputs are unused.
        """
        keys = self.pos[:, None, :]
        visible = (keys >= 0) & (keys <= query_pos[:, :, None])
        if within is not None:
            visible &= within
        out = torch.zeros(visible.shape, dtype=dtype, device=self.pos.device)
        return out.masked_fill_(~visible, torch.finfo(dtype).min)[:, None]

    def compact(self, cache) -> None:
        """Free empty slots: each row's live slots move to the front (in order), the cache shrinks
        to the longest row's live count, in every layer."""
        if not self.dirty:
            return
        live = self.pos >= 0
        keep = int(live.sum(1).max()) if live.numel() else 0
        order = torch.argsort((~live).to(torch.int8), dim=1, stable=True)[:, :keep]
        select_slots(cache, order)
        self.pos = self.pos.gather(1, order)
        self.dirty = bool((self.pos < 0).any())

    def select_rows(self, cache, rows: list[int]) -> None:
        """Keep only the batch rows ``rows`` (finished rows leave the batch)."""
        index = torch.tensor(rows, dtype=torch.long, device=self.pos.device)
        cache.batch_select_indices(index)
        self.pos = self.pos[index]
        self.dirty = bool((self.pos < 0).any())
        self.compact(cache)
