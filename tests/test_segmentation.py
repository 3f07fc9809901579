"""The optimiser returns the exact optimum of the paper's objective: proved against brute force
on every small instance we enumerate, against an independent exact DP on realistic sizes, and
against the authors'-style per-state DP, which is shown to miss the optimum."""

from __future__ import annotations

import itertools
import math
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmementos import segmentation
from openmementos.records import Skip, Trace
from openmementos.segmentation import (
    Segmentation,
    SegmentConfig,
    objective,
    optimise,
    segment_trace,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from baseline_segment import segment as baseline_segment

TOL = 1e-9


def brute_force(tokens, scores, config):
    """(objective, blocks) over all 2^(n-1) cut sets, or None when none fits the constraints."""
    n, best = len(tokens), None
    for mask in range(1 << max(n - 1, 0)) if n else ():
        edges = [0] + [b + 1 for b in range(n - 1) if mask >> b & 1] + [n]
        blocks = [(edges[i], edges[i + 1] - 1) for i in range(len(edges) - 1)]
        sizes = [sum(tokens[a : b + 1]) for a, b in blocks]
        if min(sizes) < config.min_block_tokens:
            continue
        if config.max_block_tokens is not None and max(sizes) > config.max_block_tokens:
            continue
        if not config.min_blocks <= len(blocks) <= (config.max_blocks or n):
            continue
        value = objective(blocks, tokens, scores, config.lam)
        if best is None or value > best[0]:
            best = (value, blocks)
    return best


def assert_valid(found: Segmentation, tokens, scores, config):
    n = len(tokens)
    assert found.blocks[0][0] == 0 and found.blocks[-1][1] == n - 1
    assert all(b[0] == a[1] + 1 for a, b in zip(found.blocks, found.blocks[1:]))
    assert found.block_tokens == [sum(tokens[a : b + 1]) for a, b in found.blocks]
    assert min(found.block_tokens) >= config.min_block_tokens
    if config.max_block_tokens is not None:
        assert max(found.block_tokens) <= config.max_block_tokens
    assert config.min_blocks <= len(found.blocks) <= (config.max_blocks or n)
    assert found.objective == objective(found.blocks, tokens, scores, config.lam)


def assert_matches_brute_force(tokens, scores, config):
    expected = brute_force(tokens, scores, config)
    found = optimise(tokens, scores, config)
    if expected is None:
        assert found is None, (tokens, scores, config)
        return
    assert found is not None, (tokens, scores, config)
    assert_valid(found, tokens, scores, config)
    assert abs(found.objective - expected[0]) <= TOL, (tokens, scores, config, found, expected)


def random_instance(rng: random.Random, n: int):
    """Tokens with zeros and repeats (ties); scores on the 0-3 grid, halves, two values, or
    negative ones (the optimiser must not assume the teacher's range)."""
    tokens = [rng.choice([0, 10, 20, 20, 40]) if rng.random() < 0.3 else rng.randint(1, 60) for _ in range(n)]
    kind = rng.random()
    if kind < 0.4:
        scores = [float(rng.randint(0, 3)) for _ in range(n - 1)]
    elif kind < 0.7:
        scores = [rng.randint(0, 6) / 2 for _ in range(n - 1)]
    elif kind < 0.9:
        scores = [rng.choice([1.0, 3.0]) for _ in range(n - 1)]
    else:
        scores = [rng.choice([-2.0, -1.0, 0.0, 0.5]) for _ in range(n - 1)]
    return tokens, scores


def random_config(rng: random.Random) -> SegmentConfig:
    low = rng.choice([0, 10, 30, 50, 80])
    kmin = rng.choice([1, 1, 2, 3])
    return SegmentConfig(
        lam=rng.choice([0.5, 0.5, 0.0, 0.1, 1.0, 3.0]),
        min_block_tokens=low,
        max_block_tokens=rng.choice([None, None, low + rng.randint(1, 120)]),
        min_blocks=kmin,
        max_blocks=rng.choice([None, None, kmin + rng.randint(0, 3)]),
    )


def realistic(n: int, seed: int):
    """A synthetic trace like the real ones: ~25-token sentences with a long tail, mostly low scores."""
    rng = random.Random(seed)
    tokens = [max(5, round(rng.lognormvariate(math.log(19), 0.75))) for _ in range(n)]
    scores = [float(rng.choices([0, 1, 2, 3], weights=[45, 30, 18, 7])[0]) for _ in range(n - 1)]
    return tokens, scores


# -- the objective ---------------------------------------------------------------------------


def test_objective_matches_a_hand_computation():
    # sizes 100 and 300: mean 200, population std 100, CV 0.5; one cut scored 2 over 2 blocks
    assert objective([(0, 0), (1, 1)], [100, 300], [2.0], lam=0.5) == pytest.approx(2 / 2 - 0.5 * 0.5)
    # sizes 200, 200, 200: CV 0; cuts at boundaries 1 and 3 score 3 + 1 over 3 blocks
    blocks = [(0, 1), (2, 3), (4, 4)]
    assert objective(blocks, [100, 100, 50, 150, 200], [0.0, 3.0, 2.0, 1.0], lam=0.5) == pytest.approx(4 / 3)
    assert objective([(0, 2)], [5, 5, 5], [3.0, 3.0], lam=0.5) == 0.0


def test_objective_rejects_blocks_that_do_not_tile_the_trace():
    with pytest.raises(ValueError, match="tile"):
        objective([(0, 0), (2, 2)], [1, 1, 1], [0.0, 0.0], 0.5)
    with pytest.raises(ValueError, match="tile"):
        objective([(0, 1)], [1, 1, 1], [0.0, 0.0], 0.5)


# -- exactness -------------------------------------------------------------------------------


def test_every_tiny_instance_matches_brute_force():
    # all token vectors over {1, 2, 3} and score vectors over {0, 1, 3}, n <= 4, three minimums
    for n in range(1, 5):
        for tokens in itertools.product([1, 2, 3], repeat=n):
            for scores in itertools.product([0.0, 1.0, 3.0], repeat=n - 1):
                for low in (0, 2, 3):
                    assert_matches_brute_force(list(tokens), list(scores), SegmentConfig(min_block_tokens=low))


def test_random_instances_up_to_eleven_sentences_match_brute_force():
    rng = random.Random(20240901)
    for _ in range(4000):
        n = rng.randint(1, 11)
        tokens, scores = random_instance(rng, n)
        assert_matches_brute_force(tokens, scores, random_config(rng))


@pytest.mark.parametrize("quick_pairs", [segmentation._QUICK_PAIRS, 0])
def test_the_search_alone_is_exact_from_a_weak_incumbent(monkeypatch, quick_pairs):
    # Without the top-boundary incumbent the search starts from an arbitrary feasible
    # segmentation, so every pruning rule has to hold on its own; with no quick budget every
    # search takes the capped-then-full path.
    monkeypatch.setattr(segmentation._BranchAndBound, "_incumbent", lambda self, levels: None)
    monkeypatch.setattr(segmentation, "_QUICK_PAIRS", quick_pairs)
    rng = random.Random(7 + quick_pairs)
    for _ in range(1500):
        n = rng.randint(2, 11)
        tokens, scores = random_instance(rng, n)
        assert_matches_brute_force(tokens, scores, random_config(rng))


def test_a_big_search_restarted_from_the_lower_level_incumbents_stays_exact(monkeypatch):
    # with no quick budget every search is "big": it takes the incumbents one and two grid steps
    # below the top, rebuilds its tables from the better start, and must still find the optimum
    monkeypatch.setattr(segmentation, "_QUICK_PAIRS", 0)
    rng = random.Random(11)
    for _ in range(1500):
        n = rng.randint(2, 11)
        tokens, scores = random_instance(rng, n)
        assert_matches_brute_force(tokens, scores, random_config(rng))


def test_scores_off_any_grid_use_the_exact_pareto_dp():
    rng = random.Random(3)
    for _ in range(300):
        n = rng.randint(1, 10)
        tokens = [rng.randint(1, 60) for _ in range(n)]
        scores = [round(rng.uniform(0, 3), 4) + 1e-5 for _ in range(n - 1)]
        assert_matches_brute_force(tokens, scores, random_config(rng))


@settings(max_examples=150, deadline=None)
@given(
    tokens=st.lists(st.integers(0, 80), min_size=1, max_size=10),
    scores_seed=st.integers(0, 2**32 - 1),
    halves=st.booleans(),
    low=st.sampled_from([0, 20, 40, 70]),
    high=st.sampled_from([None, 90, 150]),
    kmin=st.integers(1, 3),
    kspan=st.sampled_from([None, 0, 2]),
    lam=st.sampled_from([0.0, 0.5, 2.0]),
)
def test_property_optimum_equals_brute_force(tokens, scores_seed, halves, low, high, kmin, kspan, lam):
    rng = random.Random(scores_seed)
    scores = [rng.randint(0, 6 if halves else 3) / (2 if halves else 1) for _ in range(len(tokens) - 1)]
    config = SegmentConfig(lam, low, high, kmin, None if kspan is None else kmin + kspan)
    assert_matches_brute_force(tokens, scores, config)


@pytest.mark.parametrize("seed", range(24))
def test_realistic_traces_match_an_independent_exact_dp(seed):
    # Too long for brute force; the Pareto DP over (S, Q) shares no code with the search.
    rng = random.Random(seed)
    tokens, scores = realistic(rng.randint(30, 110), seed)
    if seed % 3 == 1:
        scores = [(a + b) / 2 for a, b in zip(scores, realistic(len(tokens), seed + 100)[1])]
    config = SegmentConfig(
        min_block_tokens=rng.choice([60, 100, 200]),
        max_block_tokens=rng.choice([None, 600]),
        min_blocks=rng.choice([1, 3]),
        max_blocks=rng.choice([None, 12]),
    )
    found = optimise(tokens, scores, config)
    cuts = segmentation._pareto_search(tokens, scores, config)
    assert (found is None) == (cuts is None)
    if found is not None:
        edges = [0, *cuts, len(tokens)]
        blocks = [(edges[i], edges[i + 1] - 1) for i in range(len(edges) - 1)]
        assert_valid(found, tokens, scores, config)
        assert abs(found.objective - objective(blocks, tokens, scores, config.lam)) <= TOL


# -- the baseline ----------------------------------------------------------------------------


def test_the_per_state_baseline_is_not_exact():
    # Found by random search: keeping one best partial per (position, blocks) loses the prefix
    # of the optimum (four blocks, the first two single sentences).
    tokens, scores = [20, 10, 40, 40, 70], [2.0, 2.0, 1.0, 2.0]
    config = SegmentConfig(min_block_tokens=10)
    blocks, value = baseline_segment(tokens, scores, lam=0.5, min_block_tokens=10)
    best = optimise(tokens, scores, config)
    assert value == pytest.approx(objective(blocks, tokens, scores, 0.5))
    assert best.blocks == [(0, 0), (1, 1), (2, 3), (4, 4)]
    assert best.objective == pytest.approx(brute_force(tokens, scores, config)[0])
    assert best.objective > value + 1e-3


@pytest.mark.parametrize("n", [150, 400])
def test_exact_is_never_worse_than_the_baseline_on_realistic_traces(n):
    tokens, scores = realistic(n, n)
    _, value = baseline_segment(tokens, scores)
    assert optimise(tokens, scores).objective >= value - TOL


# -- behaviour -------------------------------------------------------------------------------


def test_same_input_gives_the_same_blocks_even_with_ties():
    tokens, scores = [50] * 12, [3.0] * 11  # many optimal segmentations
    config = SegmentConfig(min_block_tokens=100)
    first = optimise(tokens, scores, config)
    assert all(optimise(tokens, scores, config) == first for _ in range(3))
    assert first.objective == pytest.approx(brute_force(tokens, scores, config)[0])


def test_single_block_when_no_cut_fits_and_none_when_nothing_fits():
    assert optimise([150, 100], [3.0], SegmentConfig(min_block_tokens=200)).blocks == [(0, 1)]
    assert optimise([150, 40], [3.0], SegmentConfig(min_block_tokens=200)) is None
    assert optimise([], [], SegmentConfig()) is None
    assert optimise([500, 500], [0.0], SegmentConfig(max_block_tokens=400)) is None


def test_inputs_are_validated():
    with pytest.raises(ValueError, match="one score per boundary"):
        optimise([100, 100, 100], [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        optimise([100, -1], [1.0])
    with pytest.raises(ValueError, match="min_blocks"):
        optimise([100, 100], [1.0], SegmentConfig(min_blocks=3, max_blocks=2))
    with pytest.raises(ValueError, match="lam"):
        optimise([100, 100], [1.0], SegmentConfig(lam=-1.0))


def _trace(tokens, scores) -> Trace:
    trace = Trace(trace_id="t1", problem="p", thinking="", answer="")
    trace.sentences = [f"s{i}." for i in range(len(tokens))]
    trace.separators = [" "] * len(tokens)
    trace.sentence_tokens = list(tokens)
    trace.boundary_scores = list(scores)
    return trace


def test_segment_trace_fills_blocks_tokens_and_objective():
    tokens, scores = realistic(120, 5)
    trace = segment_trace(_trace(tokens, scores))
    expected = optimise(tokens, scores)
    assert isinstance(trace, Trace)
    assert trace.blocks == expected.blocks
    assert trace.block_tokens == expected.block_tokens
    assert trace.extra["objective"] == expected.objective
    assert trace.block_text(0).startswith("s0.")


def test_segment_trace_skips_with_a_reason():
    short = segment_trace(_trace([50, 60], [3.0]))
    assert isinstance(short, Skip)
    assert (short.trace_id, short.stage, short.reason) == ("t1", "segmentation", "too_short_for_blocks")
    stuck = segment_trace(_trace([300, 300, 300], [3.0, 3.0]), SegmentConfig(min_blocks=4))
    assert isinstance(stuck, Skip) and stuck.reason == "infeasible_constraints"
    assert "min_blocks=4" in stuck.detail
