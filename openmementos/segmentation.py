"""Stage 4, segmentation: cut a trace into blocks where the teacher scored the boundaries best.

The objective (MEMENTO, arXiv 2604.09852): K blocks with token sizes x_1..x_K and cut scores
summing to S score ``S / K - lam * CV``, where CV = population std / mean of the sizes (0 for
K = 1). Every block holds at least ``min_block_tokens``; optional caps bound block sizes and K.

The objective is not additive, so a DP that keeps one best partial per (position, blocks) is
only a heuristic (``benchmarks/baseline_segment.py`` is one). :func:`optimise` is exact:

* With Q = sum of squared sizes and N = total tokens, CV = sqrt(K * Q / N^2 - 1), so for fixed
  K and fixed S the best segmentation is the one with the least Q.
* Scores lie on a grid (0-3, or halves when two passes are averaged): a cut's *deficit* is the
  integer (top score - score) / step, and S = (K - 1) * top - step * D for total deficit D.
  A DP over (target K, blocks so far, end position, D) that keeps the least Q per state is
  therefore exact: any completion of a state with more Q completes no better.
* Branch and bound keeps it small. Given a solution worth f*, a state lives only if its best
  conceivable completion (the least deficit the rest can have, a perfectly even rest) still
  reaches f*. Solved for the next block's size, the same bound gives each state, per deficit
  value of the next cut, the window its next cut may fall in.
* f* starts from an exact sub-problem (cuts only at top-scored boundaries), usually optimal or
  close. When the search still grows big, a pass allowing at most one point of deficit in
  all lifts f* before the full search.

Scores that fit no small grid (not the teacher's) go through an exact Pareto-front DP over
(S, Q) instead, which is slower.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .records import Skip, Trace

_EPS = 1e-9          # slack on pruning tests; solutions closer than this to f* are ties
_TOP_NODES = 64      # cap on top-scored boundaries used by the incumbent heuristic
_INCUMBENT_LEVELS = 3  # a big search also starts from boundaries within 1 and 2 grid steps of the top
_UNREACHABLE = 1 << 40  # a deficit standing for "no segmentation fits"
_QUICK_PAIRS = 40_000  # candidate states a first search may take before it is deemed big
_TOO_BIG = "too big"


@dataclass(frozen=True, slots=True)
class SegmentConfig:
    lam: float = 0.5                    # weight of the block-size CV penalty (paper default)
    min_block_tokens: int = 200         # every block holds at least this many tokens
    max_block_tokens: int | None = None
    min_blocks: int = 1
    max_blocks: int | None = None


@dataclass(frozen=True, slots=True)
class Segmentation:
    blocks: list[tuple[int, int]]       # inclusive [first, last] sentence indices, in order
    objective: float
    block_tokens: list[int]


def objective(
    blocks: Sequence[tuple[int, int]], sentence_tokens: Sequence[int], boundary_scores: Sequence[float], lam: float
) -> float:
    """The paper's objective of a segmentation; raises ValueError if ``blocks`` do not tile the trace.

    >>> objective([(0, 1), (2, 2)], [100, 100, 200], [0.0, 3.0], lam=0.5)
    1.5
    """
    n = len(sentence_tokens)
    expect = 0
    for first, last in blocks:
        if first != expect or last < first:
            raise ValueError(f"blocks must tile sentences 0..{n - 1} in order; got {list(blocks)}")
        expect = last + 1
    if expect != n or not blocks:
        raise ValueError(f"blocks must tile sentences 0..{n - 1} in order; got {list(blocks)}")
    k = len(blocks)
    if k == 1:
        return 0.0
    sizes = [int(sum(sentence_tokens[a : b + 1])) for a, b in blocks]
    total, squares = sum(sizes), sum(x * x for x in sizes)
    cut_scores = sum(float(boundary_scores[last]) for _, last in blocks[:-1])
    # K * Q - N^2 in integers, so CV is exact up to the final sqrt
    cv = math.sqrt(k * squares - total * total) / total if total else 0.0
    return cut_scores / k - lam * cv


def optimise(
    sentence_tokens: Sequence[int], boundary_scores: Sequence[float], config: SegmentConfig = SegmentConfig()
) -> Segmentation | None:
    """The segmentation with the highest objective under ``config``, or None if none is feasible.

    A single block is a candidate like any other (objective 0) when the constraints allow it.
    Deterministic: the same input gives the same blocks.

    >>> optimise([150, 150, 150, 150], [0.0, 3.0, 1.0], SegmentConfig(min_block_tokens=200)).blocks
    [(0, 1), (2, 3)]
    """
    tokens, scores = _validate(sentence_tokens, boundary_scores, config)
    if not tokens:
        return None
    grid = _grid(scores)
    if grid is None:
        cuts = _pareto_search(tokens, scores, config)
    else:
        cuts = _BranchAndBound(tokens, *grid, config).solve()
    if cuts is None:
        return None
    edges = [0, *cuts, len(tokens)]
    blocks = [(edges[b], edges[b + 1] - 1) for b in range(len(edges) - 1)]
    return Segmentation(
        blocks=blocks,
        objective=objective(blocks, tokens, scores, config.lam),
        block_tokens=[sum(tokens[a : b + 1]) for a, b in blocks],
    )


def segment_trace(trace: Trace, config: SegmentConfig = SegmentConfig()) -> Trace | Skip:
    """Fill ``trace.blocks``, ``trace.block_tokens`` and ``trace.extra["objective"]``, or skip."""
    found = optimise(trace.sentence_tokens, trace.boundary_scores, config)
    if found is None:
        total = sum(trace.sentence_tokens)
        if total < config.min_block_tokens:
            detail = f"{total} thinking tokens, fewer than min_block_tokens={config.min_block_tokens}"
            return Skip(trace.trace_id, "segmentation", "too_short_for_blocks", detail)
        detail = f"no segmentation of {total} tokens in {len(trace.sentence_tokens)} sentences fits {config}"
        return Skip(trace.trace_id, "segmentation", "infeasible_constraints", detail)
    trace.blocks = found.blocks
    trace.block_tokens = found.block_tokens
    trace.extra["objective"] = found.objective
    return trace


def _validate(tokens: Sequence[int], scores: Sequence[float], config: SegmentConfig) -> tuple[list[int], list[float]]:
    out_tokens = [int(t) for t in tokens]
    if any(t < 0 or t != raw for t, raw in zip(out_tokens, tokens)):
        raise ValueError("sentence_tokens must be non-negative integers")
    out_scores = [float(s) for s in scores]
    if len(out_scores) != max(len(out_tokens) - 1, 0):
        raise ValueError(
            f"boundary_scores must have one score per boundary: {len(out_tokens)} sentences need "
            f"{max(len(out_tokens) - 1, 0)} scores, got {len(out_scores)}"
        )
    if not all(math.isfinite(s) for s in out_scores):
        raise ValueError("boundary_scores must be finite numbers")
    if not (math.isfinite(config.lam) and config.lam >= 0):
        raise ValueError(f"lam must be a finite number >= 0, got {config.lam}")
    if config.min_block_tokens < 0:
        raise ValueError(f"min_block_tokens must be >= 0, got {config.min_block_tokens}")
    if config.max_block_tokens is not None and config.max_block_tokens < max(config.min_block_tokens, 1):
        raise ValueError(f"max_block_tokens={config.max_block_tokens} is below min_block_tokens or 1")
    if config.min_blocks < 1 or (config.max_blocks is not None and config.max_blocks < config.min_blocks):
        raise ValueError(f"need 1 <= min_blocks <= max_blocks, got {config.min_blocks}..{config.max_blocks}")
    return out_tokens, out_scores


def _grid(scores: list[float]) -> tuple[float, float, np.ndarray] | None:
    """(top, step, deficits) with score[b] == top - step * deficits[b], or None if no small grid fits."""
    if not scores:
        return 0.0, 1.0, np.zeros(0, np.int64)
    values = np.asarray(scores, dtype=np.float64)
    top = float(values.max())
    for per_point in range(1, 65):
        units = (top - values) * per_point
        deficits = np.rint(units)
        if np.all(np.abs(units - deficits) <= 1e-9 * np.maximum(1.0, units)) and deficits.max() <= 4096:
            return top, 1.0 / per_point, deficits.astype(np.int64)
    return None


class _BranchAndBound:
    """The exact optimiser for grid scores (see the module docstring).

    Positions 0..n are prefix indices: a block is [j, i) in sentences, a cut at position i sits
    on boundary i - 1. ``delta[i]`` is the deficit of cutting at i (0 at both ends).
    """

    def __init__(self, tokens: list[int], top: float, step: float, deficits: np.ndarray, config: SegmentConfig):
        n = len(tokens)
        self.n, self.top, self.step = n, top, step
        self.P = np.zeros(n + 1, np.int64)
        np.cumsum(np.asarray(tokens, np.int64), out=self.P[1:])
        self.N = int(self.P[-1])
        if self.N >= 1 << 24:
            raise ValueError("traces over 2**24 tokens are out of range for the exact optimiser")
        # all-zero token traces have no CV (mean 0): the penalty drops out
        self.lam = config.lam if self.N else 0.0
        self.NN = float(max(self.N, 1)) ** 2
        self.delta = np.zeros(n + 1, np.int64)
        self.delta[1:n] = deficits
        self.lo = config.min_block_tokens
        self.hi = self.N if config.max_block_tokens is None else min(config.max_block_tokens, self.N)
        self.kmin = config.min_blocks
        self.kmax = min(config.max_blocks or n, n, self.N // self.lo if self.lo else n)
        # the next block from j ends at i in [first_end[j], last_end[j]] (lo..hi tokens, >= 1 sentence)
        self.first_end = np.maximum(np.searchsorted(self.P, self.P + self.lo), np.arange(1, n + 2))
        self.last_end = np.searchsorted(self.P, self.P + self.hi, side="right") - 1
        self.last_cut = np.minimum(self.last_end, n - 1)  # ... and a cut must leave a block after it
        # positions by token offset: one gather per query instead of a binary search
        self.at_or_after = np.concatenate(([0], np.repeat(np.arange(1, n + 1, dtype=np.int32), tokens), [n + 1]))
        self.at_or_before = self.at_or_after[1:] - 1

    def solve(self) -> list[int] | None:
        one_block = (0.0, []) if self.kmin <= 1 and self.lo <= self.N <= self.hi else None
        best = max((c for c in (one_block, self._incumbent(range(1))) if c is not None), key=lambda c: c[0], default=None)
        self._tables(best[0] if best else -math.inf)
        if best is None:
            best = self._any_feasible()
            if best is None:
                return None
        found = self._search(best[0], None, budget=_QUICK_PAIRS)
        if found is _TOO_BIG:
            # when top scores are rare (a teacher keeping 3 for the strongest breaks), cutting only
            # there is a poor start: also start from the boundaries one and two steps below the top
            lower = self._incumbent(range(1, _INCUMBENT_LEVELS))
            if lower is not None and lower[0] > best[0]:
                best = lower
                self._tables(best[0])
            # a big search: first try to lift f* with a pass that allows little deficit in all
            # (cheap, and good segmentations need little), doubling the allowance until
            # such a pass reaches f* at all
            cap = round(1 / self.step)
            while cap < self._affordable(best[0]):
                capped = self._search(best[0], cap)
                if capped is not None:
                    best = max(best, capped, key=lambda c: c[0])
                    break
                cap *= 2
            found = self._search(best[0], None)
        if found is not None and found[0] > best[0]:
            best = found
        return best[1]

    def _value(self, k, deficit, squares):
        """Objective of k >= 2 blocks from their total deficit and sum of squared sizes."""
        cv = np.sqrt(np.maximum(k * squares / self.NN - 1.0, 0.0))
        return ((k - 1) * self.top - self.step * deficit) / k - self.lam * cv

    # -- incumbents ------------------------------------------------------------------------

    def _incumbent(self, levels: range) -> tuple[float, list[int]] | None:
        """A good segmentation to start from: for the boundaries within ``level`` grid steps of the
        top score, the least-squares segmentation per K (exact for that sub-problem), valued by the
        objective; the best over ``levels``."""
        best = None
        for level in levels:
            found = self._incumbent_at(level)
            if found is not None and (best is None or found[0] > best[0]):
                best = found
        return best

    def _incumbent_at(self, level: int) -> tuple[float, list[int]] | None:
        n, P = self.n, self.P
        tops = np.flatnonzero(self.delta[1:n] <= level) + 1
        if len(tops) > _TOP_NODES:  # evenly thinned: still a valid heuristic, and a small DP
            tops = tops[np.linspace(0, len(tops) - 1, _TOP_NODES).round().astype(np.int64)]
        nodes = np.concatenate(([0], tops, [n]))
        size = (P[nodes][None, :] - P[nodes][:, None]).astype(np.float64)  # size[j, i]: block j -> i
        ok = (size >= self.lo) & (size <= self.hi) & np.triu(np.ones_like(size, bool), 1)
        cost = np.where(ok, size * size, np.inf)
        squares = np.full(len(nodes), np.inf)
        squares[0] = 0.0
        node_deficits = self.delta[nodes].astype(np.int64)
        deficits = np.zeros(len(nodes), dtype=np.int64)  # of the cuts on the best path to each node
        parents = []
        best = None
        for k in range(1, min(self.kmax, len(nodes) - 1) + 1):
            total = squares[:, None] + cost
            parent = np.argmin(total, axis=0)
            parents.append(parent)
            squares = total[parent, np.arange(len(nodes))]
            if k > 1:  # the k-th block starts at a cut: its parent node
                deficits = deficits[parent] + node_deficits[parent]
            if not np.isfinite(squares).any():
                break
            if k >= max(self.kmin, 2) and np.isfinite(squares[-1]):
                value = float(self._value(k, int(deficits[-1]), squares[-1]))
                if best is None or value > best[0]:
                    cuts, at = [], len(nodes) - 1
                    for step in reversed(parents[1:]):
                        at = int(step[at])
                        cuts.append(int(nodes[at]))
                    best = (value, cuts[::-1])
        return best

    def _any_feasible(self) -> tuple[float, list[int]] | None:
        """Some feasible segmentation: the fewest-deficit path for the most promising K."""
        ks = self._targets(-math.inf)
        if not len(ks):
            return None
        k = int(ks[np.argmax(((ks - 1) * self.top - self.step * self.to_end[ks, 0]) / ks)])
        cuts, at = [], 0
        for left in range(k - 1, 0, -1):
            ends = np.arange(self.first_end[at], min(self.last_end[at], self.n - 1) + 1)
            at = int(ends[np.argmin(self.delta[ends] + self.to_end[left, ends])])
            cuts.append(at)
        sizes = np.diff(self.P[[0, *cuts, self.n]]).astype(np.float64)
        return float(self._value(k, self.delta[cuts].sum(), (sizes * sizes).sum())), cuts

    # -- bounds ----------------------------------------------------------------------------

    def _tables(self, floor: float) -> None:
        """``to_end[m, i]``: the least deficit of the cuts inside m blocks covering positions
        i..n, counting block sizes >= lo only (a lower bound); _UNREACHABLE if no m blocks fit."""
        n = self.n
        rows = [np.full(n + 1, _UNREACHABLE, np.int64)]
        rows[0][n] = 0
        start, stop = self.first_end, np.minimum(self.last_end, n)
        for m in range(1, self.kmax + 1):
            fits = rows[-1] < _UNREACHABLE
            count = np.concatenate(([0], np.cumsum(fits), [0]))
            feasible = (stop >= start) & (count[stop + 1] - count[np.minimum(start, n + 1)] > 0)
            through = self.delta + rows[-1]
            suffix_min = np.append(np.minimum.accumulate(through[::-1])[::-1], _UNREACHABLE)
            rows.append(np.where(feasible, suffix_min[start], _UNREACHABLE))
            # with no block cap the least deficit only grows with m: once even K = kmax blocks
            # cannot beat the floor at that deficit, larger m are not needed
            least = int(rows[-1][0])
            spent = self.top + self.step * least
            if self.hi == self.N and least < _UNREACHABLE and spent >= 0 and self.top - spent / self.kmax < floor - _EPS:
                self.kmax = m - 1
                break
        self.to_end = np.array(rows)
        # cut candidates grouped by deficit value, each group in position order, with a rank
        # table so that "group g, positions start..stop" is one slice found by two lookups
        cuts = np.arange(1, n)
        self.values = np.unique(self.delta[cuts])
        self.by_value = cuts[np.argsort(self.delta[cuts], kind="stable")]
        self.group_start = np.searchsorted(self.delta[self.by_value], self.values)
        member = np.zeros((len(self.values), n + 2), np.int32)
        member[np.searchsorted(self.values, self.delta[cuts]), cuts + 1] = 1
        self.rank = np.cumsum(member, axis=1, dtype=np.int32)  # rank[g, i]: members of g below i

    def _targets(self, floor: float) -> np.ndarray:
        """Block counts K worth searching: feasible, and the deficit-only bound reaches floor."""
        ks = np.arange(max(2, self.kmin), self.kmax + 1)
        ks = ks[self.to_end[ks, 0] < _UNREACHABLE]
        return ks[((ks - 1) * self.top - self.step * self.to_end[ks, 0]) / ks >= floor - _EPS]

    def _affordable(self, f: float) -> int:
        """The largest total deficit with which some K could still reach f (at most all cuts'
        worst deficit: that keeps the limit table small even for a weak f)."""
        # (K - 1) * top - K * f is linear in K, so the largest K or the smallest has the most
        room = max(k * (self.top - f) - self.top for k in (2, max(self.kmax, 2)))
        return min(int(np.floor(room / self.step + _EPS)), int(self.delta.max()) * max(self.kmax - 1, 0))

    def _limits(self, f: float) -> np.ndarray:
        """limit[K, d]: the largest sum of squared sizes with which K blocks of total deficit d
        can still reach f (-inf: none can; the last column stands for every larger d)."""
        ks = np.arange(self.kmax + 1, dtype=np.float64)[:, None]
        d = np.arange(max(self._affordable(f), -1) + 2, dtype=np.float64)[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = ((ks - 1) * self.top - self.step * d) / ks - f + _EPS
            cv = np.maximum(gain, 0.0) / self.lam if self.lam else np.inf
            limit = np.where(gain >= 0, self.NN * (1.0 + cv * cv) / ks * (1 + 1e-12), -np.inf)
        limit[:2] = -np.inf
        limit[:, -1] = -np.inf
        return limit

    # -- the search ------------------------------------------------------------------------

    def _search(self, floor: float, cap: int | None, budget: float = math.inf):
        """The best segmentation reaching ``floor`` (within _EPS), or None; total deficit <= cap.
        _TOO_BIG if more than ``budget`` candidate states come up.

        Layer k holds states (target K, end of block k, deficit D, sum of squares Q), one per
        (K, end, D): the least Q. A state lives on only if the bound with the least future
        deficit and a perfectly even rest still reaches f.
        """
        P, N = self.P, self.N
        f, best = floor, None
        limit = self._limits(f)
        target = self._targets(f)
        pos = np.zeros(len(target), np.int64)
        dfc = np.zeros(len(target), np.int64)
        sq = np.zeros(len(target))
        history: list[tuple[np.ndarray, np.ndarray]] = []  # per layer: (positions, parent index)
        for k in range(int(target.max(initial=0))):
            rest = (N - P[pos]).astype(np.float64)
            last = target == k + 1
            if last.any():  # these states' last block runs to the end
                done = np.flatnonzero(last & (rest >= self.lo) & (rest <= self.hi))
                values = self._value(k + 1, dfc[done], sq[done] + rest[done] ** 2)
                if len(done) and values.max() >= f - _EPS and (best is None or values.max() > best[0]):
                    at = int(np.argmax(values))
                    best = (float(values[at]), self._cuts(history, k, int(done[at])))
                    f = max(f, best[0])
                    limit = self._limits(f)
            live = np.flatnonzero(~last)
            if not len(live):
                break
            target, pos, dfc, sq, rest = target[live], pos[live], dfc[live], sq[live], rest[live]
            # one combo per state and deficit value v of the next cut that D + v can afford
            afford = min(limit.shape[1] - 2, cap if cap is not None else limit.shape[1]) - dfc
            per_state = np.searchsorted(self.values, afford, side="right")
            combos = int(per_state.sum())
            if combos == 0:
                break
            s = np.repeat(np.arange(len(pos)), per_state)
            g = np.arange(combos) - np.repeat(np.cumsum(per_state) - per_state, per_state)
            d = np.minimum(dfc[s] + self.values[g], limit.shape[1] - 1)
            ts, ps = target[s], pos[s]
            lo_x, hi_x = self._window(limit[ts, d] - sq[s], ts - (k + 1.0), rest[s])
            from_ = P[ps]
            start = self.at_or_after[np.clip(from_ + lo_x, 0, N + 1).astype(np.int64)]
            start = np.maximum(start, self.first_end[ps])
            stop = self.at_or_before[np.clip(from_ + hi_x, 0, N).astype(np.int64)]
            stop = np.minimum(stop, self.last_cut[ps])
            first = self.group_start[g] + self.rank[g, start]
            count = np.maximum(self.group_start[g] + self.rank[g, stop + 1] - first, 0)
            total = int(count.sum())
            if total == 0:
                break
            budget -= total
            if budget < 0:
                return _TOO_BIG
            ends = self.by_value[np.repeat(first - (np.cumsum(count) - count), count) + np.arange(total)]
            parent = np.repeat(s, count)
            # the exact test per new state: the window ignored the deficit after the next cut
            tp = target[parent]
            after = tp - (k + 1)
            new_d = dfc[parent] + self.delta[ends]
            least = np.minimum(new_d + self.to_end[after, ends], limit.shape[1] - 1)
            if cap is not None:
                least[least > cap] = limit.shape[1] - 1
            reach = P[ends]
            size = (reach - P[pos[parent]]).astype(np.float64)
            left = (N - reach).astype(np.float64)
            new_sq = sq[parent] + size * size
            ok = np.flatnonzero(new_sq + left * left / after <= limit[tp, least])
            if not len(ok):
                break
            ends, parent, new_d, new_sq = ends[ok], parent[ok], new_d[ok], new_sq[ok]
            keep = self._dedupe(target[parent], ends, new_d, new_sq)
            parent = parent[keep]
            target, pos, dfc, sq = target[parent], ends[keep], new_d[keep], new_sq[keep]
            history.append((pos, live[parent]))  # parents indexed in the unfiltered layer
        return best

    @staticmethod
    def _window(room, after, rest):
        """Token range [lo, hi] of sizes x with  x^2 + (rest - x)^2 / after <= room (empty: lo > hi).

        That is the bound for the next block (then ``after`` even blocks over what is left);
        as a quadratic:  (after + 1) x^2 - 2 rest x + rest^2 - after * room <= 0.
        """
        disc = after * ((after + 1) * room - rest * rest)
        root = np.sqrt(np.maximum(disc, 0.0))
        root[disc < 0] = -np.inf  # no real root: an empty window
        slack = 1e-7 * (rest + 1.0)  # float slack: a window a hair too wide only costs time
        return np.ceil((rest - root) / (after + 1) - slack), np.floor((rest + root) / (after + 1) + slack)

    def _dedupe(self, target, ends, deficit, squares) -> np.ndarray:
        """Indices of the new states to keep: per (K, end, deficit) the least Q, the first
        generated among equals (so the result is deterministic)."""
        key = (target * (self.n + 1) + ends) * (int(deficit.max()) + 1) + deficit
        order = np.argsort(key)
        key, squares = key[order], squares[order]
        new_key = np.concatenate(([True], key[1:] != key[:-1]))
        cell = np.cumsum(new_key) - 1
        least = np.minimum.reduceat(squares, np.flatnonzero(new_key))
        winners = np.flatnonzero(squares == least[cell])
        first = np.concatenate(([True], cell[winners][1:] != cell[winners][:-1]))
        return np.minimum.reduceat(order[winners], np.flatnonzero(first))

    @staticmethod
    def _cuts(history, k, index) -> list[int]:
        """Cut positions of state ``index`` of layer k, walked back through the parents."""
        cuts = []
        for layer in range(k - 1, -1, -1):
            positions, parents = history[layer]
            cuts.append(int(positions[index]))
            index = int(parents[index])
        return cuts[::-1]


def _pareto_search(tokens: list[int], scores: list[float], config: SegmentConfig) -> list[int] | None:
    """Exact for any scores: per (blocks, end) the Pareto front of (score sum up, Q down).

    Plain Python and no bounds: meant for the rare scores that fit no small grid.
    """
    n = len(tokens)
    prefix = [0]
    for t in tokens:
        prefix.append(prefix[-1] + t)
    total = prefix[-1]
    hi = config.max_block_tokens if config.max_block_tokens is not None else total
    kmax = min(config.max_blocks or n, n)
    lam = config.lam if total else 0.0
    fronts: list[dict[int, list[tuple[float, int, tuple[int, ...]]]]] = [{0: [(0.0, 0, ())]}]
    best: tuple[float, list[int]] | None = None
    for k in range(1, kmax + 1):
        layer: dict[int, list[tuple[float, int, tuple[int, ...]]]] = {}
        for j, front in fronts[-1].items():
            for i in range(j + 1, n + 1):
                size = prefix[i] - prefix[j]
                if size > hi:
                    break
                if size < config.min_block_tokens:
                    continue
                cut = scores[j - 1] if j else 0.0
                layer.setdefault(i, []).extend((s + cut, q + size * size, c + (j,) if j else c) for s, q, c in front)
        for i, candidates in layer.items():
            candidates.sort(key=lambda item: (-item[0], item[1]))
            kept: list[tuple[float, int, tuple[int, ...]]] = []
            for item in candidates:
                if not kept or item[1] < kept[-1][1]:
                    kept.append(item)
            layer[i] = kept
        if k >= config.min_blocks:
            for s, q, cuts in layer.get(n, []):
                cv = math.sqrt(max(k * q - total * total, 0)) / total if total and k > 1 else 0.0
                value = s / k - lam * cv if k > 1 else 0.0
                if best is None or value > best[0]:
                    best = (value, list(cuts))
        fronts.append(layer)
        if not layer:
            break
    return None if best is None else best[1]
