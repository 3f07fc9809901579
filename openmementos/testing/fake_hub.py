"""A real Hugging Face Hub look-alike on 127.0.0.1, for tests of ``push-to-hub``.

``huggingface_hub`` talks HTTP through its own client, so the tests run a server in a background
thread and point the client at it (``HfApi(endpoint=hub.endpoint)`` or ``HF_ENDPOINT``)::

    with FakeHub(tokens={"hf_w": Account("alice")}) as hub:
        api = HfApi(endpoint=hub.endpoint, token="hf_w")
        api.create_repo("alice/demo", repo_type="dataset")
        hub.files("alice/demo")                      # {path: bytes} at the head of main

Endpoints, as ``huggingface_hub`` calls them: ``GET /api/whoami-v2``, ``POST /api/repos/create``,
``POST /api/validate-yaml``, and under ``/api/{type}s/{namespace}/{name}``: the repo info
(``GET`` and ``/revision/{rev}``), ``POST /preupload/{rev}``, ``POST /commit/{rev}`` (NDJSON),
``GET /tree/{rev}[/{path}]``, ``POST /paths-info/{rev}`` and ``POST /branch/{branch}``; the Git LFS
batch API ``POST /[datasets/]{namespace}/{name}.git/info/lfs/objects/batch`` ("basic" transfer)
with its upload (``PUT /_lfs/...``) and verify (``POST /_lfs_verify/...``) URLs; and
``GET /[datasets/]{ns}/{name}/resolve/{rev}/{path}`` for downloads. Errors carry the
``X-Error-Code`` headers the client turns into typed exceptions. Xet storage is not spoken:
set ``huggingface_hub.constants.HF_HUB_DISABLE_XET`` (or ``HF_HUB_DISABLE_XET=1`` before import).

Every request is logged (method, path, status; never a token) in :attr:`FakeHub.log`;
:meth:`FakeHub.fail` makes the next calls of one endpoint answer an error (an interrupted push).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_SUFFIXES = (".parquet", ".arrow", ".bin", ".safetensors", ".zip", ".gz", ".zst", ".png", ".jpg")
LFS_MIN_SIZE = 10 * 2**20      # the Hub stores text files from this size on in LFS
GITATTRIBUTES = "".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n" for s in LFS_SUFFIXES).encode()


@dataclass(frozen=True)
class Account:
    """Who a token belongs to: ``write`` False is a read-only token; ``orgs`` it may write to."""

    name: str
    write: bool = True
    orgs: tuple[str, ...] = ()

    def can_write(self, namespace: str) -> bool:
        return self.write and namespace in (self.name, *self.orgs)


@dataclass(frozen=True)
class Blob:
    size: int
    git_oid: str                  # git blob id: of the content, or of the LFS pointer
    sha256: str | None = None     # LFS files only (the content lives in the repo's LFS store)
    content: bytes | None = None  # regular files only


@dataclass
class Commit:
    oid: str
    parent: str | None
    title: str
    files: dict[str, Blob]


@dataclass
class Repo:
    kind: str                     # "dataset", "model" or "space"
    repo_id: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    lfs: dict[str, bytes] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.repo_id.split("/")[0]


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    status: int
    user: str | None


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, **payload: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.payload = status, message, code, payload


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


class FakeHub:
    """The server; a context manager that starts on enter and stops on exit.

    ``tokens`` maps a bearer token to its :class:`Account`; requests without a known token get 401.
    """

    def __init__(self, tokens: dict[str, Account] | None = None) -> None:
        self.tokens = dict(tokens or {"hf_test_write": Account("tester")})
        self.repos: dict[tuple[str, str], Repo] = {}
        self.log: list[Logged] = []
        self.errors: list[str] = []
        self._faults: dict[str, list[tuple[int, str] | None]] = {}
        self._lock = threading.RLock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake Hub is not running")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> FakeHub:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeHub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # idle keep-alive handlers wait on these; unblock them
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests look at ------------------------------------------------------------------

    def fail(self, endpoint: str, times: int = 1, status: int = 500, message: str = "injected failure", after: int = 0) -> None:
        """Let ``after`` calls of ``endpoint`` through, then answer the next ``times`` with ``status``.

        Endpoints: ``commit``, ``preupload``, ``lfs_batch``, ``lfs_upload``, ``whoami``, ``create``, ``tree``.
        """
        with self._lock:
            self._faults.setdefault(endpoint, []).extend([None] * after + [(status, message)] * times)

    def calls(self, endpoint: str) -> list[Logged]:
        """Logged requests whose path names ``endpoint`` (e.g. ``/commit/``, ``/_lfs/``)."""
        with self._lock:
            return [entry for entry in self.log if endpoint in entry.path]

    def commits(self, repo_id: str, revision: str = "main", kind: str = "dataset") -> list[Commit]:
        """The history of ``revision``, newest first."""
        repo = self.repos[(kind, repo_id)]
        history, oid = [], repo.branches.get(revision)
        while oid is not None:
            history.append(repo.commits[oid])
            oid = repo.commits[oid].parent
        return history

    def files(self, repo_id: str, revision: str = "main", kind: str = "dataset") -> dict[str, bytes]:
        """Every file at the head of ``revision``, LFS content resolved."""
        repo = self.repos[(kind, repo_id)]
        tree = repo.commits[repo.branches[revision]].files
        return {path: blob.content if blob.content is not None else repo.lfs[blob.sha256] for path, blob in sorted(tree.items())}

    def export(self, repo_id: str, dest: Path, revision: str = "main", kind: str = "dataset") -> Path:
        """Write the repo as a folder laid out as uploaded (what a clone would hold)."""
        for path, data in self.files(repo_id, revision, kind).items():
            (dest / path).parent.mkdir(parents=True, exist_ok=True)
            (dest / path).write_bytes(data)
        return dest

    # -- request handling --------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, Any, dict[str, str]]:
        url = urlsplit(target)
        parts = [unquote(p) for p in url.path.split("/") if p]
        user = self._account(headers)
        status, payload, extra = 500, {"error": "unhandled"}, {}
        try:
            status, payload, extra = self._route(method, parts, parse_qs(url.query), headers, body, user)
        except HubError as error:
            status, payload = error.status, {"error": error.message, **error.payload}
            extra = {"X-Error-Message": error.message}
            if error.code:
                extra["X-Error-Code"] = error.code
        with self._lock:
            self.log.append(Logged(method, url.path, status, user.name if user else None))
        return status, payload, extra

    def _account(self, headers: Any) -> Account | None:
        auth = headers.get("Authorization") or ""
        return self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None

    def _fault(self, endpoint: str) -> None:
        with self._lock:
            pending = self._faults.get(endpoint)
            fault = pending.pop(0) if pending else None
        if fault is not None:
            raise HubError(*fault)

    def _route(self, method: str, parts: list[str], query: dict, headers: Any, body: bytes, user: Account | None):
        if parts[:2] == ["api", "whoami-v2"]:
            self._fault("whoami")
            if user is None:
                raise HubError(401, "Invalid credentials in Authorization header")
            role = "write" if user.write else "read"
            return 200, {"type": "user", "name": user.name, "orgs": [{"name": o} for o in user.orgs],
                         "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": role}}}, {}
        if parts[:3] == ["api", "repos", "create"] and method == "POST":
            self._fault("create")
            return self._create(json.loads(body or b"{}"), user)
        if parts[:2] == ["api", "validate-yaml"]:
            return _validate_yaml(json.loads(body or b"{}").get("content", ""))
        if len(parts) >= 4 and parts[0] == "api" and parts[1] in ("datasets", "models", "spaces"):
            repo = self._repo(parts[1][:-1], f"{parts[2]}/{parts[3]}", user)
            return self._repo_api(method, repo, parts[4:], query, headers, body, user)
        if parts and parts[0] == "_lfs" and method == "PUT":
            self._fault("lfs_upload")
            return self._lfs_put(parts[1], parts[2], body)
        if parts and parts[0] == "_lfs_verify":
            repo = self.repos.get(tuple(parts[1].split(":", 1)))
            oid = json.loads(body or b"{}").get("oid")
            if repo is None or oid not in repo.lfs:
                raise HubError(404, f"LFS object {oid} not found")
            return 200, {"ok": True}, {}
        kind, rest = ("dataset", parts[1:]) if parts[:1] == ["datasets"] else ("model", parts)
        if len(rest) >= 3 and rest[1].endswith(".git") and rest[2:] == ["info", "lfs", "objects", "batch"]:
            self._fault("lfs_batch")
            repo = self._repo(kind, f"{rest[0]}/{rest[1][:-4]}", user)
            return self._lfs_batch(repo, json.loads(body or b"{}"), user)
        if len(rest) >= 5 and rest[2] == "resolve":
            repo = self._repo(kind, f"{rest[0]}/{rest[1]}", user)
            blob = self._tree(repo, rest[3]).get("/".join(rest[4:]))
            if blob is None:
                raise HubError(404, "Entry not found", "EntryNotFound")
            data = blob.content if blob.content is not None else repo.lfs[blob.sha256]
            return 200, data, {"X-Repo-Commit": repo.branches.get(rest[3], rest[3]), "ETag": f'"{blob.sha256 or blob.git_oid}"'}
        raise HubError(404, f"no route for {method} /{'/'.join(parts)}")

    # -- repos ---------------------------------------------------------------------------------

    def _create(self, payload: dict, user: Account | None):
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        kind = payload.get("type") or "model"
        namespace = payload.get("organization") or user.name
        repo_id = f"{namespace}/{payload['name']}"
        if not user.can_write(namespace):
            raise HubError(403, f"You don't have the rights to create a {kind} under the namespace \"{namespace}\"")
        with self._lock:
            if (kind, repo_id) in self.repos:
                raise HubError(409, f"You already created this {kind} repo", url=f"{self.endpoint}/{_prefix(kind)}{repo_id}")
            private = payload.get("visibility") == "private" or bool(payload.get("private"))
            repo = self.repos[(kind, repo_id)] = Repo(kind, repo_id, private)
            self._commit(repo, "main", "initial commit", {".gitattributes": _regular(GITATTRIBUTES)})
        return 200, {"url": f"{self.endpoint}/{_prefix(kind)}{repo_id}", "name": repo_id}, {}

    def _repo(self, kind: str, repo_id: str, user: Account | None) -> Repo:
        repo = self.repos.get((kind, repo_id))
        if repo is None or (repo.private and not (user and repo.namespace in (user.name, *user.orgs))):
            raise HubError(404 if user else 401, "Repository not found", "RepoNotFound")
        return repo

    def _repo_api(self, method, repo: Repo, rest: list[str], query: dict, headers: Any, body: bytes, user):
        action = rest[0] if rest else ""
        if action in ("", "revision") and method == "GET":
            revision = rest[1] if action == "revision" else "main"
            head = self._head(repo, revision)
            siblings = [{"rfilename": path} for path in sorted(repo.commits[head].files)]
            return 200, {"id": repo.repo_id, "sha": head, "private": repo.private, "siblings": siblings}, {}
        if action == "tree" and method == "GET":
            self._fault("tree")
            return 200, self._listing(repo, rest[1], "/".join(rest[2:]), query.get("recursive", ["false"])[0] in ("true", "True", "1")), {}
        if action == "paths-info" and method == "POST":
            form = parse_qs(body.decode())
            return 200, self._paths_info(repo, rest[1], form.get("paths", [])), {}
        if action == "preupload" and method == "POST":
            self._require_write(repo, user)
            self._fault("preupload")
            return 200, self._preupload(repo, rest[1], json.loads(body)), {}
        if action == "commit" and method == "POST":
            self._require_write(repo, user)
            self._fault("commit")
            return 200, self._commit_ndjson(repo, rest[1], body), {}
        if action == "branch" and method == "POST":
            self._require_write(repo, user)
            branch = "/".join(rest[1:])
            with self._lock:
                if branch in repo.branches:
                    raise HubError(409, f"Branch {branch} already exists")
                start = (json.loads(body or b"{}") or {}).get("startingPoint") or "main"
                repo.branches[branch] = self._head(repo, start)
            return 200, {}, {}
        if action.startswith("xet-"):
            raise HubError(501, "this fake Hub speaks Git LFS only: set HF_HUB_DISABLE_XET=1")
        raise HubError(404, f"no route for {method} {action}")

    def _require_write(self, repo: Repo, user: Account | None) -> None:
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        if not user.can_write(repo.namespace):
            raise HubError(403, f"You don't have write access to {repo.repo_id}")

    def _head(self, repo: Repo, revision: str) -> str:
        if revision in repo.branches:
            return repo.branches[revision]
        if revision in repo.commits:
            return revision
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def _tree(self, repo: Repo, revision: str) -> dict[str, Blob]:
        return repo.commits[self._head(repo, revision)].files

    def _listing(self, repo: Repo, revision: str, path: str, recursive: bool) -> list[dict]:
        tree = self._tree(repo, revision)
        prefix = f"{path}/" if path else ""
        folders = sorted({"/".join(p.split("/")[:i]) for p in tree for i in range(1, p.count("/") + 1)})
        if path and path not in folders:
            raise HubError(404, f"{path} does not exist", "EntryNotFound")
        names = [p for p in sorted(tree) + folders if p.startswith(prefix)]
        if not recursive:
            names = [p for p in names if "/" not in p[len(prefix):]]
        return [_entry(p, tree.get(p)) for p in names]

    def _paths_info(self, repo: Repo, revision: str, paths: list[str]) -> list[dict]:
        tree = self._tree(repo, revision)
        folders = {"/".join(p.split("/")[:i]) for p in tree for i in range(1, p.count("/") + 1)}
        return [_entry(p, tree.get(p)) for p in paths if p in tree or p in folders]

    def _preupload(self, repo: Repo, revision: str, payload: dict) -> dict:
        tree = self._tree(repo, revision)
        answers = []
        for item in payload.get("files", []):
            sample = base64.b64decode(item.get("sample", ""))
            lfs = item["path"].endswith(LFS_SUFFIXES) or item.get("size", 0) >= LFS_MIN_SIZE or b"\0" in sample
            existing = tree.get(item["path"])
            oid = None if existing is None else (existing.sha256 if existing.sha256 else existing.git_oid)
            answers.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        return {"files": answers, "commitOid": self._head(repo, revision)}

    def _commit_ndjson(self, repo: Repo, revision: str, body: bytes) -> dict:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next((line["value"] for line in lines if line.get("key") == "header"), None)
        if header is None or not header.get("summary"):
            raise HubError(400, "the commit needs a header line with a summary")
        with self._lock:
            head = self._head(repo, revision)
            if header.get("parentCommit") and header["parentCommit"] != head:
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            files = dict(repo.commits[head].files)
            for line in lines:
                key, value = line.get("key"), line.get("value", {})
                if key == "file":
                    files[value["path"]] = _regular(base64.b64decode(value["content"]))
                elif key == "lfsFile":
                    data = repo.lfs.get(value["oid"])
                    if data is None:
                        raise HubError(422, f"LFS object {value['oid']} for {value['path']} was never uploaded")
                    files[value["path"]] = Blob(len(data), git_blob_oid(lfs_pointer(value["oid"], len(data))), value["oid"])
                elif key == "deletedFile":
                    if files.pop(value["path"], None) is None:
                        raise HubError(404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound")
                elif key == "deletedFolder":
                    folder = value["path"].rstrip("/") + "/"
                    files = {p: b for p, b in files.items() if not p.startswith(folder)}
            commit = self._commit(repo, revision, header["summary"], files)
        return {"commitUrl": f"{self.endpoint}/{_prefix(repo.kind)}{repo.repo_id}/commit/{commit.oid}", "commitOid": commit.oid,
                "pullRequestUrl": None, "success": True}

    def _commit(self, repo: Repo, branch: str, title: str, files: dict[str, Blob]) -> Commit:
        parent = repo.branches.get(branch)
        digest = hashlib.sha1(f"{parent}\n{title}\n".encode())
        for path, blob in sorted(files.items()):
            digest.update(f"{path} {blob.git_oid}\n".encode())
        commit = Commit(digest.hexdigest(), parent, title, files)
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        return commit

    # -- Git LFS -------------------------------------------------------------------------------

    def _lfs_batch(self, repo: Repo, payload: dict, user: Account | None):
        self._require_write(repo, user)
        key = quote(f"{repo.kind}:{repo.repo_id}", safe="")
        objects = []
        for item in payload.get("objects", []):
            oid, size = item["oid"], item["size"]
            if not re.fullmatch(r"[0-9a-f]{64}", oid):
                objects.append({"oid": oid, "size": size, "error": {"code": 422, "message": "invalid oid"}})
            elif oid in repo.lfs:
                objects.append({"oid": oid, "size": size})  # already stored: no actions, nothing to send
            else:
                objects.append({"oid": oid, "size": size, "authenticated": True, "actions": {
                    "upload": {"href": f"{self.endpoint}/_lfs/{key}/{oid}"},
                    "verify": {"href": f"{self.endpoint}/_lfs_verify/{key}"},
                }})
        return 200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"}

    def _lfs_put(self, key: str, oid: str, body: bytes):
        repo = self.repos.get(tuple(key.split(":", 1)))
        if repo is None:
            raise HubError(404, "no such repo")
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, f"content does not hash to {oid}")
        with self._lock:
            repo.lfs[oid] = body
        return 200, b"", {}


def _regular(data: bytes) -> Blob:
    return Blob(len(data), git_blob_oid(data), None, data)


def _prefix(kind: str) -> str:
    return {"dataset": "datasets/", "space": "spaces/"}.get(kind, "")


def _entry(path: str, blob: Blob | None) -> dict:
    if blob is None:
        return {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0, "path": path}
    entry: dict[str, Any] = {"type": "file", "oid": blob.git_oid, "size": blob.size, "path": path}
    if blob.sha256:
        entry["lfs"] = {"oid": blob.sha256, "size": blob.size, "pointerSize": len(lfs_pointer(blob.sha256, blob.size))}
    return entry


def _validate_yaml(content: str):
    import yaml

    match = re.match(r"---\n(.*?)\n---\n", content, re.S)
    if match is None:
        return 200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata in repo card"}]}, {}
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        return 400, {"errors": [{"message": f"invalid YAML: {error}"}]}, {}
    problems = [] if isinstance(meta, dict) else ["the metadata is not a mapping"]
    for config in (meta or {}).get("configs", []) if isinstance(meta, dict) else []:
        if not isinstance(config, dict) or "config_name" not in config or "data_files" not in config:
            problems.append(f"configs entry {config!r} needs config_name and data_files")
    if problems:
        return 400, {"errors": [{"message": p} for p in problems]}, {}
    return 200, {"errors": [], "warnings": []}, {}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    fake: FakeHub

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name, which can stall on odd resolvers.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read FakeHub.log (which never holds a token)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        try:
            body = self._read_body()
            status, payload, headers = fake.handle(method, self.path, self.headers, body)
        except OSError:
            self.close_connection = True
            return
        except Exception as exc:  # a bug in the fake: answer it, and keep it for the test
            with fake._lock:
                fake.errors.append(f"{method} {self.path}: {exc!r}")
            status, payload, headers = 500, {"error": f"FakeHub error: {exc!r}"}, {}
        self._send(status, payload, headers, head=method == "HEAD")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, payload: Any, headers: dict[str, str], head: bool = False) -> None:
        is_bytes = isinstance(payload, bytes)
        data = payload if is_bytes else json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            if "Content-Type" not in headers:
                self.send_header("Content-Type", "application/octet-stream" if is_bytes else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not head:
                self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
