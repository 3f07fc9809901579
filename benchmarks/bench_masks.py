"""Stage-2 memento masks: build time and memory of the dense mask vs the FlexAttention block mask.

    python benchmarks/bench_masks.py                      # CPU: build time per 32K example, memory at 4K/16K/32K
    python benchmarks/bench_masks.py --train              # CUDA: stage-2 training tokens/s and peak memory,
                                                          #   dense vs flex, random Qwen3-0.6B shape, 8K and 32K
    python benchmarks/bench_masks.py --train --size tiny --lengths 512 --kinds dense   # CPU smoke of --train

Sequences have the memento structure of real data (a prompt, blocks of 400-2000 tokens, each
followed by a 60-200 token memento, an answer), built directly as token ids. Dense-mask memory
is measured in a fresh subprocess per case (peak RSS above the baseline after imports).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import statistics
import subprocess
import sys
import time

import torch

from openmementos.train.masks import MaskMetadata, MaskPolicy, MementoTokenIds, dense_mask, flex_block_mask, mask_metadata

IDS = MementoTokenIds(151669, 151670, 151671, 151672)     # where Qwen3 puts the added tokens


def memento_sequence(length: int, seed: int = 0, vocab: int = 151000) -> torch.Tensor:
    rng = random.Random(seed)
    seq = [rng.randrange(vocab) for _ in range(200)]
    while len(seq) < length:
        seq += [IDS.block_start] + [rng.randrange(vocab) for _ in range(rng.randint(400, 2000))] + [IDS.block_end]
        seq += [198, IDS.summary_start] + [rng.randrange(vocab) for _ in range(rng.randint(60, 200))] + [IDS.summary_end, 198]
    return torch.tensor([seq[:length]])


def _block_mask_bytes(bm) -> int:
    tensors = [bm.kv_num_blocks, bm.kv_indices, bm.full_kv_num_blocks, bm.full_kv_indices,
               bm.q_num_blocks, bm.q_indices, bm.full_q_num_blocks, bm.full_q_indices]
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def _meta_bytes(meta: MaskMetadata) -> int:
    return sum(t.numel() * t.element_size() for t in (meta.block, meta.role, meta.done))


def time_block_mask(length: int, repeats: int = 20) -> dict:
    ids = memento_sequence(length)
    meta_ms, block_ms = [], []
    for _ in range(repeats + 2):
        t0 = time.perf_counter()
        meta = mask_metadata(ids, IDS)
        t1 = time.perf_counter()
        bm = flex_block_mask(meta, MaskPolicy())
        t2 = time.perf_counter()
        meta_ms.append(1e3 * (t1 - t0))
        block_ms.append(1e3 * (t2 - t1))
    meta_ms, block_ms = meta_ms[2:], block_ms[2:]          # the first calls warm the allocator
    total = [a + b for a, b in zip(meta_ms, block_ms)]
    return {
        "tokens": length,
        "metadata_ms": round(statistics.median(meta_ms), 2),
        "block_mask_ms": round(statistics.median(block_ms), 2),
        "total_ms_median": round(statistics.median(total), 2),
        "total_ms_max": round(max(total), 2),
        "block_mask_bytes": _block_mask_bytes(bm) + _meta_bytes(meta),
    }


def _dense_child(length: int, dtype: str) -> None:
    # Runs in a fresh process: report peak RSS growth and time of one dense build.
    ids = memento_sequence(length)
    meta = mask_metadata(ids, IDS)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    mask = dense_mask(meta, MaskPolicy(), dtype=getattr(torch, dtype))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"tensor_bytes": mask.numel() * mask.element_size(), "peak_rss_growth_bytes": (peak - base) * 1024,
                      "build_s": round(seconds, 3)}))


def measure_dense(length: int, dtype: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--dense-child", str(length), dtype],
                          capture_output=True, text=True, check=True)
    return {"tokens": length, "dtype": dtype, **json.loads(proc.stdout.strip().splitlines()[-1])}


def train_throughput(size: str, length: int, kind: str, steps: int) -> dict:
    """Tokens/s and peak memory of stage-2 training steps (fused LM head, as the trainer runs)."""
    from trl.trainer.utils import add_fused_lm_head

    from openmementos.train.attention import attach_memento_attention, attention_implementation
    from openmementos.train.random_model import random_qwen3

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    model = random_qwen3(size, 151680, attn=attention_implementation(kind)).to(device)
    model.gradient_checkpointing_enable()
    model.config.use_cache = False
    add_fused_lm_head(model)
    attach_memento_attention(model, MaskPolicy(), kind)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=cuda)
    ids = memento_sequence(length).to(device)
    meta = mask_metadata(ids, IDS)
    batch = {"input_ids": ids, "labels": ids, "position_ids": torch.arange(length, device=device)[None],
             "memento_block": meta.block, "memento_role": meta.role, "memento_done": meta.done}
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=cuda)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(steps + 1):                          # step 0 compiles / warms up
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with autocast:
            out = model(**batch, fused_lm_head=True)
        (-out.log_probs.sum() / length).backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        if step:
            times.append(time.perf_counter() - t0)
    return {"size": size, "tokens": length, "mask": kind, "device": torch.cuda.get_device_name() if cuda else (platform.processor() or platform.machine()),
            "tokens_per_s": round(length / statistics.median(times), 1),
            "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", action="store_true", help="measure training throughput instead of mask building")
    parser.add_argument("--size", default="0.6b", choices=["tiny", "0.6b"])
    parser.add_argument("--lengths", default=None, help="comma-separated token counts")
    parser.add_argument("--kinds", default="dense,flex")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--dense-dtypes", default="bfloat16,float32")
    parser.add_argument("--dense-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dense_child:
        _dense_child(int(args.dense_child[0]), args.dense_child[1])
        return
    print(f"# {platform.platform()} | {platform.processor() or platform.machine()} | {torch.get_num_threads()} threads | torch {torch.__version__}")
    if args.train:
        lengths = [int(x) for x in (args.lengths or "8192,32768").split(",")]
        for length in lengths:
            for kind in args.kinds.split(","):
                try:
                    print(json.dumps(train_throughput(args.size, length, kind, args.steps)))
                except torch.OutOfMemoryError:
                    print(json.dumps({"size": args.size, "tokens": length, "mask": kind, "result": "out of memory"}))
                    torch.cuda.empty_cache()
        return
    lengths = [int(x) for x in (args.lengths or "4096,16384,32768").split(",")]
    for length in lengths:
        print(json.dumps({"block_mask": time_block_mask(length)}))
    for length in lengths:
        for dtype in args.dense_dtypes.split(","):
            print(json.dumps({"dense_mask": measure_dense(length, dtype)}))


if __name__ == "__main__":
    main()
