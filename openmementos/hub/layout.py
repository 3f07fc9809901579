"""What a shards folder publishes: config ``default`` from ``data/``, config ``full`` from ``full/``.

The repo keeps the folder's layout (``data/train-00000.parquet`` stays ``data/train-00000.parquet``),
as ``microsoft/OpenMementos`` does, plus ``manifest.json`` and the card as ``README.md``.
``rejects/`` and ``quarantine/`` stay home: they hold rows that are not in the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError

CONFIG_FOLDERS = (("default", "data"), ("full", "full"))


@dataclass(frozen=True)
class ConfigFiles:
    name: str                  # the config: "default" or "full"
    folder: str                # where its shards live, locally and in the repo: "data" or "full"
    files: tuple[str, ...]     # paths relative to the shards folder, e.g. "data/train-00000.parquet"
    rows: int
    schema: pa.Schema          # of the first shard (every shard of a config shares it)
    num_bytes: int             # uncompressed size of the columns (what the Hub calls the dataset size)
    download_size: int         # the Parquet files' size on disk

    @property
    def pattern(self) -> str:
        """The ``data_files`` glob of the card: ``data/train-*`` when the names follow the Hub's convention."""
        names = [f.rsplit("/", 1)[-1] for f in self.files]
        return f"{self.folder}/train-*" if all(n.startswith("train-") for n in names) else f"{self.folder}/*.parquet"


def configs(folder: str | Path) -> list[ConfigFiles]:
    """The configs present under ``folder``, ``default`` first. Needs ``data/`` at least."""
    folder = Path(folder)
    found = []
    for name, sub in CONFIG_FOLDERS:
        files = sorted(p for p in (folder / sub).glob("*.parquet") if not p.name.startswith(".")) if (folder / sub).is_dir() else []
        if not files:
            continue
        try:
            metas = [pq.ParquetFile(p).metadata for p in files]
            schema = pq.read_schema(files[0])
        except (pa.ArrowException, OSError) as error:
            raise InputError(f"{sub}/ holds a shard that is not readable Parquet: {error}", "re-run segment or validate --write-passing") from None
        rows = sum(m.num_rows for m in metas)
        num_bytes = sum(m.row_group(i).total_byte_size for m in metas for i in range(m.num_row_groups))
        found.append(ConfigFiles(name, sub, tuple(f"{sub}/{p.name}" for p in files), rows, schema, num_bytes,
                                 sum(p.stat().st_size for p in files)))
    if not any(c.name == "default" for c in found):
        raise InputError(f"{folder} has no data/ shards (the default config)",
                         "pass a folder written by segment or by validate --write-passing (data/, full/, manifest.json)")
    return found
