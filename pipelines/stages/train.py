"""Stage ``train``: fit the configured torch model with early stopping on the validation split, resuming
from ``--checkpoint`` when it was written by the same inputs and params."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipelines import models, tracking, training
from pipelines.config import load_params
from pipelines.io import read_json, write_json, write_text
from pipelines.models import build_model
from pipelines.models.saved import save_model
from pipelines.orchestration.dvc_stages import dvc_paths, stages_before
from pipelines.stages import stage_cli
from pipelines.text.sequences import EncodedSplit
from pipelines.text.vocab import Vocabulary
from pipelines.timings import read_timings
from pipelines.training.device import configure_threads, mixed_precision_enabled, resolve_device
from pipelines.training.loop import train_model

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


CODE_PACKAGES = [Path(models.__file__).parent, Path(training.__file__).parent]


def fingerprint(paths: list[Path], settings: dict) -> str:
    """What a checkpoint must match to be resumed: the bytes of every input, the training settings (with the
    resolved device and precision: a CPU checkpoint holds no GradScaler state a CUDA run could continue),
    and the model and training code (a changed model or loop must start fresh, not resume an old run)."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    sources = sorted(source for package in CODE_PACKAGES for source in package.rglob("*.py"))
    for path in [*paths, *sources]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def train(args) -> None:
    params = load_params(args.params)
    device = resolve_device(params.train.device)
    threads = configure_threads(params.train.num_threads)
    use_amp = mixed_precision_enabled(params.train, device)
    vocabulary = Vocabulary.load(args.tokens / "vocab.json")
    class_names = read_json(args.tokens / "labels.json")
    train_split = EncodedSplit.load(args.tokens / "train.npz")
    valid_split = EncodedSplit.load(args.tokens / "valid.npz")
    vectors = np.load(args.embeddings) if params.model.embedding_init != "rand" else None
    torch.manual_seed(params.train.seed)
    model = build_model(params.model, len(vocabulary), len(class_names), vectors)
    inputs = [args.tokens / name for name in ("vocab.json", "labels.json", "train.npz", "valid.npz")] + [
        args.embeddings
    ]
    settings = {
        "model": dataclasses.asdict(params.model),
        "train": {**dataclasses.asdict(params.train), "num_threads": None},
        "device": device.type,
        "mixed_precision": use_amp,
    }
    log.info(
        "%s on %s (%d threads): %d parameters, %d train / %d valid examples",
        params.model.type,
        device,
        threads,
        sum(p.numel() for p in model.parameters()),
        len(train_split),
        len(valid_split),
    )
    reports = {stage: args.reports / f"{stage}.json" for stage in ("validation", "tokenize", "embed")}
    upstream = tracking.upstream_metrics(reports) | read_timings(stages_before(Path("dvc.yaml"), "train"))
    validation = read_json(reports["validation"])
    tags = {
        "textflow.device": str(device),
        "textflow.torch": torch.__version__,
        "textflow.cuda": str(torch.version.cuda),
        "textflow.threads": str(threads),
        **{f"textflow.data_sha256.{split}": digest for split, digest in validation.get("files", {}).items()},
    }
    train_frame = pd.read_parquet(args.validated / "train.parquet")
    with tracking.training_run(
        params,
        args.run,
        tags=tags,
        metrics=upstream,
        dataset=train_frame,
        dataset_name=params.dataset.name,
    ) as run:
        result = train_model(
            model,
            train_split,
            valid_split,
            params.train,
            seed=params.train.seed,
            device=device,
            checkpoint_path=args.checkpoint,
            fingerprint=fingerprint(inputs, settings),
            on_epoch=run.log_epoch,
        )
        run.log_metrics(
            {
                "best_valid_accuracy": result.best_valid_accuracy,
                "best_epoch": result.best_epoch,
                "train_seconds": result.seconds,
                "resumed_from_epoch": result.resumed_from_epoch,
            }
        )
    save_model(args.model, model, params.model, len(vocabulary), len(class_names), {"class_names": class_names})
    write_json(
        args.metrics,
        {
            "best_epoch": result.best_epoch,
            "best_valid_accuracy": result.best_valid_accuracy,
            "epochs_run": len(result.history),
            "stopped_early": result.stopped_early,
        },
    )
    columns = [column for column in result.history[0] if column != "seconds"]
    write_text(
        args.history,
        "\n".join([",".join(columns)] + [",".join(str(row[c]) for c in columns) for row in result.history]) + "\n",
    )
    log.info("best epoch %d: valid accuracy %.4f", result.best_epoch, result.best_valid_accuracy)


if __name__ == "__main__":
    main()
