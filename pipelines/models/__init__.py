"""Model registry: ``model.type`` in params.yaml -> a torch module, built from the config alone so a saved
checkpoint (config + state dict) can always be rebuilt."""

from __future__ import annotations

from typing import get_args

import numpy as np
from torch import nn

from pipelines.config import ModelParams, ModelType
from pipelines.models.charcnn import CharCNN
from pipelines.models.fasttext import FastTextClassifier
from pipelines.models.nb_ngrams import NBWeightedNgrams
from pipelines.models.ngram_table import SeenNgramTable
from pipelines.models.recurrent import RecurrentClassifier
from pipelines.models.textcnn import TextCNN
from pipelines.models.tfidf_linear import TfidfLinear
from pipelines.text.sequences import EncodedSplit

MODEL_TYPES: tuple[str, ...] = get_args(ModelType)


def build_model(params: ModelParams, vocab_size: int, num_classes: int, vectors: np.ndarray | None = None) -> nn.Module:
    common = dict(dropout=params.dropout, embedding_init=params.embedding_init, vectors=vectors)
    if params.type == "fasttext":
        return FastTextClassifier(
            vocab_size,
            num_classes,
            params.embedding_dim,
            params.fasttext.bigram_buckets,
            sparse=params.fasttext.sparse,
            initialization=params.fasttext.initialization,
            **common,
        )
    if params.type == "textcnn":
        return TextCNN(
            vocab_size,
            num_classes,
            params.embedding_dim,
            params.textcnn.kernel_sizes,
            params.textcnn.num_filters,
            max_norm=params.textcnn.max_norm,
            **common,
        )
    if params.type in ("bigru", "bilstm"):
        rnn = params.rnn
        return RecurrentClassifier(
            vocab_size,
            num_classes,
            params.embedding_dim,
            rnn.hidden_size,
            rnn.num_layers,
            cell=params.type[2:],
            pooling=rnn.pooling,
            **common,
        )
    if params.type == "charcnn":
        charcnn = params.charcnn
        return CharCNN(vocab_size, num_classes, charcnn.num_features, charcnn.hidden_size, params.dropout)
    if params.type == "nb_ngrams":
        options = params.nb_ngrams
        return NBWeightedNgrams(
            vocab_size,
            num_classes,
            options.max_n,
            options.buckets,
            options.smoothing,
            params.dropout,
            options.initial_weight,
            options.interpolation,
        )
    if params.type == "tfidf_linear":
        options = params.tfidf_linear
        return TfidfLinear(vocab_size, num_classes, options.max_n, options.buckets, params.dropout)
    raise ValueError(f"unknown model.type {params.type!r}; known: {', '.join(MODEL_TYPES)}")


def fit_to_training_split(model: nn.Module, train: EncodedSplit) -> None:
    """Give a model the fixed statistics it derives from the training split before training (the NB log-count
    ratios of ``nb_ngrams``, the idf of ``tfidf_linear``); every other model is left as built."""
    if isinstance(model, SeenNgramTable):
        model.fit_to(train)
