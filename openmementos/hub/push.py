"""``push-to-hub``: validate, write the card, and upload only what the Hub does not hold yet.

    >>> result = push_to_hub(PushJob(Path("passing/"), "me/my-mementos"))    # doctest: +SKIP
    >>> result.uploaded, result.commits                                      # doctest: +SKIP
    (['data/train-00000.parquet', 'full/train-00000.parquet', 'manifest.json', 'README.md'], ['5f0c...'])

Order of work: everything local first (validation, manifest checksums, statistics, the card), so a
dataset that fails is refused before any request; then the token, the repo (created if needed) and
the branch; then one listing of the remote files with their sha256. A file whose remote sha256
(LFS) or git blob id (regular file) equals the local one is skipped, files under ``data/`` and
``full/`` that are no longer local are deleted (they would otherwise join a config), and nothing
is committed when nothing changed. Commits hold at most ``max_files_per_commit`` files (the Hub
recommends under 100 per commit); shards go first and ``README.md`` and ``manifest.json`` last,
so the card never describes shards that are not there yet. An interrupted push resumes by running
it again: committed files match and are skipped, and LFS objects uploaded before the interruption
are reported present by the Hub's LFS batch endpoint, so they are not sent twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..shards import sha256_file
from ..validate import ValidateConfig, ValidateJob, ValidationSummary, validate
from .card import CardFacts, CardOptions, pick_example, render_card
from .errors import PublishError, ValidationRefused, hub_errors, no_token
from .layout import configs
from .provenance import load_provenance, public_manifest
from .stats import load

COMMIT_MAX_FILES = 100       # docs/hub/repositories-recommendations: "Commit size < 100 files"
MANAGED_FOLDERS = ("data/", "full/")   # remote files here that are not local are stale shards: deleted
REPO_TYPE = "dataset"


@dataclass(frozen=True)
class PushJob:
    shards: Path
    repo_id: str
    private: bool = False
    revision: str = "main"
    dry_run: bool = False
    force: bool = False                      # push even if validation or the manifest fails (the card says so)
    min_pass_rate: float = 1.0
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    card: CardOptions = field(default_factory=CardOptions)
    max_files_per_commit: int = COMMIT_MAX_FILES
    endpoint: str | None = None              # None: HF_ENDPOINT, else https://huggingface.co
    token: str | None = None                 # None: HF_TOKEN, else the saved login
    workers: int = 0                         # validation processes; 0: every core


@dataclass(frozen=True)
class PlannedFile:
    path: str                 # in the repo
    size: int
    sha256: str
    local: Path | None = None     # None: generated here (the card)
    content: bytes | None = None

    def git_oid(self) -> str:
        data = self.content if self.content is not None else self.local.read_bytes()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def operation(self):
        from huggingface_hub import CommitOperationAdd

        return CommitOperationAdd(self.path, self.content if self.content is not None else str(self.local))


@dataclass
class PushResult:
    repo_id: str
    revision: str
    url: str
    files: list[PlannedFile]
    card: str
    validation: dict[str, Any]
    forced: tuple[str, ...] = ()
    dry_run: bool = False
    created: bool = False
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id, "revision": self.revision, "url": self.url, "dry_run": self.dry_run, "created": self.created,
            "files": [{"path": f.path, "local": str(f.local) if f.local else None, "size": f.size, "sha256": f.sha256} for f in self.files],
            "uploaded": self.uploaded, "unchanged": self.unchanged, "deleted": self.deleted, "commits": self.commits,
            "forced": list(self.forced), "notes": self.notes,
            "validation": {k: self.validation.get(k) for k in ("records", "passed", "pass_rate", "min_pass_rate", "ok")},
        }


def check_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import validate_repo_id

    with hub_errors(repo_id, ""):
        validate_repo_id(repo_id)


def _refusal(summary: ValidationSummary, checksums: list[str]) -> list[str]:
    report = summary.report
    problems = []
    if report.pass_rate < summary.min_pass_rate:
        problems.append(f"{report.passed:,} of {report.records:,} records pass validation ({report.pass_rate:.1%}, "
                        f"--min-pass-rate {summary.min_pass_rate:g})")
    problems += [f"manifest: {p}" for p in report.integrity]
    if not report.integrity:  # validate already named these when it checked the manifest
        problems += [f"manifest: {p}" for p in checksums]
    return problems


def _checksum_problems(files: list[PlannedFile], manifest: dict[str, Any]) -> list[str]:
    listed = {e.get("path"): e.get("sha256") for entries in (manifest.get("shards") or {}).values() for e in entries or []}
    problems = []
    for f in files:
        if f.local is None:  # generated here: the card and the published manifest
            continue
        if f.path not in listed:
            problems.append(f"{f.path} is not listed in manifest.json")
        elif listed[f.path] != f.sha256:
            problems.append(f"{f.path}: sha256 {f.sha256[:12]}... differs from manifest.json ({str(listed[f.path])[:12]}...)")
    return problems


def prepare(job: PushJob) -> PushResult:
    """Everything local: validate, check checksums, compute statistics, render the card. No network."""
    check_repo_id(job.repo_id)
    shards = Path(job.shards)
    found = configs(shards)
    provenance = load_provenance(shards)
    files = [PlannedFile(rel, (shards / rel).stat().st_size, sha256_file(shards / rel), shards / rel) for c in found for rel in c.files]
    # published without the local paths it holds (see provenance.public_manifest)
    manifest = (json.dumps(public_manifest(provenance.manifest), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    files.append(PlannedFile("manifest.json", len(manifest), hashlib.sha256(manifest).hexdigest(), None, manifest))
    summary = validate(ValidateJob(shards, job.validate, "auto", workers=job.workers, min_pass_rate=job.min_pass_rate))
    problems = _refusal(summary, _checksum_problems(files, provenance.manifest))
    if problems and not job.force:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ValidationRefused(f"refusing to push {shards}: {problems[0]}{more}; nothing was sent",
                                f"`openmementos validate {shards}` explains it; `--write-passing DIR` keeps the passing rows; "
                                "--force pushes anyway and the card says so")
    validation = {**summary.as_dict(), "ok": summary.ok}
    facts = CardFacts(job.repo_id, found, load(shards), validation, job.validate.as_dict(), provenance, tuple(problems),
                      pick_example(found[0], shards))
    card = render_card(facts, job.card).encode("utf-8")
    files.append(PlannedFile("README.md", len(card), hashlib.sha256(card).hexdigest(), None, card))
    url = f"{(job.endpoint or _default_endpoint()).rstrip('/')}/datasets/{job.repo_id}"
    return PushResult(job.repo_id, job.revision, url, files, card.decode("utf-8"), validation, tuple(problems), dry_run=job.dry_run)


def _default_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def commit_batches(changed: list[PlannedFile], stale: list[str], limit: int) -> list[tuple[list[PlannedFile], list[str]]]:
    """Shards first, at most ``limit`` operations a commit; card, manifest and deletions in the last one.

    >>> f = lambda p: PlannedFile(p, 1, "0")
    >>> [[x.path for x in adds] + dels for adds, dels in commit_batches([f("data/a"), f("data/b"), f("README.md")], ["data/old"], 2)]
    [['data/a', 'data/b'], ['README.md', 'data/old']]
    """
    last_names = ("README.md", "manifest.json")
    shards = [f for f in changed if f.path not in last_names]
    final = [f for f in changed if f.path in last_names]
    batches = [(shards[i:i + limit], []) for i in range(0, len(shards), limit)]
    if final or stale:
        if batches and len(batches[-1][0]) + len(final) + len(stale) <= limit:
            batches[-1] = (batches[-1][0] + final, list(stale))
        else:
            batches.append((final, list(stale)))
    return batches


def _remote_files(api, repo_id: str, revision: str) -> dict[str, Any]:
    from huggingface_hub.hf_api import RepoFile

    return {entry.path: entry for entry in api.list_repo_tree(repo_id, recursive=True, revision=revision, repo_type=REPO_TYPE)
            if isinstance(entry, RepoFile)}


def _unchanged(planned: PlannedFile, remote: Any) -> bool:
    if remote is None:
        return False
    if remote.lfs is not None:
        return remote.lfs.sha256 == planned.sha256
    return remote.blob_id == planned.git_oid()


def push_to_hub(job: PushJob, say: Callable[[str], None] = lambda message: None) -> PushResult:
    """Publish ``job.shards`` to ``job.repo_id``; ``say`` receives one line per step.

    Raises :class:`~openmementos.hub.errors.ValidationRefused` (nothing sent) when the dataset
    fails and ``force`` is off, and :class:`~openmementos.hub.errors.PublishError` for Hub problems.
    """
    from huggingface_hub import HfApi, get_token

    check_repo_id(job.repo_id)
    token = None if job.dry_run else job.token or get_token()
    if not job.dry_run and not token:
        raise no_token()  # before validation, which can take minutes on a large dataset
    result = prepare(job)
    v = result.validation
    say(f"validated: {v['passed']:,} of {v['records']:,} records pass ({v['pass_rate']:.1%})"
        + (f"; FORCED past {len(result.forced)} problem(s)" if result.forced else ""))
    if job.dry_run:
        return result
    endpoint = (job.endpoint or _default_endpoint()).rstrip("/")
    with hub_errors(job.repo_id, endpoint):
        api = HfApi(endpoint=endpoint, token=token)
        role = ((api.whoami().get("auth") or {}).get("accessToken") or {}).get("role")
        if role == "read":
            raise PublishError(f"the token is read-only: it cannot write to datasets/{job.repo_id}", "use a token with write access")
        if not api.repo_exists(job.repo_id, repo_type=REPO_TYPE):
            api.create_repo(job.repo_id, repo_type=REPO_TYPE, private=job.private)
            result.created = True
            say(f"created {'private ' if job.private else ''}dataset repo {result.url}")
        elif job.private:
            result.notes.append("the repo already existed: --private applies only when creating it (visibility unchanged)")
        if job.revision != "main":
            api.create_branch(job.repo_id, branch=job.revision, repo_type=REPO_TYPE, exist_ok=True)
        remote = _remote_files(api, job.repo_id, job.revision)
        planned = {f.path for f in result.files}
        changed = [f for f in result.files if not _unchanged(f, remote.get(f.path))]
        result.unchanged = sorted(planned - {f.path for f in changed})
        result.deleted = sorted(p for p in remote if p.startswith(MANAGED_FOLDERS) and p not in planned)
        batches = commit_batches(changed, result.deleted, job.max_files_per_commit)
        if not batches:
            say(f"nothing to push: {job.repo_id}@{job.revision} already holds these {len(result.files)} files")
            return result
        say(f"{len(result.unchanged)} file(s) already on the Hub; uploading {len(changed)}, deleting {len(result.deleted)}, "
            f"in {len(batches)} commit(s)")
        for number, (adds, deletes) in enumerate(batches, 1):
            operations = [f.operation() for f in adds] + [_delete(p) for p in deletes]
            part = f" ({number}/{len(batches)})" if len(batches) > 1 else ""
            info = api.create_commit(job.repo_id, operations, repo_type=REPO_TYPE, revision=job.revision,
                                     commit_message=f"Upload OpenMementos dataset with openmementos {__version__}{part}",
                                     commit_description=_description(adds, deletes))
            result.commits.append(info.oid)
            result.uploaded += [f.path for f in adds]
            say(f"commit {number}/{len(batches)}: {len(adds)} file(s) up, {len(deletes)} deleted ({info.oid[:10]})")
    return result


def _delete(path: str):
    from huggingface_hub import CommitOperationDelete

    return CommitOperationDelete(path)


def _description(adds: list[PlannedFile], deletes: list[str]) -> str:
    lines = [f"+ {f.path} ({f.size:,} bytes, sha256 {f.sha256[:12]})" for f in adds] + [f"- {p}" for p in deletes]
    return "\n".join(lines)

