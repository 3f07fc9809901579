"""Issue 12, the red-team fault list: each fault through the real CLI, as one table.

Every row names its item (``item04_out_is_a_file``), builds what the fault needs in a temp
folder, runs the command (in process through ``openmementos.cli.main``, or in a subprocess when
the fault could hang it or needs another process), and expects an exit code, a fragment of the
one-line message (or of stdout), no traceback, and, where it says so, a check of what was written.
Per-record faults must be counted skips with exit 0, bad inputs one ``error:`` line and exit 2.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openmementos.cli import main
from openmementos.testing import CannedServer

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "openmementos" / "data" / "sample.jsonl"
KEY = "sk-hardening-ECHOED-0123456789abcdef"


def sample_rows() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text().splitlines()]


def write_rows(path: Path, rows: list[dict | str]) -> Path:
    """JSON lines, each a dict (json.dumps escapes it: a lone surrogate stays an escape) or raw text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """A finished segment output of the bundled sample."""
    out = tmp_path_factory.mktemp("run") / "shards"
    assert main(["segment", "--input", "sample", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    return out


@dataclass
class Fault:
    name: str                                             # itemNN_what: the issue item it covers
    args: Callable[[Path, Path], list[str]]               # (tmp folder, shards fixture) -> argv
    code: int
    message: str                                          # in stderr (or stdout, for exit 0)
    setup: Callable[[Path, Path], object] = lambda p, s: None    # (tmp folder, shards fixture)
    check: Callable[[Path], None] = lambda p: None        # after the run: what it wrote
    subprocess: bool = False                              # may hang, or needs its own process
    server: Callable[[], CannedServer] | None = None            # started for the run; its url (else a closed port's) in p / "url"
    needs: str | None = None                              # a module the row needs (skipped without it)
    absent: tuple[str, ...] = field(default_factory=tuple)   # must not appear anywhere in the output


def _segment(p: Path, *extra: str) -> list[str]:
    return ["segment", "--input", str(p / "in.jsonl"), "--out", str(p / "out"), "--workers", "1", "--quiet", *extra]


# -- setups and checks ---------------------------------------------------------------------------

def _surrogate_rows(p: Path, s: Path) -> None:
    rows = sample_rows()
    rejected = {"problem": "q", "cot": "no thinking tags here", "extra": "\ud800 lone"}      # rejected: no </think>
    kept_with_bad_source = {**rows[1], "source": "\udc00"}                                 # would reach the shard
    write_rows(p / "in.jsonl", [rows[0], rejected, kept_with_bad_source])


def _surrogate_check(p: Path) -> None:
    counts = manifest(p / "out")["counts"]
    assert counts["kept"] == 1 and counts["skips"] == {"input/no_think_close": 1, "input/not_utf8": 1}
    rejects = [json.loads(line) for f in sorted((p / "out" / "rejects").glob("*.jsonl")) for line in f.read_text().splitlines()]
    assert {r["reason"] for r in rejects} == {"no_think_close", "not_utf8"}
    assert any(r["row"].get("extra") == "\ud800 lone" for r in rejects), "the rejected row is kept whole"
    assert main(_segment(p)) == 0, "the same command again (a resume) must not crash either"


def _deep_rows(p: Path, s: Path) -> None:
    depth = 200_000
    write_rows(p / "in.jsonl", [sample_rows()[0], '{"a": ' + "[" * depth + "]" * depth + "}"])


def _deep_check(p: Path) -> None:
    counts = manifest(p / "out")["counts"]
    assert counts["kept"] == 1 and counts["skips"] == {"input/nested_too_deep": 1}


def _difficulty_rows(p: Path, s: Path) -> None:
    values = [10**30, 2**63, -(2**63) - 1, "99999999999999999999999", 7]
    write_rows(p / "in.jsonl", [{**row, "difficulty": value} for row, value in zip(sample_rows(), values)])


def _difficulty_check(p: Path) -> None:
    table = pq.read_table(p / "out" / "data", columns=["difficulty"])
    assert table.schema.field("difficulty").type == pa.int64()
    assert table.column("difficulty").to_pylist() == [-1, -1, -1, -1, 7], "out of int64: unknown (-1), like any unusable value"


def _fifo(p: Path, s: Path) -> None:
    os.mkfifo(p / "in.jsonl")


def _text_named_parquet(p: Path, s: Path) -> None:
    (p / "x.parquet").write_text("not a parquet file\n")
    (p / "model").mkdir()
    (p / "model" / "config.json").write_text("{}")      # loading it would fail another way: it must not be tried


def _model_folder(p: Path, s: Path) -> None:
    (p / "model").mkdir()
    (p / "model" / "config.json").write_text("{}")
    (p / "file").write_text("a file\n")


def _inside_input(p: Path, s: Path) -> None:
    write_rows(p / "in" / "rows.jsonl", sample_rows()[:2])


def _input_inside_out(p: Path, s: Path) -> None:
    write_rows(p / "out" / "data" / "rows.jsonl", sample_rows()[:2])


def _duplicate_rows(p: Path, s: Path) -> None:
    rows = sample_rows()
    write_rows(p / "in.jsonl", [rows[0], rows[1], rows[0], {**rows[0], "id": "another-id", "source": "elsewhere"}])


def _duplicate_check(p: Path) -> None:
    counts = manifest(p / "out")["counts"]
    assert counts["input_rows"] == 4 and counts["kept"] == 2 and counts["skips"] == {"input/duplicate": 2}
    rejects = [json.loads(line) for f in (p / "out" / "rejects").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert [r["index"] for r in rejects] == [2, 3] and all("input row 0" in r["detail"] for r in rejects)
    ids = pq.read_table(p / "out" / "full", columns=["trace_id"]).column("trace_id").to_pylist()
    assert len(ids) == len(set(ids)) == 2


def _duplicate_records(p: Path, s: Path) -> None:
    row = pq.read_table(s / "data").slice(0, 1).to_pylist()[0]
    write_rows(p / "twice.jsonl", [row, row])


def _compressed_folder(p: Path, s: Path) -> None:
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    folder = p / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(b"".join(lines[0:2]))
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(b"".join(lines[2:4])))
    with pa.output_stream(str(folder / "c.jsonl.zst"), compression="zstd") as stream:
        stream.write(b"".join(lines[4:6]))
    (folder / "notes.txt").write_text("not rows\n")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "x.jsonl").write_bytes(lines[6])


def _compressed_check(p: Path) -> None:
    from openmementos.sources import ignored_files

    counts = manifest(p / "out")["counts"]
    assert counts["input_rows"] == counts["kept"] == 6, "the .jsonl.gz and .jsonl.zst rows are read"
    assert ignored_files(str(p / "in")) == [".hidden/", "notes.txt"]


def _garbage(name: str, text: str) -> Callable[[Path, Path], None]:
    return lambda p, s: (p / name).write_text(text)


def _problems(p: Path, s: Path) -> None:
    (p / "data.jsonl").write_text('{"problem": "1 + 1?", "answer": "2"}\nthis line is not JSON\n')


def _one_problem(p: Path, s: Path) -> None:
    (p / "data.jsonl").write_text('{"problem": "1 + 1?", "answer": "2"}\n')


def _eval(p: Path, *extra: str) -> list[str]:
    return ["eval", "--data", str(p / "data.jsonl"), "--vllm-url", (p / "url").read_text(), "--api-key", KEY, "-q", *extra]


def _echo_key(authorization: str) -> bytes:
    return json.dumps({"error": {"message": f"Incorrect API key provided: {authorization}", "code": "invalid_api_key"}}).encode()


FAULTS = [
    # 1-3: odd rows are counted skips (or unknown values), never a crash, on the first run or a resume
    Fault("item01_lone_surrogate_in_a_row", lambda p, s: _segment(p), 0, "", _surrogate_rows, _surrogate_check),
    Fault("item02_json_nested_200k_deep", lambda p, s: _segment(p), 0, "", _deep_rows, _deep_check),
    Fault("item03_difficulty_past_int64", lambda p, s: _segment(p), 0, "", _difficulty_rows, _difficulty_check),
    # 4: where segment writes
    Fault("item04_out_is_a_file", lambda p, s: ["segment", "--out", str(p / "file")], 2, "is a file, not a folder",
          _garbage("file", "x")),
    # 5: output paths of the wrong kind
    Fault("item05_write_passing_is_a_file", lambda p, s: ["validate", str(s), "--write-passing", str(p / "file")], 2,
          "--write-passing", _garbage("file", "x"), lambda p: (p / "file").read_text() == "x"),
    Fault("item05_stats_png_is_a_file", lambda p, s: ["stats", str(s), "--png", str(p / "file")], 2, "--png", _garbage("file", "x"),
          needs="matplotlib"),
    Fault("item05_cache_path_is_a_folder", lambda p, s: ["segment", "--out", str(p / "out"), "--teacher", "openai:m", "--api-key", KEY,
          "--base-url", "http://127.0.0.1:9/v1", "--cache-path", str(p)], 2, "is a folder"),
    Fault("item05_cache_path_not_sqlite", lambda p, s: ["segment", "--out", str(p / "out"), "--teacher", "openai:m", "--api-key", KEY,
          "--base-url", "http://127.0.0.1:9/v1", "--cache-path", str(p / "notes.txt")], 2, "is not an openmementos answer cache",
          _garbage("notes.txt", "these are my notes, not a cache\n"), lambda p: (p / "notes.txt").read_text().startswith("these")),
    Fault("item05_cache_info_on_a_folder", lambda p, s: ["cache", "info", "--cache-path", str(p)], 2, "is a folder"),
    # 6: train-sft checks its inputs before loading anything
    Fault("item06_train_data_is_text_named_parquet", lambda p, s: ["train-sft", "--data", str(p / "x.parquet"), "--model", str(p / "model"),
          "--out", str(p / "run")], 2, "is not a readable Parquet file", _text_named_parquet, needs="torch"),
    Fault("item06_train_out_is_a_file", lambda p, s: ["train-sft", "--data", str(s), "--model", str(p / "model"), "--out", str(p / "file")],
          2, "is a file, not a folder", _model_folder, needs="torch"),
    # 7: eval inputs and servers
    Fault("item07_replay_jsonl_not_json", lambda p, s: ["eval", "--replay", str(p / "r.jsonl")], 2, "r.jsonl:1 is not valid JSON",
          _garbage("r.jsonl", "not json\n")),
    Fault("item07_replay_json_not_json", lambda p, s: ["eval", "--replay", str(p / "r.json")], 2, "r.json is not valid JSON",
          _garbage("r.json", "{not json")),
    Fault("item07_replay_text_parquet", lambda p, s: ["eval", "--replay", str(p / "r.parquet")], 2, "is not a readable Parquet file",
          _garbage("r.parquet", "text\n")),
    Fault("item07_eval_data_bad_line", lambda p, s: ["eval", "--data", str(p / "data.jsonl"), "--vllm-url", "http://127.0.0.1:9/v1"], 2,
          "data.jsonl:2 is not valid JSON", _problems),
    Fault("item07_vllm_url_dead", lambda p, s: _eval(p), 2, "cannot reach the server", _one_problem, absent=(KEY,)),
    Fault("item07_vllm_url_html", lambda p, s: _eval(p), 2, "did not answer with a chat completion", _one_problem,
          server=lambda: CannedServer(200, "text/html", b"<html><body>It works!</body></html>")),
    Fault("item07_vllm_url_empty_200", lambda p, s: _eval(p), 2, "did not answer with a chat completion", _one_problem,
          server=lambda: CannedServer(200, "application/json", b"")),
    Fault("item20_vllm_url_401_echoing_the_key", lambda p, s: _eval(p), 2, "refused the API key (401)", _one_problem,
          server=lambda: CannedServer(401, "application/json", _echo_key), absent=(KEY, KEY[10:])),
    # 8: a model folder that does not exist is not tried as a Hub id
    Fault("item08_train_model_folder_missing", lambda p, s: ["train-sft", "--data", str(s), "--model", "models/Qwen3-8B",
          "--out", str(p / "run")], 2, "--model models/Qwen3-8B: no such folder", needs="torch"),
    Fault("item08_train_model_path_missing", lambda p, s: ["train-sft", "--data", str(s), "--model", str(p / "models" / "x"),
          "--out", str(p / "run")], 2, "no such folder", needs="torch"),
    # 9: a FIFO with no writer would block for ever
    Fault("item09_fifo_as_input", lambda p, s: _segment(p), 2, "is not a regular file", _fifo, subprocess=True),
    # 16: the output inside the input, or the input inside the output
    Fault("item16_out_inside_the_input_folder", lambda p, s: ["segment", "--input", str(p / "in"), "--out", str(p / "in" / "out"),
          "--overwrite", "--workers", "1"], 2, "is inside the input folder", _inside_input,
          lambda p: not (p / "in" / "out").exists()),
    Fault("item16_input_inside_out", lambda p, s: ["segment", "--input", str(p / "out" / "data"), "--out", str(p / "out"),
          "--overwrite", "--workers", "1"], 2, "is inside --out", _input_inside_out,
          lambda p: (p / "out" / "data" / "rows.jsonl").is_file()),
    # 17: exact duplicates
    Fault("item17_segment_drops_exact_duplicates", lambda p, s: _segment(p), 0, "", _duplicate_rows, _duplicate_check),
    Fault("item17_validate_fails_duplicate_records", lambda p, s: ["validate", str(p / "twice.jsonl"), "--checks", "records"], 1,
          "FAIL: 1 of 2 records pass", _duplicate_records),
    # 18: compressed JSON lines are read; every file not read is named
    Fault("item18_gzip_and_zstd_inputs_and_ignored_files", lambda p, s: ["segment", "--input", str(p / "in"), "--out", str(p / "out"),
          "--workers", "1"], 0, "notes.txt", _compressed_folder, _compressed_check),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault(fault: Fault, tmp_path, shards, capsys, closed_port, monkeypatch):
    if fault.needs:
        pytest.importorskip(fault.needs)
    monkeypatch.chdir(tmp_path)
    fault.setup(tmp_path, shards)
    with fault.server() if fault.server else _Nothing() as server:
        (tmp_path / "url").write_text(server.base_url if server else f"http://127.0.0.1:{closed_port}/v1")
        args = fault.args(tmp_path, shards)
        if fault.subprocess:
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            done = subprocess.run([sys.executable, "-m", "openmementos.cli", *args], capture_output=True, text=True,
                                  timeout=120, env=env, cwd=tmp_path)
            code, out, err = done.returncode, done.stdout, done.stderr
        else:
            code = main(args)
            captured = capsys.readouterr()
            out, err = captured.out, captured.err
    assert "Traceback" not in out + err
    assert code == fault.code, out + err
    if fault.code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines[0].startswith("error: ") and fault.message in lines[0], err
        assert len(lines) <= 2 and all(line.startswith(("error: ", "hint: ")) for line in lines), err
    else:
        assert fault.message in " ".join((out + err).split())
    for secret in fault.absent:
        assert secret not in out + err
    assert fault.check(tmp_path) is not False


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        pass
