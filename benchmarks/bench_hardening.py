#!/usr/bin/env python3
"""What the issue-12 hardening costs on the hot paths, each against its baseline in the same run.

- Input rows: ``to_trace`` alone (the baseline) against ``to_trace`` plus the duplicate check
  (a blake2b fingerprint of problem and thinking, and a dict lookup), per row of the real traces.
- Reading: the same rows from ``.jsonl`` (the baseline), ``.jsonl.gz`` and ``.jsonl.zst``,
  through ``sources.open_input``.
(The capped gzip decoding of teacher answers is aiohttp's now: ``bench_teacher.py`` measures the
transport as a whole.)

CPU time (``time.process_time``), the median of repeats; read the ratios, not the times.

    python benchmarks/bench_hardening.py
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openmementos.duplicates import Duplicates  # noqa: E402
from openmementos.records import Trace  # noqa: E402
from openmementos.rowschema import to_trace  # noqa: E402
from openmementos.sources import SAMPLE_PATH, RawRow, open_input  # noqa: E402

TRACES = ROOT.parent / "shared" / "data" / "traces" / "ot3_format_math500_deepseek.jsonl"


def _cpu(work, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


def _pair(baseline, candidate, repeats: int = 15) -> tuple[float, float]:
    """Medians of the two, run in turns so that the machine's load drifts over both alike."""
    base, new = [], []
    for _ in range(repeats):
        base.append(_cpu(baseline, 1))
        new.append(_cpu(candidate, 1))
    return statistics.median(base), statistics.median(new)


def rows() -> tuple[str, list[bytes]]:
    path = TRACES if TRACES.is_file() else SAMPLE_PATH
    lines = path.read_bytes().splitlines(keepends=True)
    # distinct copies up to ~2,000 rows, so the duplicate check keeps every one
    out = []
    for copy in range(max(1, 2000 // len(lines))):
        for line in lines:
            row = json.loads(line)
            row["conversations"][0]["value"] = f"(copy {copy}) " + row["conversations"][0]["value"]
            out.append((json.dumps(row) + "\n").encode())
    return path.name, out


def bench_rows(lines: list[bytes]) -> dict[str, float]:
    from openmementos.sources import FieldMap

    fields = FieldMap()
    raws = [RawRow(i, f"x:{i}", json.loads(line)) for i, line in enumerate(lines)]
    traces = [to_trace(raw, fields) for raw in raws]
    assert sum(isinstance(t, Trace) for t in traces) > len(raws) // 2, "the rows did not parse"

    def plain() -> None:
        for raw in raws:
            to_trace(raw, fields)

    def checked() -> None:
        seen = Duplicates()
        for raw in raws:
            trace = to_trace(raw, fields)
            if isinstance(trace, Trace):
                seen.offer(trace, raw.index, raw.origin)

    base, new = _pair(plain, checked)
    return {"rows": len(raws), "base_us": base / len(raws) * 1e6, "new_us": new / len(raws) * 1e6}


def bench_reading(lines: list[bytes]) -> dict[str, float]:
    import pyarrow as pa

    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "rows.jsonl"
        plain.write_bytes(b"".join(lines))
        (Path(folder) / "rows.jsonl.gz").write_bytes(gzip.compress(plain.read_bytes(), 6))
        with pa.output_stream(str(Path(folder) / "rows.jsonl.zst"), compression="zstd") as stream:
            stream.write(plain.read_bytes())
        result = {"mb": plain.stat().st_size / 2**20}
        for name in ("rows.jsonl", "rows.jsonl.gz", "rows.jsonl.zst"):
            path = str(Path(folder) / name)
            assert sum(1 for r in open_input(path) if r.row is not None) == len(lines), name
            result[name] = _cpu(lambda: sum(1 for _ in open_input(path)), repeats=5)
    return result


def _cpu_name() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main() -> None:
    source, lines = rows()
    r, f = bench_rows(lines), bench_reading(lines)
    print(f"{datetime.date.today()} · {os.cpu_count()} cores, {_cpu_name()} · "
          f"load average {os.getloadavg()[0]:.1f} · rows from {source}\n")
    print("| what | baseline | with issue 12 | ratio |\n|---|---:|---:|---:|")
    print(f"| input row, {r['rows']:,} rows: to_trace / + duplicate check (µs per row) | {r['base_us']:.1f} | "
          f"{r['new_us']:.1f} | {r['new_us'] / r['base_us']:.2f}x |")
    for name in ("rows.jsonl.gz", "rows.jsonl.zst"):
        print(f"| read {f['mb']:.1f} MB of rows: .jsonl / {name[4:]} (CPU s) | {f['rows.jsonl']:.3f} | {f[name]:.3f} | "
              f"{f[name] / f['rows.jsonl']:.2f}x |")


if __name__ == "__main__":
    main()
