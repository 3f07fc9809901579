"""``openmementos cache``: look at or clear the teacher's on-disk answer cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..teacher.cache import AnswerCache, default_cache_path
from . import CommandGroup, app

cache_app = typer.Typer(help="The teacher's answer cache (every successful LLM response, reused on re-runs).", no_args_is_help=True,
                        cls=CommandGroup, suggest_commands=False)
app.add_typer(cache_app, name="cache")

_PATH = typer.Option("--cache-path", help="Cache file (default: ~/.cache/openmementos/teacher-cache.sqlite).")


@cache_app.command("info")
def info(cache_path: Annotated[Optional[Path], _PATH] = None) -> None:
    """Print where the cache is and how many answers it holds."""
    path = cache_path or default_cache_path()
    if not path.exists():
        typer.echo(f"{path}: no cache yet")
        return
    cache = AnswerCache(path)
    typer.echo(f"{path}: {len(cache):,} answers, {path.stat().st_size / 2**20:,.1f} MiB")
    cache.close()


@cache_app.command("clear")
def clear(
    cache_path: Annotated[Optional[Path], _PATH] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete every cached answer (the next run pays for its requests again)."""
    path = cache_path or default_cache_path()
    if not path.exists():
        typer.echo(f"{path}: no cache, nothing to clear")
        return
    if not yes and not typer.confirm(f"delete every answer in {path}?"):
        raise typer.Exit(1)
    cache = AnswerCache(path)
    removed = cache.clear()
    cache.close()
    typer.echo(f"{path}: removed {removed:,} answers")
