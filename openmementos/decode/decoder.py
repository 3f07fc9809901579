"""A reference MEMENTO decoder on Hugging Face transformers: its own loop over a ``DynamicCache``.

Each step feeds every unfinished sequence its next token, reads the logits and picks the token
after (sampled, or given when teacher forcing). A :class:`~openmementos.decode.blocks.BlockTracker`
per sequence follows the four memento tokens; when a ``<|summary_end|>`` is picked, the KV
entries the mode drops (the block's content; its delimiters too with ``mask_delimiters``) leave
every layer *before* that token is fed, which is exactly where the stage-2 training mask starts
hiding them. Kept entries keep their original positions: RoPE gets explicit ``position_ids``
and the attention mask is built from the positions of the live slots
(:class:`~openmementos.decode.kvcache.SlotTable`), never from slot indices.

A prompt that already holds finished blocks is prefilled under the stage-2 mask
(:mod:`openmementos.train.masks`), then its dropped entries leave the cache before the first
step, so every mode sees a state equal to having decoded the prompt itself.

    >>> decoder = MementoDecoder.from_tokenizer(model, tokenizer)                # doctest: +SKIP
    >>> [gen] = decoder.generate([prompt_ids], DecodeConfig(mode="memento"))    # doctest: +SKIP
    >>> gen.metrics.peak_kv_tokens, gen.live[:3]                                 # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from .. import format as fmt
from ..errors import ConfigError
from ..train.masks import MaskPolicy, MementoTokenIds, mask_metadata, visible
from .blocks import CONTENT, Block, BlockTracker, Mode
from .config import DecodeConfig
from .kvcache import SlotTable, cache_length
from .metrics import GenerationMetrics, KVLedger


@dataclass(frozen=True, slots=True)
class Generation:
    """One sequence's result; ``live[t]`` is the KV entries step ``t`` read, ``slots[t]`` the
    cache's length (per row, the batch's longest live row) at that step."""

    prompt_ids: tuple[int, ...]
    token_ids: tuple[int, ...]
    finish_reason: str                      # stop, length, or forced (the given tokens ran out)
    metrics: GenerationMetrics
    blocks: tuple[Block, ...]               # blocks closed in the generated part
    live: tuple[int, ...]
    slots: tuple[int, ...]
    logits: torch.Tensor | None = None      # [steps, vocab] float32, with keep_logits


@dataclass
class _Row:
    prompt: list[int]
    tracker: BlockTracker
    generator: torch.Generator | None
    forced: list[int] | None
    tokens: list[int] = field(default_factory=list)        # every token by position: prompt, then generated
    live: list[int] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)
    logits: list[torch.Tensor] = field(default_factory=list)
    ledger: KVLedger = field(default_factory=KVLedger)
    forced_block_ends: int = 0
    evict_seconds: float = 0.0
    seconds: float = 0.0
    finish: str | None = None
    prompt_blocks: int = 0
    prompt_violations: int = 0

    @property
    def generated(self) -> list[int]:
        return self.tokens[len(self.prompt):]


def sample(logits: torch.Tensor, config: DecodeConfig, generator: torch.Generator | None) -> int:
    """One token id from ``[vocab]`` logits: greedy at temperature 0, else top-k, then top-p."""
    if config.temperature <= 0:
        return int(logits.argmax())
    # cut first: scaling by a positive temperature keeps the order, and a full-vocabulary
    # division costs more than the whole top-k
    if 0 < config.top_k < logits.shape[-1]:
        values, index = logits.topk(config.top_k)
    else:
        values, index = logits.sort(descending=True)
    probs = torch.softmax(values.float() / config.temperature, -1)
    if config.top_p < 1:
        # keep the smallest prefix whose mass reaches top_p (the first token always)
        probs = probs * ((probs.cumsum(-1) - probs) < config.top_p)
    return int(index[torch.multinomial(probs, 1, generator=generator)])


class MementoDecoder:
    """Generation with per-block KV eviction for any causal LM whose cache is a ``DynamicCache``."""

    def __init__(self, model, token_ids: MementoTokenIds, stop_ids=(), pad_id: int = 0) -> None:
        self.model = model
        self.token_ids = token_ids
        self.stop_ids = frozenset(int(i) for i in stop_ids)
        self.pad_id = pad_id
        self.kinds = {token_ids.block_start: fmt.BLOCK_START, token_ids.block_end: fmt.BLOCK_END,
                      token_ids.summary_start: fmt.SUMMARY_START, token_ids.summary_end: fmt.SUMMARY_END}

    @classmethod
    def from_tokenizer(cls, model, tokenizer, require_tokens: bool = True) -> "MementoDecoder":
        """Token ids from the tokenizer (a ``train-sft`` model's has the memento tokens); stops at
        its end-of-sequence tokens and the model's ``eos_token_id``. Without ``require_tokens``
        a tokenizer lacking them gets ids no token has (a base model decodes as in ``full``)."""
        from ..train.tokens import memento_token_ids

        stops = set()
        for ids in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
            stops.update(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
        for name in ("<|im_end|>", "<|endoftext|>"):
            token = tokenizer.convert_tokens_to_ids(name)
            if isinstance(token, int) and token != tokenizer.unk_token_id:
                stops.add(token)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(stops, default=0)
        try:
            token_ids = memento_token_ids(tokenizer)
        except ConfigError:
            if require_tokens:
                raise
            token_ids = MementoTokenIds(-1, -2, -3, -4)
        return cls(model, token_ids, stops, pad)

    # -- the loop ------------------------------------------------------------------------------

    @torch.inference_mode()
    def generate(
        self,
        prompts: list[list[int]],
        config: DecodeConfig = DecodeConfig(),
        *,
        forced: list[list[int]] | None = None,
        seeds: list[int] | None = None,
        keep_logits: bool = False,
    ) -> list[Generation]:
        """Decode every prompt (a batch; ragged lengths are left-padded).

        ``forced``: per prompt, the tokens to emit instead of sampling (teacher forcing; the row
        stops after the last one). ``seeds``: per prompt, the sampling seed (default
        ``config.seed + index``), so a row's tokens do not depend on its batch.
        """
        if not prompts or any(not p for p in prompts):
            raise ConfigError("every prompt needs at least one token")
        if forced is not None and (len(forced) != len(prompts) or any(not f for f in forced)):
            raise ConfigError("forced needs one non-empty token list per prompt")
        mode = Mode.parse(config.mode)
        device = self.model.device
        rows = []
        for i, prompt in enumerate(prompts):
            generator = None
            if config.temperature > 0 and forced is None:
                generator = torch.Generator(device=device).manual_seed(seeds[i] if seeds else config.seed + i)
            rows.append(_Row(list(prompt), BlockTracker(mode, config.mask_delimiters), generator,
                             list(forced[i]) if forced else None, tokens=list(prompt)))
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        slots = SlotTable(len(rows), device)
        start = time.perf_counter()
        logits = self._prefill(cache, slots, rows, mode, config)
        active = list(range(len(rows)))
        while active:
            chunks, positions, keep = [], [], []
            evicting = False
            live, length = slots.live, cache_length(cache)
            for i, r in enumerate(active):
                row = rows[r]
                row.live.append(live[i])
                row.slots.append(length)
                row.ledger.add(live[i])
                if keep_logits:
                    row.logits.append(logits[i].float().cpu())
                token = self._choose(row, logits[i], config)
                row.tokens.append(token)
                closing = row.tracker.push(self.kinds.get(token))
                row.finish = self._finish(row, token, config)
                if row.finish is not None:
                    row.seconds = time.perf_counter() - start
                    continue
                keep.append(i)
                chunk, where = [token], [row.tracker.position - 1]
                if closing is not None and (closing.evict or len(closing.recompute)):
                    tick = time.perf_counter()
                    slots.drop(i, closing.evict + (closing.recompute,))
                    chunk = [row.tokens[p] for p in closing.recompute] + chunk
                    where = list(closing.recompute) + where
                    row.evict_seconds += time.perf_counter() - tick
                    evicting = True
                chunks.append(chunk)
                positions.append(where)
            if len(keep) < len(active):
                if not keep:
                    break
                slots.select_rows(cache, keep)
                active = [active[i] for i in keep]
            if evicting:
                tick = time.perf_counter()
                slots.compact(cache)
                share = (time.perf_counter() - tick) / len(active)
                for r in active:
                    rows[r].evict_seconds += share
            logits = self._forward(cache, slots, chunks, positions)
        return [self._result(row, mode, config, keep_logits) for row in rows]

    def _prefill(self, cache, slots: SlotTable, rows: list[_Row], mode: Mode, config: DecodeConfig) -> torch.Tensor:
        within = None
        if mode.evicts and any(t in self.kinds for row in rows for t in row.prompt):
            # a prompt holding blocks: prefill under the stage-2 mask (left padding is text to it)
            width = max(len(row.prompt) for row in rows)
            ids = torch.tensor([[self.pad_id] * (width - len(row.prompt)) + row.prompt for row in rows])
            policy = MaskPolicy(config.mask_delimiters, mode.keep_last_n or 0)
            within = visible(mask_metadata(ids, self.token_ids), policy).to(slots.pos.device)
        logits = self._forward(cache, slots, [row.prompt for row in rows], [list(range(len(row.prompt))) for row in rows], within)
        for i, row in enumerate(rows):
            for token in row.prompt:
                closing = row.tracker.push(self.kinds.get(token))
                if closing is not None and closing.evict:
                    slots.drop(i, closing.evict)
            row.prompt_blocks, row.prompt_violations = len(row.tracker.blocks), row.tracker.violations
        slots.compact(cache)
        return logits

    def _forward(self, cache, slots: SlotTable, chunks: list[list[int]], positions: list[list[int]],
                 within: torch.Tensor | None = None) -> torch.Tensor:
        """Feed one chunk per row (left-padded to the longest); the logits after each row's last token."""
        width = max(len(c) for c in chunks)
        ids = torch.full((len(chunks), width), self.pad_id, dtype=torch.long)
        pos = torch.full((len(chunks), width), -1, dtype=torch.long)
        for i, (chunk, where) in enumerate(zip(chunks, positions)):
            ids[i, width - len(chunk):] = torch.tensor(chunk)
            pos[i, width - len(chunk):] = torch.tensor(where)
        device = slots.pos.device
        ids, pos = ids.to(device), pos.to(device)
        slots.append(pos)
        mask = slots.mask(pos, self.model.dtype, within)
        out = self.model(input_ids=ids, position_ids=pos.clamp(min=0), attention_mask=mask, cache=cache,
                         use_cache=True, logits_to_keep=1)
        return out.logits[:, -1]

    def _choose(self, row: _Row, logits: torch.Tensor, config: DecodeConfig) -> int:
        if row.forced is not None:
            return row.forced[len(row.generated)]
        if (config.max_block_tokens is not None and row.tracker.state == CONTENT
                and row.tracker.open_content_tokens >= config.max_block_tokens):
            row.forced_block_ends += 1
            return self.token_ids.block_end
        return sample(logits, config, row.generator)

    def _finish(self, row: _Row, token: int, config: DecodeConfig) -> str | None:
        produced = len(row.generated)
        if token in self.stop_ids:
            return "stop"
        if row.forced is not None and produced >= len(row.forced):
            return "forced"
        if produced >= config.max_new_tokens:
            return "length"
        return None

    def _result(self, row: _Row, mode: Mode, config: DecodeConfig, keep_logits: bool) -> Generation:
        blocks = tuple(row.tracker.blocks[row.prompt_blocks:])
        metrics = GenerationMetrics(
            mode=mode.name,
            prompt_tokens=len(row.prompt),
            generated_tokens=len(row.generated),
            blocks=len(blocks),
            block_tokens=sum(b.content_tokens for b in blocks),
            memento_tokens=sum(b.memento_tokens for b in blocks),
            forced_block_ends=row.forced_block_ends,
            violations=row.tracker.violations - row.prompt_violations,
            peak_kv_tokens=row.ledger.peak,
            kv_auc_tokens=row.ledger.auc,
            seconds=row.seconds,
            evict_seconds=row.evict_seconds,
        )
        logits = torch.stack(row.logits) if keep_logits and row.logits else None
        return Generation(tuple(row.prompt), tuple(row.generated), row.finish or "length", metrics, blocks,
                          tuple(row.live), tuple(row.slots), logits)
