"""The ``openmementos`` command: a thin layer that parses options and calls the library.

Library errors become one line and a hint on stderr with a non-zero exit code; set
``OPENMEMENTOS_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import difflib
import os
import sys

import click
import typer
from typer.core import TyperGroup

from ..errors import OpenMementosError

class CommandGroup(TyperGroup):
    """A command group with one "Did you mean" line for a mistyped command.

    Click (8.2 on) suggests close names itself, and Typer adds its own on top; this keeps
    Click's, or adds one where an older Click gave none.
    """

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            # Click's NoSuchCommand keeps its matches in .possibilities and words them itself
            if not getattr(error, "possibilities", None) and "Did you mean" not in error.message and args:
                matches = difflib.get_close_matches(args[0], list(self.commands))
                if matches:
                    error.message = f"{error.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise


app = typer.Typer(
    name="openmementos",
    cls=CommandGroup,
    help="Build, check, publish and use OpenMementos-style training data (MEMENTO, arXiv 2604.09852).",
    no_args_is_help=True,
    add_completion=True,      # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    suggest_commands=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from . import segment  # noqa: F401  (commands register themselves on ``app``)
    from . import merge  # noqa: F401
    from . import train  # noqa: F401
    from . import validate  # noqa: F401
    from . import cache  # noqa: F401
    from . import eval  # noqa: F401
    from . import hub  # noqa: F401
    from . import completion  # noqa: F401


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"openmementos {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", help="Print the version and exit.", is_eager=True,
                                 callback=_print_version, expose_value=False),
) -> None:
    pass


_argv: list[str] = []


def current_argv() -> list[str]:
    """The arguments this command was called with (for its log file's first line)."""
    return list(_argv)


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    from .. import logs

    global _argv
    _argv = list(sys.argv[1:] if argv is None else argv)
    _register()
    logs.setup()   # warnings and errors from the library reach stderr; commands may ask for more
    try:
        code = app(args=argv, prog_name="openmementos", standalone_mode=False)
    except OpenMementosError as error:
        if os.environ.get("OPENMEMENTOS_DEBUG"):
            raise
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return error.exit_code
    except typer.Exit as done:
        return done.exit_code
    except KeyboardInterrupt:
        print("interrupted: finished shards are kept; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as error:  # click usage errors and the like
        import click

        if isinstance(error, click.exceptions.ClickException):
            error.show()
            return error.exit_code
        if isinstance(error, click.exceptions.Abort):
            return 1
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
