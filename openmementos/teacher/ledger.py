"""What the teacher cost: requests and tokens per role, priced by a table you can override.

Prices are US dollars per million tokens: ``{"input": ..., "cached_input": ..., "output": ...}``.
The built-in table is a convenience for a few public models and may be out of date: pass
``--prices FILE`` (JSON ``{model: {input, cached_input, output}}``) for your own.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "gpt-4.1": {"input": 2.0, "cached_input": 0.5, "output": 8.0},
    "gpt-4.1-mini": {"input": 0.4, "cached_input": 0.1, "output": 1.6},
    "gpt-4.1-nano": {"input": 0.1, "cached_input": 0.025, "output": 0.4},
    "gpt-4o": {"input": 2.5, "cached_input": 1.25, "output": 10.0},
    "gpt-4o-mini": {"input": 0.15, "cached_input": 0.075, "output": 0.6},
    "o4-mini": {"input": 1.1, "cached_input": 0.275, "output": 4.4},
}
BATCH_DISCOUNT = 0.5   # the Batch API's published price is half the synchronous one


def load_prices(path: Path | None) -> dict[str, dict[str, float]]:
    prices = {k: dict(v) for k, v in DEFAULT_PRICES.items()}
    if path is None:
        return prices
    try:
        custom = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the price table {path}: {error}", 'write JSON like {"my-model": {"input": 0.5, "cached_input": 0.1, "output": 1.5}}') from None
    for model, entry in custom.items():
        if not isinstance(entry, dict) or not {"input", "output"} <= set(entry):
            raise ConfigError(f"price of {model!r} needs 'input' and 'output' (USD per million tokens)")
        prices[model] = {"input": float(entry["input"]), "cached_input": float(entry.get("cached_input", entry["input"])), "output": float(entry["output"])}
    return prices


@dataclass(slots=True)
class RoleUsage:
    requests: int = 0           # paid requests sent (retries included)
    cache_hits: int = 0         # answers served from the cache: no request, no cost
    failed_requests: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: bool = False


@dataclass
class Ledger:
    prices: dict[str, dict[str, float]] = field(default_factory=lambda: load_prices(None))
    roles: dict[str, RoleUsage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def price(self, model: str, input_tokens: int, cached: int, output: int, batch: bool = False) -> float | None:
        entry = self.prices.get(model)
        if entry is None:
            return None
        cost = ((input_tokens - cached) * entry["input"] + cached * entry["cached_input"] + output * entry["output"]) / 1e6
        return cost * (BATCH_DISCOUNT if batch else 1.0)

    def record(self, role: str, model: str, usage: dict[str, Any] | None, batch: bool = False) -> None:
        usage = usage or {}
        prompt = int(usage.get("prompt_tokens") or 0)
        output = int(usage.get("completion_tokens") or 0)
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        cost = self.price(model, prompt, cached, output, batch)
        with self._lock:
            entry = self.roles.setdefault(role, RoleUsage())
            entry.requests += 1
            entry.input_tokens += prompt
            entry.cached_tokens += cached
            entry.output_tokens += output
            if cost is None:
                entry.unpriced = True
            else:
                entry.cost_usd += cost

    def hit(self, role: str) -> None:
        with self._lock:
            self.roles.setdefault(role, RoleUsage()).cache_hits += 1

    def failure(self, role: str) -> None:
        with self._lock:
            self.roles.setdefault(role, RoleUsage()).failed_requests += 1

    def restore(self, saved: dict[str, Any]) -> None:
        """Continue counting from a saved :meth:`as_dict` (a resumed run keeps its spend)."""
        with self._lock:
            for name, usage in (saved.get("roles") or {}).items():
                self.roles[name] = RoleUsage(**usage)

    @property
    def total_cost(self) -> float:
        return sum(r.cost_usd for r in self.roles.values())

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            roles = {name: asdict(usage) for name, usage in sorted(self.roles.items())}
        for usage in roles.values():
            usage["cost_usd"] = round(usage["cost_usd"], 6)
        return {"roles": roles, "total_cost_usd": round(sum(r["cost_usd"] for r in roles.values()), 6)}
