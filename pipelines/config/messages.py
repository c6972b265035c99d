"""pydantic's validation errors as textflow's one-line messages: the dotted key, the value, what is allowed.

Users and tests have relied on these lines since before pydantic (``'train.epochs' is 0; allowed range: 1 to
1000``), so the wording is kept; the facts in it (allowed keys, values, ranges) are read from the models.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel

from pipelines.common.errors import InputError

MOVED_KEYS = {
    "seed": "was split in two: 'dataset.seed' (demo corpus, splits, embeddings) and 'train.seed' (initial "
    "weights, dropout, batch order), so a model can be retrained with another seed on the same data",
}


class ConfigError(InputError, ValueError):
    """A value in params.yaml (or an override) is unknown, of the wrong type or out of range."""


def _dotted(prefix: str, loc: tuple) -> str:
    key = prefix.rstrip(".")
    for part in loc:
        key = f"{key}[{part}]" if isinstance(part, int) else (f"{key}.{part}" if key else str(part))
    return key


def _walk(cls: type[BaseModel], loc: tuple) -> tuple[Any, list[Any]]:
    """(annotation, constraint metadata) of the value at ``loc`` below model ``cls``."""
    annotation: Any = cls
    metadata: list[Any] = []
    for part in loc:
        annotation = _unwrap_optional(annotation)
        if isinstance(part, int):
            (annotation,) = typing.get_args(annotation)
            metadata = []
            if typing.get_origin(annotation) is typing.Annotated:
                annotation, *extra = typing.get_args(annotation)
                metadata = [item for entry in extra for item in getattr(entry, "metadata", [entry])]
        elif typing.get_origin(annotation) is dict:  # a key of a mapping (``search.spaces.<group>.<key>``)
            annotation, metadata = typing.get_args(annotation)[1], []
        else:
            field = annotation.model_fields[part]
            annotation, metadata = field.annotation, list(field.metadata)
    return annotation, metadata


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(_unwrap_optional(annotation)) in (typing.Union, types.UnionType)


def _keyed_part(cls: type[BaseModel], loc: tuple) -> tuple:
    """``loc`` up to a union's member name (``choices[0].int`` is the key ``choices[0]``)."""
    for index in range(len(loc)):
        if _is_union(_walk(cls, loc[:index])[0]):
            return loc[:index]
    return loc


def _unwrap_optional(annotation: Any) -> Any:
    """``X`` for ``X | None``; anything else as it is."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(annotation) if option is not type(None)]
        return options[0] if len(options) == 1 else annotation
    return annotation


def _allowed_range(metadata: list[Any]) -> str:
    low = next((item.ge if isinstance(item, Ge) else item.gt for item in metadata if isinstance(item, Ge | Gt)), None)
    high = next((item.le if isinstance(item, Le) else item.lt for item in metadata if isinstance(item, Le | Lt)), None)
    return f"{low if low is not None else '-inf'} to {high if high is not None else 'inf'}"


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return getattr(annotation, "__name__", str(annotation))


def describe(error: dict[str, Any], cls: type[BaseModel], prefix: str = "") -> str:
    """One pydantic error (from ``ValidationError.errors()``) of a ``cls`` validated at ``prefix`` as a line."""
    kind, value = error["type"], error.get("input")
    full_loc = tuple(error["loc"])
    loc = _keyed_part(cls, full_loc)
    key = _dotted(prefix, loc)
    if loc != full_loc:
        options = ", ".join(_type_name(option) for option in typing.get_args(_unwrap_optional(_walk(cls, loc)[0])))
        return f"'{key}' is {value!r}; it must be one of: {options}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "extra_forbidden":
        if key in MOVED_KEYS:
            return f"'{key}' {MOVED_KEYS[key]}"
        parent, _ = _walk(cls, loc[:-1])
        allowed = ", ".join(sorted(_unwrap_optional(parent).model_fields))
        return f"unknown key '{key}'; allowed keys here: {allowed}"
    annotation, metadata = _walk(cls, loc)
    if kind == "literal_error":
        options = typing.get_args(_unwrap_optional(annotation))
        return f"'{key}' is {value!r}; allowed values: {', '.join(map(str, options))}"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"'{key}' must be an integer, got {value!r}"
    if kind in ("float_type", "float_parsing"):
        return f"'{key}' must be a number, got {value!r}"
    if kind == "finite_number":
        shown = "nan" if isinstance(value, float) and math.isnan(value) else repr(value)
        return f"'{key}' is {shown}; it must be a finite number (allowed range: {_allowed_range(metadata)})"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"'{key}' is {value!r}; allowed range: {_allowed_range(metadata)}"
    if kind == "bool_type":
        return f"'{key}' must be true or false, got {value!r}"
    if kind == "string_type":
        return f"'{key}' must be a string, got {value!r}"
    if kind in ("list_type", "too_short"):
        inner = typing.get_args(_unwrap_optional(annotation))
        allowed_empty = not any(getattr(item, "min_length", 0) for item in metadata)
        what = "a list" if allowed_empty else "a non-empty list"
        return f"'{key}' must be {what} of {_type_name(inner[0]) if inner else 'values'}, got {value!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"'{key or 'top level'}' must be a mapping, got {value!r}"
    return f"'{key}' {error['msg']}, got {value!r}"
