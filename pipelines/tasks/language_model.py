"""``task: language_model``: a corpus read as one stream of tokens (each line ends with ``<eos>``), a recurrent
LM (``language_model.*``), next-token cross-entropy selected on validation perplexity (lower wins), samples
from fixed prefixes every epoch, and the text-generating pyfunc.

The text is kept as written (whitespace normalised) unless ``language_model.clean`` asks for the lossy
``clean.*`` steps, so generated text reads like the corpus. Splits a corpus lacks are carved from its end,
contiguously: lines of a song or a paragraph stay together, and the model is scored on text it never saw.
As in the classification task, each method imports the code it runs (see its module's docstring).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipelines.config import Params
from pipelines.tasks import Selection, Training

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    import pandas as pd
    import torch

    from pipelines.text.encode import EncodedCorpus

log = logging.getLogger("train")


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
        from pipelines.data.registry import SPLITS

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
        from pipelines.text.clean import CleanSettings, clean_texts, normalise_whitespace

        if params.language_model.clean:
            return clean_texts(texts, CleanSettings.from_params(params.clean, stopwords), params.clean.workers)
        return [normalise_whitespace(text) for text in texts]

    def encode(self, frames: dict[str, pd.DataFrame], params: Params) -> EncodedCorpus:
        """Every line's tokens followed by ``<eos>``; the vocabulary from the training split only. A split's
        ``ids`` are its token stream (``offsets`` still mark the lines)."""
        from pipelines.text.encode import encode_stream

        return encode_stream(frames, params.tokenize)

    def prepare_training(self, params: Params, tokens: Path, embeddings: Path) -> Training:
        import torch

        from pipelines.models.language_model import build_language_model
        from pipelines.text.vocab import Vocabulary

        vocabulary = Vocabulary.load(tokens / "vocab.json")
        torch.manual_seed(params.train.seed)
        options = params.language_model
        model = build_language_model(options, len(vocabulary))
        description = f"{options.num_layers}x{options.hidden_size} {options.cell} language model"
        return Training(model, "language_model", options, {"vocab_size": len(vocabulary)}, description)

    def objective(self, training: Training, params: Params, tokens: Path, device: torch.device, run: Any):
        from pipelines.serving.generation import TextGeneration, language_model_config, sample_prefixes
        from pipelines.text.sequences import EncodedSplit
        from pipelines.text.vocab import Vocabulary
        from pipelines.training.device import mixed_precision_enabled
        from pipelines.training.perplexity import LanguageModelObjective

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
        from pipelines.evaluation.language_model import evaluate_language_model

        evaluate_language_model(args, params)
