"""The one home of what differs between tasks: ``classification`` (labelled texts -> a class) and
``language_model`` (one token stream -> the next token). Every stage is shared and asks ``get_task(params)``
for the task's part: how splits are completed and checked, how text is cleaned and encoded, which model and
objective train, how the model is evaluated and served, and which validation metric (in which direction) the
registry gate and sweeps select on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, get_args

from pipelines.config import Params, Task

if TYPE_CHECKING:  # annotations only: a stage imports just the code it runs (see get_task)
    import argparse
    from pathlib import Path

    import pandas as pd
    import torch
    from torch import nn

    from pipelines.text.encode import EncodedCorpus
    from pipelines.training.loop import Objective

TASKS: tuple[str, ...] = get_args(Task)


@dataclass(frozen=True)
class Selection:
    """The validation metric a task's models compete on, e.g. ``macro_f1`` (higher wins) or ``perplexity``."""

    metric: str
    higher_is_better: bool


@dataclass
class Training:
    """What the train stage needs from a task: the model, the model's params section (saved with the weights)
    and the values the saved model carries."""

    model: nn.Module
    section: str
    section_params: Any
    saved: dict[str, Any] = field(default_factory=dict)
    description: str = ""


class TaskKind(Protocol):
    labelled: bool

    def selection(self, params: Params) -> Selection: ...

    def complete_splits(
        self, published: dict[str, pd.DataFrame], params: Params
    ) -> tuple[dict[str, pd.DataFrame], list[str]]: ...

    def clean_texts(self, texts: list[str], params: Params, stopwords: list[str]) -> list[str]: ...

    def encode(self, frames: dict[str, pd.DataFrame], params: Params) -> EncodedCorpus: ...

    def prepare_training(self, params: Params, tokens: Path, embeddings: Path) -> Training: ...

    def objective(
        self, training: Training, params: Params, tokens: Path, device: torch.device, run: Any
    ) -> Objective: ...

    def evaluate(self, args: argparse.Namespace, params: Params) -> None: ...

    # classification only (``train.ensemble_size`` > 1 and ``train.label_prior`` are refused for other tasks):
    # the members as one model with weights chosen on validation, and a report of them
    def ensemble(
        self, members: list[nn.Module], tokens: Path, params: Params, device: torch.device
    ) -> tuple[nn.Module, dict[str, Any]]: ...


def get_task(params: Params) -> TaskKind:
    """The task of ``params``; only its module is imported, so a stage's process loads only the code of its
    task (what dvc.yaml must declare as the stage's deps, see tests/test_declared_inputs.py)."""
    if params.task == "language_model":
        from pipelines.tasks.language_model import LanguageModelTask

        return LanguageModelTask()
    from pipelines.tasks.classification import ClassificationTask

    return ClassificationTask()
