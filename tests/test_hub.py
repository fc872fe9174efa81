"""Hub ids: which names are hub ids, failing fast when the hub cannot be reached, and the
stages on hub ids through the same code a real run uses, against tests/hub_server.py.

Each stage runs in a subprocess whose environment points HF_ENDPOINT at the
local hub (HF_HOME at a fresh cache, offline switches off), as a user's would.
"""

import json
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml
from conftest import REPO_ROOT, run_stage
from hub_server import DATASET, MODEL, HubServer

from dialogsum_lora.data import load_source
from dialogsum_lora.errors import UserError

pytestmark = pytest.mark.slow


def hub_environment(endpoint: str, hf_home, **extra: str) -> dict[str, str]:
    """This process's environment without HF_* and proxy settings, pointed at `endpoint`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and "proxy" not in k.lower()}
    environment.update(HF_ENDPOINT=endpoint, HF_HOME=str(hf_home), **extra)
    return environment


@pytest.fixture
def hub(tiny_model_dir, dialogsum_dir, tmp_path_factory):
    """The tiny model, with a pickle and code beside it, and the dialogsum CSVs, served; their commits."""
    model_dir = tmp_path_factory.mktemp("served") / "tiny-t5"
    shutil.copytree(tiny_model_dir, model_dir)
    (model_dir / "pytorch_model.bin").write_bytes(b"a pickle that must never be loaded")
    (model_dir / "modeling_t5.py").write_text("raise SystemExit('remote code ran')\n")
    with HubServer() as server:
        commits = SimpleNamespace(
            model=server.add_model(MODEL, model_dir), data=server.add_dataset(DATASET, dialogsum_dir)
        )
        yield server, commits


def write_params(directory, **sections) -> None:
    """The repository's params.yaml with the sections given changed, and a run of a few steps."""
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["train"].update(max_steps=2, logging_steps=1, save_steps=10)
    params["generate"].update(max_new_tokens=8)
    for section, values in sections.items():
        params[section].update(values)
    (directory / "params.yaml").write_text(yaml.safe_dump(params))


def test_stages_load_hub_ids_at_a_pinned_revision_and_record_the_commit(hub, tmp_path):
    server, commits = hub
    write_params(
        tmp_path, data={"source": DATASET, "revision": commits.data}, model={"name": MODEL, "revision": "main"}
    )
    environment = hub_environment(server.url, tmp_path / "hf-home")
    for stage in ("prepare", "baseline", "finetune", "evaluate"):
        result = run_stage(tmp_path, stage, environment)
        assert result.returncode == 0, f"{stage}: {result.stderr[-3000:]}"
    stats = json.loads((tmp_path / "reports/data_stats.json").read_text())
    assert stats["source"] == {"name": DATASET, "revision": commits.data, "resolved": commits.data}
    assert stats["test"] == {"dialogues": 2, "mean_dialogue_words": 7.5, "references": 6, "also_in_train": 0}
    for record in (
        "reports/baseline/provenance.json",
        "models/adapter/provenance.json",
        "reports/finetuned/provenance.json",
    ):
        model = json.loads((tmp_path / record).read_text())["model"]
        assert model == {"name": MODEL, "revision": "main", "resolved": commits.model}, record
    test_ids = [json.loads(line)["id"] for line in (tmp_path / "data/prepared/test.jsonl").read_text().splitlines()]
    assert test_ids == ["test_0", "test_1"]  # the hub's test_0_1, test_0_2, test_0_3 are one dialogue
    # The repository also holds pickled weights and code (see the fixture): never even asked for.
    asked = {path.rsplit("/", 1)[-1] for _, path in server.requests if path.startswith(f"/{MODEL}/resolve/")}
    assert asked == {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    }
    assert server.unhandled == []


@pytest.mark.parametrize(
    "stage, sections, message",
    [
        ("prepare", {"data": {"source": "test-org/no-such-data"}}, "could not load dataset 'test-org/no-such-data'"),
        (
            "prepare",
            {"data": {"source": DATASET, "revision": "v9"}},
            f"could not load dataset '{DATASET}' at revision v9",
        ),
        (
            "prepare",
            {"data": {"source": DATASET, "splits": {"train": "train", "validation": "dev", "test": "test"}}},
            f"dataset '{DATASET}' has no dev split (it has train, validation, test): data.splits.validation",
        ),
        ("baseline", {"model": {"name": "test-org/no-such-model"}}, "could not load model 'test-org/no-such-model'"),
        (
            "baseline",
            {"model": {"name": MODEL, "revision": "0" * 40}},
            f"could not load model '{MODEL}' at revision {'0' * 40}",
        ),
    ],
)
def test_an_unknown_hub_id_or_revision_fails_in_one_line(hub, tmp_path, stage, sections, message):
    server, _ = hub
    write_params(tmp_path, **sections)
    (tmp_path / "data/prepared").mkdir(parents=True)
    (tmp_path / "data/prepared/test.jsonl").write_text('{"id": "t", "dialogue": "d", "references": ["r"]}\n')
    result = run_stage(tmp_path, stage, hub_environment(server.url, tmp_path / "hf-home"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    # One line, after the progress of a dataset loaded before a split is found missing, and nothing else.
    *before, last = result.stderr.splitlines()
    assert last.startswith("error: ") and message in last
    assert all(line.startswith("Generating ") or not line.strip() for line in "".join(before).split("\r")), before
    assert "HF_HUB_OFFLINE" not in result.stderr  # online: the hub's own answer, no advice about a switch never set


PROBE = (
    "from huggingface_hub import constants; import dialogsum_lora.hub as h; "
    "h.offline_unless_reachable(); print(constants.HF_HUB_OFFLINE)"
)


@pytest.mark.parametrize(
    "proxy, no_proxy, offline",
    [(True, None, False), (False, None, True), (True, "hub.invalid", True)],
    ids=["through-the-proxy", "no-proxy-unreachable", "no_proxy-bypasses-it"],
)
def test_the_hub_probe_honours_proxies_as_huggingface_hub_does(hub, tmp_path, proxy, no_proxy, offline):
    # hub.invalid cannot be resolved: only a proxy reaches it.
    server, _ = hub
    extra = {"HTTP_PROXY": server.url} if proxy else {}
    if no_proxy:
        extra["NO_PROXY"] = no_proxy
    environment = hub_environment("http://hub.invalid", tmp_path, **extra)
    result = subprocess.run([sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(offline)
    assert (server.proxied_requests > 0) == (proxy and not no_proxy)


def test_stages_download_through_a_proxy(hub, tmp_path):
    server, commits = hub
    write_params(tmp_path, data={"source": DATASET, "revision": None}, model={"name": MODEL, "revision": None})
    environment = hub_environment("http://hub.invalid", tmp_path / "hf-home", HTTP_PROXY=server.url)
    for stage in ("prepare", "baseline"):
        result = run_stage(tmp_path, stage, environment)
        assert result.returncode == 0, f"{stage}: {result.stderr[-3000:]}"
    assert json.loads((tmp_path / "reports/baseline/provenance.json").read_text())["model"]["resolved"] == commits.model
    assert server.proxied_requests > 10


def test_unreachable_hub_switches_to_offline_after_one_short_request(monkeypatch):
    import datasets.config
    import huggingface_hub.utils
    from huggingface_hub import constants

    from dialogsum_lora.hub import CONNECT_TIMEOUT_S, offline_unless_reachable

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    asked = []
    session = huggingface_hub.utils.get_session()
    monkeypatch.setattr(huggingface_hub.utils, "get_session", lambda: session)
    monkeypatch.setattr(
        session,
        "head",
        lambda url, **options: asked.append((url, options)) or session.__class__.head(session, url, **options),
    )
    reason = offline_unless_reachable()
    assert asked == [
        ("http://127.0.0.1:9", {"timeout": CONNECT_TIMEOUT_S, "follow_redirects": False})
    ]  # one try, no retries
    assert constants.HF_HUB_OFFLINE and datasets.config.HF_HUB_OFFLINE
    assert "127.0.0.1:9" in reason and "does not answer" in reason


def test_an_offline_hub_dataset_is_one_error_with_offline_advice():
    with pytest.raises(UserError) as error:
        load_source("knkarthick/dialogsum", None)
    message = str(error.value)
    assert "knkarthick/dialogsum" in message and "data/sample" in message and "HF_HUB_OFFLINE is set" in message
    assert "revision None" not in message and ".." not in message


def test_source_that_is_neither_directory_nor_hub_id(tmp_path):
    with pytest.raises(UserError, match="is neither a directory nor a hub id such as knkarthick/dialogsum"):
        load_source(str(tmp_path / "missing" / "dir"), None)
