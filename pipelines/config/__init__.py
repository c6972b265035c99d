"""The one reader of ``params.yaml``: the pydantic models of :mod:`pipelines.config.schema`, validated on load.

A typo in ``params.yaml``, in ``dvc exp run -S key=value`` or in an Airflow trigger fails before any work
starts, with one line that names the key, the value and what is allowed; pydantic's errors are formatted into
that line (:mod:`pipelines.config.messages`). :mod:`pipelines.config.pipeline` reads the other source of truth,
``dvc.yaml`` (stages, their deps, params and paths).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pipelines.config.messages import MOVED_KEYS, ConfigError, describe
from pipelines.config.schema import (
    MODEL_TYPES,
    BadLinePolicy,
    BatchSampling,
    CharCNNParams,
    CleanParams,
    CleanStyle,
    DataFormat,
    DatasetName,
    DatasetParams,
    DemoCorpus,
    EmbeddingInit,
    EmbedParams,
    ExtraText,
    FastTextParams,
    KeywordMethod,
    KeywordsParams,
    LanguageModelParams,
    LocalFiles,
    ModelParams,
    ModelType,
    NBNgramsParams,
    Params,
    Pooling,
    RecurrentCell,
    RecurrentParams,
    RegisterParams,
    SearchDimension,
    SearchParams,
    Section,
    StopwordSource,
    Task,
    TextCNNParams,
    TfidfLinearParams,
    TokenizeParams,
    TokenizerChoice,
    TokenizerMethod,
    TrackingParams,
    TrainParams,
    ValidateParams,
    dataset_has_labels,
    resolved_tokenizer,
)
from pipelines.config.yaml_reader import YAMLError, load_yaml

PARAMS_FILE = Path("params.yaml")
PERFORMANCE_ONLY = ("clean.workers", "tokenize.workers", "train.num_threads")
"""Keys that change how fast a stage runs, never what it writes: a checkpoint fingerprint ignores them, and the
test that ties each stage's reads to dvc.yaml does not require them to be declared."""
RESOLVED_FROM = {"tokenize.method": ("dataset.name",)}
"""Keys whose ``auto`` value is resolved on load from other keys (:func:`resolve_defaults`): reading the
resolved value reads those keys too."""

__all__ = [
    "MODEL_TYPES",
    "MOVED_KEYS",
    "PARAMS_FILE",
    "PERFORMANCE_ONLY",
    "RESOLVED_FROM",
    "BadLinePolicy",
    "BatchSampling",
    "CharCNNParams",
    "CleanParams",
    "CleanStyle",
    "ConfigError",
    "DataFormat",
    "DatasetName",
    "DatasetParams",
    "DemoCorpus",
    "EmbedParams",
    "EmbeddingInit",
    "ExtraText",
    "FastTextParams",
    "KeywordMethod",
    "KeywordsParams",
    "LanguageModelParams",
    "LocalFiles",
    "ModelParams",
    "ModelType",
    "NBNgramsParams",
    "Params",
    "Pooling",
    "RecurrentCell",
    "RecurrentParams",
    "RegisterParams",
    "SearchDimension",
    "SearchParams",
    "StopwordSource",
    "Task",
    "TextCNNParams",
    "TfidfLinearParams",
    "TokenizeParams",
    "TokenizerChoice",
    "TokenizerMethod",
    "TrackingParams",
    "TrainParams",
    "ValidateParams",
    "build_section",
    "dataset_has_labels",
    "field_schema",
    "flatten",
    "merged_params",
    "load_params",
    "params_from_dict",
    "parse_assignments",
    "resolve_defaults",
    "set_dotted",
    "set_flags",
    "to_dict",
]


def load_params(path: str | Path = PARAMS_FILE, overrides: dict[str, Any] | None = None) -> Params:
    """Read params.yaml, apply dotted-key ``overrides`` (``{"model.type": "bigru"}``) and validate."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found; run from the project root or pass its path")
    try:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
    except YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    for dotted, value in (overrides or {}).items():
        set_dotted(data, dotted, value)
    return params_from_dict(data, source=str(path))


def params_from_dict(data: Any, source: str = "params", resolve: bool = True) -> Params:
    """Validated params; ``resolve`` False keeps ``auto`` values as written (for forms and comparisons of what a
    user typed). The rules between keys judge the resolved values either way."""
    params = _validated(Params, data, source, prefix="")
    return resolve_defaults(params) if resolve else params


def build_section(cls: type[Section], data: Any, key: str) -> Any:
    """Validate one section (e.g. a saved model's ``ModelParams``) on its own, without cross-section rules."""
    return _validated(cls, data, key, prefix=f"{key}.")


def resolve_defaults(params: Params) -> Params:
    """Values that depend on the dataset: ``tokenize.method: auto`` becomes the dataset's unit (registry)."""
    if params.tokenize.method != "auto":
        return params
    tokenize = params.tokenize.model_copy(update={"method": resolved_tokenizer(params)})
    return params.model_copy(update={"tokenize": tokenize})


def _validated(cls: type[BaseModel], data: Any, source: str, prefix: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: '{prefix.rstrip('.') or 'top level'}' must be a mapping, got {data!r}")
    try:
        return cls.model_validate(_empty_sections(cls, data))
    except ValidationError as error:
        raise ConfigError(f"{source}: {describe(error.errors()[0], cls, prefix)}") from None


def _empty_sections(cls: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """YAML reads a section with nothing under it (``dataset:``) as null; it means the defaults."""
    cleaned = {}
    for key, value in data.items():
        field = cls.model_fields.get(key)
        section = field is not None and isinstance(field.annotation, type) and issubclass(field.annotation, Section)
        if section and value is None:
            value = {}
        if section and isinstance(value, dict):
            value = _empty_sections(field.annotation, value)
        cleaned[key] = value
    return cleaned


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dicts, creating the intermediate levels."""
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{dotted}: '{key}' is a value, not a section")
    node[leaf] = value


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """``["train.epochs=3", ...]`` (the ``-S`` flags of ``dvc exp run``) as dotted overrides, values read as YAML."""
    overrides = {}
    for item in items:
        key, _, value = item.partition("=")
        overrides[key] = load_yaml(value)
    return overrides


def to_dict(params: BaseModel) -> dict[str, Any]:
    return params.model_dump()


def flatten(params: BaseModel) -> dict[str, Any]:
    """``{"model.type": "textcnn", ...}``: the form MLflow params and Airflow forms use."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}{key}.", value)
        else:
            flat[prefix[:-1]] = node

    walk("", params.model_dump())
    return flat


SCHEMA_KEYWORDS = ("type", "enum", "minimum", "maximum", "description", "items", "minItems")


@functools.cache
def _schema() -> dict[str, Any]:
    return Params.model_json_schema()


def field_schema(key: str) -> dict[str, Any]:
    """The JSON Schema of a dotted params key, from the models' own schema (sections resolved)."""
    schema = _schema()
    node = schema
    for part in key.split("."):
        node = node["properties"][part]
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return {name: value for name, value in node.items() if name in SCHEMA_KEYWORDS}


def merged_params(committed: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of the nested ``committed`` params with the dotted ``overrides`` set."""
    data = copy.deepcopy(committed)
    for key, value in overrides.items():
        set_dotted(data, key, value)
    return data


def set_flags(overrides: dict[str, Any]) -> str:
    """Dotted overrides as ``dvc exp run`` flags (``-S key=value``, values as YAML reads them back), the inverse of
    :func:`parse_assignments`."""

    def as_yaml(value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, list):
            return "[" + ",".join(map(as_yaml, value)) + "]"
        return str(value)

    return " ".join(f"-S {key}={as_yaml(value)}" for key, value in overrides.items())
