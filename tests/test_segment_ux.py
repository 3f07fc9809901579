"""``segment`` as a user watches it: the bar and its rate, live LLM cost, logs, --config, hints,
and a failed run that leaves nothing in the way of the next one."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from openmementos import logs
from openmementos.cli import main
from openmementos.cli.display import ProgressReporter, TeacherMeter, summary_table
from openmementos.pipeline import Partition, SegmentJob, _expected_rows, run_segment
from openmementos.rowcount import count_rows
from openmementos.teacher.factory import TeacherOptions
from openmementos.teacher.ledger import Ledger
from openmementos.testing.openai_server import FakeOpenAI, FaultPlan

SAMPLE = Path(__file__).resolve().parents[1] / "openmementos" / "data" / "sample.jsonl"
SAMPLE_ROWS = sum(1 for line in SAMPLE.read_text().splitlines() if line.strip())
KEY = "sk-test-LOGSCRUB-0123456789abcdef"


def recording_console() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=200, color_system=None)


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "openmementos.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", **(env or {})})


def prices(tmp_path: Path) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"fake-teacher": {"input": 0.4, "cached_input": 0.1, "output": 1.6}}))
    return path


# --- the bar ---------------------------------------------------------------------------------

def test_rows_are_counted_where_that_is_cheap(tmp_path):
    assert count_rows("sample") == SAMPLE_ROWS and count_rows("sample", limit=5) == 5
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text('{"a": 1}\n\n{"a": 2}\n   \n{"a": 3}\n')     # blank lines are not rows
    parquet = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"a": list(range(7))}), parquet)
    assert count_rows(str(jsonl)) == 3 and count_rows(str(parquet)) == 7 and count_rows(str(tmp_path)) == 10
    assert count_rows("ot3") is None and count_rows("no/such.jsonl") is None
    (tmp_path / "array.json").write_text("[1, 2]")
    assert count_rows(str(tmp_path / "array.json")) is None
    # a partition consumes only its own rows: 10 rows, machine 1 of 3 takes 1, 4, 7
    ten = tmp_path / "ten.jsonl"
    ten.write_text("".join(f'{{"a": {i}}}\n' for i in range(10)))
    job = SegmentJob(input=str(ten), out=tmp_path / "o", partition=Partition(1, 3))
    assert _expected_rows(job, 0) == 3 and _expected_rows(job, 5) == 5 + 1


def test_the_sample_bar_knows_its_total_and_its_rate_is_the_summarys(tmp_path):
    console = recording_console()
    summary = run_segment(SegmentJob(input="sample", out=tmp_path / "o", workers=1), ProgressReporter(console))
    frames = console.file.getvalue()
    assert f"{SAMPLE_ROWS}/{SAMPLE_ROWS}" in frames and "/?" not in frames
    assert re.search(r"ETA \d+:\d\d:\d\d", frames)
    bar_rate = float(re.findall(r"([\d,.]+) traces/s", frames)[-1].replace(",", ""))
    assert summary.processed == SAMPLE_ROWS and summary.traces_per_second
    # one definition: rows this run / seconds since it began reading them, for the bar and the summary
    assert bar_rate == pytest.approx(summary.traces_per_second, rel=0.02)
    table = recording_console()
    table.print(summary_table(summary))
    assert f"{summary.traces_per_second:,.1f}" in table.file.getvalue()
    assert summary.as_dict()["traces_per_second"] == round(summary.traces_per_second, 2)


def test_a_resumed_run_rates_only_the_rows_it_read(tmp_path):
    out = tmp_path / "o"
    run_segment(SegmentJob(input="sample", out=out, workers=1, limit=10))
    summary = run_segment(SegmentJob(input="sample", out=out, workers=1, limit=20))
    assert summary.input_rows == 20 and summary.processed == 10


# --- live LLM figures ------------------------------------------------------------------------

def test_the_meter_shows_requests_tokens_spend_and_the_projected_total():
    ledger = Ledger(prices={"m": {"input": 1.0, "cached_input": 0.5, "output": 4.0}})
    meter = TeacherMeter(ledger)
    for _ in range(4):
        ledger.record("scorer", "m", {"prompt_tokens": 250_000, "completion_tokens": 10_000})
    ledger.hit("judge")
    line = meter.line(rows_done=2, rows_total=10).plain
    assert "4 requests (" in line and "1 cached" in line
    assert "tokens 1.00M in / 40.0K out" in line
    assert "$1.16 spent" in line and "$5.80 projected" in line     # 4 x (0.25 + 0.04) = 1.16; x 10/2
    assert "projected" not in meter.line(rows_done=2, rows_total=None).plain
    unpriced = Ledger(prices={})
    unpriced.record("scorer", "x", {"prompt_tokens": 5, "completion_tokens": 5})
    assert "no price for the model (--prices FILE)" in TeacherMeter(unpriced).line(1, 2).plain


def test_an_llm_run_shows_the_model_live_figures_and_the_cost_in_the_summary(tmp_path):
    console = recording_console()
    options = TeacherOptions(spec="openai:fake-teacher", api_key="sk-test", cache=False, prices=prices(tmp_path))
    with FakeOpenAI(latency=0.01) as server:
        options = TeacherOptions(**{**options.__dict__, "base_urls": (server.base_url,)})
        summary = run_segment(SegmentJob(input="sample", out=tmp_path / "o", limit=4, teacher=options.spec, teacher_options=options),
                              ProgressReporter(console))
        sent = server.stats.total
    frames = console.file.getvalue()
    assert "teacher: openai · model fake-teacher" in frames
    final = [line for line in frames.splitlines() if "requests (" in line][-1]   # the last frame's live line
    assert f"{sent:,} requests (" in final and "tokens " in final and " spent" in final and " projected" in final
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert summary.cost == manifest["cost"] and manifest["cost"]["total_cost_usd"] > 0
    table = recording_console()
    table.print(summary_table(summary))
    text = table.file.getvalue()
    assert f"${manifest['cost']['total_cost_usd']:,.4f}" in text and "teacher requests" in text and f"{sent:,}" in text


# --- logs ------------------------------------------------------------------------------------

def test_scrub_removes_keys_tokens_and_authorization_values():
    logs.add_secret("plain-secret-value")
    text = ("key sk-proj-abcdefghijkl0123 hf_abcdefghijklmnopqrstuv Authorization: Bearer tok.en/123 "
            "--api-key plain-secret-value api_key=zzz9 token: 'qqq'")
    scrubbed = logs.scrub(text)
    for secret in ("sk-proj-abcdefghijkl0123", "hf_abcdefghijklmnopqrstuv", "tok.en/123", "plain-secret-value", "zzz9", "qqq"):
        assert secret not in scrubbed, secret
    assert "Bearer ***" in scrubbed and "--api-key ***" in scrubbed


def test_a_run_writes_its_log_under_the_output_folder_and_no_key_anywhere(tmp_path):
    out = tmp_path / "o"
    with FakeOpenAI(api_key=KEY, faults=FaultPlan(rate_500=0.3), seed=3) as server:
        proc = cli("segment", "--input", "sample", "--limit", "3", "--out", str(out), "--teacher", "openai:fake-teacher",
                   "--base-url", server.base_url, "--api-key", KEY, "--no-cache", "-vv", env={"OPENAI_API_KEY": KEY})
        assert server.stats.authorizations[f"Bearer {KEY}"] > 0
    assert proc.returncode == 0, proc.stderr
    (log_file,) = (out / "logs").glob("segment-*.log")
    text = log_file.read_text()
    assert "openmementos segment --input sample" in text and "--api-key ***" in text
    assert "chunk 0 written: input rows 0-2" in text and "finished: 3 input rows" in text
    assert "fake-teacher request failed (HTTP 500" in text and "attempt 2 of 8" in text   # retries are logged
    assert "DEBUG" in text or "INFO" in text
    for blob in (text, proc.stdout, proc.stderr):
        assert KEY not in blob
    for path in out.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path


def test_log_level_and_v_choose_what_reaches_stderr(tmp_path):
    quiet = cli("segment", "--input", "sample", "--limit", "2", "--out", str(tmp_path / "a"), "--workers", "1")
    assert quiet.returncode == 0 and "INFO" not in quiet.stderr
    verbose = cli("segment", "--input", "sample", "--limit", "2", "--out", str(tmp_path / "b"), "--workers", "1", "-v")
    assert "INFO openmementos.pipeline: chunk 0 written" in verbose.stderr
    wins = cli("segment", "--input", "sample", "--limit", "2", "--out", str(tmp_path / "c"), "--workers", "1", "-v", "--log-level", "warning")
    assert wins.returncode == 0 and "INFO" not in wins.stderr
    # the file keeps info and up whatever stderr shows
    assert "chunk 0 written" in next((tmp_path / "c" / "logs").glob("*.log")).read_text()
    assert logs.level_for(None, 0) == logging.WARNING and logs.level_for(None, 2) == logging.DEBUG
    assert logs.level_for("error", 2) == logging.ERROR


# --- --config --------------------------------------------------------------------------------

def test_a_config_file_sets_options_the_command_line_wins_and_the_manifest_records_the_merge(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("limit: 4\nmin_block_tokens: 250\nlambda: 0.5\nrows-per-shard: 2\nworkers: 1\nallow-cjk: true\n")
    out = tmp_path / "o"
    assert main(["segment", "--config", str(config), "--out", str(out), "--limit", "5", "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["input_rows"] == 5                                   # the command line won
    assert manifest["config"]["segmentation"]["min_block_tokens"] == 250 and manifest["config"]["segmentation"]["lam"] == 0.5
    assert manifest["config"]["select"]["reject_cjk"] is False and manifest["config"]["rows_per_shard"] == 2
    options = manifest["options"]
    assert options["values"]["limit"] == 5 and options["values"]["min_block_tokens"] == 250
    assert options["set_by"]["limit"] == "command line" and options["set_by"]["min_block_tokens"] == "config file"
    assert options["config_file"]["name"] == "run.yaml" and len(options["config_file"]["sha256"]) == 64
    assert "api_key" not in options["values"] and "base_url" not in options["values"]


@pytest.mark.parametrize("text, message", [
    ("limit: 3\nmin_blok_tokens: 300\n", "run.yaml: unknown key 'min_blok_tokens'"),
    ("limit: 3\nmin-tokens: [3\n", "run.yaml is not valid YAML (line 3)"),
    ("- limit\n- 3\n", "run.yaml must map option names to values, not hold a list"),
    ("config: other.yaml\n", "run.yaml: a config file cannot name another one ('config')"),
    ("help: true\n", "run.yaml: unknown key 'help'"),
])
def test_a_bad_config_file_is_refused_in_one_line(tmp_path, text, message):
    (tmp_path / "run.yaml").write_text(text)
    proc = cli("segment", "--config", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "o"))
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and message in lines[0] and lines[0].startswith("error: ") and len(lines) == 2
    assert not (tmp_path / "o").exists()


def test_a_repeatable_option_takes_a_list_or_one_value_from_the_config(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("teacher: openai:fake-teacher\nbase-url: http://127.0.0.1:9/v1\nlimit: 3\ndry-run: true\njson: true\n")
    proc = cli("segment", "--config", str(config), "--out", str(tmp_path / "o"), env={"OPENAI_API_KEY": "sk-x"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["traces"] == 3


# --- hints and failed runs -------------------------------------------------------------------

def test_segment_prints_the_next_command_unless_asked_for_json_or_quiet(tmp_path):
    proc = cli("segment", "--input", "sample", "--limit", "2", "--out", str(tmp_path / "shards"), "--workers", "1")
    assert proc.stdout.splitlines()[-1] == f"next: openmementos validate {tmp_path / 'shards'}"
    proc = cli("segment", "--input", "sample", "--limit", "2", "--out", str(tmp_path / "j"), "--workers", "1", "--json")
    assert json.loads(proc.stdout)["input_rows"] == 2


def test_a_failed_run_that_wrote_no_row_leaves_nothing_and_the_next_run_works(tmp_path, closed_port):
    out = tmp_path / "shards"
    proc = cli("segment", "--input", "ot3", "--out", str(out))     # offline: the Hub is unreachable
    assert proc.returncode == 2 and not out.exists()
    # a teacher nobody answers fails after the run folder was made: it is removed again
    proc = cli("segment", "--input", "sample", "--limit", "3", "--out", str(out), "--teacher", "openai:m",
               "--base-url", f"http://127.0.0.1:{closed_port}/v1", "--no-cache", env={"OPENAI_API_KEY": "sk-x"})
    assert proc.returncode == 2 and "cannot reach the teacher" in proc.stderr and not out.exists()
    # an output folder that was there before stays, with what it held
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    proc = cli("segment", "--input", "ot3", "--out", str(out))
    assert proc.returncode == 2 and sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    (out / "notes.txt").unlink()
    # and a run with another configuration in the same folder just works
    proc = cli("segment", "--input", "sample", "--limit", "2", "--out", str(out), "--workers", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "manifest.json").read_text())["counts"]["input_rows"] == 2


def test_a_failed_run_keeps_a_run_that_had_written_rows(tmp_path, closed_port):
    out = tmp_path / "shards"
    assert main(["segment", "--input", "sample", "--limit", "2", "--out", str(out), "-q", "--workers", "1"]) == 0
    assert main(["segment", "--input", "sample", "--limit", "4", "--out", str(out), "-q", "--teacher", "openai:m",
                 "--api-key", "sk-x", "--base-url", f"http://127.0.0.1:{closed_port}/v1"]) == 2    # another config: refused
    assert json.loads((out / "manifest.json").read_text())["counts"]["input_rows"] == 2
    assert len(list((out / "logs").glob("segment-*.log"))) == 1
