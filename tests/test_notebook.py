"""``notebooks/explore_shards.ipynb`` runs top to bottom on the sample's segment output."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from openmementos.pipeline import SegmentJob, run_segment

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore_shards.ipynb"
WHY = "needs the notebook extra: pip install '.[notebook]'"


def test_the_explore_notebook_runs_and_shows_tables_figures_and_a_record_side_by_side(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason=WHY)
    nbclient = pytest.importorskip("nbclient", reason=WHY)
    pytest.importorskip("ipykernel", reason=WHY)
    pytest.importorskip("matplotlib", reason="needs the hub extra: pip install '.[hub]'")
    shards = tmp_path / "shards"
    run_segment(SegmentJob(input="sample", out=shards, workers=1))
    monkeypatch.setenv("OPENMEMENTOS_SHARDS", str(shards))   # the kernel inherits the environment
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "\n".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    blocks = sum(len(b) for t in pq.read_table(shards / "full").column("blocks").to_pylist() for b in [t])
    assert f"34 traces and {blocks} blocks from the full config (tokens: recorded by segment)" in text and "answer:" in text
    rich = [out.get("data", {}) for out in outputs if out.output_type in ("display_data", "execute_result")]
    assert any("image/png" in data for data in rich), "Figure 3 is not displayed"
    tables = [data["text/html"] for data in rich if "text/html" in data]
    assert any("ratio_chars" in t and "science" in t for t in tables), "the table by domain is not displayed"
    assert any("<th>block</th><th>memento</th>" in t and "sentences 0-" in t for t in tables), "the record walk is not displayed"
