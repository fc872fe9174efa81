"""Typed records read from files: params.yaml's sections, and what the stages write and read back.

A schema is a pydantic model (a `Record`): each key with its type, bounds and help, checked
strictly (no "8" for 8, no true for 1, no NaN or infinity, no unknown key). `parse` checks a
value read from a file against one and turns the first thing wrong into one UserError naming
the file, the key, the value and what is allowed, e.g.

    params.yaml: lora.r must be in [1, 1024], got 0 (LoRA rank.)

pydantic rather than hand-written checks: its strict mode already refuses what a YAML or JSON
file can get wrong; only the wording of its report is ours (`_message`).
"""

import math
import types
import typing
from typing import Annotated, Any, TypeVar

import annotated_types
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


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}


def _message(error: dict, schema: type[BaseModel]) -> str:
    location = error["loc"]
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location).lstrip(".")
    field = _field(schema, location)
    help_text = f" ({field.description})" if field is not None and field.description else ""
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(schema, location[:-1])
        allowed = (
            f" (allowed in {'.'.join(map(str, location[:-1])) or 'the top level'}: {', '.join(parent.model_fields)})"
            if parent
            else ""
        )
        return f"unknown key {key}{allowed}"
    if kind == "missing":
        return f"missing key {key}{help_text}"
    if kind == "finite_number" and (field is None or bounds(field) == ((False, -math.inf), (False, math.inf))):
        return f"{key} must be a finite number, got {value!r}"
    if kind in _RANGE_ERRORS and field is not None:
        return f"{key} must be in {bounds_text(field)}, got {value!r}"
    if kind == "too_short":
        return f"{key} must not be empty, got {value!r}{help_text}"
    if kind.endswith("_type") and field is not None:
        return f"{key} must be {type_name(field.annotation)}, got {value!r:.80}{help_text}"
    if kind == "value_error":
        return f"{key} {error['msg'].removeprefix('Value error, ')}".strip()
    return f"{key or 'the file'}: {error['msg']}, got {value!r:.80}"


def _model_at(schema: type[BaseModel], location: tuple) -> type[BaseModel] | None:
    """The schema of the mapping at `location` (a tuple of keys) within `schema`, if it is one."""
    model = schema
    for part in location:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        model = _inner_model(field.annotation) if field is not None else None
        if model is None:
            return None
    return model


def _inner_model(annotation) -> type[BaseModel] | None:
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def _field(schema: type[BaseModel], location: tuple):
    """The field a validation error's location names (a list item's: the list's field)."""
    keys = [part for part in location if isinstance(part, str)]
    if not keys:
        return None
    model = _model_at(schema, tuple(keys[:-1]))
    return model.model_fields.get(keys[-1]) if model is not None else None


def bounds_text(field) -> str:
    """A numeric field's bounds as an interval: [1, 1024], (0, 1], ..."""
    low, high = bounds(field)
    (low_open, low_value), (high_open, high_value) = low, high
    return f"{'(' if low_open else '['}{low_value}, {high_value}{')' if high_open else ']'}"


def bounds(field) -> tuple[tuple[bool, float], tuple[bool, float]]:
    """((open, low), (open, high)) of a numeric field; an unbounded side is infinite."""
    low, high = (False, -math.inf), (False, math.inf)
    for constraint in field.metadata:
        if isinstance(constraint, annotated_types.Ge):
            low = (False, constraint.ge)
        elif isinstance(constraint, annotated_types.Gt):
            low = (True, constraint.gt)
        elif isinstance(constraint, annotated_types.Le):
            high = (False, constraint.le)
        elif isinstance(constraint, annotated_types.Lt):
            high = (True, constraint.lt)
    return low, high


def type_name(annotation) -> str:
    """A type as a message names it: int, a list of str, int or null."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return " or ".join(type_name(arg) for arg in typing.get_args(annotation))
    if typing.get_origin(annotation) is Annotated:
        return type_name(typing.get_args(annotation)[0])
    if annotation is type(None):
        return "null"
    if typing.get_origin(annotation) is list:
        return f"a list of {type_name(typing.get_args(annotation)[0])}"
    if typing.get_origin(annotation) is dict:
        return "a mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "a mapping of keys"
    return getattr(annotation, "__name__", str(annotation))
