"""The Airflow trigger form and the DAG run's conf: ``Param``s built from the typed config, defaults read from
the params.yaml of the commit the run will use.

The form holds the keys people change between runs, plus the commit (``git_commit``) whose params.yaml gave
those defaults; the run's workspace is that commit, so a run uses exactly what the form showed. Any other
params.yaml key may come in a REST trigger's conf too: every key is applied, and an unknown key or a bad value
fails the run naming the key. Types, enums and ranges come from pipelines/config.py, so the form cannot offer
a value the pipeline rejects.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal

from pipelines.config import MOVED_KEYS, ConfigError, Params, flatten, params_from_dict, set_dotted

COMMIT_KEY = "git_commit"
FORM_KEYS: dict[str, str] = {
    "task": "classification (labelled texts) or language_model (next token: perplexity and generation)",
    "dataset.name": "Dataset from the registry (demo is synthetic and offline; ptb and jaychou are language-model "
    "corpora)",
    "dataset.train_on": "sentences, or every labelled phrase of the training parse trees (sst1, sst2)",
    "model.type": "Classifier architecture (task classification)",
    "model.embedding_init": "rand, or vectors from the embed stage (static = frozen, non-static = fine-tuned, "
    "multichannel = both)",
    "embed.method": "Embeddings trained by the embed stage",
    "embed.extra_text": "Unlabelled sentences of another dataset added to the embedding corpus",
    "clean.stopwords": "Stopword list removed by the clean stage",
    "clean.stem": "Porter-stem tokens",
    "tokenize.method": "auto (the dataset's unit: characters for jaychou, else words), word, char (needed by "
    "charcnn) or jieba tokens",
    "language_model.cell": "Recurrent cell of the language model (task language_model)",
    "language_model.hidden_size": "Hidden units per layer of the language model",
    "language_model.num_layers": "Stacked recurrent layers of the language model",
    "train.epochs": "Maximum epochs (early stopping on validation may end sooner)",
    "train.learning_rate": "Optimizer learning rate",
    "train.batch_size": "Examples per batch",
    "train.lr_schedule": "Learning-rate decay over the epochs",
    "train.seed": "Training seed: initial weights, dropout and batch order (the data stays the same)",
    "train.ensemble_size": "Trainings (seeds train.seed, +1, ...) served as one model averaging them (classification)",
    "dataset.seed": "Data seed: demo corpus, created splits and embeddings",
}


def field_spec(key: str) -> tuple[Any, dict]:
    """(type hint, field metadata) of a dotted params key."""
    cls: Any = Params
    *sections, leaf = key.split(".")
    for section in sections:
        cls = typing.get_type_hints(cls)[section]
    field = {item.name: item for item in dataclasses.fields(cls)}[leaf]
    return typing.get_type_hints(cls)[leaf], dict(field.metadata)


def form_params(defaults: dict[str, Any], commit: str) -> dict[str, Any]:
    """The form: ``defaults`` are the flattened params of ``commit``."""
    from airflow.sdk import Param

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
        description="The project commit this run checks out; the defaults above are its params.yaml",
    )


def overrides_from_conf(conf: dict[str, Any], committed: dict[str, Any]) -> dict[str, Any]:
    """Every params key of the run's conf whose value differs from ``committed`` (the nested params.yaml of
    the run's commit), validated like params.yaml itself. ``git_commit`` is not a params key."""
    defaults = flatten(params_from_dict(committed, source="params.yaml", resolve=False))
    keys = {key: value for key, value in conf.items() if key != COMMIT_KEY}
    unknown = sorted(set(keys) - set(defaults))
    if unknown:
        if unknown[0] in MOVED_KEYS:
            raise ConfigError(f"DAG run conf: '{unknown[0]}' {MOVED_KEYS[unknown[0]]}")
        raise ConfigError(
            f"DAG run conf: unknown key '{unknown[0]}'; use dotted params.yaml keys like 'model.type' "
            f"(or '{COMMIT_KEY}')"
        )
    overrides = {key: value for key, value in keys.items() if value != defaults[key]}
    params_from_dict(merged_params(committed, overrides), source="DAG run conf")
    return overrides


def merged_params(committed: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of the nested ``committed`` params with the dotted ``overrides`` set."""
    import copy

    data = copy.deepcopy(committed)
    for key, value in overrides.items():
        set_dotted(data, key, value)
    return data
