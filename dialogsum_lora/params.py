"""Read params.yaml once into typed, validated sections.

Every key a stage reads is declared here, with its type and what it means.
An unknown key, a wrong type or an out-of-range value is a UserError that
names the key, the value and what is allowed, raised before any model or
data is loaded.
"""

import dataclasses
import io
import string
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from dialogsum_lora.errors import UserError
from dialogsum_lora.paths import PARAMS_FILE


@dataclass(frozen=True)
class Interval:
    """The values a numeric param may take: finite, accepted by the libraries, and small
    enough for a model to allocate. NaN is inside no interval."""

    low: float
    high: float
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return above and below

    def __str__(self) -> str:
        return f"{'(' if self.open_low else '['}{self.low}, {self.high}{')' if self.open_high else ']'}"


def _help(text: str, within: Interval | None = None):
    """A field's help text and, for a number, the Interval it must lie in."""
    return field(metadata={"help": text, "within": within})


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
    max_source_tokens: int = _help("Prompt tokens kept; longer prompts are cut (and counted).", Interval(1, 8192))
    max_target_tokens: int = _help("Summary tokens kept as training labels.", Interval(1, 2048))

    def __post_init__(self):
        _check_template(self.template)


@dataclass(frozen=True)
class LoraParams:
    r: int = _help("LoRA rank.", Interval(1, 1024))
    alpha: float = _help("LoRA scaling numerator (the update is scaled by alpha / r).", Interval(0, 4096, open_low=True))
    dropout: float = _help("Dropout on the LoRA input.", Interval(0, 1, open_high=True))
    target_modules: list[str] = _help("Names of the linear layers that get adapters (T5: q, k, v, o, wi_0, wi_1, wo).")


@dataclass(frozen=True)
class TrainParams:
    learning_rate: float = _help("Peak AdamW learning rate (linear decay to 0).", Interval(0, 1, open_low=True))
    epochs: float = _help("Passes over the training split (ignored when max_steps is set).", Interval(0, 1000, open_low=True))
    batch_size: int = _help("Training examples per optimiser step.", Interval(1, 4096))
    max_steps: int | None = _help("Optimiser steps to stop after; null trains for `epochs`.", Interval(1, 10_000_000))
    logging_steps: int = _help("Log the training loss every this many steps.", Interval(1, 10_000_000))
    checkpoint_steps: int = _help("Save a checkpoint to resume from every this many steps.", Interval(1, 10_000_000))
    compile: bool = _help("torch.compile the model for training (the first steps compile; then fewer kernel launches).")
    validation_rouge_dialogues: int | None = _help(
        "Validation dialogues summarised and scored with ROUGE at every validation (a fixed subset drawn from "
        "`seed`); null for all of them, 0 for none.", Interval(0, 10_000_000))


@dataclass(frozen=True)
class GenerateParams:
    max_new_tokens: int = _help("Longest summary generated, in tokens.", Interval(1, 2048))
    num_beams: int = _help("1 is greedy decoding; more is beam search.", Interval(1, 64))
    batch_size: int = _help("Dialogues generated together.", Interval(1, 4096))


@dataclass(frozen=True)
class AnalysisParams:
    resamples: int = _help("Bootstrap resamples for the 95% intervals and the paired test.", Interval(1, 100_000))
    min_topic_dialogues: int = _help("ROUGE is reported per topic for topics with at least this many test dialogues.",
                                     Interval(1, 10_000_000))


@dataclass(frozen=True)
class Params:
    seed: int = _help("One seed for python, numpy, torch and the Trainer.", Interval(0, 2**32 - 1))
    processes: int = _help("Processes (GPUs; on a CPU, cores) that finetune, baseline and evaluate run as.", Interval(1, 64))
    data: DataParams = _help("Where the dialogues come from.")
    model: ModelParams = _help("The base model.")
    prompt: PromptParams = _help("How a dialogue becomes model input.")
    lora: LoraParams = _help("The LoRA adapter.")
    train: TrainParams = _help("Fine-tuning.")
    generate: GenerateParams = _help("Summary generation for baseline, evaluation and validation ROUGE.")
    analysis: AnalysisParams = _help("How the results are analysed: intervals, significance, topics.")


def interval(section: type, name: str) -> Interval:
    """The Interval a numeric field of a params section (e.g. AnalysisParams, "resamples") lies in."""
    return next(f for f in dataclasses.fields(section) if f.name == name).metadata["within"]


def _check_processes(params: "Params") -> None:
    if params.train.batch_size % params.processes:
        raise UserError(
            f"params.yaml: train.batch_size ({params.train.batch_size}) must be a multiple of processes "
            f"({params.processes}): it is the global batch, split evenly across processes"
        )


def _check_template(template: str) -> None:
    """The template's only replacement field is a plain {dialogue}, at least once."""
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template) if name is not None]
    except ValueError as error:  # a lone brace
        raise UserError(
            f"params.yaml: prompt.template is not a valid template ({error}; write a literal brace as {{{{ or }}}}): "
            f"{template!r}"
        ) from None
    for name, spec, conversion in fields:
        if (name, spec, conversion) != ("dialogue", "", None):
            written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise UserError(
                f"params.yaml: prompt.template may contain only the field {{dialogue}}, as is (no conversion, "
                f"format, attribute or index; write a literal brace as {{{{ or }}}}), got {written} in {template!r}"
            )
    if not fields:
        raise UserError(f"params.yaml: prompt.template must contain {{dialogue}}, got {template!r}")


def _check_value(key: str, value, metadata: dict) -> None:
    """A value of the right type must also be non-blank text, and a number in its Interval."""
    texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    if value == [] or any(not text.strip() for text in texts):
        raise UserError(f"params.yaml: {key} must not be empty, got {value!r} ({metadata['help']})")
    within = metadata["within"]
    if within is not None and value is not None and value not in within:
        raise UserError(f"params.yaml: {key} must be in {within}, got {value!r}")


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
    unknown = sorted((key for key in raw if key not in fields), key=str)
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
            _check_value(f"{prefix}{name}", value, fields[name].metadata)
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


def parse_section(section: type, raw, key: str, source: str):
    """Validate one params section (e.g. PromptParams under `key` "prompt") read from elsewhere
    than params.yaml, such as the settings an adapter records: errors name `source` instead."""
    try:
        return _build(section, raw, f"{key}.")
    except UserError as error:
        raise UserError(f"{source}: {str(error).removeprefix('params.yaml: ')}") from None


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml, as DVC reads it (YAML 1.2: `1e-3` is a number, `yes` is
    text, `052` is 52, a key given twice is an error), so a stage runs with what dvc.lock records."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    if not path.exists():
        raise UserError(f"{path} not found: run the stages from the repository root")
    if not path.is_file():  # a directory, or a pipe that would never end
        raise UserError(f"{path} is not a regular file")
    try:
        raw = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {path}: {error}") from None
    except (YAMLError, ValueError, RecursionError) as error:  # also numbers of 4,300 digits, nesting too deep
        raise UserError(f"{path} is not valid YAML: {type(error).__name__}: {str(error)[:200]}") from None
    return parse_params(raw)


def set_key(document: dict, dotted: str, value) -> None:
    """Set the dotted key (e.g. "lora.r") of a params mapping; one that is not there is a KeyError."""
    *sections, key = dotted.split(".")
    for section in sections:
        document = document[section]
    if key not in document:
        raise KeyError(f"{dotted} is not a params key")
    document[key] = value


def set_params(path: Path, overrides: dict) -> None:
    """Set dotted keys (e.g. "lora.r") in a params.yaml, keeping its comments and layout."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedSeq

    document_yaml = YAML()  # round trip: comments, order and quoting stay as they were
    document_yaml.width = 4096
    document_yaml.representer.add_representer(
        type(None), lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    document = document_yaml.load(path.read_text(encoding="utf-8"))
    for dotted, value in overrides.items():
        if isinstance(value, list):
            value = CommentedSeq(value)
            value.fa.set_flow_style()
        set_key(document, dotted, value)
    text = io.StringIO()
    document_yaml.dump(document, text)
    path.write_text(text.getvalue(), encoding="utf-8")
