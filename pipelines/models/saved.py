"""Saving a trained model as plain values + a state dict, and rebuilding it without unpickling code.

The record names its task and that task's model params section, so one loader rebuilds a classifier
(``model``) or a language model (``language_model``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pipelines.common.io import save_torch
from pipelines.config import LanguageModelParams, ModelParams, build_section
from pipelines.models import build_model
from pipelines.models.ensemble import EnsembleClassifier
from pipelines.models.language_model import build_language_model


def save_model(path: str | Path, model: nn.Module, task: str, params: Any, extra: dict[str, Any]) -> None:
    """``extra`` holds what rebuilding needs besides the params (``vocab_size``, ``num_classes``) and what
    serving reads (``class_names``)."""
    state = {
        "task": task,
        "model_params": params.model_dump(),
        "state_dict": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},
        **extra,
    }
    save_torch(path, state)


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """(model in eval mode, the saved record). A classifier's embedding is built from a zero matrix and then
    overwritten by the saved weights, so no embedding matrix is needed to load."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("task", "classification") == "language_model":
        params = build_section(LanguageModelParams, state["model_params"], "language_model")
        model = build_language_model(params, state["vocab_size"])
    else:
        params = build_section(ModelParams, state["model_params"], "model")
        placeholder = np.zeros((state["vocab_size"], params.embedding_dim), dtype=np.float32)
        members = [
            build_model(params, state["vocab_size"], state["num_classes"], placeholder)
            for _ in range(state.get("ensemble_size", 1))
        ]
        model = EnsembleClassifier(members) if "ensemble_size" in state else members[0]
    model.load_state_dict(state["state_dict"])
    return model.to(device).eval(), state
