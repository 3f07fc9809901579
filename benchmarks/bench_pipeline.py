"""End-to-end ``segment`` throughput and memory with the offline teacher.

Runs the real CLI in a subprocess on a synthetic corpus (``make_sample.py --count``) and
reports traces/s and the peak resident memory of the whole process tree (main + workers) at
each input size. Baseline in the same run: the same job with one worker.

    python benchmarks/bench_pipeline.py                      # 1K and 20K traces, 1 vs 2 workers
    python benchmarks/bench_pipeline.py --sizes 200,1000     # quicker
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procwatch import machine, run_watched  # noqa: E402

HERE = Path(__file__).resolve().parent


def segment(corpus: Path, out: Path, limit: int, workers: int) -> dict:
    command = [sys.executable, "-m", "openmementos.cli", "segment", "--input", str(corpus), "--out", str(out),
               "--limit", str(limit), "--workers", str(workers), "--json", "--quiet"]
    watched = run_watched(command)
    if watched.returncode != 0:
        raise SystemExit(f"segment failed: {watched.stderr.strip()}")
    summary = json.loads(watched.stdout)
    return {
        "traces": limit,
        "workers": workers,
        "seconds": round(watched.seconds, 2),
        "traces_per_s": round(limit / watched.seconds, 1),
        "peak_rss_mib": round(watched.peak_rss_mib, 1),
        "kept": summary["kept"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000", help="comma-separated trace counts")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--corpus", type=Path, help="a JSONL corpus (default: generated)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        corpus = args.corpus
        if corpus is None:
            corpus = tmp_path / "corpus.jsonl"
            subprocess.run([sys.executable, str(HERE / "make_sample.py"), "--count", str(max(sizes)), "--out", str(corpus)],
                           check=True, capture_output=True)
        results = [segment(corpus, tmp_path / "base", sizes[0], 1)]
        for size in sizes:
            results.append(segment(corpus, tmp_path / f"run{size}", size, args.workers))
    print(f"machine: {machine()}; date: {datetime.date.today()}")
    print("| traces | workers | seconds | traces/s | peak RSS (MiB, process tree) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['traces']:,} | {r['workers']} | {r['seconds']} | {r['traces_per_s']} | {r['peak_rss_mib']} |")
    base, first = results[0], results[1]
    print(f"\nspeed-up of {args.workers} workers over 1 at {sizes[0]:,} traces: {first['traces_per_s'] / base['traces_per_s']:.2f}x")
    if len(results) > 2:
        print(f"peak RSS at {sizes[-1]:,} vs {sizes[0]:,} traces: {results[-1]['peak_rss_mib'] / first['peak_rss_mib']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
