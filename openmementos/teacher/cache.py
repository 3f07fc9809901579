"""A persistent on-disk cache of teacher answers (SQLite, one file, safe under kill -9).

The key is a hash of everything that determines an answer: model, endpoint class, messages
(system prompt included), prompt version, sampling parameters and answer schema. Never the API
key or the endpoint URL: rotating endpoints must not miss the cache, and a cache file must be
safe to share. A changed prompt changes the messages and its version, so it misses.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def default_cache_path() -> Path:
    home = os.environ.get("OPENMEMENTOS_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "openmementos"
    )
    return Path(home) / "teacher-cache.sqlite"


def cache_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class AnswerCache:
    """get/put of JSON answers by key; each put is committed before it returns."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ConfigError(f"the cache path {self.path} is a folder", f"name a file, e.g. --cache-path {self.path / 'teacher-cache.sqlite'}")
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        except (sqlite3.Error, OSError) as error:
            what = "is not an openmementos answer cache (SQLite)" if isinstance(error, sqlite3.DatabaseError) else "cannot be opened"
            raise ConfigError(f"the cache path {self.path} {what}: {error}",
                              "point --cache-path at a new file, or pass --no-cache") from None

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def discard(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM answers WHERE key = ?", (key,))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def clear(self) -> int:
        with self._lock:
            count = self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            self._db.execute("DELETE FROM answers")
            self._db.execute("VACUUM")
        return count

    def close(self) -> None:
        with self._lock:
            self._db.close()
