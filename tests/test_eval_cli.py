"""``openmementos eval`` as a user runs it: help, one-line errors, no torch unless a model is
decoded, and ``--vllm-url`` against a real local OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from openmementos import format as fmt
from openmementos.cli import main
from openmementos.testing import FakeOpenAI
from openmementos.testing.responders import last_user_text

SNAPSHOT = Path(__file__).parent / "snapshots" / "eval_help.txt"
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def test_help_lists_every_option_with_an_explanation():
    proc = subprocess.run([sys.executable, "-m", "openmementos.cli", "eval", "--help"], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0
    for option in ("--data", "--model", "--vllm-url", "--replay", "--mode", "--samples", "--max-new-tokens",
                   "--max-block-tokens", "--temperature", "--top-p", "--top-k", "--seed", "--batch-size",
                   "--mask-delimiters", "--kv-model", "--tokenizer", "--out", "--json"):
        assert option in proc.stdout, option
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(proc.stdout)
    assert proc.stdout == SNAPSHOT.read_text(), "eval --help changed: review it, then UPDATE_SNAPSHOTS=1"


def test_help_and_replay_never_import_torch(shared_data):
    example = shared_data / "memento" / "example_math_aime25.json"
    code = ("import sys; from openmementos.cli import main; "
            f"code = main(['eval', '--replay', {str(example)!r}, '--tokenizer', 'cl100k_base', '--json']); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["domains"]["unknown"]["memento"]["peak_reduction"] > 2
    proc = subprocess.run([sys.executable, "-m", "openmementos.cli", "--help"], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0 and "eval" in proc.stdout


@pytest.mark.parametrize("args,message", [
    (["eval"], "error: eval needs --data and one of --model or --vllm-url (or --replay PATH)"),
    (["eval", "--data", "x.jsonl", "--model", "m", "--mode", "fast"], "error: unknown mode 'fast'"),
    (["eval", "--replay", "a.jsonl", "--model", "m"], "error: --replay reads texts: it takes no --data, --model or --vllm-url"),
    (["eval", "--data", "missing.jsonl", "--vllm-url", "http://127.0.0.1:9/v1"], "error: missing.jsonl is not a file"),
    (["eval", "--replay", "a.jsonl", "--kv-model", "gpt-9"], "error: no model shape named 'gpt-9'"),
])
def test_bad_invocations_are_one_line_errors_with_a_hint(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == message and err[1].startswith("hint: ")


def _memento_answer(answer: str, blocks: int) -> str:
    parts = [f"Step {i}: " + "we compute things carefully and check them again. " * 12 for i in range(blocks)]
    mementos = [f"Step {i} gave a partial result." for i in range(blocks)]
    return fmt.render(parts, mementos, f"\n\nSo the answer is $\\boxed{{{answer}}}$.")


def test_vllm_url_reads_a_servers_completions_grades_them_and_replays_their_kv(tmp_path, capsys):
    problems = tmp_path / "problems.jsonl"
    rows = [{"id": "p1", "problem": "What is 1+1?", "answer": "2"},
            {"id": "p2", "problem": "What is half of one?", "answer": "\\frac{1}{2}"},
            {"id": "p3", "problem": "What is 2+2?", "answer": "4"}]
    problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
    replies = {"1+1": "2", "half": "0.5", "2+2": "5"}        # right, right in another form, wrong

    def responder(request):
        user = last_user_text(request)
        return _memento_answer(next(v for k, v in replies.items() if k in user), blocks=3)

    out = tmp_path / "report.json"
    with FakeOpenAI(responder=responder, record=True) as server:
        code = main(["eval", "--vllm-url", server.base_url, "--data", str(problems), "--samples", "2",
                     "--mode", "full,memento", "--tokenizer", "cl100k_base", "--out", str(out), "--json"])
        assert server.stats.total == 6               # each sample asked once, accounted in both modes
        request = server.stats.requests[0]
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    # vLLM is asked to keep the memento tokens in the text, and for the paired per-sample seed
    assert request["skip_special_tokens"] is False and request["top_k"] == 20 and isinstance(request["seed"], int)
    full, memento = summary["modes"]["full"], summary["modes"]["memento"]
    assert full["accuracy"] == memento["accuracy"] == pytest.approx(2 / 3)
    assert full["format_valid"] == 1.0 and full["blocks"] == 3
    assert memento["peak_kv_tokens"] < full["peak_kv_tokens"] and memento["kv_auc_tokens"] < full["kv_auc_tokens"]
    assert full["peak_kv_bytes"] == full["peak_kv_tokens"] * 147_456
    report = json.loads(out.read_text())
    assert len(report["records"]) == 12
    graded = {(r["problem_id"], r["mode"]): (r["answer"], r["correct"], r["grading"]) for r in report["records"]}
    assert graded[("p2", "memento")][:2] == ("0.5", True) and graded[("p3", "full")][:2] == ("5", False)


def test_a_reasoning_parsers_split_reply_is_put_back_together(tmp_path, capsys):
    problems = tmp_path / "p.jsonl"
    problems.write_text(json.dumps({"problem": "What is 3+4?", "answer": "7"}) + "\n")
    whole = _memento_answer("7", blocks=2)
    thinking, answer = whole[len(fmt.THINK_START):].split(fmt.THINK_END)

    class Split(FakeOpenAI):
        def _completion(self, request, content, finish):
            body = super()._completion(request, answer, finish)
            body["choices"][0]["message"]["reasoning_content"] = thinking
            return body

    with Split(responder=lambda request: whole) as server:
        assert main(["eval", "--vllm-url", server.base_url, "--data", str(problems), "--mode", "memento",
                     "--tokenizer", "cl100k_base", "--json"]) == 0
    memento = json.loads(capsys.readouterr().out)["modes"]["memento"]
    assert memento["accuracy"] == 1.0 and memento["format_valid"] == 1.0 and memento["blocks"] == 2
