"""The adapter: saved with the record of how it was trained, loaded from safetensors only, refused
when it belongs to another base model or would change the model beyond what training produced."""

import json
import shutil

import pytest
import torch
from test_model_card import RECORD

from dialogsum_lora.errors import UserError
from dialogsum_lora.modeling.adapter import (
    check_adapter,
    load_adapter,
    load_merged_model,
    save_adapter,
    trainable_model,
)
from dialogsum_lora.modeling.base import load_base_model, load_tokenizer, model_directory
from dialogsum_lora.params.lora import LoraParams

CPU = torch.device("cpu")
LORA = LoraParams(r=2, alpha=4.0, dropout=0.0, target_modules=["q", "v"])


def save(model_dir, directory, resolved, lora: LoraParams = LORA):
    """An adapter as finetune saves it (untrained: its B matrices are zero, so one is made non-zero), for
    the base model in `model_dir`, recorded as trained on `resolved`."""
    model = trainable_model(load_base_model(model_dir, torch.float32, CPU), "lora", lora)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.fill_(0.01)
    record = {
        **RECORD,
        "model": {"name": str(model_dir), "revision": None, "resolved": resolved},
        "lora": lora.model_dump(),
    }
    record.pop("parameters")
    save_adapter(model, load_tokenizer(model_dir), record, directory)
    return directory


@pytest.fixture
def adapter(tiny_model_dir, tmp_path):
    model_dir, resolved = model_directory(str(tiny_model_dir), None)
    return save(model_dir, tmp_path / "adapter", resolved), model_dir, resolved


def test_a_saved_adapter_loads_checked_and_merges_to_the_same_outputs(adapter):
    directory, model_dir, resolved = adapter
    assert not (directory / "README.md").exists()  # not peft's template card
    record = check_adapter(directory, resolved)
    assert record.lora == LORA and record.parameters.trainable > 0
    wrapped = load_adapter(load_base_model(model_dir, torch.float32, CPU), directory, record)
    merged = load_merged_model(model_dir, directory, record, torch.float32, CPU)
    ids = torch.tensor([[5, 6, 7, 1]])
    with torch.no_grad():
        expected = wrapped(input_ids=ids, decoder_input_ids=torch.tensor([[0]])).logits
        assert torch.allclose(merged(input_ids=ids, decoder_input_ids=torch.tensor([[0]])).logits, expected, atol=1e-5)


def test_adapter_for_another_base_model_is_refused_even_when_the_shapes_match(tmp_path, tiny_model_dir):
    model_dir, resolved = model_directory(str(tiny_model_dir), None)
    # The same architecture with other bytes: every shape matches, so only the record can tell.
    retrained = tmp_path / "retrained"
    shutil.copytree(tiny_model_dir, retrained)
    (retrained / "generation_config.json").write_text((retrained / "generation_config.json").read_text() + "\n")
    _, other = model_directory(str(retrained), None)
    save(retrained, tmp_path / "same-shape", other)
    with pytest.raises(UserError) as error:
        check_adapter(tmp_path / "same-shape", resolved)
    assert "another base model" in str(error.value) and other in str(error.value) and resolved in str(error.value)


def test_an_adapter_of_other_shapes_does_not_fit_and_says_so(adapter, tmp_path, tiny_model_dir):
    from safetensors.torch import load_file, save_file

    directory, model_dir, resolved = adapter
    weights = load_file(directory / "adapter_model.safetensors")
    name = next(iter(weights))
    weights[name] = torch.zeros(weights[name].shape[0] + 1, weights[name].shape[1])
    save_file(weights, directory / "adapter_model.safetensors", metadata={"format": "pt"})
    record = check_adapter(directory, resolved)
    with pytest.raises(UserError) as error:
        load_adapter(load_base_model(model_dir, torch.float32, CPU), directory, record)
    assert "does not fit" in str(error.value) and name in str(error.value)


def test_adapters_load_from_safetensors_only_and_corrupt_files_are_named(adapter):
    directory, _, resolved = adapter
    (directory / "adapter_model.safetensors").rename(directory / "adapter_model.bin")
    with pytest.raises(UserError) as error:
        check_adapter(directory, resolved)
    assert "adapter_model.safetensors" in str(error.value) and "adapter_model.bin" in str(error.value)
    (directory / "adapter_model.safetensors").write_bytes((directory / "adapter_model.bin").read_bytes()[:-10])
    with pytest.raises(UserError, match="adapter_model.safetensors is not a complete safetensors file"):
        check_adapter(directory, resolved)
    (directory / "adapter_config.json").write_text("{")
    with pytest.raises(UserError, match="adapter_config.json is not valid JSON"):
        check_adapter(directory, resolved)


@pytest.mark.parametrize("damage", ["no tensors", "config names fewer layers", "nan"])
def test_adapter_weights_must_be_exactly_those_its_config_asks_for_and_finite(adapter, damage):
    from safetensors.torch import load_file, save_file

    directory, model_dir, resolved = adapter
    weights = load_file(directory / "adapter_model.safetensors")
    if damage == "no tensors":
        weights = {}
    elif damage == "nan":
        weights = {name: torch.full_like(tensor, float("nan")) for name, tensor in weights.items()}
    else:  # peft would load q and silently drop the trained v weights
        for file, change in (("adapter_config.json", {"target_modules": ["q"]}), ("provenance.json", None)):
            config = json.loads((directory / file).read_text())
            if change is None:
                config["lora"]["target_modules"] = ["q"]
            else:
                config.update(change)
            (directory / file).write_text(json.dumps(config))
    save_file(weights, directory / "adapter_model.safetensors", metadata={"format": "pt"})
    record = check_adapter(directory, resolved)
    message = "are not all finite" if damage == "nan" else "does not hold the weights its adapter_config.json asks for"
    with pytest.raises(UserError, match=message):
        load_adapter(load_base_model(model_dir, torch.float32, CPU), directory, record)


@pytest.mark.parametrize(
    "option, value",
    [
        ("lora_alpha", 4096),
        ("use_rslora", True),
        ("use_dora", True),
        ("init_lora_weights", "gaussian"),
        ("rank_pattern", {"q": 64}),
        ("modules_to_save", ["lm_head"]),
        ("bias", "all"),
    ],
)
def test_an_adapter_config_that_changes_the_model_beyond_training_is_refused(adapter, option, value):
    # Each of these loads in peft and changes what the adapter does: not what finetune trains.
    directory, _, resolved = adapter
    config = json.loads((directory / "adapter_config.json").read_text())
    (directory / "adapter_config.json").write_text(json.dumps({**config, option: value}))
    with pytest.raises(UserError) as error:
        check_adapter(directory, resolved)
    assert option in str(error.value) and "adapter_config.json" in str(error.value)


def test_merged_weights_that_are_not_finite_are_refused(adapter, monkeypatch):
    from peft.tuners.tuners_utils import BaseTuner

    directory, model_dir, resolved = adapter
    record = check_adapter(directory, resolved)
    merge = BaseTuner.merge_and_unload

    def poisoned(self, *args, **kwargs):
        model = merge(self, *args, **kwargs)
        next(model.parameters()).data.fill_(float("inf"))  # as an overflowing merge would leave it
        return model

    monkeypatch.setattr(BaseTuner, "merge_and_unload", poisoned)
    with pytest.raises(UserError, match="merged in are not all finite"):
        load_merged_model(model_dir, directory, record, torch.float32, CPU)


@pytest.mark.parametrize(
    "record, key", [('{"model": "x"}', "model"), ('{"model": null}', "model"), ("[]", "provenance.json")]
)
def test_a_malformed_record_is_refused_naming_the_file_and_the_key(adapter, record, key):
    directory, _, resolved = adapter
    (directory / "provenance.json").write_text(record)
    with pytest.raises(UserError) as error:
        check_adapter(directory, resolved)
    assert "provenance.json" in str(error.value) and key in str(error.value) and "\n" not in str(error.value)


def save_full(model_dir, directory, resolved):
    """A fully fine-tuned model as finetune saves it (the base model's weights, every one trainable)."""
    from dialogsum_lora.params.full import FullParams

    model = trainable_model(load_base_model(model_dir, torch.float32, CPU), "full", FullParams(learning_rate=1e-5))
    record = {
        **RECORD,
        "method": "full",
        "model": {"name": str(model_dir), "revision": None, "resolved": resolved},
        "full": {"learning_rate": 1e-5},
    }
    for key in ("parameters", "lora"):
        record.pop(key, None)
    save_adapter(model, load_tokenizer(model_dir), record, directory)
    return directory


@pytest.mark.parametrize(
    "change, facts",
    [
        # Another model than the one trained, each with weights that fit it: one decoder layer of the
        # two trained (the other's weights left unused), another activation, quantised, another type.
        ({"num_decoder_layers": 1}, ("config.json sets num_decoder_layers to 1", "has 2")),
        (
            {"quantization_config": {"quant_method": "bitsandbytes", "load_in_8bit": True}},
            ("sets quantization_config",),
        ),
        ({"feed_forward_proj": "relu"}, ("sets feed_forward_proj to 'relu'", "has 'gated-gelu'")),
        ({"model_type": "bart"}, ("bart",)),
    ],
)
def test_a_fully_fine_tuned_model_whose_config_makes_another_model_is_refused(tmp_path, tiny_model_dir, change, facts):
    model_dir, resolved = model_directory(str(tiny_model_dir), None)
    directory = save_full(model_dir, tmp_path / "full", resolved)
    record = check_adapter(directory, resolved, model_dir)
    assert record.method == "full" and record.parameters.trainable == record.parameters.total
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(UserError) as error:
        check_adapter(directory, resolved, model_dir)
    for fact in facts:
        assert fact in str(error.value), (fact, str(error.value))


def test_a_fully_fine_tuned_model_loads_from_safetensors_only(tmp_path, tiny_model_dir):
    model_dir, resolved = model_directory(str(tiny_model_dir), None)
    directory = save_full(model_dir, tmp_path / "full", resolved)
    (directory / "model.safetensors").rename(directory / "pytorch_model.bin")  # a pickle's name: never loaded
    with pytest.raises(
        UserError, match="has no model.safetensors: a fully fine-tuned model loads from safetensors only"
    ):
        check_adapter(directory, resolved, model_dir)
    with pytest.raises(UserError, match="trained from another base model"):
        check_adapter(directory, "sha256:another", model_dir)


def test_a_record_holds_its_methods_section_and_no_other_and_an_older_one_is_lora():
    from dialogsum_lora.modeling.adapter import AdapterRecord
    from dialogsum_lora.schema import parse

    def refused(record: dict) -> str:
        with pytest.raises(UserError) as error:
            parse(AdapterRecord, record, "provenance.json")
        return str(error.value)

    without_lora = {key: value for key, value in RECORD.items() if key != "lora"}
    assert "provenance.json: holds no lora section: the params method lora trained with" in refused(without_lora)
    assert "holds no full section" in refused({**without_lora, "method": "full"})
    ia3 = {"target_modules": ["k", "v", "wo"], "feedforward_modules": ["wo"]}
    assert "holds the ia3 section beside method lora's" in refused({**RECORD, "ia3": ia3})
    # A record written before `method` existed is a LoRA run's, as every run then was.
    older = {key: value for key, value in RECORD.items() if key != "method"}
    assert parse(AdapterRecord, older, "provenance.json").method == "lora"
