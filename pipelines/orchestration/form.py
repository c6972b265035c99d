"""The Airflow trigger form: ``Param``s built from the typed config, defaults read from params.yaml.

The form holds the keys people change between runs; every other key keeps its params.yaml value. Types,
enums and ranges come from pipelines/config.py, so the form cannot offer a value the pipeline rejects.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, Literal

from pipelines.config import Params, flatten, load_params

FORM_KEYS: dict[str, str] = {
    "dataset.name": "Dataset from the registry (demo is synthetic and offline)",
    "model.type": "Classifier architecture",
    "model.embedding_init": "rand, or vectors from the embed stage (static = frozen, non-static = fine-tuned, "
    "multichannel = both)",
    "embed.method": "Embeddings trained by the embed stage",
    "embed.extra_text": "Unlabelled sentences of another dataset added to the embedding corpus",
    "clean.stopwords": "Stopword list removed by the clean stage",
    "clean.stem": "Porter-stem tokens",
    "tokenize.method": "word, char (needed by charcnn) or jieba tokens",
    "train.epochs": "Maximum epochs (early stopping on validation may end sooner)",
    "train.learning_rate": "Optimizer learning rate",
    "train.batch_size": "Examples per batch",
    "train.lr_schedule": "Learning-rate decay over the epochs",
    "seed": "Random seed for splits, initialisation and shuffling",
}


def field_spec(key: str) -> tuple[Any, dict]:
    """(type hint, field metadata) of a dotted params key."""
    cls: Any = Params
    *sections, leaf = key.split(".")
    for section in sections:
        cls = typing.get_type_hints(cls)[section]
    field = {item.name: item for item in dataclasses.fields(cls)}[leaf]
    return typing.get_type_hints(cls)[leaf], dict(field.metadata)


def form_params(params_file: Path) -> dict[str, Any]:
    from airflow.sdk import Param

    defaults = flatten(load_params(params_file))
    form = {}
    for key, description in FORM_KEYS.items():
        hint, metadata = field_spec(key)
        schema: dict[str, Any] = {"description": description, "title": key}
        if typing.get_origin(hint) is Literal:
            schema |= {"type": "string", "enum": list(typing.get_args(hint))}
        elif hint is bool:
            schema["type"] = "boolean"
        elif hint in (int, float):
            schema["type"] = "integer" if hint is int else "number"
            if metadata.get("minimum") is not None:
                schema["minimum"] = metadata["minimum"]
            if metadata.get("maximum") is not None:
                schema["maximum"] = metadata["maximum"]
        form[key] = Param(defaults[key], **schema)
    return form


def overrides_from_conf(conf: dict[str, Any], params_file: Path) -> dict[str, Any]:
    """The form (or REST ``conf``) values that differ from params.yaml, validated like params.yaml itself."""
    defaults = flatten(load_params(params_file))
    unknown = sorted(set(conf) - set(defaults))
    if unknown:
        from pipelines.config import ConfigError

        raise ConfigError(f"DAG run conf: unknown key '{unknown[0]}'; use dotted params.yaml keys like 'model.type'")
    overrides = {key: value for key, value in conf.items() if value != defaults[key]}
    load_params(params_file, overrides)
    return overrides
