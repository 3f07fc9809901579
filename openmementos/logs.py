"""Logging: the standard ``logging`` module under the ``openmementos`` logger, with secrets scrubbed.

The library logs what a run did (chunks written, retries, endpoints taken out, traces failed);
the CLI decides where it goes: stderr at the level ``--log-level`` / ``-v`` asks for, and a
per-run file under the output folder (``OUT/logs/segment-YYYYmmdd-HHMMSS.log``). Every line that
either writes passes through :func:`scrub`: API keys, tokens and ``Authorization`` values never
reach a terminal or a file, whichever library put them in the message.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LOGGER = "openmementos"
LEVELS = ("debug", "info", "warning", "error")
LOG_DIR = "logs"

_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),                      # OpenAI-style keys
    re.compile(r"\bhf_[A-Za-z0-9]{16,}"),                         # Hugging Face tokens
    re.compile(r"(?i)(\bbearer\s+)[^\s'\",]+"),                   # Authorization: Bearer ...
    re.compile(r"(?i)(--(?:api-key|token)[= ]\s*)[^\s'\",]+"),    # a key on a logged command line
    re.compile(r"(?i)((?:api[_-]?key|token|secret|password)[\"']?\s*[:=]\s*[\"']?)[^\s'\",&]+"),
)
_secrets: set[str] = set()


def add_secret(value: str | None) -> None:
    """Scrub this exact value from every log line from now on (an API key given by option or
    environment, which need not look like any known key format)."""
    if value and len(value) >= 4:
        _secrets.add(value)


def scrub(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


class ScrubbingFormatter(logging.Formatter):
    """Formats as usual, then scrubs the whole text (message, arguments and traceback alike)."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time, so a live progress bar that redirects
    stderr prints the line above itself instead of through it."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def level_for(log_level: str | None, verbose: int) -> int:
    """``--log-level`` wins; else warnings by default, ``-v`` info, ``-vv`` debug."""
    if log_level:
        return logging.getLevelName(log_level.upper())
    return logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING


def setup(log_level: str | None = None, verbose: int = 0) -> int:
    """Send the ``openmementos`` logger to stderr at the level asked for; returns that level.
    Calling it again replaces the earlier set-up (tests run many commands in one process)."""
    level = level_for(log_level, verbose)
    logger = logging.getLogger(LOGGER)
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setLevel(level)
    handler.setFormatter(ScrubbingFormatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    _update_level(logger)
    return level


def _update_level(logger: logging.Logger) -> None:
    levels = [h.level for h in logger.handlers]
    logger.setLevel(min(levels) if levels else logging.WARNING)


@contextlib.contextmanager
def run_log(folder: Path, command: str, argv: list[str] | None = None, level: int = logging.INFO) -> Iterator[Path]:
    """Also write this run's log to ``folder/logs/COMMAND-YYYYmmdd-HHMMSS.log`` (info and up, or
    debug when asked), starting with the command line; yields the file's path."""
    from . import __version__

    logs = folder / LOG_DIR
    logs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = logs / f"{command}-{stamp}.log"
    number = 1
    while path.exists():   # two runs in one second
        number += 1
        path = logs / f"{command}-{stamp}-{number}.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(min(level, logging.INFO))
    handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    _update_level(logger)
    logger.info("openmementos %s: %s", __version__, " ".join(["openmementos", *(argv if argv is not None else sys.argv[1:])]))
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        handler.close()
        _update_level(logger)


def discard(path: Path, out: Path | None = None) -> None:
    """Remove a run's log file (a run that left nothing else behind), its ``logs`` folder if
    now empty, and ``out`` too when given and empty."""
    path.unlink(missing_ok=True)
    for folder in (path.parent, out):
        if folder is not None:
            with contextlib.suppress(OSError):   # not empty: other runs' logs, or other files
                folder.rmdir()
