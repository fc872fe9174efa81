"""The LoRA adapter: adding it to the base model, saving it with what it was trained on (and
its model card), and checking a saved one before it is loaded (safetensors only, the right
base model)."""

import dataclasses
from pathlib import Path

import torch

from dialogsum_lora.errors import UserError
from dialogsum_lora.modeling import (
    check_finite, check_safetensors, check_tokenizer_files, load_base_model, load_config, loading, model_directory,
    save_tokenizer,
)
from dialogsum_lora.model_card import CARD_FILE, adapter_card
from dialogsum_lora.outputs import atomic_path, read_json, write_json
from dialogsum_lora.params import GenerateParams, Params, PromptParams, parse_section

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_BASE_RECORD = "provenance.json"  # also names the base model the adapter was trained on
# The params sections recorded with the adapter: how it was trained, and the prompt and
# generation settings evaluate uses with it (dialogsum-summarise reads them back).
RECORDED_SECTIONS = ("prompt", "generate", "lora", "train")


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


def adapter_record(params: Params) -> dict:
    """What finetune records with the adapter besides the base model and the environment: the
    seed, the data's source and the RECORDED_SECTIONS of params."""
    return {
        "seed": params.seed,
        "data": {"source": params.data.source, "local_directory": Path(params.data.source).is_dir()},
        **{name: dataclasses.asdict(getattr(params, name)) for name in RECORDED_SECTIONS},
    }


def save_adapter(model, tokenizer, provenance: dict, directory: Path) -> None:
    """Save the adapter (safetensors), tokenizer, provenance (which names the base model, with
    the parameter counts added) and model card (README.md), with target_modules in a fixed
    order; refuse weights that are not all finite."""
    if not all(torch.isfinite(p).all() for p in model.parameters() if p.requires_grad):
        raise UserError("training diverged: the adapter's weights are not all finite; lower train.learning_rate or lora.alpha")
    trainable, total = model.get_nb_trainable_parameters()
    record = {**provenance, "parameters": {"adapter": trainable, "base": total - trainable}}
    with atomic_path(directory) as temporary:
        model.save_pretrained(temporary, safe_serialization=True)
        save_tokenizer(tokenizer, temporary)
        write_json(temporary / ADAPTER_BASE_RECORD, record)
        (temporary / CARD_FILE).write_text(adapter_card(record), encoding="utf-8")  # not PEFT's empty template
        # PEFT writes target_modules from a set, whose order changes between runs.
        config = read_json(temporary / "adapter_config.json")
        config["target_modules"] = sorted(config["target_modules"])
        write_json(temporary / "adapter_config.json", config)


def require_adapter(adapter_dir: Path) -> None:
    """Fail if `adapter_dir` holds no adapter at all, saying how to make one."""
    if not (adapter_dir / "adapter_config.json").is_file():
        raise UserError(f"no LoRA adapter in {adapter_dir}: run `dvc repro finetune` (or `dvc pull`) first")


def check_adapter(adapter_dir: Path, base_resolved: str) -> None:
    """Refuse an adapter directory before loading it: missing, pickled weights only, no
    tokenizer, corrupt files, or trained on another base model than `base_resolved` (what
    model_directory gave)."""
    require_adapter(adapter_dir)
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


def read_record(adapter_dir: Path) -> dict:
    """The record saved with the adapter in `adapter_dir` (checked by check_adapter, or at least
    present), with the prompt and generation settings it was evaluated with."""
    path = adapter_dir / ADAPTER_BASE_RECORD
    require_adapter(adapter_dir)
    record = read_json(path)
    sections = ("model", "data", "training", "environment", "parameters", *RECORDED_SECTIONS)
    if not (isinstance(record, dict) and isinstance(record.get("seed"), int)
            and all(isinstance(record.get(name), dict) for name in sections)):
        raise UserError(
            f"{path} does not record how the adapter was trained and the settings it was evaluated with "
            f"(seed, {', '.join(sections)}): retrain it with `dvc repro finetune`"
        )
    return record


def recorded_settings(record: dict, adapter_dir: Path, overrides: dict[str, dict] | None = None) -> tuple[PromptParams, GenerateParams]:
    """The prompt and generation settings the adapter's record holds, with `overrides` (e.g.
    {"generate": {"num_beams": 4}}) in their place, checked as params.yaml's are."""
    overrides = overrides or {}
    source = str(adapter_dir / ADAPTER_BASE_RECORD) + (", or the options that override it" if any(overrides.values()) else "")
    return tuple(
        parse_section(section, {**record[key], **overrides.get(key, {})}, key, source)
        for key, section in (("prompt", PromptParams), ("generate", GenerateParams))
    )


def base_model_directory(record: dict, name: str | None = None, revision: str | None = None) -> tuple[Path, str]:
    """model_directory of the base model the adapter's record names, or of `name` (at `revision`)
    given instead, as a command's --model."""
    if name is None:
        name, revision = record["model"]["name"], record["model"]["revision"]
    try:
        return model_directory(name, revision)
    except UserError as error:
        raise UserError(f"{error} (the base model: give it with --model)") from None


def load_merged_model(model_dir: Path, adapter_dir: Path, dtype: torch.dtype, device: torch.device):
    """The base model in `model_dir` with the adapter in `adapter_dir` (checked by check_adapter)
    merged into its weights: a plain transformers model, as fast per step as the base."""
    return load_adapter(load_base_model(model_dir, dtype, device), adapter_dir).merge_and_unload()


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
