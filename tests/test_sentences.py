"""Sentence split: lossless on real and generated text, structure kept whole, joins applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmementos.records import Skip, Trace
from openmementos.sentences import SentenceSplit, SplitConfig, split, split_trace
from openmementos.tokens import TiktokenCounter

COUNTER = TiktokenCounter("cl100k_base")
# The structure rules alone: no joins and no fragment merging, so every cut is visible.
RAW = SplitConfig(min_tokens=0, join_colon=False, join_connectives=(), join_math_chars=0)


def _between_think(text: str) -> str:
    return text.split("<think>", 1)[1].split("</think>", 1)[0]


def load_real_traces(data: Path) -> list[tuple[str, str]]:
    """(name, thinking text) for every trace in ../shared/data/traces."""
    folder = data / "traces"
    traces = []
    for line in (folder / "ot3_example_trace.jsonl").read_text().splitlines():
        traces.append(("ot3_example", _between_think(json.loads(line)["cot"])))
    for name in ("math500_deepseek_reasoner", "math500_r1_distill_qwen7b"):
        for i, line in enumerate((folder / f"{name}.jsonl").read_text().splitlines()):
            traces.append((f"{name}[{i}]", json.loads(line)["reasoning_trace"]))
    for i, line in enumerate((folder / "ot3_format_math500_deepseek.jsonl").read_text().splitlines()):
        value = json.loads(line)["conversations"][1]["value"]
        traces.append((f"ot3_format[{i}]", _between_think(value)))
    return traces


def assert_invariants(text: str, result: SentenceSplit) -> None:
    assert result.rejoin() == text
    assert result.leading == "" or result.leading.isspace()
    assert len(result.separators) == len(result.sentences) == len(result.tokens)
    for sentence in result.sentences:
        assert sentence and sentence == sentence.strip()
    for separator in result.separators[:-1]:
        assert separator.isspace()
    if result.separators:
        assert result.separators[-1] == "" or result.separators[-1].isspace()
    if not text.strip():
        assert result.sentences == []


def test_every_real_trace_rejoins_byte_for_byte(shared_data):
    traces = load_real_traces(shared_data)
    assert len(traces) == 61
    for name, text in traces:
        result = split(text, COUNTER)
        assert_invariants(text, result)
        if text.strip():
            assert result.sentences, name


def test_real_traces_have_no_fragment_under_min_tokens(shared_data):
    for name, text in load_real_traces(shared_data):
        result = split(text, COUNTER)
        if len(result.sentences) > 1:
            assert min(result.tokens) >= SplitConfig().min_tokens, name


def test_token_counts_equal_counter_count_of_each_sentence(shared_data):
    _, text = load_real_traces(shared_data)[0]
    result = split(text, COUNTER)
    assert result.tokens == [COUNTER.count(s) for s in result.sentences]
    assert len(result.sentences) > 100


# Pieces real traces are made of, so generated text hits every rule and their edges.
PIECES = [
    "word", "Let", "me", "check", "x = 3", "\\sqrt{2}", ".", ". ", "! ", "? ", ":", ": ", ",",
    " ", "  ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u2028", "\xa0", "...", "… ", "3.14", "1.2.3",
    "e.g. ", "i.e. ", "etc. ", "vs. ", "Dr. ", "Fig. ", "approx. ", "5! ", "U.S. ",
    "\n1. ", "\n2. ", "\n- ", "\n* ", "Therefore, ", "Thus ", "So ", "Hence, ", "Sooner ",
    "```python\nx = 1.\n\ny = 2. Z\n```", "\n```\nunclosed. fence\n", "~~~\ncode\n~~~",
    "$$a. B$$", "$$\n x. \n\n Y \n$$", "$$", "\\[ p. Q \\]", "\\[", "\\begin{align} a. \\\\ B \\end{align}",
    "\\( t. U \\)", "\\(", "\\)", "$x. Y$", "$5 and $", "`code. Here`", "\n\n    indented. Code\n\n    more.\n",
    "\"quoted.\" ", "(paren.) ", "**Step 1:**", "**Final Answer**",
]
piece_text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=5)), max_size=40).map("".join)
configs = st.builds(
    SplitConfig,
    min_tokens=st.integers(0, 8),
    join_colon=st.booleans(),
    join_connectives=st.sampled_from([(), ("Therefore", "Thus", "So", "Hence")]),
    join_math_chars=st.sampled_from([0, 40, 600]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=piece_text, config=configs)
def test_generated_trace_text_rejoins_and_keeps_invariants(text, config):
    assert_invariants(text, split(text, COUNTER, config))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_rejoins_and_keeps_invariants(text):
    assert_invariants(text, split(text, COUNTER))


@settings(max_examples=50, deadline=None)
@given(text=piece_text)
def test_generated_token_counts_are_exact(text):
    result = split(text, COUNTER)
    assert result.tokens == [COUNTER.count(s) for s in result.sentences]


@pytest.mark.parametrize("text", ["", " ", "\n\n\t ", "\u2028\xa0"])
def test_whitespace_only_text_has_no_sentences(text):
    result = split(text, COUNTER)
    assert result.sentences == [] and result.leading == text and result.rejoin() == text


def test_leading_and_trailing_whitespace_are_recorded():
    result = split("\n\n  First we look at it.\nThen we go on from there. \n", COUNTER, RAW)
    assert result.leading == "\n\n  "
    assert result.sentences == ["First we look at it.", "Then we go on from there."]
    assert result.separators == ["\n", " \n"]


def test_fenced_code_block_with_periods_and_blank_lines_is_one_sentence():
    code = "```python\nx = 1. # set x.\n\n\ny = 2. Then z.\n```"
    result = split(f"Here is the program.\n{code}\nIt runs fine.", COUNTER, RAW)
    assert result.sentences == ["Here is the program.", code, "It runs fine."]


def test_unclosed_fence_runs_to_the_end_of_the_text():
    result = split("Start here.\n```\nno close. Still code.\n\nMore code.", COUNTER, RAW)
    assert result.sentences == ["Start here.", "```\nno close. Still code.\n\nMore code."]


def test_indented_code_after_a_blank_line_stays_whole():
    result = split("See this.\n\n    a = 1. b = 2.\n\n    c = 3.\n\nDone now.", COUNTER, RAW)
    assert result.sentences == ["See this.", "a = 1. b = 2.\n\n    c = 3.", "Done now."]


@pytest.mark.parametrize(
    "math",
    [
        "$$\nx = 1. Y = 2.\n\nZ = 3.\n$$",
        "\\[\np = \\frac{1}{2}. Q\n\\]",
        "\\begin{align}\na &= 1. \\\\\nB &= 2.\n\\end{align}",
    ],
)
def test_display_math_stays_whole(math):
    result = split(f"We compute it.\n{math}\nThat is all.", COUNTER, RAW)
    assert result.sentences == ["We compute it.", math, "That is all."]


@pytest.mark.parametrize("math", ["\\( x. Y \\)", "$x. Y$", "\\( a.\nB \\)"])
def test_inline_math_is_never_split_inside(math):
    result = split(f"The value {math} holds here. Next one.", COUNTER, RAW)
    assert result.sentences == [f"The value {math} holds here.", "Next one."]


@pytest.mark.parametrize(
    "sentence",
    [
        "Pi is 3.14 and e is 2.718 roughly.",
        "Use a prime, e.g. 7, or a square, i.e. 9.",
        "Compare it vs. the other, as in Fig. 2 by Dr. Smith.",
        "It is approx. 4 in U.S. units.",
        "Python 3.11.2 and version 1.2.3 both work.",
        "The digits 0.333... repeat forever.",
        "The sum 1 + 2 + ... + n is known.",
        "Apples, pears, etc. are fruit.",
        "So 5! = 120 and n! grows fast.",
    ],
)
def test_decimals_abbreviations_ellipses_and_factorials_do_not_end_a_sentence(sentence):
    assert split(sentence, COUNTER, RAW).sentences == [sentence]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Is it seven? No, it is eight.", ["Is it seven?", "No, it is eight."]),
        ("That works! Good news.", ["That works!", "Good news."]),
        ('He said "stop." Then he left.', ['He said "stop."', "Then he left."]),
        ("Let me think... Maybe not.", ["Let me think...", "Maybe not."]),
        ("We list apples etc. Then we stop.", ["We list apples etc.", "Then we stop."]),
    ],
)
def test_terminators_followed_by_whitespace_end_a_sentence(text, expected):
    assert split(text, COUNTER, RAW).sentences == expected


def test_list_numbers_are_not_sentence_ends():
    text = "Two cases:\n1. The first case holds.\n2. The second fails.\n- A bullet item."
    result = split(text, COUNTER, RAW)
    assert result.sentences == ["Two cases:", "1. The first case holds.", "2. The second fails.", "- A bullet item."]


def test_a_line_wrap_inside_a_paragraph_does_not_end_a_sentence_but_a_blank_line_does():
    result = split("We have x = 2\ny = 3 as well\n\nNow add them up", COUNTER, RAW)
    assert result.sentences == ["We have x = 2\ny = 3 as well", "Now add them up"]
    assert result.separators == ["\n\n", ""]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The cases are\n- first one\n- second one", ["The cases are", "- first one", "- second one"]),
        ("Two steps\n1) add them\n2) check it", ["Two steps", "1) add them", "2) check it"]),
        ("We get this\n$$x = 2$$\nthen go on", ["We get this", "$$x = 2$$", "then go on"]),
        ("We get this\n\\[x = 2\\]\nthen go on", ["We get this", "\\[x = 2\\]", "then go on"]),
        ("The code is\n```\nx = 1\n```\nand it runs", ["The code is", "```\nx = 1\n```", "and it runs"]),
        ("Some words here\n## Results\nmore words", ["Some words here", "## Results", "more words"]),
        ("Some words here\n**Final Answer**\nthe value 3", ["Some words here", "**Final Answer**", "the value 3"]),
        ("Some words here\nStep 2: add the terms", ["Some words here", "Step 2: add the terms"]),
    ],
)
def test_a_line_break_before_structure_or_after_a_heading_ends_a_sentence(text, expected):
    assert split(text, COUNTER, RAW).sentences == expected


def test_a_terminator_at_a_line_end_still_ends_the_sentence():
    result = split("First we look at it.\nThen we go on\nfrom there.", COUNTER, RAW)
    assert result.sentences == ["First we look at it.", "Then we go on\nfrom there."]


def test_sentence_ending_in_colon_joins_the_next():
    text = "Write both equations again:\n\n1. x + y = 2\n\nThen solve them both."
    result = split(text, COUNTER, SplitConfig(min_tokens=0))
    assert result.sentences == ["Write both equations again:\n\n1. x + y = 2", "Then solve them both."]
    assert split(text, COUNTER, RAW).sentences[0] == "Write both equations again:"


def test_colon_behind_emphasis_joins_the_next():
    result = split("**Step 1:**\nCompute the radius first.", COUNTER, SplitConfig(min_tokens=0))
    assert result.sentences == ["**Step 1:**\nCompute the radius first."]


@pytest.mark.parametrize("word", ["Therefore,", "Thus", "So,", "Hence"])
def test_a_connective_joins_the_previous_sentence_inside_a_math_derivation(word):
    text = f"Then 2x + 1 = 7. {word} x = 3 and we stop. Next part."
    result = split(text, COUNTER, SplitConfig(min_tokens=0))
    assert result.sentences == [f"Then 2x + 1 = 7. {word} x = 3 and we stop.", "Next part."]


@pytest.mark.parametrize(
    "text",
    [
        "The discriminant is negative. Therefore the code returns early.",    # no math on either side
        "We found x = 3. So I think the approach works.",                     # no math after
        "The case is settled now. Thus x = 3 overall.",                       # no math before
        "We found x = 3.\n\nSo x + 1 = 4 follows.",                           # across a blank line
    ],
)
def test_a_connective_outside_a_derivation_or_across_a_blank_line_can_open_a_block(text):
    assert len(split(text, COUNTER, SplitConfig(min_tokens=0)).sentences) == 2


def test_lines_of_one_calculation_and_runs_of_list_items_stay_together():
    config = SplitConfig(min_tokens=0)
    calculation = "Equation 1: 3x - 4y = 24\n\nEquation 2: 4x - 4y = -6"
    assert split(f"{calculation}\n\nNow we subtract them.", COUNTER, config).sentences == [calculation, "Now we subtract them."]
    items = "- first x = 1\n- second y = 2\n- third z"
    assert split(f"The three cases are listed.\n{items}", COUNTER, config).sentences == ["The three cases are listed.", items]


def test_short_finished_steps_join_within_a_paragraph_only():
    config = SplitConfig(min_tokens=0)
    assert split("So 2 * 3 = 6. Then 6 + 1 = 7.", COUNTER, config).sentences == ["So 2 * 3 = 6. Then 6 + 1 = 7."]
    assert split("So 2 * 3 = 6.\n\nThen 6 + 1 = 7.", COUNTER, config).sentences == ["So 2 * 3 = 6.", "Then 6 + 1 = 7."]


def test_a_calculation_join_stops_at_the_length_cap():
    lines = "\n\n".join(f"x_{i} = {i} + y_{i}" for i in range(40))
    result = split(lines, COUNTER, SplitConfig(min_tokens=0, join_math_chars=100))
    assert len(result.sentences) > 5 and all(len(s) <= 100 for s in result.sentences)


def test_words_that_only_start_like_a_connective_do_not_join():
    text = "The discriminant is negative. Sooner or later we check it. Thusly done."
    assert len(split(text, COUNTER, SplitConfig(min_tokens=0)).sentences) == 3


def test_fragments_under_min_tokens_merge_into_the_previous_sentence():
    text = "The discriminant is negative here.\n\nHmm.\n\nLet me check the roots again."
    result = split(text, COUNTER)
    assert result.sentences == ["The discriminant is negative here.\n\nHmm.", "Let me check the roots again."]
    assert result.separators == ["\n\n", ""]


def test_leading_fragments_merge_into_the_next_sentence():
    text = "Okay.\nHmm.\nLet me check the roots again."
    assert split(text, COUNTER).sentences == [text]


def test_text_shorter_than_min_tokens_is_one_sentence():
    result = split("Ok. Yes.", COUNTER)
    assert result.sentences == ["Ok. Yes."] and result.tokens == [COUNTER.count("Ok. Yes.")]


def test_split_trace_fills_the_sentence_fields():
    trace = Trace("t1", "problem", "  First step is here.\n\nSecond step is there.\n", "42")
    result = split_trace(trace, COUNTER)
    assert result is trace
    assert trace.leading == "  "
    assert trace.sentences == ["First step is here.", "Second step is there."]
    assert trace.separators == ["\n\n", "\n"]
    assert trace.sentence_tokens == [COUNTER.count(s) for s in trace.sentences]
    assert trace.leading + "".join(s + sep for s, sep in zip(trace.sentences, trace.separators)) == trace.thinking


def test_split_trace_skips_empty_thinking():
    result = split_trace(Trace("t2", "problem", " \n\n ", "42"), COUNTER)
    assert isinstance(result, Skip)
    assert (result.trace_id, result.stage, result.reason) == ("t2", "sentences", "empty_thinking")
