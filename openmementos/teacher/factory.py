"""Build a teacher from its command-line name."""

from __future__ import annotations

from ..errors import ConfigError
from .base import Teacher

DEFAULT_TEACHER = "heuristic"


def make_teacher(spec: str | None) -> Teacher:
    """``heuristic`` (offline, the default) or ``openai:MODEL``."""
    name = spec or DEFAULT_TEACHER
    if name == "heuristic":
        from .heuristic import HeuristicTeacher

        return HeuristicTeacher()
    if name.startswith("openai:"):
        raise ConfigError(
            "the OpenAI-compatible teacher is not available in this version",
            "use --teacher heuristic (offline) for now",
        )
    raise ConfigError(f"unknown teacher {name!r}", "use --teacher heuristic or --teacher openai:MODEL")
