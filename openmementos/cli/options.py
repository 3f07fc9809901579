"""Option types that several commands share."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer


class LogLevel(str, Enum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def log_level_option(panel: str):
    return Annotated[Optional[LogLevel], typer.Option(
        "--log-level", case_sensitive=False, rich_help_panel=panel,
        help="Log messages from this level up on stderr (default: warning; -v is info, -vv debug).")]


def verbose_option(panel: str):
    return Annotated[int, typer.Option(
        "--verbose", "-v", count=True, rich_help_panel=panel,
        help="More log messages on stderr: -v info (chunks written, retries), -vv debug.")]
