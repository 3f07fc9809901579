"""The memento text format: render/parse round trip and the errors parse must raise."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmementos import format as fmt

# Text that may hold anything but the reserved tokens (angle brackets and pipes included).
safe_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=60).filter(
    lambda t: fmt.find_reserved(t) is None
)


@settings(max_examples=200, deadline=None)
@given(pairs=st.lists(st.tuples(safe_text, safe_text), min_size=1, max_size=6), answer=safe_text)
def test_parse_of_render_returns_the_same_blocks_mementos_and_answer(pairs, answer):
    blocks = [b for b, _ in pairs]
    mementos = [m for _, m in pairs]
    parsed = fmt.parse(fmt.render(blocks, mementos, answer))
    assert parsed == fmt.MementoResponse(tuple(blocks), tuple(mementos), answer)


def test_render_lays_out_think_blocks_and_summaries_in_order():
    text = fmt.render(["A.", "B."], ["a", "b"], "\n\nDone.")
    assert text == (
        "<think>\n<|block_start|>A.<|block_end|>\n<|summary_start|>a<|summary_end|>\n"
        "<|block_start|>B.<|block_end|>\n<|summary_start|>b<|summary_end|>\n</think>\n\nDone."
    )


def test_parse_accepts_other_whitespace_between_tags():
    text = "<think><|block_start|>x<|block_end|>  \n\n<|summary_start|>y<|summary_end|></think>ans"
    assert fmt.parse(text) == fmt.MementoResponse(("x",), ("y",), "ans")


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("<|block_start|>x<|block_end|><|summary_start|>y<|summary_end|></think>", "<think> was expected"),
        ("<think><|block_start|>x<|summary_start|>y<|summary_end|></think>", "<|block_end|> was expected"),
        ("<think><|block_start|>x<|block_start|>y<|block_end|></think>", "<|block_end|> was expected"),
        ("<think><|block_start|>x<|block_end|></think>", "<|summary_start|> was expected"),
        ("<think><|block_start|>x<|block_end|><|summary_start|>y<|summary_end|>", "response ends"),
        ("<think>stray<|block_start|>x<|block_end|><|summary_start|>y<|summary_end|></think>", "outside"),
        ("<think></think>answer", "</think> at character"),
        ("<think><|block_start|>x<|block_end|>loose<|summary_start|>y<|summary_end|></think>", "outside"),
    ],
)
def test_parse_rejects_malformed_responses_naming_the_problem(text, complaint):
    with pytest.raises(fmt.FormatError, match=complaint.replace("|", r"\|")):
        fmt.parse(text)


def test_render_refuses_reserved_tokens_inside_text_and_unequal_counts():
    with pytest.raises(fmt.FormatError, match="reserved token"):
        fmt.render(["a <|block_end|> b"], ["m"], "")
    with pytest.raises(fmt.FormatError, match="one memento per block"):
        fmt.render(["a", "b"], ["m"], "")


def test_real_memento_model_output_round_trips(shared_data):
    # A real MEMENTO model output (AIME 2025 #5): alternate block and summary segments.
    example = json.loads((shared_data / "memento" / "example_math_aime25.json").read_text())
    blocks = [s["text"] for s in example["segments"] if s["type"] == "block"]
    mementos = [s["text"] for s in example["segments"] if s["type"] == "summary"]
    assert len(blocks) == len(mementos) > 1
    text = fmt.render(blocks, mementos, "\n\n" + example["answer"])
    assert fmt.parse(text) == fmt.MementoResponse(tuple(blocks), tuple(mementos), "\n\n" + example["answer"])


answer_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 5) | st.floats(-1, 4, allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["scores", "memento", "x"]), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(raw=answer_values)
def test_the_fast_answer_check_accepts_nothing_the_json_schema_rejects(raw):
    import jsonschema

    from openmementos.answers import _plainly_valid
    from openmementos.resources import load_schema

    for name in ("boundary_scores", "memento"):
        if _plainly_valid(name, raw):
            jsonschema.validate(raw, load_schema(name))


rubric_numbers = st.booleans() | st.integers(-1, 11) | st.floats(-1, 11) | st.none() | st.text(max_size=2)
rubric_parts = st.dictionaries(
    st.sampled_from(["formulas", "numbers", "methods", "validation", "correctness", "result_first", "hallucination",
                     "narration", "formulas_in_words", "missing_critical_values", "other"]), rubric_numbers, max_size=11)
verdicts = st.dictionaries(
    st.sampled_from(["scores", "deductions", "feedback", "extra"]),
    rubric_parts | st.text(max_size=3) | st.integers(0, 3), min_size=2, max_size=4)


@settings(max_examples=600, deadline=None)
@given(raw=verdicts)
def test_the_fast_verdict_check_accepts_nothing_the_json_schema_rejects(raw):
    import jsonschema

    from openmementos.answers import _plainly_valid
    from openmementos.resources import load_schema

    if _plainly_valid("judge_verdict", raw):
        jsonschema.validate(raw, load_schema("judge_verdict"))


def test_the_fast_verdict_check_takes_a_well_formed_verdict_and_leaves_the_rest_to_the_schema():
    from openmementos.answers import _plainly_valid, parse_verdict
    from openmementos.errors import TeacherAnswerError

    good = {"scores": {"formulas": 3, "numbers": 2, "methods": 1.5, "validation": 1, "correctness": 1, "result_first": 0},
            "deductions": {"narration": 0.5}, "feedback": "keep the final value"}
    assert _plainly_valid("judge_verdict", good)
    assert parse_verdict(good).score == 8.0
    for broken in ({**good, "scores": {**good["scores"], "formulas": 4}},          # over the part's maximum
                   {**good, "scores": {**good["scores"], "numbers": True}},        # a bool is not a score
                   {**good, "deductions": {"made_up": 1}}):                        # unknown deduction
        assert not _plainly_valid("judge_verdict", broken)
        with pytest.raises(TeacherAnswerError):
            parse_verdict(broken)
