"""Selection rules and the streaming stratifier."""

from __future__ import annotations

import pytest

from openmementos.records import Skip, Trace
from openmementos.select import SelectConfig, Stratifier, parse_mix, select_trace
from openmementos.tokens import TiktokenCounter

COUNTER = TiktokenCounter("cl100k_base")


def _trace(text: str, domain: str = "math", tid: str = "t", difficulty: int = -1) -> Trace:
    return Trace(tid, "problem", text, "\n\nanswer", domain, "src", difficulty)


def test_cjk_text_is_dropped_with_the_character_named():
    result = select_trace(_trace("Let x = 2. " * 100 + "所以"), COUNTER)
    assert isinstance(result, Skip) and result.reason == "cjk_text" and "所" in result.detail


def test_token_bounds_drop_short_and_long_traces_and_record_the_count():
    config = SelectConfig(min_tokens=50, max_tokens=200)
    assert select_trace(_trace("word " * 10), COUNTER, config).reason == "too_short"
    assert select_trace(_trace("word " * 500), COUNTER, config).reason == "too_long"
    kept = select_trace(_trace("word " * 100), COUNTER, config)
    assert isinstance(kept, Trace) and kept.extra["thinking_tokens"] == COUNTER.count("word " * 100)


def test_huge_traces_are_rejected_without_tokenizing_them():
    # 2.4M characters: far over any token bound; must be decided from the length alone.
    result = select_trace(_trace("x" * 2_400_000), COUNTER, SelectConfig(max_tokens=32_000))
    assert isinstance(result, Skip) and result.reason == "too_long" and "characters" in result.detail


def test_parse_mix_normalises_and_rejects_bad_text():
    assert parse_mix("math=2, code=1,science=1") == {"math": 0.5, "code": 0.25, "science": 0.25}
    for bad in ("math", "math=x", "math=-1", ""):
        with pytest.raises(ValueError):
            parse_mix(bad)


def test_stratifier_fills_each_domain_quota_and_then_reports_done():
    stratifier = Stratifier({"math": 0.5, "code": 0.25, "science": 0.25}, total=4)
    domains = ["math"] * 5 + ["code"] * 3 + ["science"] * 2
    kept = [d for i, d in enumerate(domains) if isinstance(stratifier.offer(_trace("x", d, str(i))), Trace)]
    assert sorted(kept) == ["code", "math", "math", "science"]
    assert stratifier.is_done(stratifier.taken)


def test_stratifier_by_difficulty_bucket_uses_both_shares():
    stratifier = Stratifier({"math": 1.0}, total=4, difficulty_mix={"easy": 0.5, "hard": 0.5})
    offers = [(1, "a"), (2, "b"), (3, "c"), (8, "d"), (5, "e"), (9, "f"), (10, "g")]
    kept = [tid for d, tid in offers if isinstance(stratifier.offer(_trace("x", "math", tid, d)), Trace)]
    assert kept == ["a", "b", "d", "f"]


def test_seeded_thinning_is_reproducible_and_depends_on_the_seed():
    def draw(seed: int) -> list[str]:
        stratifier = Stratifier({"math": 1.0}, total=10_000, seed=seed, keep_fraction=0.3)
        return [str(i) for i in range(1000) if isinstance(stratifier.offer(_trace("x", "math", str(i))), Trace)]

    first, again, other = draw(1), draw(1), draw(2)
    assert first == again and first != other
    assert 220 < len(first) < 380


def test_thinning_without_a_domain_mix_has_no_quotas():
    stratifier = Stratifier({}, total=0, seed=3, keep_fraction=0.5)
    kept = [i for i in range(400) if isinstance(stratifier.offer(_trace("x", "code", str(i))), Trace)]
    assert 150 < len(kept) < 250 and not stratifier.is_done({})
