"""Rows in, token ids and labels out: one chat per row, loss on the assistant turn only.

A row is an OpenMementos-schema record (``problem``, ``response`` in memento format; ``segment``
writes them, either config). The problem is the user turn and the response the assistant turn,
rendered with the tokenizer's chat template (Qwen3: ChatML without a system prompt). Prompt
tokens (everything up to and including the generation prompt ``<|im_start|>assistant\\n``) are
labelled -100; the assistant turn, its end-of-turn token included, carries the loss.

Bad rows are values, not exceptions: each is counted by reason and named (``FILE#INDEX``, plus
the ``trace_id`` when the shard has one), so a run can report or refuse them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pyarrow.parquet as pq

from .. import format as fmt
from ..errors import InputError
from ..shards import sha256_file
from .masks import MementoTokenIds

IGNORE = -100
MANIFEST = "manifest.json"
REQUIRED = ("problem", "response")


@dataclass(frozen=True, slots=True)
class ShardFile:
    """One Parquet file to train on, with its hash and, when it came from ``segment``, its manifest."""

    path: Path
    label: str                           # how rows are named: the path relative to the run folder
    sha256: str
    manifest: Path | None = None
    manifest_sha256: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "label": self.label,
            "sha256": self.sha256,
            "manifest": None if self.manifest is None else str(self.manifest),
            "manifest_sha256": self.manifest_sha256,
        }


@dataclass(frozen=True, slots=True)
class ChatRow:
    name: str
    problem: str
    response: str


@dataclass(slots=True)
class DataStats:
    """Counts of one encoding pass; ``skipped`` names every skipped row with its reason."""

    rows: int = 0
    kept: int = 0
    truncated: int = 0
    truncated_tokens: int = 0
    tokens: int = 0
    loss_tokens: int = 0
    skips: Counter = field(default_factory=Counter)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)   # (row, reason, detail)

    def skip(self, row: ChatRow, reason: str, detail: str = "") -> None:
        self.skips[reason] += 1
        self.skipped.append((row.name, reason, detail))

    def as_dict(self, max_named: int = 1000) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "kept": self.kept,
            "skipped": sum(self.skips.values()),
            "skips": dict(sorted(self.skips.items())),
            "skipped_rows": [{"row": r, "reason": why, "detail": d} for r, why, d in self.skipped[:max_named]],
            "truncated": self.truncated,
            "truncated_tokens": self.truncated_tokens,
            "tokens": self.tokens,
            "loss_tokens": self.loss_tokens,
        }

    def describe_skips(self, limit: int = 5) -> str:
        """``3 rows skipped: a.parquet#4 (bad_format: ...), ...`` for messages."""
        named = ", ".join(f"{r} ({why}{': ' + d if d else ''})" for r, why, d in self.skipped[:limit])
        more = f" and {len(self.skipped) - limit} more" if len(self.skipped) > limit else ""
        return f"{len(self.skipped)} row(s) skipped: {named}{more}"


def _manifest_entry(file: Path) -> tuple[Path, str | None, str] | None:
    # segment writes DIR/manifest.json listing DIR/data/*.parquet and DIR/full/*.parquet.
    for root in (file.parent, file.parent.parent):
        manifest = root / MANIFEST
        if manifest.is_file():
            rel = file.resolve().relative_to(root.resolve()).as_posix()
            listed = json.loads(manifest.read_text(encoding="utf-8")).get("shards", {})
            for entries in listed.values():
                for entry in entries:
                    if entry.get("path") == rel:
                        return manifest, entry.get("sha256"), rel
            return manifest, None, rel
    return None


def resolve_shards(inputs: Iterable[str | Path]) -> list[ShardFile]:
    """The Parquet files behind each input: a ``segment`` output folder (its ``data/`` shards),
    a folder of ``.parquet`` files, or a file. Shards listed in a manifest must match its hash."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir() and (path / MANIFEST).is_file() and (path / "data").is_dir():
            path = path / "data"
        if path.is_dir():
            found = sorted(path.glob("*.parquet"))
            if not found:
                raise InputError(f"no .parquet files in {path}", "pass a segment output folder, a folder of shards or a shard")
            files += found
        elif path.is_file() and path.suffix == ".parquet":
            files.append(path)
        else:
            raise InputError(f"cannot train on {path}: not a .parquet file or a folder of them",
                             "make shards with: openmementos segment --input sample --out shards/")
    shards = []
    for file in files:
        _check_columns(file)
        digest = sha256_file(file)
        entry = _manifest_entry(file)
        if entry is None:
            shards.append(ShardFile(file, file.name, digest))
            continue
        manifest, listed, rel = entry
        if listed is not None and listed != digest:
            raise InputError(f"{file} does not match the sha256 in {manifest}: the shard changed after segment wrote it",
                             "re-run segment, or train on a copy without the manifest")
        shards.append(ShardFile(file, rel, digest, manifest, sha256_file(manifest)))
    return shards


def _check_columns(file: Path) -> None:
    """A file that is not Parquet, or lacks the columns train-sft reads, is refused before any
    model loads."""
    import pyarrow as pa

    try:
        columns = pq.read_schema(file).names
    except (pa.ArrowException, OSError) as error:
        raise InputError(f"{file} is not a readable Parquet file: {' '.join(str(error).split())[:200]}",
                         "make shards with: openmementos segment --input sample --out shards/") from None
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise InputError(f"{file} has no {', '.join(missing)} column",
                         "train-sft reads the OpenMementos schema: problem and response (memento format)")


def iter_rows(shards: list[ShardFile]) -> Iterator[ChatRow]:
    """Every row of every shard, in order, named ``LABEL#INDEX`` (with the trace id if any)."""
    for shard in shards:
        columns = pq.read_schema(shard.path).names
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise InputError(f"{shard.path} has no {', '.join(missing)} column",
                             "train-sft reads the OpenMementos schema: problem and response (memento format)")
        wanted = list(REQUIRED) + (["trace_id"] if "trace_id" in columns else [])
        table = pq.read_table(shard.path, columns=wanted).to_pydict()
        ids = table.get("trace_id") or [None] * len(table["problem"])
        for index, (problem, response, trace_id) in enumerate(zip(table["problem"], table["response"], ids)):
            name = f"{shard.label}#{index}" + (f" ({trace_id})" if trace_id else "")
            yield ChatRow(name, problem or "", response or "")


def _check(row: ChatRow) -> fmt.MementoResponse | tuple[str, str]:
    """The parsed response, or the (reason, detail) of why the row cannot be trained on."""
    if not row.response.strip():
        return "empty_response", ""
    if not row.problem.strip():
        return "empty_problem", ""
    token = fmt.find_reserved(row.problem)
    if token is not None:
        return "reserved_token_in_problem", token
    try:
        return fmt.parse(row.response)
    except fmt.FormatError as error:
        return "bad_format", str(error)


def encode_rows(
    rows: Iterable[ChatRow],
    tokenizer,
    token_ids: MementoTokenIds,
    max_length: int,
    over_long: str = "truncate",
    batch: int = 256,
) -> tuple[list[dict[str, Any]], DataStats]:
    """Tokenise each good row as ``{"input_ids", "labels", "row"}`` (int32 arrays and the row's
    name); count and name the rest.

    Over-long chats are cut to ``max_length`` (``over_long="truncate"``, counted) or skipped
    (``"skip"``); a chat whose prompt alone fills ``max_length`` is always skipped.
    """
    stats = DataStats()
    examples: list[dict[str, Any]] = []
    pending: list[tuple[ChatRow, str, str, int]] = []
    special = (token_ids.block_start, token_ids.block_end, token_ids.summary_start, token_ids.summary_end)

    def flush() -> None:
        prompts = tokenizer([p for _, p, _, _ in pending], add_special_tokens=False)["input_ids"]
        completions = tokenizer([c for _, _, c, _ in pending], add_special_tokens=False)["input_ids"]
        for (row, _, _, n_blocks), prompt, completion in zip(pending, prompts, completions):
            counts = Counter(t for t in completion if t in special)
            if any(counts[t] != n_blocks for t in special):
                stats.skip(row, "template_mismatch", "the chat template did not keep every block and memento of the response")
                continue
            total = len(prompt) + len(completion)
            if len(prompt) >= max_length:
                stats.skip(row, "prompt_too_long", f"prompt has {len(prompt)} tokens, --max-length is {max_length}")
                continue
            if total > max_length:
                if over_long == "skip":
                    stats.skip(row, "too_long", f"{total} tokens, --max-length is {max_length}")
                    continue
                stats.truncated += 1
                stats.truncated_tokens += total - max_length
                completion = completion[: max_length - len(prompt)]
            # int32 arrays: a 31K-row, 32K-token corpus as Python int lists would take tens of GB
            ids = np.asarray(prompt + completion, dtype=np.int32)
            labels = ids.copy()
            labels[: len(prompt)] = IGNORE
            examples.append({"input_ids": ids, "labels": labels, "row": row.name})
            stats.kept += 1
            stats.tokens += len(prompt) + len(completion)
            stats.loss_tokens += len(completion)
        pending.clear()

    for row in rows:
        stats.rows += 1
        checked = _check(row)
        if isinstance(checked, tuple):
            stats.skip(row, *checked)
            continue
        chat = [{"role": "user", "content": row.problem}, {"role": "assistant", "content": row.response}]
        prompt_text = tokenizer.apply_chat_template(chat[:1], tokenize=False, add_generation_prompt=True)
        full_text = tokenizer.apply_chat_template(chat, tokenize=False)
        if not full_text.startswith(prompt_text):
            stats.skip(row, "template_mismatch", "the rendered chat does not start with the rendered prompt")
            continue
        pending.append((row, prompt_text, full_text[len(prompt_text):], len(checked.blocks)))
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return examples, stats

