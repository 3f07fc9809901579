"""KV accounting without a model: the block state machine, modes, model shapes and replay from text
(the shared real MEMENTO output and segment shards). No torch needed."""

from __future__ import annotations

import doctest
import json
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmementos import format as fmt
from openmementos.cli import main
from openmementos.decode import blocks, metrics, models, replay
from openmementos.decode.blocks import BlockTracker, Mode, parse_modes
from openmementos.decode.metrics import KVLedger
from openmementos.decode.models import format_bytes, model_shape, shape_from_config
from openmementos.decode.replay import account, pieces, read_records, replay_response, response_of
from openmementos.errors import ConfigError
from openmementos.tokens import make_counter

EXAMPLE = "memento/example_math_aime25.json"


def test_docstring_examples_print_what_the_functions_return():
    for module in (blocks, metrics, models, replay):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_modes_parse_and_unknown_ones_say_which_exist():
    assert [m.name for m in parse_modes("full, memento,keep-last-3,restart,full")] == ["full", "memento", "keep-last-3", "restart"]
    assert Mode.parse("keep-last-3").keep_last_n == 3 and Mode.parse("restart").restart
    assert not Mode.parse("full").evicts
    with pytest.raises(ConfigError, match="keep-last-N"):
        Mode.parse("keep-last")


def test_qwen3_8b_in_bf16_holds_144_kib_per_token():
    shape = model_shape("qwen3-8B")
    assert shape.bytes_per_token == 2 * 36 * 8 * 128 * 2 == 147_456
    assert format_bytes(shape.bytes_per_token) == "144 KiB"
    config = types.SimpleNamespace(num_attention_heads=4, hidden_size=64, num_key_value_heads=2, head_dim=16,
                                   num_hidden_layers=2, dtype="float32", model_type="qwen3")
    assert shape_from_config(config).bytes_per_token == 2 * 2 * 2 * 16 * 4
    with pytest.raises(ConfigError, match="Qwen3-8B"):
        model_shape("llama-9000")


def _kinds(seq: list[str | None]) -> list[tuple[str | None, int]]:
    return [(k, 1) for k in seq]


def _layout(blocks_, tail=2):
    seq: list[str | None] = [None]                       # <think>\n as one token
    for content, memento in blocks_:
        seq += [fmt.BLOCK_START] + [None] * content + [fmt.BLOCK_END, None, fmt.SUMMARY_START] + [None] * memento + [fmt.SUMMARY_END, None]
    return seq + [None] * tail


def test_memento_mode_drops_each_blocks_content_when_its_summary_ends():
    tracker = BlockTracker(Mode.parse("memento"))
    tracker.push(None, 10)                                # prompt
    closings = [tracker.push(k) for k in _layout([(5, 2), (3, 1)])]
    done = [c for c in closings if c is not None]
    assert [c.evict for c in done] == [(range(12, 17),), (range(25, 28),)]
    assert tracker.live == tracker.position - 8 and tracker.violations == 0


def test_keep_last_n_drops_a_block_only_n_blocks_later_and_delimiters_go_with_mask_delimiters():
    tracker = BlockTracker(Mode.parse("keep-last-1"), mask_delimiters=True)
    done = [c for c in map(tracker.push, _layout([(4, 1), (3, 1), (2, 1)])) if c is not None]
    first = done[0].block
    assert done[0].evict == ()
    assert done[1].evict == (range(first.start, first.start + 1), range(first.start + 1, first.end),
                             range(first.end, first.summary_start))
    assert tracker.dropped == (1 + 4 + 2) + (1 + 3 + 2)      # tag, content, <|block_end|> and \n of blocks 1 and 2


def test_restart_recomputes_what_follows_the_content_up_to_the_summary_end():
    tracker = BlockTracker(Mode.parse("restart"))
    closing = [c for c in map(tracker.push, _layout([(4, 2)])) if c is not None][0]
    block = closing.block
    assert closing.recompute == range(block.end, block.summary_end)      # <|block_end|>, \n, the memento


def test_tags_out_of_order_are_violations_that_drop_nothing():
    tracker = BlockTracker(Mode.parse("memento"))
    for kind in (fmt.SUMMARY_END, fmt.BLOCK_START, None, fmt.BLOCK_START, fmt.SUMMARY_END, None):
        assert tracker.push(kind) is None
    assert tracker.violations == 3 and tracker.live == tracker.position


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([None, None, None, None, *fmt.SPECIAL_TOKENS]), max_size=40).map(
    lambda seq: [(k, 1) for k in seq]), st.integers(0, 6), st.sampled_from(["full", "memento", "keep-last-1", "restart"]),
    st.booleans())
def test_replay_over_runs_equals_the_token_by_token_ledger(seq, prompt, mode, delimiters):
    # merge adjacent text tokens into runs, as replay of a text does
    runs: list[tuple[str | None, int]] = []
    for kind, n in seq:
        if kind is None and runs and runs[-1][0] is None:
            runs[-1] = (None, runs[-1][1] + n)
        else:
            runs.append((kind, n))
    got = account(runs, Mode.parse(mode), prompt, delimiters)
    tracker, ledger = BlockTracker(Mode.parse(mode), delimiters), KVLedger()
    tracker.push(None, prompt)
    if seq:
        ledger.add(tracker.live)
    for i, (kind, _) in enumerate(seq):
        tracker.push(kind)
        if i < len(seq) - 1:          # the last token is produced, never fed
            ledger.add(tracker.live)
    assert (got.peak_kv_tokens, got.kv_auc_tokens, got.generated_tokens) == (ledger.peak, ledger.auc, len(seq))


class _Chars:
    name = "chars"

    def count(self, text):
        return len(text)

    def count_many(self, texts):
        return [len(t) for t in texts]


def test_full_mode_peak_is_prompt_plus_response_and_memento_frees_the_content():
    response = fmt.render(["a" * 100, "b" * 50], ["s" * 10, "t" * 5], "\n\nok")
    full = replay_response(response, _Chars(), Mode.parse("full"), prompt_tokens=20)
    memento = replay_response(response, _Chars(), Mode.parse("memento"), prompt_tokens=20)
    total = sum(n for _, n in pieces(response, _Chars()))
    assert full.generated_tokens == memento.generated_tokens == total
    assert full.peak_kv_tokens == 20 + total - 1
    # memento peaks at the step before the first <|summary_end|> (<think>, \n, tag, 100, tag, \n, tag, 10)
    assert memento.peak_kv_tokens == 20 + 2 + 1 + 100 + 1 + 1 + 1 + 10
    assert memento.kv_auc_tokens < full.kv_auc_tokens - 100 * (total - 116)
    assert full.format_valid and (memento.blocks, memento.block_tokens, memento.memento_tokens) == (2, 150, 15)


def test_the_real_memento_output_needs_less_than_half_the_peak_kv(shared_data):
    row = json.loads((shared_data / EXAMPLE).read_text())
    response = response_of(row)
    assert fmt.parse(response).blocks == tuple(s["text"] for s in row["segments"] if s["type"] == "block")
    counter = make_counter(None)
    prompt = counter.count(row["problem"])
    full = replay_response(response, counter, Mode.parse("full"), prompt)
    memento = replay_response(response, counter, Mode.parse("memento"), prompt)
    keep = replay_response(response, counter, Mode.parse("keep-last-2"), prompt)
    assert full.format_valid and memento.blocks == 5
    assert full.peak_kv_tokens == prompt + full.generated_tokens - 1
    assert full.peak_kv_tokens / memento.peak_kv_tokens > 2.0
    assert memento.peak_kv_tokens < keep.peak_kv_tokens < full.peak_kv_tokens
    assert memento.kv_auc_tokens < keep.kv_auc_tokens < full.kv_auc_tokens
    assert 0.05 < memento.memento_ratio < 0.3


def test_replay_reads_segment_shards_and_reports_per_domain(tmp_path, capsys):
    assert main(["segment", "--input", "sample", "--out", str(tmp_path / "shards"), "--quiet", "--workers", "1"]) == 0
    records = list(read_records([tmp_path / "shards"]))
    assert {r.domain for r in records} == {"math", "code", "science"}
    out = tmp_path / "replay.json"
    assert main(["eval", "--replay", str(tmp_path / "shards"), "--tokenizer", "cl100k_base", "--mode", "full,memento",
                 "--kv-model", "Qwen3-8B", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["domains"]) == {"math", "code", "science", "all"}
    for domain in summary["domains"].values():
        full, memento = domain["full"], domain["memento"]
        assert memento["peak_kv_tokens"] < full["peak_kv_tokens"] and memento["peak_reduction"] > 1.5
        assert full["peak_kv_bytes"] == full["peak_kv_tokens"] * 147_456
    report = json.loads(out.read_text())
    assert len(report["records"]) == len(records) and report["tokenizer"] == "cl100k_base"


def test_replay_reads_a_folder_laid_out_as_the_hub_dataset(tmp_path, capsys):
    # what push-to-hub publishes and `hf download` fetches: README.md, data/, full/, no manifest
    import shutil

    shards = tmp_path / "shards"
    assert main(["segment", "--input", "sample", "--limit", "6", "--out", str(shards), "--quiet", "--workers", "1"]) == 0
    hub = tmp_path / "hub"
    for config in ("data", "full"):
        shutil.copytree(shards / config, hub / config)
    (hub / "README.md").write_text("---\nconfigs: [default, full]\n---\n# a dataset card\n")
    expected = [(r.domain, r.problem, r.response) for r in read_records([shards])]
    assert [(r.domain, r.problem, r.response) for r in read_records([hub])] == expected and len(expected) == 6
    shutil.rmtree(hub / "data")     # only the full config downloaded
    assert [(r.domain, r.problem, r.response) for r in read_records([hub])] == expected
    assert main(["eval", "--replay", str(hub), "--tokenizer", "cl100k_base", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["domains"]["all"]["memento"]["records"] == 6


def test_replay_command_prints_the_reduction_on_the_real_example(shared_data, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["eval", "--replay", str(shared_data / EXAMPLE), "--tokenizer", "cl100k_base"]) == 0
    out = capsys.readouterr().out
    assert "144 KiB per token" in out
    memento_row = next(line for line in out.splitlines() if "│ memento" in line)
    assert float(memento_row.split("│")[7].strip().rstrip("x")) > 2.0        # peak reduction


def test_a_record_without_a_response_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"problem": "p"}) + "\n")
    assert main(["eval", "--replay", str(bad)]) == 2
    assert "bad.jsonl#0 has neither a response nor segments" in capsys.readouterr().err
