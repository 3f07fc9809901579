"""Issue 12, the faults that need more than one command: a full disk, a read-only folder, a kill -9,
two runs at once, a hostile teacher server. Each test is named after its item.

Real parts throughout: a tmpfs for the full disk, a process without capabilities for the
read-only folder, real signals and processes, real HTTP servers on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from openmementos.cli import main
from openmementos.shards import sha256_file
from openmementos.teacher.cache import AnswerCache
from openmementos.teacher.httpclient import MAX_BODY_BYTES
from openmementos.testing import CannedServer, FakeOpenAI

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "openmementos" / "data" / "sample.jsonl"
KEY = "sk-hardening-SECRET-0123456789abcdef"


def traces(path: Path, count: int) -> Path:
    """``count`` distinct traces: the sample's, each problem varied (exact copies are duplicates)."""
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    with open(path, "w") as handle:
        for i in range(count):
            row = json.loads(json.dumps(rows[i % len(rows)]))
            row["conversations"][0]["value"] = f"(variant {i}) " + row["conversations"][0]["value"]
            handle.write(json.dumps(row) + "\n")
    return path


def cli(*args: str, env: dict | None = None, timeout: float = 300, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([*prefix, sys.executable, "-m", "openmementos.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=environment)


def one_line_error(err: str, fragment: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and lines[0].startswith("error: ") and fragment in lines[0], err
    assert all(line.startswith(("error: ", "hint: ")) for line in lines), err


def shard_hashes(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): sha256_file(p) for p in sorted(out.glob("*/*.parquet"))}


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"   # a zombie is dead: it waits only for someone to reap it


# -- item 2: a row too deep to write ------------------------------------------------------------

def test_item02_a_row_nested_too_deep_to_write_is_kept_as_a_note_not_a_crash():
    from openmementos.shards import json_line

    row: dict = {}
    inner = row
    for _ in range(5000):
        inner["a"] = {}
        inner = inner["a"]
    line = json.loads(json_line({"index": 3, "reason": "no_think_close", "row": row}))
    assert line["index"] == 3 and "nested too deep" in line["row"]["unwritable"]
    assert json.loads(json_line({"row": {"x": "\ud800"}}))["row"]["x"] == "\ud800", "a lone surrogate round-trips"


# -- item 4: a read-only folder, a full disk -----------------------------------------------------

def test_item04_out_not_writable_is_one_line_before_any_work(tmp_path):
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the CLI without the capability to override permissions")
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    # root without its capabilities obeys permission bits like any user (a plain user cannot run
    # this checkout's Python, which lives under /root)
    done = cli("segment", "--input", "sample", "--out", str(locked / "out"), "--workers", "1",
               prefix=("setpriv", "--bounding-set=-all", "--inh-caps=-all"))
    if "Operation not permitted" in done.stderr and "setpriv" in done.stderr:
        pytest.skip(f"setpriv cannot drop capabilities here: {done.stderr.strip()}")
    assert done.returncode == 2
    one_line_error(done.stderr, "cannot write in")
    assert list(locked.iterdir()) == []


@pytest.fixture
def tiny_disk(tmp_path):
    """A 96 KiB tmpfs: a sample run fills it after a couple of shards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(disk)], capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def test_item04_disk_full_is_one_line_leaves_no_tmp_and_the_rerun_finishes_the_same_shards(tiny_disk, tmp_path):
    args = ["--input", "sample", "--workers", "1", "--rows-per-shard", "4", "--quiet"]
    assert main(["segment", *args, "--out", str(tmp_path / "clean")]) == 0
    done = cli("segment", *args, "--out", str(tiny_disk / "out"))
    assert done.returncode == 2
    one_line_error(done.stderr, "No space left on device")
    assert "free some space" in done.stderr
    assert [p for p in tiny_disk.rglob("*") if p.name.endswith(".tmp")] == []
    assert not (tiny_disk / "out" / "manifest.json").exists()
    subprocess.run(["mount", "-o", "remount,size=16m", str(tiny_disk)], check=True)
    assert main(["segment", *args, "--out", str(tiny_disk / "out")]) == 0
    assert shard_hashes(tiny_disk / "out") == shard_hashes(tmp_path / "clean"), "nothing lost or doubled"


# -- item 10: a huge fenced answer -----------------------------------------------------------------

def test_item10_a_fenced_answer_with_a_long_whitespace_run_parses_in_linear_time(tmp_path):
    # 3 MB of whitespace took the old regex hours; a subprocess, because a regex in C ignores signals
    code = ("from openmementos.teacher.openai_teacher import _decode\n"
            "answer = '```json\\n{\"scores\":' + ' \\n' * 1_500_000 + '[2, 3]}\\n```'\n"
            "assert _decode(answer) == {'scores': [2, 3]}\n"
            "assert _decode(' ' * 1_000_000 + '{\"a\": 1}' + ' ' * 1_000_000) == {'a': 1}\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr


def test_item10_segment_reads_fenced_answers_padded_with_60kb_of_whitespace(tmp_path):
    data = traces(tmp_path / "in.jsonl", 2)
    with FakeOpenAI() as server:
        fenced = server.task_responder
        # whitespace inside the JSON (legal there): the old pattern tried each of its positions to the end
        server.responder = lambda request: "```json\n{" + " " * 60_000 + json.dumps(fenced(request))[1:] + "\n```"
        done = cli("segment", "--input", str(data), "--out", str(tmp_path / "out"), "--teacher", "openai:fake-teacher",
                   "--base-url", server.base_url, "--api-key", KEY, "--no-cache", "--max-output-tokens", "100000",
                   "--workers", "1", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["kept"] == 2 and summary["quarantined"] == 0


# -- item 11: a gzip bomb --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gzip_bomb() -> tuple[bytes, int]:
    """A single gzip member that inflates to 512 MiB of zeros (about 0.5 MB sent)."""
    size = 512 * 2**20
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(2**24)
    body = b"".join(compressor.compress(zeros) for _ in range(size // len(zeros))) + compressor.flush()
    return body, size


def test_item11_a_gzip_bomb_answer_stops_at_the_cap_and_quarantines_the_trace(tmp_path, gzip_bomb):
    body, inflated = gzip_bomb
    assert inflated > 10 * MAX_BODY_BYTES
    data = traces(tmp_path / "in.jsonl", 1)
    report = tmp_path / "rss"
    # the run in its own process, which writes its peak memory when it ends: VmHWM, the high-water
    # mark of its own address space (ru_maxrss would carry the forking pytest's, however large)
    wrapper = ("import sys\nfrom openmementos.cli import main\ncode = main(sys.argv[1:])\n"
               "peak = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]\n"
               f"open({str(report)!r}, 'w').write(peak)\n"
               "sys.exit(code)\n")
    with CannedServer(200, "application/json", body, {"Content-Encoding": "gzip"}) as server:
        done = subprocess.run(
            [sys.executable, "-c", wrapper, "segment", "--input", str(data), "--out", str(tmp_path / "out"),
             "--teacher", "openai:m", "--base-url", server.base_url, "--api-key", KEY, "--no-cache", "--workers", "1", "--json"],
            capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
        bodies = server.bodies
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["quarantined"] == 1
    assert len(bodies) == len(set(bodies)) >= 1, "a request answered with a bomb is not sent again"
    (record,) = [json.loads(line) for f in (tmp_path / "out" / "quarantine").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert record["reason"] == "teacher_request_failed" and "inflates to more than" in record["detail"]
    peak_bytes = int(report.read_text()) * 1024    # VmHWM is in KiB
    assert peak_bytes < inflated, f"the process held {peak_bytes / 2**20:.0f} MiB: the bomb was inflated"


# -- item 12: kill -9 of segment -------------------------------------------------------------------

def test_item12_worker_processes_die_with_segment_after_kill_9(tmp_path):
    data = traces(tmp_path / "in.jsonl", 3000)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen([sys.executable, "-m", "openmementos.cli", "segment", "--input", str(data), "--out", str(tmp_path / "out"),
                            "--workers", "2", "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline and run.poll() is None:
            workers = [pid for pid in children(run.pid) if alive(pid)]
            time.sleep(0.05)
        assert len(workers) == 2, "segment never started its two workers"
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = [pid for pid in workers if alive(pid)]
    finally:
        run.kill()
    for pid in survivors:   # leave nothing behind even when the assertion fails
        os.kill(pid, signal.SIGKILL)
    assert survivors == [], "workers outlived their parent"
    from openmementos.journal import lock_output

    with lock_output(tmp_path / "out"):   # and nothing of the killed run still holds its folder
        pass


# -- item 13: two runs on one folder -----------------------------------------------------------------

def test_item13_a_second_run_on_the_same_out_is_refused_and_the_first_finishes_whole(tmp_path, capsys):
    rows = 300
    data = traces(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out"
    args = ["segment", "--input", str(data), "--out", str(out), "--workers", "1", "--rows-per-shard", "25"]
    first = subprocess.Popen([sys.executable, "-m", "openmementos.cli", *args], env={**os.environ, "PYTHONPATH": str(REPO)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = first.stderr.readline()
        while line and not line.startswith("teacher:"):   # printed once the run holds its folder
            line = first.stderr.readline()
        assert line.startswith("teacher:"), "the first run never started"
        assert main(args) == 2
        one_line_error(capsys.readouterr().err, "is in use by another openmementos run")
        first.stderr.read()
        assert first.wait(timeout=300) == 0
    finally:
        first.kill()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["input_rows"] == rows and manifest["counts"]["kept"] == rows
    assert [s["path"] for s in manifest["shards"]["data"]] == [f"data/train-{i:05d}.parquet" for i in range(12)], "no shard number skipped"
    assert pq.read_table(out / "data").num_rows == rows
    assert main(["validate", str(out), "--checks", "structure,records,manifest", "-q"]) == 0


def test_item13_the_lock_goes_with_its_process_even_after_kill_9(tmp_path, capsys):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\nfrom openmementos.journal import lock_output\n"
         "with lock_output(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(600)\n", str(out)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["segment", "--input", "sample", "--out", str(out), "--workers", "1", "--quiet"]) == 2
        one_line_error(capsys.readouterr().err, "is in use by another openmementos run")
        assert not (out / "data").exists()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        holder.kill()
    assert main(["segment", "--input", "sample", "--out", str(out), "--workers", "1", "--quiet"]) == 0


# -- item 14: kill -9 during validate --write-passing -------------------------------------------------

def test_item14_kill_9_during_write_passing_leaves_no_folder_that_passes(tmp_path):
    assert main(["segment", "--input", "sample", "--out", str(tmp_path / "shards"), "--workers", "1", "--quiet"]) == 0
    passing = tmp_path / "passing"
    # killed at the worst moment: every shard written, the manifest about to be
    killer = ("import os, signal, sys\nimport openmementos.validate.writer as writer\n"
              "writer.write_json = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
              "from openmementos.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", killer, "validate", str(tmp_path / "shards"), "--write-passing", str(passing),
                           "--workers", "1", "-q"], env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert done.returncode == -signal.SIGKILL
    assert not passing.exists(), "a killed --write-passing left a folder that looks whole"
    # the sample passes its own validate (issue 11): every row is written
    assert main(["validate", str(tmp_path / "shards"), "--write-passing", str(passing), "--workers", "1", "-q"]) == 0
    assert (passing / "manifest.json").is_file() and not (tmp_path / ".passing.partial").exists()
    assert main(["validate", str(passing), "-q"]) == 0, "the rows that passed pass again"


def test_item14_a_run_folder_without_its_manifest_fails_validate_and_stats_says_so(tmp_path, capsys):
    out = tmp_path / "shards"
    assert main(["segment", "--input", "sample", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    passing = tmp_path / "passing"
    main(["validate", str(out), "--write-passing", str(passing), "-q"])
    capsys.readouterr()
    for folder in (out, passing):
        (folder / "manifest.json").unlink()
        assert main(["validate", str(folder), "--checks", "structure,manifest"]) == 1
        assert "has no manifest.json" in " ".join(capsys.readouterr().out.split())   # the table wraps it
        assert main(["stats", str(folder)]) == 0
        assert "has no manifest.json" in capsys.readouterr().err


# -- items 15, 19: a teacher server that answers badly ----------------------------------------------

def _segment_llm(data: Path, out: Path, server, cache: Path, *extra: str) -> list[str]:
    return ["segment", "--input", str(data), "--out", str(out), "--teacher", "openai:fake-teacher", "--base-url", server.base_url,
            "--api-key", KEY, "--cache-path", str(cache), "--answer-retries", "1", "--workers", "1", "--json", *extra]


def test_item01_a_teacher_answer_holding_a_lone_surrogate_is_stored_as_text_not_a_crash(tmp_path, capsys):
    data = traces(tmp_path / "in.jsonl", 2)
    with FakeOpenAI() as server:
        healthy = server.task_responder

        def odd(request):   # a "\ud800" escape in the answer's JSON: valid JSON, not valid UTF-8
            answer = healthy(request)
            if "memento" in answer:
                answer["memento"] += " \ud800"
            return answer

        server.responder = odd
        assert main(_segment_llm(data, tmp_path / "out", server, tmp_path / "cache.sqlite")) == 0
    assert json.loads(capsys.readouterr().out)["kept"] == 2
    mementos = pq.read_table(tmp_path / "out" / "full", columns=["block_summaries"]).column("block_summaries").to_pylist()
    assert mementos and all(m.endswith(" \ufffd") for row in mementos for m in row)


def test_item15_invalid_answers_are_never_cached_so_a_retry_against_a_healthy_server_recovers(tmp_path, capsys):
    data, out, cache = traces(tmp_path / "in.jsonl", 3), tmp_path / "out", tmp_path / "cache.sqlite"
    with FakeOpenAI() as server:
        healthy = server.responder
        server.responder = lambda request: "Sure! Here are the scores you asked for: two, three and one."
        assert main(_segment_llm(data, out, server, cache)) == 0
        assert json.loads(capsys.readouterr().out)["quarantined"] == 3
        stored = AnswerCache(cache)
        assert len(stored) == 0, "an answer that failed validation was cached"
        stored.close()
        server.responder = healthy
        assert main(_segment_llm(data, out, server, cache, "--retry-quarantine")) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["retried"]["recovered"] == 3 and summary["quarantined"] == 0 and summary["kept"] == 3


def _blobs(*roots: Path) -> list[tuple[Path, bytes]]:
    """Every file's bytes, and every Parquet shard's values as text (its pages are compressed)."""
    found = []
    for root in roots:
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                if path.suffix == ".parquet":
                    data += json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False).encode()
                found.append((path, data))
    return found


def test_item19_a_server_that_echoes_the_key_leaves_it_in_no_file(tmp_path, capsys):
    data, cache = traces(tmp_path / "in.jsonl", 2), tmp_path / "cache.sqlite"
    with FakeOpenAI() as server:
        healthy = server.task_responder
        # invalid answers holding the key: they go to quarantine/ with every raw response
        server.responder = lambda request: f"I cannot answer that. Your key is {KEY}, by the way."
        assert main(_segment_llm(data, tmp_path / "bad", server, cache)) == 0
        first = capsys.readouterr()
        assert json.loads(first.out)["quarantined"] == 2
        # valid answers holding the key: mementos and judge feedback go into the shards and the cache
        def leaky(request):
            answer = healthy(request)
            for field in ("memento", "feedback"):
                if field in answer:
                    answer[field] += f" (key {KEY})"
            return answer
        server.responder = leaky
        assert main(_segment_llm(data, tmp_path / "good", server, cache)) == 0
    second = capsys.readouterr()
    assert json.loads(second.out)["kept"] == 2
    assert KEY not in first.out + first.err + second.out + second.err
    assert any((tmp_path / "bad" / "quarantine").iterdir()) and pq.read_table(tmp_path / "good" / "full").num_rows == 2
    blobs = _blobs(tmp_path / "bad", tmp_path / "good", *tmp_path.glob("cache.sqlite*"))
    assert len(blobs) > 10
    for path, blob in blobs:
        assert KEY.encode() not in blob, path
    assert any(b"***" in blob for path, blob in blobs if "quarantine" in path.parts), "the scrubbed answers were kept"


def test_item20_the_401_echo_of_the_key_is_absent_even_from_a_debug_traceback(tmp_path):
    (tmp_path / "data.jsonl").write_text('{"problem": "1 + 1?", "answer": "2"}\n')
    echo = lambda auth: json.dumps({"error": {"message": f"Incorrect API key provided: {auth}"}}).encode()  # noqa: E731
    with CannedServer(401, "application/json", echo) as server:
        done = cli("eval", "--data", str(tmp_path / "data.jsonl"), "--vllm-url", server.base_url, "--api-key", KEY, "-q",
                   env={"OPENMEMENTOS_DEBUG": "1"}, timeout=120)
    assert done.returncode != 0 and "refused the API key" in done.stderr
    assert KEY not in done.stdout + done.stderr
