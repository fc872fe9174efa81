"""What makes training faster on a GPU leaves the optimisation as it was: padding every batch to a
multiple of some tokens (few shapes, for torch.compile and CUDA graphs) trains on the same batches
in the same order to the same fp32 losses and weights, and frozen weights in bf16 leave an
adapter's own weights fp32 (a CPU run keeps every weight fp32)."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import REPO_ROOT

from dialogsum_lora.errors import UserError
from dialogsum_lora.files import read_jsonl
from dialogsum_lora.modeling.adapter import method_settings, trained_weights
from dialogsum_lora.modeling.base import load_base_model, load_tokenizer
from dialogsum_lora.params import load_params
from dialogsum_lora.training.trainer import build_training_examples, frozen_weights_dtype, make_trainer, trainable_model

CPU = torch.device("cpu")
STEPS = 6


def stage_params(**changes):
    """The finetune stage's params as committed, with `changes` (dotted keys of sections) made."""
    from stages.finetune import Reads

    params = load_params(Reads, REPO_ROOT / "params.yaml")
    sections = {}
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        sections.setdefault(section, {})[key] = value
    return params.model_copy(
        update={name: getattr(params, name).model_copy(update=keys) for name, keys in sections.items()}
    )


def short_run(params):
    """A few steps' training settings: batch 4 of the sample's 32 training dialogues, every step's loss logged,
    no validation ROUGE, no checkpoint."""
    return params.train.model_copy(
        update={
            "batch_size": 4,
            "max_steps": STEPS,
            "logging_steps": 1,
            "save_steps": 1000,
            "validation_steps": None,
            "validation_rouge_dialogues": 0,
        }
    )


def without_dropout(model_dir: Path, directory: Path) -> Path:
    """A copy of the model in `model_dir` that drops out nothing: nothing random is then drawn for a
    batch's shape, so the losses of two paddings can be compared step by step."""
    shutil.copytree(model_dir, directory)
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "dropout_rate": 0.0}))
    return directory


def trainer_for(params, model_dir, output_dir, base_dtype=torch.float32, dtype=torch.float32):
    from transformers import set_seed

    tokenizer = load_tokenizer(model_dir)
    set_seed(params.seed)  # as the stage seeds before the adapter's weights start at random
    model = trainable_model(load_base_model(model_dir, base_dtype, CPU), params.method, method_settings(params))
    examples, _ = build_training_examples(read_jsonl(REPO_ROOT / "data/sample/train.jsonl"), tokenizer, params.prompt)
    trainer = make_trainer(
        model, tokenizer, short_run(params), params.seed, dtype, examples, examples[:4], output_dir, [], progress=False
    )
    return trainer, model


def unpadded(batch) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Each example of a collated batch as it was before padding: its prompt's ids and its summary's."""
    return [
        (tuple(ids[mask.bool()].tolist()), tuple(labels[labels != -100].tolist()))
        for ids, mask, labels in zip(batch["input_ids"], batch["attention_mask"], batch["labels"])
    ]


@pytest.mark.slow  # two trainings
def test_padding_to_a_multiple_trains_the_same_batches_to_the_same_fp32_losses_and_weights(tiny_model_dir, tmp_path):
    model_dir = without_dropout(tiny_model_dir, tmp_path / "model")
    runs = {}
    for multiple in (None, 64):
        params = stage_params(**{"train.pad_to_multiple_of": multiple, "lora.dropout": 0.0})
        trainer, model = trainer_for(params, model_dir, tmp_path / str(multiple))
        batches = list(trainer.get_train_dataloader())[:STEPS]
        start = trained_weights(model)
        trainer.train()
        losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
        runs[multiple] = {"batches": batches, "losses": losses, "start": start, "end": trained_weights(model)}

    plain, padded = runs[None], runs[64]
    # The same examples in the same batches in the same order; only the padding differs.
    assert [unpadded(batch) for batch in plain["batches"]] == [unpadded(batch) for batch in padded["batches"]]
    shapes = {(tuple(b["input_ids"].shape), tuple(b["labels"].shape)) for b in padded["batches"]}
    assert all(source % 64 == 0 and target % 64 == 0 for (_, source), (_, target) in shapes)
    assert any(
        plain_batch["input_ids"].shape != padded_batch["input_ids"].shape
        for plain_batch, padded_batch in zip(plain["batches"], padded["batches"])
    )
    # The same losses at every step and the same weights after the last (fp32: padding only adds zeros to sums).
    assert len(plain["losses"]) == STEPS and plain["losses"] == pytest.approx(padded["losses"], rel=1e-6)
    for name, weight in plain["end"].items():
        assert (weight - plain["start"][name]).abs().max() > 1e-4, name  # trained, so the comparison means something
        torch.testing.assert_close(padded["end"][name], weight, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lora", "ia3"])
def test_bfloat16_frozen_weights_train_an_adapter_whose_own_weights_stay_float32(tiny_model_dir, tmp_path, method):
    params = stage_params(**{"train.frozen_dtype": "bfloat16"}).model_copy(update={"method": method})
    assert frozen_weights_dtype(params.train, method, torch.bfloat16) == torch.bfloat16
    # A CPU computes in fp32 and loads fp32 weights whatever frozen_dtype says; full fine-tuning freezes nothing.
    assert frozen_weights_dtype(params.train, method, torch.float32) == torch.float32
    assert frozen_weights_dtype(params.train, "full", torch.bfloat16) == torch.float32
    assert frozen_weights_dtype(stage_params().train, method, torch.bfloat16) == torch.float32

    # The Trainer on this CPU in bf16 autocast, as it runs on a GPU with bf16.
    trainer, model = trainer_for(params, tiny_model_dir, tmp_path, base_dtype=torch.bfloat16, dtype=torch.bfloat16)
    dtypes = {trains: {p.dtype for p in model.parameters() if p.requires_grad == trains} for trains in (True, False)}
    assert dtypes == {True: {torch.float32}, False: {torch.bfloat16}}
    start = trained_weights(model)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == STEPS and all(0 < loss < 100 for loss in losses)
    for name, weight in trained_weights(model).items():
        assert weight.dtype == torch.float32 and torch.isfinite(weight).all()
        assert (weight - start[name]).abs().max() > 0, name


def test_a_step_loss_that_is_not_finite_reaches_the_log_and_stops_training(tiny_model_dir, tmp_path):
    # The Trainer's NaN filter would log the mean so far in its place (and make every step wait on the GPU to check).
    trainer, _ = trainer_for(stage_params(), tiny_model_dir, tmp_path)
    compute_loss = trainer.compute_loss

    def infinite_at_step_3(model, inputs, *arguments, **keywords):
        loss = compute_loss(model, inputs, *arguments, **keywords)
        return loss * float("inf") if trainer.state.global_step == 2 else loss

    trainer.compute_loss = infinite_at_step_3
    with pytest.raises(UserError, match=r"training diverged: the training loss is inf at step 3"):
        trainer.train()


@pytest.mark.slow
@pytest.mark.parametrize(
    "method, field",
    [("lora", "gradient_checkpointing"), ("ia3", "activation_checkpointing"), ("full", "activation_checkpointing")],
)
def test_gradient_checkpointing_trains_to_the_same_losses_and_weights(
    tiny_model_dir, tmp_path, method, field, monkeypatch
):
    """The Trainer's own field (transformers 5's name, or the alias it keeps), with an adapter (whose inputs then need
    gradients, as transformers makes them for peft: peft#137) or every weight: each block's activations recomputed in
    the backward pass, non-reentrant, to the losses and weights of a run that keeps them."""
    import transformers.modeling_utils

    checkpointed = []
    checkpoint = transformers.modeling_utils.checkpoint
    monkeypatch.setattr(
        transformers.modeling_utils,
        "checkpoint",
        lambda *arguments, **keywords: (
            checkpointed.append(keywords["use_reentrant"]) or checkpoint(*arguments, **keywords)
        ),
    )
    model_dir = without_dropout(tiny_model_dir, tmp_path / "model")
    runs = {}
    for setting in (False, True):
        params = stage_params(**{f"train.{field}": setting, "lora.dropout": 0.0}).model_copy(update={"method": method})
        trainer, model = trainer_for(params, model_dir, tmp_path / str(setting))
        start = trained_weights(model)
        trainer.train()
        assert model.is_activation_checkpointing == setting
        losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
        runs[setting] = {"losses": losses, "start": start, "end": trained_weights(model)}
    # Every block of the tiny T5's encoder and decoder (2 + 2) in each step's forward pass, none reentrant.
    assert len(checkpointed) == 4 * STEPS and not any(checkpointed)
    kept, recomputed = runs[False], runs[True]
    assert len(kept["losses"]) == STEPS and kept["losses"] == pytest.approx(recomputed["losses"], rel=1e-6)
    for name, weight in kept["end"].items():
        assert (weight - kept["start"][name]).abs().max() > 1e-6, name  # trained, so the comparison means something
        torch.testing.assert_close(recomputed["end"][name], weight, rtol=1e-5, atol=1e-7)
