#!/usr/bin/env python3
"""Benchmark ``openmementos validate``: records/s and peak memory of the process tree.

Builds a corpus once (``make_sample.py`` traces through ``segment``, then its rows replicated
with fresh trace ids into shards of 1,000 rows in the segment layout, with a manifest), then runs
``validate`` in fresh processes and samples the memory of each process tree through /proc:

- the offline checks on the full config with 1 and 2 workers, with and without the checks issue 11
  added (the baseline is 1 worker without them);
- the default config (blocks and mementos parsed from ``response``, every token counted);
- the full config with ``--recount`` (every token counted, as a third-party file would need);
- the same runs at 2,000 and at 20,000 records, to show that peak memory does not grow;
- the compiled row schema against ``jsonschema`` on the same rows (what compiling it buys).

    python benchmarks/bench_validate.py                  # 20,000 records, prints a markdown table
    python benchmarks/bench_validate.py --records 5000 --work /tmp/bv
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS_PER_SHARD = 1000


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process; PSS splits pages shared with forked workers fairly."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def run_watched(command: list[str]) -> tuple[subprocess.CompletedProcess, int, int]:
    """Run ``command``; return it with the peak summed RSS and PSS (KiB) of its process tree."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0, 0]

    def watch() -> None:
        while process.poll() is None:
            stack, rss, pss = [process.pid], 0, 0
            while stack:
                pid = stack.pop()
                one = _memory_kib(pid)
                rss, pss = rss + one[0], pss + one[1]
                stack.extend(_children(pid))
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stdout, stderr = process.communicate()
    watcher.join()
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr), peak[0], peak[1]


def build_corpus(work: Path, records: int, base_traces: int) -> Path:
    """``work/corpus-N``: N rows in the segment layout (data/, full/, manifest.json)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from openmementos.pipeline import SegmentJob, run_segment
    from openmementos.shards import (
        DEFAULT_SCHEMA,
        FULL_SCHEMA,
        sha256_file,
        shard_name,
        write_json,
    )

    out = work / f"corpus-{records}"
    if (out / "manifest.json").is_file():
        return out
    base = work / "base"
    if not (base / "manifest.json").is_file():
        traces = work / "traces.jsonl"
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_sample.py"), "--count", str(base_traces), "--out", str(traces)], check=True)
        run_segment(SegmentJob(input=str(traces), out=base, workers=os.cpu_count() or 1))
    rows = pq.read_table(base / "full").to_pylist()
    shards: dict[str, list] = {"data": [], "full": [], "rejects": []}
    for shard in range((records + ROWS_PER_SHARD - 1) // ROWS_PER_SHARD):
        first = shard * ROWS_PER_SHARD
        chunk = []
        for i in range(first, min(records, first + ROWS_PER_SHARD)):
            row = dict(rows[i % len(rows)])
            row["trace_id"] = f"{row['trace_id']}-{i}"
            chunk.append(row)
        for folder, schema in (("data", DEFAULT_SCHEMA), ("full", FULL_SCHEMA)):
            path = out / folder / f"{shard_name(shard)}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist([{k: r[k] for k in schema.names} for r in chunk], schema=schema), path, compression="zstd")
            shards[folder].append({"path": f"{folder}/{path.name}", "sha256": sha256_file(path), "rows": len(chunk)})
    write_json(out / "manifest.json", {"format": "openmementos/1", "counts": {"kept": records}, "shards": shards})
    return out


_RUN = """
import json, sys
from openmementos.validate import ValidateConfig, ValidateJob, validate
path, config, workers, recount = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
skip = tuple(name for name in sys.argv[5].split(",") if name)
s = validate(ValidateJob(path, ValidateConfig(recount=recount, skip=skip), input_config=config, workers=workers))
print(json.dumps({"records": s.report.records, "seconds": s.seconds, "pass_rate": s.report.pass_rate,
                  "integrity": len(s.report.integrity)}))
"""


# the checks issue 11 added (numbers in context, memento order, inflated mementos): skipping them
# measures what validate cost before them, in the same run
ISSUE_11_CHECKS = ("faithfulness.changed_number", "faithfulness.order", "sizes.inflated")


def measure(path: Path, config: str, workers: int, recount: bool = False, skip: tuple[str, ...] = ()) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done, rss, pss = run_watched([sys.executable, "-c", _RUN, str(path), config, str(workers), "1" if recount else "0", ",".join(skip)])
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)  # the whole tree, startup included
    if done.returncode != 0:
        raise SystemExit(f"validate failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "wall": wall, "cpu": cpu, "rate": result["records"] / result["seconds"], "rss_mib": rss / 1024, "pss_mib": pss / 1024}


def schema_comparison(path: Path, rows: int = 1000) -> tuple[float, float]:
    """Microseconds per full row: the compiled schema, and jsonschema on the same schema."""
    import jsonschema
    import pyarrow.parquet as pq

    from openmementos.resources import load_schema
    from openmementos.validate.schema import row_schema

    table = pq.read_table(next(iter(sorted((path / "full").glob("*.parquet"))))).slice(0, rows).to_pylist()
    compiled, validator = row_schema(), jsonschema.Draft202012Validator(load_schema("openmementos_row"))
    timings = []
    for check in (compiled.problems, lambda r: list(validator.iter_errors(r))):
        started = time.process_time()
        for row in table:
            check(row)
        timings.append((time.process_time() - started) / len(table) * 1e6)
    return timings[0], timings[1]


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, load average {load:.1f} at start"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=20_000, help="records in the large corpus")
    ap.add_argument("--small", type=int, default=2_000, help="records in the small corpus (memory comparison; 2 shards, so 2 workers share it)")
    ap.add_argument("--base-traces", type=int, default=300, help="distinct synthetic traces segmented, then replicated")
    ap.add_argument("--work", type=Path, default=Path("/tmp/openmementos-bench-validate"), help="where the corpora are built (kept)")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}; {datetime.date.today().isoformat()}", flush=True)
    large, small = build_corpus(args.work, args.records, args.base_traces), build_corpus(args.work, args.small, args.base_traces)
    runs = [
        ("full config, 1 worker, without the issue-11 checks (baseline)", large, "full", 1, False, ISSUE_11_CHECKS),
        ("full config, 1 worker", large, "full", 1, False),
        ("full config, 2 workers, without the issue-11 checks", large, "full", 2, False, ISSUE_11_CHECKS),
        ("full config, 2 workers", large, "full", 2, False),
        ("full config, 2 workers, --recount", large, "full", 2, True),
        ("default config (response parsed, every token counted), 2 workers", large, "default", 2, False),
        (f"full config, 1 worker, {args.small:,} records", small, "full", 1, False),
        (f"full config, 2 workers, {args.small:,} records", small, "full", 2, False),
    ]
    print("\n| run | records | seconds | records/s | CPU s (tree) | records per CPU s | peak RSS of tree (MiB) | peak PSS of tree (MiB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, path, config, workers, recount, *skip in runs:
        m = measure(path, config, workers, recount, skip[0] if skip else ())
        assert m["integrity"] == 0, "the corpus manifest does not match its shards"
        print(f"| {name} | {m['records']:,} | {m['seconds']:.1f} | {m['rate']:,.0f} | {m['cpu']:.1f} | {m['records'] / m['cpu']:,.0f} "
              f"| {m['rss_mib']:.0f} | {m['pss_mib']:.0f} |", flush=True)
    compiled, reference = schema_comparison(large)
    print(f"\nrow schema per full row: compiled {compiled:.0f} us, jsonschema {reference:.0f} us ({reference / compiled:.0f}x)")


if __name__ == "__main__":
    main()
