"""Where a shards folder came from: its manifest, and the segment run behind it.

``segment`` writes a manifest with the whole run configuration (input, selection, thresholds,
teacher per role, prompt hashes, cost). ``validate --write-passing`` writes a smaller one that
names the folder it filtered (``validated_from``); that folder's manifest is followed when it is
still there and its kept rows are the filtered folder's input, so the card can name the run that
made the data. What the manifests lack is read from the ``full`` rows' provenance columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import pyarrow.parquet as pq

from ..errors import InputError

ROW_COLUMNS = ("teacher", "tokenizer", "prompt_versions")
ROLES = ("scorer", "compressor", "judge", "refiner")


@dataclass(frozen=True)
class Provenance:
    manifest: dict[str, Any]                  # the folder's own manifest.json
    segment: dict[str, Any] | None            # the segment run's manifest (the same one, or the filtered folder's)
    filters: list[dict[str, Any]] = field(default_factory=list)   # each validate --write-passing step, oldest first
    rows: dict[str, Any] = field(default_factory=dict)            # provenance columns of the first full row

    @property
    def config(self) -> dict[str, Any]:
        return (self.segment or {}).get("config") or {}

    @property
    def tokenizer(self) -> str | None:
        return (self.segment or {}).get("tokenizer") or self.rows.get("tokenizer")

    @property
    def prompt_versions(self) -> dict[str, str]:
        found = (self.segment or {}).get("prompt_versions")
        if found:
            return dict(found)
        try:
            return json.loads(self.rows.get("prompt_versions") or "{}")
        except ValueError:
            return {}

    def teacher_roles(self) -> dict[str, dict[str, Any]]:
        """Role -> what played it: ``{"model", ...sampling}`` for an LLM teacher, the rules otherwise."""
        teacher = (self.segment or {}).get("teacher") or {}
        if teacher.get("roles"):
            return {role: dict(config) for role, config in sorted(teacher["roles"].items())}
        name = teacher.get("name") or self.rows.get("teacher") or "unknown"
        detail = {"model": name}
        if teacher.get("rules"):
            detail["rules"] = teacher["rules"]
        return {role: dict(detail) for role in ROLES}

    @property
    def cost(self) -> dict[str, Any] | None:
        return (self.segment or {}).get("cost")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _first_row(folder: Path) -> dict[str, Any]:
    files = sorted((folder / "full").glob("*.parquet"))
    if not files:
        return {}
    shard = pq.ParquetFile(files[0])
    columns = [c for c in ROW_COLUMNS if c in shard.schema_arrow.names]
    if not columns or shard.metadata.num_rows == 0:
        return {}
    batch = next(shard.iter_batches(batch_size=1, columns=columns))
    return {name: values[0] for name, values in batch.to_pydict().items()}


def load_provenance(folder: str | Path) -> Provenance:
    """Read ``folder/manifest.json`` and follow ``validated_from`` back to the segment run."""
    folder = Path(folder)
    manifest = _read(folder / "manifest.json")
    if manifest is None:
        raise InputError(f"{folder} has no readable manifest.json",
                         "publish a folder written by segment or by validate --write-passing: its manifest lists every shard with its sha256")
    filters: list[dict[str, Any]] = []
    current = manifest
    for _ in range(8):  # a filter of a filter of ... a segment run
        if "config" in current or "validated_from" not in current:
            break
        counts = current.get("counts") or {}
        filters.insert(0, {"input_rows": counts.get("input_rows"), "kept": counts.get("kept"), "pass_rate": counts.get("pass_rate"),
                           "validate_config": current.get("validate_config") or {}})
        origin = _read(Path(current["validated_from"]) / "manifest.json")
        if origin is None or (origin.get("counts") or {}).get("kept") != counts.get("input_rows"):
            current = {}  # moved, or holds another run since: do not guess
            break
        current = origin
    segment = current if "config" in current else None
    return Provenance(manifest, segment, filters, _first_row(folder))


def public_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest as it is published: the local paths it records cut to their last part.

    Local manifests keep full paths (the input, the folder a filtered dataset came from, the
    parts of a merge), so a resumed run can check its input and the card can follow a filter back
    to its segment run. Those paths name someone's disk and say nothing to a reader of the
    dataset: the file names, sizes and hashes that stay identify the input. ``config_hash`` is
    left as it is: it identifies the run that wrote the data (over its full configuration)."""
    published = json.loads(json.dumps(manifest))
    if isinstance(published.get("validated_from"), str):
        published["validated_from"] = _last_part(published["validated_from"])
    config = published.get("config")
    if isinstance(config, dict):
        source = config.get("input")
        if isinstance(source, dict) and source.get("kind") == "files":
            for key in ("spec", "root"):
                if isinstance(source.get(key), str):
                    source[key] = _last_part(source[key])
        for part in config.get("merged_from") or []:
            if isinstance(part, dict) and isinstance(part.get("path"), str):
                part["path"] = _last_part(part["path"])
    values = (published.get("options") or {}).get("values")
    if isinstance(values, dict):   # the options segment ran with: its paths too
        for key in _PATH_OPTIONS:
            if isinstance(values.get(key), str):
                values[key] = _last_part(values[key])
    return published


_PATH_OPTIONS = ("input", "out", "config", "cache_path", "prices", "tokenizer")


def _last_part(path: str) -> str:
    windows = "\\" in path and "/" not in path
    return (PureWindowsPath(path) if windows else PurePosixPath(path)).name or path
