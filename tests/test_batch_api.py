"""``segment --batch-api``: the real openai client against the Batch API of a real server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from openmementos.batchrun import run_batch_segment
from openmementos.errors import ConfigError, TeacherError
from openmementos.pipeline import SegmentJob, run_segment
from openmementos.teacher.batch import BatchRequest, plan_batches
from openmementos.teacher.factory import TeacherOptions
from openmementos.testing.openai_server import FakeOpenAI, FaultPlan

SAMPLE = Path(__file__).resolve().parents[1] / "openmementos" / "data" / "sample.jsonl"
KEY = "sk-test-BATCH-0123456789abcdef"
PRICES = {"fake-teacher": {"input": 3.0, "cached_input": 3.0, "output": 12.0}}
TRACES = 10


def many_traces(path: Path, count: int, poison: dict[int, str] | None = None) -> Path:
    """``count`` distinct traces built from the sample (problem text varied), some tagged."""
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    with open(path, "w") as handle:
        for i in range(count):
            row = json.loads(json.dumps(rows[i % len(rows)]))
            row["conversations"][0]["value"] = f"{(poison or {}).get(i, '')}(variant {i}) " + row["conversations"][0]["value"]
            handle.write(json.dumps(row) + "\n")
    return path


def make_job(data: Path, out: Path, server: FakeOpenAI, cache: Path, prices: Path | None = None) -> SegmentJob:
    opts = TeacherOptions(spec="openai:fake-teacher", base_urls=(server.base_url,), api_key=KEY, request_timeout=5.0,
                          cache_path=cache, prices=prices)
    return SegmentJob(input=str(data), out=out, teacher=opts.spec, teacher_options=opts, rows_per_shard=4, traces_in_flight=16)


def shas(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for d in ("data", "full") for p in sorted((root / d).glob("*"))}


def submitted_files(server: FakeOpenAI) -> list[list[dict]]:
    """The lines of every batch input file the server received, in upload order."""
    files = sorted((f for f in server.batches.files.values() if f.purpose == "batch"), key=lambda f: f.id)
    return [[json.loads(line) for line in f.data.decode().splitlines()] for f in files]


def error_lines(server: FakeOpenAI) -> list[dict]:
    files = [f for f in server.batches.files.values() if f.filename.endswith("_error.jsonl")]
    return [json.loads(line) for f in files for line in f.data.decode().splitlines()]


def no_chat_completions(server: FakeOpenAI) -> bool:
    return server.stats.endpoints["POST /v1/chat/completions"] == 0 and server.stats.total == server.stats.batch_lines


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The synchronous run of the same traces with the same price table (on its own server)."""
    root = tmp_path_factory.mktemp("reference")
    data = many_traces(root / "in.jsonl", TRACES)
    prices = root / "prices.json"
    prices.write_text(json.dumps(PRICES))
    with FakeOpenAI() as server:
        summary = run_segment(make_job(data, root / "out", server, root / "cache.sqlite", prices))
        requests = server.stats.total
    assert summary.kept == TRACES
    manifest = json.loads((root / "out" / "manifest.json").read_text())
    return {"data": data, "prices": prices, "shas": shas(root / "out"), "cost": manifest["cost"], "requests": requests}


def test_batch_api_writes_the_synchronous_shards_at_half_the_price_without_one_synchronous_request(tmp_path, reference):
    with FakeOpenAI(batch_polls=1) as server:
        summary = run_batch_segment(make_job(reference["data"], tmp_path / "out", server, tmp_path / "c.sqlite", reference["prices"]),
                                    poll_seconds=0)
        assert no_chat_completions(server) and server.stats.batch_lines == reference["requests"]
        files = submitted_files(server)
    assert summary.kept == TRACES and shas(tmp_path / "out") == reference["shas"]
    # every window of both scoring passes went in the first round: scoring costs a trace one round
    kinds = [{line["body"]["response_format"]["json_schema"]["name"] for line in lines} for lines in files]
    assert kinds[0] == {"boundary_scores"} and all("boundary_scores" not in k for k in kinds[1:])
    cost = json.loads((tmp_path / "out" / "manifest.json").read_text())["cost"]
    for role, sync in reference["cost"]["roles"].items():
        batch = cost["roles"][role]
        assert (batch["requests"], batch["input_tokens"], batch["output_tokens"]) == (sync["requests"], sync["input_tokens"], sync["output_tokens"])
        assert batch["cost_usd"] == pytest.approx(sync["cost_usd"] / 2, abs=2e-6) and sync["cost_usd"] > 0
    assert cost["total_cost_usd"] == pytest.approx(reference["cost"]["total_cost_usd"] / 2, abs=1e-5)


def test_failed_lines_are_resubmitted_and_only_those(tmp_path, reference):
    faults = FaultPlan(rate_500=0.15, rate_429=0.05, rate_timeout=0.05)
    with FakeOpenAI(faults=faults, seed=4, batch_polls=1) as server:
        summary = run_batch_segment(make_job(reference["data"], tmp_path / "out", server, tmp_path / "c.sqlite", reference["prices"]),
                                    poll_seconds=0, line_attempts=10)
        assert no_chat_completions(server)
        sent = Counter(line["custom_id"] for lines in submitted_files(server) for line in lines)
        failed = Counter(line["custom_id"] for line in error_lines(server))
        outcomes = server.stats.outcomes
    assert outcomes["500"] and outcomes["429"] and outcomes["timeout"], "the fault plan injected nothing: the test proved nothing"
    assert sum(failed.values()) > 0
    assert {cid: n - 1 for cid, n in sent.items() if n > 1} == dict(failed), "a request was sent again without having failed"
    assert summary.kept == TRACES and shas(tmp_path / "out") == reference["shas"]
    log = [json.loads(line) for line in (tmp_path / "out" / ".openmementos" / "batches.jsonl").read_text().splitlines()]
    assert sum(len(line["failed"]) for line in log if line["step"] == "fetched") == sum(failed.values())


def test_a_request_that_always_fails_is_given_up_and_only_its_trace_is_quarantined(tmp_path):
    data = many_traces(tmp_path / "in.jsonl", 3, {1: "POISON "})
    poison = FaultPlan(fail_always_for=lambda r: any("POISON" in str(m.get("content")) for m in r["messages"]), fail_always_as="500")
    with FakeOpenAI(faults=poison, batch_polls=1) as server:
        summary = run_batch_segment(make_job(data, tmp_path / "out", server, tmp_path / "c.sqlite"), poll_seconds=0, line_attempts=2)
        assert no_chat_completions(server)
    assert summary.kept == 2 and summary.quarantined == 1
    record = json.loads(next((tmp_path / "out" / "quarantine").glob("*.jsonl")).read_text().splitlines()[0])
    assert record["reason"] == "teacher_request_failed" and "2 time(s)" in record["detail"] and "500" in record["detail"]


def test_an_invalid_batch_answer_is_asked_again_with_the_error_in_the_next_round(tmp_path):
    data = many_traces(tmp_path / "in.jsonl", 3)
    with FakeOpenAI(faults=FaultPlan(rate_malformed=0.2), seed=1, batch_polls=1) as server:
        summary = run_batch_segment(make_job(data, tmp_path / "out", server, tmp_path / "c.sqlite"), poll_seconds=0)
        assert no_chat_completions(server) and server.stats.outcomes["malformed"] > 0
        files = submitted_files(server)
    corrections = [i for i, lines in enumerate(files) for line in lines
                   if line["body"]["messages"][-2:][0]["role"] == "assistant" and "not valid" in line["body"]["messages"][-1]["content"]]
    assert corrections and min(corrections) >= 1, "a re-ask can only follow the round that brought the invalid answer"
    assert summary.kept + summary.quarantined == 3 and summary.failed == 0


def test_a_run_killed_after_submitting_polls_its_batch_and_never_sends_it_again(tmp_path, reference):
    from openmementos.cli import main

    out, cache = tmp_path / "out", tmp_path / "c.sqlite"
    with FakeOpenAI(batch_polls=10**9) as server:   # the batch cannot finish while the first run lives
        args = ["segment", "--input", str(reference["data"]), "--out", str(out), "--teacher", "openai:fake-teacher",
                "--base-url", server.base_url, "--cache-path", str(cache), "--rows-per-shard", "4",
                "--prices", str(reference["prices"]), "--batch-api", "--batch-poll-seconds", "0.05", "--quiet"]
        proc = subprocess.Popen([sys.executable, "-m", "openmementos.cli", *args], env={**os.environ, "OPENAI_API_KEY": KEY},
                                start_new_session=True)
        log = out / ".openmementos" / "batches.jsonl"
        deadline = time.monotonic() + 60
        while not (log.is_file() and '"step": "submitted"' in log.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, "the first run never submitted a batch"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        first_batch = json.loads(log.read_text().splitlines()[-1])["batch_id"]
        assert server.stats.endpoints["POST /v1/batches"] == 1 and server.stats.endpoints["POST /v1/files"] == 1
        server.batches.polls = 1
        assert main([*args, "--api-key", KEY]) == 0
        sent = Counter(line["custom_id"] for lines in submitted_files(server) for line in lines)
        assert no_chat_completions(server)
    assert max(sent.values()) == 1, "requests of the killed run's batch were submitted again"
    steps = [json.loads(line) for line in log.read_text().splitlines()]
    fetched = [s for s in steps if s["step"] == "fetched"]
    assert fetched[0]["batch_id"] == first_batch and fetched[0]["name"] == "r0001-p000"
    assert shas(out) == reference["shas"]
    cost = json.loads((out / "manifest.json").read_text())["cost"]
    assert cost["total_cost_usd"] == pytest.approx(reference["cost"]["total_cost_usd"] / 2, abs=1e-5)


def test_batches_are_split_by_model_and_by_the_line_and_byte_limits():
    def request(i: int, model: str, size: int = 10) -> BatchRequest:
        return BatchRequest(f"id{i}", "scorer", {"model": model, "messages": [{"role": "user", "content": "x" * size}]})

    requests = [request(i, "a") for i in range(5)] + [request(5, "b"), request(6, "a")]
    parts = plan_batches(requests, max_lines=3)
    assert [[r.custom_id for r in p] for p in parts] == [["id0", "id1", "id2"], ["id3", "id4", "id6"], ["id5"]]
    line = len(request(0, "a", 100).line())
    parts = plan_batches([request(i, "a", 100) for i in range(5)], max_bytes=2 * line)
    assert [len(p) for p in parts] == [2, 2, 1] and all(sum(len(r.line()) for r in p) <= 2 * line for p in parts)


def test_batch_api_refuses_the_offline_teacher_and_a_run_without_the_cache(tmp_path):
    with pytest.raises(ConfigError, match="needs an LLM teacher"):
        run_batch_segment(SegmentJob(input="sample", out=tmp_path / "h", limit=2))
    with FakeOpenAI() as server:
        opts = TeacherOptions(spec="openai:fake-teacher", base_urls=(server.base_url,), api_key=KEY, cache=False)
        with pytest.raises(TeacherError, match="needs the answer cache"):
            run_batch_segment(SegmentJob(input="sample", out=tmp_path / "n", limit=2, teacher=opts.spec, teacher_options=opts))
        assert server.stats.total == 0 and not server.batches.files


def test_a_round_split_into_several_batches_and_capped_in_requests_gives_the_same_shards(tmp_path, reference, monkeypatch):
    from openmementos.teacher import batch

    monkeypatch.setattr(batch, "MAX_LINES", 7)
    with FakeOpenAI(batch_polls=2) as server:
        summary = run_batch_segment(make_job(reference["data"], tmp_path / "out", server, tmp_path / "c.sqlite", reference["prices"]),
                                    poll_seconds=0, round_requests=20)
        assert no_chat_completions(server)
        sizes = [len(lines) for lines in submitted_files(server)]
    log = [json.loads(line) for line in (tmp_path / "out" / ".openmementos" / "batches.jsonl").read_text().splitlines()]
    per_round = Counter(line["round"] for line in log if line["step"] == "submitted")
    assert max(sizes) <= 7 and max(per_round.values()) > 1, "no round was split into several batches"
    requests = Counter()
    for line in log:
        if line["step"] == "uploaded":
            requests[line["round"]] += line["requests"]
    assert max(requests.values()) < 76, "the first round was not capped (uncapped, it holds all 76 scoring windows)"
    assert summary.kept == TRACES and shas(tmp_path / "out") == reference["shas"]


def test_a_file_uploaded_before_a_crash_is_submitted_on_restart_not_uploaded_again(tmp_path, reference):
    from openmementos.batchrun import _defer_round
    from openmementos.journal import open_journal
    from openmementos.pipeline import job_config
    from openmementos.teacher.batch import BatchLog, BatchRunner, Collector
    from openmementos.teacher.factory import make_teacher
    from openmementos.tokens import make_counter

    out = tmp_path / "out"
    with FakeOpenAI(batch_polls=1) as server:
        run_job = make_job(reference["data"], out, server, tmp_path / "c.sqlite", reference["prices"])
        # the first run's steps, up to the upload of round 1; then it "dies"
        teacher, counter = make_teacher(run_job.teacher, run_job.teacher_options), make_counter(None)
        journal = open_journal(out, job_config(run_job, teacher, counter))
        collector = Collector()
        teacher.defer = collector
        _defer_round(run_job, teacher, counter, set(), collector, 10**6)
        BatchRunner(teacher, BatchLog(journal.state_dir))._upload("r0001-p000", 1, list(collector.requests.values()))
        teacher.close()
        assert server.stats.endpoints["POST /v1/files"] == 1 and server.stats.endpoints["POST /v1/batches"] == 0

        summary = run_batch_segment(run_job, poll_seconds=0)
        sent = Counter(line["custom_id"] for lines in submitted_files(server) for line in lines)
        assert no_chat_completions(server)
    steps = [json.loads(line) for line in (out / ".openmementos" / "batches.jsonl").read_text().splitlines()]
    first = [s for s in steps if s["name"] == "r0001-p000"]
    assert [s["step"] for s in first] == ["uploaded", "submitted", "fetched"]
    assert first[0]["input_file_id"] == first[1]["input_file_id"] and max(sent.values()) == 1
    assert summary.kept == TRACES and shas(out) == reference["shas"]


def test_a_larger_limit_sends_batch_requests_only_for_the_new_rows(tmp_path):
    from dataclasses import replace

    data = many_traces(tmp_path / "in.jsonl", 8)
    with FakeOpenAI(batch_polls=1) as server:
        first = replace(make_job(data, tmp_path / "out", server, tmp_path / "c1.sqlite"), limit=4)
        assert run_batch_segment(first, poll_seconds=0).kept == 4
        before = sum(len(lines) for lines in submitted_files(server))
        # a fresh cache: anything the rows already in the output asked again would be sent again
        grown = replace(make_job(data, tmp_path / "out", server, tmp_path / "c2.sqlite"), limit=8)
        assert run_batch_segment(grown, poll_seconds=0).kept == 8
        sent_for_new_rows = sum(len(lines) for lines in submitted_files(server)) - before
        assert no_chat_completions(server)
    with FakeOpenAI(batch_polls=1) as server:
        tail = many_traces(tmp_path / "tail.jsonl", 8)
        rows = tail.read_text().splitlines()[4:]
        tail.write_text("\n".join(rows) + "\n")
        run_batch_segment(make_job(tail, tmp_path / "tail-out", server, tmp_path / "c3.sqlite"), poll_seconds=0)
        alone = sum(len(lines) for lines in submitted_files(server))
    assert sent_for_new_rows == alone > 0
