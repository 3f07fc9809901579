"""The reference decoder: tokens/s and eviction overhead of memento vs full mode; replay peak KV.

    python benchmarks/bench_decode.py                          # 2K, 8K, 16K generated tokens, tiny model, CPU
    python benchmarks/bench_decode.py --lengths 2048 --repeats 1   # a quick look
    python benchmarks/bench_decode.py --skip-decode            # replay numbers only (no model)

Decoding is teacher-forced through the decoder's own loop (the forced token replaces sampling,
the same in both modes) on a random tiny Qwen3 (hidden 64, 2 layers, the real Qwen3 vocabulary
plus the four memento tokens, float32, SDPA), with the structure of real data: a 64-token prompt,
blocks of 900-1400 content tokens each followed by a 150-240 token memento (the paper's averages
are about 1,150 and 194). *Overhead* is the time spent dropping entries (marking, then
compacting every layer) as a share of the whole run; tokens/s compares the modes at the same
number of generated tokens, where memento mode attends to fewer entries.

Replay counts the shared real MEMENTO output (``../shared/data/memento/``) and the bundled sample
after ``segment`` with Qwen3's tokenizer, in bytes for Qwen3-8B in bf16.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor() or platform.machine())
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start"


def memento_tokens(length: int, ids, vocab: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    seq: list[int] = []
    while len(seq) < length:
        seq += [ids.block_start] + [rng.randrange(vocab) for _ in range(rng.randint(900, 1400))] + [ids.block_end, 198]
        seq += [ids.summary_start] + [rng.randrange(vocab) for _ in range(rng.randint(150, 240))] + [ids.summary_end, 198]
    return seq[:length]


def bench_decode(lengths: list[int], repeats: int, text_vocab: int = 151_669) -> list[dict]:
    from openmementos.decode.config import DecodeConfig
    from openmementos.decode.decoder import MementoDecoder
    from openmementos.train.masks import MementoTokenIds
    from openmementos.train.random_model import random_qwen3

    # default: Qwen3's vocabulary plus the four memento tokens, whose LM head dominates a 64-wide model
    ids = MementoTokenIds(text_vocab, text_vocab + 1, text_vocab + 2, text_vocab + 3)
    model = random_qwen3("tiny", text_vocab + 4, seed=0, attn="sdpa").float().eval()
    decoder = MementoDecoder(model, ids)
    prompt = [random.Random(1).randrange(text_vocab) for _ in range(64)]
    decoder.generate([prompt], DecodeConfig(mode="memento"), forced=[memento_tokens(300, ids, text_vocab)])  # warm-up
    rows = []
    for length in lengths:
        forced = memento_tokens(length, ids, text_vocab)
        for mode in ("full", "memento"):
            runs = []
            for _ in range(repeats):
                start = time.perf_counter()
                [gen] = decoder.generate([prompt], DecodeConfig(mode=mode), forced=[forced])
                runs.append((time.perf_counter() - start, gen))
            seconds, gen = sorted(runs, key=lambda r: r[0])[len(runs) // 2]       # the median run
            rows.append({
                "vocab": text_vocab + 4, "generated": length, "mode": mode, "seconds": seconds, "tokens_per_second": length / seconds,
                "ms_per_token": 1e3 * seconds / length, "evict_seconds": gen.metrics.evict_seconds,
                "evict_share": gen.metrics.evict_seconds / seconds, "blocks": gen.metrics.blocks,
                "peak_kv_tokens": gen.metrics.peak_kv_tokens, "kv_auc_tokens": gen.metrics.kv_auc_tokens,
                "all_seconds": [round(r[0], 3) for r in runs],
            })
            print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def bench_replay() -> dict:
    from openmementos.cli import main as cli
    from openmementos.decode.blocks import parse_modes
    from openmementos.decode.models import model_shape
    from openmementos.decode.replay import default_counter, read_records, replay, summarise_replay

    counter, shape = default_counter(), model_shape("Qwen3-8B")
    modes = parse_modes("full,memento,keep-last-1,keep-last-2,restart")
    out = {"tokenizer": counter.name, "kv_model": shape.as_dict()}
    example = SHARED / "memento" / "example_math_aime25.json"
    if example.is_file():
        records = list(read_records([example]))
        out["example"] = summarise_replay(records, replay(records, modes, counter), shape)["unknown"]
    with tempfile.TemporaryDirectory() as tmp:
        shards = Path(tmp) / "shards"
        assert cli(["segment", "--input", "sample", "--out", str(shards), "--quiet", "--workers", "1"]) == 0
        records = list(read_records([shards]))
        start = time.perf_counter()
        results = replay(records, modes, counter)
        out["sample_seconds"] = time.perf_counter() - start
        out["sample"] = summarise_replay(records, results, shape)
    return out


def report(decode_rows: list[dict], replay: dict | None, header: str) -> str:
    lines = [header, ""]
    if decode_rows:
        lines += ["| vocabulary | generated tokens | mode | tokens/s | ms/token | eviction time (share) | blocks | peak KV tokens |",
                  "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
        for r in decode_rows:
            lines.append(f"| {r['vocab']:,} | {r['generated']:,} | {r['mode']} | {r['tokens_per_second']:,.0f} | {r['ms_per_token']:.2f} | "
                         f"{1e3 * r['evict_seconds']:.1f} ms ({100 * r['evict_share']:.2f}%) | {r['blocks']} | {r['peak_kv_tokens']:,} |")
        lines.append("")
    if replay:
        from openmementos.decode.models import format_bytes

        def row(name, stats):
            return (f"| {name} | {stats['peak_kv_tokens']:,.0f} | {format_bytes(stats['peak_kv_bytes'])} | "
                    f"{stats['peak_reduction']:.2f}x | {stats['kv_auc_tokens']:,.0f} | {stats['auc_reduction']:.2f}x |")

        lines += [f"Replay ({replay['tokenizer']} tokens, bytes for {replay['kv_model']['name']} bf16):", "",
                  "| records / mode | peak KV tokens | peak KV | peak reduction | KV AUC tokens | AUC reduction |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for mode, stats in replay.get("example", {}).items():
            lines.append(row(f"AIME25 example / {mode}", stats))
        for domain, modes in replay["sample"].items():
            for mode in ("full", "memento"):
                lines.append(row(f"sample {domain} ({modes[mode]['records']}) / {mode}", modes[mode]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="2048,8192,16384")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 by default: on a shared machine more threads make timings erratic (0: torch's choice)")
    parser.add_argument("--vocab", type=int, default=151_669,
                        help="text vocabulary of the random model (default: Qwen3's); a small one shows the attention and cache share")
    parser.add_argument("--skip-decode", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every number here")
    args = parser.parse_args()
    header = f"{date.today().isoformat()} · {machine()}"
    decode_rows = []
    if not args.skip_decode:
        import torch
        import transformers

        if args.threads:
            torch.set_num_threads(args.threads)
        header += f" · torch {torch.__version__} ({torch.get_num_threads()} threads), transformers {transformers.__version__}"
        decode_rows = bench_decode([int(x) for x in args.lengths.split(",")], args.repeats, args.vocab)
    replay_numbers = bench_replay()
    print(report(decode_rows, replay_numbers, header))
    if args.json:
        args.json.write_text(json.dumps({"header": header, "decode": decode_rows, "replay": replay_numbers}, indent=2))


if __name__ == "__main__":
    main()
