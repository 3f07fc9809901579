"""Manifest integrity: every shard's sha256 and row count against ``manifest.json``.

``segment`` writes the manifest last, listing each shard of ``data/``, ``full/`` and ``rejects/``
with its sha256 and rows; a shard changed, truncated, missing or added since then is a failure
of the whole input (check ``manifest.integrity``), reported beside the per-record results.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from ..journal import OUTPUT_FOLDERS
from ..shards import sha256_file


def _rows(path: Path) -> int:
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def check_manifest(root: Path) -> tuple[int, list[str]]:
    """``(shards checked, problems)`` for the manifest in ``root``; problems are one line each."""
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        listed = [entry for entries in manifest["shards"].values() for entry in entries]
        expected = {entry["path"]: entry for entry in listed}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return 0, [f"manifest.json is unreadable or has no shard list: {error}"]
    problems = []
    for name, entry in expected.items():
        path = root / name
        if not path.is_file():
            problems.append(f"{name} is listed in manifest.json but missing")
            continue
        digest = sha256_file(path)
        if digest != entry.get("sha256"):
            problems.append(f"{name}: sha256 {digest[:12]}... differs from manifest.json ({str(entry.get('sha256'))[:12]}...)")
        try:
            rows = _rows(path)
        except Exception as error:  # a damaged file is one more integrity problem, not a crash
            problems.append(f"{name}: unreadable ({type(error).__name__}: {error})")
            continue
        if rows != entry.get("rows"):
            problems.append(f"{name}: {rows} rows, manifest.json says {entry.get('rows')}")
    for folder in OUTPUT_FOLDERS:
        for path in sorted((root / folder).glob("*")) if (root / folder).is_dir() else []:
            name = f"{folder}/{path.name}"
            if path.is_file() and not path.name.startswith(".") and name not in expected:
                problems.append(f"{name} is not listed in manifest.json")
    return len(expected), problems


def check_twins(root: Path, pairs: list[tuple[str, str, int]]) -> list[str]:
    """A ``full/`` shard and its ``data/`` twin must hold the same number of rows."""
    problems = []
    for full, data, rows in pairs:
        try:
            twin_rows = _rows(root / data)
        except Exception as error:
            problems.append(f"{data}: unreadable ({type(error).__name__}: {error})")
            continue
        if twin_rows != rows:
            problems.append(f"{data} has {twin_rows} rows, its twin {full} has {rows}")
    return problems
