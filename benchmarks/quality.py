"""Test accuracy of our models side by side with the peers, on the same splits, over several seeds.

    TEXTFLOW_MIRROR=../shared/mirror python -m benchmarks.quality --datasets trec sst2 sst1 mr
    python -m benchmarks.quality --dataset local --train PATH [--valid PATH] [--test PATH] [--format label_text]
        [--encoding utf-8] [--text-columns title body] [--label-column label] [--no-header] [--on-bad-lines skip]
        [--name NAME]
    python -m benchmarks.quality --datasets demo --seeds 1 --models fasttext --epochs 2     # quick smoke run
    python -m benchmarks.quality --datasets trec --models nb-ngrams tfidf-logreg --search 8   # searched rows

Every number goes through the pipeline's own code: raw files from the registry (sha256-checked), the
validate stage's split completion, the clean stage's cleaner, the tokenize stage's encoder, the embed stage's
vectors and the train stage's loop, with params.yaml as the base config and each model's overrides on top
(the overrides are printed in RESULTS.md as ``dvc exp run -S`` flags). A dataset published without a test
split (MR, a local file given alone) is scored by stratified k-fold cross-validation.

Each run appends a record to ``--records`` (JSON, one entry per dataset/model/seed/fold/device, replaced when
re-run), and ``--out`` (RESULTS.md) is rendered from all records, so datasets can be run one at a time, on
different machines (a GPU column appears when records from CUDA exist), and the table still shows them all.
Both are written after every partition, so a run stopped after hours keeps the partitions that finished; a
cross-validated seed counts only once all its folds are in (RESULTS.md lists the ones that are not).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from benchmarks import peers
from benchmarks.report import DATASET_ORDER, QUALITY_RECORDS, RESULTS_PAGE, render_results
from pipelines.config import (
    LocalFiles,
    Params,
    SearchParams,
    load_params,
    params_from_dict,
    parse_assignments,
    set_dotted,
    to_dict,
)
from pipelines.config.pipeline import load_stages, split_params
from pipelines.data.formats import BAD_LINE_POLICIES, FORMATS
from pipelines.data.registry import DATASET_NAMES
from pipelines.data.sources import read_raw_splits, unlabelled_sentences, write_raw_files
from pipelines.data.splits import complete_splits, stratified_folds
from pipelines.embeddings.word_vectors import BuiltVectors, build_vectors
from pipelines.models import build_model, fit_to_training_split
from pipelines.models.ensemble import member_params, served_classifier
from pipelines.search.pruning import TrialPruning
from pipelines.search.sequential import run_search
from pipelines.search.space import check_space
from pipelines.search.study import best_record, refit_overrides
from pipelines.stages import EXPECTED_ERRORS
from pipelines.text.clean import CleanSettings, clean_texts
from pipelines.text.encode import encode_corpus
from pipelines.text.stopwords import stopword_list
from pipelines.text.tokenizers import get_tokenizer
from pipelines.training.device import configure_threads, resolve_device
from pipelines.training.loop import predict_probabilities, train_model

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("quality")

# Our models: overrides of params.yaml. Chosen on validation accuracy, never on test.
MODELS: dict[str, dict[str, Any]] = {
    # fastText's own classifier setting: a small hidden layer (the paper uses 10 units), dense Adam as recorded
    # (before sparse gradients became the default).
    "fasttext": {
        "model.type": "fasttext",
        "model.embedding_dim": 10,
        "model.fasttext.sparse": False,
        "model.dropout": 0.0,
        "train.learning_rate": 0.01,
    },
    # fastText's own size, start and update: 100 dims, 2M bigram buckets, fastText's U[-1/dim, 1/dim] rows and zero
    # output layer, sparse gradients, plain SGD decaying linearly to 0 over 25 epochs, no dropout, every epoch kept
    # whole (the best validation epoch is served). The loss is a mean over a batch of 50, so an example's rows move
    # by the rate / 50: fastText's per-example rates (0.1-1) correspond to 5-50 here. Rates per dataset are
    # chosen on validation over three seeds (-S train.learning_rate=...; benchmarks/results/notes.md).
    "fasttext-sparse": {
        "model.type": "fasttext",
        "model.embedding_dim": 100,
        "model.fasttext.bigram_buckets": 2_000_000,
        "model.fasttext.sparse": True,
        "model.fasttext.initialization": "fasttext",
        "model.dropout": 0.0,
        "train.optimizer": "sgd",
        "train.momentum": 0.0,
        "train.weight_decay": 0.0,
        "train.grad_clip": 0.0,
        "train.lr_schedule": "linear",
        "train.learning_rate": 16.0,
        "train.epochs": 25,
        "train.patience": 25,
    },
    "textcnn-rand": {"model.type": "textcnn"},
    "textcnn-static": {"model.type": "textcnn", "model.embedding_init": "static"},
    "textcnn-non-static": {"model.type": "textcnn", "model.embedding_init": "non-static"},
    "textcnn-multichannel": {"model.type": "textcnn", "model.embedding_init": "multichannel"},
    "bigru-max": {"model.type": "bigru"},
    "bilstm-attention": {"model.type": "bilstm", "model.rnn.pooling": "attention"},
    "charcnn": {"model.type": "charcnn", "tokenize.method": "char", "train.epochs": 30, "train.patience": 6},
    # NB-LR: dropout on the n-gram contributions and Adam at 0.01, chosen on MR's validation split (one fold)
    "nb-ngrams": {"model.type": "nb_ngrams", "model.dropout": 0.5, "train.learning_rate": 0.01},
    # TF-IDF logistic regression as one of ours (the tfidf-logreg peer's features, trained by the train stage's loop)
    "tfidf-linear": {"model.type": "tfidf_linear", "model.dropout": 0.0, "train.learning_rate": 0.01},
    # Kim (2014) exactly: Adadelta (rho 0.95, eps 1e-6), batch 50, 25 epochs kept whole (the best validation
    # epoch is served), max-norm 3 on the softmax weights, U[-0.25, 0.25] words, his clean_str (for SST pass
    # -S clean.style=kim_sst, his clean_str_sst)
    "textcnn-kim": {
        "model.type": "textcnn",
        "clean.style": "kim",
        "train.optimizer": "adadelta",
        "train.learning_rate": 1.0,
        "train.batch_size": 50,
        "train.epochs": 25,
        "train.patience": 25,
        "model.textcnn.max_norm": 3.0,
    },
}
PEERS = peers.NAMES
DEFAULT_MODELS = ("fasttext", "textcnn-rand", "textcnn-multichannel", "bilstm-attention", *PEERS)
# Per-dataset overrides, applied to every model and peer (they change the cleaned text all of them see).
# TREC keeps case as in Kim (2014)'s preprocessing (clean_str lower-cases every dataset except TREC): question
# words and capitalised entities ("Who", "What", "Washington") carry the answer type.
DATASET_OVERRIDES: dict[str, dict[str, Any]] = {"trec": {"clean.lowercase": False}}


@dataclasses.dataclass
class Partition:
    """One train/valid/test partition of a dataset: a seed, and for cross-validation a fold."""

    seed: int
    fold: int | None
    frames: dict[str, pd.DataFrame]


def partitions(published: dict[str, pd.DataFrame], params: Params, seeds: list[int], folds: int) -> Iterator[Partition]:
    """The validate stage's split completion per seed; k-fold CV when no test split was published."""
    options = params.validate
    for seed in seeds:
        if "test" in published:
            splits, _ = complete_splits(published, options.valid_fraction, options.test_fraction, seed)
            yield Partition(seed, None, splits)
            continue
        frame = pd.concat([published[name] for name in sorted(published)], ignore_index=True)
        assignment = stratified_folds(frame["label"], folds, seed)
        for fold in range(folds):
            rest = {"train": frame[assignment != fold].reset_index(drop=True)}
            rest["test"] = frame[assignment == fold].reset_index(drop=True)
            splits, _ = complete_splits(rest, options.valid_fraction, options.test_fraction, seed)
            yield Partition(seed, fold, splits)


class Workbench:
    """Caches what several models share within one partition: cleaned text, encodings, embedding vectors."""

    def __init__(self, partition: Partition, extra_text_dir: Path):
        self.partition = partition
        self.extra_text_dir = extra_text_dir
        self._cleaned: dict[Any, dict[str, pd.DataFrame]] = {}
        self._encoded: dict[Any, Any] = {}
        self._peer_splits: dict[Any, dict[str, peers.Split]] = {}
        self._vectors: dict[Any, BuiltVectors] = {}
        self._extra: dict[str, list[str]] = {}

    def cleaned(self, params: Params) -> dict[str, pd.DataFrame]:
        key = params.clean.model_dump_json()
        if key not in self._cleaned:
            settings = _clean_settings(params)
            self._cleaned[key] = {
                split: pd.DataFrame({"text": clean_texts(frame["text"].tolist(), settings), "label": frame["label"]})
                for split, frame in self.partition.frames.items()
            }
        return self._cleaned[key]

    def peer_splits(self, params: Params) -> dict[str, peers.Split]:
        """The cleaned splits as the peers read them: words split on spaces (TF-IDF's ``\\S+`` tokens, fastText's
        words). For ``tokenize.method: jieba`` the words are jieba's, joined by spaces, as our models get them:
        cleaned Chinese has no spaces between words, so each run of characters up to a punctuation mark would be
        one "word" and every peer would score near chance. Other methods read the cleaned text as it is (``char``
        too: the peers are word models, and the text's words are still there)."""
        key = (params.clean.model_dump_json(), params.tokenize.method)
        if key not in self._peer_splits:
            segment = get_tokenizer("jieba") if params.tokenize.method == "jieba" else None
            self._peer_splits[key] = {
                split: peers.Split(
                    [" ".join(segment(text)) for text in frame["text"]] if segment else frame["text"].tolist(),
                    frame["label"].astype(str).tolist(),
                )
                for split, frame in self.cleaned(params).items()
            }
        return self._peer_splits[key]

    def encoded(self, params: Params):
        key = (params.clean.model_dump_json(), params.tokenize.model_dump_json())
        if key not in self._encoded:
            self._encoded[key] = encode_corpus(self.cleaned(params), params.tokenize)
        return self._encoded[key]

    def vectors(self, params: Params) -> np.ndarray:
        return self.built_vectors(params).matrix

    def built_vectors(self, params: Params) -> BuiltVectors:
        """The vectors with their report and training seconds (built once per partition and settings)."""
        key = (
            params.clean.model_dump_json(),
            params.tokenize.model_dump_json(),
            params.embed.model_dump_json(),
        )
        if key not in self._vectors:
            name = params.embed.extra_text
            if name != "none" and name not in self._extra:
                directory = self.extra_text_dir / name
                directory.mkdir(parents=True, exist_ok=True)
                self._extra[name] = unlabelled_sentences(name, params, directory)
            built = build_vectors(
                self.cleaned(params),
                self._extra.get(name, []),
                _clean_settings(params),
                params,
                self.encoded(params).vocabulary,
            )
            report = built.report
            log.info(
                "    %s vectors: %d sentences, coverage %.1f%%, trained in %.1fs",
                params.embed.method,
                report["corpus_sentences"],
                100 * report["coverage"],
                built.train_seconds,
            )
            self._vectors[key] = built
        return self._vectors[key]


def _clean_settings(params: Params) -> CleanSettings:
    return CleanSettings.from_params(params.clean, stopword_list(params.clean.stopwords))


def run_ours(
    bench: Workbench, params: Params, device: torch.device, report: Callable[[dict], None] | None = None
) -> dict[str, Any]:
    """One training (or ``train.ensemble_size`` of them, weighted on validation as the train stage does);
    ``report`` gets the first training's epoch rows (a search's pruning)."""
    corpus = bench.encoded(params)
    vectors = bench.vectors(params) if params.model.embedding_init != "rand" else None
    train, valid, test = (corpus.splits[name] for name in ("train", "valid", "test"))
    size = params.train.ensemble_size

    def test_accuracy(model: torch.nn.Module) -> float:
        probabilities = predict_probabilities(model, test, 256, device, params.train.mixed_precision)
        return float((probabilities.argmax(axis=1) == test.labels).mean())

    curve: list[tuple[float, float]] = []
    members, results = [], []
    for member in range(size):
        member_run = member_params(params, member)
        torch.manual_seed(member_run.train.seed)
        model = build_model(member_run.model, len(corpus.vocabulary), len(corpus.class_names), vectors)
        fit_to_training_split(model, train)

        def record_curve(row: dict[str, float], model: torch.nn.Module = model) -> None:
            """Test accuracy after every epoch, against training seconds so far (this evaluation not counted)."""
            elapsed = (curve[-1][0] if curve else 0.0) + row["seconds"]
            curve.append((round(elapsed, 3), test_accuracy(model)))

        timed = params.model.type == "fasttext" and size == 1

        def on_epoch(row: dict[str, float], timed: bool = timed, member: int = member) -> None:
            if timed:
                record_curve(row)
            if report is not None and member == 0:
                report(row)

        results.append(
            train_model(
                model,
                train,
                valid,
                member_run.train,
                seed=member_run.train.seed,
                device=device,
                on_epoch=on_epoch,
            )
        )
        members.append(model)
    model, report = served_classifier(members, train, valid, params.train, device)
    valid_accuracy = report.get("valid_accuracy", results[0].best_score)
    outcome = {
        "accuracy": test_accuracy(model),
        "seconds": sum(result.seconds for result in results),
        "epochs": sum(len(result.history) for result in results),
        "best_epoch": results[0].best_epoch,
        "valid_accuracy": valid_accuracy,
    }
    if "label_prior" in report:
        outcome["label_prior"] = report["label_prior"]
    return outcome | ({"test_curve": curve} if curve else {})


def partition_search(settings: SearchParams, seed: int) -> SearchParams:
    """The search of benchmark seed ``seed``: its sampler seeded ``search.seed + seed - 1`` (seed 1 keeps
    ``search.seed``), so that each seed runs the whole procedure, the search's own draws included. With one
    sampler seed for all, the seeds of a set with one official split (SST) shared their first trials (TPE's
    random start-up draws; only later proposals followed each seed's scores), so the seeds' spread left out
    most of the search's own (notes, stop 53)."""
    return settings.model_copy(update={"seed": (settings.seed + seed - 1) % 2**31})


def search_ours(
    bench: Workbench, params: Params, device: torch.device, settings: SearchParams, split_stage_params: list[str]
) -> dict[str, Any]:
    """The sweep's search (pipelines/search/) over this partition's training and validation splits: each trial
    one :func:`run_ours` on top of ``params``, pruned on validation accuracy; the outcome of the trial with the
    best validation accuracy, with what the search tried and chose. The space is checked as the sweep checks it
    (``split_stage_params``: :func:`split_params` of dvc.yaml)."""
    check_space(settings, to_dict(params), split_stage_params)
    outcomes: dict[str, dict[str, Any]] = {}

    def train_trial(overrides: dict[str, Any], pruning: TrialPruning) -> float:
        report = functools.partial(pruning.report, score_key="valid_accuracy")
        outcome = run_ours(bench, with_overrides(params, overrides), device, report)
        outcomes[json.dumps(overrides, sort_keys=True)] = outcome
        return outcome["valid_accuracy"]

    history = run_search(settings, params, True, train_trial)
    best = best_record(history, higher_is_better=True)
    chosen = best["overrides"]
    outcome = outcomes[json.dumps(chosen, sort_keys=True)]
    seconds = sum(item["seconds"] for item in outcomes.values())
    log.info(
        "    search: %d trials (%d pruned), chose %s",
        len(history),
        sum(r["state"] == "pruned" for r in history),
        chosen,
    )
    refit_kept, refit_record = False, {}
    if settings.ensemble_size > 1:
        refit = run_ours(bench, with_overrides(params, refit_overrides(chosen, settings)), device)
        seconds += refit["seconds"]
        refit_kept = refit["valid_accuracy"] > outcome["valid_accuracy"]
        refit_record = {
            "trial_valid_accuracy": outcome["valid_accuracy"],
            "refit_valid_accuracy": refit["valid_accuracy"],
            "trial_accuracy": outcome["accuracy"],
            "refit_accuracy": refit["accuracy"],
        }
        log.info(
            "    refit as %d seeds: valid %.4f against the trial's %.4f, %s",
            settings.ensemble_size,
            refit["valid_accuracy"],
            outcome["valid_accuracy"],
            "kept" if refit_kept else "the trial kept",
        )
        outcome = refit if refit_kept else outcome
    return outcome | {
        "seconds": seconds,
        "search": {
            "trials": len(history),
            "pruned": sum(record["state"] == "pruned" for record in history),
            "chosen": chosen,
            "best_trial": best["trial"],
            "baseline_first": settings.baseline_first,
            "sampler_seed": settings.seed,
            "ensemble_size": settings.ensemble_size,
            "refit_kept": refit_kept,
            **refit_record,
        },
    }


def run_peer(name: str, bench: Workbench, params: Params, threads: int) -> dict[str, Any]:
    splits = bench.peer_splits(params)
    train, valid, test = (splits[split] for split in ("train", "valid", "test"))
    if name == "tfidf-logreg":
        result = peers.tfidf_logistic_regression(train, valid, test, params.train.seed, params.train.label_prior)
    else:
        ngrams = 2 if name.endswith("bigram") else 1
        result = peers.fasttext_binary(train, valid, test, params.train.seed, ngrams, threads)
    return {"accuracy": result.accuracy, "seconds": result.seconds, "setting": result.setting}


def workbenches(
    params: Params, seeds: list[int], folds: int, data_root: Path | None = None
) -> Iterator[tuple[Partition, Workbench]]:
    """The dataset's raw files fetched (local ones read from ``data_root``) once into a temporary directory
    (removed after the last partition), then each partition with its own :class:`Workbench`."""
    with tempfile.TemporaryDirectory(prefix="textflow-benchmark-") as directory:
        raw = Path(directory) / "raw"
        raw.mkdir()
        write_raw_files(params, raw, data_root)
        _, published = read_raw_splits(raw)
        for partition in partitions(published, params, seeds, folds):
            yield partition, Workbench(partition, Path(directory) / "extra")


def benchmark(
    params: Params,
    models: list[str],
    seeds: list[int],
    folds: int,
    device: torch.device,
    threads: int,
    base_overrides: dict[str, Any],
    search: SearchParams | None = None,
    data_root: Path | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Every model on every partition, one partition's records at a time (so a caller can save them as they
    come, and a run stopped after hours keeps what finished); with ``search``, each of our models is the best of
    a search over its ``search.spaces`` chosen on the partition's validation split (recorded as
    ``<model>+search``)."""
    split_stage_params = split_params(load_stages(ROOT / "dvc.yaml")) if search else []
    for partition, bench in workbenches(params, seeds, folds, data_root):
        where = f"seed {partition.seed}" + ("" if partition.fold is None else f", fold {partition.fold + 1}/{folds}")
        log.info(
            "%s (%s): %s",
            params.dataset.name,
            where,
            ", ".join(f"{s} {len(f)}" for s, f in partition.frames.items()),
        )
        records = []
        for name in models:
            # the command line wins over the built-in settings
            overrides = run_overrides(params, partition, {} if name in PEERS else MODELS[name], base_overrides)
            run_params = with_overrides(params, overrides)
            began = time.perf_counter()
            if name in PEERS:
                outcome = run_peer(name, bench, run_params, threads)
                run_device = "cpu"
            elif search:
                searched = partition_search(search, partition.seed)
                outcome = search_ours(bench, run_params, device, searched, split_stage_params)
                chosen = outcome["search"]["chosen"]
                overrides |= refit_overrides(chosen, searched) if outcome["search"]["refit_kept"] else chosen
                run_device = device.type
            else:
                outcome = run_ours(bench, run_params, device)
                run_device = device.type
            log.info(
                "  %-24s accuracy %.4f  train %.1fs  (wall %.1fs)",
                f"{name}+search" if search and name not in PEERS else name,
                outcome["accuracy"],
                outcome["seconds"],
                time.perf_counter() - began,
            )
            records.append(
                {
                    "dataset": params.dataset.name,
                    "model": f"{name}+search" if search and name not in PEERS else name,
                    "seed": partition.seed,
                    "fold": partition.fold,
                    "folds": folds if partition.fold is not None else None,
                    "device": run_device,
                    "machine": MACHINE["gpu"] if run_device == "cuda" else MACHINE["cpu"],
                    "overrides": {k: v for k, v in overrides.items() if not k.endswith(".seed")}
                    if name not in PEERS
                    else {},
                    **outcome,
                }
            )
        yield records


def run_overrides(params: Params, partition: Partition, *layers: dict[str, Any]) -> dict[str, Any]:
    """One run's overrides: the dataset's, then each of ``layers`` in turn, then the partition's seed as both
    the data and the training seed."""
    merged = dict(DATASET_OVERRIDES.get(params.dataset.name, {}))
    for layer in layers:
        merged |= layer
    return merged | {"dataset.seed": partition.seed, "train.seed": partition.seed}


def with_overrides(params: Params, overrides: dict[str, Any]) -> Params:
    data = to_dict(params)
    for key, value in overrides.items():
        set_dotted(data, key, value)
    return params_from_dict(data, source="benchmark overrides")


def merge_records(path: Path, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records in ``path`` with ``new`` replacing those of the same dataset/model/seed/fold/device."""
    old = json.loads(path.read_text()) if path.exists() else []

    def key(record):
        return (record["dataset"], record["model"], record["seed"], record["fold"], record["device"])

    replaced = {key(record) for record in new}
    merged = [record for record in old if key(record) not in replaced] + new
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=1) + "\n")
    return merged


def describe_machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        cpu = names[0] if names else cpu
    info = {"cpu": f"{cpu}, {os.cpu_count()} cores", "torch": torch.__version__, "python": platform.python_version()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


MACHINE = describe_machine()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--datasets", nargs="+", default=list(DATASET_ORDER), choices=DATASET_NAMES)
    parser.add_argument(
        "--dataset", dest="datasets", nargs=1, choices=DATASET_NAMES, help="one dataset (use 'local' with --train)"
    )
    parser.add_argument("--train", help="local dataset: training file")
    parser.add_argument("--valid", help="local dataset: validation file (else carved from train)")
    parser.add_argument("--test", help="local dataset: test file (else k-fold cross-validation)")
    local = LocalFiles()
    parser.add_argument("--format", default=local.format, choices=FORMATS, help="local dataset file format")
    parser.add_argument("--encoding", default=local.encoding, help="local dataset: the files' encoding")
    parser.add_argument("--text-columns", nargs="+", default=local.text_columns, help="csv/tsv/jsonl/parquet")
    parser.add_argument("--label-column", default=local.label_column, help="csv/tsv/jsonl/parquet")
    parser.add_argument("--no-header", dest="header", action="store_false", help="csv/tsv: no header row")
    parser.add_argument("--on-bad-lines", default=local.on_bad_lines, choices=BAD_LINE_POLICIES)
    parser.add_argument(
        "--name",
        default="local",
        help="local dataset: the name its rows are recorded and shown under (e.g. spam-subjects), so each set you "
        "bring keeps its own table",
    )
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), choices=[*MODELS, *PEERS])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--folds", type=int, default=10, help="k for datasets without a test split")
    parser.add_argument("--epochs", type=int, help="override train.epochs for every model (smoke runs)")
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="extra params override key=value")
    parser.add_argument(
        "--search",
        type=int,
        metavar="TRIALS",
        help="each of our models becomes '<model>+search': the best of a search of TRIALS trials over search.spaces "
        "(params.yaml; -S search.*=... to change it), chosen on each partition's validation split",
    )
    parser.add_argument(
        "--tag", help="record the models as '<model>+<tag>', so a variant (-S ...) gets its own row beside the base"
    )
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--records", type=Path, default=QUALITY_RECORDS)
    parser.add_argument("--out", type=Path, default=RESULTS_PAGE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[quality] %(message)s", stream=sys.stderr, force=True)
    for noisy in ("gensim", "pipelines.training.loop"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    base = parse_assignments(args.overrides)
    if args.epochs:
        base["train.epochs"] = args.epochs
    threads = configure_threads(0)
    device = resolve_device("auto")
    all_records = []
    for name in args.datasets:
        dataset_overrides = {"dataset.name": name}
        data_root = None
        if name == "local":
            if not args.train:
                parser.error("--dataset local needs --train PATH")
            # the files a user names on this command line are theirs to read: the data root is where they lie
            files = {
                split: Path(path).resolve()
                for split, path in [("train", args.train), ("valid", args.valid), ("test", args.test)]
                if path
            }
            data_root = Path(os.path.commonpath([str(path.parent) for path in files.values()]))
            relative = {split: str(path.relative_to(data_root)) for split, path in files.items()}
            dataset_overrides |= {
                "dataset.local.train": relative["train"],
                "dataset.local.valid": relative.get("valid"),
                "dataset.local.test": relative.get("test"),
                "dataset.local.format": args.format,
                "dataset.local.encoding": args.encoding,
                "dataset.local.text_columns": args.text_columns,
                "dataset.local.label_column": args.label_column,
                "dataset.local.header": args.header,
                "dataset.local.on_bad_lines": args.on_bad_lines,
            }
        try:
            # dataset.* overrides (train_on) shape the raw files every model and peer reads, so they apply here too
            params = load_params(args.params, base | dataset_overrides)
            unshiftable = [m for m in args.models if m in PEERS and m not in peers.PRIOR_SHIFTABLE]
            if params.train.label_prior != "train" and unshiftable:
                parser.error(
                    f"train.label_prior={params.train.label_prior} cannot be applied to the peers "
                    f"{', '.join(unshiftable)}; "
                    f"leave them out of --models (of the peers only {', '.join(peers.PRIOR_SHIFTABLE)} takes it)"
                )
            search = SearchParams(**(params.search.model_dump() | {"trials": args.search})) if args.search else None
            for records in benchmark(
                params, args.models, args.seeds, args.folds, device, threads, base, search, data_root
            ):
                for record in records:
                    if args.tag:
                        record["model"] += f"+{args.tag}"
                    if name == "local":
                        record["dataset"] = args.name
                all_records = merge_records(args.records, records)
                args.out.write_text(render_results(all_records, MACHINE))
        except EXPECTED_ERRORS as error:
            parser.exit(2, f"{parser.prog}: error: {error}\n")
    log.info("wrote %s (%d records in %s)", args.out, len(all_records), args.records)


if __name__ == "__main__":
    main()
