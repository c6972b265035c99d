"""Stage ``train``: fit the task's model (a classifier of ``model.type``, or a ``language_model``) with early
stopping on the validation split, resuming from ``--checkpoint`` when it was written by the same inputs and
params."""

from __future__ import annotations

import csv
import io
import logging
import sys
from pathlib import Path

import pandas as pd
import torch

from pipelines import tracking
from pipelines.common.io import read_json, write_json, write_text
from pipelines.common.timings import read_timings
from pipelines.config import load_params
from pipelines.config.pipeline import dvc_paths, stages_before
from pipelines.models.ensemble import ensemble_summary, member_params, wraps_members
from pipelines.models.saved import save_model
from pipelines.search.pruning import TrialPruning
from pipelines.stages import stage_cli
from pipelines.tasks import get_task
from pipelines.tracking.system_metrics import system_metrics
from pipelines.training.checkpoint_mirror import CheckpointMirror, member_name
from pipelines.training.device import configure_threads, mixed_precision_enabled, resolve_device
from pipelines.training.fingerprint import train_fingerprint
from pipelines.training.gpus import claim_gpu
from pipelines.training.loop import fit

log = logging.getLogger("train")


def main(argv: list[str] | None = None) -> None:
    stage_cli(
        "train",
        __doc__,
        ["tokens", "validated", "reports", "embeddings", "model", "checkpoint", "metrics", "history", "run"],
        train,
        argv,
    )


def standalone_command(project: Path, params: Path, out: Path) -> list[str]:
    """The train stage's command line with the pipeline's inputs (paths from ``project``'s dvc.yaml) and every
    output in ``out``: one training beside the pipeline (a benchmark, a test) that touches none of its outputs.
    Run it with ``project`` as the working directory."""
    paths = dvc_paths(project / "dvc.yaml")
    options = {
        "params": params,
        "tokens": paths["tokens"],
        "validated": paths["validated"],
        "reports": "reports",
        "embeddings": paths["vectors"],
        "model": out / "model.pt",
        "checkpoint": out / "checkpoint.pt",
        "metrics": out / "train.json",
        "history": out / "history.csv",
        "run": out / "run.json",
    }
    return [sys.executable, "-m", "pipelines.stages.train", *(f"--{key}={value}" for key, value in options.items())]


def epoch_logger(run, member: int, size: int, pruning: TrialPruning | None, score_key: str):
    """Where each epoch's row goes: the MLflow run (an ensemble member's curves as ``member<k>_<metric>``, so N
    curves never share a name) and, in a search trial, the search's pruning (the first member's curve)."""

    def log_epoch(row: dict[str, float]) -> None:
        if size == 1:
            run.log_epoch(row)
        else:
            run.log_epoch({"epoch": row["epoch"], **{f"member{member}_{k}": v for k, v in row.items() if k != "epoch"}})
        if pruning is not None and member == 0:
            pruning.report(row, score_key)

    return log_epoch


def train(args) -> None:
    params = load_params(args.params)
    task = get_task(params)
    gpu = claim_gpu() if params.train.device != "cpu" else None
    device = resolve_device(params.train.device)
    threads = configure_threads(params.train.num_threads)
    use_amp = mixed_precision_enabled(params.train, device)
    size = params.train.ensemble_size
    pruning = TrialPruning.from_env()
    prepared = task.prepare_training(params, args.tokens, args.embeddings)
    log.info(
        "%s on %s (%d threads): %d parameters%s",
        prepared.description,
        device,
        threads,
        sum(p.numel() for p in prepared.model.parameters()),
        f", {size} ensemble members (train.seed {params.train.seed}..{params.train.seed + size - 1})"
        if size > 1
        else "",
    )
    reports = {stage: args.reports / f"{stage}.json" for stage in ("validation", "tokenize", "embed")}
    upstream = tracking.upstream_metrics(reports) | read_timings(stages_before(Path("dvc.yaml"), "train"))
    validation = read_json(reports["validation"])
    tags = {
        "textflow.task": params.task,
        "textflow.device": str(device),
        "textflow.torch": torch.__version__,
        "textflow.cuda": str(torch.version.cuda),
        "textflow.threads": str(threads),
        **({"textflow.gpu": gpu} if gpu else {}),
        **({"textflow.search.trial": str(pruning.number)} if pruning else {}),
        **{f"textflow.data_sha256.{split}": digest for split, digest in validation.get("files", {}).items()},
    }
    train_frame = pd.read_parquet(args.validated / "train.parquet")
    with (
        tracking.training_run(
            params,
            args.run,
            tags=tags,
            metrics=upstream,
            dataset=train_frame,
            dataset_name=params.dataset.name,
        ) as run,
        system_metrics(run, device),
    ):
        mirror = CheckpointMirror.from_env()
        members, results = [], []
        for member in range(size):
            trained_params = member_params(params, member)
            if member:
                log.info("ensemble member %d/%d (train.seed %d)", member + 1, size, trained_params.train.seed)
                prepared = task.prepare_training(trained_params, args.tokens, args.embeddings)
            objective = task.objective(prepared, trained_params, args.tokens, device, run)
            checkpoint = Path(member_name(str(args.checkpoint), member))
            member_mirror = mirror.for_member(member)
            member_mirror.restore(checkpoint)
            try:
                results.append(
                    fit(
                        prepared.model,
                        objective,
                        trained_params.train,
                        seed=trained_params.train.seed,
                        device=device,
                        checkpoint_path=checkpoint,
                        fingerprint=train_fingerprint(trained_params, device.type, use_amp),
                        on_epoch=epoch_logger(run, member, size, pruning, f"valid_{objective.metric}"),
                        on_checkpoint=member_mirror.upload,
                    )
                )
            finally:
                member_mirror.close()
            members.append(prepared.model)
        result = results[0]
        summary = {f"best_valid_{objective.metric}": result.best_score}
        model, saved, ensemble_report = prepared.model, prepared.saved, {}
        if wraps_members(params.train):
            model, ensemble_report = task.ensemble(members, args.tokens, params, device)
            saved = saved | {"ensemble_size": size}
            summary = {f"best_valid_{objective.metric}": ensemble_report["valid_accuracy"]}
            log.info("ensemble: %s", ensemble_summary(ensemble_report))
        run.log_metrics(
            summary
            | {
                "best_epoch": result.best_epoch,
                "train_seconds": sum(item.seconds for item in results),
                "resumed_from_epoch": result.resumed_from_epoch,
                "epochs_run": len(result.history),
                "model_parameters": sum(p.numel() for p in model.parameters()),
            }
        )
    save_model(args.model, model, params.task, prepared.section_params, saved)
    write_json(
        args.metrics,
        {
            "best_epoch": result.best_epoch,
            **summary,
            "epochs_run": len(result.history),
            "stopped_early": result.stopped_early,
            "objective": {
                "metric": f"valid_{objective.metric}",
                "higher_is_better": objective.higher_is_better,
                "best": summary[f"best_valid_{objective.metric}"],
            },
            **({"ensemble": ensemble_report} if ensemble_report else {}),
        },
    )
    write_history(args.history, results, with_member=size > 1)
    log.info("best epoch %d: %s", result.best_epoch, ", ".join(f"{key} {value:.4f}" for key, value in summary.items()))


def write_history(path: Path, results: list, with_member: bool) -> None:
    """The per-epoch curves for ``dvc plots``: only values an epoch computed, never its wall time, so the file
    has the same bytes whenever the training does (a resumed run's too)."""
    rows = [{"member": member, **row} for member, item in enumerate(results) for row in item.history]
    columns = [column for column in rows[0] if with_member or column != "member"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


if __name__ == "__main__":
    main()
