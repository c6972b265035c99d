"""Model registry: ``model.type`` in params.yaml -> a torch module, built from the config alone so a saved
checkpoint (config + state dict) can always be rebuilt."""

from __future__ import annotations

import numpy as np
from torch import nn

from pipelines.config import ModelParams
from pipelines.models.bigru import BiGRU
from pipelines.models.fasttext import FastTextClassifier
from pipelines.models.textcnn import TextCNN

MODEL_TYPES = ("fasttext", "textcnn", "bigru")


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
    if params.type == "bigru":
        return BiGRU(
            vocab_size, num_classes, params.embedding_dim, params.bigru.hidden_size, params.bigru.num_layers, **common
        )
    raise ValueError(f"unknown model.type {params.type!r}; known: {', '.join(MODEL_TYPES)}")
