"""The reference decoder on a tiny random Qwen3: step-by-step logits with eviction equal one forward
pass under the stage-2 training mask, entries really leave every layer, positions are kept."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from openmementos.decode.blocks import BlockTracker, Mode  # noqa: E402
from openmementos.decode.config import DecodeConfig  # noqa: E402
from openmementos.decode.decoder import MementoDecoder  # noqa: E402
from openmementos.decode.kvcache import SlotTable, select_slots  # noqa: E402
from openmementos.decode.replay import account  # noqa: E402
from openmementos.errors import ConfigError  # noqa: E402
from openmementos.train.masks import MaskPolicy, MementoTokenIds, dense_mask, mask_metadata, reference_visible  # noqa: E402
from openmementos.train.random_model import random_qwen3  # noqa: E402

IDS = MementoTokenIds(100, 101, 102, 103)
BS, BE, SS, SE = 100, 101, 102, 103
STOP = 127
VOCAB = 128


def text(rng: random.Random, n: int) -> list[int]:
    return [rng.randrange(5, 99) for _ in range(n)]


def memento_sequence(rng: random.Random, blocks, tail: int = 3, open_block: int = 0) -> list[int]:
    """Blocks of (content, memento) lengths in the render layout, then ``tail`` answer tokens;
    ``open_block`` > 0 ends inside an unfinished block of that many content tokens."""
    out = []
    for content, memento in blocks:
        out += [BS] + text(rng, content) + [BE] + text(rng, 1) + [SS] + text(rng, memento) + [SE] + text(rng, 1)
    if open_block:
        return out + [BS] + text(rng, open_block)
    return out + text(rng, tail)


@pytest.fixture(scope="module")
def model():
    return random_qwen3("tiny", VOCAB, seed=0, attn="eager").float().eval()


@pytest.fixture(scope="module")
def decoder(model):
    return MementoDecoder(model, IDS, stop_ids=(STOP,), pad_id=0)


def reference_logits(model, ids: list[int], policy: MaskPolicy | None) -> torch.Tensor:
    """One forward pass over the whole sequence: causal (policy None) or under the stage-2 mask."""
    batch = torch.tensor([ids])
    mask = None if policy is None else dense_mask(mask_metadata(batch, IDS), policy)
    with torch.no_grad():
        return model(input_ids=batch, attention_mask=mask, position_ids=torch.arange(len(ids))[None]).logits[0]


CASES = [
    # (mode, keep_last_n for the mask or None for causal, mask_delimiters)
    ("full", None, False),
    ("memento", 0, False),
    ("memento", 0, True),
    ("keep-last-1", 1, False),
    ("keep-last-2", 2, True),
]
SEQUENCES = {
    "three blocks": dict(blocks=[(7, 3), (5, 2), (6, 3)]),
    "empty content and memento": dict(blocks=[(0, 0), (4, 1), (3, 0)]),
    "cut inside a block": dict(blocks=[(5, 2), (6, 3)], open_block=4),
}


@pytest.mark.parametrize("mode,keep,delimiters", CASES)
@pytest.mark.parametrize("shape", list(SEQUENCES))
def test_decoder_logits_with_eviction_equal_one_forward_under_the_stage2_mask(model, decoder, mode, keep, delimiters, shape):
    rng = random.Random(hash(shape) % 1000)
    prompt, continuation = text(rng, 6), memento_sequence(rng, **SEQUENCES[shape])
    [gen] = decoder.generate([prompt], DecodeConfig(mode=mode, mask_delimiters=delimiters), forced=[continuation],
                             keep_logits=True)
    policy = None if keep is None else MaskPolicy(delimiters, keep)
    expected = reference_logits(model, prompt + continuation, policy)[len(prompt) - 1:-1]
    assert gen.logits.shape == expected.shape
    assert (gen.logits - expected).abs().max().item() < 1e-4
    if mode != "full" and shape == "three blocks":
        # the same comparison against plain causal attention fails: the test can tell them apart
        assert (gen.logits - reference_logits(model, prompt + continuation, None)[len(prompt) - 1:-1]).abs().max() > 1e-3


def test_equivalence_holds_with_sdpa_attention_too():
    sdpa = random_qwen3("tiny", VOCAB, seed=1, attn="sdpa").float().eval()
    rng = random.Random(5)
    prompt, continuation = text(rng, 4), memento_sequence(rng, [(6, 2), (5, 3)])
    [gen] = MementoDecoder(sdpa, IDS).generate([prompt], DecodeConfig(mode="memento"), forced=[continuation], keep_logits=True)
    expected = reference_logits(sdpa, prompt + continuation, MaskPolicy())[len(prompt) - 1:-1]
    assert (gen.logits - expected).abs().max().item() < 1e-4


def test_a_prompt_holding_finished_blocks_is_prefilled_under_the_mask_and_evicted(model, decoder):
    rng = random.Random(7)
    whole = text(rng, 4) + memento_sequence(rng, [(6, 2), (5, 3), (4, 2)])
    cut = 4 + 2 * 14 - 5          # inside the second block's memento: the first block is finished
    prompt, continuation = whole[:cut], whole[cut:]
    [gen] = decoder.generate([prompt], DecodeConfig(mode="memento"), forced=[continuation], keep_logits=True)
    expected = reference_logits(model, whole, MaskPolicy())[len(prompt) - 1:-1]
    assert (gen.logits - expected).abs().max().item() < 1e-4
    assert gen.live[0] == len(prompt) - 6          # the first block's six content tokens are gone before step 1
    assert len(gen.blocks) == 2                    # blocks closed in the generated part only


@pytest.mark.parametrize("mode", ["memento", "restart", "keep-last-1"])
def test_a_ragged_batch_gives_every_row_its_single_sequence_logits(decoder, mode):
    rng = random.Random(11)
    prompts = [text(rng, 6), text(rng, 2), text(rng, 9)]
    continuations = [memento_sequence(rng, [(5, 2), (4, 3)]), memento_sequence(rng, [(2, 1), (6, 2), (3, 1)]),
                     text(rng, 5)]
    config = DecodeConfig(mode=mode)
    batch = decoder.generate(prompts, config, forced=continuations, keep_logits=True)
    for prompt, continuation, together in zip(prompts, continuations, batch):
        [alone] = decoder.generate([prompt], config, forced=[continuation], keep_logits=True)
        assert together.token_ids == alone.token_ids and together.live == alone.live
        assert (together.logits - alone.logits).abs().max().item() < 1e-4


def test_eviction_frees_the_blocks_entries_at_each_summary_end(decoder):
    rng = random.Random(3)
    prompt = text(rng, 5)
    continuation = memento_sequence(rng, [(8, 2), (6, 2)])
    [full] = decoder.generate([prompt], DecodeConfig(mode="full"), forced=[continuation])
    [mem] = decoder.generate([prompt], DecodeConfig(mode="memento"), forced=[continuation])
    assert full.slots == tuple(range(len(prompt), len(prompt) + len(continuation)))
    # step t reads the cache after feeding generated token t-1; the first <|summary_end|> is token 13
    first_close = continuation.index(SE) + 1
    assert mem.slots[:first_close] == full.slots[:first_close]
    assert mem.slots[first_close] == full.slots[first_close] - 8
    second_close = len(continuation) - continuation[::-1].index(SE)
    assert mem.slots[second_close] == full.slots[second_close] - 8 - 6
    assert mem.slots == mem.live       # one row: the cache holds exactly the live entries
    assert mem.metrics.peak_kv_tokens < full.metrics.peak_kv_tokens


def test_select_slots_shrinks_every_layer_and_keeps_the_chosen_entries(model):
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        model(input_ids=torch.tensor([text(random.Random(0), 10)]), cache=cache, use_cache=True)
    before = [(layer.keys.clone(), layer.values.clone()) for layer in cache.layers]
    keep = torch.tensor([[0, 1, 2, 7, 8, 9]])
    select_slots(cache, keep)
    assert cache.get_seq_length() == 6 and len(cache.layers) == model.config.num_hidden_layers
    for (keys, values), layer in zip(before, cache.layers):
        assert layer.keys.shape[2] == layer.values.shape[2] == 6
        assert torch.equal(layer.keys, keys[:, :, keep[0]]) and torch.equal(layer.values, values[:, :, keep[0]])


def test_slot_table_compacts_each_row_to_its_live_entries(model):
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    slots = SlotTable(2)
    positions = torch.tensor([[-1, -1, 0, 1, 2], [0, 1, 2, 3, 4]])   # row 0 left-padded
    slots.append(positions)
    with torch.no_grad():
        model(input_ids=torch.ones(2, 5, dtype=torch.long), position_ids=positions.clamp(min=0), cache=cache,
              attention_mask=slots.mask(positions, torch.float32), use_cache=True)
    assert slots.drop(1, [range(1, 3)]) == 2
    slots.compact(cache)
    assert slots.live == [3, 3] and cache.get_seq_length() == 3
    assert slots.pos.tolist() == [[0, 1, 2], [0, 3, 4]]


def test_kept_entries_keep_their_original_positions(model, decoder):
    rng = random.Random(4)
    prompt, continuation = text(rng, 5), memento_sequence(rng, [(6, 2), (4, 2)])
    seen = []
    hook = model.register_forward_pre_hook(lambda m, a, kw: seen.append(kw["position_ids"][0].tolist()), with_kwargs=True)
    try:
        decoder.generate([prompt], DecodeConfig(mode="memento"), forced=[continuation])
    finally:
        hook.remove()
    fed = [p for step in seen for p in step]
    assert fed == list(range(len(prompt) + len(continuation) - 1))    # never renumbered, though entries left


def test_restart_differs_from_memento_only_after_the_first_block_closes(decoder):
    rng = random.Random(8)
    prompt, continuation = text(rng, 5), memento_sequence(rng, [(7, 3), (5, 2)])
    [memento] = decoder.generate([prompt], DecodeConfig(mode="memento"), forced=[continuation], keep_logits=True)
    [restart] = decoder.generate([prompt], DecodeConfig(mode="restart"), forced=[continuation], keep_logits=True)
    first_close = continuation.index(SE) + 1
    diff = (memento.logits - restart.logits).abs().amax(-1)
    assert diff[:first_close].max() < 1e-5
    assert diff[first_close:].min() > 1e-4
    assert memento.live == restart.live          # same entries held, computed differently


@pytest.mark.parametrize("delimiters", [False, True])
def test_restart_state_equals_re_encoding_the_kept_tokens_at_their_positions(model, decoder, delimiters):
    rng = random.Random(9)
    prompt, continuation = text(rng, 5), memento_sequence(rng, [(6, 2), (5, 3)])
    whole = prompt + continuation
    [gen] = decoder.generate([prompt], DecodeConfig(mode="restart", mask_delimiters=delimiters), forced=[continuation],
                             keep_logits=True)
    tracker = BlockTracker(Mode.parse("restart"), delimiters)
    dropped: set[int] = set()
    for q, token in enumerate(whole[:-1]):
        closing = tracker.push({BS: "<|block_start|>", BE: "<|block_end|>", SS: "<|summary_start|>", SE: "<|summary_end|>"}.get(token))
        if closing is not None:
            dropped |= {p for r in closing.evict for p in r}
        if q < len(prompt) - 1 or not dropped:
            continue
        kept = [p for p in range(q + 1) if p not in dropped]
        with torch.no_grad():
            fresh = model(input_ids=torch.tensor([[whole[p] for p in kept]]), position_ids=torch.tensor([kept])).logits[0, -1]
            renumbered = model(input_ids=torch.tensor([[whole[p] for p in kept]])).logits[0, -1]
        step = q - (len(prompt) - 1)
        assert (gen.logits[step] - fresh).abs().max().item() < 1e-4
        assert (gen.logits[step] - renumbered).abs().max().item() > 1e-4


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), max_size=4), st.integers(0, 2), st.booleans(),
       st.integers(1, 4), st.integers(0, 3))
def test_live_counts_of_the_tracker_equal_the_row_sums_of_the_mask(blocks, keep, delimiters, prompt, open_block):
    rng = random.Random(0)
    ids = text(rng, prompt) + memento_sequence(rng, blocks, open_block=open_block)
    visible = reference_visible(ids, IDS, MaskPolicy(delimiters, keep))
    tracker = BlockTracker(Mode.parse(f"keep-last-{keep}"), delimiters)
    kinds = {BS: "<|block_start|>", BE: "<|block_end|>", SS: "<|summary_start|>", SE: "<|summary_end|>"}
    for q, token in enumerate(ids):
        tracker.push(kinds.get(token))
        assert tracker.live == sum(visible[q]), q


@pytest.mark.parametrize("mode", ["full", "memento", "keep-last-1", "restart"])
@pytest.mark.parametrize("delimiters", [False, True])
def test_measured_kv_equals_replay_from_the_same_tokens(decoder, mode, delimiters):
    rng = random.Random(12)
    prompt, continuation = text(rng, 7), memento_sequence(rng, [(9, 3), (4, 1), (6, 2)])
    [gen] = decoder.generate([prompt], DecodeConfig(mode=mode, mask_delimiters=delimiters), forced=[continuation])
    replayed = account([(decoder.kinds.get(t), 1) for t in continuation], Mode.parse(mode), len(prompt), delimiters)
    assert (gen.metrics.peak_kv_tokens, gen.metrics.kv_auc_tokens) == (replayed.peak_kv_tokens, replayed.kv_auc_tokens)
    assert gen.metrics.kv_auc_tokens == sum(gen.live) and gen.metrics.peak_kv_tokens == max(gen.live)
    assert (gen.metrics.blocks, gen.metrics.block_tokens, gen.metrics.memento_tokens) == (3, 19, 6)


def test_max_block_tokens_forces_a_block_end(model):
    import copy

    quiet = copy.deepcopy(model)
    with torch.no_grad():         # a random model never to pick a memento token by itself
        quiet.lm_head.weight[BS:SE + 1] = 0
    prompt = text(random.Random(1), 4) + [BS]          # the assistant has opened a block
    config = DecodeConfig(mode="memento", max_block_tokens=3, max_new_tokens=6, temperature=0)
    [gen] = MementoDecoder(quiet, IDS).generate([prompt], config)
    assert all(t not in (BS, BE, SS, SE) for t in gen.token_ids[:3])
    assert gen.token_ids[3] == BE and gen.metrics.forced_block_ends == 1
    assert gen.finish_reason == "length" and len(gen.token_ids) == 6


def test_sampling_is_reproducible_per_seed_and_does_not_depend_on_the_batch(decoder):
    rng = random.Random(2)
    prompts = [text(rng, 5), text(rng, 3)]
    config = DecodeConfig(mode="memento", max_new_tokens=12, temperature=1.0, top_p=0.9, top_k=50)
    batch = decoder.generate(prompts, config, seeds=[5, 6])
    again = decoder.generate(prompts, config, seeds=[5, 6])
    alone = decoder.generate(prompts[1:], config, seeds=[6])
    assert [g.token_ids for g in batch] == [g.token_ids for g in again]
    assert batch[1].token_ids == alone[0].token_ids
    assert decoder.generate(prompts[:1], config, seeds=[7])[0].token_ids != batch[0].token_ids


def test_a_stop_token_ends_its_row_and_the_others_go_on(decoder):
    rng = random.Random(6)
    forced = [text(rng, 3) + [STOP] + text(rng, 4), text(rng, 9)]
    short, long = decoder.generate([text(rng, 3), text(rng, 4)], DecodeConfig(mode="memento"), forced=forced)
    assert short.finish_reason == "stop" and short.token_ids == tuple(forced[0][:4])
    assert long.finish_reason == "forced" and len(long.token_ids) == 9


@pytest.mark.parametrize("kwargs", [dict(mode="keep-last"), dict(max_new_tokens=0), dict(top_p=0.0), dict(max_block_tokens=0)])
def test_bad_decode_options_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        DecodeConfig(**kwargs)
