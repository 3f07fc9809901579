"""Typed errors a user can act on.

The library raises these; the CLI prints ``message`` and ``hint`` on one line each and exits
with ``exit_code``. Per-record problems are not errors: they are skips with a reason.
"""

from __future__ import annotations


class OpenMementosError(Exception):
    """Base class: a whole run cannot go on."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class InputError(OpenMementosError):
    """The input cannot be opened or read at all (missing file, unknown input name)."""


class HubUnreachableError(InputError):
    """A Hugging Face Hub dataset was asked for but the Hub cannot be reached."""


class ConfigError(OpenMementosError):
    """Options contradict each other or are out of range."""


class OutputError(OpenMementosError):
    """The output folder cannot be used (holds another run, not writable)."""


class TeacherError(OpenMementosError):
    """The teacher cannot be built or reached at all."""


class ServerError(OpenMementosError):
    """A model server (``eval --vllm-url``) cannot be used: unreachable, refused the key, or not
    an OpenAI-compatible API."""


class TeacherAnswerError(Exception):
    """One teacher answer failed validation; the stage may ask again or skip the trace."""

    def __init__(self, message: str, raw: object = None, reason: str = "invalid_teacher_answer") -> None:
        super().__init__(message)
        self.raw = raw
        self.reason = reason     # the skip reason: invalid_teacher_answer, teacher_request_failed, teacher_truncated

    @property
    def responses(self) -> tuple[str, ...]:
        """The raw teacher responses behind this failure, for the quarantine file."""
        if isinstance(self.raw, (list, tuple)):
            return tuple(str(r) for r in self.raw)
        return () if self.raw is None else (str(self.raw),)
