"""The baseline: a per-state DP of the paper's objective, of the kind the authors ship.

``dp[i][k]`` keeps ONE best partial segmentation of the first i sentences into k blocks, judged
by the objective of the partial blocks so far, and every previous end j is tried with the block
size recomputed as ``sum(token_counts[j:i])``: O(n^3 K)-ish. Because the objective is not
additive (the CV depends on all blocks and the score sum is divided by K), the partial that
looks best at (i, k) is not always the prefix of the best whole segmentation, so this is a
heuristic. ``openmementos.segmentation.optimise`` is exact; the benchmark times both.
"""

from __future__ import annotations

import math


def segment(
    token_counts: list[int],
    scores: list[float],
    lam: float = 0.5,
    min_block_tokens: int = 200,
    max_block_tokens: int | None = None,
    min_blocks: int = 1,
    max_blocks: int | None = None,
) -> tuple[list[tuple[int, int]], float] | None:
    """(blocks as inclusive [first, last], objective) or None if no segmentation fits."""
    n = len(token_counts)
    k_cap = min(max_blocks or n, n)
    # dp[i][k] = (objective, score sum, token sum, sum of squares, previous end j)
    dp: list[dict[int, tuple[float, float, int, int, int]]] = [{} for _ in range(n + 1)]
    dp[0][0] = (0.0, 0.0, 0, 0, -1)
    for i in range(1, n + 1):
        for j in range(i):
            size = sum(token_counts[j:i])
            if size < min_block_tokens or (max_block_tokens is not None and size > max_block_tokens):
                continue
            cut = scores[j - 1] if j > 0 else 0.0
            for k, (_, score_sum, tokens, squares, _) in dp[j].items():
                if k + 1 > k_cap:
                    continue
                blocks = k + 1
                s, t, q = score_sum + cut, tokens + size, squares + size * size
                mean = t / blocks
                cv = math.sqrt(max(q / blocks - mean * mean, 0.0)) / mean if mean > 0 else 0.0
                value = s / blocks - lam * cv if blocks > 1 else 0.0
                current = dp[i].get(blocks)
                if current is None or value > current[0]:
                    dp[i][blocks] = (value, s, t, q, j)
    finals = [(value[0], k) for k, value in dp[n].items() if k >= min_blocks]
    if not finals:
        return None
    value, k = max(finals, key=lambda item: (item[0], -item[1]))
    blocks, i = [], n
    while k > 0:
        j = dp[i][k][4]
        blocks.append((j, i - 1))
        i, k = j, k - 1
    return blocks[::-1], value
