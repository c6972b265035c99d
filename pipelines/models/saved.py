"""Saving a trained classifier as plain values + a state dict, and rebuilding it without unpickling code."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pipelines.config import ModelParams, build_section
from pipelines.io import save_torch
from pipelines.models import build_model


def save_model(
    path: str | Path,
    model: nn.Module,
    params: ModelParams,
    vocab_size: int,
    num_classes: int,
    extra: dict[str, Any] | None = None,
) -> None:
    state = {
        "model_params": dataclasses.asdict(params),
        "vocab_size": vocab_size,
        "num_classes": num_classes,
        "state_dict": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},
        **(extra or {}),
    }
    save_torch(path, state)


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """(model in eval mode, the saved record); the embedding is built from a zero matrix and then overwritten
    by the saved weights, so no embedding matrix is needed to load."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    params = build_section(ModelParams, state["model_params"], "model")
    placeholder = np.zeros((state["vocab_size"], params.embedding_dim), dtype=np.float32)
    model = build_model(params, state["vocab_size"], state["num_classes"], placeholder)
    model.load_state_dict(state["state_dict"])
    return model.to(device).eval(), state
