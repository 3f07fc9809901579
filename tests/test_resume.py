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


def _command(input_file: Path, out: Path, extra: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, "-m", "openmementos.cli", "segment", "--input", str(input_file), "--out", str(out),
            "--quiet", "--workers", "2", "--rows-per-shard", "3", *extra]


def _contents(out: Path) -> dict[str, str]:
    files = {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in ("data", "full", "rejects")
        for p in sorted((out / folder).glob("*"))
    }
    manifest = json.loads((out / "manifest.json").read_text())
    files["counts"] = json.dumps(manifest["counts"], sort_keys=True)
    return files


# The stratified plan: some traces it takes fail later (blocks of 1,500 tokens are too big for
# the shorter ones), so a resume must count what the plan took, not only what was kept.
STRATIFIED = ("--domain-mix", "math=0.5,code=0.25,science=0.25", "--sample", "24", "--min-block-tokens", "1500")


@pytest.mark.slow
@pytest.mark.parametrize("extra", [(), STRATIFIED], ids=["plain", "stratified"])
def test_kill_9_at_random_moments_then_rerun_gives_the_uninterrupted_result(tmp_path, extra):
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
    subprocess.run(_command(input_file, reference, extra), check=True, timeout=300)
    full_time = time.monotonic() - started

    out = tmp_path / "killed"
    rng = random.Random(7)
    kills = 0
    for _ in range(6):
        proc = subprocess.Popen(_command(input_file, out, extra), start_new_session=True)
        time.sleep(rng.uniform(0.3, max(0.6, full_time * 0.9)))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: workers die too
            kills += 1
        proc.wait()
        if (out / "manifest.json").exists():
            break
    assert kills >= 1, "no run was interrupted: the test proved nothing"
    subprocess.run(_command(input_file, out, extra), check=True, timeout=300)
    assert _contents(out) == _contents(reference)
    if extra:
        skips = json.loads((out / "manifest.json").read_text())["counts"]["skips"]
        assert skips.get("segmentation/too_short_for_blocks", 0) > 0, "no taken trace failed later: the case is not exercised"
        return
    journal = (out / ".openmementos" / "journal.jsonl").read_text().splitlines()
    starts = [json.loads(line)["input_start"] for line in journal]
    ends = [json.loads(line)["input_end"] for line in journal]
    assert starts[0] == 0 and starts[1:] == ends[:-1] and ends[-1] == len(mixed)
