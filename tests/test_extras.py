"""The core install runs the quick start; a command that needs an extra names it in one line.

Each case runs in a fresh interpreter where the extra's packages are blocked
(``sys.modules[name] = None`` makes both ``import`` and ``find_spec`` see them as absent).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

EXTRAS_ONLY = ("polars", "openai", "pytest", "matplotlib", "torch", "transformers", "trl", "math_verify")


def run_without(blocked: tuple[str, ...], args: list[str]) -> subprocess.CompletedProcess:
    code = (f"import sys; sys.modules.update(dict.fromkeys({list(blocked)!r})); "
            f"from openmementos.cli import main; sys.exit(main({args!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_the_quick_start_and_validate_run_on_the_core_install(tmp_path):
    out = tmp_path / "shards"
    proc = run_without(EXTRAS_ONLY, ["segment", "--input", "sample", "--out", str(out), "--workers", "1", "--json", "--quiet"])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["kept"] > 0
    proc = run_without(EXTRAS_ONLY, ["validate", str(out), "--quiet", "--workers", "1"])
    assert proc.returncode in (0, 1) and "records pass" in proc.stdout, proc.stderr


@pytest.mark.parametrize("blocked, args, line", [
    (("polars",), ["stats", "{out}"], "error: stats needs polars (not installed)"),
    (("matplotlib",), ["stats", "{out}", "--png", "{tmp}/png"], "error: stats --png needs matplotlib (not installed)"),
    (("polars",), ["push-to-hub", "{out}", "me/data", "--dry-run"], "error: push-to-hub needs polars (not installed)"),
    (("openai",), ["segment", "--input", "sample", "--out", "{tmp}/b", "--teacher", "openai:m", "--api-key", "k", "--batch-api"],
     "error: --batch-api needs openai (not installed)"),
    (("openai",), ["eval", "--vllm-url", "http://127.0.0.1:9/v1", "--data", "{tmp}/p.jsonl"], "error: eval --vllm-url needs openai (not installed)"),
], ids=["stats", "stats-png", "push-to-hub", "batch-api", "eval-vllm-url"])
def test_a_command_without_its_extra_names_the_extra_in_one_line(tmp_path, blocked, args, line):
    (tmp_path / "p.jsonl").write_text(json.dumps({"problem": "1+1?", "answer": "2"}) + "\n")
    out = tmp_path / "shards"
    out.mkdir()
    proc = run_without(blocked, [a.format(out=out, tmp=tmp_path) for a in args])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == line and lines[1].startswith("hint: pip install '.[") and len(lines) == 2, lines
