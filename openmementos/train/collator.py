"""Batches for both stages: right padding, explicit position ids, and stage-2 mask metadata.

Padding goes on the right, so under causal attention no real token ever sees a pad token and
the padding needs no mask of its own. Position ids are each token's original position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .data import IGNORE
from .masks import MementoTokenIds, mask_metadata

METADATA_KEYS = ("memento_block", "memento_role", "memento_done")


@dataclass
class MementoCollator:
    """Pad ``{"input_ids", "labels"}`` examples into tensors; with ``token_ids``, add the metadata
    the stage-2 mask is built from (see :mod:`openmementos.train.masks`).

    >>> collator = MementoCollator(pad_token_id=0, token_ids=MementoTokenIds(1, 2, 3, 4))
    >>> batch = collator([
    ...     {"input_ids": [7, 1, 8, 2, 3, 9, 4, 5], "labels": [-100, 1, 8, 2, 3, 9, 4, 5]},
    ...     {"input_ids": [7, 1, 8, 2, 3], "labels": [-100, 1, 8, 2, 3]},
    ... ])
    >>> for key, value in batch.items():
    ...     print(f"{key}: {value.tolist()}")
    input_ids: [[7, 1, 8, 2, 3, 9, 4, 5], [7, 1, 8, 2, 3, 0, 0, 0]]
    labels: [[-100, 1, 8, 2, 3, 9, 4, 5], [-100, 1, 8, 2, 3, -100, -100, -100]]
    attention_mask: [[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0]]
    position_ids: [[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 5, 6, 7]]
    memento_block: [[-1, 0, 0, 0, 0, 0, 0, -1], [-1, 0, 0, 0, 0, 0, 0, 0]]
    memento_role: [[0, 1, 2, 1, 3, 3, 3, 0], [0, 1, 2, 1, 3, 3, 3, 3]]
    memento_done: [[0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0]]

    The second row was cut inside its memento: its block is never finished, so nothing of it is
    hidden (pad tokens after it only matter to other pad tokens). Without ``token_ids`` (stage
    1) the last three keys are absent and attention is plain causal.
    """

    pad_token_id: int
    token_ids: MementoTokenIds | None = None
    pad_to_multiple_of: int | None = None

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        longest = max(len(e["input_ids"]) for e in examples)
        if self.pad_to_multiple_of:
            longest = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = torch.full((len(examples), longest), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(examples), longest), IGNORE, dtype=torch.long)
        attention = torch.zeros((len(examples), longest), dtype=torch.long)
        for i, example in enumerate(examples):
            n = len(example["input_ids"])
            input_ids[i, :n] = torch.as_tensor(example["input_ids"])
            labels[i, :n] = torch.as_tensor(example["labels"])
            attention[i, :n] = 1
        batch = {
            "input_ids": input_ids,
            "labels": labels,
            "attention_mask": attention,
            "position_ids": torch.arange(longest).expand(len(examples), longest).clone(),
        }
        if self.token_ids is not None:
            meta = mask_metadata(input_ids, self.token_ids)
            batch.update(memento_block=meta.block, memento_role=meta.role, memento_done=meta.done)
        return batch
