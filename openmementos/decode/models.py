"""Named model shapes, for turning KV tokens into bytes.

One token's KV entry holds a key and a value per layer and key-value head:
``2 x layers x kv_heads x head_dim x dtype bytes``. Qwen3-8B in bf16: 2 x 36 x 8 x 128 x 2 =
147,456 bytes, 144 KiB per token.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "fp8": 1}


@dataclass(frozen=True, slots=True)
class ModelShape:
    """The KV-relevant shape of a model.

    >>> MODELS["qwen3-8b"].bytes_per_token
    147456
    >>> format_bytes(MODELS["qwen3-8b"].bytes_per_token)
    '144 KiB'
    """

    name: str
    layers: int
    kv_heads: int
    head_dim: int
    dtype_bytes: int = 2

    @property
    def bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * self.dtype_bytes

    def as_dict(self) -> dict:
        return {"name": self.name, "layers": self.layers, "kv_heads": self.kv_heads, "head_dim": self.head_dim,
                "dtype_bytes": self.dtype_bytes, "bytes_per_token": self.bytes_per_token}


def _shapes(*rows: tuple[str, int, int, int]) -> dict[str, ModelShape]:
    return {name.lower(): ModelShape(name, *dims) for name, *dims in rows}


# From each model's published config.json (num_hidden_layers, num_key_value_heads, head_dim), bf16.
MODELS = _shapes(
    ("Qwen3-0.6B", 28, 8, 128),
    ("Qwen3-1.7B", 28, 8, 128),
    ("Qwen3-4B", 36, 8, 128),
    ("Qwen3-8B", 36, 8, 128),
    ("Qwen3-14B", 40, 8, 128),
    ("Qwen3-32B", 64, 8, 128),
    ("Qwen2.5-7B", 28, 4, 128),     # and DeepSeek-R1-Distill-Qwen-7B
    ("Phi-4", 40, 10, 128),         # and Phi-4-reasoning
)


def model_shape(name: str) -> ModelShape:
    """The named shape (case-insensitive); :class:`ConfigError` listing the names otherwise."""
    try:
        return MODELS[name.lower()]
    except KeyError:
        known = ", ".join(shape.name for shape in MODELS.values())
        raise ConfigError(f"no model shape named {name!r}", f"use one of {known}") from None


def shape_from_config(config, dtype_bytes: int | None = None, name: str | None = None) -> ModelShape:
    """The shape of a transformers config (``num_hidden_layers``, ``num_key_value_heads``, ``head_dim``)."""
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    if dtype_bytes is None:
        dtype = str(getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) or "bfloat16")
        dtype_bytes = DTYPE_BYTES.get(dtype.removeprefix("torch."), 2)
    return ModelShape(name or getattr(config, "name_or_path", "") or config.model_type,
                      config.num_hidden_layers, kv_heads, head_dim, dtype_bytes)


def format_bytes(n: float) -> str:
    """Binary units, about three significant figures: ``147456 -> '144 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            digits = 0 if unit == "B" or abs(n) >= 100 else 1 if abs(n) >= 10 else 2
            return f"{n:.{digits}f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
