"""The tiny model: deterministic, flan-t5's design, untied, with a tokenizer that round-trips text."""

import hashlib

import torch

from dialogsum_lora.modeling.base import load_base_model, load_tokenizer
from dialogsum_lora.modeling.tiny import write_tiny_model

CPU = torch.device("cpu")


def _digest(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_tiny_model_is_deterministic_untied_and_flan_shaped(tiny_model_dir, tmp_path):
    write_tiny_model(tmp_path / "again")
    assert _digest(tmp_path / "again") == _digest(tiny_model_dir)
    model = load_base_model(tiny_model_dir, torch.float32, CPU)
    assert model.lm_head.weight.data_ptr() != model.shared.weight.data_ptr()
    assert not torch.equal(model.lm_head.weight, model.shared.weight)
    assert model.config.feed_forward_proj == "gated-gelu" and not model.config.scale_decoder_outputs
    assert (model.config.pad_token_id, model.config.eos_token_id, model.config.decoder_start_token_id) == (0, 1, 0)


def test_tiny_tokenizer_round_trips_dialogue_text(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    text = "#Person1#: Hello, Mr. Smith! The room costs $15.50 a night."
    ids = tokenizer(text).input_ids
    assert ids[-1] == tokenizer.eos_token_id and tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text.lower()


def test_the_tiny_model_command_writes_only_a_new_or_empty_directory(tmp_path):
    import pytest

    from dialogsum_lora.commands.tiny_model import tiny_model
    from dialogsum_lora.errors import UserError

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    tiny_model([str(tmp_path / "model")])
    (tmp_path / "empty").mkdir()
    tiny_model([str(tmp_path / "empty")])
    assert (tmp_path / "model" / "config.json").is_file() and (tmp_path / "empty" / "config.json").is_file()
    mine = (tmp_path / "model" / "config.json").read_text()
    for taken in ("notes", "model"):  # a user's files, or a model (theirs or not): never replaced
        with pytest.raises(UserError) as error:
            tiny_model([str(tmp_path / taken)])
        assert str(tmp_path / taken) in str(error.value) and "not an empty directory" in str(error.value)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me" and (
        tmp_path / "model" / "config.json"
    ).read_text() == mine
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock")) == []
