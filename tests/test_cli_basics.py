"""What a user of any CLI expects: --version, -h everywhere, one suggestion for a typo, completion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer

from openmementos import __version__
from openmementos.cli import _register, app

SNAPSHOT = Path(__file__).parent / "snapshots" / "root_help.txt"
PLAIN = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "openmementos.cli", *args], capture_output=True, text=True,
                          env=env or PLAIN, timeout=120)


def _every_command() -> list[list[str]]:
    _register()
    root = typer.main.get_command(app)
    paths = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name, command in group.commands.items():
            paths.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_the_name_and_version_and_exits_0(flag):
    proc = cli(flag)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"openmementos {__version__}\n", "")


def test_every_command_takes_h_as_help():
    commands = _every_command()
    assert {"segment", "validate", "stats", "push-to-hub", "eval", "train-sft", "merge", "cache"} <= {c[0] for c in commands}
    assert ["cache", "info"] in commands
    for command in [[], *commands]:
        short, long = cli(*command, "-h"), cli(*command, "--help")
        assert short.returncode == 0, (command, short.stderr)
        assert short.stdout == long.stdout and "Usage: openmementos" in short.stdout, command


@pytest.mark.parametrize("typo, suggestion", [(["segmnt"], "'segment'"), (["valdate", "x"], "'validate'"), (["cache", "inf"], "'info'")])
def test_a_mistyped_command_gets_one_suggestion(typo, suggestion):
    proc = cli(*typo)
    assert proc.returncode == 2
    assert proc.stderr.count("Did you mean") == 1 and f"Did you mean {suggestion}?" in proc.stderr


# Typer's own options detect the shell they run in; its test switch makes them take the shell's
# name instead, so the tests do not depend on the shell pytest was started from.
NO_DETECTION = {**PLAIN, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o default -F _openmementos_completion openmementos"),
                                           ("zsh", "#compdef openmementos"), ("fish", "complete --command openmementos")])
def test_completion_prints_the_script_for_each_shell(shell, marker):
    for args, env in ((["completion", shell], PLAIN), (["--show-completion", shell], NO_DETECTION)):
        proc = cli(*args, env=env)
        assert proc.returncode == 0 and marker in proc.stdout and "_OPENMEMENTOS_COMPLETE" in proc.stdout, args
    assert cli("completion", "tcsh").returncode == 2


def test_install_completion_writes_the_script_where_the_shell_reads_it(tmp_path):
    proc = cli("--install-completion", "bash", env={**NO_DETECTION, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "_OPENMEMENTOS_COMPLETE" in (tmp_path / ".bash_completions" / "openmementos.sh").read_text()
    assert ".bash_completions/openmementos.sh" in (tmp_path / ".bashrc").read_text()


def test_the_completion_script_completes_commands_and_options():
    # what the bash script runs on <TAB>: the program itself with the completion variables set
    def complete(words: str) -> list[str]:
        env = {**PLAIN, "_OPENMEMENTOS_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
        proc = cli(env=env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert complete("openmementos seg") == ["segment"]
    assert complete("openmementos segment --inp") == ["--input"]
    assert "--write-passing" in complete("openmementos validate --wr")


def test_root_help_snapshot():
    proc = cli("--help")
    assert proc.returncode == 0
    for text in ("--version", "--install-completion", "--show-completion", "segment", "validate", "stats", "push-to-hub"):
        assert text in proc.stdout, text
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(proc.stdout)
    assert proc.stdout == SNAPSHOT.read_text(), "openmementos --help changed: review it, then UPDATE_SNAPSHOTS=1"
