"""How many rows an input holds, where that is cheap to know: a progress bar's total and ETA.

Parquet files say so in their footer; JSONL lines are counted (one fast pass, only up to
:data:`COUNT_LIMIT_BYTES` of text, and only as far as ``limit``). A Hub stream or a ``.json``
file gives no count: the bar then counts up without a total.
"""

from __future__ import annotations

from pathlib import Path

from .errors import OpenMementosError
from .sources import JSONL_SUFFIXES, _resolve, _suffix

COUNT_LIMIT_BYTES = 2**30


def count_rows(spec: str, limit: int | None = None) -> int | None:
    """The number of rows ``open_input(spec, limit=limit)`` yields, or None when unknown."""
    try:
        resolved = _resolve(spec)
    except OpenMementosError:
        return None   # open_input says what is wrong, in its own words
    if resolved.kind == "hub":
        return None
    try:
        text_bytes = sum(p.stat().st_size for p in resolved.files if _suffix(p) != ".parquet")
        if text_bytes > COUNT_LIMIT_BYTES:
            return None
        total = 0
        for path in resolved.files:
            rows = _rows_in(path, None if limit is None else limit - total)
            if rows is None:
                return None
            total += rows
            if limit is not None and total >= limit:
                return limit
    except (OSError, ValueError):
        return None   # unreadable now: the run itself will say so
    return total


def _rows_in(path: Path, at_most: int | None) -> int | None:
    suffix = _suffix(path)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if suffix not in JSONL_SUFFIXES:
        return None
    rows = 0
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():      # the reader skips blank lines too
                rows += 1
                if at_most is not None and rows >= at_most:
                    break
    return rows
