"""Model registry: ``model.type`` in params.yaml -> a torch module, built from the config alone so a saved
checkpoint (config + state dict) can always be rebuilt."""

from __future__ import annotations

from typing import get_args

import numpy as np
from torch import nn

from pipelines.config import ModelParams, ModelType
from pipelines.models.charcnn import CharCNN
from pipelines.models.fasttext import FastTextClassifier
from pipelines.models.recurrent import RecurrentClassifier
from pipelines.models.textcnn import TextCNN

MODEL_TYPES: tuple[str, ...] = get_args(ModelType)


def build_model(params: ModelParams, vocab_size: int, num_classes: int, vectors: np.ndarray | None = None) -> nn.Module:
    common = dict(dropout=params.dropout, embedding_init=params.embedding_init, vectors=vectors)
    if params.type == "fasttext":
        return FastTextClassifier(
            vocab_size, num_classes, params.embedding_dim, params.fasttext.bigram_buckets, **common
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
    raise ValueError(f"unknown model.type {params.type!r}; known: {', '.join(MODEL_TYPES)}")
