"""Typed records read from files (params.yaml's sections, what the stages write and read back), checked by
pydantic; the first thing wrong is one UserError: `params.yaml: lora.r: Input should be ... 1, got 0`."""

import types
import typing
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from dialogsum_lora.errors import UserError
from dialogsum_lora.files import read_json


class Record(BaseModel):
    """A schema: strict types (no "8" for 8, no true for 1), finite numbers, no unknown keys, read-only."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def setting(help: str, **bounds) -> Any:
    """A key of a schema: what it means, and for a number its bounds (ge, gt, le, lt)."""
    return Field(description=help, **bounds)


def _real_text(text: str) -> str:
    if not text.strip():
        raise ValueError(f"must not be empty, got {text!r}")
    return text


Text = Annotated[str, AfterValidator(_real_text)]  # not blank


R = TypeVar("R", bound=BaseModel)


def parse(schema: type[R], value, source: str) -> R:
    """`value`, read from `source`, checked against `schema`; the first thing wrong is a UserError naming `source`,
    the key, the value and what is allowed."""
    try:
        return schema.model_validate(value)
    except ValidationError as error:
        # An unknown key first: a typo (lora.rank) also makes the key it stands for (lora.r) missing.
        first = min(error.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
        raise UserError(f"{source}: {_message(first, schema)}") from None


def read_checked(schema: type[R], path, fix: str = "run `dvc repro` to remake it", key: str | None = None) -> R:
    """The record at `path` (its `key`, if given) through `schema`: a missing, hand-edited or stale one is one line
    naming the key, then `fix`."""
    try:
        value = read_json(path)
        part = (value.get(key) if isinstance(value, dict) else None) if key else value
        return parse(schema, part, f"{path}{f' {key}' if key else ''}")
    except UserError as error:
        raise UserError(f"{error}: {fix}") from None


def _message(error: dict, schema: type[BaseModel]) -> str:
    """pydantic's message, with the dotted key and the value; an unknown key with the keys its section allows."""
    location = error["loc"]
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location).lstrip(".")
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        parent = _model_at(schema, location[:-1])
        where = ".".join(map(str, location[:-1])) or "the top level"
        allowed = f" (allowed in {where}: {', '.join(parent.model_fields)})" if parent else ""
        return f"unknown key {key}{allowed}"
    if kind == "missing":
        return f"missing key {key}"
    if kind == "value_error":  # the project's own validators word theirs with the value
        return f"{key} {message.removeprefix('Value error, ')}".strip()
    return f"{key or 'the file'}: {message}, got {error.get('input')!r:.80}"


def _model_at(schema: type[BaseModel], location: tuple) -> type[BaseModel] | None:
    """The schema of the mapping at `location` (keys) within `schema`, if it is one."""
    model = schema
    for part in location:
        annotation = getattr(model.model_fields.get(part), "annotation", None)  # None for a list index too
        candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return model
