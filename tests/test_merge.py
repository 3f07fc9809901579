"""``openmementos merge``: N real ``segment --shard I/N`` outputs in, one dataset out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from openmementos import merge as merge_module
from openmementos.cli import main
from openmementos.journal import config_hash
from openmementos.merge import merge_outputs
from openmementos.shards import sha256_file

SAMPLE = Path(__file__).resolve().parents[1] / "openmementos" / "data" / "sample.jsonl"
# Small shards and a token floor give every part several data shards and some rejects.
OPTIONS = ["--input", "sample", "--min-tokens", "1500", "--rows-per-shard", "5", "--workers", "1", "--quiet"]


def segment(out: Path, *extra: str) -> Path:
    assert main(["segment", *OPTIONS, "--out", str(out), *extra]) == 0
    return out


def full_rows(out: Path) -> dict[str, str]:
    """trace_id -> response over every full/ shard of an output folder."""
    rows: dict[str, str] = {}
    for path in sorted((out / "full").glob("*.parquet")):
        table = pq.read_table(path, columns=["trace_id", "response"]).to_pylist()
        rows.update({row["trace_id"]: row["response"] for row in table})
    return rows


def reject_ids(out: Path) -> list[str]:
    return sorted(json.loads(line)["trace_id"] for path in (out / "rejects").glob("*.jsonl") for line in path.open())


def tree(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): sha256_file(p) for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    runs = {f"p{i}": segment(root / f"p{i}", "--shard", f"{i}/3") for i in range(3)}
    runs["whole"] = segment(root / "whole")
    runs["merged"] = root / "merged"
    assert main(["merge", str(runs["merged"]), str(runs["p2"]), str(runs["p0"]), str(runs["p1"])]) == 0
    return runs


def test_merge_prints_the_next_useful_command(runs, capsys):
    assert main(["merge", str(runs["merged"]), *parts(runs)]) == 0       # merged already: nothing to do
    assert capsys.readouterr().out.splitlines()[-1] == f"next: openmementos validate {runs['merged']}"


def parts(runs: dict[str, Path]) -> list[str]:
    return [str(runs[f"p{i}"]) for i in range(3)]


def refusal(capsys) -> str:
    """The error line of a refused command (a hint line may follow)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error:") and len(err) <= 2, err
    return err[0]


def test_merged_dataset_has_exactly_the_rows_of_an_unpartitioned_run(runs):
    merged, whole = full_rows(runs["merged"]), full_rows(runs["whole"])
    assert len(merged) == 18 and merged == whole          # same trace ids, same response for each
    assert reject_ids(runs["merged"]) == reject_ids(runs["whole"]) and len(reject_ids(runs["whole"])) == 16


def test_merged_dataset_loads_with_datasets_in_both_configs(runs):
    from datasets import load_dataset

    default = load_dataset("parquet", data_files=str(runs["merged"] / "data" / "*.parquet"), split="train")
    full = load_dataset("parquet", data_files=str(runs["merged"] / "full" / "*.parquet"), split="train")
    assert len(default) == len(full) == 18
    assert default.column_names == ["problem", "response", "domain", "source", "difficulty"]
    assert sorted(default["response"]) == sorted(full_rows(runs["whole"]).values())


def test_shards_are_renumbered_in_partition_order_then_each_parts_order(runs):
    expected = [runs[f"p{i}"] / "data" / p.name for i in range(3) for p in sorted((runs[f"p{i}"] / "data").glob("*"))]
    merged = sorted((runs["merged"] / "data").glob("*.parquet"))
    assert [p.name for p in merged] == [f"train-{n:05d}.parquet" for n in range(len(expected))]
    assert [sha256_file(p) for p in merged] == [sha256_file(p) for p in expected]


def test_merged_manifest_sums_counts_and_records_the_common_config_and_every_part(runs):
    manifest = json.loads((runs["merged"] / "manifest.json").read_text())
    whole = json.loads((runs["whole"] / "manifest.json").read_text())
    part_manifests = [json.loads((runs[f"p{i}"] / "manifest.json").read_text()) for i in range(3)]
    assert manifest["counts"] == whole["counts"]
    assert manifest["counts"]["kept"] == sum(m["counts"]["kept"] for m in part_manifests)
    assert manifest["counts"]["skips"] == {"select/too_short": 16}
    # The merged config is the unpartitioned run's config plus where it came from.
    config = dict(manifest["config"])
    merged_from = config.pop("merged_from")
    assert config == whole["config"] and config["partition"] is None
    assert manifest["config_hash"] == config_hash(manifest["config"])
    assert [m["partition"] for m in merged_from] == ["0/3", "1/3", "2/3"]
    assert [m["config_hash"] for m in merged_from] == [m["config_hash"] for m in part_manifests]
    assert [m["manifest_sha256"] for m in merged_from] == [sha256_file(runs[f"p{i}"] / "manifest.json") for i in range(3)]
    for key in ("version", "teacher", "tokenizer", "prompt_versions", "format"):
        assert manifest[key] == whole[key], key
    assert manifest["cost"] is None                        # the offline teacher pays nothing
    for folder, shards in manifest["shards"].items():
        assert sorted(p.name for p in (runs["merged"] / folder).glob("*")) == [Path(s["path"]).name for s in shards]
        for shard in shards:
            assert sha256_file(runs["merged"] / shard["path"]) == shard["sha256"]
    assert sum(s["rows"] for s in manifest["shards"]["data"]) == 18


def test_merging_the_same_parts_again_changes_nothing(runs, capsys):
    before = tree(runs["merged"])
    mtime = (runs["merged"] / "manifest.json").stat().st_mtime_ns
    assert main(["merge", str(runs["merged"]), *parts(runs), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["already_complete"] and summary["files_copied"] == 0 and summary["kept"] == 18
    assert tree(runs["merged"]) == before and (runs["merged"] / "manifest.json").stat().st_mtime_ns == mtime


def test_missing_partition_is_refused_naming_it(runs, tmp_path, capsys):
    assert main(["merge", str(tmp_path / "out"), *parts(runs)[:2]]) == 2
    assert refusal(capsys) == "error: missing partitions: 2/3"
    assert not (tmp_path / "out").exists()


def test_a_partition_given_twice_is_refused_as_overlapping(runs, tmp_path, capsys):
    copy = shutil.copytree(runs["p1"], tmp_path / "p1-again")
    assert main(["merge", str(tmp_path / "out"), *parts(runs), str(copy)]) == 2
    assert "overlapping partitions: 1/3 given twice" in refusal(capsys)
    assert not (tmp_path / "out").exists()


def test_a_part_made_with_another_lambda_is_refused_naming_the_key(runs, tmp_path, capsys):
    odd = segment(tmp_path / "p2-lambda", "--shard", "2/3", "--lambda", "0.9")
    assert main(["merge", str(tmp_path / "out"), *parts(runs)[:2], str(odd)]) == 2
    line = refusal(capsys)
    assert "'segmentation.lam' differs" in line and str(odd) in line


def test_parts_of_different_splits_are_refused(runs, tmp_path, capsys):
    half = segment(tmp_path / "half", "--shard", "1/2")
    assert main(["merge", str(tmp_path / "out"), str(runs["p0"]), str(half)]) == 2
    assert "partition" in refusal(capsys)


def test_an_unfinished_part_is_refused_with_how_to_finish_it(runs, tmp_path, capsys):
    unfinished = shutil.copytree(runs["p1"], tmp_path / "p1")
    (unfinished / "manifest.json").unlink()     # as a run killed before its last step leaves it
    assert main(["merge", str(tmp_path / "out"), str(runs["p0"]), str(unfinished), str(runs["p2"])]) == 2
    err = capsys.readouterr().err
    assert f"error: {unfinished} is not a finished segment run" in err and "re-running its segment command" in err


def test_a_changed_shard_is_refused_with_its_path_before_anything_is_written(runs, tmp_path, capsys):
    tampered = shutil.copytree(runs["p2"], tmp_path / "p2")
    shard = min((tampered / "rejects").glob("*.jsonl"))
    shard.write_text(shard.read_text().replace("too_short", "too_shirt", 1))
    assert main(["merge", str(tmp_path / "out"), *parts(runs)[:2], str(tampered)]) == 2
    assert f"error: {shard} is missing or changed" in refusal(capsys)
    assert not (tmp_path / "out").exists()


def test_parts_holding_the_same_trace_are_refused(tmp_path, capsys):
    # Two rows under one id land in both halves of a 2-way split (an exact duplicate row no
    # longer can: segment drops the second copy, on whichever machine it falls).
    lines = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    rows = [{**lines[0], "id": "twice"}, {**lines[1], "id": "twice"}, lines[2]]
    (tmp_path / "dup.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    halves = [str(tmp_path / f"h{i}") for i in range(2)]
    for i, out in enumerate(halves):
        assert main(["segment", "--input", str(tmp_path / "dup.jsonl"), "--out", out, "--shard", f"{i}/2", "--workers", "1", "--quiet"]) == 0
    assert main(["merge", str(tmp_path / "out"), *halves]) == 2
    assert "is in both" in refusal(capsys)


def test_a_crash_mid_merge_leaves_no_manifest_and_the_rerun_finishes_clean(runs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    copy = merge_module._copy
    calls = []

    def crash_on_third(source, target, sha256):
        calls.append(target)
        if len(calls) == 3:
            raise KeyboardInterrupt   # the process dies here
        copy(source, target, sha256)

    monkeypatch.setattr(merge_module, "_copy", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        merge_outputs([Path(p) for p in parts(runs)], out)
    monkeypatch.undo()
    assert not (out / "manifest.json").exists()
    # What a kill can also leave: a temp file, a half-written shard, a file of no plan.
    (out / "data" / ".train-00003.parquet.tmp").write_bytes(b"partial")
    (out / "data" / "train-00000.parquet").write_bytes(b"truncated")
    (out / "rejects").mkdir()
    (out / "rejects" / "train-00099.jsonl").write_text("{}\n")
    summary = merge_outputs([Path(p) for p in parts(runs)], out)
    planned = sum(len(shards) for shards in json.loads((out / "manifest.json").read_text())["shards"].values())
    assert summary.files_copied == planned - 1      # every file but the intact data/train-00001
    assert {k: v for k, v in tree(out).items() if k != ".openmementos/run.json"} == {
        k: v for k, v in tree(runs["merged"]).items() if k != ".openmementos/run.json"
    }


def test_a_folder_holding_another_dataset_is_replaced_only_with_overwrite(runs, tmp_path, capsys):
    out = shutil.copytree(runs["whole"], tmp_path / "out")
    assert main(["merge", str(out), *parts(runs)]) == 2
    assert "holds a finished dataset made from other inputs" in refusal(capsys)
    assert main(["merge", str(out), *parts(runs), "--overwrite"]) == 0
    assert full_rows(out) == full_rows(runs["whole"])
    assert not (out / ".openmementos" / "journal.jsonl").exists()
    assert json.loads((out / "manifest.json").read_text())["config"]["merged_from"]


def test_costs_are_summed_per_role_and_null_when_every_part_was_offline():
    usage = {"requests": 2, "cache_hits": 1, "failed_requests": 0, "input_tokens": 100, "cached_tokens": 10,
             "output_tokens": 20, "cost_usd": 0.25, "unpriced": False}
    other = {**usage, "requests": 3, "cost_usd": 0.5, "unpriced": True}
    total = merge_module._sum_costs([{"roles": {"judge": usage}}, None, {"roles": {"judge": other, "scorer": usage}}])
    assert total["roles"]["judge"] == {**usage, "requests": 5, "cache_hits": 2, "input_tokens": 200, "cached_tokens": 20,
                                       "output_tokens": 40, "cost_usd": 0.75, "unpriced": True}
    assert total["total_cost_usd"] == 1.0
    assert merge_module._sum_costs([None, None]) is None


def test_help_names_the_arguments_and_options(capsys):
    assert main(["merge", "--help"]) == 0
    out = capsys.readouterr().out
    for text in ("OUT", "PART_DIR", "--overwrite", "--json"):
        assert text in out, text
