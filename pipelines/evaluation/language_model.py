"""The evaluate stage for ``task: language_model``: perplexity on validation and test, samples from the prompts,
the preprocessing the model was trained with, and the generating pyfunc logged to the training's MLflow run."""

from __future__ import annotations

import argparse
import logging

import pandas as pd

from pipelines import tracking
from pipelines.common.io import write_json, write_text
from pipelines.config import Params
from pipelines.evaluation.data_docs import log_data_docs
from pipelines.evaluation.metrics import report_files, scored_splits
from pipelines.models.saved import load_model
from pipelines.serving.generation import TextGeneration, language_model_config, sample_prefixes
from pipelines.serving.logged import log_text_model
from pipelines.text.sequences import EncodedSplit
from pipelines.text.stopwords import read_stopwords
from pipelines.text.vocab import UNK_ID, Vocabulary
from pipelines.training.device import resolve_device
from pipelines.training.perplexity import perplexity, stream_loss

log = logging.getLogger("evaluate")


def evaluate_language_model(args: argparse.Namespace, params: Params) -> None:
    """Perplexity on validation and test (the stream read in order, state carried), samples from the
    prefixes into ``samples.txt``; the metrics, both splits' hashes and the generating pyfunc to the run."""
    device = resolve_device(params.train.device)
    model, _ = load_model(args.model, device)
    vocabulary = Vocabulary.load(args.tokens / "vocab.json")
    bptt = params.language_model.bptt
    metrics = {}
    for split in ("valid", "test"):
        stream = EncodedSplit.load(args.tokens / f"{split}.npz").ids
        loss = stream_loss(model, stream, device, bptt=bptt)
        metrics[split] = {
            "perplexity": round(perplexity(loss), 4),
            "loss": round(loss, 6),
            "tokens": int(len(stream)),
            "oov_rate": round(float((stream == UNK_ID).mean()), 6),
        }
    write_json(args.metrics, metrics)
    config = language_model_config(params, read_stopwords(args.stopwords))
    write_json(args.preprocessing, config)
    generation = TextGeneration(model.cpu(), vocabulary, config)
    options = params.language_model
    prefixes = sample_prefixes(params)
    samples = [
        generation.continue_text(prefix, options.sample_tokens, options.temperature, seed=params.train.seed)
        for prefix in prefixes
    ]
    args.figures.mkdir(parents=True, exist_ok=True)
    write_text(args.figures / "samples.txt", "\n\n".join(samples) + "\n")
    log.info(
        "perplexity: valid %.2f, test %.2f (vocabulary %d)",
        metrics["valid"]["perplexity"],
        metrics["test"]["perplexity"],
        len(vocabulary),
    )
    splits = scored_splits(args.validated)
    with tracking.resumed_run(args.run) as run_id:
        if run_id is None:
            return
        model_id = log_text_model(
            {"model": args.model, "vocab": args.tokens / "vocab.json", "preprocessing": args.preprocessing},
            pd.DataFrame({"prefix": prefixes}),
            task="language_model",
        )
        tracking.log_scores(
            {"test": metrics["test"], "validation": metrics["valid"]},
            splits,
            report_files(args),
            params.dataset.name,
            model_id,
        )
        log_data_docs(args.validated, params, labelled=False)
        log.info("logged perplexity, samples and the generating model to MLflow run %s", run_id)
