"""Prompts and JSON schemas are data: loaded by name, versioned by content hash.

They live at the top of the repository (``prompts/``, ``schemas/``); an installed wheel carries
copies under ``openmementos/_resources/``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _folder(kind: str) -> Path:
    for candidate in (_PACKAGE / "_resources" / kind, _PACKAGE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {kind}/ folder is missing from this installation")


@dataclass(frozen=True, slots=True)
class Prompt:
    name: str
    text: str
    sha256: str

    @property
    def version(self) -> str:
        """Short content hash recorded in outputs and cache keys."""
        return self.sha256[:12]


@functools.lru_cache(maxsize=None)
def load_prompt(name: str) -> Prompt:
    text = (_folder("prompts") / f"{name}.md").read_text(encoding="utf-8")
    return Prompt(name, text, hashlib.sha256(text.encode("utf-8")).hexdigest())


@functools.lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    return json.loads((_folder("schemas") / f"{name}.json").read_text(encoding="utf-8"))


def prompt_names() -> list[str]:
    return sorted(p.stem for p in _folder("prompts").glob("*.md"))


def prompt_versions() -> dict[str, str]:
    """Every prompt's short hash, for manifests and provenance columns."""
    return {name: load_prompt(name).version for name in prompt_names()}
