"""``push-to-hub`` against a real HTTP server on 127.0.0.1 speaking the Hub API (``FakeHub``).

The client is the real ``huggingface_hub`` (repo creation, preupload, Git LFS batch and upload,
NDJSON commit); only the server is ours. Xet storage is switched off (the fake speaks LFS only).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from openmementos.validate import ValidateConfig

from openmementos.errors import ConfigError
from openmementos.hub.errors import PublishError, ValidationRefused
from openmementos.hub.push import PushJob, commit_batches, push_to_hub
from openmementos.pipeline import SegmentJob, run_segment
from openmementos.testing.fake_hub import Account, FakeHub
from openmementos.validate import ValidateJob, validate

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")  # inside huggingface_hub's own calls

WRITE, READ, OTHER = "hf_write_token_alice", "hf_read_token_bob", "hf_write_token_carol"
SECRET = "hf_never_print_this_4f9b2c"


@pytest.fixture(scope="module")
def segmented(tmp_path_factory) -> Path:
    """The bundled sample through segment in two shards per config: about half its rows fail validate."""
    out = tmp_path_factory.mktemp("seg") / "shards"
    run_segment(SegmentJob(input="sample", out=out, workers=1, rows_per_shard=20))
    return out


@pytest.fixture(scope="module")
def passing(segmented, tmp_path_factory) -> Path:
    """The rows of ``segmented`` that pass validate (``--write-passing``): a dataset fit to publish."""
    out = tmp_path_factory.mktemp("pass") / "passing"
    validate(ValidateJob(segmented, write_passing=out, workers=1, min_pass_rate=0.0))
    return out


@pytest.fixture
def hub(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)     # the suite is offline; this server is local
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)  # the fake speaks Git LFS, not Xet
    with FakeHub({WRITE: Account("alice", orgs=("lab",)), READ: Account("bob", write=False), OTHER: Account("carol"),
                  SECRET: Account("alice")}) as server:
        yield server


def job(shards: Path, hub: FakeHub, repo: str = "alice/mementos", **options) -> PushJob:
    return PushJob(shards, repo, endpoint=hub.endpoint, token=options.pop("token", WRITE), workers=1, **options)


def paths_of(hub: FakeHub, endpoint: str) -> list[str]:
    return [entry.path for entry in hub.calls(endpoint)]


def test_a_push_uploads_both_configs_the_manifest_and_the_card_in_one_commit(passing, hub):
    result = push_to_hub(job(passing, hub))
    files = hub.files("alice/mementos")
    local = sorted(p.relative_to(passing).as_posix() for p in passing.rglob("*.parquet") if "rejects" not in p.parts)
    assert local == ["data/train-00000.parquet", "data/train-00001.parquet", "full/train-00000.parquet", "full/train-00001.parquet"]
    assert sorted(files) == sorted([".gitattributes", "README.md", "manifest.json", *local])
    for path in local:
        assert files[path] == (passing / path).read_bytes(), path
    # the manifest as published: the local one with its local paths cut to their last part
    local_manifest = json.loads((passing / "manifest.json").read_text())
    published = json.loads(files["manifest.json"])
    assert Path(local_manifest["validated_from"]).is_absolute()
    assert published["validated_from"] == "shards"
    assert published == {**local_manifest, "validated_from": "shards"}
    assert not any(p.startswith("rejects/") for p in files)        # dropped rows stay home
    assert files["README.md"].decode() == result.card
    assert result.card.startswith("---\nlicense: mit\n") and "## Provenance" in result.card
    assert len(result.commits) == 1 and [c.title for c in hub.commits("alice/mementos")][1:] == ["initial commit"]
    assert result.created and result.url == f"{hub.endpoint}/datasets/alice/mementos"
    assert len(paths_of(hub, "/_lfs/")) == 4                       # each parquet file sent once, through LFS
    assert not hub.errors


def test_pushing_the_same_dataset_again_sends_nothing_and_makes_no_commit(passing, hub):
    push_to_hub(job(passing, hub))
    before = len(hub.log)
    again = push_to_hub(job(passing, hub))
    calls = [(entry.method, entry.path) for entry in hub.log[before:]]
    assert again.commits == [] and again.uploaded == [] and len(again.unchanged) == 6
    assert not [c for c in calls if "/preupload/" in c[1] or "/commit/" in c[1] or "/_lfs" in c[1] or c[1].endswith("/batch")]
    assert len(hub.commits("alice/mementos")) == 2


def test_a_dataset_that_fails_validation_sends_nothing_at_all(segmented, hub):
    # the sample passes the default gate; a judge gate above its scores fails some rows
    strict = ValidateConfig(min_judge_score=9.5)
    with pytest.raises(ValidationRefused, match=r"records pass validation \(\d+\.\d%, --min-pass-rate 1\); nothing was sent") as refused:
        push_to_hub(job(segmented, hub, validate=strict))
    assert refused.value.exit_code == 1 and "--write-passing" in refused.value.hint
    assert hub.log == [] and hub.repos == {}


def test_a_shard_that_does_not_match_the_manifest_is_refused_and_force_pushes_with_the_card_saying_so(passing, hub, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(passing, tampered)
    manifest = json.loads((tampered / "manifest.json").read_text())
    manifest["shards"]["data"][0]["sha256"] = "0" * 64
    (tampered / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValidationRefused, match="manifest: data/train-00000.parquet: sha256"):
        push_to_hub(job(tampered, hub))
    assert hub.log == []
    forced = push_to_hub(job(tampered, hub, force=True))
    card = hub.files("alice/mementos")["README.md"].decode()
    assert forced.forced and "**Warning**: pushed with `--force`" in card
    assert "**Pushed with `--force`** despite:" in card and "data/train-00000.parquet: sha256" in card


def test_an_interrupted_push_resumes_without_sending_any_file_twice(passing, hub):
    hub.fail("commit", after=1)   # the second of three commits dies after its LFS objects went up
    with pytest.raises(PublishError, match="the Hub answered 500"):
        push_to_hub(job(passing, hub, max_files_per_commit=2))
    assert len(hub.commits("alice/mementos")) == 2                 # initial + the first batch
    resumed = push_to_hub(job(passing, hub, max_files_per_commit=2))
    assert resumed.unchanged == ["data/train-00000.parquet", "data/train-00001.parquet"]
    puts = paths_of(hub, "/_lfs/")
    assert len(puts) == len(set(puts)) == 4                        # every LFS object sent exactly once
    assert [c.title for c in hub.commits("alice/mementos")][-1] == "initial commit"
    assert len(hub.commits("alice/mementos")) == 4                 # initial + first batch + 2 resumed commits
    assert sorted(hub.files("alice/mementos")) == [".gitattributes", "README.md", "data/train-00000.parquet", "data/train-00001.parquet",
                                                   "full/train-00000.parquet", "full/train-00001.parquet", "manifest.json"]


def test_shards_no_longer_in_the_folder_are_deleted_from_the_repo(passing, hub, tmp_path):
    push_to_hub(job(passing, hub))
    smaller = tmp_path / "smaller"
    out = tmp_path / "seg1"
    run_segment(SegmentJob(input="sample", out=out, workers=1, limit=12))
    validate(ValidateJob(out, write_passing=smaller, workers=1, min_pass_rate=0.0))
    result = push_to_hub(job(smaller, hub))
    assert result.deleted == ["data/train-00001.parquet", "full/train-00001.parquet"]
    assert sorted(p for p in hub.files("alice/mementos") if p.endswith(".parquet")) == ["data/train-00000.parquet", "full/train-00000.parquet"]


def test_commits_put_shards_first_and_the_card_and_manifest_last():
    from openmementos.hub.push import PlannedFile

    files = [PlannedFile(p, 1, "0") for p in ("README.md", "data/a", "data/b", "full/a", "manifest.json")]
    batches = commit_batches(files, ["full/old"], 2)
    assert [[f.path for f in adds] + dels for adds, dels in batches] == [["data/a", "data/b"], ["full/a"], ["README.md", "manifest.json", "full/old"]]
    assert commit_batches([], [], 100) == []


def test_a_branch_is_created_and_pushed_to_without_touching_main(passing, hub):
    push_to_hub(job(passing, hub, revision="candidate", private=True))
    assert hub.repos[("dataset", "alice/mementos")].private
    assert sorted(hub.files("alice/mementos", "main")) == [".gitattributes"]
    assert "README.md" in hub.files("alice/mementos", "candidate")


def test_an_organisation_namespace_works_for_its_members(passing, hub):
    push_to_hub(job(passing, hub, repo="lab/mementos"))
    assert "README.md" in hub.files("lab/mementos")


@pytest.mark.parametrize("token, repo, message", [
    ("", "alice/mementos", "no Hugging Face token"),
    ("hf_unknown", "alice/mementos", "the Hub rejected the token (401 Unauthorized)"),
    (READ, "alice/mementos", "the token is read-only"),
    (OTHER, "alice/mementos", "no permission to write to datasets/alice/mementos (403 Forbidden)"),
])
def test_token_and_permission_problems_are_one_line_errors_and_push_nothing(passing, hub, monkeypatch, token, repo, message):
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)    # no saved login either
    with pytest.raises(PublishError) as error:
        push_to_hub(job(passing, hub, repo=repo, token=token or None))
    assert message in error.value.message and "\n" not in str(error.value) and error.value.hint
    assert hub.calls("/commit/") == [] and hub.calls("/_lfs/") == []


def test_an_invalid_repo_id_fails_before_any_request(passing, hub):
    with pytest.raises(ConfigError, match="is not a valid repo id"):
        push_to_hub(job(passing, hub, repo="alice/bad name//x"))
    assert hub.log == []


def test_a_hub_that_cannot_be_reached_is_a_one_line_error(passing, hub):
    endpoint = hub.endpoint
    hub.stop()
    with pytest.raises(PublishError, match=r"cannot reach the Hub at http://127\.0\.0\.1:\d+ \(ConnectError\)"):
        push_to_hub(PushJob(passing, "alice/mementos", endpoint=endpoint, token=WRITE, workers=1))


def test_a_pushed_folder_loads_with_datasets_for_both_configs_with_the_published_types(passing, hub, tmp_path):
    import datasets

    push_to_hub(job(passing, hub))
    folder = hub.export("alice/mementos", tmp_path / "clone")
    rows = json.loads((passing / "manifest.json").read_text())["counts"]["kept"]
    default = datasets.load_dataset(str(folder), split="train", cache_dir=str(tmp_path / "cache"))
    full = datasets.load_dataset(str(folder), "full", split="train", cache_dir=str(tmp_path / "cache"))
    assert default.num_rows == full.num_rows == rows
    assert list(default.features) == ["problem", "response", "domain", "source", "difficulty"]
    assert default.features["difficulty"] == datasets.Value("int64") and default.features["response"] == datasets.Value("string")
    types = full.data.schema    # the Arrow types behind the features, the same in every datasets version
    assert types.field("blocks").type == pa.list_(pa.list_(pa.int64()))
    assert types.field("sentences").type == types.field("block_summaries").type == pa.list_(pa.string())
    assert types.field("difficulty").type == pa.int64()
    assert default[0]["response"] == full[0]["response"]


# -- the command, as a user runs it -----------------------------------------------------------


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_ENDPOINT")}
    base.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
    return subprocess.run([sys.executable, "-m", "openmementos.cli", *args], capture_output=True, text=True, env={**base, **(env or {})})


def test_the_command_pushes_with_the_env_token_and_never_prints_or_writes_it(passing, hub, tmp_path):
    env = {"HF_TOKEN": SECRET, "HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf")}
    first = cli("push-to-hub", str(passing), "alice/mementos", "--workers", "1", env=env)
    assert first.returncode == 0, first.stderr
    assert f"pushed to {hub.endpoint}/datasets/alice/mementos (branch main): 6 file(s) in 1 commit(s)" in first.stdout
    assert first.stdout.splitlines()[-1].startswith("next: load it with datasets.load_dataset('alice/mementos')")
    second = cli("push-to-hub", str(passing), "alice/mementos", "--workers", "1", env=env)
    assert second.returncode == 0 and "nothing to push" in second.stdout and "up to date" in second.stdout
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert SECRET not in output
    written = [p.read_bytes() for p in [*passing.rglob("*"), *(tmp_path / "hf").rglob("*")] if p.is_file()]
    assert not any(SECRET.encode() in data for data in written + list(hub.files("alice/mementos").values()))


def test_the_command_uses_the_saved_login_when_hf_token_is_unset(passing, hub, tmp_path):
    home = tmp_path / "hf"
    home.mkdir()
    (home / "token").write_text(WRITE)
    result = cli("push-to-hub", str(passing), "alice/saved", "--workers", "1",
                 env={"HF_HOME": str(home), "HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "0"})
    assert result.returncode == 0, result.stderr
    assert "README.md" in hub.files("alice/saved")


def test_dry_run_lists_every_file_with_its_destination_and_the_card_without_a_request(passing, hub):
    result = cli("push-to-hub", str(passing), "alice/mementos", "--dry-run", "--workers", "1",
                 env={"HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    for relative in ("data/train-00000.parquet", "data/train-00001.parquet", "full/train-00000.parquet", "full/train-00001.parquet"):
        assert re.search(rf"{re.escape(str(passing / relative))} +-> +{re.escape(relative)} ", result.stdout), relative
    assert re.search(r"\(generated\) +-> +manifest\.json ", result.stdout)      # without local paths
    assert re.search(r"\(generated\) +-> +README\.md ", result.stdout)
    assert "README.md (the dataset card):" in result.stdout and "\nconfigs:\n- config_name: default\n" in result.stdout
    assert result.stdout.splitlines()[-1] == f"next: openmementos push-to-hub {passing} alice/mementos"
    assert hub.log == []


def test_the_command_exits_1_on_a_failing_dataset_and_2_with_one_line_and_a_hint_otherwise(segmented, passing, hub):
    refused = cli("push-to-hub", str(segmented), "alice/mementos", "--workers", "1", "--min-judge-score", "9.5",
                  env={"HF_TOKEN": WRITE, "HF_ENDPOINT": hub.endpoint})
    assert refused.returncode == 1 and refused.stderr.startswith("error: refusing to push")
    for args, env, message in [
        (("alice/mementos",), {"HF_HOME": "/nonexistent-home"}, "no Hugging Face token"),
        (("alice/mementos",), {"HF_TOKEN": WRITE, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0"}, "cannot reach the Hub"),
    ]:  # the other errors are checked in process above; these prove the exit code and the two-line form
        result = cli("push-to-hub", str(passing), *args, "--workers", "1", env=env)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (args, result.stderr)
        assert len(lines) == 2 and lines[0].startswith("error: ") and message in lines[0] and lines[1].startswith("hint: "), result.stderr
    assert hub.calls("/commit/") == []


def test_help_snapshot():
    result = cli("push-to-hub", "--help")
    assert result.returncode == 0
    for option in ("--private", "--revision", "--dry-run", "--force", "--min-pass-rate", "--max-files-per-commit", "--license", "--json"):
        assert option in result.stdout, option
    snapshot = Path(__file__).parent / "snapshots" / "push_to_hub_help.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.write_text(result.stdout)
    assert result.stdout == snapshot.read_text(), "push-to-hub --help changed: review it, then UPDATE_SNAPSHOTS=1"


def test_no_local_path_is_published_in_the_manifest_or_the_card(hub, tmp_path):
    # a segment run of a file given by its absolute path, filtered by validate, then pushed
    private = tmp_path / "home" / "alice" / "secret-project"
    private.mkdir(parents=True)
    source = Path(__file__).resolve().parents[1] / "openmementos" / "data" / "sample.jsonl"
    shutil.copy(source, private / "traces.jsonl")
    run_segment(SegmentJob(input=str(private / "traces.jsonl"), out=private / "shards", workers=1))
    validate(ValidateJob(private / "shards", write_passing=private / "passing", workers=1, min_pass_rate=0.0))
    assert str(private) in (private / "shards" / "manifest.json").read_text()     # kept at home: resume checks it

    push_to_hub(job(private / "passing", hub, repo="alice/private-paths"))
    files = hub.files("alice/private-paths")
    for name in ("manifest.json", "README.md"):
        text = files[name].decode()
        assert str(tmp_path) not in text and "secret-project" not in text, name
    published = json.loads(files["manifest.json"])
    assert published["validated_from"] == "shards"
    push_to_hub(job(private / "shards", hub, repo="alice/raw", force=True))
    raw = json.loads(hub.files("alice/raw")["manifest.json"])
    assert raw["config"]["input"]["spec"] == raw["config"]["input"]["root"] == "traces.jsonl"
    assert raw["config"]["input"]["files"][0]["path"] == "traces.jsonl" and raw["config"]["input"]["files"][0]["size"] > 0
    assert "secret-project" not in json.dumps(raw)


def test_the_published_manifest_cuts_only_the_recorded_local_paths():
    from openmementos.hub.provenance import public_manifest

    local = {
        "config_hash": "abc",
        "validated_from": "/home/alice/runs/shards",
        "config": {
            "input": {"kind": "files", "spec": "data/alice/secret/x.jsonl", "root": "/home/alice/data/alice/secret/x.jsonl",
                      "limit": None, "files": [{"path": "x.jsonl", "size": 10, "mtime_ns": 1}]},
            "teacher": {"roles": {"judge": {"model": "/models/Qwen3-32B"}}},
            "merged_from": [{"path": "/scratch/alice/part0", "partition": "0/2"}],
        },
        "options": {"values": {"input": "data/alice/secret/x.jsonl", "out": "/home/alice/runs/shards", "config": "/home/alice/run.yaml",
                               "teacher": "openai:gpt-4.1-mini", "min_block_tokens": 200}, "config_file": {"name": "run.yaml"}},
    }
    published = public_manifest(local)
    assert published["options"]["values"] == {"input": "x.jsonl", "out": "shards", "config": "run.yaml",
                                              "teacher": "openai:gpt-4.1-mini", "min_block_tokens": 200}
    assert published["validated_from"] == "shards"
    assert published["config"]["input"]["spec"] == published["config"]["input"]["root"] == "x.jsonl"
    assert published["config"]["merged_from"][0]["path"] == "part0"
    assert published["config"]["teacher"]["roles"]["judge"]["model"] == "/models/Qwen3-32B"   # not a local path of ours
    assert published["config_hash"] == "abc" and local["validated_from"] == "/home/alice/runs/shards"  # the local copy is untouched
    hub_input = {"config": {"input": {"kind": "hub", "spec": "ot3", "hub_id": "open-thoughts/OpenThoughts3-1.2M"}}}
    assert public_manifest(hub_input) == hub_input
