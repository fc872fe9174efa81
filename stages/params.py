"""Read params.yaml once into typed, validated sections.

Every key a stage reads is declared here, with its type and what it means.
An unknown key, a wrong type or an out-of-range value is a UserError that
names the key, the value and what is allowed, raised before any model or
data is loaded.
"""

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stages.errors import UserError

PARAMS_FILE = Path("params.yaml")


def _help(text: str, **kwargs):
    return field(metadata={"help": text}, **kwargs)


@dataclass(frozen=True)
class DataParams:
    source: str = _help("Hugging Face dataset id, or a local directory (hub or DialogSum-authors layout).")
    revision: str | None = _help("Hub commit, branch or tag to load; null for the default branch.")


@dataclass(frozen=True)
class ModelParams:
    name: str = _help("Hugging Face model id, or a local directory with config, tokenizer and safetensors weights.")
    revision: str | None = _help("Hub commit, branch or tag to load; null for the default branch.")


@dataclass(frozen=True)
class PromptParams:
    template: str = _help("The one prompt for zero-shot, training and evaluation; must contain {dialogue}.")
    max_source_tokens: int = _help("Prompt tokens kept; longer prompts are cut (and counted).")
    max_target_tokens: int = _help("Summary tokens kept as training labels.")

    def __post_init__(self):
        if "{dialogue}" not in self.template:
            raise UserError(
                f"params.yaml: prompt.template must contain {{dialogue}}, got {self.template!r}"
            )
        try:
            self.template.format(dialogue="")
        except (KeyError, IndexError, ValueError) as error:
            raise UserError(
                f"params.yaml: prompt.template may contain only the field {{dialogue}} "
                f"(write a literal brace as {{{{ or }}}}): {error!r} in {self.template!r}"
            ) from None
        _at_least("prompt.max_source_tokens", self.max_source_tokens, 1)
        _at_least("prompt.max_target_tokens", self.max_target_tokens, 1)


@dataclass(frozen=True)
class LoraParams:
    r: int = _help("LoRA rank.")
    alpha: float = _help("LoRA scaling numerator (the update is scaled by alpha / r).")
    dropout: float = _help("Dropout on the LoRA input, in [0, 1).")
    target_modules: list[str] = _help("Names of the linear layers that get adapters (T5: q, k, v, o, wi_0, wi_1, wo).")

    def __post_init__(self):
        _at_least("lora.r", self.r, 1)
        if self.alpha <= 0:
            raise UserError(f"params.yaml: lora.alpha must be > 0, got {self.alpha!r}")
        if not 0 <= self.dropout < 1:
            raise UserError(f"params.yaml: lora.dropout must be in [0, 1), got {self.dropout!r}")
        if not self.target_modules:
            raise UserError("params.yaml: lora.target_modules must name at least one module, got []")


@dataclass(frozen=True)
class TrainParams:
    learning_rate: float = _help("Peak AdamW learning rate (linear decay to 0).")
    epochs: float = _help("Passes over the training split (ignored when max_steps is set).")
    batch_size: int = _help("Training examples per optimiser step.")
    max_steps: int | None = _help("Optimiser steps to stop after; null trains for `epochs`.")
    logging_steps: int = _help("Log the training loss every this many steps.")
    checkpoint_steps: int = _help("Save a checkpoint to resume from every this many steps.")
    compile: bool = _help("torch.compile the model for training (the first steps compile; then fewer kernel launches).")

    def __post_init__(self):
        if self.learning_rate <= 0:
            raise UserError(f"params.yaml: train.learning_rate must be > 0, got {self.learning_rate!r}")
        if self.epochs <= 0:
            raise UserError(f"params.yaml: train.epochs must be > 0, got {self.epochs!r}")
        _at_least("train.batch_size", self.batch_size, 1)
        if self.max_steps is not None:
            _at_least("train.max_steps", self.max_steps, 1)
        _at_least("train.logging_steps", self.logging_steps, 1)
        _at_least("train.checkpoint_steps", self.checkpoint_steps, 1)


@dataclass(frozen=True)
class GenerateParams:
    max_new_tokens: int = _help("Longest summary generated, in tokens.")
    num_beams: int = _help("1 is greedy decoding; more is beam search.")
    batch_size: int = _help("Dialogues generated together.")

    def __post_init__(self):
        _at_least("generate.max_new_tokens", self.max_new_tokens, 1)
        _at_least("generate.num_beams", self.num_beams, 1)
        _at_least("generate.batch_size", self.batch_size, 1)


@dataclass(frozen=True)
class Params:
    seed: int = _help("One seed for python, numpy, torch and the Trainer.")
    processes: int = _help("Processes (GPUs; on a CPU, cores) that finetune, baseline and evaluate run as.")
    data: DataParams = _help("Where the dialogues come from.")
    model: ModelParams = _help("The base model.")
    prompt: PromptParams = _help("How a dialogue becomes model input.")
    lora: LoraParams = _help("The LoRA adapter.")
    train: TrainParams = _help("Fine-tuning.")
    generate: GenerateParams = _help("Summary generation for baseline and evaluation.")


def _check_processes(params: "Params") -> None:
    _at_least("processes", params.processes, 1)
    if params.train.batch_size % params.processes:
        raise UserError(
            f"params.yaml: train.batch_size ({params.train.batch_size}) must be a multiple of processes "
            f"({params.processes}): it is the global batch, split evenly across processes"
        )


def _at_least(key: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise UserError(f"params.yaml: {key} must be >= {minimum}, got {value!r}")


def _type_name(annotation) -> str:
    if isinstance(annotation, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    if typing.get_origin(annotation) is list:
        return f"a list of {_type_name(typing.get_args(annotation)[0])}"
    return annotation.__name__


def _matches(value, annotation) -> bool:
    if isinstance(annotation, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _build(cls, raw, prefix: str):
    where = prefix.rstrip(".") or "the top level"
    if not isinstance(raw, dict):
        raise UserError(f"params.yaml: {where} must be a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise UserError(
            f"params.yaml: unknown key {prefix}{unknown[0]} (allowed in {where}: {', '.join(fields)})"
        )
    missing = [name for name in fields if name not in raw]
    if missing:
        raise UserError(f"params.yaml: missing key {prefix}{missing[0]} ({fields[missing[0]].metadata['help']})")
    values = {}
    for name, annotation in hints.items():
        value = raw[name]
        if dataclasses.is_dataclass(annotation):
            values[name] = _build(annotation, value, f"{prefix}{name}.")
        elif _matches(value, annotation):
            values[name] = float(value) if annotation is float else value
        else:
            raise UserError(
                f"params.yaml: {prefix}{name} must be {_type_name(annotation)}, got {value!r} "
                f"({fields[name].metadata['help']})"
            )
    return cls(**values)


def parse_params(raw: dict) -> Params:
    """Validate a params mapping (as read from YAML) into Params."""
    params = _build(Params, raw, "")
    _check_processes(params)
    return params


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path} not found: run the stages from the repository root") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UserError(f"{path} is not valid YAML: {error}") from None
    return parse_params(raw)
