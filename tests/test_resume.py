"""kill -9 at any moment, then the same command: the shards of an uninterrupted run, exactly."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "openmementos" / "data" / "sample.jsonl"


def _command(input_file: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "openmementos.cli", "segment", "--input", str(input_file), "--out", str(out),
            "--quiet", "--workers", "2", "--rows-per-shard", "3"]


def _contents(out: Path) -> dict[str, str]:
    files = {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in ("data", "full", "rejects")
        for p in sorted((out / folder).glob("*"))
    }
    manifest = json.loads((out / "manifest.json").read_text())
    files["counts"] = json.dumps(manifest["counts"], sort_keys=True)
    return files


@pytest.mark.slow
def test_kill_9_at_random_moments_then_rerun_gives_the_uninterrupted_result(tmp_path):
    # Sample rows twice over plus bad rows: several chunks, rejects in between.
    lines = SAMPLE.read_text().splitlines()
    mixed = []
    for i, line in enumerate(lines + lines[:12]):
        mixed.append(line)
        if i % 7 == 3:
            mixed.append("{broken json")
    input_file = tmp_path / "input.jsonl"
    input_file.write_text("\n".join(mixed) + "\n")

    reference = tmp_path / "reference"
    started = time.monotonic()
    subprocess.run(_command(input_file, reference), check=True, timeout=300)
    full_time = time.monotonic() - started

    out = tmp_path / "killed"
    rng = random.Random(7)
    kills = 0
    for _ in range(6):
        proc = subprocess.Popen(_command(input_file, out), start_new_session=True)
        time.sleep(rng.uniform(0.3, max(0.6, full_time * 0.9)))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: workers die too
            kills += 1
        proc.wait()
        if (out / "manifest.json").exists():
            break
    assert kills >= 1, "no run was interrupted: the test proved nothing"
    subprocess.run(_command(input_file, out), check=True, timeout=300)
    assert _contents(out) == _contents(reference)
    journal = (out / ".openmementos" / "journal.jsonl").read_text().splitlines()
    starts = [json.loads(line)["input_start"] for line in journal]
    ends = [json.loads(line)["input_end"] for line in journal]
    assert starts[0] == 0 and starts[1:] == ends[:-1] and ends[-1] == len(mixed)
