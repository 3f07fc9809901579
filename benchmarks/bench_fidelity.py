#!/usr/bin/env python3
"""Does the data `segment` makes look like the paper's? Figures on real traces, against baselines.

    python benchmarks/bench_fidelity.py                       # markdown tables on stdout
    python benchmarks/bench_fidelity.py --compare-rev c916041 # ... and the same figures for an older commit
    python benchmarks/bench_fidelity.py --memento-dir DIR     # more real MEMENTO outputs for the F1 table

For every trace file in ``../shared/data/traces/`` (default options, the offline teacher; the
MATH-500 files name their trace field ``full_response``):

- sentences per trace and scoring requests per trace (what an LLM scorer would be asked);
- blocks per trace (median) and tokens per block (mean, cl100k_base) on traces above 4K thinking
  tokens, against the published ~1,150 (goal: 0.7-1.4x);
- memento/block token ratio, pooled and median, in cl100k_base and o200k_base (goal: pooled
  0.12-0.25; published 194/1,150 = 0.17), and the median character ratio (published 0.16-0.23);
- the share of rows that pass ``validate`` with default thresholds;
- the judge scores the kept mementos got;
- planted corruptions of the real MEMENTO rows and of the ``segment`` rows (a changed digit, a
  number swapped for another of the block, a memento replaced by 70% of its block, two mementos
  swapped): how many ``validate`` catches and by which check, and how many clean rows it flags.

For every real MEMENTO output (``../shared/data/memento/*.json`` and ``--memento-dir``): the
thinking text is rebuilt from the blocks (joined by a newline: the outputs hold no blank lines),
split, scored and segmented; a predicted cut matches a real one within one sentence. The
baseline is an equal-token chunker with the same number of blocks as the segmentation (and, for
reference, with the real number). Also: how many blocks' results the compressor's memento states,
against the real mementos, by the heuristic judge's own reading of "the result".

``--compare-rev REV`` runs the same measurements on a checkout of REV (a temporary git worktree)
in a subprocess, so old and new figures come from one run on one machine.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PUBLISHED_TOKENS_PER_BLOCK = 1150
LONG_TRACE = 4000


def _segments(data: dict, kind: str) -> list[str]:
    """The texts of one kind (``block``, ``summary``, ``answer``) of a real MEMENTO output, in order."""
    return [s["text"] for s in data["segments"] if s["type"] == kind]


def _field_map(path: Path):
    from openmementos.sources import FieldMap

    with path.open(encoding="utf-8") as handle:
        first = json.loads(handle.readline())
    return FieldMap(trace="full_response") if "full_response" in first else FieldMap()


def _shards(out: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return [row for p in sorted((out / "full").glob("*.parquet")) for row in pq.read_table(p).to_pylist()]


def trace_figures(path: Path, work: Path) -> dict:
    from openmementos.pipeline import SegmentJob, run_segment
    from openmementos.scoring import ScoreConfig, windows
    from openmementos.tokens import make_counter
    from openmementos.validate import ValidateJob, validate

    out = work / path.stem
    run_segment(SegmentJob(input=str(path), out=out, fields=_field_map(path), workers=1))
    rows = _shards(out)
    o200k = make_counter("o200k_base")
    score = ScoreConfig()
    long_blocks = [n for r in rows if sum(r["sentence_tokens"]) > LONG_TRACE for n in r["block_tokens"]]
    ratios = [m / b for r in rows for m, b in zip(r["memento_tokens"], r["block_tokens"])]
    blocks_o200k, mementos_o200k = [], []
    for r in rows:
        blocks_o200k += o200k.count_many(_block_texts(r))
        mementos_o200k += o200k.count_many(list(r["block_summaries"]))
    char_ratios = [len(m) / len(b) for r in rows for m, b in zip(r["block_summaries"], _block_texts(r))]
    summary = validate(ValidateJob(out, workers=1)).report
    requests = [len(windows(len(r["sentences"]) - 1, score.window)) + len(windows(len(r["sentences"]) - 1, score.second_window or 1))
                for r in rows]
    return {
        "file": path.name,
        "traces": len(rows),
        "long_traces": sum(sum(r["sentence_tokens"]) > LONG_TRACE for r in rows),
        "sentences_per_trace": round(statistics.mean(len(r["sentences"]) for r in rows), 1),
        "scoring_requests_per_trace": round(statistics.mean(requests), 1),
        "blocks_per_trace_median": statistics.median(len(r["blocks"]) for r in rows),
        "tokens_per_block_long": round(statistics.mean(long_blocks)) if long_blocks else None,
        "ratio_pooled_cl100k": round(sum(sum(r["memento_tokens"]) for r in rows) / sum(sum(r["block_tokens"]) for r in rows), 3),
        "ratio_median_cl100k": round(statistics.median(ratios), 3),
        "ratio_pooled_o200k": round(sum(mementos_o200k) / sum(blocks_o200k), 3),
        "ratio_median_o200k": round(statistics.median(m / b for m, b in zip(mementos_o200k, blocks_o200k)), 3),
        "char_ratio_median": round(statistics.median(char_ratios), 3),
        "validate_pass_rate": round(summary.pass_rate, 3),
        "judge_min": min(max(rounds) for r in rows for rounds in r["judge_scores"]),
    }


def _block_texts(row: dict) -> list[str]:
    return ["".join(s + (sep if i < last else "") for i, (s, sep) in enumerate(zip(row["sentences"], row["separators"]))
                    if first <= i <= last) for first, last in row["blocks"]]


def _hits(predicted: list[int], gold: list[int]) -> int:
    used: set[int] = set()
    hits = 0
    for g in gold:
        near = [p for p in predicted if abs(p - g) <= 1 and p not in used]
        if near:
            used.add(min(near, key=lambda p: abs(p - g)))
            hits += 1
    return hits


def _f1(hits: int, predicted: int, gold: int) -> float:
    return 0.0 if not hits else 2 * hits / (predicted + gold)


def boundary_figures(path: Path) -> dict:
    from openmementos.records import Trace
    from openmementos.scoring import score_trace
    from openmementos.segmentation import segment_trace
    from openmementos.sentences import split_trace
    from openmementos.teacher.heuristic import HeuristicTeacher
    from openmementos.tokens import make_counter

    data = json.loads(path.read_text(encoding="utf-8"))
    blocks = _segments(data, "block")
    text = "\n".join(blocks)
    cuts, at = [], 0
    for block in blocks[:-1]:
        at += len(block)
        cuts.append(at)
        at += 1
    trace = split_trace(Trace("memento", data["problem"], text, ""), make_counter(None))
    ends, at = [], len(trace.leading)
    for sentence, separator in zip(trace.sentences, trace.separators):
        at += len(sentence)
        ends.append(at)
        at += len(separator)
    gold = [min(range(len(ends) - 1), key=lambda b: abs(ends[b] - c)) for c in cuts]
    trace = segment_trace(score_trace(trace, HeuristicTeacher()))
    predicted = [last for _, last in trace.blocks[:-1]]
    total = list(itertools.accumulate(trace.sentence_tokens))

    def equal(k: int) -> list[int]:
        return sorted({min(range(len(total) - 1), key=lambda b: abs(total[b] - total[-1] * j / k)) for j in range(1, k)})

    same_k, real_k = equal(len(trace.blocks)), equal(len(blocks))
    out = {
        "file": path.name, "sentences": len(trace.sentences), "real_blocks": len(blocks), "blocks": len(trace.blocks),
        "real_cuts": gold, "cuts": predicted,
        "hits": _hits(predicted, gold), "equal_hits": _hits(same_k, gold), "equal_real_k_hits": _hits(real_k, gold),
        "f1": round(_f1(_hits(predicted, gold), len(predicted), len(gold)), 3),
        "equal_f1": round(_f1(_hits(same_k, gold), len(same_k), len(gold)), 3),
        "equal_real_k_f1": round(_f1(_hits(real_k, gold), len(real_k), len(gold)), 3),
    }
    out.update(_results_stated(data, blocks))
    return out


def _results_stated(data: dict, blocks: list[str]) -> dict:
    """Blocks whose result the compressor's memento states, and the real memento, by one reading."""
    try:
        from openmementos.teacher.textfacts import _analyse
    except ImportError:
        return {}
    from openmementos.teacher.base import CompressRequest
    from openmementos.teacher.heuristic import HeuristicTeacher

    real = _segments(data, "summary")
    teacher, ours, earlier = HeuristicTeacher(), [], []
    for i, block in enumerate(blocks):
        memento = teacher.compress(CompressRequest(data["problem"], block, i, tuple(earlier)))["memento"]
        ours.append(memento)
        earlier.append(memento)
    facts = [_analyse(b) for b in blocks]
    if not hasattr(facts[0], "states_result"):
        return {}
    with_result = [i for i, f in enumerate(facts) if f.value]
    return {"blocks_with_result": len(with_result),
            "result_stated_ours": sum(facts[i].states_result(ours[i]) for i in with_result),
            "result_stated_real": sum(facts[i].states_result(real[i]) for i in with_result)}


# -- planted corruptions: which does validate catch, and does it leave the clean rows alone? ------

_NUMBER = re.compile(r"(?<![A-Za-z_\d.])\d+(?:\.\d+)?(?!\d)")
CORRUPTIONS = {
    "digit": "one digit of a memento's number changed (the first six numbers of each memento)",
    "same_block": "a memento's number replaced by another value of its block",
    "inflated": "a memento replaced by the first 70% of its block",
    "swap": "two mementos of a trace swapped",
    "swap_nonum": "two mementos without numbers swapped",
}


def _real_rows(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        data = json.loads(path.read_text())
        rows.append({"problem": data["problem"], "blocks": _segments(data, "block"), "mementos": _segments(data, "summary"),
                     "answer": "\n\n" + _segments(data, "answer")[0], "domain": str(data.get("label", "math")).lower()})
    return rows


def _our_rows(folders: list[Path]) -> list[dict]:
    from openmementos import format as fmt

    rows = {}
    for folder in folders:
        for row in _shards(folder):
            parsed = fmt.parse(row["response"])
            rows[(row["problem"], row["response"])] = {"problem": row["problem"], "blocks": list(parsed.blocks),
                                                       "mementos": list(parsed.mementos), "answer": parsed.answer,
                                                       "domain": row["domain"]}
    return list(rows.values())  # a trace file given twice in two layouts counts once


def _planted(row: dict, rng: random.Random) -> list[tuple[str, list[str]]]:
    """(kind, mementos) for every corruption of ``row``'s mementos."""
    from openmementos.validate.numerals import values

    out = []
    mementos = row["mementos"]

    def replaced(i: int, text: str) -> list[str]:
        return mementos[:i] + [text] + mementos[i + 1:]

    for i, memento in enumerate(mementos):
        others = sorted(v for v in values(row["blocks"][i]) if "/" not in v and len(v) >= 2)
        for match in list(_NUMBER.finditer(memento))[:6]:
            number = match.group(0)
            digit = str((int(number[-1]) + 1) % 10)
            out.append(("digit", replaced(i, memento[:match.start()] + number[:-1] + digit + memento[match.end():])))
            choices = [v for v in others if v != number]
            if choices:
                out.append(("same_block", replaced(i, memento[:match.start()] + rng.choice(choices) + memento[match.end():])))
        block = row["blocks"][i]
        out.append(("inflated", replaced(i, block[: int(0.7 * len(block))].rsplit(" ", 1)[0])))
    for i, j in itertools.combinations(range(len(mementos)), 2):
        swapped = list(mementos)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        numberless = not _NUMBER.search(mementos[i]) and not _NUMBER.search(mementos[j])
        out.append(("swap_nonum" if numberless else "swap", swapped))
    return out


def _verdicts(rows: list[dict], mementos: list[list[str]], work: Path) -> list[list[dict]]:
    """Each row's errors under validate's defaults (the judge gate aside: corruptions carry no scores)."""
    from openmementos import format as fmt
    from openmementos.validate import ValidateConfig, ValidateJob, validate

    path, report = work / "planted.jsonl", work / "planted-report.json"
    with path.open("w", encoding="utf-8") as out:
        for row, written in zip(rows, mementos):
            out.write(json.dumps({"problem": row["problem"], "response": fmt.render(row["blocks"], written, row["answer"]),
                                  "domain": row["domain"], "source": "bench", "difficulty": 5}) + "\n")
    validate(ValidateJob(path, ValidateConfig(skip=("judge",)), json_report=report, workers=1))
    return [record["errors"] for record in json.loads(report.read_text())["records"]]


def corruption_figures(real: list[dict], ours: list[dict], work: Path) -> dict:
    rng = random.Random(0)
    figures = {}
    for label, rows in (("real", real), ("ours", ours)):
        clean = _verdicts(rows, [r["mementos"] for r in rows], work)
        planted = [(row, kind, written) for row in rows for kind, written in _planted(row, rng)]
        found = _verdicts([p[0] for p in planted], [p[2] for p in planted], work)
        kinds = {}
        for (_, kind, _), errors in zip(planted, found):
            entry = kinds.setdefault(kind, {"rows": 0, "caught": 0, "checks": {}})
            entry["rows"] += 1
            entry["caught"] += bool(errors)
            for check in {e["check"] for e in errors}:
                entry["checks"][check] = entry["checks"].get(check, 0) + 1
        figures[label] = {"clean_rows": len(rows), "clean_flagged": sum(bool(e) for e in clean), "kinds": kinds}
    return figures


def measure(memento_dirs: list[Path]) -> dict:
    # one file per name: a folder of extra outputs may hold a copy of the shared one
    mementos = sorted({p.name: p for d in [*memento_dirs, SHARED / "memento"] for p in d.glob("*.json")}.values())
    with tempfile.TemporaryDirectory() as work:
        paths = sorted((SHARED / "traces").glob("*.jsonl"))
        traces = [trace_figures(p, Path(work)) for p in paths]
        planted = corruption_figures(_real_rows(mementos), _our_rows([Path(work) / p.stem for p in paths]), Path(work))
    return {"traces": traces, "boundaries": [boundary_figures(p) for p in mementos], "corruptions": planted}


def _at_revision(rev: str, memento_dirs: list[Path]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        checkout = Path(tmp) / "checkout"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(checkout), rev], check=True, capture_output=True)
        try:
            env = {**os.environ, "PYTHONPATH": str(checkout)}
            args = [sys.executable, str(Path(__file__).resolve()), "--measure-only", *sum((["--memento-dir", str(d)] for d in memento_dirs), [])]
            done = subprocess.run(args, env=env, capture_output=True, text=True, check=True, cwd=tmp)
            return json.loads(done.stdout)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(checkout)], capture_output=True)


def _table(figures: dict, label: str) -> str:
    lines = [f"### {label}", "",
             "| file | traces | sentences/trace | scoring requests/trace | blocks/trace (median) | tokens/block, traces >4K (x 1,150) "
             "| ratio pooled cl100k / o200k | ratio median cl100k / o200k | char ratio median | validate pass | lowest judge |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for t in figures["traces"]:
        tpb = t["tokens_per_block_long"]
        size = f"{tpb:,} ({tpb / PUBLISHED_TOKENS_PER_BLOCK:.2f}x, {t['long_traces']} traces)" if tpb else "no trace >4K"
        lines.append(f"| {t['file']} | {t['traces']} | {t['sentences_per_trace']} | {t['scoring_requests_per_trace']} | "
                     f"{t['blocks_per_trace_median']} | {size} | {t['ratio_pooled_cl100k']} / {t['ratio_pooled_o200k']} | "
                     f"{t['ratio_median_cl100k']} / {t['ratio_median_o200k']} | {t.get('char_ratio_median', '')} | "
                     f"{t['validate_pass_rate']:.1%} | {t['judge_min']} |")
    lines += ["", "| real MEMENTO output | sentences | blocks real / ours | F1 ours | F1 equal-token, same K | "
              "F1 equal-token, real K | results stated ours / real |", "|---|---:|---:|---:|---:|---:|---:|"]
    hits = pred = gold = eq = eq_real = 0
    for b in figures["boundaries"]:
        stated = f"{b['result_stated_ours']} / {b['result_stated_real']} of {b['blocks_with_result']}" if "blocks_with_result" in b else "n/a"
        lines.append(f"| {b['file']} | {b['sentences']} | {b['real_blocks']} / {b['blocks']} | {b['f1']} | {b['equal_f1']} | "
                     f"{b['equal_real_k_f1']} | {stated} |")
        hits, pred, gold = hits + b["hits"], pred + b["blocks"] - 1, gold + b["real_blocks"] - 1
        eq, eq_real = eq + b["equal_hits"], eq_real + b["equal_real_k_hits"]
    if figures["boundaries"]:
        ratio = _f1(hits, pred, gold) / _f1(eq, pred, gold) if eq else float("inf")
        lines.append(f"| all (pooled) | | | {_f1(hits, pred, gold):.3f} | {_f1(eq, pred, gold):.3f} ({ratio:.1f}x less) | "
                     f"{_f1(eq_real, sum(b['real_blocks'] - 1 for b in figures['boundaries']), gold):.3f} | |")
    if figures.get("corruptions"):
        c = figures["corruptions"]
        lines += ["", f"Planted corruptions, each row validated with the defaults (judge aside); clean rows flagged: "
                      f"real {c['real']['clean_flagged']}/{c['real']['clean_rows']}, ours {c['ours']['clean_flagged']}/{c['ours']['clean_rows']}.",
                  "", "| corruption | real MEMENTO rows caught | `segment` rows caught | checks that caught them (ours) |",
                  "|---|---:|---:|---|"]
        for kind, what in CORRUPTIONS.items():
            real, ours = c["real"]["kinds"].get(kind), c["ours"]["kinds"].get(kind)
            show = lambda k: f"{k['caught']}/{k['rows']}" if k else "none planted"  # noqa: E731
            checks = ", ".join(f"{name} {n}" for name, n in sorted((ours or {}).get("checks", {}).items(), key=lambda x: -x[1]))
            lines.append(f"| {what} | {show(real)} | {show(ours)} | {checks} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare-rev", help="also measure this git revision (e.g. the last one before a change)")
    parser.add_argument("--memento-dir", type=Path, action="append", default=[], help="more real MEMENTO outputs (*.json)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED} is absent: the real traces live beside the checkout")
    sys.path.insert(0, os.environ.get("PYTHONPATH") or str(ROOT))
    if args.measure_only:
        print(json.dumps(measure(args.memento_dir)))
        return
    now = measure(args.memento_dir)
    old = _at_revision(args.compare_rev, args.memento_dir) if args.compare_rev else None
    print(f"{datetime.date.today()} · {platform.machine()}, {os.cpu_count()} cores · python {platform.python_version()}\n")
    print(_table(now, "this checkout"))
    if old is not None:
        print()
        print(_table(old, f"revision {args.compare_rev}"))
    if args.json:
        args.json.write_text(json.dumps({"now": now, "old": old}, indent=2))


if __name__ == "__main__":
    main()
