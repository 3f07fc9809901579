"""Exact duplicate input rows: the first in input order is kept, each later one is a skip.

Two rows are duplicates when their problem and thinking text are the same byte for byte (the
row id, metadata and answer aside): annotating both would put one trace twice in the data. The
decision depends only on the input order, so a resumed run, a ``--shard I/N`` machine (which sees
every row go by, its own or not) and a Batch API round all drop the same rows.
"""

from __future__ import annotations

import hashlib

from .records import Skip, Trace

STAGE = "input"
REASON = "duplicate"


def fingerprint(trace: Trace) -> bytes:
    """A 16-byte digest of the problem and thinking text (collisions: about 2^-64 per pair)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(trace.problem.encode("utf-8", "surrogatepass"))
    digest.update(b"\0")
    digest.update(trace.thinking.encode("utf-8", "surrogatepass"))
    return digest.digest()


class Duplicates:
    """Remembers every row's fingerprint; memory is about 100 bytes per distinct row."""

    def __init__(self) -> None:
        self._first: dict[bytes, tuple[int, str]] = {}   # fingerprint -> (row index, origin)

    def note(self, trace: Trace, index: int, origin: str) -> None:
        """Record a row that is not offered (another machine's, or done by an earlier run)."""
        self._first.setdefault(fingerprint(trace), (index, origin))

    def offer(self, trace: Trace, index: int, origin: str) -> Trace | Skip:
        """``trace`` itself if no earlier row had its text, else a ``duplicate`` skip naming that row."""
        first = self._first.setdefault(fingerprint(trace), (index, origin))
        if first[0] == index:
            return trace
        return Skip(trace.trace_id, STAGE, REASON,
                    f"the same problem and thinking as input row {first[0]} ({first[1]}); kept there ({origin})")
