"""The LLM teacher's throughput and request mix, against the project's fake OpenAI server.

1. Throughput: N traces with a fixed per-request latency at a given concurrency. The ideal wall
   time is requests x latency / concurrency; the baseline in the same run is that ideal.
   Reports wall / ideal and the toolkit's CPU time per request (the client process only: the
   server runs in its own process so it does not share our GIL).
2. Request mix on the real traces in ../shared/data/traces: requests and tokens per trace by
   role, with the judge loop (a judge that fails the first draft, so refinement runs) and
   without it (--refine-rounds 0).

    python benchmarks/bench_teacher.py                       # 1000 traces, 200 ms, concurrency 128
    python benchmarks/bench_teacher.py --traces 200 --latency 0.05
    python benchmarks/bench_teacher.py --skip-mix --compare-transports   # own client vs aiohttp vs httpx

``--compare-transports`` runs the same throughput through three transports in one run: the
toolkit's own HTTP/1.1 client (``http_direct``, what the engine uses for servers reached
directly), aiohttp (``http_proxied``, what it uses behind a proxy) and httpx, each behind the
engine's pool interface.
"""

from __future__ import annotations

import argparse
import bisect
import datetime
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procwatch import machine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "traces"


def _serve(latency: float, port_queue, stop, judge_score: int) -> None:
    from openmementos.testing.openai_server import FakeOpenAI
    from openmementos.testing.responders import JUDGE_VERDICT

    server = FakeOpenAI(latency=latency)
    if judge_score != 9:
        verdict = json.loads(json.dumps(JUDGE_VERDICT))
        verdict["scores"]["formulas"] = max(0, judge_score - 7)
        verdict["scores"]["numbers"] = 0 if judge_score < 8 else 2
        server.tasks["judge_verdict"] = lambda request: verdict
    server.start()
    port_queue.put(server.base_url)
    stop.wait()
    stats = server.stats
    port_queue.put({"total": stats.total, "max_in_flight": stats.max_in_flight})
    server.stop()


class Server:
    def __init__(self, latency: float, judge_score: int = 9) -> None:
        context = multiprocessing.get_context("spawn")
        self.queue, self.stop = context.Queue(), context.Event()
        self.process = context.Process(target=_serve, args=(latency, self.queue, self.stop, judge_score), daemon=True)

    def __enter__(self) -> str:
        self.process.start()
        return self.queue.get(timeout=60)

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.stats = self.queue.get(timeout=60)
        self.process.join(timeout=10)


def _variants(path: Path, count: int) -> Path:
    rows = [json.loads(line) for line in (REPO / "openmementos" / "data" / "sample.jsonl").read_text().splitlines()]
    with open(path, "w") as handle:
        for i in range(count):
            row = json.loads(json.dumps(rows[i % len(rows)]))
            row["conversations"][0]["value"] = f"(variant {i}) " + row["conversations"][0]["value"]
            handle.write(json.dumps(row) + "\n")
    return path


def _run(input_path: Path, out: Path, base_url: str, concurrency: int, in_flight: int, refine_rounds: int = 2, **job_extra):
    from openmementos.mementos import MementoConfig
    from openmementos.pipeline import SegmentJob, run_segment
    from openmementos.teacher.factory import TeacherOptions

    options = TeacherOptions(spec="openai:fake-teacher", base_urls=(base_url,), api_key="bench", concurrency=concurrency,
                             cache=False, request_timeout=60.0)
    job = SegmentJob(input=str(input_path), out=out, teacher=options.spec, teacher_options=options,
                     traces_in_flight=in_flight, mementos=MementoConfig(max_rounds=refine_rounds), **job_extra)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.perf_counter()
    summary = run_segment(job)
    wall = time.perf_counter() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    manifest = json.loads((out / "manifest.json").read_text())
    return summary, wall, cpu, manifest["cost"]["roles"]


class _HttpxPool:
    """The engine's pool interface over httpx, one pool of ``max_connections``."""

    def __init__(self, base_url: str, headers: dict, timeout: float, max_connections: int) -> None:
        try:
            import httpx2 as httpx
        except ImportError:
            import httpx
        from openmementos.teacher.httpclient import Response

        self._response = Response
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout, trust_env=False,
                                         limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections))
        self.ever_connected = False

    async def request(self, method: str, path: str, body: bytes | None = None):
        response = await self._client.request(method, path.lstrip("/"), content=body)
        self.ever_connected = True
        return self._response(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()


def throughput(traces: int, latency: float, concurrency: int, in_flight: int, transport: str = "own") -> dict:
    from openmementos.teacher import engine
    from openmementos.teacher.http_proxied import ProxiedPool

    pools = {"own": None, "aiohttp": ProxiedPool, "httpx": _HttpxPool}
    real_open_pool = engine.open_pool
    if pools[transport] is not None:
        engine.open_pool = pools[transport]
    try:
        return _throughput(traces, latency, concurrency, in_flight) | {"transport": transport}
    finally:
        engine.open_pool = real_open_pool


def _throughput(traces: int, latency: float, concurrency: int, in_flight: int) -> dict:
    from openmementos.teacher import engine

    # each request's start and end as the engine sees them, for the in-flight timeline
    spans: list[tuple[float, float]] = []
    real_once = engine.Engine._once

    async def timed_once(self, *args):
        start = time.perf_counter()
        try:
            return await real_once(self, *args)
        finally:
            spans.append((start, time.perf_counter()))

    engine.Engine._once = timed_once
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = _variants(Path(tmp) / "in.jsonl", traces)
            server = Server(latency)
            with server as base_url:
                started = time.perf_counter()
                summary, wall, cpu, roles = _run(data, Path(tmp) / "out", base_url, concurrency, in_flight)
    finally:
        engine.Engine._once = real_once
    requests = sum(r["requests"] for r in roles.values())
    ideal = requests * latency / concurrency
    return {"traces": traces, "kept": summary.kept, "requests": requests, "latency_s": latency, "concurrency": concurrency,
            "wall_s": round(wall, 2), "ideal_s": round(ideal, 2), "wall_over_ideal": round(wall / ideal, 3) if ideal else None,
            "cpu_ms_per_request": round(1000 * cpu / requests, 3), "server_max_in_flight": server.stats["max_in_flight"],
            **_timeline(spans, started)}


def _timeline(spans: list[tuple[float, float]], started: float) -> dict:
    """Where the wall time goes: before the first request, requests in flight each second, after."""
    starts, ends = sorted(s for s, _ in spans), sorted(e for _, e in spans)
    per_second, moment = [], starts[0]
    while moment < ends[-1]:
        per_second.append(bisect.bisect(starts, moment) - bisect.bisect(ends, moment))
        moment += 1.0
    return {"first_request_after_s": round(starts[0] - started, 2),
            "mean_latency_seen_ms": round(1000 * sum(e - s for s, e in spans) / len(spans), 1),
            "in_flight_each_second": " ".join(map(str, per_second))}


def request_mix() -> list[dict]:
    files = {"ot3_example": SHARED / "ot3_example_trace.jsonl", "math500_deepseek": SHARED / "ot3_format_math500_deepseek.jsonl"}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in files.items():
            if not path.exists():
                continue
            for label, judge_score, rounds in (("with judge loop (first drafts judged 6/10)", 6, 2), ("without judge loop", 9, 0)):
                with Server(0.0, judge_score) as base_url:
                    summary, _, _, roles = _run(path, Path(tmp) / f"{name}-{rounds}", base_url, 32, 32, refine_rounds=rounds)
                per = max(1, summary.kept)
                results.append({"traces": name, "mode": label, "kept": summary.kept, **{
                    role: {"requests": round(r["requests"] / per, 1), "input_tokens": round(r["input_tokens"] / per),
                           "output_tokens": round(r["output_tokens"] / per)} for role, r in sorted(roles.items())}})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--in-flight", type=int, default=256, help="traces in flight")
    parser.add_argument("--skip-mix", action="store_true", help="only the throughput run")
    parser.add_argument("--compare-transports", action="store_true",
                        help="run the throughput through the own HTTP client, aiohttp and httpx (same run)")
    parser.add_argument("--transports", default="own,aiohttp,httpx",
                        help="with --compare-transports: which, in this order (the order a run measures them in)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    transports = args.transports.split(",") if args.compare_transports else ["own"]
    for transport in transports:   # warm-up, discarded: the first run would pay every import
        throughput(20, 0.0, args.concurrency, args.in_flight, transport)
    result = {"machine": machine(), "date": str(datetime.date.today()), "load_average_before": os.getloadavg()}
    for transport in transports:
        key = "throughput" if transport == "own" else f"throughput_{transport}"
        result[key] = throughput(args.traces, args.latency, args.concurrency, args.in_flight, transport)
        result[key]["load_average_after"] = os.getloadavg()
    if not args.skip_mix:
        result["request_mix"] = request_mix()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
