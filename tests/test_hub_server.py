"""The local hub of tests/hub_server.py answers as the real one does (the stages' own use of
it, with transformers and datasets, is tested in test_hub.py).

Each client runs in a subprocess whose environment sets HF_ENDPOINT, HF_HOME
and the offline switches, exactly as a user's would. Doing it in this process
would mean undoing conftest.py's HF_HUB_OFFLINE=1 and patching every copy
the libraries take at import: huggingface_hub.constants (ENDPOINT,
HUGGINGFACE_CO_URL_TEMPLATE, HF_URL_HOSTS, HF_HUB_OFFLINE, HF_HOME and the
cache paths), huggingface_hub.utils._http._HUB_ORIGINS, datasets.config
(HF_ENDPOINT, HUB_DATASETS_URL, HF_HUB_OFFLINE, the cache paths), the
HfFileSystem instance cache, and the shared httpx client, which reads
HTTP_PROXY once when it is created.
"""

import json
import os
import subprocess
import sys
import textwrap
from http.client import HTTPConnection
from pathlib import Path
from types import SimpleNamespace

import pytest
from hub_server import DATASET, MODEL, HubServer

RESULT = "RESULT "  # the line of a client's stdout that carries its findings, as JSON


@pytest.fixture
def served(tiny_model_dir, dialogsum_dir):
    """A HubServer with the tiny T5 and the dialogsum CSVs on "main"; the commits it serves them at."""
    with HubServer() as hub:
        model = hub.add_model(MODEL, tiny_model_dir)
        dataset = hub.add_dataset(DATASET, dialogsum_dir)
        yield SimpleNamespace(hub=hub, model=model, dataset=dataset, model_dir=tiny_model_dir)


def run_client(code: str, hf_home: Path, endpoint: str, **environment: str) -> dict:
    """Run `code` in a fresh Python with the hub at `endpoint`; return what it printed after RESULT, as JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and "proxy" not in k.lower()}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(hf_home),
        HF_HUB_OFFLINE="0",
        HF_DATASETS_OFFLINE="0",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        **environment,
    )
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=120
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads(next(line for line in process.stdout.splitlines() if line.startswith(RESULT))[len(RESULT) :])


def test_hf_api_reports_the_served_commits(served, tmp_path, dialogsum_dir):
    v2 = tmp_path / "v2"
    (v2 / "sub").mkdir(parents=True)
    (v2 / "config.json").write_text("{}")
    (v2 / "sub" / "weights.bin").write_bytes(b"0123")
    v2_commit = served.hub.add_model(MODEL, v2, branch="v2")
    found = run_client(
        """
        import json
        from huggingface_hub import HfApi

        api = HfApi()
        model = api.model_info("test-org/tiny-t5")
        print("RESULT " + json.dumps({
            "model": model.sha,
            "siblings": [sibling.rfilename for sibling in model.siblings],
            "v2": api.model_info("test-org/tiny-t5", revision="v2").sha,
            "dataset": api.dataset_info("test-org/dialogsum", revision="main").sha,
            "tree": [entry.path for entry in api.list_repo_tree("test-org/dialogsum", repo_type="dataset")],
            "v2 trees": [
                [
                    entry.path
                    for entry in api.list_repo_tree("test-org/tiny-t5", path, revision="v2", recursive=recursive)
                ]
                for path, recursive in [(None, False), (None, True), ("sub", False)]
            ],
            "paths_info": [
                [entry.path, entry.size]
                for entry in api.get_paths_info("test-org/dialogsum", ["test.csv", "absent.csv"], repo_type="dataset")
            ],
        }))
        """,
        tmp_path / "home",
        served.hub.url,
    )
    assert found["model"] == served.model != v2_commit == found["v2"]
    assert found["siblings"] == sorted(path.name for path in served.model_dir.iterdir())
    assert found["dataset"] == served.dataset
    assert found["tree"] == ["test.csv", "train.csv", "validation.csv"]
    assert found["v2 trees"] == [["config.json", "sub"], ["config.json", "sub", "sub/weights.bin"], ["sub/weights.bin"]]
    assert found["paths_info"] == [["test.csv", (dialogsum_dir / "test.csv").stat().st_size]]
    assert served.hub.unhandled == []


def test_clients_honour_an_http_proxy(served, tmp_path):
    found = run_client(
        """
        import json
        from huggingface_hub import HfApi

        print("RESULT " + json.dumps(HfApi().model_info("test-org/tiny-t5").sha))
        """,
        tmp_path,
        "http://hub.invalid",  # unresolvable: only the proxy can answer
        HTTP_PROXY=served.hub.url,
    )
    assert found == served.model
    assert ("GET", f"/api/models/{MODEL}") in served.hub.requests
    assert served.hub.proxied_requests == len(served.hub.requests)


def test_responses_carry_what_the_hub_sends(served):
    """The raw protocol: download headers, byte ranges, error codes, proxy requests."""
    connection = HTTPConnection(served.hub.url.removeprefix("http://"))

    def request(method: str, path: str, **headers: str):
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()

    config = (served.model_dir / "config.json").read_bytes()
    status, headers, body = request("HEAD", f"/{MODEL}/resolve/main/config.json")
    assert (status, body) == (200, b"")
    assert headers["X-Repo-Commit"] == served.model
    assert headers["Content-Length"] == str(len(config))
    assert headers["ETag"].startswith('"')
    status, headers, body = request("GET", f"/{MODEL}/resolve/{served.model}/config.json", Range="bytes=2-5")
    assert (status, headers["Content-Range"], body) == (206, f"bytes 2-5/{len(config)}", config[2:6])
    for path, code in [
        ("/test-org/missing/resolve/main/config.json", "RepoNotFound"),
        (f"/{MODEL}/resolve/v9/config.json", "RevisionNotFound"),
        (f"/api/datasets/{DATASET}/revision/refs%2Fconvert%2Fparquet", "RevisionNotFound"),
        (f"/{MODEL}/resolve/main/absent.json", "EntryNotFound"),
    ]:
        status, headers, _ = request("GET", path)
        assert (status, headers["X-Error-Code"]) == (404, code), path
    status, _, body = request("GET", f"http://hub.invalid/api/models/{MODEL}")
    assert status == 200 and json.loads(body)["sha"] == served.model
    assert served.hub.proxied_requests == 1
    connection.close()
