"""What finetune trains (params.yaml `method`: a LoRA or IA3 adapter, or every weight), saved to models/adapter/
with its tokenizer and the record of how it was trained, and checked before use (safetensors, its base model)."""

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import model_validator

from dialogsum_lora.errors import UserError
from dialogsum_lora.files import atomic_path, read_json, write_json
from dialogsum_lora.modeling.base import TOKENIZER_FILE, load_base_model, model_directory, save_tokenizer
from dialogsum_lora.params import Method
from dialogsum_lora.params.methods import FullParams, IA3Params, LoraParams
from dialogsum_lora.params.prompt import PromptParams
from dialogsum_lora.params.train import TrainParams
from dialogsum_lora.provenance import DataSource
from dialogsum_lora.schema import Record, Text, read_checked

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
MODEL_WEIGHTS = "model.safetensors"  # method full: the whole model
MODEL_CONFIG = "config.json"
RECORD_FILE = "provenance.json"  # how the adapter was trained, and on which base model


class KeptStep(Record):
    """Which step's adapter finetune kept, by which rule (train.keep), and the score that chose it."""

    step: int
    rule: Literal["last", "best_rouge1", "lowest_loss"]
    value: float | None = None


class TrainingRecord(Record):
    steps: int
    epochs: float
    dialogues: int  # trained on (train.dialogues of them, or all)
    split_dialogues: int  # in the training split
    truncated_prompts: int
    truncated_summaries: int
    kept: KeptStep
    data: dict[str, Text]  # the sha256 of each training split finetune read


class ParameterCounts(Record):
    trainable: int  # the adapter's, or (full) all the model's
    total: int  # the base model's and the adapter's


class AdapterRecord(Record):
    """provenance.json beside the weights: what finetune read (of the method sections, its method's), ran on, did."""

    model: DataSource
    decoder_only: bool = False  # the base is a decoder-only causal LM (else an encoder-decoder)
    environment: dict[str, str]
    training: TrainingRecord
    parameters: ParameterCounts
    seed: int
    processes: int
    method: Method
    prompt: PromptParams
    lora: LoraParams | None = None
    ia3: IA3Params | None = None
    full: FullParams | None = None
    train: TrainParams
    # The Trainer's arguments as it used them (trainer.py: arguments_used); `train` as params.yaml gave them.
    trainer: dict[str, Any]

    @model_validator(mode="after")
    def _its_method_section(self) -> "AdapterRecord":
        if getattr(self, self.method) is None:
            raise ValueError(f"holds no {self.method} section: the params method {self.method} trained with")
        return self


def method_settings(params) -> LoraParams | IA3Params | FullParams:
    return getattr(params, params.method)


def training_params(params) -> TrainParams:
    """`params.train` as the Trainer runs it: full.learning_rate in its place for method full."""
    if params.method == "full":
        return TrainParams(**{**params.train.model_dump(), "learning_rate": params.full.learning_rate})
    return params.train


def parameter_counts(model) -> dict:
    """The trainable parameters and all the model's (an adapter's with its base's; each shared weight once)."""
    return {"trainable": model.num_parameters(only_trainable=True), "total": model.num_parameters()}


def trained_weights(model) -> dict[str, torch.Tensor]:
    """A CPU copy of the weights training changes: peft's state dict of the adapter, or the whole model's."""
    from peft import PeftModel, get_peft_model_state_dict

    weights = get_peft_model_state_dict(model) if isinstance(model, PeftModel) else model.state_dict()
    return {name: weight.detach().to("cpu", copy=True) for name, weight in weights.items()}


def restore_weights(model, weights: dict[str, torch.Tensor]) -> None:
    """Put weights from trained_weights back into `model`, every one of them."""
    from peft import PeftModel, set_peft_model_state_dict

    if not isinstance(model, PeftModel):
        model.load_state_dict(weights, strict=True)  # raises on any weight that does not fit
    elif odd := set_peft_model_state_dict(model, weights).unexpected_keys:
        raise RuntimeError(f"kept weights the model does not fit: {odd[:3]}")


def save_adapter(model, tokenizer, record: dict, directory: Path) -> None:
    """Save the trained weights (safetensors), tokenizer and record with parameter counts; refuse non-finite ones."""
    if not all(torch.isfinite(p).all() for p in model.parameters() if p.requires_grad):
        raise UserError(
            "training diverged: the trained weights are not all finite; lower the learning rate"
            + (" or lora.alpha" if record.get("method") == "lora" else "")
        )
    with atomic_path(directory) as temporary:
        model.save_pretrained(temporary, safe_serialization=True)
        (temporary / "README.md").unlink(missing_ok=True)  # peft's empty template: evaluate writes the real card
        save_tokenizer(tokenizer, temporary)
        write_json(temporary / RECORD_FILE, {**record, "parameters": parameter_counts(model)})
        if (temporary / ADAPTER_CONFIG).exists():
            # PEFT writes its module lists from sets, whose order changes between runs.
            config = read_json(temporary / ADAPTER_CONFIG)
            for key in ("target_modules", "feedforward_modules"):
                if isinstance(config.get(key), list):
                    config[key] = sorted(config[key])
            write_json(temporary / ADAPTER_CONFIG, config)


def read_record(adapter_dir: Path) -> AdapterRecord:
    """The record saved with the weights in `adapter_dir`, checked against its schema."""
    if not (adapter_dir / ADAPTER_CONFIG).exists() and not (adapter_dir / MODEL_CONFIG).exists():
        raise UserError(f"no trained adapter or model in {adapter_dir}: run `dvc repro finetune` (or `dvc pull`) first")
    return read_checked(AdapterRecord, adapter_dir / RECORD_FILE, "retrain the adapter with `dvc repro finetune`")


def check_adapter(adapter_dir: Path, base_resolved: str) -> AdapterRecord:
    """The record of the weights in `adapter_dir`, refused before loading them: none there, pickled weights only, no
    tokenizer, or trained on another base model than `base_resolved` (model_directory's)."""
    record = read_record(adapter_dir)
    if record.model.resolved != base_resolved:
        raise UserError(
            f"the weights in {adapter_dir} were trained from another base model ({record.model.name!r}, "
            f"{record.model.resolved}) than the one given ({base_resolved}): retrain them (`dvc repro finetune`) or "
            "use the model they were trained from"
        )
    weights = MODEL_WEIGHTS if record.method == "full" else ADAPTER_WEIGHTS
    if not (adapter_dir / weights).exists():
        found = ", ".join(sorted(p.name for p in adapter_dir.glob("*model*") if p.suffix != ".json")) or "none"
        raise UserError(
            f"{adapter_dir} has no {weights} (weights found: {found}): trained weights load from safetensors only, "
            "never from a pickle; retrain them with `dvc repro finetune`"
        )
    if not (adapter_dir / TOKENIZER_FILE).exists():
        raise UserError(
            f"{adapter_dir} has no {TOKENIZER_FILE}, so every summary would come out empty: retrain it with "
            "`dvc repro finetune` (or `dvc pull` it)"
        )
    return record


def base_model_directory(record: AdapterRecord, name: str | None, revision: str | None) -> tuple[Path, str]:
    """model_directory of the base model the record names, or of a command's --model `name` at `revision`."""
    if name is None:
        name, revision = record.model.name, record.model.revision
    try:
        return model_directory(name, revision)
    except UserError as error:
        raise UserError(f"{error} (the base model: give it with --model)") from None


def load_merged_model(
    model_dir: Path, adapter_dir: Path, record: AdapterRecord, dtype: torch.dtype, device: torch.device
):
    """The base model with the adapter in `adapter_dir` merged in (as fast as the base), or the fully trained model."""
    if record.method == "full":
        return load_base_model(adapter_dir, dtype, device)
    from peft import PeftModel  # in eval mode, as it loads

    return PeftModel.from_pretrained(load_base_model(model_dir, dtype, device), adapter_dir).merge_and_unload()
