"""A small Hugging Face Hub-compatible HTTP server for tests, driven by the real `huggingface_hub` client.

It implements only what the client calls for model repos: `create_repo`, `create_branch`,
`create_commit` / `upload_folder` (regular uploads, base64 in the NDJSON commit; no LFS, no Xet),
`hf_hub_download` / `snapshot_download` (HEAD and GET `resolve`), `repo_info` / `repo_exists`,
`list_repo_files` / `list_repo_tree` and `list_repo_refs`.

Storage is in memory. Every commit is a whole snapshot of the repo with a 40-hex id; branches and
`refs/pr/N` (opened by `create_pr=True`) point at commits. Any token is the owner's token: requests
without an `Authorization` header can neither write nor see private repos.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

USER = "user"  # the namespace of repos created without an organization
GITATTRIBUTES = (
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"
)


def git_blob_sha(data: bytes) -> str:
    """The id git (and the Hub's ETag) gives a file's content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class Commit:
    oid: str
    message: str
    parent: str | None
    files: dict[str, bytes]
    date: str = field(default_factory=_now)


@dataclass
class Repo:
    repo_id: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "main", other branches, "refs/pr/N" -> commit oid
    pr_count: int = 0

    def resolve(self, revision: str) -> Commit | None:
        """The commit a branch, PR ref or commit id (full, or a prefix of 7+ characters) names."""
        if revision in self.refs:
            return self.commits[self.refs[revision]]
        matches = [c for oid, c in self.commits.items() if len(revision) >= 7 and oid.startswith(revision)]
        return matches[0] if len(matches) == 1 else None

    def files(self, revision: str = "main") -> dict[str, bytes]:
        commit = self.resolve(revision)
        if commit is None:
            raise KeyError(f"{self.repo_id} has no revision {revision!r}")
        return commit.files

    @property
    def branches(self) -> list[str]:
        return [ref for ref in self.refs if not ref.startswith("refs/")]

    @property
    def pull_requests(self) -> list[str]:
        return [ref for ref in self.refs if ref.startswith("refs/pr/")]


class HubError(Exception):
    """An error answer: status, `X-Error-Code` and message (and extra headers)."""

    def __init__(self, status: int, code: str | None, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


@dataclass
class Request:
    method: str
    parts: list[str]
    query: dict[str, str]
    body: bytes
    token: str | None

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json"})


class HubServer:
    """The Hub state plus the HTTP server serving it; `start()` serves it from a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request served
        self._lock = threading.RLock()
        self._ids = itertools.count()
        self._httpd: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()  # open client connections (keep-alive)

    # -- lifecycle and inspection --------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> HubServer:
        self._httpd = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.hub = self  # type: ignore[attr-defined]
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving, and close the kept-alive connections too: a stopped Hub answers nothing."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections.clear()

    def reset(self) -> None:
        """Forget every repo and request (only safe when no other test's repos are still in use)."""
        with self._lock:
            self.repos.clear()
            self.requests.clear()

    def repo(self, repo_id: str) -> Repo:
        return self.repos[repo_id]

    def new_repo_id(self, name: str) -> str:
        """A repo id no test of this session has used yet: `user/{name}-{n}`."""
        return f"{USER}/{name}-{next(self._ids)}"

    # -- state changes ---------------------------------------------------------------------
    def create_repo(self, repo_id: str, private: bool = False) -> Repo:
        with self._lock:
            repo = self.repos[repo_id] = Repo(repo_id, private)
            self._add_commit(repo, "main", "initial commit", None, {".gitattributes": GITATTRIBUTES})
            return repo

    def commit(
        self,
        repo: Repo,
        revision: str,
        message: str,
        changes: dict[str, bytes | None],
        create_pr: bool = False,
    ) -> tuple[Commit, int | None]:
        """Apply `changes` (path -> content, None deletes; a path ending in "/" deletes a folder)."""
        with self._lock:
            if revision not in repo.refs:
                raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision} is not a branch")
            head = repo.commits[repo.refs[revision]]
            files = dict(head.files)
            for path, data in changes.items():
                if data is not None:
                    files[path] = data
                elif path.endswith("/"):
                    files = {p: d for p, d in files.items() if not p.startswith(path)}
                elif files.pop(path, None) is None:
                    raise HubError(404, "EntryNotFound", f"A file with this name doesn't exist: {path}")
            if not create_pr:
                return self._add_commit(repo, revision, message, head.oid, files), None
            repo.pr_count += 1
            return self._add_commit(repo, f"refs/pr/{repo.pr_count}", message, head.oid, files), repo.pr_count

    def _add_commit(
        self, repo: Repo, ref: str, message: str, parent: str | None, files: dict[str, bytes]
    ) -> Commit:
        tree = sorted((path, git_blob_sha(data)) for path, data in files.items())
        seed = json.dumps([repo.repo_id, parent, message, tree, next(self._ids)]).encode()
        commit = Commit(hashlib.sha1(seed).hexdigest(), message, parent, files)
        repo.commits[commit.oid] = commit
        repo.refs[ref] = commit.oid
        return commit

    # -- lookups that answer the way the Hub does -------------------------------------------
    def _visible_repo(self, repo_id: str, request: Request) -> Repo:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and request.token is None):
            status = 401 if request.token is None else 404
            raise HubError(status, "RepoNotFound", f"Repository not found: {repo_id}")
        return repo

    def _commit_at(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit

    # -- routing -------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        match request.method, request.parts:
            case "POST", ["api", "repos", "create"]:
                return self._api_create_repo(request)
            case "POST", ["api", "validate-yaml"]:
                return Response.json({"errors": [], "warnings": []})
            case "GET", ["api", "models", namespace, name]:
                return self._api_info(request, f"{namespace}/{name}", "main")
            case "GET", ["api", "models", namespace, name, "revision", revision]:
                return self._api_info(request, f"{namespace}/{name}", revision)
            case "GET", ["api", "models", namespace, name, "tree", revision, *path]:
                return self._api_tree(request, f"{namespace}/{name}", revision, "/".join(path))
            case "GET", ["api", "models", namespace, name, "refs"]:
                return self._api_refs(request, f"{namespace}/{name}")
            case "POST", ["api", "models", namespace, name, "branch", branch]:
                return self._api_create_branch(request, f"{namespace}/{name}", branch)
            case "POST", ["api", "models", namespace, name, "preupload", revision]:
                return self._api_preupload(request, f"{namespace}/{name}", revision)
            case "POST", ["api", "models", namespace, name, "commit", revision]:
                return self._api_commit(request, f"{namespace}/{name}", revision)
            case "GET" | "HEAD", [namespace, name, "resolve", revision, *path] if path:
                return self._resolve(request, f"{namespace}/{name}", revision, "/".join(path))
        raise HubError(
            404, None, f"{request.method} /{'/'.join(request.parts)} is not implemented by the test hub"
        )

    def _require_token(self, request: Request) -> None:
        if request.token is None:
            raise HubError(401, None, "Invalid credentials in Authorization header")

    def _api_create_repo(self, request: Request) -> Response:
        self._require_token(request)
        payload = request.json()
        if payload.get("type", "model") != "model":
            raise HubError(400, None, "The test hub only hosts model repos")
        repo_id = f"{payload.get('organization') or USER}/{payload['name']}"
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        with self._lock:
            if repo_id in self.repos:
                return Response.json(
                    {"error": "You already created this model repo", "url": f"{self.url}/{repo_id}"}, 409
                )
            self.create_repo(repo_id, private)
        return Response.json({"url": f"{self.url}/{repo_id}", "name": repo_id, "id": repo_id})

    def _api_info(self, request: Request, repo_id: str, revision: str) -> Response:
        repo = self._visible_repo(repo_id, request)
        commit = self._commit_at(repo, revision)
        return Response.json(
            {
                "_id": repo_id,
                "id": repo_id,
                "modelId": repo_id,
                "author": repo_id.split("/")[0],
                "sha": commit.oid,
                "lastModified": commit.date,
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "tags": [],
                "siblings": [{"rfilename": path} for path in sorted(commit.files)],
            }
        )

    def _api_tree(self, request: Request, repo_id: str, revision: str, folder: str) -> Response:
        files = self._commit_at(self._visible_repo(repo_id, request), revision).files
        prefix = f"{folder}/" if folder else ""
        inside = [path for path in sorted(files) if path.startswith(prefix)]
        folders = sorted({"/".join(p.split("/")[:i]) for p in inside for i in range(1, p.count("/") + 1)})
        entries = [
            {"type": "directory", "path": d, "oid": git_blob_sha(d.encode()), "size": 0}
            for d in folders
            if d.startswith(prefix)
        ]
        entries += [
            {"type": "file", "path": p, "oid": git_blob_sha(files[p]), "size": len(files[p])} for p in inside
        ]
        if folder and not entries:
            raise HubError(404, "EntryNotFound", f"{folder} does not exist at {revision}")
        if request.query.get("recursive", "false").lower() != "true":
            entries = [e for e in entries if "/" not in e["path"][len(prefix) :]]
        return Response.json(entries)

    def _api_refs(self, request: Request, repo_id: str) -> Response:
        repo = self._visible_repo(repo_id, request)

        def info(name: str, ref: str) -> dict[str, str]:
            return {"name": name, "ref": ref, "targetCommit": repo.refs[name]}

        return Response.json(
            {
                "branches": [info(b, f"refs/heads/{b}") for b in repo.branches],
                "converts": [],
                "tags": [],
                "pullRequests": [info(pr, pr) for pr in repo.pull_requests],
            }
        )

    def _api_create_branch(self, request: Request, repo_id: str, branch: str) -> Response:
        self._require_token(request)
        repo = self._visible_repo(repo_id, request)
        start = self._commit_at(repo, request.json().get("startingPoint") or "main")
        with self._lock:
            if branch in repo.refs:
                raise HubError(409, None, f"Reference {branch} already exists")
            repo.refs[branch] = start.oid
        return Response.json({})

    def _api_preupload(self, request: Request, repo_id: str, revision: str) -> Response:
        self._require_token(request)
        files = self._commit_at(self._visible_repo(repo_id, request), revision).files
        answers = [
            {
                "path": f["path"],
                "uploadMode": "regular",
                "shouldIgnore": False,
                "oid": git_blob_sha(files[f["path"]]) if f["path"] in files else None,
            }
            for f in request.json()["files"]
        ]
        return Response.json({"files": answers})

    def _api_commit(self, request: Request, repo_id: str, revision: str) -> Response:
        self._require_token(request)
        repo = self._visible_repo(repo_id, request)
        header, changes = _parse_ndjson_commit(request.body)
        create_pr = request.query.get("create_pr") == "1"
        commit, pr = self.commit(repo, revision, header.get("summary", ""), changes, create_pr=create_pr)
        return Response.json(
            {
                "success": True,
                "commitOid": commit.oid,
                "commitUrl": f"{self.url}/{repo_id}/commit/{commit.oid}",
                "hookOutput": "",
                "pullRequestUrl": f"{self.url}/{repo_id}/discussions/{pr}" if pr else None,
            }
        )

    def _resolve(self, request: Request, repo_id: str, revision: str, path: str) -> Response:
        commit = self._commit_at(self._visible_repo(repo_id, request), revision)
        if path not in commit.files:
            raise HubError(
                404, "EntryNotFound", f"{path} does not exist at {revision}", {"X-Repo-Commit": commit.oid}
            )
        data = commit.files[path]
        headers = {
            "X-Repo-Commit": commit.oid,
            "ETag": f'"{git_blob_sha(data)}"',
            "Content-Type": "application/octet-stream",
        }
        return Response(200, data, headers)


def _parse_ndjson_commit(body: bytes) -> tuple[dict[str, Any], dict[str, bytes | None]]:
    """The header and the changes (path -> new content, or None to delete) of a commit payload."""
    header: dict[str, Any] = {}
    changes: dict[str, bytes | None] = {}
    for line in body.splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        key, value = item["key"], item["value"]
        if key == "header":
            header = value
        elif key == "file":
            content = value["content"]
            changes[value["path"]] = (
                base64.b64decode(content) if value.get("encoding") == "base64" else content.encode()
            )
        elif key == "deletedFile":
            changes[value["path"]] = None
        elif key == "deletedFolder":
            changes[value["path"].rstrip("/") + "/"] = None
        else:
            raise HubError(
                400, None, f"{key!r} operations are not supported by the test hub (no LFS, no Xet)"
            )
    return header, changes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client pools connections

    def setup(self) -> None:
        super().setup()
        hub: HubServer = self.server.hub  # type: ignore[attr-defined]
        with hub._lock:
            hub._connections.add(self.connection)

    def finish(self) -> None:
        hub: HubServer = self.server.hub  # type: ignore[attr-defined]
        with hub._lock:
            hub._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:  # silence the per-request log
        pass

    def _serve(self, method: str) -> None:
        hub: HubServer = self.server.hub  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        auth = self.headers.get("Authorization", "")
        request = Request(
            method=method,
            parts=[unquote(part) for part in url.path.strip("/").split("/")],
            query={k: v[-1] for k, v in parse_qs(url.query).items()},
            body=self.rfile.read(int(self.headers.get("Content-Length") or 0)),
            token=auth.removeprefix("Bearer ").strip() or None,
        )
        try:
            with hub._lock:  # one request at a time: plenty for tests, and no races on the state
                hub.requests.append((method, self.path))
                response = hub.handle(request)
        except HubError as err:
            response = Response.json({"error": err.message}, err.status)
            response.headers.update(err.headers)
            response.headers["X-Error-Message"] = err.message
            if err.code:
                response.headers["X-Error-Code"] = err.code
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(response.body)
