"""The registry gate: every branch of the decision, and the real register on a temporary MLflow store,
including two registers racing (threads against one SQLite file would lock, so they share a real server)."""

from __future__ import annotations

import threading

import pytest

from pipelines.tracking import MODEL_URI_TAG, VALID_DATA_HASH_TAG, TrackingError
from pipelines.tracking.approval import TIMED_OUT, apply_approval
from pipelines.tracking.gate import APPROVAL_TAG, CHALLENGER, CHAMPION, Scored, choose_champion, register_if_better
from tests.conftest import running_mlflow_server

KEY = "validation_macro_f1"
SAME, OTHER = "a" * 64, "b" * 64


def test_first_version_becomes_champion():
    candidate = Scored(1, 0.8, SAME)
    assert choose_champion(candidate, None, [candidate], KEY).champion == 1


def test_better_score_on_the_same_data_takes_the_alias():
    current, candidate = Scored(1, 0.8, SAME), Scored(2, 0.9, SAME)
    decision = choose_champion(candidate, current, [current, candidate], KEY)
    assert decision.champion == 2 and "beats champion v1" in decision.reason


def test_a_tie_keeps_the_champion():
    current, candidate = Scored(1, 0.8, SAME), Scored(2, 0.8, SAME)
    decision = choose_champion(candidate, current, [current, candidate], KEY)
    assert decision.champion == 1 and "does not beat champion v1" in decision.reason


def test_other_validation_data_is_not_comparable():
    current, candidate = Scored(1, 0.5, SAME), Scored(2, 0.99, OTHER)
    decision = choose_champion(candidate, current, [current, candidate], KEY)
    assert decision.champion == 1 and "validated on other data" in decision.reason


def test_already_champion_stays():
    current = Scored(1, 0.8, SAME)
    decision = choose_champion(current, current, [current], KEY)
    assert decision.champion == 1 and "already the champion" in decision.reason


def test_a_champion_without_the_metric_is_not_replaced_silently():
    current, candidate = Scored(1, None, None), Scored(2, 0.9, SAME)
    decision = choose_champion(candidate, current, [current, candidate], KEY)
    assert decision.champion == 1 and "move the alias by hand" in decision.reason


def test_lower_is_better_promotes_the_lower_score():
    current, candidate = Scored(1, 120.0, SAME), Scored(2, 95.0, SAME)
    assert choose_champion(candidate, current, [current, candidate], "validation_perplexity", False).champion == 2


def test_a_candidate_that_lost_a_race_still_yields_the_best():
    """Seen by a register that decides after a better version arrived: the best of all wins, not the newest."""
    current, raced, candidate = Scored(1, 0.7, SAME), Scored(2, 0.9, SAME), Scored(3, 0.8, SAME)
    assert choose_champion(candidate, current, [current, raced, candidate], KEY).champion == 2


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    import mlflow

    with running_mlflow_server(tmp_path_factory.mktemp("gate-store")) as uri:
        mlflow.set_tracking_uri(uri)
        yield mlflow.MlflowClient()


def _scored_run(client, score: float | None, data_hash: str | None, key: str = KEY) -> str:
    """A run that evaluate could have left: a validation score, the data hash and a model to register."""
    import mlflow

    experiment = client.get_experiment_by_name("gate") or client.get_experiment(client.create_experiment("gate"))
    with mlflow.start_run(experiment_id=experiment.experiment_id) as run:
        if score is not None:
            mlflow.log_metric(key, score)
            mlflow.log_metric(key.replace("validation_", "test_"), score - 0.01)
        if data_hash is not None:
            mlflow.set_tag(VALID_DATA_HASH_TAG, data_hash)
        mlflow.log_text("artifact_path: model\nflavors: {}\n", "model/MLmodel")
        mlflow.set_tag(MODEL_URI_TAG, f"runs:/{run.info.run_id}/model")
    return run.info.run_id


def _champion(client, name: str) -> int:
    return int(client.get_model_version_by_alias(name, CHAMPION).version)


def test_register_promotes_only_the_better_and_is_idempotent(store):
    name = "gate-sequence"
    first = register_if_better(_scored_run(store, 0.80, SAME), name, "macro_f1")
    assert (first["alias"], first["version"], first["reason"]) == (CHAMPION, 1, "no champion yet")
    worse_run = _scored_run(store, 0.70, SAME)
    worse = register_if_better(worse_run, name, "macro_f1")
    assert worse["alias"] == CHALLENGER and _champion(store, name) == 1
    tie = register_if_better(_scored_run(store, 0.80, SAME), name, "macro_f1")
    assert tie["alias"] == CHALLENGER and _champion(store, name) == 1
    other_data = register_if_better(_scored_run(store, 0.99, OTHER), name, "macro_f1")
    assert other_data["alias"] == CHALLENGER and "other data" in other_data["reason"]
    better = register_if_better(_scored_run(store, 0.90, SAME), name, "macro_f1")
    assert better["alias"] == CHAMPION and _champion(store, name) == better["version"]
    again = register_if_better(worse_run, name, "macro_f1")
    assert again["version"] == worse["version"], "re-registering a run adds no version"
    assert len(store.search_model_versions(f"name='{name}'")) == 5


def test_a_language_model_registers_on_lower_perplexity_and_only_on_the_same_data(store):
    name, key = "gate-language-model", "validation_perplexity"

    def register(score, data_hash):
        return register_if_better(_scored_run(store, score, data_hash, key), name, "perplexity", higher_is_better=False)

    assert register(140.0, SAME)["alias"] == CHAMPION
    worse = register(150.0, SAME)
    assert worse["alias"] == CHALLENGER and "does not beat" in worse["reason"]
    other = register(20.0, OTHER)
    assert other["alias"] == CHALLENGER and "other data" in other["reason"]
    better = register(110.0, SAME)
    assert better["alias"] == CHAMPION and _champion(store, name) == better["version"] == 4
    assert better["validation_perplexity"] == 110.0 and better["test_perplexity"] == pytest.approx(109.99)


def test_a_rejected_version_is_out_of_the_running():
    current, rejected, candidate = Scored(1, 0.7, SAME), Scored(2, 0.9, SAME, rejected=True), Scored(3, 0.8, SAME)
    assert choose_champion(candidate, current, [current, rejected, candidate], KEY).champion == 3


def test_with_approval_a_champion_move_waits_for_a_person_and_only_approve_moves_it(store):
    """register.approval: the gate proposes, the alias stays; Reject keeps the version challenger for good (an
    equal retrain is proposed instead, not the rejected one); Approve moves champion and records who and why;
    a proposal overtaken by a better champion is approved without moving the alias."""
    name = "gate-approval"

    def register(score):
        return register_if_better(_scored_run(store, score, SAME), name, "macro_f1", approval=True)

    def tags(version):
        return store.get_model_version(name, str(version)).tags

    rejected_run = _scored_run(store, 0.80, SAME)
    first = register_if_better(rejected_run, name, "macro_f1", approval=True)
    assert first["alias"] == CHALLENGER and first["champion"] is None
    assert first["approval"] == {"proposed": 1, "metric": KEY, "higher_is_better": True}
    assert "waits for approval" in first["reason"] and tags(1)[APPROVAL_TAG] == "pending"
    assert CHAMPION not in store.get_registered_model(name).aliases

    rejected = apply_approval(store, first, approved=False, by="ana", reason="too few classes", airflow_run="d/r1")
    assert rejected == {"decision": "rejected", "champion": None}
    expected = {APPROVAL_TAG: "rejected", f"{APPROVAL_TAG}.by": "ana", f"{APPROVAL_TAG}.reason": "too few classes"}
    assert expected.items() <= tags(1).items()

    again = register_if_better(rejected_run, name, "macro_f1", approval=True)
    assert "approval" not in again and "rejected by a person" in again["reason"], "the same run again: not proposed"
    second = register(0.80)
    assert second["approval"]["proposed"] == 2, "the rejected v1 is never proposed again"
    approved = apply_approval(store, second, approved=True, by="ana", reason="", airflow_run="d/r2")
    assert approved == {"decision": "approved", "champion": 2} and _champion(store, name) == 2
    assert CHALLENGER not in store.get_registered_model(name).aliases, "the new champion is no longer challenger"
    assert tags(2)[f"{APPROVAL_TAG}.airflow_run"] == "d/r2"

    assert "approval" not in register(0.70), "a worse version proposes nothing"
    overtaken = register(0.85)
    register_if_better(_scored_run(store, 0.95, SAME), name, "macro_f1")  # an automatic gate moves it meanwhile
    late = apply_approval(store, overtaken, approved=True, by=None, reason="", airflow_run="d/r3")
    assert late["champion"] == 5 and "not moved" in late["reason"] and "does not beat" in late["reason"]
    assert tags(overtaken["version"])[f"{APPROVAL_TAG}.by"] == TIMED_OUT


def test_an_answer_applied_again_by_a_retried_task_leaves_the_registry_as_the_first_application_did(store):
    """Airflow's apply_approval task is retried after a failure with the same answer (the asking step is not
    asked again); a try that failed after the registry writes must not change what the first one did."""
    name = "gate-approval-retried"

    def state():
        model = store.get_registered_model(name)
        return model.aliases, {v.version: v.tags for v in store.search_model_versions(f"name = '{name}'")}

    register_if_better(_scored_run(store, 0.70, SAME), name, "macro_f1")
    proposed = register_if_better(_scored_run(store, 0.80, SAME), name, "macro_f1", approval=True)
    answer = {"approved": True, "by": "ana", "reason": "looks right", "airflow_run": "d/r1"}
    first = apply_approval(store, proposed, **answer)
    after_first = state()
    assert first == {"decision": "approved", "champion": 2} and after_first[0] == {CHAMPION: "2"}
    assert apply_approval(store, proposed, **answer) == first and state() == after_first

    rejected_proposal = register_if_better(_scored_run(store, 0.90, SAME), name, "macro_f1", approval=True)
    answer = answer | {"approved": False, "airflow_run": "d/r2"}
    first = apply_approval(store, rejected_proposal, **answer)
    after_first = state()
    assert apply_approval(store, rejected_proposal, **answer) == first and state() == after_first
    assert after_first[0] == {CHAMPION: "2", CHALLENGER: "3"}


def test_a_run_without_validation_scores_is_refused(store):
    with pytest.raises(TrackingError, match="has no metric 'validation_macro_f1'"):
        register_if_better(_scored_run(store, None, SAME), "gate-refused", "macro_f1")


def test_concurrent_registers_end_with_the_best_as_champion(store):
    """Many registers at once, each with a different score: whatever the interleaving, the best wins."""
    name = "gate-race"
    register_if_better(_scored_run(store, 0.50, SAME), name, "macro_f1")
    scores = [0.61, 0.93, 0.72, 0.88, 0.55, 0.90]
    runs = [_scored_run(store, score, SAME) for score in scores]
    barrier = threading.Barrier(len(runs))
    errors: list[BaseException] = []

    def register(run_id: str) -> None:
        barrier.wait()
        try:
            register_if_better(run_id, name, "macro_f1")
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=register, args=(run_id,)) for run_id in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    champion = store.get_model_version_by_alias(name, CHAMPION)
    assert champion.run_id == runs[scores.index(max(scores))]


def _write_aliases_at_once(store, name: str, set_alias) -> list[BaseException]:
    """Eight writers create each of ten new aliases at the same moment; returns what they raised."""
    errors: list[BaseException] = []
    for round_ in range(10):
        barrier = threading.Barrier(8)

        def write(index: int, alias: str = f"race-{round_}", barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                set_alias(store, name, alias, 1 + index % 2)
            except BaseException as error:  # surfaced by the caller
                errors.append(error)

        threads = [threading.Thread(target=write, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    return errors


def test_aliases_written_at_once_by_many_registers_all_succeed(store):
    """The store sets an alias by read-then-insert: concurrent first writes of one alias collide on its unique
    key. The gate's alias write retries such a lost race (setting an alias is idempotent)."""
    from pipelines.tracking.gate import _set_alias

    name = "alias-race"
    for score in (0.5, 0.6):
        register_if_better(_scored_run(store, score, SAME), name, "macro_f1")
    assert _write_aliases_at_once(store, name, _set_alias) == []
    assert {int(store.get_model_version_by_alias(name, f"race-{n}").version) for n in range(10)} <= {1, 2}


class Listing:
    """The real client, except that its version listings of one model are read as they were a moment earlier
    (``hide`` left out) on the calls ``stale_calls`` names: the interleaving of two registers, made repeatable."""

    def __init__(self, client, hide: set[int], stale_calls):
        self.client, self.hide, self.stale_calls, self.calls = client, hide, stale_calls, 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def search_model_versions(self, query):
        found = self.client.search_model_versions(query)
        if " and " in query:
            return found
        self.calls += 1
        if self.stale_calls(self.calls):
            return [version for version in found if int(version.version) not in self.hide]
        return found


def _race(store, name):
    """v1 champion on SAME; v2 (OTHER data, the candidate) registered; v3 (SAME, better) registered and made
    champion by another register after the candidate read the versions."""
    import mlflow

    register_if_better(_scored_run(store, 0.80, SAME), name, "macro_f1")
    candidate = _scored_run(store, 0.99, OTHER)
    mlflow.register_model(f"runs:/{candidate}/model", name)
    better = _scored_run(store, 0.95, SAME)
    mlflow.register_model(f"runs:/{better}/model", name)
    store.set_registered_model_alias(name, CHAMPION, "3")
    return candidate


def test_a_champion_newer_than_the_versions_read_is_read_again_not_taken_for_none(store):
    """Taken for "no champion yet", the candidate (validated on other data) would become champion."""
    name = "gate-alias-ahead"
    candidate = _race(store, name)
    decision = register_if_better(candidate, name, "macro_f1", client=Listing(store, {3}, lambda call: call == 1))
    assert decision["alias"] == CHALLENGER and "other data" in decision["reason"]
    assert _champion(store, name) == 3


def test_a_registry_that_never_settles_fails_the_register_instead_of_deciding_on_a_stale_list(store):
    name = "gate-never-settles"
    candidate = _race(store, name)
    flickering = Listing(store, {3}, lambda call: call % 2 == 1)
    with pytest.raises(TrackingError, match="kept changing through 5 decisions"):
        register_if_better(candidate, name, "macro_f1", client=flickering)
