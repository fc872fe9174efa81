"""The LoRA adapter: adding it to the base model, saving it with what it was trained on,
and checking a saved one before it is loaded (safetensors only, the right base model)."""

import dataclasses
from pathlib import Path

import torch

from dialogsum_lora.errors import UserError
from dialogsum_lora.modeling import (
    check_finite, check_safetensors, check_tokenizer_files, load_config, loading, save_tokenizer,
)
from dialogsum_lora.outputs import atomic_path, read_json, write_json
from dialogsum_lora.params import Params

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_BASE_RECORD = "provenance.json"  # also names the base model the adapter was trained on


def check_target_modules(params: Params, model_dir: Path) -> None:
    """Fail before loading weights if lora.target_modules names a layer the model lacks."""
    from transformers import AutoModelForSeq2SeqLM

    config = load_config(model_dir)
    with torch.device("meta"):  # the layer names, without allocating any weights
        skeleton = AutoModelForSeq2SeqLM.from_config(config)
    present = sorted({name.rsplit(".", 1)[-1] for name, module in skeleton.named_modules() if isinstance(module, torch.nn.Linear)})
    absent = sorted(set(params.lora.target_modules) - set(present))
    if absent:
        raise UserError(
            f"params.yaml: lora.target_modules names {absent[0]!r}, which model {params.model.name!r} does not have "
            f"(its linear layers: {', '.join(present)})"
        )


def add_lora(model, params: Params):
    """Wrap `model` with trainable LoRA adapters on params.lora.target_modules."""
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(
        task_type=TaskType.SEQ_2_SEQ_LM,
        r=params.lora.r,
        lora_alpha=params.lora.alpha,
        lora_dropout=params.lora.dropout,
        target_modules=sorted(params.lora.target_modules),
        bias="none",
    )
    return get_peft_model(model, config)


def save_adapter(model, tokenizer, provenance: dict, directory: Path) -> None:
    """Save the adapter (safetensors), tokenizer and provenance (which names the base model),
    with target_modules in a fixed order; refuse weights that are not all finite."""
    if not all(torch.isfinite(p).all() for p in model.parameters() if p.requires_grad):
        raise UserError("training diverged: the adapter's weights are not all finite; lower train.learning_rate or lora.alpha")
    with atomic_path(directory) as temporary:
        model.save_pretrained(temporary, safe_serialization=True)
        save_tokenizer(tokenizer, temporary)
        write_json(temporary / ADAPTER_BASE_RECORD, provenance)
        # PEFT writes target_modules from a set, whose order changes between runs.
        config = read_json(temporary / "adapter_config.json")
        config["target_modules"] = sorted(config["target_modules"])
        write_json(temporary / "adapter_config.json", config)


def check_adapter(adapter_dir: Path, base_resolved: str) -> None:
    """Refuse an adapter directory before loading it: missing, pickled weights only, no
    tokenizer, corrupt files, or trained on another base model than `base_resolved` (what
    model_directory gave)."""
    if not (adapter_dir / "adapter_config.json").is_file():
        raise UserError(f"no LoRA adapter in {adapter_dir}: run `dvc repro finetune` (or `dvc pull`) first")
    if not isinstance(read_json(adapter_dir / "adapter_config.json"), dict):
        raise UserError(f"{adapter_dir / 'adapter_config.json'} is not a JSON object")
    if not (adapter_dir / ADAPTER_WEIGHTS).is_file():
        found = ", ".join(sorted(p.name for p in adapter_dir.glob("adapter_model.*"))) or "none"
        raise UserError(
            f"{adapter_dir} has no {ADAPTER_WEIGHTS} (weights found: {found}); adapters load from "
            "safetensors only, never from a pickle: save it with save_pretrained(safe_serialization=True)"
        )
    check_safetensors(adapter_dir / ADAPTER_WEIGHTS)
    check_tokenizer_files(adapter_dir, f"the adapter in {adapter_dir}")
    if not (adapter_dir / ADAPTER_BASE_RECORD).is_file():
        raise UserError(
            f"{adapter_dir} has no {ADAPTER_BASE_RECORD}, so nothing says which base model it was trained on: "
            "retrain it with `dvc repro finetune`"
        )
    record = read_json(adapter_dir / ADAPTER_BASE_RECORD)
    base = record.get("model") if isinstance(record, dict) else None
    trained_on, name = (base.get("resolved"), base.get("name")) if isinstance(base, dict) else (None, None)
    if trained_on != base_resolved:
        raise UserError(
            f"the adapter in {adapter_dir} was trained on another base model ({name!r}, {trained_on}) than "
            f"model.name gives ({base_resolved}): retrain it (`dvc repro finetune`) or set model.name to the "
            "model it was trained on"
        )


RECORDED_PARAMS = ("prompt", "lora", "train", "generate")  # with the adapter, beside its base model


def adapter_record(params: Params, provenance: dict, training: dict) -> dict:
    """What save_adapter writes beside the weights: the base model and environment
    (`provenance`), the params it was trained with, and how training went."""
    return {**provenance, **{key: dataclasses.asdict(getattr(params, key)) for key in RECORDED_PARAMS},
            "training": training}


def read_adapter_record(adapter_dir: Path) -> dict:
    """The record of an adapter that check_adapter passed: its params and how it was trained."""
    record = read_json(adapter_dir / ADAPTER_BASE_RECORD)
    missing = [key for key in (*RECORDED_PARAMS, "training") if not isinstance(record.get(key), dict)]
    if missing:
        raise UserError(f"{adapter_dir / ADAPTER_BASE_RECORD} does not record {missing[0]!r} (an older adapter?): "
                        "retrain it with `dvc repro finetune`")
    return record


def load_adapter(base_model, adapter_dir: Path):
    """Wrap `base_model` with the LoRA adapter in `adapter_dir` (checked by check_adapter), in eval
    mode. Its file must hold exactly the weights its config asks for, all finite: PEFT would
    leave missing ones at their initial values, ignore extra ones, and only warn."""
    from peft import PeftModel, get_peft_model_state_dict
    from safetensors import safe_open

    with loading(f"the adapter in {adapter_dir}: it does not fit model {base_model.name_or_path!r} (retrain it "
                 "with `dvc repro finetune`, or set model.name to the model it was trained on)"):
        model = PeftModel.from_pretrained(base_model, adapter_dir, is_trainable=False)
    with safe_open(str(adapter_dir / ADAPTER_WEIGHTS), "pt") as weights:
        saved = set(weights.keys())
    expected = set(get_peft_model_state_dict(model))
    if saved != expected:
        odd = sorted(expected - saved) or sorted(saved - expected)
        raise UserError(
            f"{adapter_dir / ADAPTER_WEIGHTS} does not hold the weights its adapter_config.json asks for "
            f"({len(expected - saved)} missing, {len(saved - expected)} unexpected; first: {odd[0]}): retrain it"
        )
    check_finite(model, f"the weights of the adapter in {adapter_dir}")
    return model.eval()
