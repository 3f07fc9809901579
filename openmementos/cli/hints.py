"""The next useful command after a success, as the hf CLI prints it: segment (or merge) ->
validate -> stats -> push-to-hub, and train-sft -> eval."""

from __future__ import annotations

import shlex
from pathlib import Path


def _command(*words: object) -> str:
    return "next: openmementos " + " ".join(shlex.quote(str(w)) for w in words)


def after_segment(out: Path) -> str:
    return _command("validate", out)


def after_validate(path: Path, ok: bool, write_passing: Path | None) -> str:
    if write_passing is not None:
        return _command("stats", write_passing)
    if ok:
        return _command("stats", path)
    return _command("validate", path, "--write-passing", "passing") + "   (keeps the rows that pass)"


def after_stats(shards: Path) -> str:
    return _command("push-to-hub", shards, "NAMESPACE/NAME", "--dry-run")


def after_push(shards: Path, repo_id: str, dry_run: bool, url: str) -> str:
    if dry_run:
        return _command("push-to-hub", shards, repo_id)
    return f"next: load it with datasets.load_dataset({repo_id!r}), or see {url}"


def after_merge(out: Path) -> str:
    return _command("validate", out)


def after_train(final: Path) -> str:
    return _command("eval", "--model", final, "--data", "PROBLEMS.jsonl", "--mode", "full,memento")
