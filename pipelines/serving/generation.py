"""Text in, text out for a language model: normalise and tokenize a prefix the way the pipeline prepared its
corpus, sample a continuation (pipelines/models/language_model.py) and join the tokens back into text.

Characters and jieba words are joined without spaces (Chinese has none), words with one; ``<eos>`` (the end of
a corpus line) becomes a newline. The settings travel as a small JSON config beside the model and the
vocabulary, so the registered pyfunc, ``python -m pipelines.serving.generate --local`` and the per-epoch samples all
generate the same way.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from pipelines.config import Params
from pipelines.data.registry import get_dataset
from pipelines.models.language_model import sample
from pipelines.text.clean import CleanSettings, TextCleaner, normalise_whitespace
from pipelines.text.tokenizers import get_tokenizer
from pipelines.text.vocab import BOS_ID, EOS, EOS_ID, PAD_ID, UNK_ID, Vocabulary

JOINERS = {"char": "", "jieba": "", "word": " "}
DEFAULT_SAMPLING = {"tokens": 50, "temperature": 1.0, "top_k": 0, "seed": 0}


def sample_prefixes(params: Params) -> list[str]:
    """``language_model.sample_prefixes``, or the dataset's prompts from the registry when empty."""
    return list(params.language_model.sample_prefixes) or list(get_dataset(params.dataset.name).prompts)


def language_model_config(params: Params, stopwords: list[str]) -> dict[str, Any]:
    """How text becomes tokens for this language model: the lossy ``clean`` settings only when
    ``language_model.clean`` asks for them, the tokenizer, and how generated tokens are joined."""
    return {
        "task": "language_model",
        "clean": CleanSettings.from_params(params.clean, stopwords).to_config()
        if params.language_model.clean
        else None,
        "stopwords": sorted(stopwords) if params.language_model.clean else [],
        "tokenizer": params.tokenize.method,
        "joiner": JOINERS[params.tokenize.method],
    }


class TextGeneration:
    def __init__(self, model: nn.Module, vocabulary: Vocabulary, config: dict[str, Any]):
        self.model, self.vocabulary, self.config = model, vocabulary, config
        self.tokenize = get_tokenizer(config["tokenizer"])
        clean = config["clean"]
        self.cleaner = None
        if clean is not None:
            self.cleaner = TextCleaner(CleanSettings.from_config(clean, config["stopwords"]))

    def prepare(self, text: str) -> str:
        """The text as the corpus was prepared (see the language-model task's cleaning)."""
        return self.cleaner.clean_joined([text])[0] if self.cleaner is not None else normalise_whitespace(text)

    def continue_text(
        self, prefix: str, tokens: int = 50, temperature: float = 1.0, top_k: int = 0, seed: int = 0
    ) -> str:
        """The prefix followed by ``tokens`` sampled tokens, as text. Words the vocabulary lacks read as
        ``<unk>`` to the model; the prefix is returned as given."""
        prepared = self.prepare(prefix)
        ids = self.vocabulary.encode(self.tokenize(prepared)) if prepared else []
        ids = ids or [EOS_ID]  # an empty prefix starts where a corpus line would
        drawn = sample(
            self.model, ids, tokens, temperature=temperature, top_k=top_k, seed=seed, banned=(PAD_ID, UNK_ID, BOS_ID)
        )
        return prefix + self.join(drawn, after=prepared)

    def join(self, ids: list[int], after: str = "") -> str:
        """Tokens as text: ``<eos>`` a line break, words separated (also from a non-empty ``after``)."""
        joiner = self.config["joiner"]
        pieces = []
        for token in self.vocabulary.decode(ids):
            if token == EOS:
                pieces.append("\n")
            else:
                separate = joiner and pieces and not pieces[-1].endswith("\n")
                separate = separate or (joiner and not pieces and after)
                pieces.append((joiner if separate else "") + token)
        return "".join(pieces)
