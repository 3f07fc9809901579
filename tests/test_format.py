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
