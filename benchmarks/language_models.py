"""Language models on the registry's corpora: RNN vs GRU vs LSTM, perplexity on held-out text.

    TEXTFLOW_MIRROR=../shared/mirror python -m benchmarks.language_models --dataset jaychou --cells rnn gru lstm
    TEXTFLOW_MIRROR=../shared/mirror python -m benchmarks.language_models --dataset ptb --cells lstm \\
        -S language_model.hidden_size=200 -S language_model.embedding_dim=200 -S train.epochs=13 ...

Every run goes through the pipeline's own code (download, the task's splits, cleaning and encoding, the
model, the training loop, perplexity, generation), with ``-S key=value`` params overrides. Reported per run:
training perplexity of the best epoch and of the last (measured in training mode, with dropout: the number d2l
prints after its last epoch),
validation and test perplexity (evaluation mode, the held-out text read in order with the state carried),
wall time, training tokens per second, and samples from the dataset's prompts. Records go to
``benchmarks/results/language_models.json`` and the table to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.quality import MACHINE, ROOT
from benchmarks.report import LANGUAGE_MODEL_RECORDS, QUALITY_RECORDS, RESULTS_PAGE, render_results
from pipelines.config import Params, RecurrentCell, load_params, parse_assignments
from pipelines.data.registry import DATASET_NAMES
from pipelines.data.sources import read_raw_splits, write_raw_files
from pipelines.models.language_model import build_language_model
from pipelines.serving.generation import TextGeneration, language_model_config, sample_prefixes
from pipelines.stages import EXPECTED_ERRORS
from pipelines.tasks import get_task
from pipelines.training.device import configure_threads, mixed_precision_enabled, resolve_device
from pipelines.training.loop import fit
from pipelines.training.perplexity import LanguageModelObjective, perplexity, stream_loss

log = logging.getLogger("language_models")
CELLS = RecurrentCell.__args__
SAMPLE_TOKENS = 40


def run_one(params: Params, device, tag: str = "") -> dict[str, Any]:
    task = get_task(params)
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch)
        write_raw_files(params, raw)
        _, published = read_raw_splits(raw)
    splits, created = task.complete_splits(published, params)
    cleaned = {
        name: frame.assign(text=task.clean_texts(frame["text"].tolist(), params, [])) for name, frame in splits.items()
    }
    corpus = task.encode(cleaned, params)
    streams = {name: split.ids for name, split in corpus.splits.items()}
    import torch

    torch.manual_seed(params.train.seed)
    options = params.language_model
    model = build_language_model(options, len(corpus.vocabulary))
    objective = LanguageModelObjective(
        streams["train"],
        streams["valid"],
        batch_size=params.train.batch_size,
        bptt=options.bptt,
        sampling=options.sampling,
        seed=params.train.seed,
        device=device,
        mixed_precision=mixed_precision_enabled(params.train, device),
    )
    began = time.perf_counter()
    result = fit(model, objective, params.train, seed=params.train.seed, device=device)
    seconds = time.perf_counter() - began
    best = next(row for row in result.history if row["epoch"] == result.best_epoch)
    scores = {
        name: perplexity(stream_loss(model, streams[name], device, bptt=options.bptt)) for name in ("valid", "test")
    }
    generation = TextGeneration(model.cpu(), corpus.vocabulary, language_model_config(params, []))
    samples = {
        prefix: generation.continue_text(prefix, SAMPLE_TOKENS, options.temperature, seed=params.train.seed)
        for prefix in sample_prefixes(params)
    }
    return {
        "dataset": params.dataset.name,
        "cell": options.cell,
        "tag": tag,
        "seed": params.train.seed,
        "device": device.type,
        "setting": (
            f"{options.num_layers}x{options.hidden_size}, emb {options.embedding_dim}, dropout {options.dropout}, "
            f"bptt {options.bptt}, batch {params.train.batch_size}, {params.train.optimizer} "
            f"lr {params.train.learning_rate} ({params.train.lr_schedule}), {options.sampling}"
            + (", tied" if options.tied else "")
        ),
        "vocab_size": len(corpus.vocabulary),
        "tokens": {name: int(len(stream)) for name, stream in streams.items()},
        "created_splits": created,
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "train_perplexity": round(best["train_perplexity"], 3),
        "last_train_perplexity": round(result.history[-1]["train_perplexity"], 3),
        "valid_perplexity": round(scores["valid"], 3),
        "test_perplexity": round(scores["test"], 3),
        "seconds": round(seconds, 1),
        "tokens_per_second": round(
            sum(row["tokens_per_second"] for row in result.epoch_timings) / len(result.epoch_timings)
        ),
        "samples": samples,
    }


def merge(path: Path, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records in ``path`` with ``new`` replacing those of the same dataset/cell/tag/seed/device."""
    old = json.loads(path.read_text()) if path.exists() else []

    def key(record):
        return (record["dataset"], record["cell"], record.get("tag", ""), record["seed"], record["device"])

    replaced = {key(record) for record in new}
    merged = [record for record in old if key(record) not in replaced] + new
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=1, ensure_ascii=False) + "\n")
    return merged


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--dataset", default="jaychou", choices=DATASET_NAMES)
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="params override key=value")
    parser.add_argument("--tag", default="", help="names a variant, so its records sit beside the default ones")
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--records", type=Path, default=LANGUAGE_MODEL_RECORDS)
    parser.add_argument("--quality-records", type=Path, default=QUALITY_RECORDS)
    parser.add_argument("--out", type=Path, default=RESULTS_PAGE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[language_models] %(message)s", stream=sys.stderr, force=True)
    configure_threads(0)
    device = resolve_device("auto")
    base = {"task": "language_model", "dataset.name": args.dataset} | parse_assignments(args.overrides)
    records = []
    for cell in args.cells:
        for seed in args.seeds:
            try:
                params = load_params(args.params, base | {"language_model.cell": cell, "train.seed": seed})
                record = run_one(params, device, args.tag)
            except EXPECTED_ERRORS as error:
                parser.exit(2, f"{parser.prog}: error: {error}\n")
            log.info(
                "%s %s seed %d: perplexity train %.2f, valid %.2f, test %.2f in %.0f s",
                args.dataset,
                cell,
                seed,
                record["train_perplexity"],
                record["valid_perplexity"],
                record["test_perplexity"],
                record["seconds"],
            )
            records.append(record)
            merged = merge(args.records, records)
    quality = json.loads(args.quality_records.read_text()) if args.quality_records.exists() else []
    args.out.write_text(render_results(quality, MACHINE, language_model_records=merged))
    log.info("wrote %s (%d language-model records in %s)", args.out, len(merged), args.records)


if __name__ == "__main__":
    main()
