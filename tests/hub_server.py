"""A local Hugging Face hub for tests that must go through the real hub code path.

    with HubServer() as hub:
        commit = hub.add_model("test-org/tiny-t5", model_dir)      # sha of "main"
        hub.add_dataset("test-org/dialogsum", csv_dir)
        # run the code under test with HF_ENDPOINT=hub.url (and HF_HUB_OFFLINE unset)

It serves, on 127.0.0.1 at a free port, only what huggingface_hub 2.4,
transformers 5 and datasets 5 ask for when downloading (REPO is "org/name",
TYPE is "models" or "datasets", REV a branch name or a full commit sha,
URL-encoded as the clients send it):

    HEAD|GET /REPO/resolve/REV/PATH            a model file (Range supported)
    HEAD|GET /datasets/REPO/resolve/REV/PATH   a dataset file
    GET  /api/TYPE/REPO[/revision/REV]         repo info: id, sha, siblings...
    GET  /api/TYPE/REPO/tree/REV[/PATH]        a folder listing (?recursive=true)
    POST /api/TYPE/REPO/paths-info/REV         the entries of the form's `paths`
    GET  /api/agent-harnesses                  an empty registry (hub telemetry)
    HEAD|GET /                                 the front page: the hub answers
    GET  /info, /parquet                       404: no dataset-viewer export

Failures are 404s with the X-Error-Code the real hub sends (RepoNotFound,
RevisionNotFound, EntryNotFound), which huggingface_hub turns into its usual
exceptions without retrying. Anything else is a 404 without a code, recorded
in `unhandled`. A request line with an absolute URI (what an HTTP client
sends to the proxy of HTTP_PROXY) is served as if addressed to this server and
counted in `proxied_requests`, so a test can check that a proxy is honoured.

Every file is served as a plain git file from the resolve URL: no LFS or Xet,
no redirects, no tags or pull-request refs, no authentication.
"""

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

_REPO = r"(?P<repo>[^/]+/[^/]+)"
_API = rf"/api/(?P<kind>models|datasets)/{_REPO}"
ROUTES = [  # (methods, pattern, handler name); patterns match the still URL-encoded path
    (("GET", "HEAD"), rf"/(?:(?P<kind>datasets)/)?{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    (("GET",), rf"{_API}(?:/revision/(?P<rev>[^/]+))?", "info"),
    (("GET",), rf"{_API}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "tree"),
    (("POST",), rf"{_API}/paths-info/(?P<rev>[^/]+)", "paths_info"),
    (("GET",), r"/api/agent-harnesses", "agent_harnesses"),
    (("GET", "HEAD"), r"/", "home"),
    (("GET",), r"/(?:info|parquet)", "dataset_viewer"),
]
LAST_MODIFIED = "2024-01-01T00:00:00.000Z"


def git_blob_id(data: bytes) -> str:
    """The git object id of a file's content: what the hub reports as a file's oid and ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    """A repository: immutable commits (sha -> {path: content}) and branches (name -> sha)."""

    kind: str  # "models" or "datasets", as in the API paths
    repo_id: str
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    def commit(self, files: dict[str, bytes], branch: str) -> str:
        """Record `files` as a commit that `branch` now points at; return its sha."""
        listing = sorted((path, git_blob_id(data)) for path, data in files.items())
        sha = hashlib.sha1(json.dumps([self.kind, self.repo_id, listing]).encode()).hexdigest()
        self.commits[sha] = files
        self.branches[branch] = sha
        return sha


class HubError(Exception):
    """A 404 the way the hub sends it: X-Error-Code and X-Error-Message headers, a JSON body."""

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.headers = {"X-Error-Code": code, "X-Error-Message": message, **(headers or {})}


class HubServer:
    """A hub-compatible HTTP server in a background thread; a context manager that stops it on exit.

    `url` is its endpoint, `requests` the (method, path with query) of every
    request received, `proxied_requests` how many came as proxy requests,
    `unhandled` those it could not answer: no route matched (a 404 without
    error code), or answering failed (a 400, which clients do not retry).
    """

    def __init__(self):
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.unhandled: list[tuple[str, str]] = []
        self.proxied_requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.hub = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The endpoint, "http://127.0.0.1:PORT", for HF_ENDPOINT (or HTTP_PROXY)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_model(self, repo_id: str, directory: Path, branch: str = "main") -> str:
        """Serve the files under `directory` as a commit of model `repo_id` on `branch`; return its sha."""
        return self._add("models", repo_id, Path(directory), branch)

    def add_dataset(self, repo_id: str, directory: Path, branch: str = "main") -> str:
        """Serve the files under `directory` as a commit of dataset `repo_id` on `branch`; return its sha."""
        return self._add("datasets", repo_id, Path(directory), branch)

    def _add(self, kind: str, repo_id: str, directory: Path, branch: str) -> str:
        # Read now, so the commit stays as it was whatever happens to the directory later.
        files = {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*") if p.is_file()}
        with self._lock:
            repo = self.repos.setdefault((kind, repo_id), Repo(kind, repo_id))
            return repo.commit(files, branch)

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> "HubServer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _record(self, method: str, path: str, proxied: bool) -> None:
        with self._lock:
            self.requests.append((method, path))
            self.proxied_requests += proxied

    def lookup(self, kind: str, repo_id: str, revision: str | None) -> tuple[str, dict[str, bytes]]:
        """(sha, files) of `revision` (default "main"), or the HubError the hub answers."""
        repo = self.repos.get((kind, repo_id))
        if repo is None:
            raise HubError("RepoNotFound", "Repository not found")
        revision = "main" if revision is None else unquote(revision)
        sha = repo.branches.get(revision, revision if revision in repo.commits else None)
        if sha is None:
            raise HubError("RevisionNotFound", f"Invalid rev id: {revision}")
        return sha, repo.commits[sha]


def _entries(files: dict[str, bytes]) -> dict[str, dict]:
    """Every file and folder of a commit, by path, as /tree and /paths-info describe them."""
    entries = {}
    for path, data in sorted(files.items()):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            oid = hashlib.sha1(folder.encode()).hexdigest()
            entries[folder] = {"type": "directory", "oid": oid, "size": 0, "path": folder}
        entries[path] = {"type": "file", "oid": git_blob_id(data), "size": len(data), "path": path}
    return entries


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as with the real hub: every response has a Content-Length
    server: ThreadingHTTPServer

    def do_GET(self):
        self._dispatch()

    do_HEAD = do_POST = do_GET

    def log_message(self, format, *args):
        pass  # `HubServer.requests` is the log

    def _dispatch(self) -> None:
        hub, method = self.server.hub, self.command
        target = urlsplit(self.path)
        proxied = bool(target.scheme)  # "GET http://host/path HTTP/1.1": a proxy request
        path_and_query = target.path + (f"?{target.query}" if target.query else "")
        hub._record(method, path_and_query, proxied)
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.query = parse_qs(target.query)
        handler, arguments = self._route(method, target.path)
        try:
            status, headers, body = handler(hub, **arguments)
        except HubError as error:
            status, headers, body = 404, error.headers, json.dumps({"error": str(error)}).encode()
        except Exception as error:  # a 400: after a 5xx or a dropped connection, clients retry for a minute
            status, headers, body = 400, {"X-Error-Message": f"HubServer failed: {error!r}"}, b"{}"
        if handler == self.not_served or status == 400:
            with hub._lock:
                hub.unhandled.append((method, path_and_query))
        self._send(method, status, {"Content-Type": "application/json", **headers}, body)

    def _route(self, method: str, path: str):
        """The handler method for a request and its arguments, the parts of the path."""
        for methods, pattern, name in ROUTES:
            match = re.fullmatch(pattern, path)
            if match and method in methods:
                return getattr(self, name), match.groupdict()
        return self.not_served, {}

    def _flag(self, name: str) -> bool:
        """Whether the query sets boolean parameter `name` (httpx sends True as "true")."""
        return self.query.get(name, ["false"])[-1].lower() in ("true", "1")

    def _send(self, method: str, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)

    def not_served(self, hub: HubServer):
        """A 404 without an error code: an endpoint this server does not implement."""
        return 404, {}, b'{"error": "not served by HubServer"}'

    def resolve(self, hub: HubServer, kind, repo, rev, path):
        """A file's bytes (or the requested byte range), with the headers hf_hub_download relies on."""
        sha, files = hub.lookup(kind or "models", repo, rev)
        path = unquote(path)
        if path not in files:
            raise HubError("EntryNotFound", "Entry not found", {"X-Repo-Commit": sha})
        data = files[path]
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Repo-Commit": sha,
            "ETag": f'"{git_blob_id(data)}"',
            "Accept-Ranges": "bytes",
        }
        byte_range = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        first, last = byte_range.groups() if byte_range else ("", "")
        if not first and not last:
            return 200, headers, data
        start = max(len(data) - int(last), 0) if not first else int(first)  # "bytes=-N": the last N bytes
        end = len(data) - 1 if not first or not last else min(int(last), len(data) - 1)
        if start > end:
            return 416, {**headers, "Content-Range": f"bytes */{len(data)}"}, b""
        return 206, {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}"}, data[start : end + 1]

    def info(self, hub: HubServer, kind, repo, rev=None):
        """Repo info as /api/models|datasets/REPO[/revision/REV] gives it (file sizes with ?blobs=true)."""
        sha, files = hub.lookup(kind, repo, rev)
        blobs = self._flag("blobs")
        siblings = [
            {"rfilename": path, **({"size": len(data), "blobId": git_blob_id(data)} if blobs else {})}
            for path, data in sorted(files.items())
        ]
        info = {
            "id": repo,
            "author": repo.split("/")[0],
            "sha": sha,
            "lastModified": LAST_MODIFIED,
            "private": False,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
        }
        return 200, {}, json.dumps(info).encode()

    def tree(self, hub: HubServer, kind, repo, rev, path=None):
        """The entries in a folder: its children, or (?recursive=true) everything below it."""
        sha, files = hub.lookup(kind, repo, rev)
        entries = _entries(files)
        folder = unquote(path or "").strip("/")
        if folder and entries.get(folder, {}).get("type") != "directory":
            raise HubError("EntryNotFound", f"{folder} does not exist on {unquote(rev)}", {"X-Repo-Commit": sha})
        prefix = f"{folder}/" if folder else ""
        recursive = self._flag("recursive")
        listing = [
            entry
            for name, entry in sorted(entries.items())
            if name.startswith(prefix) and (recursive or "/" not in name[len(prefix) :])
        ]
        return 200, {}, json.dumps(listing).encode()

    def paths_info(self, hub: HubServer, kind, repo, rev):
        """The entries of the files and folders named by the form field `paths`; missing ones left out."""
        _, files = hub.lookup(kind, repo, rev)
        entries = _entries(files)
        paths = [path.strip("/") for path in parse_qs(self.body.decode()).get("paths", [])]
        return 200, {}, json.dumps([entries[path] for path in paths if path in entries]).encode()

    def dataset_viewer(self, hub: HubServer):
        """No parquet export or info from the dataset viewer, so datasets reads the repo's own files."""
        return 404, {}, b'{"error": "no dataset viewer here"}'

    def home(self, hub: HubServer):
        """The endpoint's front page: what a client sees when it asks whether the hub answers."""
        return 200, {"Content-Type": "text/html"}, b"<html>hub</html>"

    def agent_harnesses(self, hub: HubServer):
        """An empty registry of AI agents: what huggingface_hub assumes when the hub does not answer."""
        return 200, {}, b'{"standardEnvVars": [], "harnesses": {}}'


# --- What the tests serve ---------------------------------------------------------------------

MODEL = "test-org/tiny-t5"
DATASET = "test-org/dialogsum"
DIALOGUES = {
    "train": ["#Person1#: Hi, is this seat free?\n#Person2#: Yes, please sit down.", "#Person1#: Tea?\n#Person2#: No."],
    "validation": ['#Person1#: Where is the bus stop?\n#Person2#: Next to the "Royal" bank, on the left.'],
    "test": ["#Person1#: Can I pay by card?\n#Person2#: Of course.", "#Person1#: Good night.\n#Person2#: Sleep well."],
}
REFERENCES_PER_TEST_DIALOGUE = 3


def dialogsum_rows(split: str) -> list[dict]:
    """The rows of a split as knkarthick/dialogsum has them: the test split one row per reference summary."""
    rows = []
    for n, dialogue in enumerate(DIALOGUES[split]):
        references = range(1, REFERENCES_PER_TEST_DIALOGUE + 1) if split == "test" else [None]
        for k in references:
            row_id = f"{split}_{n}" if k is None else f"{split}_{n}_{k}"
            rows.append({"id": row_id, "dialogue": dialogue, "summary": f"summary of {row_id}", "topic": f"topic {n}"})
    return rows


def write_dialogsum_csvs(directory: Path) -> Path:
    """train.csv, validation.csv and test.csv in the hub's layout, quoted where needed (dialogues span lines)."""
    import csv

    for split in DIALOGUES:
        with open(directory / f"{split}.csv", "w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=["id", "dialogue", "summary", "topic"])
            writer.writeheader()
            writer.writerows(dialogsum_rows(split))
    return directory
