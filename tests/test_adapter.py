"""The adapter: saved with what it was trained on, loaded from safetensors only, refused when it
belongs to another base model."""

import json
import shutil

import pytest
import torch

from dialogsum_lora.adapter import check_adapter, load_adapter
from dialogsum_lora.errors import UserError
from dialogsum_lora.modeling import load_base_model, model_directory
from dialogsum_lora.provenance import directory_hash

CPU = torch.device("cpu")


def _save_adapter(model, tokenizer_dir, directory, trained_on):
    from peft import LoraConfig, get_peft_model

    get_peft_model(model, LoraConfig(r=2, target_modules=["q", "v"])).save_pretrained(directory)
    shutil.copy(tokenizer_dir / "tokenizer.json", directory)
    (directory / "provenance.json").write_text(json.dumps({"model": {"name": "m", "resolved": trained_on}}))


def test_adapter_for_another_base_model_is_refused_even_when_the_shapes_match(tmp_path, tiny_model_dir):
    from transformers import T5Config, T5ForConditionalGeneration

    model_dir, resolved = model_directory(str(tiny_model_dir), None)
    base = load_base_model(model_dir, torch.float32, CPU)
    # The same architecture with other weights: every shape matches, so only the record can tell.
    retrained = tmp_path / "retrained"
    shutil.copytree(tiny_model_dir, retrained)
    (retrained / "generation_config.json").write_text((retrained / "generation_config.json").read_text() + "\n")
    _save_adapter(load_base_model(retrained, torch.float32, CPU), tiny_model_dir, tmp_path / "same-shape", directory_hash(retrained))
    with pytest.raises(UserError, match="was trained on another base model"):
        check_adapter(tmp_path / "same-shape", resolved)
    # Recorded as trained on this base, but with other shapes: refused by PEFT's load.
    other = T5ForConditionalGeneration(T5Config(vocab_size=50, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2))
    _save_adapter(other, tiny_model_dir, tmp_path / "other-shape", resolved)
    check_adapter(tmp_path / "other-shape", resolved)
    with pytest.raises(UserError, match="does not fit model"):
        load_adapter(base, tmp_path / "other-shape")


def test_adapters_load_from_safetensors_only_and_corrupt_files_are_named(tmp_path, tiny_model_dir):
    model_dir, resolved = model_directory(str(tiny_model_dir), None)
    adapter = tmp_path / "adapter"
    _save_adapter(load_base_model(model_dir, torch.float32, CPU), tiny_model_dir, adapter, resolved)
    check_adapter(adapter, resolved)
    (adapter / "adapter_model.safetensors").rename(adapter / "adapter_model.bin")
    with pytest.raises(UserError, match=r"has no adapter_model.safetensors \(weights found: adapter_model.bin\)"):
        check_adapter(adapter, resolved)
    (adapter / "adapter_model.safetensors").write_bytes((adapter / "adapter_model.bin").read_bytes()[:-10])
    with pytest.raises(UserError, match="adapter_model.safetensors is not a complete safetensors file"):
        check_adapter(adapter, resolved)
    (adapter / "adapter_config.json").write_text("{")
    with pytest.raises(UserError, match="adapter_config.json is not valid JSON"):
        check_adapter(adapter, resolved)


@pytest.mark.parametrize("damage", ["no tensors", "config names fewer layers", "nan"])
def test_adapter_weights_must_be_exactly_those_its_config_asks_for_and_finite(tmp_path, tiny_model_dir, damage):
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file, save_file

    model_dir, resolved = model_directory(str(tiny_model_dir), None)
    adapter = tmp_path / "adapter"
    base = load_base_model(model_dir, torch.float32, CPU)
    get_peft_model(base, LoraConfig(r=2, target_modules=["q", "v"])).save_pretrained(adapter)
    shutil.copy(tiny_model_dir / "tokenizer.json", adapter)
    (adapter / "provenance.json").write_text(json.dumps({"model": {"name": "m", "resolved": resolved}}))
    weights = load_file(adapter / "adapter_model.safetensors")
    if damage == "no tensors":
        weights = {}
    elif damage == "nan":
        weights = {name: torch.full_like(tensor, float("nan")) for name, tensor in weights.items()}
    else:  # PEFT would load q and silently drop the trained v weights
        config = json.loads((adapter / "adapter_config.json").read_text())
        (adapter / "adapter_config.json").write_text(json.dumps({**config, "target_modules": ["q"]}))
    save_file(weights, adapter / "adapter_model.safetensors", metadata={"format": "pt"})
    check_adapter(adapter, resolved)
    message = "are not all finite" if damage == "nan" else "does not hold the weights its adapter_config.json asks for"
    with pytest.raises(UserError, match=message):
        load_adapter(load_base_model(model_dir, torch.float32, CPU), adapter)


@pytest.mark.parametrize("record", ['{"model": "x"}', '{"model": null}', "[]"])
def test_a_malformed_base_model_record_is_refused(tmp_path, tiny_model_dir, record):
    model_dir, resolved = model_directory(str(tiny_model_dir), None)
    adapter = tmp_path / "adapter"
    _save_adapter(load_base_model(model_dir, torch.float32, CPU), tiny_model_dir, adapter, resolved)
    (adapter / "provenance.json").write_text(record)
    with pytest.raises(UserError, match="was trained on another base model"):
        check_adapter(adapter, resolved)
