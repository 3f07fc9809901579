"""``records.duplicate``: no record repeats an earlier one of the input.

A duplicate is a record with the same problem and response as an earlier record, or the same
non-empty ``trace_id``: the same trace twice in training data. The first in input order passes;
each later copy fails, naming the first. Unlike the other checks this one looks across records,
so it runs in the main process over the results in input order: the worker computes a record's
:func:`keys` with its other checks, and :class:`Duplicates` compares them (about 100 bytes of
memory per record).
"""

from __future__ import annotations

import hashlib

from .record import Finding, Record, RecordResult

CHECK = "records.duplicate"


def keys(record: Record) -> tuple[bytes, ...]:
    """What makes a record the same as another: a digest of its problem and response, and its
    trace_id when it has one."""
    problem, response = record.get("problem"), record.get("response")
    found = []
    if isinstance(problem, str) and isinstance(response, str):
        digest = hashlib.blake2b(digest_size=16)
        digest.update(problem.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
        digest.update(response.encode("utf-8", "surrogatepass"))
        found.append(b"t" + digest.digest())
    trace_id = record.get("trace_id")
    if isinstance(trace_id, str) and trace_id:
        found.append(b"i" + trace_id.encode("utf-8", "surrogatepass"))
    return tuple(found)


class Duplicates:
    """Remembers the first record of every key; :meth:`check` adds a finding to a later copy."""

    def __init__(self) -> None:
        self._first: dict[bytes, str] = {}

    def check(self, result: RecordResult, level: str) -> None:
        messages = []
        for key in result.keys:
            first = self._first.setdefault(key, result.origin)
            if first != result.origin:
                what = "problem and response" if key.startswith(b"t") else f"trace_id {result.trace_id!r}"
                messages.append(f"the same {what} as {first}")
        if messages:
            result.findings.append(Finding(CHECK, level, "a duplicate record: " + "; ".join(messages), weight=3.0))
