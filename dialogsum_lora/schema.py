"""Typed records read from files: params.yaml's sections, and what the stages write and read back.

A schema is a pydantic model (a `Record`): each key with its type, bounds and help, checked
strictly (no "8" for 8, no true for 1, no NaN or infinity, no unknown key). `parse` checks a
value read from a file against one and turns the first thing wrong into one UserError naming
the file, the key, the value and what is allowed, in pydantic's words:

    params.yaml: lora.r: Input should be greater than or equal to 1, got 0
"""

import types
import typing
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from dialogsum_lora.errors import UserError


class Record(BaseModel):
    """A schema: strict types, finite numbers, no unknown keys, read-only once parsed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def setting(help: str, **bounds) -> Any:
    """A key of a schema: what it means, and for a number its bounds (ge, gt, le, lt)."""
    return Field(description=help, **bounds)


NOT_UNICODE = "is not valid Unicode text (it holds a lone surrogate, e.g. from \\ud800, or bytes that are not UTF-8)"


def is_valid_unicode(text: str) -> bool:
    """Whether `text` can be written as UTF-8: no lone surrogate (what a JSON escape \\ud800, or an
    argument of bytes that are not UTF-8, leaves in a Python string)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _valid_unicode(text: str) -> str:
    if not is_valid_unicode(text):
        raise ValueError(NOT_UNICODE)
    return text


def _real_text(text: str) -> str:
    if not text.strip():
        raise ValueError(f"must not be empty, got {text!r}")
    return _valid_unicode(text)


Unicode = Annotated[str, AfterValidator(_valid_unicode)]  # valid Unicode, maybe empty
Text = Annotated[str, AfterValidator(_real_text)]  # not blank, and valid Unicode


R = TypeVar("R", bound=BaseModel)


def parse(schema: type[R], value, source: str) -> R:
    """`value` (as read from `source`, a file) checked against `schema`; the first thing
    wrong is a UserError naming `source`, the key, the value and what is allowed."""
    try:
        return schema.model_validate(value)
    except ValidationError as error:
        # An unknown key first: a typo (lora.rank) also makes the key it stands for (lora.r) missing.
        first = min(error.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
        raise UserError(f"{source}: {_message(first, schema)}") from None


def _message(error: dict, schema: type[BaseModel]) -> str:
    """pydantic's own message, with the key (dotted) and the value; an unknown key with the keys its section
    allows (a typo's likely fix)."""
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
    """The schema of the mapping at `location` (a tuple of keys) within `schema`, if it is one."""
    model = schema
    for part in location:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field is not None else None
        candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return model
