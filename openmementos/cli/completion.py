"""``openmementos completion SHELL``: print the shell completion script (the same one
``--install-completion`` installs), for people who keep their shell set-up by hand."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from . import app


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"
    pwsh = "pwsh"


@app.command()
def completion(shell: Annotated[Shell, typer.Argument(help="The shell to complete in.")]) -> None:
    """Print the completion script for SHELL, e.g. eval "$(openmementos completion bash)" in ~/.bashrc."""
    from typer._completion_shared import get_completion_script

    typer.echo(get_completion_script(prog_name="openmementos", complete_var="_OPENMEMENTOS_COMPLETE", shell=shell.value))
