"""The base model: found (a directory or the hub), checked before it loads, loaded without
running anything from its directory."""

import json
import shutil

import pytest
import torch

from dialogsum_lora.errors import UserError
from dialogsum_lora.modeling.adapter import check_adapter
from dialogsum_lora.modeling.base import load_base_model, load_tokenizer, model_directory
from dialogsum_lora.provenance import directory_hash

CPU = torch.device("cpu")


def test_missing_model_directory_and_files_are_clear_errors(tmp_path, tiny_model_dir):
    with pytest.raises(UserError, match="is neither a directory nor a hub id such as google/flan-t5-base"):
        model_directory(str(tmp_path / "nowhere"), None)
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    assert model_directory(str(copy), None) == (copy, directory_hash(copy))
    with pytest.raises(UserError, match=r"model.name is the local directory .*, so model.revision must be null"):
        model_directory(str(copy), "main")
    (copy / "model.safetensors").rename(copy / "weights.bak")
    with pytest.raises(UserError, match="holds no .safetensors weights"):
        model_directory(str(copy), None)
    (copy / "weights.bak").rename(copy / "model.safetensors")
    (copy / "tokenizer.json").unlink()
    with pytest.raises(UserError, match="has no tokenizer.json: .* every summary would come out empty"):
        model_directory(str(copy), None)
    with pytest.raises(UserError, match="no trained adapter or model in"):
        check_adapter(tmp_path / "empty", "sha256:x")


def test_an_offline_hub_model_is_one_error_saying_why_and_what_to_do():
    with pytest.raises(UserError) as error:
        model_directory("google/flan-t5-base", None)
    message = str(error.value)
    assert "google/flan-t5-base" in message and "dialogsum-tiny-model" in message and "HF_HUB_OFFLINE is set" in message
    # What is true here: the user set HF_HUB_OFFLINE; no "set HF_HUB_OFFLINE=0", no "revision None", no "..".
    assert "HF_HUB_OFFLINE=0" not in message and "None" not in message and ".." not in message


def test_no_code_from_a_model_directory_runs_whatever_the_user_answers(tmp_path, tiny_model_dir, monkeypatch):
    import builtins
    import sys

    from dialogsum_lora.params.methods import LoraParams
    from dialogsum_lora.training.trainer import check_target_modules

    marker = tmp_path / "code-ran"
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    for name, classes in (
        ("config.json", {"AutoConfig": "evil.Config", "AutoModelForSeq2SeqLM": "evil.Model"}),
        ("tokenizer_config.json", {"AutoTokenizer": ["evil.Tokenizer", "evil.Tokenizer"]}),
    ):
        config = json.loads((model / name).read_text())
        (model / name).write_text(json.dumps({**config, "auto_map": classes}))
    # A terminal whose user answers "y" to "Do you wish to run the custom code?"
    monkeypatch.setattr(builtins, "input", lambda *args: "y")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)

    directory, _ = model_directory(str(model), None)
    check_target_modules(
        "lora", LoraParams(r=2, alpha=2.0, dropout=0.0, target_modules=["q", "v"]), directory, str(directory)
    )
    load_tokenizer(directory)
    load_base_model(directory, torch.float32, CPU)
    assert not marker.exists()

    # A model type that only the directory's code defines is refused by transformers, not run.
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "model_type": "evil-t5"}))
    with pytest.raises(ValueError, match="custom code"):
        check_target_modules(
            "lora", LoraParams(r=2, alpha=2.0, dropout=0.0, target_modules=["q"]), directory, str(directory)
        )
    assert not marker.exists()


def _damaged_copy(tiny_model_dir, tmp_path, damage) -> str:
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    weights = load_file(copy / "model.safetensors")
    if damage == "no tensors":
        weights = {}
    elif damage == "no encoder":
        weights = {name: tensor for name, tensor in weights.items() if not name.startswith("encoder.")}
    save_file(weights, copy / "model.safetensors", metadata={"format": "pt"})
    return str(copy)


@pytest.mark.parametrize(
    "damage, message",
    [("no tensors", "lack 54 the model needs"), ("no encoder", r"the model needs \(first: encoder\.")],
)
def test_weights_that_are_missing_are_refused_not_started_at_random(tmp_path, tiny_model_dir, damage, message):
    directory, _ = model_directory(_damaged_copy(tiny_model_dir, tmp_path, damage), None)
    with pytest.raises(UserError, match=message):
        load_base_model(directory, torch.float32, CPU)


def test_only_regular_files_are_read_from_a_model_directory(tmp_path, tiny_model_dir):
    import os

    for name in ("extra.safetensors", "config.json"):
        copy = tmp_path / name / "model"
        shutil.copytree(tiny_model_dir, copy)
        (copy / name).unlink(missing_ok=True)
        os.mkfifo(copy / name)  # reading it would wait forever
        with pytest.raises(UserError) as error:
            model_directory(str(copy), None)
        assert str(copy / name) in str(error.value) and "regular file" in str(error.value)


def test_file_names_that_are_not_utf8_are_hashed_not_a_crash(tmp_path, tiny_model_dir):
    import os

    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    before = directory_hash(copy)
    with open(os.path.join(os.fsencode(copy), b"notes-\xff.txt"), "wb") as handle:  # a Latin-1 name, not UTF-8
        handle.write(b"a user's notes")
    after = directory_hash(copy)
    assert after != before and after == directory_hash(copy) and model_directory(str(copy), None)[1] == after
