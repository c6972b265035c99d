"""The hyperparameter search: a space checked before any trial trains, seeded and reproducible proposals inside
the space, the budget in trials and minutes, and pruning that stops a poor training without leaving an output."""

from __future__ import annotations

import copy
import json
import math

import pytest
import yaml

from pipelines.config import ConfigError, SearchParams, load_params, merged_params, params_from_dict
from pipelines.config.pipeline import load_stages, split_params
from pipelines.orchestration.sweep import SEARCH_ROUNDS, refit_proposal, round_trials
from pipelines.search.pruning import (
    TRIAL_ENV,
    TrialPruned,
    TrialPruning,
    pruning_spec,
    read_report,
    write_trial_file,
)
from pipelines.search.space import check_space
from pipelines.search.study import COMPLETE, propose
from pipelines.stages.train import standalone_command
from tests.conftest import ROOT, SMALL_PIPELINE, clone_project, merge, run, tool_env, write_params

COMMITTED = yaml.safe_load((ROOT / "params.yaml").read_text())
SPLIT_PARAMS = split_params(load_stages(ROOT / "dvc.yaml"))


def settings(**changes) -> SearchParams:
    return load_params(ROOT / "params.yaml").search.model_copy(update=changes)


def space_with(group: str, key: str, dimension: dict) -> SearchParams:
    data = merged_params(COMMITTED, {f"search.spaces.{group}": {key: dimension}})
    return params_from_dict(data).search


@pytest.mark.parametrize(
    ("group", "key", "dimension", "message"),
    [
        ("classifier", "train.learnin_rate", {"low": 0.001, "high": 0.01}, "unknown key 'train.learnin_rate'"),
        ("classifier", "dataset.seed", {"choices": [1, 2]}, "'dataset.seed' is read by validate or a stage before it"),
        ("classifier", "model.dropout", {"low": 0.1, "high": 0.99}, "'model.dropout' is 0.99"),
        ("textcnn", "train.optimizer", {"low": 1, "high": 2}, "'train.optimizer' is not a number"),
        ("textcnn", "train.epochs", {"low": 1.5, "high": 4}, "'train.epochs' takes whole numbers"),
    ],
)
def test_a_bad_search_space_is_refused_before_any_trial_trains(group, key, dimension, message):
    with pytest.raises(ConfigError, match=message):
        check_space(space_with(group, key, dimension), COMMITTED, SPLIT_PARAMS)


LBFGS_PINS = {"train.optimizer": "lbfgs", "train.learning_rate": 1.0, "model.dropout": 0.0}


def test_a_one_value_choice_pins_a_key_for_its_model_types_trials():
    """A user who fits ``tfidf_linear`` by L-BFGS, as scikit-learn does, pins the optimizer, its step and no
    dropout in the type's group: the committed run's Adam and dropout 0.5 do not get the space refused, and every
    trial, the run's own settings first, trains as pinned. Unpinned, the classifier group's dropout would give
    L-BFGS a loss that changes on every call: refused before any trial trains."""
    pinned = copy.deepcopy(COMMITTED)
    pinned["search"]["model_types"] = ["tfidf_linear"]
    pinned["search"]["spaces"]["tfidf_linear"] = {
        **{key: {"choices": [value]} for key, value in LBFGS_PINS.items()},
        "model.tfidf_linear.max_n": {"choices": [1, 2]},
        "train.weight_decay": {"low": 1e-7, "high": 0.01, "log": True},
    }
    search = params_from_dict(pinned).search
    check_space(search, COMMITTED, SPLIT_PARAMS)
    params = params_from_dict(merged_params(COMMITTED, {"model.type": "tfidf_linear"}))
    proposals = propose(search, params, True, [], 3)
    assert all(proposal["overrides"].items() >= LBFGS_PINS.items() for proposal in proposals), proposals
    assert proposals[0]["overrides"]["model.tfidf_linear.max_n"] == params.model.tfidf_linear.max_n
    del pinned["search"]["spaces"]["tfidf_linear"]["model.dropout"]
    with pytest.raises(ConfigError, match=r"search.spaces.tfidf_linear: 'train.optimizer' lbfgs .*'model.dropout' is"):
        check_space(params_from_dict(pinned).search, COMMITTED, SPLIT_PARAMS)


def test_a_space_may_hold_a_key_the_stages_after_the_splits_read_and_trials_draw_it():
    """The cleaning is read by clean, not by what makes the splits, so a search may choose it (each trial re-runs
    clean for its value); the first trial keeps the committed cleaning, and the later ones try the other."""
    search = space_with("classifier", "clean.style", {"choices": ["treebank", "kim"]})
    check_space(search, COMMITTED, SPLIT_PARAMS)
    params = load_params(ROOT / "params.yaml")
    history = []
    for _ in range(3):
        for proposal in propose(search, params, True, history, 2):
            history.append(proposal | {"state": COMPLETE, "score": proposal["trial"] / 10, "intermediate": {}})
    assert history[0]["overrides"]["clean.style"] == params.clean.style
    assert {record["overrides"]["clean.style"] for record in history} == {"treebank", "kim"}


def test_a_search_dimension_is_a_range_or_choices():
    with pytest.raises(ConfigError, match="either a range"):
        space_with("classifier", "model.dropout", {"low": 0.1, "high": 0.5, "choices": [0.2]})
    with pytest.raises(ConfigError, match="low > 0"):
        space_with("classifier", "model.dropout", {"low": 0.0, "high": 0.5, "log": True})
    with pytest.raises(ConfigError, match="unknown group"):
        params_from_dict(merged_params(COMMITTED, {"search.spaces.transformer": {}}))


def test_proposals_lie_in_the_space_and_the_same_results_give_the_same_proposals():
    params = load_params(ROOT / "params.yaml")
    search = settings(model_types=["textcnn", "nb_ngrams"])
    history = []
    for _ in range(3):
        for proposal in propose(search, params, True, history, 2):
            history.append(proposal | {"state": COMPLETE, "score": proposal["trial"] / 10, "intermediate": {}})
    assert [record["trial"] for record in history] == [0, 1, 2, 3, 4, 5]
    assert len({json.dumps(record["overrides"], sort_keys=True) for record in history}) == 6, "no repeats"
    for record in history:
        overrides = record["overrides"]
        space = search.spaces["classifier"] | search.spaces[overrides["model.type"]]
        assert set(overrides) == {"model.type", *space}
        for key, dimension in space.items():
            if dimension.choices is not None:
                assert overrides[key] in dimension.choices
            else:
                assert dimension.low <= overrides[key] <= dimension.high
        assert isinstance(overrides.get("model.nb_ngrams.max_n", 1), int)
        params_from_dict(merged_params(COMMITTED, overrides))
    again = propose(search, params, True, history[:4], 2)
    assert [proposal["overrides"] for proposal in again] == [record["overrides"] for record in history[4:]]


def test_the_first_trial_is_the_runs_own_settings_so_a_search_is_never_worse_than_none():
    """The default params' TextCNN trains first as it is (its weight decay of 0 at the log range's lowest); the
    rest of the round, and a search without ``baseline_first``, draws."""
    params = load_params(ROOT / "params.yaml")
    first, second = propose(settings(), params, True, [], 2)
    assert first["overrides"] == {
        "train.learning_rate": params.train.learning_rate,
        "train.weight_decay": settings().spaces["classifier"]["train.weight_decay"].low,
        "model.dropout": params.model.dropout,
        "model.textcnn.num_filters": params.model.textcnn.num_filters,
    }
    assert second["overrides"] != first["overrides"]
    assert (first["baseline"], second["baseline"]) == (True, False)
    drawn = propose(settings(baseline_first=False), params, True, [], 1)[0]
    assert drawn["overrides"] != first["overrides"] and drawn["overrides"].keys() == first["overrides"].keys()
    assert drawn["baseline"] is False
    among_types = propose(settings(model_types=["nb_ngrams", "textcnn"]), params, True, [], 1)[0]
    assert among_types["overrides"] == {"model.type": "textcnn", **first["overrides"]}
    later = [first | {"state": COMPLETE, "score": 0.5, "intermediate": {}}]
    assert propose(settings(), params, True, later, 1)[0]["overrides"] != first["overrides"], "only the first"


def _round(round_number: int, earlier: list, minutes: float = 0.0, **conf):
    return round_trials(
        "search",
        round_number,
        conf={"mode": "search", **conf},
        committed=COMMITTED,
        split_stage_params=SPLIT_PARAMS,
        earlier=earlier,
        minutes_elapsed=minutes,
    )


def _finished(trials: list) -> list:
    return [trial | {"state": COMPLETE, "score": 0.5, "intermediate": {"1": 0.5}} for trial in trials]


def test_a_search_stops_when_its_trials_or_minutes_are_spent():
    first, _ = _round(0, [], **{"search.trials": 3, "search.parallel": 2})
    assert [trial["trial"] for trial in first] == [0, 1]
    second, _ = _round(1, _finished(first), **{"search.trials": 3, "search.parallel": 2})
    assert [trial["trial"] for trial in second] == [2], "the last round holds what is left of the budget"
    assert second[0]["pruning"]["history"][0]["overrides"] == first[0]["overrides"], "a trial sees earlier results"
    none, reason = _round(2, _finished(first + second), **{"search.trials": 3, "search.parallel": 2})
    assert none == [] and reason == "the budget of 3 trials is spent"
    none, reason = _round(1, _finished(first), minutes=31.0, **{"search.minutes": 30.0})
    assert none == [] and "budget of 30 minutes is spent" in reason
    trials = SEARCH_ROUNDS * 2 + 1
    with pytest.raises(ConfigError, match=f"needs {math.ceil(trials / 2)} rounds"):
        _round(0, [], **{"search.trials": trials, "search.parallel": 2})


def test_after_the_last_round_the_best_trials_settings_are_refit_as_a_seed_ensemble_of_the_asked_size():
    first, _ = _round(0, [], **{"search.trials": 2, "search.parallel": 2})
    results = [
        trial | {"index": trial["trial"], "state": COMPLETE, "score": score, "higher_is_better": True}
        for trial, score in zip(first, [0.61, 0.64], strict=True)
    ]
    conf = {"mode": "search", "search.ensemble_size": 3}
    proposal, _ = refit_proposal("search", conf=conf, committed=COMMITTED, results=results)
    assert proposal["overrides"] == first[1]["overrides"] | {"train.ensemble_size": 3}, "the best trial's settings"
    assert proposal["trial"] == 2 and proposal["refit"] is True, "numbered after every trial"
    assert params_from_dict(merged_params(COMMITTED, proposal["overrides"])).train.ensemble_size == 3
    none, reason = refit_proposal("search", conf={"mode": "search"}, committed=COMMITTED, results=results)
    assert none is None and reason.startswith("search.ensemble_size is 1")
    none, reason = refit_proposal("grid", conf={"mode": "grid"}, committed=COMMITTED, results=results)
    assert none is None and "grid" in reason


def _history(score: float, trials: int = 4, second_epoch: float | None = None) -> list:
    from optuna.distributions import FloatDistribution, distribution_to_json

    distribution = distribution_to_json(FloatDistribution(0.0001, 0.1, log=True))
    return [
        {
            "trial": number,
            "overrides": {"train.learning_rate": 0.001 * (number + 1)},
            "distributions": {"train.learning_rate": distribution},
            "state": COMPLETE,
            "score": score,
            "intermediate": {"1": score, "2": score if second_epoch is None else second_epoch},
        }
        for number in range(trials)
    ]


def _trial_file(path, history, **changes):
    from optuna.distributions import FloatDistribution, distribution_to_json

    proposal = {
        "trial": len(history),
        "overrides": {"train.learning_rate": 0.01},
        "distributions": {"train.learning_rate": distribution_to_json(FloatDistribution(0.0001, 0.1, log=True))},
    }
    write_trial_file(path, pruning_spec(settings(warmup_epochs=0, **changes), True, history) | {"trial": proposal})
    return path


def test_a_trial_below_the_median_of_earlier_trials_is_pruned_and_one_above_is_not(tmp_path):
    """Optuna's median rule: the trial's best score so far against the median of earlier trials at that epoch."""
    pruning = TrialPruning.from_file(_trial_file(tmp_path / "trial.json", _history(0.8, second_epoch=0.9)))
    pruning.report({"epoch": 1, "valid_accuracy": 0.85}, "valid_accuracy")
    with pytest.raises(TrialPruned, match="trial 4 pruned after epoch 2: valid_accuracy 0.8200"):
        pruning.report({"epoch": 2, "valid_accuracy": 0.82}, "valid_accuracy")
    assert read_report(tmp_path / "trial.json") == {"intermediate": {"1": 0.85, "2": 0.82}, "pruned": True}
    too_few = TrialPruning.from_file(_trial_file(tmp_path / "few.json", _history(0.8, trials=3)))
    too_few.report({"epoch": 1, "valid_accuracy": 0.1}, "valid_accuracy")  # under search.startup_trials complete
    off = TrialPruning.from_file(_trial_file(tmp_path / "off.json", _history(0.8), pruning=False))
    off.report({"epoch": 1, "valid_accuracy": 0.1}, "valid_accuracy")


def test_a_pruned_training_writes_no_model_and_its_mlflow_run_is_killed_not_failed(reproduced_project, tmp_path):
    project = clone_project(reproduced_project, tmp_path / "project")
    write_params(tmp_path, merge(SMALL_PIPELINE, {"train": {"epochs": 3}}))
    trial_file = _trial_file(tmp_path / "trial.json", _history(1.0))
    out, store = tmp_path / "out", f"sqlite:///{tmp_path / 'mlflow.db'}"
    environment = tool_env({TRIAL_ENV: str(trial_file), "MLFLOW_TRACKING_URI": store})
    result = run(standalone_command(ROOT, tmp_path / "params.yaml", out), project, check=False, env=environment)
    assert result.returncode == 1
    assert "[train] error: search trial 4 pruned after epoch 1: valid_accuracy" in result.stderr, result.stderr[-2000:]
    assert not (out / "model.pt").exists() and not (out / "train.json").exists()
    assert read_report(trial_file)["pruned"] and list(read_report(trial_file)["intermediate"]) == ["1"]

    import mlflow

    client = mlflow.MlflowClient(store)
    (trial_run,) = client.search_runs([client.get_experiment_by_name("textflow").experiment_id])
    assert trial_run.info.status == "KILLED"
    assert trial_run.data.tags["textflow.search.state"] == "pruned"
    assert trial_run.data.tags["textflow.search.trial"] == "4"
    assert not any(key.startswith("search.") for key in trial_run.data.params), "the search is not the run's params"


def test_readme_search_table_lists_every_search_key_with_its_default():
    from pipelines.config import Params

    defaults = {key: value for key, value in Params().search.model_dump().items() if key != "spaces"}
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `search.")]
    documented = {}
    for row in rows:
        key, default = (cell.strip().strip("`") for cell in row.strip("|").split("|")[:2])
        documented[key.removeprefix("search.")] = default
    assert set(documented) == {*defaults, "spaces"}
    for key, value in defaults.items():
        assert yaml.safe_load(documented[key]) == value, (key, documented[key], value)
