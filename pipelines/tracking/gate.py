"""The registry gate: which registered version carries alias ``champion``.

A version competes only with versions scored on the same validation data (the content hash the evaluate
stage tags), on the validation metric (``register.metric``), in its direction; the test metrics are reported,
never selected on. Ties keep the older version, so re-training the same model never moves the alias.

Two registers may run at once (a sweep, concurrent DAG runs), and MLflow has no transactions, so a plain
read-compare-set lets the worse of two candidates win. Instead the decision is a pure function of the whole
set of versions (:func:`choose_champion`): each register adds its version first, then decides, sets the
alias, and reads the version list again; if it changed meanwhile it decides again (bounded). The last
register to finish has seen every version that exists before its final check, and any register that set the
alias later than that decided on a list that already held them all, so the best version ends as champion
whatever the interleaving, with any store (SQLite file, ``mlflow server``, PostgreSQL).

With ``register.approval`` the gate still decides, but a move of ``champion`` becomes a proposal: the versions
keep their aliases, the proposed one is tagged ``textflow.approval: pending`` and a person decides (Airflow's
approval step, :mod:`pipelines.tracking.approval`). A version a person rejected never becomes champion by the
gate again; the others compete as before.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from dataclasses import dataclass, replace
from typing import Any

from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from pipelines.tracking import MODEL_URI_TAG, VALID_DATA_HASH_TAG, TrackingError

log = logging.getLogger(__name__)
CHAMPION, CHALLENGER = "champion", "challenger"
APPROVAL_TAG = "textflow.approval"
"""On a model version: ``pending`` while a proposed champion move waits for a person, then ``approved`` or
``rejected`` (with ``textflow.approval.by``, ``.reason`` and ``.airflow_run``)."""
REJECTED = "rejected"
MAX_DECISIONS = 5
ALIAS_ATTEMPTS = 4


@dataclass(frozen=True)
class Scored:
    """One registered version as the gate sees it; ``score`` None when its run lacks the metric."""

    version: int
    score: float | None
    data_hash: str | None
    rejected: bool = False


@dataclass(frozen=True)
class Decision:
    champion: int | None
    """None: no champion (every version so far was rejected)."""
    reason: str


def choose_champion(
    candidate: Scored, current: Scored | None, versions: list[Scored], metric: str, higher_is_better: bool = True
) -> Decision:
    """The version that should be champion once ``candidate`` is registered, and why. Versions a person
    rejected are out of the running."""
    versions = [v for v in versions if not v.rejected]
    if current is None:
        pool = [v for v in versions if v.data_hash == candidate.data_hash and v.score is not None]
        best = _best(pool or [candidate], higher_is_better)
        reason = "no champion yet" if best.version == candidate.version else f"v{best.version} is best on this data"
        return Decision(best.version, reason)
    if current.score is None or current.data_hash is None:
        return Decision(
            current.version,
            f"champion v{current.version} has no {metric} on tagged validation data (registered by older code); "
            f"not comparable: move the alias by hand if v{candidate.version} should replace it",
        )
    if candidate.data_hash != current.data_hash:
        return Decision(
            current.version,
            f"champion v{current.version} was validated on other data ({current.data_hash[:12]} vs "
            f"{(candidate.data_hash or 'none')[:12]}); not comparable",
        )
    pool = [v for v in versions if v.data_hash == current.data_hash and v.score is not None]
    best = _best([current, *pool], higher_is_better)
    if best.version == current.version:
        if candidate.version == current.version:
            return Decision(current.version, "this run's version is already the champion")
        return Decision(
            current.version,
            f"{metric} {candidate.score:.4f} does not beat champion v{current.version} ({current.score:.4f})",
        )
    return Decision(best.version, f"{metric} {best.score:.4f} beats champion v{current.version} ({current.score:.4f})")


def _best(pool: list[Scored], higher_is_better: bool) -> Scored:
    """Best score; among equals the oldest version."""
    sign = 1.0 if higher_is_better else -1.0
    return max(pool, key=lambda v: (sign * v.score if v.score is not None else float("-inf"), -v.version))


def register_if_better(
    run_id: str,
    name: str,
    metric: str,
    higher_is_better: bool = True,
    client: Any = None,
    approval: bool = False,
) -> dict[str, Any]:
    """Register the run's model (once per run) and set ``champion`` by :func:`choose_champion`; the run's
    version gets ``challenger`` when it is not the champion. Returns what was decided and why. ``client``: the
    MLflow client to use (default: one for the configured store). ``approval``: a move of ``champion`` is only
    proposed (``approval`` in the result names the version and what the approval step needs); the run's
    version is ``challenger`` until a person approves it."""
    from mlflow import MlflowClient

    client = client or MlflowClient()
    run = client.get_run(run_id)
    key = f"validation_{metric}"
    if key not in run.data.metrics:
        raise TrackingError(f"run {run_id} has no metric {key!r}; run the evaluate stage first")
    model_uri = run.data.tags.get(MODEL_URI_TAG)
    if model_uri is None:
        raise TrackingError(f"run {run_id} has no logged model ({MODEL_URI_TAG} tag); run the evaluate stage first")
    existing = client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
    version = int((existing[0] if existing else _register_quietly(model_uri, name)).version)
    scores: dict[int, Scored] = {}
    for _ in range(MAX_DECISIONS):
        versions = scored_versions(client, name, key, scores)
        numbers = {v.version for v in versions}
        champion = alias_version(client, name)
        if champion is not None and champion not in numbers:
            log.info(
                "alias %s points at v%d, registered after the versions just read; reading again", CHAMPION, champion
            )
            continue
        candidate = next(v for v in versions if v.version == version)
        current = next((v for v in versions if v.version == champion), None)
        if candidate.rejected:  # a retrain restored from DVC's run-cache registers the same run again
            decision = Decision(champion, f"v{version} was rejected by a person (see its tags): never champion")
        else:
            decision = choose_champion(candidate, current, versions, key, higher_is_better)
        proposed = approval and decision.champion != champion
        if decision.champion is not None and not proposed:
            _set_alias(client, name, CHAMPION, decision.champion)
        if proposed or decision.champion != version:
            _set_alias(client, name, CHALLENGER, version)
        if {int(v.version) for v in client.search_model_versions(f"name='{name}'")} == numbers:
            break
        log.info("another version was registered while deciding; deciding again")
    else:
        raise TrackingError(
            f"the versions of {name} kept changing through {MAX_DECISIONS} decisions (many registers at once); "
            "nothing is wrong with this run: run the register stage again"
        )
    alias = CHAMPION if decision.champion == version and not proposed else CHALLENGER
    result = {
        "name": name,
        "version": version,
        "alias": alias,
        "champion": champion if proposed else decision.champion,
        "reason": decision.reason,
        key: run.data.metrics[key],
        **{name: value for name, value in run.data.metrics.items() if name == f"test_{metric}"},
    }
    if proposed:
        client.set_model_version_tag(name, str(decision.champion), APPROVAL_TAG, "pending")
        result["reason"] += f"; moving {CHAMPION} to v{decision.champion} waits for approval"
        result["approval"] = {"proposed": decision.champion, "metric": key, "higher_is_better": higher_is_better}
    return result


def _is_mlflow_error(error: BaseException) -> bool:
    return type(error).__module__.startswith("mlflow.")


@retry(
    stop=stop_after_attempt(ALIAS_ATTEMPTS),
    wait=wait_exponential(multiplier=0.2, max=2),
    retry=retry_if_exception(_is_mlflow_error),
    before_sleep=lambda state: log.info("setting an alias lost a race with another writer; retrying"),
    reraise=True,
)
def _set_alias(client: Any, name: str, alias: str, version: int) -> None:
    """Point ``alias`` at ``version``, again when the write lost a race. MLflow's SQL store sets an alias by
    read-then-insert, so two registers creating the same alias at once make one fail with a unique-constraint
    error (seen in tests/test_gate.py's six concurrent registers on an SQLite-backed server). Setting an alias
    is idempotent and the caller re-reads the versions afterwards, so a retry keeps the gate's guarantee."""
    client.set_registered_model_alias(name, alias, str(version))


def _register_quietly(model_uri: str, name: str) -> Any:
    """``mlflow.register_model``, without the two lines it prints to stderr on success (the register stage says
    what it registered and why); anything else it prints still reaches stderr."""
    import mlflow

    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return mlflow.register_model(model_uri, name)
    finally:
        routine = ("Successfully registered model", "Created version", "Registered model", "Creating a new version")
        for line in captured.getvalue().splitlines():
            if line.strip() and not line.startswith(routine):
                print(line, file=sys.stderr)


def scored_versions(client: Any, name: str, key: str, cache: dict[int, Scored] | None = None) -> list[Scored]:
    """Every version of ``name`` with its run's ``key`` and validation data hash (``cache``: runs already read,
    by version; a version's rejection is read afresh each time)."""
    cache = {} if cache is None else cache
    scored = []
    for version in client.search_model_versions(f"name='{name}'"):
        number = int(version.version)
        if number not in cache:
            data = client.get_run(version.run_id).data if version.run_id else None
            cache[number] = Scored(
                int(version.version),
                data.metrics.get(key) if data else None,
                data.tags.get(VALID_DATA_HASH_TAG) if data else None,
            )
        rejected = (version.tags or {}).get(APPROVAL_TAG) == REJECTED
        scored.append(replace(cache[number], rejected=rejected))
    return sorted(scored, key=lambda v: v.version)


def alias_version(client: Any, name: str, alias: str = CHAMPION) -> int | None:
    """The version ``alias`` points at; None when no version has it (no champion yet)."""
    from mlflow.exceptions import MlflowException

    try:
        return int(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as error:
        if getattr(error, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise
