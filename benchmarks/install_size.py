"""What ``pip install .`` costs: site-packages size and package count, for two commits, same run.

Each commit is exported with ``git archive`` into a temporary folder and installed into a fresh
virtual environment (pip's cache is used, so the figures are sizes, not download times). The
baseline is the first commit, installed in the same run.

    python benchmarks/install_size.py c916041 HEAD
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procwatch import machine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def install(ref: str, work: Path) -> dict:
    source, venv = work / f"src-{ref}", work / f"venv-{ref}"
    source.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    empty = set(subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True).stdout.split())
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(source)], check=True)
    frozen = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True).stdout.split()
    site = next((venv / "lib").glob("python*/site-packages"))
    folders = sorted(((_size(p), p.name) for p in site.iterdir() if p.is_dir()), reverse=True)
    return {"ref": ref, "site_packages_mib": round(_size(site) / 2**20, 1),
            "packages": len([p for p in frozen if p not in empty]),
            "names": sorted(p.split("==")[0].lower() for p in frozen if p not in empty),
            "largest_mib": {name: round(size / 2**20, 1) for size, name in folders[:8]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("refs", nargs="+", help="commits to install, the first is the baseline")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [install(ref, Path(tmp)) for ref in args.refs]
    base = results[0]
    for result in results[1:]:
        result["vs_baseline"] = {"size_ratio": round(result["site_packages_mib"] / base["site_packages_mib"], 3),
                                 "removed": sorted(set(base["names"]) - set(result["names"])),
                                 "added": sorted(set(result["names"]) - set(base["names"]))}
    report = {"machine": machine(), "date": str(datetime.date.today()), "python": sys.version.split()[0], "installs": results}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
