"""Language models: stream batching, perplexity, training to convergence and resumption, generation."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from pipelines.config import LanguageModelParams, TrainParams
from pipelines.models.language_model import build_language_model
from pipelines.serving.generation import TextGeneration
from pipelines.stages.train import standalone_command
from pipelines.text.sequences import EncodedSplit
from pipelines.text.vocab import SPECIALS, Vocabulary
from pipelines.training.loop import fit
from pipelines.training.perplexity import LanguageModelObjective, perplexity, stream_loss
from pipelines.training.streams import random_batches, sequential_batches
from tests.conftest import ROOT, copy_project, kill_on_output, merge, run, tool_env, write_params

CPU = torch.device("cpu")


def test_sequential_batches_carry_each_row_on_through_the_corpus_in_order():
    stream = np.arange(103)
    rows = [[], [], [], []]
    targets = [[], [], [], []]
    for inputs, shifted in sequential_batches(stream, batch_size=4, bptt=7):
        assert inputs.shape[0] == 4 and inputs.shape[1] <= 7
        for row in range(4):
            rows[row] += inputs[row].tolist()
            targets[row] += shifted[row].tolist()
    width = 103 // 4
    for row in range(4):
        expected = list(range(row * width, (row + 1) * width))
        assert rows[row] == expected[:-1], "row r of consecutive batches continues the same stretch of text"
        assert targets[row] == expected[1:], "targets are the next tokens"


def test_random_windows_are_contiguous_next_token_pairs_and_depend_only_on_seed_and_epoch():
    stream = np.arange(500)
    first = list(random_batches(stream, 8, 10, seed=1, epoch=3))
    again = list(random_batches(stream, 8, 10, seed=1, epoch=3))
    other = list(random_batches(stream, 8, 10, seed=1, epoch=4))
    for (inputs, targets), (same_inputs, _) in zip(first, again, strict=True):
        assert torch.equal(inputs, same_inputs)
        assert torch.equal(targets, inputs + 1) and torch.equal(inputs[:, 1:] - inputs[:, :-1], torch.ones(8, 9).long())
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, other, strict=True))


class Uniform(nn.Module):
    """Equal logits for every token: the model that knows nothing."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, ids, state=None):
        return torch.zeros(*ids.shape, self.vocab_size), state


def test_a_uniform_model_has_the_vocabulary_size_as_perplexity():
    stream = np.random.default_rng(0).integers(0, 250, size=5000)
    assert perplexity(stream_loss(Uniform(250), stream, CPU, bptt=35)) == pytest.approx(250, rel=1e-5)


def _train(
    stream, valid, params: TrainParams, lm: LanguageModelParams, vocab_size: int, checkpoint=None, on_epoch=None
):
    torch.manual_seed(params.seed)
    model = build_language_model(lm, vocab_size)
    objective = LanguageModelObjective(
        stream,
        valid,
        batch_size=params.batch_size,
        bptt=lm.bptt,
        sampling=lm.sampling,
        seed=params.seed,
        device=CPU,
        mixed_precision=False,
    )
    result = fit(model, objective, params, seed=params.seed, device=CPU, checkpoint_path=checkpoint, on_epoch=on_epoch)
    return model, result


def test_a_tiny_model_learns_a_tiny_corpus_to_perplexity_near_one():
    pattern = np.array([4, 5, 6, 7, 8, 9, 10, 11, 5, 7, 9, 11, 4, 6, 8, 10])  # each token determined by the last two
    stream = np.tile(pattern, 40)
    params = TrainParams(epochs=40, batch_size=4, learning_rate=0.01, patience=40, grad_clip=1.0, seed=3)
    lm = LanguageModelParams(cell="lstm", embedding_dim=16, hidden_size=32, num_layers=1, dropout=0.0, bptt=16)
    _, result = _train(stream, stream[:200], params, lm, vocab_size=12)
    assert result.history[0]["valid_perplexity"] > 5
    assert result.history[-1]["train_perplexity"] < 1.05, result.history[-1]
    # validation restarts the state at each of its 10 rows, where the first tokens cannot be known yet
    assert result.best_score < 1.25, result.history[-1]


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("sampling", ["sequential", "random"])
def test_an_interrupted_language_model_resumes_to_the_uninterrupted_weights(tmp_path, sampling):
    rng = np.random.default_rng(5)
    stream, valid = rng.integers(4, 40, size=3000), rng.integers(4, 40, size=400)
    params = TrainParams(
        epochs=4, batch_size=8, learning_rate=0.5, optimizer="sgd", momentum=0.0, lr_schedule="plateau", patience=10
    )
    lm = LanguageModelParams(
        cell="gru", embedding_dim=16, hidden_size=16, num_layers=2, dropout=0.3, bptt=12, sampling=sampling
    )

    def stop_after(epoch):
        def on_epoch(row):
            if row["epoch"] == epoch:
                raise Interrupted

        return on_epoch

    uninterrupted, expected = _train(stream, valid, params, lm, 40)
    with pytest.raises(Interrupted):
        _train(stream, valid, params, lm, 40, tmp_path / "checkpoint.pt", stop_after(3))
    resumed, result = _train(stream, valid, params, lm, 40, tmp_path / "checkpoint.pt")
    assert result.resumed_from_epoch == 3, "epoch 3's checkpoint is written before it is reported"
    assert result.history == expected.history, "no wall-clock value (seconds, tokens per second) in the curves"
    assert "tokens_per_second" in result.epoch_timings[0], "throughput is observed, beside the curves"
    for name, tensor in uninterrupted.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


def test_plateau_schedule_cuts_the_learning_rate_after_each_epoch_without_improvement():
    rng = np.random.default_rng(0)
    stream, valid = rng.integers(4, 30, size=400), rng.integers(4, 30, size=300)  # little noise: it soon overfits
    params = TrainParams(
        epochs=8,
        batch_size=8,
        learning_rate=2.0,
        optimizer="sgd",
        momentum=0.0,
        lr_schedule="plateau",
        decay_factor=0.5,
        patience=10,
    )
    lm = LanguageModelParams(cell="rnn", embedding_dim=32, hidden_size=64, num_layers=1, dropout=0.0, bptt=10)
    _, result = _train(stream, valid, params, lm, 30)
    rates = [row["learning_rate"] for row in result.history]
    scores = [row["valid_perplexity"] for row in result.history]
    expected, best = [2.0], math.inf
    for score in scores[:-1]:  # an epoch's rate follows from whether the epoch before it improved
        expected.append(expected[-1] if score < best else expected[-1] * 0.5)
        best = min(best, score)
    assert rates == expected
    assert min(rates) < 2.0, "noise must leave some epoch without improvement"


def test_step_schedule_halves_the_rate_every_epoch_after_decay_after():
    rng = np.random.default_rng(0)
    stream = rng.integers(4, 30, size=600)
    params = TrainParams(
        epochs=6,
        batch_size=8,
        learning_rate=1.0,
        optimizer="sgd",
        momentum=0.0,
        lr_schedule="step",
        decay_factor=0.5,
        decay_after=2,
        patience=10,
    )
    lm = LanguageModelParams(cell="rnn", embedding_dim=8, hidden_size=8, num_layers=1, dropout=0.0, bptt=10)
    _, result = _train(stream, stream[:200], params, lm, 30)
    assert [row["learning_rate"] for row in result.history] == [1.0, 1.0, 0.5, 0.25, 0.125, 0.0625]


def test_generation_is_reproducible_and_joins_characters_without_spaces():
    vocabulary = Vocabulary([*SPECIALS, "分", "开", "不", "爱"], [0, 0, 0, 0, 5, 5, 5, 5])
    torch.manual_seed(0)
    model = build_language_model(LanguageModelParams(embedding_dim=8, hidden_size=8, num_layers=1), len(vocabulary))
    config = {"task": "language_model", "clean": None, "stopwords": [], "tokenizer": "char", "joiner": ""}
    generation = TextGeneration(model, vocabulary, config)
    first = generation.continue_text("分开", tokens=30, seed=11)
    assert first == generation.continue_text("分开", tokens=30, seed=11)
    assert first != generation.continue_text("分开", tokens=30, seed=12)
    assert first.startswith("分开") and " " not in first and "<" not in first
    assert set(first) <= {"分", "开", "不", "爱", "\n"}
    assert len(first) == 2 + 30, "one character or line break per generated token"


SMALL_LANGUAGE_MODEL = {
    "task": "language_model",
    "dataset": {"demo": {"train_size": 600, "test_size": 200}},
    "embed": {"method": "none"},
    "language_model": {"embedding_dim": 32, "hidden_size": 32, "num_layers": 1, "bptt": 20},
    "train": {"epochs": 3, "batch_size": 16, "learning_rate": 0.01},
}


@pytest.fixture(scope="module")
def language_model_project(tmp_path_factory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("language-model") / "project", SMALL_LANGUAGE_MODEL)
    run(["dvc", "repro"], project, env=tool_env({"MLFLOW_TRACKING_URI": ""}))
    return project


@pytest.mark.slow
def test_the_pipeline_trains_a_language_model_and_its_champion_generates_reproducibly(language_model_project):
    project = language_model_project
    vocab_size = json.loads((project / "reports/tokenize.json").read_text())["vocab_size"]
    metrics = json.loads((project / "reports/metrics.json").read_text())
    # the demo is word salad from topic lists, so even a good model stays far above 1; it must beat uniform
    assert metrics["test"]["perplexity"] < vocab_size / 2
    curve = [float(line.split(",")[5]) for line in (project / "reports/train_history.csv").read_text().splitlines()[1:]]
    assert curve == sorted(curve, reverse=True), f"validation perplexity falls every epoch: {curve}"
    objective = json.loads((project / "reports/train.json").read_text())["objective"]
    assert objective == objective | {"metric": "valid_perplexity", "higher_is_better": False}
    register = json.loads((project / "reports/register.json").read_text())
    assert register["alias"] == "champion" and "validation_perplexity" in register
    samples = (project / "reports/evaluation/samples.txt").read_text()
    assert samples.startswith("the")
    import mlflow

    card = (
        mlflow.MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
        .get_model_version(register["name"], str(register["version"]))
        .description
    )
    assert f"| perplexity | {metrics['valid']['perplexity']:.4f} | {metrics['test']['perplexity']:.4f} |" in card
    assert f"> {samples.split(chr(10) * 2)[0].strip()}" in card, "the card quotes the samples"
    assert "run artifact `data_docs/index.html`" in card, "an unlabelled corpus has its Data Docs too"
    run(["dvc", "plots", "show", "-o", str(project / "plots-html")], project)

    def generate(seed: int) -> str:  # a fresh process each time, from the registered champion
        command = [
            sys.executable,
            "-m",
            "pipelines.serving.generate",
            "--prefix",
            "the",
            "--tokens",
            "12",
            "--seed",
            str(seed),
        ]
        return run(command, project, env=tool_env({"MLFLOW_TRACKING_URI": ""})).stdout

    first = generate(4)
    assert first == generate(4) and first != generate(5)
    assert first.startswith("the ") and len(first.split()) >= 5


@pytest.mark.slow
@pytest.mark.parametrize(("dataset", "unit", "created"), [("jaychou", "char", ["test", "valid"]), ("ptb", "word", [])])
def test_the_registry_corpora_become_token_streams(tmp_path, mirror, dataset, unit, created):
    project = copy_project(tmp_path / "project", {"task": "language_model", "dataset": {"name": dataset}})
    run(["dvc", "repro", "tokenize"], project, env=tool_env({"TEXTFLOW_MIRROR": str(mirror)}))
    validation = json.loads((project / "reports/validation.json").read_text())
    assert validation["success"] and validation["created_splits"] == created
    vocabulary = Vocabulary.load(project / "data/tokens/vocab.json")
    train = EncodedSplit.load(project / "data/tokens/train.npz")
    text = "".join(vocabulary.decode(train.ids[:200]))
    if unit == "char":
        assert all(len(token) == 1 for token in vocabulary.tokens[4:]), "characters, not words"
        assert text.startswith("想要有直升机<eos>想要和你飞到宇宙去<eos>")
    else:
        # Mikolov's 10k vocabulary: 9,999 word types (its <unk> is ours) and <eos>; we add <pad> and <bos>
        assert len(vocabulary) == 10_002
        assert train.ids.size == 929_589, "887,521 words and one <eos> for each of the 42,068 sentences"


@pytest.mark.slow
def test_a_killed_language_model_training_resumes_to_the_same_bytes(language_model_project, tmp_path):
    """Through the train stage itself: every output it writes (model, metrics, the curves for dvc plots) has the
    bytes of an uninterrupted run, which holds only if no wall-clock value (tokens per second) is in them."""
    project = language_model_project
    params = tmp_path / "params.yaml"
    write_params(tmp_path, merge(SMALL_LANGUAGE_MODEL, {"train": {"epochs": 4}}))
    params.write_text(params.read_text().replace("enabled: true", "enabled: false"))
    uninterrupted, resumed = tmp_path / "uninterrupted", tmp_path / "resumed"
    run(standalone_command(ROOT, params, uninterrupted), project)
    kill_on_output(standalone_command(ROOT, params, resumed), project, tool_env(), "epoch 2/4")
    assert not (resumed / "model.pt").exists(), "killed before it could finish"
    result = run(standalone_command(ROOT, params, resumed), project)
    assert "resumed from checkpoint" in result.stderr
    assert "tokens_per_second" not in (uninterrupted / "history.csv").read_text()
    for name in ("model.pt", "history.csv", "train.json"):
        assert (resumed / name).read_bytes() == (uninterrupted / name).read_bytes(), f"{name} differs after resuming"
