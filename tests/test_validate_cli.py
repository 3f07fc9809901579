"""``openmementos validate`` as a user runs it: exit codes, report, passing shards, manifest integrity."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openmementos import format as fmt
from openmementos.pipeline import SegmentJob, run_segment
from openmementos.shards import DEFAULT_SCHEMA
from openmementos.validate import ValidateConfig, ValidateJob, validate


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}  # read now: tests patch the environment
    return subprocess.run([sys.executable, "-m", "openmementos.cli", "validate", *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """The bundled sample through segment, in two shards (so two workers have work to share)."""
    out = tmp_path_factory.mktemp("sample") / "shards"
    run_segment(SegmentJob(input="sample", out=out, workers=1, rows_per_shard=20))
    return out


def _rows(n_failing: int, n_passing: int) -> list[dict]:
    good = fmt.render(["We need x with 2x + 3 = 11, so 2x = 8 and x = 4; check 2*4 + 3 = 11."],
                      ["2x + 3 = 11 => x = 4 (checked)."], "\n\n**4**")
    bad = good.replace(fmt.BLOCK_END, "", 1)
    row = {"domain": "math", "source": "unit", "difficulty": 1}
    responses = [bad] * n_failing + [good] * n_passing
    # each its own problem: the same problem and response twice would fail records.duplicate
    return [{**row, "problem": f"Solve 2x + 3 = 11 (variant {chr(ord('a') + i)}).", "response": response}
            for i, response in enumerate(responses)]


def _parquet(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=DEFAULT_SCHEMA), path)
    return path


def test_exit_0_when_every_record_passes_and_1_when_one_fails(tmp_path):
    good = cli(str(_parquet(tmp_path / "good.parquet", _rows(0, 3))), "--min-block-tokens", "1")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "PASS: 3 of 3 records pass" in good.stdout
    mixed = _parquet(tmp_path / "mixed.parquet", _rows(1, 3))
    failed = cli(str(mixed), "--min-block-tokens", "1")
    assert failed.returncode == 1 and "FAIL: 3 of 4 records pass (75.0%" in failed.stdout
    assert "structure.tokens" in failed.stdout  # the failures-by-check table and the worst example
    assert cli(str(mixed), "--min-block-tokens", "1", "--min-pass-rate", "0.75", "-q").returncode == 0


@pytest.mark.parametrize("setup, message", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: (p / "x.parquet").write_text("not parquet") and p / "x.parquet", "is not a readable Parquet file"),
    (lambda p: (p / "y.parquet").write_bytes(b"PAR1" + bytes(range(256)) * 4 + b"\x10\x00\x00\x00PAR1") and p / "y.parquet",
     "is not a readable Parquet file"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no .parquet or .jsonl files"),
    (lambda p: _parquet(p / "none.parquet", []), "holds no rows"),
    (lambda p: (p / "notes.txt").write_text("hi") and p / "notes.txt", "neither a .parquet nor a .jsonl file"),
])
def test_exit_2_with_one_error_line_and_a_hint_when_the_input_cannot_be_read(tmp_path, setup, message):
    result = cli(str(setup(tmp_path)))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and message in lines[0] and lines[1].startswith("hint: ")


def test_a_damaged_shard_is_a_could_not_run_naming_the_file(shards, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(shards / "full", damaged / "full")
    path = damaged / "full" / "train-00001.parquet"
    data = bytearray(path.read_bytes())
    footer = pq.ParquetFile(path).metadata.serialized_size + 8
    for i in range(200, len(data) - footer - 200, 5):  # the pages, not the footer
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    result = cli(str(damaged), "--workers", "2")
    assert result.returncode == 2
    assert result.stderr.startswith("error: full/train-00001.parquet: row group 0 cannot be read")


def test_judge_engine_without_an_api_key_is_a_could_not_run(shards, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = cli(str(shards), "--judge", "openai:some-model")
    assert result.returncode == 2 and result.stderr.startswith("error: --judge openai:some-model: no API key")
    assert "hint: --judge openai:MODEL reads OPENAI_API_KEY" in result.stderr


def test_report_file_has_one_result_per_record_and_the_summary(shards, tmp_path):
    report = tmp_path / "report.json"
    result = cli(str(shards), "--report", str(report), "-q")
    data = json.loads(report.read_text())
    assert result.returncode == (0 if data["summary"]["failed"] == 0 else 1)
    assert len(data["records"]) == data["summary"]["records"] >= 25
    assert [r["index"] for r in data["records"]] == list(range(len(data["records"])))
    first = data["records"][0]
    assert set(first) >= {"origin", "trace_id", "passed", "errors", "warnings", "skipped", "stats"}
    summary = data["summary"]
    assert set(summary["domains"]) == {"math", "code", "science"}
    assert set(summary["domains"]["math"]) >= {"blocks_per_trace", "tokens_per_block", "tokens_per_memento", "ratio", "compression"}
    assert summary["integrity"]["shards_checked"] == 4 and summary["integrity"]["problems"] == []


def test_json_is_a_flag_that_prints_the_summary_on_stdout_like_every_other_command(shards, tmp_path):
    report = tmp_path / "report.json"
    result = cli(str(shards), "--json", "--report", str(report))
    printed = json.loads(result.stdout)   # nothing but the JSON on stdout: no tables, verdict or hint
    assert result.returncode == printed["exit_code"] == (0 if printed["ok"] else 1)
    assert printed["records"] == json.loads(report.read_text())["summary"]["records"] >= 25
    assert printed["report"] == str(report)
    alone = cli(str(shards), "--json")
    assert json.loads(alone.stdout)["records"] == printed["records"]
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]   # the flag alone writes no file
    assert "--json" in cli("--help").stdout and "--report" in cli("--help").stdout


def test_after_validation_the_next_useful_command_is_printed(shards, tmp_path):
    result = cli(str(shards))
    if result.returncode == 0:
        assert result.stdout.splitlines()[-1] == f"next: openmementos stats {shards}"
    else:
        assert result.stdout.splitlines()[-1] == f"next: openmementos validate {shards} --write-passing passing   (keeps the rows that pass)"
    passing = tmp_path / "passing"
    result = cli(str(shards), "--write-passing", str(passing), "--min-pass-rate", "0")
    assert result.returncode == 0 and result.stdout.splitlines()[-1] == f"next: openmementos stats {passing}"
    assert "next:" not in cli(str(shards), "-q").stdout   # -q: the verdict line only


def test_two_workers_give_the_same_results_as_one(shards, tmp_path):
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    validate(ValidateJob(shards, json_report=one, workers=1))
    validate(ValidateJob(shards, json_report=two, workers=2))
    assert json.loads(one.read_text())["records"] == json.loads(two.read_text())["records"]


def test_write_passing_keeps_layout_and_schema_and_puts_failing_rows_in_rejects_with_reasons(shards, tmp_path):
    out = tmp_path / "passing"
    # the sample passes with the default gate; a stricter judge gate fails some: both kinds are written
    summary = validate(ValidateJob(shards, ValidateConfig(min_judge_score=9.5), write_passing=out, workers=2))
    report = summary.report
    assert report.records > report.passed > 0
    for folder in ("data", "full"):
        names = sorted(p.name for p in (shards / folder).glob("*.parquet"))
        assert sorted(p.name for p in (out / folder).glob("*.parquet")) == names
        for name in names:
            assert pq.read_schema(out / folder / name) == pq.read_schema(shards / folder / name)
        assert sum(pq.ParquetFile(p).metadata.num_rows for p in (out / folder).glob("*.parquet")) == report.passed
    rejects = [json.loads(line) for p in sorted((out / "rejects").glob("*.jsonl")) for line in p.read_text().splitlines()]
    assert len(rejects) == report.records - report.passed
    assert all(r["stage"] == "validate" and r["reason"] and r["failures"] and r["row"]["response"] for r in rejects)
    again = cli(str(out), "-q", "--min-judge-score", "9.5")
    assert again.returncode == 0 and f"PASS: {report.passed} of {report.passed} records pass" in again.stdout


def test_write_passing_copies_jsonl_lines_byte_for_byte(tmp_path):
    rows = _rows(1, 2)
    source = tmp_path / "in" / "rows.jsonl"
    source.parent.mkdir()
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    validate(ValidateJob(source, ValidateConfig(min_block_tokens=1), write_passing=tmp_path / "out"))
    assert (tmp_path / "out" / "rows.jsonl").read_text().splitlines() == source.read_text().splitlines()[1:]
    (reject,) = [json.loads(line) for line in (tmp_path / "out" / "rejects" / "rows.jsonl").read_text().splitlines()]
    assert reject["reason"] == "structure.tokens" and reject["row"] == rows[0]


def test_manifest_catches_a_changed_a_missing_and_an_unlisted_shard(shards, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(shards, copy)
    assert validate(ValidateJob(copy, ValidateConfig(checks=("structure", "manifest")))).report.integrity == []
    table = pq.read_table(copy / "data" / "train-00000.parquet")
    pq.write_table(table.slice(0, table.num_rows - 1), copy / "data" / "train-00000.parquet")  # a row lost
    (copy / "full" / "train-00001.parquet").unlink()
    shutil.copy(copy / "data" / "train-00001.parquet", copy / "data" / "train-00099.parquet")
    summary = validate(ValidateJob(copy, ValidateConfig(checks=("structure", "manifest"))))
    problems = "\n".join(summary.report.integrity)
    assert "data/train-00000.parquet: sha256" in problems
    assert f"data/train-00000.parquet: {table.num_rows - 1} rows, manifest.json says {table.num_rows}" in problems
    assert "full/train-00001.parquet is listed in manifest.json but missing" in problems
    assert "data/train-00099.parquet is not listed in manifest.json" in problems
    assert summary.exit_code == 1 and summary.report.pass_rate == 1.0
    result = cli(str(copy), "--checks", "structure,manifest", "--min-pass-rate", "0")
    assert result.returncode == 1 and "manifest.integrity" in result.stdout


def test_default_config_of_a_segment_folder_parses_blocks_and_mementos_from_response(shards):
    full = validate(ValidateJob(shards, ValidateConfig(skip=("judge",)), workers=1)).report
    default = validate(ValidateJob(shards, ValidateConfig(skip=("judge",)), input_config="default", workers=1)).report
    assert full.records == default.records
    assert full.skipped["structure.source_text"] == 0 and default.skipped["structure.source_text"] == default.records
    for report in (full, default):
        assert not any(name.startswith("structure.") for name in report.failing_records)


def test_help_lists_every_option_and_check(tmp_path):
    result = cli("--help")
    assert result.returncode == 0
    for option in ("--json", "--write-passing", "--min-pass-rate", "--min-block-tokens", "--max-block-tokens", "--max-ratio",
                   "--ratio-low", "--ratio-high", "--min-number-recall", "--min-judge-score", "--judge", "--tokenizer",
                   "--workers", "--checks", "--skip-check", "--severity", "--config"):
        assert option in result.stdout, option
    flat = " ".join(result.stdout.split())
    for name in ("structure.schema", "faithfulness.lookahead", "judge.min_score", "manifest.integrity"):
        assert name in flat, name
    snapshot = Path(__file__).parent / "snapshots" / "validate_help.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.write_text(result.stdout)
    assert result.stdout == snapshot.read_text(), "validate --help changed: review it, then UPDATE_SNAPSHOTS=1"


def test_rejudging_with_the_same_heuristic_teacher_reproduces_the_recorded_verdicts(shards):
    # a gate above the default, so that some blocks fail it (the sample passes the default 8)
    recorded = validate(ValidateJob(shards, ValidateConfig(checks=("judge",), min_judge_score=9.5), workers=2)).report
    rejudged = validate(ValidateJob(shards, ValidateConfig(checks=("judge",), min_judge_score=9.5, judge="heuristic"), workers=2)).report
    assert recorded.failing_records["judge.min_score"] == rejudged.failing_records["judge.min_score"] > 0
    assert recorded.findings["judge.min_score"] == rejudged.findings["judge.min_score"]


def test_judge_through_the_openai_engine_asks_once_per_block_and_applies_the_minimum(shards, tmp_path, monkeypatch):
    from openmementos.testing import FakeOpenAI

    low = {"scores": {"formulas": 2, "numbers": 1, "methods": 1, "validation": 1, "correctness": 1, "result_first": 0},
           "deductions": {}, "feedback": "too vague"}
    one = tmp_path / "one.parquet"
    pq.write_table(pq.read_table(shards / "data" / "train-00000.parquet").slice(0, 2), one)
    blocks = sum(len(fmt.parse(r).blocks) for r in pq.read_table(one)["response"].to_pylist())
    with FakeOpenAI(tasks={"judge_verdict": lambda request: low}, record=True) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        report = json.loads(cli(str(one), "--checks", "judge", "--judge", "openai:fake-teacher", "--report", str(tmp_path / "r.json"), "-q")
                            and (tmp_path / "r.json").read_text())
        asked = len(server.stats.requests)
    assert asked == blocks
    messages = [e["message"] for r in report["records"] for e in r["errors"]]
    assert len(messages) == blocks and all("re-judged score 6 is below --min-judge-score 8" in m for m in messages)
