"""``task: language_model``: a corpus read as one stream of tokens (each line ends with ``<eos>``), a recurrent
LM (``language_model.*``), next-token cross-entropy selected on validation perplexity (lower wins), samples
from fixed prefixes every epoch, and the text-generating pyfunc.

The text is kept as written (whitespace normalised) unless ``language_model.clean`` asks for the lossy
``clean.*`` steps, so generated text reads like the corpus. Splits a corpus lacks are carved from its end,
contiguously: lines of a song or a paragraph stay together, and the model is scored on text it never saw.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from pipelines import tracking
from pipelines.config import Params
from pipelines.data.registry import SPLITS, get_dataset
from pipelines.evaluation import split_hash
from pipelines.generation import TextGeneration, language_model_config, normalise_whitespace
from pipelines.io import write_json, write_text
from pipelines.models.language_model import build_language_model
from pipelines.models.saved import load_model
from pipelines.tasks import Selection, Training
from pipelines.tasks.classification import ClassificationTask, report_files
from pipelines.text.encode import EncodedCorpus
from pipelines.text.sequences import EncodedSplit
from pipelines.text.stopwords import read_stopwords
from pipelines.text.tokenizers import get_tokenizer
from pipelines.text.vocab import EOS, UNK_ID, Vocabulary
from pipelines.training.device import mixed_precision_enabled, resolve_device
from pipelines.training.perplexity import LanguageModelObjective, perplexity, stream_loss

log = logging.getLogger(__name__)


def sample_prefixes(params: Params) -> list[str]:
    """``language_model.sample_prefixes``, or the dataset's prompts from the registry when empty."""
    return list(params.language_model.sample_prefixes) or list(get_dataset(params.dataset.name).prompts)


def contiguous_split(frame: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept, held out): the last ``fraction`` of the lines, at least one, held out."""
    held = min(max(round(len(frame) * fraction), 1), len(frame) - 1)
    return frame.iloc[: len(frame) - held].reset_index(drop=True), frame.iloc[len(frame) - held :].reset_index(
        drop=True
    )


class LanguageModelTask:
    labelled = False

    def selection(self, params: Params) -> Selection:
        return Selection("perplexity", higher_is_better=False)

    def complete_splits(self, published: dict[str, pd.DataFrame], params: Params):
        splits = {split: frame[["text"]] for split, frame in published.items()}
        created = []
        if "test" not in splits:
            splits["train"], splits["test"] = contiguous_split(splits["train"], params.validate.test_fraction)
            created.append("test")
        if "valid" not in splits:
            splits["train"], splits["valid"] = contiguous_split(splits["train"], params.validate.valid_fraction)
            created.append("valid")
        return {split: splits[split] for split in SPLITS}, created

    def clean_texts(self, texts: list[str], params: Params, stopwords: list[str]) -> list[str]:
        if params.language_model.clean:
            return ClassificationTask().clean_texts(texts, params, stopwords)
        return [normalise_whitespace(text) for text in texts]

    def encode(self, frames: dict[str, pd.DataFrame], params: Params) -> EncodedCorpus:
        """Every line's tokens followed by ``<eos>``; the vocabulary from the training split only. A split's
        ``ids`` are its token stream (``offsets`` still mark the lines)."""
        options = params.tokenize
        tokenize = get_tokenizer(options.method)
        tokens = {split: [[*tokenize(text), EOS] for text in frame["text"]] for split, frame in frames.items()}
        vocabulary = Vocabulary.build(tokens["train"], options.min_freq, options.max_size)
        splits = {
            split: EncodedSplit.from_lists([vocabulary.encode(line) for line in lines], [0] * len(lines))
            for split, lines in tokens.items()
        }
        return EncodedCorpus(vocabulary, [], splits)

    def prepare_training(self, params: Params, tokens: Path, embeddings: Path) -> Training:
        vocabulary = Vocabulary.load(tokens / "vocab.json")
        torch.manual_seed(params.train.seed)
        options = params.language_model
        model = build_language_model(options, len(vocabulary))
        inputs = [tokens / name for name in ("vocab.json", "train.npz", "valid.npz")]
        description = f"{options.num_layers}x{options.hidden_size} {options.cell} language model"
        return Training(model, inputs, "language_model", options, {"vocab_size": len(vocabulary)}, description)

    def objective(self, training: Training, params: Params, tokens: Path, device: torch.device, run: Any):
        train, valid = (EncodedSplit.load(tokens / f"{split}.npz").ids for split in ("train", "valid"))
        vocabulary = Vocabulary.load(tokens / "vocab.json")
        generation = TextGeneration(training.model, vocabulary, language_model_config(params, []))
        options = params.language_model
        log.info("%d train / %d valid tokens, vocabulary %d", len(train), len(valid), len(vocabulary))

        def log_samples(model: torch.nn.Module, epoch: int) -> None:
            text = "\n\n".join(
                generation.continue_text(prefix, options.sample_tokens, options.temperature, seed=params.train.seed)
                for prefix in sample_prefixes(params)
            )
            log.info("epoch %d samples:\n%s", epoch, text)
            run.log_text(text, f"samples/epoch_{epoch:03d}.txt")

        return LanguageModelObjective(
            train,
            valid,
            batch_size=params.train.batch_size,
            bptt=options.bptt,
            sampling=options.sampling,
            seed=params.train.seed,
            device=device,
            mixed_precision=mixed_precision_enabled(params.train, device),
            on_epoch_end=log_samples,
        )

    def evaluate(self, args: argparse.Namespace, params: Params) -> None:
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
        hashes = {
            split: split_hash(pd.read_parquet(args.validated / f"{split}.parquet")) for split in ("test", "valid")
        }
        with tracking.resumed_run(args.run) as run_id:
            if run_id is None:
                return
            tracking.log_scores({"test": metrics["test"], "validation": metrics["valid"]}, hashes, report_files(args))
            with tempfile.TemporaryDirectory() as scratch:
                preprocessing = Path(scratch, "preprocessing.json")
                write_json(preprocessing, config)
                tracking.log_text_model(
                    {"model": args.model, "vocab": args.tokens / "vocab.json", "preprocessing": preprocessing},
                    pd.DataFrame({"prefix": prefixes}),
                    task="language_model",
                )
            log.info("logged perplexity, samples and the generating model to MLflow run %s", run_id)
