"""The adapter: saved with the record of how it was trained, loaded from safetensors only, refused
when it belongs to another base model."""

import shutil

import pytest
import torch
from peft import PeftModel
from test_model_card import RECORD

from dialogsum_lora.errors import UserError
from dialogsum_lora.modeling.adapter import check_adapter, load_merged_model, save_adapter
from dialogsum_lora.modeling.base import load_base_model, load_tokenizer, model_directory
from dialogsum_lora.params.methods import LoraParams
from dialogsum_lora.training.trainer import trainable_model

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
    wrapped = PeftModel.from_pretrained(load_base_model(model_dir, torch.float32, CPU), directory)
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


def test_adapters_load_from_safetensors_only(adapter):
    directory, _, resolved = adapter
    (directory / "adapter_model.safetensors").rename(directory / "adapter_model.bin")
    with pytest.raises(UserError) as error:
        check_adapter(directory, resolved)
    assert "adapter_model.safetensors" in str(error.value) and "adapter_model.bin" in str(error.value)
    (directory / "adapter_model.bin").rename(directory / "adapter_model.safetensors")
    (directory / "tokenizer.json").unlink()  # transformers would build an empty default tokenizer
    with pytest.raises(UserError, match="has no tokenizer.json, so every summary would come out empty"):
        check_adapter(directory, resolved)


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
    from dialogsum_lora.params.methods import FullParams

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


def test_a_fully_fine_tuned_model_loads_from_safetensors_only(tmp_path, tiny_model_dir):
    model_dir, resolved = model_directory(str(tiny_model_dir), None)
    directory = save_full(model_dir, tmp_path / "full", resolved)
    (directory / "model.safetensors").rename(directory / "pytorch_model.bin")  # a pickle's name: never loaded
    with pytest.raises(
        UserError, match="has no model.safetensors .*pytorch_model.bin.*: trained weights load from safetensors only"
    ):
        check_adapter(directory, resolved)
    with pytest.raises(UserError, match="trained from another base model"):
        check_adapter(directory, "sha256:another")


def test_a_record_holds_its_methods_section():
    from dialogsum_lora.modeling.adapter import AdapterRecord
    from dialogsum_lora.schema import parse

    def refused(record: dict) -> str:
        with pytest.raises(UserError) as error:
            parse(AdapterRecord, record, "provenance.json")
        return str(error.value)

    without_lora = {key: value for key, value in RECORD.items() if key != "lora"}
    assert "provenance.json: holds no lora section: the params method lora trained with" in refused(without_lora)
    assert "holds no full section" in refused({**without_lora, "method": "full"})
    # A record written before `method` existed is refused, as any record missing a key: retrain it.
    older = {key: value for key, value in RECORD.items() if key != "method"}
    assert refused(older) == "provenance.json: missing key method"
