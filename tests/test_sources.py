"""The input side: opening inputs (sources) and turning rows into traces or skips (rowschema).

Real files throughout: the traces in ../shared/data and files written to a temp folder.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openmementos.errors import ConfigError, HubUnreachableError, InputError
from openmementos.records import Skip, Trace
from openmementos.rowschema import normalise_domain, to_trace
from openmementos.sources import SAMPLE_PATH, FieldMap, RawRow, input_fingerprint, open_input

GOOD = {"problem": "What is 1+1?", "cot": "<think>\nOne plus one.\n</think>\n\n**2**"}


def write_lines(path: Path, lines: list[bytes | str | dict]) -> Path:
    data = b""
    for line in lines:
        if isinstance(line, dict):
            line = json.dumps(line)
        data += (line.encode("utf-8") if isinstance(line, str) else line) + b"\n"
    path.write_bytes(data)
    return path


def convert(spec: str | Path, fields: FieldMap = FieldMap(), **options) -> list[Trace | Skip]:
    return [to_trace(raw, fields) for raw in open_input(str(spec), **options)]


def row_result(row: dict, fields: FieldMap = FieldMap()) -> Trace | Skip:
    return to_trace(RawRow(0, "test:1", row), fields)


def reasons(results: list) -> list[str]:
    return [r.reason if isinstance(r, Skip) else "trace" for r in results]


# --- the real traces ----------------------------------------------------------------------------


def test_flat_problem_cot_example_keeps_thinking_byte_exact_and_its_task_id(shared_data):
    path = shared_data / "traces" / "ot3_example_trace.jsonl"
    row = json.loads(path.read_text(encoding="utf-8"))
    [trace] = convert(path)
    assert isinstance(trace, Trace)
    cot = row["cot"]
    assert trace.thinking == cot[len("<think>"):cot.index("</think>")]
    assert trace.answer == ""  # this trace ends at </think>: accepted with an empty answer
    assert (trace.trace_id, trace.problem, trace.domain) == (row["task_id"], row["problem"], "math")
    assert trace.source == row["source"] and trace.difficulty == -1


def test_ot3_conversation_rows_all_become_traces_with_exact_text_and_metadata(shared_data):
    path = shared_data / "traces" / "ot3_format_math500_deepseek.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    traces = convert(path)
    assert reasons(traces) == ["trace"] * 20
    for row, trace in zip(rows, traces):
        response = row["conversations"][1]["value"]
        assert "<think>" + trace.thinking + "</think>" + trace.answer == response
        assert trace.problem == row["conversations"][0]["value"]
        assert (trace.domain, trace.source, trace.difficulty) == ("math", row["source"], row["difficulty"])
        assert trace.extra["input_schema"] == "conversations"
    ids = [t.trace_id for t in traces]
    assert len(set(ids)) == 20, "hashed ids differ between rows"
    assert ids == [t.trace_id for t in convert(path)], "hashed ids are the same on every run"


def test_foreign_schema_without_mapping_is_a_missing_trace_skip_naming_the_fields_looked_for(shared_data):
    results = convert(shared_data / "traces" / "math500_deepseek_reasoner.jsonl", limit=3)
    assert reasons(results) == ["missing_trace"] * 3
    assert "cot" in results[0].detail and "conversations" in results[0].detail
    assert results[0].trace_id == "math500_0000" and results[0].row is not None


def test_mapped_full_response_with_think_tags_is_split_like_any_response(shared_data):
    path = shared_data / "traces" / "math500_deepseek_reasoner.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    traces = convert(path, FieldMap(problem="problem", trace="full_response", default_domain="math"))
    assert reasons(traces) == ["trace"] * 20
    for row, trace in zip(rows, traces):
        assert "<think>" + trace.thinking + "</think>" + trace.answer == row["full_response"]
        assert trace.thinking.strip() == row["reasoning_trace"]  # the producer's own split agrees
        assert trace.answer.strip() == row["answer_text"]
        assert trace.trace_id == row["item_id"] and trace.domain == "math"


def test_mapped_thinking_only_field_with_answer_field_keeps_both_exactly(shared_data):
    path = shared_data / "traces" / "math500_deepseek_reasoner.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    traces = convert(path, FieldMap(trace="reasoning_trace", answer="answer_text"))
    assert reasons(traces) == ["trace"] * 20
    for row, trace in zip(rows, traces):
        assert (trace.thinking, trace.answer) == (row["reasoning_trace"], row["answer_text"])
        assert trace.extra["think_markers"] == "thinking_field"


def test_r1_distill_close_only_traces_accepted_and_the_runaway_one_skipped(shared_data):
    path = shared_data / "traces" / "math500_r1_distill_qwen7b.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    results = convert(path, FieldMap(problem="problem", trace="full_response"))
    skips = [r for r in results if isinstance(r, Skip)]
    assert [(s.trace_id, s.reason) for s in skips] == [("math500_0009", "no_think_close")]
    assert "75,344 characters" in skips[0].detail and skips[0].detail.endswith(":10)")
    traces = [r for r in results if isinstance(r, Trace)]
    assert len(traces) == 19
    for trace in traces:
        response = next(r["full_response"] for r in rows if r["item_id"] == trace.trace_id)
        assert trace.thinking + "</think>" + trace.answer == response
        assert trace.extra["think_markers"] == "think_close_only"


def test_runaway_trace_mapped_as_thinking_only_is_an_empty_thinking_skip(shared_data):
    # The producer put the whole runaway text in answer_text and left reasoning_trace empty.
    path = shared_data / "traces" / "math500_r1_distill_qwen7b.jsonl"
    results = convert(path, FieldMap(trace="reasoning_trace", answer="answer_text"))
    assert [(r.trace_id, r.reason) for r in results if isinstance(r, Skip)] == [("math500_0009", "empty_thinking")]


def test_folder_of_real_traces_streams_every_file_in_sorted_order(shared_data):
    raws = list(open_input(str(shared_data / "traces")))
    assert [r.index for r in raws] == list(range(61))
    names = [Path(r.origin.rsplit(":", 1)[0]).name for r in raws]
    assert names == sorted(names) and names[0] == "math500_deepseek_reasoner.jsonl"


# --- schemas and markers ------------------------------------------------------------------------


def test_openthoughts_114k_markers_give_thinking_and_the_solution_text_as_answer():
    response = (
        "<|begin_of_thought|>\n\nLet me think.\n\n<|end_of_thought|>\n\n"
        "<|begin_of_solution|>\n\nThe answer is **4**.\n\n<|end_of_solution|>"
    )
    row = {
        "system": "Your role as an assistant ...",
        "conversations": [{"from": "user", "value": "2+2?"}, {"from": "assistant", "value": response}],
    }
    trace = row_result(row)
    assert isinstance(trace, Trace)
    assert (trace.problem, trace.thinking) == ("2+2?", "\n\nLet me think.\n\n")
    assert trace.answer == "\n\nThe answer is **4**.\n\n"
    assert trace.extra["think_markers"] == "thought_markers"


def test_messages_with_role_and_content_are_read_like_conversations():
    row = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q"},
                        {"role": "assistant", "content": "<think>t</think>a"}]}
    trace = row_result(row)
    assert (trace.problem, trace.thinking, trace.answer) == ("Q", "t", "a")


def test_dotted_field_names_reach_into_nested_objects_and_domains_are_normalised():
    row = {"q": {"text": "Q"}, "r": "<think>t</think>a", "meta": {"subject": "Biology", "level": "3"}}
    trace = row_result(row, FieldMap(problem="q.text", trace="r", domain="meta.subject", difficulty="meta.level"))
    assert (trace.problem, trace.domain, trace.difficulty) == ("Q", "science", 3)
    assert trace.extra["raw_domain"] == "Biology"


@pytest.mark.parametrize(
    "value, expected", [("math", "math"), ("Code", "code"), ("physics", "science"), ("chemistry", "science"),
                        ("puzzle", None), (None, None)]
)
def test_normalise_domain_maps_sciences_to_science_and_unknown_names_to_none(value, expected):
    assert normalise_domain(value) == expected


def test_unrecognised_domain_falls_back_to_default_domain_then_unknown():
    row = dict(GOOD, domain="puzzle")
    assert row_result(row).domain == "unknown"
    assert row_result(row, FieldMap(default_domain="math")).domain == "math"


@pytest.mark.parametrize("value, expected", [(7, 7), (7.0, 7), ("8", 8), (None, -1), ("hard", -1), (True, -1)])
def test_difficulty_is_an_int_or_minus_one(value, expected):
    assert row_result(dict(GOOD, difficulty=value)).difficulty == expected


def test_trace_id_comes_from_id_fields_else_a_stable_hash():
    assert row_result(dict(GOOD, id=12)).trace_id == "12"
    assert row_result(dict(GOOD, item_id="x")).trace_id == "x"
    assert row_result(dict(GOOD, uid="u"), FieldMap(id="uid")).trace_id == "u"
    hashed = row_result(GOOD).trace_id
    assert hashed == row_result(dict(GOOD)).trace_id and len(hashed) == 16
    assert hashed != row_result(dict(GOOD, problem="What is 2+2?")).trace_id


# --- per-row problems are counted skips ---------------------------------------------------------


@pytest.mark.parametrize(
    "row, reason, words",
    [
        ({"cot": "<think>t</think>a"}, "missing_problem", "problem, question"),
        ({"problem": "Q"}, "missing_trace", "cot, response"),
        ({"problem": "  ", "cot": "<think>t</think>a"}, "missing_problem", "empty"),
        ({"problem": "Q", "cot": ""}, "missing_trace", "empty"),
        ({"problem": "Q", "cot": ["not", "text"]}, "missing_trace", "list"),
        ({"problem": "Q", "cot": "<think>\n \n</think>a"}, "empty_thinking", "empty"),
        ({"problem": "Q", "cot": "just an answer"}, "no_think_close", "incomplete"),
        ({"problem": "Q", "cot": "<think>runaway ..."}, "no_think_close", "never closes"),
        ({"problem": "Q", "cot": "<think>a</think>b<think>c</think>d"}, "multiple_think_blocks", "2 <think>"),
        ({"problem": "Q", "cot": "a</think>b</think>c"}, "multiple_think_blocks", "2 </think>"),
        ({"problem": "Q", "cot": "a</think>b<think>c"}, "multiple_think_blocks", "after"),
        ({"problem": "Q", "cot": "Sure! <think>t</think>a"}, "text_before_think", "before"),
        ({"problem": "Q", "cot": "<think>t<|block_start|></think>a"}, "reserved_tokens", "thinking"),
        ({"problem": "Q", "cot": "<think>t</think>a<|summary_end|>"}, "reserved_tokens", "answer"),
        ({"problem": "Q<|block_end|>", "cot": "<think>t</think>a"}, "reserved_tokens", "problem"),
        ({"problem": "Q", "cot": "<think>t\ud800</think>a"}, "not_utf8", "surrogate"),
        ({"problem": "Q", "conversations": [{"from": "human", "value": "Q"}]}, "missing_trace", "assistant"),
        ({"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "x</think>y"},
                            {"from": "human", "value": "Q2"}, {"from": "gpt", "value": "z</think>w"}]},
         "multi_turn", "user turns"),
    ],
)
def test_bad_rows_become_skips_with_a_reason_and_a_detail(row, reason, words):
    result = row_result(row)
    assert isinstance(result, Skip)
    assert (result.stage, result.reason) == ("input", reason)
    assert words in result.detail and "test:1" in result.detail
    assert result.row is row


def test_mapped_fields_that_are_absent_name_the_field():
    for fields, reason, name in [
        (FieldMap(problem="question_text"), "missing_problem", "question_text"),
        (FieldMap(trace="full_response"), "missing_trace", "full_response"),
        (FieldMap(trace="reasoning", answer="final"), "missing_answer", "final"),
    ]:
        result = row_result({"problem": "Q", "reasoning": "thought"}, fields)
        assert (result.reason, name in result.detail) == (reason, True)


def test_whitespace_outside_the_tags_is_kept_or_allowed():
    trace = row_result({"problem": "Q", "cot": "\n<think>  t \n</think>\n\nA\n"})
    assert (trace.thinking, trace.answer) == ("  t \n", "\n\nA\n")


# --- reading files ------------------------------------------------------------------------------


def test_malformed_non_utf8_and_non_object_lines_are_skips_and_the_good_lines_around_them_survive(tmp_path):
    path = write_lines(tmp_path / "mixed.jsonl", [
        dict(GOOD, id="a"), '{"problem": "Q", "cot": ', b'{"problem": "caf\xe9"}', "[1, 2]",
        "", dict(GOOD, id="b"), "42", dict(GOOD, id="c"),
    ])
    raws = list(open_input(str(path)))
    assert [r.error for r in raws] == ["", "malformed_json", "not_utf8", "not_an_object", "", "not_an_object", ""]
    assert [r.index for r in raws] == list(range(7))
    assert [r.origin.rsplit(":", 1)[1] for r in raws] == ["1", "2", "3", "4", "6", "7", "8"]  # blank line 5 is no row
    results = [to_trace(r) for r in raws]
    assert [r.trace_id for r in results if isinstance(r, Trace)] == ["a", "b", "c"]
    assert reasons(results)[1:4] == ["malformed_json", "not_utf8", "not_an_object"]
    assert results[1].trace_id == "row-1" and "mixed.jsonl:2" in results[1].detail


def test_a_bom_and_crlf_line_ends_are_read(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\r\n" + json.dumps(GOOD).encode() + b"\r\n")
    assert [r.error for r in open_input(str(path))] == ["", ""]


def test_a_megabyte_line_is_read_whole(tmp_path):
    long_cot = "<think>" + "step. " * 200_000 + "</think>done"
    path = write_lines(tmp_path / "long.jsonl", [{"problem": "Q", "cot": long_cot}])
    [trace] = convert(path)
    assert len(trace.thinking) == 1_200_000 and trace.answer == "done"


def test_json_array_file_gives_one_row_per_element(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([dict(GOOD, id="a"), "oops", dict(GOOD, id="b")]), encoding="utf-8")
    raws = list(open_input(str(path)))
    assert [(r.index, r.error) for r in raws] == [(0, ""), (1, "not_an_object"), (2, "")]
    assert raws[2].origin.endswith("rows.json#2")


def test_json_file_that_is_really_json_lines_is_read_line_by_line(tmp_path):
    path = write_lines(tmp_path / "rows.json", [dict(GOOD, id="a"), "{broken", dict(GOOD, id="b")])
    assert [r.error for r in open_input(str(path))] == ["", "malformed_json", ""]


def test_json_file_holding_one_pretty_printed_object_is_one_row(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(GOOD, indent=2), encoding="utf-8")
    [raw] = open_input(str(path))
    assert raw.row == GOOD


def test_broken_json_array_is_one_clear_error_for_the_run(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"problem": "Q"}, {"problem": ', encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        list(open_input(str(path)))


def test_parquet_file_gives_rows_with_nested_conversations(tmp_path):
    rows = [{"difficulty": 3, "source": "s", "domain": "code",
             "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "<think>t</think>a"}]}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "ot3.parquet")
    [trace] = convert(tmp_path / "ot3.parquet")
    assert (trace.problem, trace.thinking, trace.answer, trace.domain, trace.difficulty) == ("Q", "t", "a", "code", 3)


def test_parquet_of_5000_rows_streams_with_limit_and_stable_indices(tmp_path):
    table = pa.Table.from_pylist([dict(GOOD, id=f"r{i}") for i in range(5000)])
    path = tmp_path / "big.parquet"
    pq.write_table(table, path, row_group_size=700)
    first = [(r.index, r.origin, r.row["id"]) for r in open_input(str(path), limit=1234)]
    assert [i for i, _, _ in first] == list(range(1234))
    assert [rid for _, _, rid in first] == [f"r{i}" for i in range(1234)]
    assert first == [(r.index, r.origin, r.row["id"]) for r in open_input(str(path), limit=1234)]
    assert sum(1 for _ in open_input(str(path))) == 5000
    assert list(open_input(str(path), limit=0)) == []


def test_folder_reads_supported_files_recursively_in_sorted_order_and_ignores_the_rest(tmp_path):
    write_lines(tmp_path / "b.jsonl", [dict(GOOD, id="b1"), dict(GOOD, id="b2")])
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "z.json").write_text(json.dumps([dict(GOOD, id="az")]), encoding="utf-8")
    pq.write_table(pa.Table.from_pylist([dict(GOOD, id="c")]), tmp_path / "c.parquet")
    (tmp_path / "README.md").write_text("not data", encoding="utf-8")
    (tmp_path / ".cache").mkdir()
    write_lines(tmp_path / ".cache" / "hidden.jsonl", [dict(GOOD, id="hidden")])
    raws = list(open_input(str(tmp_path)))
    assert [r.row["id"] for r in raws] == ["az", "b1", "b2", "c"]
    assert [r.index for r in raws] == [0, 1, 2, 3]


# --- whole-run errors ---------------------------------------------------------------------------


def test_unknown_input_name_is_an_input_error_listing_what_is_accepted():
    with pytest.raises(InputError, match="unknown input 'openthoughts'") as caught:
        open_input("openthoughts")
    assert "hf:owner/name" in caught.value.hint


def test_missing_path_is_an_input_error_raised_at_the_call(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        open_input(str(tmp_path / "nope.jsonl"))


def test_owner_name_without_prefix_suggests_hf_prefix():
    with pytest.raises(InputError) as caught:
        open_input("someone/some-dataset")
    assert "hf:someone/some-dataset" in caught.value.hint


def test_unsupported_file_and_folder_without_input_files_are_input_errors(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="unsupported input file"):
        open_input(str(tmp_path / "data.csv"))
    with pytest.raises(InputError, match="no input files in folder"):
        open_input(str(tmp_path))


def test_broken_link_in_a_folder_is_an_input_error_at_the_call(tmp_path):
    write_lines(tmp_path / "a.jsonl", [GOOD])
    (tmp_path / "b.jsonl").symlink_to(tmp_path / "gone.jsonl")
    with pytest.raises(InputError, match="broken link"):
        open_input(str(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder, so permissions cannot be tested")
def test_unreadable_folder_is_an_input_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    write_lines(locked / "a.jsonl", [GOOD])
    locked.chmod(0)
    try:
        with pytest.raises(InputError, match="cannot read folder"):
            open_input(str(tmp_path))
    finally:
        locked.chmod(0o755)


def test_negative_limit_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        open_input(str(write_lines(tmp_path / "a.jsonl", [GOOD])), limit=-1)


@pytest.mark.parametrize("spec", ["ot3", "hf:someone/some-dataset"])
def test_hub_input_offline_fails_at_once_with_the_local_copy_hint(spec):
    started = time.monotonic()
    with pytest.raises(HubUnreachableError) as caught:
        open_input(spec)
    assert time.monotonic() - started < 5
    assert "Hub cannot be reached" in caught.value.message and "\n" not in str(caught.value)
    assert "--input" in caught.value.hint and caught.value.exit_code == 2


def test_hub_input_fails_fast_when_the_endpoint_refuses_connections(monkeypatch, closed_port):
    # The TCP check, without HF_HUB_OFFLINE: a local port nobody listens on refuses at once.
    port = closed_port
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(HubUnreachableError, match=f"127.0.0.1:{port}"):
        open_input("ot3")
    assert time.monotonic() - started < 5


def test_malformed_hub_id_is_an_input_error_not_a_hub_error():
    with pytest.raises(InputError, match="not a Hub dataset id") as caught:
        open_input("hf:just-a-name")
    assert not isinstance(caught.value, HubUnreachableError)


# --- fingerprint and the bundled sample ---------------------------------------------------------


def test_fingerprint_is_stable_and_changes_when_a_file_changes(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", [GOOD])
    first = input_fingerprint(str(tmp_path), "train", 10)
    assert first == input_fingerprint(str(tmp_path), "train", 10)
    assert first["files"][0]["path"] == "a.jsonl" and first["files"][0]["size"] == path.stat().st_size
    write_lines(path, [GOOD, GOOD])
    assert input_fingerprint(str(tmp_path), "train", 10) != first


def test_hub_fingerprint_names_id_and_split_without_the_network():
    fingerprint = input_fingerprint("ot3", "train", None)
    assert (fingerprint["hub_id"], fingerprint["split"]) == ("open-thoughts/OpenThoughts3-1.2M", "train")


def test_sample_resolves_to_the_bundled_traces():
    if not SAMPLE_PATH.is_file():
        pytest.skip("openmementos/data/sample.jsonl is not written yet")
    results = convert("sample")
    assert results and any(isinstance(r, Trace) for r in results)
    assert input_fingerprint("sample", "train", None)["files"][0]["path"] == "sample.jsonl"
