"""What a trial may vary: the groups of ``search.spaces`` that apply to it as Optuna distributions, typed by the
params schema (an integer key is searched over integers), every bound checked as a params value before any trial
trains."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipelines.config import (
    ConfigError,
    Params,
    SearchDimension,
    SearchParams,
    field_schema,
    flatten,
    merged_params,
    params_from_dict,
)
from pipelines.config.pipeline import refuse_split_key

MODEL_TYPE_KEY = "model.type"


def model_types(settings: SearchParams, params: Params) -> list[str]:
    """The classifier types a search chooses among: ``search.model_types``, else the run's ``model.type``."""
    return list(settings.model_types) or [params.model.type]


def groups_for(params: Params, model_type: str) -> list[str]:
    """The groups of ``search.spaces`` a trial draws from, later groups overriding earlier ones per key."""
    return ["language_model"] if params.task == "language_model" else ["classifier", model_type]


def dimensions(settings: SearchParams, groups: Iterable[str]) -> dict[str, SearchDimension]:
    merged: dict[str, SearchDimension] = {}
    for group in groups:
        merged |= settings.spaces.get(group, {})
    return merged


def distribution(key: str, dimension: SearchDimension) -> Any:
    """The Optuna distribution of one dimension: choices are categorical; a range is integer or float as the
    params key is."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if dimension.choices is not None:
        return CategoricalDistribution(dimension.choices)
    kind = field_schema(key).get("type")
    if kind == "integer":
        if dimension.low != int(dimension.low) or dimension.high != int(dimension.high):
            raise ConfigError(f"search.spaces: '{key}' takes whole numbers; give low and high as integers")
        return IntDistribution(int(dimension.low), int(dimension.high), log=dimension.log)
    if kind == "number":
        return FloatDistribution(dimension.low, dimension.high, log=dimension.log)
    raise ConfigError(f"search.spaces: '{key}' is not a number; search it over choices, not a range")


def suggest(trial: Any, settings: SearchParams, params: Params) -> dict[str, Any]:
    """Draw one trial's params (dotted keys), the model type first when the search chooses among several."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    types = model_types(settings, params)
    model_type = trial.suggest_categorical(MODEL_TYPE_KEY, types) if len(types) > 1 else types[0]
    for key, dimension in dimensions(settings, groups_for(params, model_type)).items():
        drawn = distribution(key, dimension)
        if isinstance(drawn, CategoricalDistribution):
            trial.suggest_categorical(key, drawn.choices)
        elif isinstance(drawn, IntDistribution):
            trial.suggest_int(key, drawn.low, drawn.high, log=drawn.log)
        else:
            trial.suggest_float(key, drawn.low, drawn.high, log=drawn.log)
    return dict(trial.params)


def baseline(settings: SearchParams, params: Params) -> dict[str, Any]:
    """The run's own values of the keys a search varies, as a first trial: ``model.type`` when the search chooses
    among types, and each key of that type's space, a value outside its range moved to the nearest bound (the
    default ``train.weight_decay: 0`` becomes the log range's lowest, 1e-8). A value missing from a key's choices
    is drawn as in any trial. Empty when the run's model type is not among those searched."""
    types = model_types(settings, params)
    if params.model.type not in types:
        return {}
    values = flatten(params)
    start: dict[str, Any] = {MODEL_TYPE_KEY: params.model.type} if len(types) > 1 else {}
    for key, dimension in dimensions(settings, groups_for(params, params.model.type)).items():
        value = values[key]
        if dimension.choices is None:
            start[key] = min(max(value, dimension.low), dimension.high)
        elif value in dimension.choices:
            start[key] = value
    return start


def check_space(settings: SearchParams, committed: dict[str, Any], split_stage_params: Iterable[str] = ()) -> None:
    """Refuse, before any trial trains, a search whose space names an unknown key, a key the stages that make the
    splits read (``split_stage_params``: trials are compared on one validation split), or a bound or choice the
    params refuse. Each bound and choice is checked as the trials of each searched model type would take it: with
    that type, its groups merged, and the keys they pin (a one-value choice: e.g. L-BFGS, which needs dropout 0,
    pinned with it)."""
    params = params_from_dict(committed, source="params.yaml")
    known = flatten(params)
    split_stage_params = list(split_stage_params)
    types = model_types(settings, params)
    groups = ["language_model"] if params.task == "language_model" else ["classifier", *types]
    if not dimensions(settings, groups):
        raise ConfigError(f"search.spaces has nothing to search for {', '.join(groups)}; give it dotted keys")
    for group in groups:
        for key in settings.spaces.get(group, {}):
            where = f"search.spaces.{group}"
            if key not in known or key == MODEL_TYPE_KEY:
                raise ConfigError(
                    f"{where}: unknown key '{key}'; use dotted params.yaml keys like 'train.learning_rate' "
                    "(model types go in search.model_types)"
                )
            refuse_split_key(where, key, split_stage_params)
    for model_type in [params.model.type] if params.task == "language_model" else types:
        trial_groups = groups_for(params, model_type)
        merged = dimensions(settings, trial_groups)
        pinned = {key: d.choices[0] for key, d in merged.items() if d.choices is not None and len(d.choices) == 1}
        type_override = {} if params.task == "language_model" else {MODEL_TYPE_KEY: model_type}
        for key, dimension in merged.items():
            group = next(g for g in reversed(trial_groups) if key in settings.spaces.get(g, {}))
            drawn = distribution(key, dimension)
            values = drawn.choices if dimension.choices is not None else (drawn.low, drawn.high)
            for value in values:
                overrides = {**type_override, **pinned, key: value}
                params_from_dict(merged_params(committed, overrides), source=f"search.spaces.{group}")
