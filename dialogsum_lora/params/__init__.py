"""params.yaml: every knob the stages read, one typed schema per section (`lora` in params/methods.py, ...).

A stage names the sections it reads, as dvc.yaml does, in a `Reads(StageParams)` class, and `load_params(Reads)`
checks those alone, before any model or data loads; so a new key reruns only the stages that read it.
"""

import io
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from dialogsum_lora.errors import UserError
from dialogsum_lora.files import read_text
from dialogsum_lora.paths import PARAMS_FILE
from dialogsum_lora.schema import Record, parse, setting

# params.yaml's sections, in its order.
SECTIONS = tuple("seed processes method data model prompt baseline lora ia3 full train generate analysis".split())

Seed = Annotated[int, setting("One seed for python, numpy, torch and the Trainer.", ge=0, le=2**32 - 1)]
Processes = Annotated[
    int,
    setting(
        "Processes (GPUs; on a CPU, cores) that finetune, baseline and evaluate run as; "
        "train.batch_size is the global batch.",
        ge=1,
        le=64,
    ),
]

METHODS = ("lora", "ia3", "full")
Method = Annotated[
    Literal[METHODS],
    setting(
        "What finetune trains: lora (a LoRA adapter, params `lora`), ia3 (an IA3 "
        "adapter, params `ia3`) or full (every weight, params `full`)."
    ),
]


class StageParams(Record):
    """The sections of params.yaml a stage (or command) reads, each a field."""


P = TypeVar("P", bound=StageParams)


def load_params(reads: type[P], path: Path = PARAMS_FILE) -> P:
    """The sections `reads` names, read from `path` as DVC reads it (YAML 1.2: `1e-3` is a number, `yes` is text,
    `052` is 52, a key given twice is an error) and checked; anything wrong is a UserError."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    if not path.exists():
        raise UserError(f"{path} not found: run the stages from the repository root")
    try:
        raw = YAML(typ="safe", pure=True).load(read_text(path))
    except YAMLError as error:
        raise UserError(f"{path} is not valid YAML: {type(error).__name__}: {str(error)[:200]}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path} must be a mapping of sections ({', '.join(SECTIONS)}), got {raw!r:.80}")
    unknown = sorted((key for key in raw if key not in SECTIONS), key=str)
    if unknown:
        raise UserError(f"{path}: unknown key {unknown[0]} (allowed at the top level: {', '.join(SECTIONS)})")
    return parse(reads, {key: raw[key] for key in reads.model_fields if key in raw}, str(path))


def set_key(document: dict, dotted: str, value) -> None:
    """Set the dotted key (e.g. "train.optim") of a params mapping, added if absent (as `dvc exp run -S` does)."""
    *sections, key = dotted.split(".")
    for section in sections:
        document = document[section]
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
