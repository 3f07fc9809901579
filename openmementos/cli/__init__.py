"""The ``openmementos`` command: a thin layer that parses options and calls the library.

Library errors become one line and a hint on stderr with a non-zero exit code; set
``OPENMEMENTOS_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import os
import sys

import typer

from ..errors import OpenMementosError

app = typer.Typer(
    name="openmementos",
    help="Build, check, publish and use OpenMementos-style training data (MEMENTO, arXiv 2604.09852).",
    no_args_is_help=True,
    add_completion=False,
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


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        from .. import __version__

        typer.echo(__version__)
        raise typer.Exit()


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    _register()
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
