"""The LoRA adapter: the one configuration finetune trains, saving it with the record of how it
was trained, and checking a saved one before use (safetensors only, the right base model, and
a configuration the project trains, never one that changes the model beyond that)."""

from pathlib import Path
from typing import Literal

import torch

from dialogsum_lora.errors import UserError
from dialogsum_lora.files.outputs import atomic_path, read_json, write_json
from dialogsum_lora.modeling.base import (
    check_finite, check_safetensors, check_tokenizer_files, load_base_model, model_directory, model_skeleton,
    safetensors_shapes, save_tokenizer,
)
from dialogsum_lora.params.lora import LoraParams
from dialogsum_lora.params.prompt import PromptParams
from dialogsum_lora.params.train import TrainParams
from dialogsum_lora.provenance import ModelRecord
from dialogsum_lora.schema import Record, Text, parse

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
RECORD_FILE = "provenance.json"  # how the adapter was trained, and on which base model


class KeptStep(Record):
    """Which step's adapter finetune kept, by which rule (train.keep), and the validation score
    that chose it (none for `last`)."""

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
    trainable: int  # the adapter's
    total: int  # the base model's and the adapter's


class AdapterRecord(Record):
    """provenance.json beside the adapter: what finetune read (its params), what it ran on, what it did."""

    model: ModelRecord
    environment: dict[str, str]
    training: TrainingRecord
    parameters: ParameterCounts
    seed: int
    processes: int
    prompt: PromptParams
    lora: LoraParams
    train: TrainParams


def check_target_modules(lora: LoraParams, model_dir: Path, model_name: str) -> None:
    """Fail before loading weights if lora.target_modules names a layer the model lacks."""
    skeleton = model_skeleton(model_dir)
    present = sorted({name.rsplit(".", 1)[-1] for name, module in skeleton.named_modules() if isinstance(module, torch.nn.Linear)})
    absent = sorted(set(lora.target_modules) - set(present))
    if absent:
        raise UserError(
            f"params.yaml: lora.target_modules names {absent[0]!r}, which model {model_name!r} does not have "
            f"(its linear layers: {', '.join(present)})"
        )


def lora_config(lora: LoraParams):
    """The peft LoraConfig that finetune trains with: params.yaml's `lora`, every other option peft's default."""
    from peft import LoraConfig, TaskType

    return LoraConfig(task_type=TaskType.SEQ_2_SEQ_LM, r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=sorted(lora.target_modules), bias="none")


def add_lora(model, lora: LoraParams):
    """Wrap `model` with trainable LoRA adapters as lora_config describes."""
    from peft import get_peft_model

    return get_peft_model(model, lora_config(lora))


def parameter_counts(model) -> dict:
    """The adapter's trainable parameters and all the model's (peft's own count): one pair, wherever it is shown."""
    trainable, total = model.get_nb_trainable_parameters()
    return {"trainable": trainable, "total": total}


def save_adapter(model, tokenizer, record: dict, directory: Path) -> None:
    """Save the adapter (safetensors), tokenizer and record (provenance.json, with the parameter
    counts added), with target_modules in a fixed order; refuse weights that are not all finite."""
    if not all(torch.isfinite(p).all() for p in model.parameters() if p.requires_grad):
        raise UserError("training diverged: the adapter's weights are not all finite; lower train.learning_rate or lora.alpha")
    with atomic_path(directory) as temporary:
        model.save_pretrained(temporary, safe_serialization=True)
        (temporary / "README.md").unlink(missing_ok=True)  # peft's empty template: evaluate writes the real card
        save_tokenizer(tokenizer, temporary)
        write_json(temporary / RECORD_FILE, {**record, "parameters": parameter_counts(model)})
        # PEFT writes target_modules from a set, whose order changes between runs.
        config = read_json(temporary / ADAPTER_CONFIG)
        config["target_modules"] = sorted(config["target_modules"])
        write_json(temporary / ADAPTER_CONFIG, config)


def require_adapter(adapter_dir: Path) -> None:
    """Fail if `adapter_dir` holds no adapter at all, saying how to make one."""
    if not (adapter_dir / ADAPTER_CONFIG).exists():
        raise UserError(f"no LoRA adapter in {adapter_dir}: run `dvc repro finetune` (or `dvc pull`) first")


def read_record(adapter_dir: Path) -> AdapterRecord:
    """The record saved with the adapter in `adapter_dir`, checked against its schema."""
    require_adapter(adapter_dir)
    path = adapter_dir / RECORD_FILE
    if not path.exists():
        raise UserError(f"{adapter_dir} has no {RECORD_FILE}, so nothing says how it was trained or on which base "
                        "model: retrain it with `dvc repro finetune`")
    try:
        return parse(AdapterRecord, read_json(path), str(path))
    except UserError as error:
        raise UserError(f"{error}: retrain the adapter with `dvc repro finetune`") from None


# Options of adapter_config.json that say where the adapter came from, not what it does to the model.
_PROVENANCE_OPTIONS = {"base_model_name_or_path", "revision", "inference_mode", "peft_version", "auto_mapping"}


def check_adapter(adapter_dir: Path, base_resolved: str) -> AdapterRecord:
    """Refuse an adapter directory before loading it: missing, pickled weights only, no tokenizer,
    corrupt files, trained on another base model than `base_resolved` (what model_directory
    gave), or an adapter_config.json that is not exactly what finetune saves for its record's
    `lora` (another alpha, another init or scaling option). Returns its record."""
    require_adapter(adapter_dir)
    saved = read_json(adapter_dir / ADAPTER_CONFIG)
    if not isinstance(saved, dict):
        raise UserError(f"{adapter_dir / ADAPTER_CONFIG} is not a JSON object")
    if not (adapter_dir / ADAPTER_WEIGHTS).exists():
        found = ", ".join(sorted(p.name for p in adapter_dir.glob("adapter_model.*"))) or "none"
        raise UserError(
            f"{adapter_dir} has no {ADAPTER_WEIGHTS} (weights found: {found}); adapters load from "
            "safetensors only, never from a pickle: save it with save_pretrained(safe_serialization=True)"
        )
    check_safetensors(adapter_dir / ADAPTER_WEIGHTS)
    check_tokenizer_files(adapter_dir, f"the adapter in {adapter_dir}")
    record = read_record(adapter_dir)
    if record.model.resolved != base_resolved:
        raise UserError(
            f"the adapter in {adapter_dir} was trained on another base model ({record.model.name!r}, "
            f"{record.model.resolved}) than the one given ({base_resolved}): retrain it (`dvc repro finetune`) or use "
            "the model it was trained on"
        )
    expected = _comparable(lora_config(record.lora).to_dict())
    found = _comparable(saved)
    for key in sorted(set(expected) | set(found)):
        if found.get(key) != expected.get(key):
            raise UserError(
                f"{adapter_dir / ADAPTER_CONFIG} sets {key} to {found.get(key)!r}, but an adapter trained with the "
                f"lora params its {RECORD_FILE} records has {expected.get(key)!r}: it would change the model beyond "
                "what training produced; retrain it with `dvc repro finetune`"
            )
    return record


def _comparable(config: dict) -> dict:
    return {key: sorted(value) if isinstance(value, (set, list, tuple)) else value
            for key, value in config.items() if key not in _PROVENANCE_OPTIONS}


def base_model_directory(record: AdapterRecord, name: str | None = None, revision: str | None = None) -> tuple[Path, str]:
    """model_directory of the base model the adapter's record names, or of `name` (at `revision`)
    given instead, as a command's --model."""
    if name is None:
        name, revision = record.model.name, record.model.revision
    try:
        return model_directory(name, revision)
    except UserError as error:
        raise UserError(f"{error} (the base model: give it with --model)") from None


def load_merged_model(model_dir: Path, adapter_dir: Path, record: AdapterRecord, dtype: torch.dtype, device: torch.device):
    """The base model in `model_dir` with the adapter in `adapter_dir` (checked by check_adapter,
    which gave `record`) merged into its weights: a plain transformers model, as fast per step as
    the base. Its weights are checked finite after the merge."""
    merged = load_adapter(load_base_model(model_dir, dtype, device), adapter_dir, record).merge_and_unload()
    check_finite(merged, f"the weights of the base model with the adapter in {adapter_dir} merged in")
    return merged


def load_adapter(base_model, adapter_dir: Path, record: AdapterRecord):
    """`base_model` with the LoRA adapter in `adapter_dir` (checked by check_adapter, which gave
    `record`), in eval mode. Its file must hold exactly the weights, of the shapes, that the
    configuration asks for, all finite: peft would leave missing ones at their initial values,
    ignore extra ones, and only warn."""
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors.torch import load_file

    model = get_peft_model(base_model, lora_config(record.lora))
    expected = {name: tuple(tensor.shape) for name, tensor in get_peft_model_state_dict(model).items()}
    saved = safetensors_shapes(adapter_dir / ADAPTER_WEIGHTS)
    if set(saved) != set(expected):
        odd = sorted(set(expected) - set(saved)) or sorted(set(saved) - set(expected))
        raise UserError(
            f"{adapter_dir / ADAPTER_WEIGHTS} does not hold the weights its {ADAPTER_CONFIG} asks for "
            f"({len(set(expected) - set(saved))} missing, {len(set(saved) - set(expected))} unexpected; first: {odd[0]}): "
            "retrain it"
        )
    for name, shape in saved.items():
        if shape != expected[name]:
            raise UserError(
                f"the adapter in {adapter_dir} does not fit model {base_model.name_or_path!r}: {name} has shape "
                f"{list(shape)}, the model's {list(expected[name])} (retrain it with `dvc repro finetune`, or use the "
                "model it was trained on)"
            )
    set_peft_model_state_dict(model, load_file(adapter_dir / ADAPTER_WEIGHTS, device=str(next(model.parameters()).device)))
    check_finite(model, f"the weights of the adapter in {adapter_dir}")
    return model.eval()
