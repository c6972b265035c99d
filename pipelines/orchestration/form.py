"""The Airflow trigger form and the DAG run's conf: ``Param``s built from the params models' JSON Schema, defaults
read from the params.yaml of the commit the run will use.

The form holds the keys people change between runs, grouped in sections, plus the commit (``git_commit``)
whose params.yaml gave those defaults; the run's workspace is that commit, so a run uses exactly what the form
showed. Any other params.yaml key may come in a REST trigger's conf too: every key is applied, and an unknown
key or a bad value fails the run naming the key. Types, enums, ranges and descriptions are pydantic's JSON
Schema of pipelines/config/schema.py, so the form cannot offer a value the pipeline rejects.
"""

from __future__ import annotations

from typing import Any

from pipelines.config import (
    MODEL_TYPES,
    MOVED_KEYS,
    ConfigError,
    field_schema,
    flatten,
    merged_params,
    params_from_dict,
)

COMMIT_KEY = "git_commit"
REBUILD_KEY = "rebuild"
"""A REST conf key beside the params: ``true`` executes every stage instead of restoring it from DVC's run-cache
(``python -m pipelines.reproduce --dag`` sets it); not on the form."""
FORM_SECTIONS: dict[str, tuple[str, ...]] = {
    "Data": ("task", "dataset.name", "dataset.train_on", "dataset.seed"),
    "Text": ("clean.stopwords", "clean.stem", "tokenize.method"),
    "Embeddings": ("embed.method", "embed.extra_text", "model.embedding_init"),
    "Model": ("model.type",),
    "Training": (
        "train.epochs",
        "train.learning_rate",
        "train.batch_size",
        "train.lr_schedule",
        "train.seed",
        "train.ensemble_size",
    ),
    "Language model": ("language_model.cell", "language_model.hidden_size", "language_model.num_layers"),
    "Registry": ("register.approval",),
}
"""The keys the form shows, by section (Airflow folds each section); every other key is REST conf only."""
FORM_KEYS: tuple[str, ...] = tuple(key for keys in FORM_SECTIONS.values() for key in keys)
VALUES_DISPLAY: dict[str, dict[str, str]] = {"model.type": MODEL_TYPES}
"""Readable names for the values of a choice, where the value itself is a code."""


def form_params(defaults: dict[str, Any], commit: str) -> dict[str, Any]:
    """The form: ``defaults`` are the flattened params of ``commit``."""
    from airflow.sdk import Param

    form = {}
    for section, keys in FORM_SECTIONS.items():
        for key in keys:
            schema = field_schema(key) | {"title": key, "section": section}
            if key in VALUES_DISPLAY:
                schema["values_display"] = VALUES_DISPLAY[key]
            form[key] = Param(defaults[key], **schema)
    form[COMMIT_KEY] = commit_param(commit)
    return form


def commit_param(commit: str) -> Any:
    """The form field holding the commit a run checks out (both DAGs' forms end with it)."""
    from airflow.sdk import Param

    return Param(
        commit,
        type="string",
        pattern="^[0-9a-f]{40}$",
        title="git commit",
        section="Version",
        description="The project commit this run checks out; the defaults above are its params.yaml",
    )


def overrides_from_conf(conf: dict[str, Any], committed: dict[str, Any]) -> dict[str, Any]:
    """Every params key of the run's conf whose value differs from ``committed`` (the nested params.yaml of
    the run's commit), validated like params.yaml itself. ``git_commit`` is not a params key."""
    defaults = flatten(params_from_dict(committed, source="params.yaml", resolve=False))
    keys = {key: value for key, value in conf.items() if key not in (COMMIT_KEY, REBUILD_KEY)}
    unknown = sorted(set(keys) - set(defaults))
    if unknown:
        if unknown[0] in MOVED_KEYS:
            raise ConfigError(f"DAG run conf: '{unknown[0]}' {MOVED_KEYS[unknown[0]]}")
        raise ConfigError(
            f"DAG run conf: unknown key '{unknown[0]}'; use dotted params.yaml keys like 'model.type' "
            f"(or '{COMMIT_KEY}', '{REBUILD_KEY}')"
        )
    overrides = {key: value for key, value in keys.items() if value != defaults[key]}
    params_from_dict(merged_params(committed, overrides), source="DAG run conf")
    return overrides
