"""The parts ``validate`` is built from: number comparison, the compiled row schema, check selection."""

from __future__ import annotations

import copy
import json

import jsonschema
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmementos import format as fmt
from openmementos.errors import ConfigError
from openmementos.resources import load_schema
from openmementos.validate import CHECK_NAMES, ValidateConfig, check_row
from openmementos.validate.numerals import canonical, final_value, values
from openmementos.validate.runner import Checker
from openmementos.validate.schema import RowSchema, arrow_type_name, row_schema

SAMPLE_ROW = {
    "problem": "Find x if 2x + 3 = 11.",
    "response": fmt.render(["So 2x = 8 and x = 4 after taking 3 from each side. Check: 2*4 + 3 = 11, as required."],
                           ["2x + 3 = 11 => x = 4 (checked: 8 + 3 = 11)."], "\n\n**4**"),
    "domain": "math",
    "source": "unit",
    "difficulty": 1,
    "sentences": ["So 2x = 8 and x = 4 after taking 3 from each side.", "Check: 2*4 + 3 = 11, as required."],
    "blocks": [[0, 1]],
    "block_summaries": ["2x + 3 = 11 => x = 4 (checked: 8 + 3 = 11)."],
    "separators": [" ", ""],
    "judge_scores": [[7.0, 9.0]],
}


# -- numbers compared by value ---------------------------------------------------------------


@pytest.mark.parametrize("left, right", [
    ("1,000", "1000"), ("0.50", "0.5"), ("2.0", "2"), ("007", "7"), ("12,345.60", "12345.6"),
])
def test_numbers_written_differently_have_one_canonical_value(left, right):
    assert canonical(left) == canonical(right)


def test_fractions_match_in_latex_plain_and_decimal_form():
    assert {"0.75", "3", "4"} <= values(r"\frac{3}{4}") == values("3/4") | {"0.75"}
    assert "0.75" in values(r"\dfrac34") and "0.75" in values("0.75")
    assert "7/72" in values(r"\frac{21}{216}") and "7/72" in values("7/72")


def test_digits_glued_to_names_are_not_numbers_but_lists_and_thousands_are():
    assert values("x1 + a_2 + Eq3") == set()
    assert values("(3,4) and 1,2,5") == {"1", "2", "3", "4", "5"}
    assert values("1,000 items") == {"1000"}
    assert {"24", "63"} <= values("h = 2K/24 and N(8)/63")


def test_final_value_is_the_last_result_that_is_not_a_single_digit():
    assert final_value("r + s = 24, so the answer is 504. Check: x = 2.") == "504"
    assert final_value(r"Hence \(\boxed{1,008}\)") == "1008"
    assert final_value("No result here, x = 3.") is None


# -- the row schema: compiled once, and it agrees with jsonschema ------------------------------


def _jsonschema_columns(row: dict) -> set[str]:
    validator = jsonschema.Draft202012Validator(load_schema("openmementos_row"))
    found = set()
    for error in validator.iter_errors(row):
        if error.path:
            found.add(error.path[0])
        elif error.validator in ("required", "dependentRequired"):
            found.add(error.message.split("'")[1])
    return found


def _compiled_columns(row: dict) -> set[str]:
    return {column for column, _ in row_schema().problems(row)}


BROKEN = [
    ("difficulty", "3"), ("difficulty", 2.5), ("difficulty", -4), ("difficulty", True), ("difficulty", None),
    ("response", ""), ("response", 7), ("problem", None), ("blocks", [["0", "1"]]), ("blocks", [[0, 1, 2]]),
    ("blocks", [[0]]), ("blocks", []), ("blocks", [[-1, 1]]), ("sentences", ["a", 3]), ("sentences", "a b"),
    ("block_summaries", [None]), ("judge_scores", [[11.0]]), ("judge_scores", [["9"]]), ("separators", [1]),
    ("sentence_tokens", [3, -1]), ("thinking_tokens", 1.5), ("segmentation_objective", "x"),
]


@pytest.mark.parametrize("column, value", BROKEN)
def test_compiled_schema_reports_the_same_column_as_jsonschema(column, value):
    row = {**copy.deepcopy(SAMPLE_ROW), column: value}
    assert _compiled_columns(row) == _jsonschema_columns(row) == {column}


@pytest.mark.parametrize("missing", ["response", "difficulty", "blocks", "block_summaries"])
def test_missing_required_and_dependent_columns_are_reported_like_jsonschema(missing):
    row = {k: v for k, v in SAMPLE_ROW.items() if k != missing}
    assert _compiled_columns(row) == _jsonschema_columns(row) == {missing}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 20) | st.floats(-2, 12, allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3), max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(column=st.sampled_from(sorted(load_schema("openmementos_row")["properties"])), value=json_values)
def test_compiled_schema_accepts_and_rejects_exactly_what_jsonschema_does(column, value):
    row = {**copy.deepcopy(SAMPLE_ROW), column: value}
    assert bool(_compiled_columns(row)) == bool(_jsonschema_columns(row))


def test_schema_compiler_refuses_keywords_it_would_silently_ignore():
    with pytest.raises(ValueError, match="pattern"):
        RowSchema({"type": "object", "properties": {"a": {"type": "string", "pattern": "x"}}})


def test_parquet_type_names_treat_large_and_plain_variants_alike():
    assert arrow_type_name(pa.large_list(pa.large_string())) == "list<string>"
    assert arrow_type_name(pa.list_(pa.list_(pa.int64()))) == "list<list<int64>>"
    schema = pa.schema([("difficulty", pa.int32()), ("response", pa.large_string())])
    assert row_schema().arrow_problems(schema) == {"difficulty": "Parquet column type is int32, the schema wants int64"}


# -- selecting checks and their levels ---------------------------------------------------------


def test_checks_and_groups_can_be_selected_skipped_and_re_levelled():
    config = ValidateConfig(checks=("faithfulness", "sizes.ratio"), skip=("faithfulness.duplicate",),
                            severity=(("sizes.ratio", "error"),))
    enabled = {name for name in CHECK_NAMES if config.severity_of(name)}
    assert enabled == {"faithfulness.recall", "faithfulness.hallucination", "faithfulness.lookahead",
                       "faithfulness.changed_number", "faithfulness.order", "sizes.ratio"}
    assert config.severity_of("sizes.ratio") == "error"
    for bad in ({"checks": ("faithfulness.nope",)}, {"skip": ("nope",)}, {"severity": (("sizes.ratio", "fatal"),)},
                {"min_block_tokens": 300, "max_block_tokens": 200}):
        with pytest.raises(ConfigError):
            ValidateConfig(**bad)


def test_a_warning_is_reported_but_the_record_still_passes_until_it_is_made_an_error():
    row = {k: SAMPLE_ROW[k] for k in ("problem", "response", "domain", "source", "difficulty")}
    default = check_row(Checker(ValidateConfig(min_block_tokens=1)), 0, "row", row)
    assert default.passed and {f.check for f in default.warnings} == {"sizes.ratio", "sizes.compression"}
    strict = check_row(Checker(ValidateConfig(min_block_tokens=1, severity=(("sizes", "error"),))), 0, "row", row)
    assert not strict.passed and {f.check for f in strict.errors} >= {"sizes.ratio"}


def test_judge_gate_reads_the_best_round_of_each_block():
    row = copy.deepcopy(SAMPLE_ROW)
    passing = check_row(Checker(ValidateConfig(checks=("judge",))), 0, "row", row)
    assert passing.passed  # best of 7.0 and 9.0
    row["judge_scores"] = [[6.0, 7.5]]
    failing = check_row(Checker(ValidateConfig(checks=("judge",))), 0, "row", row)
    assert [f.message for f in failing.errors] == ["memento 0 judge score 7.5 is below --min-judge-score 8"]


def test_narration_and_superscript_mementos_are_style_warnings():
    row = {k: SAMPLE_ROW[k] for k in ("problem", "domain", "source", "difficulty")}
    row["response"] = fmt.render(["So 2x = 8 and x = 4."], ["In this block the model finds x = 4 ≥ 0, x² = 16."], "")
    result = check_row(Checker(ValidateConfig(checks=("style",))), 0, "row", row)
    assert result.passed and {f.check for f in result.warnings} == {"style.ascii", "style.narration"}
    assert "'²'" in next(f.message for f in result.warnings if f.check == "style.ascii")


def test_arrows_dashes_and_relations_are_ordinary_in_real_mementos_and_pass_the_style_check():
    # the real MEMENTO science mementos write "→" and a non-breaking hyphen ("co‑elution")
    row = {k: SAMPLE_ROW[k] for k in ("problem", "domain", "source", "difficulty")}
    row["response"] = fmt.render(["So 2x = 8 and x = 4."], ["2x = 8 → x = 4 ≥ 0 (co‑check)."], "")
    assert check_row(Checker(ValidateConfig(checks=("style",))), 0, "row", row).warnings == []


def test_a_bad_jsonl_line_is_a_schema_failure_of_that_record():
    from openmementos.validate.reader import parse_line

    result = check_row(Checker(ValidateConfig()), 4, "x.jsonl#4", parse_line(b"{not json\n"))
    assert [f.check for f in result.errors] == ["structure.schema"] and "line 5: not JSON" in result.errors[0].message
    assert json.loads(json.dumps(result.as_dict()))["passed"] is False


def test_readme_documents_every_check_with_its_default_level():
    from pathlib import Path

    from openmementos.validate import CHECKS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for spec in CHECKS:
        assert f"| `{spec.name}` | {spec.severity} |" in readme, spec.name
