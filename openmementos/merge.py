"""The ``merge`` job: the outputs of ``segment --shard I/N`` on N machines -> one dataset.

Every part must be a finished run of the same configuration (apart from its partition), and
the parts together must be exactly partitions 0..N-1 of one split. Each part's shards are
checked against its manifest before anything is written, then copied into ``out`` renumbered
(partition order, then each part's own order), each file atomically. The plan of what ``out``
will hold goes into ``.openmementos/run.json`` first and ``manifest.json`` is written last, so
a crash mid-merge leaves no manifest and re-running the same merge finishes the job.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from .errors import ConfigError, InputError, OutputError
from .journal import OUTPUT_FOLDERS, STATE_DIR, clear_output, config_hash, lock_output, manifest_path, remove_files_not_in
from .outputs import writing
from .shards import _atomic, sha256_file, shard_name, write_json

COUNT_FIELDS = ("input_rows", "kept", "failed", "quarantined", "skipped")


@dataclass(slots=True)
class Part:
    """One finished ``segment --shard I/N`` output, as its manifest describes it."""

    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    index: int
    count: int

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(slots=True)
class MergeSummary:
    out: Path
    parts: int = 0
    input_rows: int = 0
    kept: int = 0
    failed: int = 0
    quarantined: int = 0
    skips: Counter = field(default_factory=Counter)
    shards: int = 0
    files_copied: int = 0
    seconds: float = 0.0
    already_complete: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "parts": self.parts,
            "input_rows": self.input_rows,
            "kept": self.kept,
            "failed": self.failed,
            "quarantined": self.quarantined,
            "skipped": sum(self.skips.values()),
            "skips": dict(sorted(self.skips.items())),
            "shards": self.shards,
            "files_copied": self.files_copied,
            "seconds": round(self.seconds, 3),
            "already_complete": self.already_complete,
            "manifest": str(manifest_path(self.out)),
        }


def merge_outputs(parts: list[Path], out: Path, overwrite: bool = False) -> MergeSummary:
    """Combine the outputs of ``segment --shard 0/N`` ... ``--shard N-1/N`` into ``out``.

    Raises :class:`InputError` for an unfinished, changed or overlapping part and
    :class:`ConfigError` for parts that do not form one split of one configuration. Merging the
    same parts into a finished ``out`` again does nothing (``already_complete``); other parts
    are refused there unless ``overwrite``.
    """
    started = time.perf_counter()
    out = Path(out)
    loaded = sorted((_load_part(Path(p), out) for p in parts), key=lambda part: part.index)
    if not loaded:
        raise ConfigError("nothing to merge", "name the output folders of segment --shard I/N, e.g. merge OUT part0 part1")
    common = _check_split(loaded)
    config = {
        **common,
        "partition": None,
        "merged_from": [
            {"path": str(p.path.resolve()), "partition": p.label, "config_hash": p.manifest["config_hash"],
             "manifest_sha256": p.manifest_sha256}
            for p in loaded
        ],
    }
    counts = _sum_counts(loaded)
    summary = MergeSummary(out, len(loaded), counts["input_rows"], counts["kept"], counts["failed"],
                           counts["quarantined"], Counter(counts["skips"]))
    finished = _finished(out, config, overwrite)
    if finished is not None:
        summary.shards = len(finished["shards"]["data"])
        summary.already_complete = True
        summary.seconds = time.perf_counter() - started
        return summary
    for part in loaded:
        _verify_shards(part)
    _check_disjoint(loaded)
    plan = _plan(loaded)
    with lock_output(out, "OUT"), writing(out):   # one merge or segment run in out at a time
        _prepare_out(out, config, plan, overwrite)
        for name, meta in plan.items():
            target = out / name
            if target.is_file() and sha256_file(target) == meta["sha256"]:
                continue  # copied by an earlier, interrupted merge of these same parts
            _copy(Path(meta["from"]), target, meta["sha256"])
            summary.files_copied += 1
        _write_manifest(out, config, loaded, plan, counts)
    summary.shards = sum(1 for name in plan if name.startswith("data/"))
    summary.seconds = time.perf_counter() - started
    return summary


def _load_part(path: Path, out: Path) -> Part:
    if not path.is_dir():
        raise InputError(f"{path} is not a folder", "name the --out folders of the segment --shard I/N runs")
    if path.resolve() == out.resolve():
        raise ConfigError(f"{path} is both a part and the merge output", "choose another OUT folder")
    file = manifest_path(path)
    if not file.is_file():
        raise InputError(
            f"{path} is not a finished segment run (no manifest.json)",
            "finish it by re-running its segment command (same options, same --out): it resumes where it stopped",
        )
    raw = file.read_bytes()
    manifest = json.loads(raw)
    partition = manifest.get("config", {}).get("partition")
    if not partition:
        raise ConfigError(f"{path} was not run with --shard I/N", "merge combines the outputs of segment --shard 0/N ... N-1/N")
    return Part(path, manifest, hashlib.sha256(raw).hexdigest(), int(partition["index"]), int(partition["count"]))


def _check_split(parts: list[Part]) -> dict[str, Any]:
    """The configuration the parts share (partition left out); refuse anything but one whole split."""
    first = parts[0]
    common = {k: v for k, v in first.manifest["config"].items() if k != "partition"}
    for part in parts[1:]:
        other = {k: v for k, v in part.manifest["config"].items() if k != "partition"}
        key = _first_difference(common, other)
        if key is not None:
            raise ConfigError(
                f"{part.path} was made with a different configuration than {first.path}: '{key}' differs",
                "merge only parts of one split: re-run the odd part with the same segment options",
            )
        if part.count != first.count:
            raise ConfigError(
                f"{part.path} is partition {part.label} but {first.path} is {first.label}",
                "merge only parts of one split: every part needs the same N in --shard I/N",
            )
    seen = Counter(p.index for p in parts)
    twice = [f"{i}/{first.count}" for i, n in sorted(seen.items()) if n > 1]
    if twice:
        paths = ", ".join(str(p.path) for p in parts if f"{p.index}/{p.count}" == twice[0])
        raise ConfigError(
            f"overlapping partitions: {', '.join(twice)} given twice ({paths})",
            "give each partition's output once",
        )
    missing = [f"{i}/{first.count}" for i in range(first.count) if i not in seen]
    if missing:
        raise ConfigError(
            f"missing partitions: {', '.join(missing)}",
            f"run segment --shard {missing[0]} with the same options and add its output",
        )
    return common


def _first_difference(a: Any, b: Any, prefix: str = "") -> str | None:
    """The dotted path of the first key (sorted) where two JSON values differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return prefix + key
            found = _first_difference(a[key], b[key], f"{prefix}{key}.")
            if found is not None:
                return found
        return None
    return None if a == b else prefix.rstrip(".") or "config"


def _sum_counts(parts: list[Part]) -> dict[str, Any]:
    counts: Counter = Counter()
    skips: Counter = Counter()
    for part in parts:
        counts.update({name: part.manifest["counts"].get(name, 0) for name in COUNT_FIELDS})
        skips.update(part.manifest["counts"].get("skips", {}))
    return {**{name: counts[name] for name in COUNT_FIELDS}, "skips": dict(sorted(skips.items()))}


def _identity(config: dict[str, Any]) -> str:
    # The same parts named by another path (moved, or relative vs absolute) are the same inputs.
    merged_from = [{k: v for k, v in m.items() if k != "path"} for m in config.get("merged_from") or []]
    return config_hash({**config, "merged_from": merged_from})


def _finished(out: Path, config: dict[str, Any], overwrite: bool) -> dict[str, Any] | None:
    """The manifest of a finished merge of these same parts in ``out``; refuse any other one."""
    file = manifest_path(out)
    if overwrite or not file.is_file():
        return None
    manifest = json.loads(file.read_text(encoding="utf-8"))
    if _identity(manifest.get("config") or {}) != _identity(config):
        raise OutputError(
            f"{out} holds a finished dataset made from other inputs",
            "choose another OUT, or pass --overwrite to replace it",
        )
    return manifest


def _verify_shards(part: Part) -> None:
    for folder in OUTPUT_FOLDERS:
        for meta in part.manifest["shards"].get(folder, []):
            path = part.path / meta["path"]
            if not path.is_file() or sha256_file(path) != meta["sha256"]:
                raise InputError(
                    f"{path} is missing or changed since its run wrote it",
                    "restore it, or re-run that part's segment command with --overwrite",
                )


def _check_disjoint(parts: list[Part]) -> None:
    owner: dict[str, Path] = {}
    for part in parts:
        for meta in part.manifest["shards"].get("full", []):
            # Only the one column is read: a full shard holds every sentence and memento.
            ids = pq.read_table(part.path / meta["path"], columns=["trace_id"]).column("trace_id").to_pylist()
            for trace_id in ids:
                if owner.setdefault(trace_id, part.path) != part.path:
                    raise InputError(
                        f"trace {trace_id} is in both {owner[trace_id]} and {part.path}",
                        "the parts are not one --shard split of one input; re-run them from the same input",
                    )


def _plan(parts: list[Part]) -> dict[str, dict[str, Any]]:
    """Relative path in ``out`` -> {sha256, rows, from}: every file the merge will write."""
    plan: dict[str, dict[str, Any]] = {}
    for folder in OUTPUT_FOLDERS:
        shards = [(part, meta) for part in parts for meta in part.manifest["shards"].get(folder, [])]
        for number, (part, meta) in enumerate(shards):
            suffix = Path(meta["path"]).suffix
            plan[f"{folder}/{shard_name(number)}{suffix}"] = {
                "sha256": meta["sha256"], "rows": meta["rows"], "from": str((part.path / meta["path"]).resolve()),
            }
    return plan


def _prepare_out(out: Path, config: dict[str, Any], plan: dict[str, dict[str, Any]], overwrite: bool) -> None:
    """Make ``out`` hold only files of this merge's plan, recorded before any is written."""
    state = out / STATE_DIR
    run_file = state / "run.json"
    if overwrite:
        clear_output(out)
    elif run_file.is_file():
        previous = json.loads(run_file.read_text(encoding="utf-8"))
        if _identity(previous.get("config") or {}) != _identity(config):
            raise OutputError(
                f"{out} holds an unfinished run or merge of other inputs",
                "re-run that command to finish it, choose another OUT, or pass --overwrite",
            )
    elif out.exists() and any(p.name != STATE_DIR for p in out.iterdir()):   # the state folder holds our lock
        raise OutputError(f"{out} exists and is not an openmementos output folder", "choose an empty or new OUT")
    write_json(run_file, {"config_hash": config_hash(config), "config": config, "files": plan})
    remove_files_not_in(out, plan)  # left by an interrupted merge (temp files too), or by another plan


def _copy(source: Path, target: Path, sha256: str) -> None:
    _atomic(target, lambda tmp: shutil.copyfile(source, tmp))
    # The part was checked before copying; this catches a change in between.
    if sha256_file(target) != sha256:
        target.unlink()
        raise InputError(f"{source} changed while it was being merged", "re-run merge once the part is left alone")


def _write_manifest(out: Path, config: dict[str, Any], parts: list[Part], plan: dict[str, dict[str, Any]],
                    counts: dict[str, Any]) -> None:
    first = parts[0].manifest
    shards: dict[str, list[dict[str, Any]]] = {folder: [] for folder in OUTPUT_FOLDERS}
    for name, meta in plan.items():
        shards[name.split("/", 1)[0]].append({"path": name, "sha256": meta["sha256"], "rows": meta["rows"]})
    write_json(
        manifest_path(out),
        {
            "format": first.get("format", "openmementos/1"),
            "version": first["version"],
            "config_hash": config_hash(config),
            "config": config,
            "teacher": first["teacher"],
            "tokenizer": first["tokenizer"],
            "prompt_versions": first["prompt_versions"],
            "counts": counts,
            "cost": _sum_costs([part.manifest.get("cost") for part in parts]),
            "shards": shards,
        },
    )


def _sum_costs(costs: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Per-role usage summed over the parts; None when no part paid a teacher (offline)."""
    present = [cost for cost in costs if cost]
    if not present:
        return None
    roles: dict[str, dict[str, Any]] = {}
    for cost in present:
        for role, usage in (cost.get("roles") or {}).items():
            total = roles.setdefault(role, {})
            for key, value in usage.items():
                if isinstance(value, bool):
                    total[key] = total.get(key, False) or value   # e.g. "unpriced": any part unpriced
                elif isinstance(value, (int, float)):
                    total[key] = total.get(key, 0) + value
    for usage in roles.values():
        if isinstance(usage.get("cost_usd"), float):
            usage["cost_usd"] = round(usage["cost_usd"], 6)
    roles = dict(sorted(roles.items()))
    return {"roles": roles, "total_cost_usd": round(sum(r.get("cost_usd", 0) for r in roles.values()), 6)}
