"""Decoding options, kept apart from the decoder so the CLI builds them without importing torch."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .blocks import Mode


@dataclass(frozen=True, slots=True)
class DecodeConfig:
    """How to decode. Sampling defaults are Qwen3's for thinking (temperature 0.6, top-p 0.95, top-k 20)."""

    mode: str = "memento"                  # full, memento, keep-last-N or restart
    mask_delimiters: bool = False          # also drop each block's <|block_start|>, <|block_end|> and the text before its memento
    max_new_tokens: int = 32768
    max_block_tokens: int | None = None    # force <|block_end|> after this many content tokens
    temperature: float = 0.6               # 0: greedy
    top_p: float = 0.95
    top_k: int = 20                        # 0: no top-k cut
    seed: int = 0

    def __post_init__(self) -> None:
        Mode.parse(self.mode)
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be at least 1, not {self.max_new_tokens}")
        if self.max_block_tokens is not None and self.max_block_tokens < 1:
            raise ConfigError(f"max_block_tokens must be at least 1, not {self.max_block_tokens}")
        if not 0 < self.top_p <= 1 or self.top_k < 0 or self.temperature < 0:
            raise ConfigError("sampling needs temperature >= 0, 0 < top_p <= 1 and top_k >= 0")
