"""Seed ensembles: weights chosen on validation, one model that averages its members, and the train stage's
ensemble going the whole way (evaluate, register, serve) with every member resumable."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pipelines.config import FastTextParams, ModelParams, TrainParams
from pipelines.models import build_model
from pipelines.models.ensemble import EnsembleClassifier, choose_weights, served_classifier, wraps_members
from pipelines.models.saved import load_model, save_model
from pipelines.text.sequences import EncodedSplit
from pipelines.training.checkpoint_mirror import CheckpointMirror, member_name
from tests.conftest import clone_project, run, served_test_accuracy_matches_evaluate, tool_env


def _one_hot(predictions: list[int], classes: int = 2) -> np.ndarray:
    confident = np.full((len(predictions), classes), 0.1 / (classes - 1))
    confident[np.arange(len(predictions)), predictions] = 0.9
    return confident


def test_weights_drop_a_member_that_only_hurts_on_validation():
    labels = np.array([0, 1, 0, 1, 0, 1])
    good = _one_hot([0, 1, 0, 1, 0, 0])
    also_good = _one_hot([0, 1, 0, 1, 1, 1])
    wrong = _one_hot([1, 0, 1, 0, 1, 0])
    weights = choose_weights([good, wrong, also_good], labels)
    assert weights[1] == 0.0 and weights.sum() == pytest.approx(1.0)
    mixed = sum(w * p for w, p in zip(weights, [good, wrong, also_good], strict=True))
    best_member = max(float((p.argmax(1) == labels).mean()) for p in (good, wrong, also_good))
    assert float((mixed.argmax(1) == labels).mean()) >= best_member


def test_the_output_is_the_weighted_mean_probability_and_a_tie_keeps_fewer_members():
    torch.manual_seed(0)
    members = [torch.nn.Sequential(torch.nn.Embedding(10, 3), torch.nn.Flatten()) for _ in range(2)]
    ensemble = EnsembleClassifier(members, [0.25, 0.75])
    ids = torch.tensor([[4], [7]])
    expected = 0.25 * torch.softmax(members[0](ids), 1) + 0.75 * torch.softmax(members[1](ids), 1)
    assert torch.allclose(torch.softmax(ensemble(ids), 1), expected, atol=1e-6)
    same = _one_hot([0, 1, 1])
    assert choose_weights([same, same.copy()], np.array([0, 1, 1])).tolist() == [1.0, 0.0]


MEMBER_PARAMS = ModelParams(type="fasttext", embedding_dim=4, dropout=0.0, fasttext=FastTextParams(bigram_buckets=0))


def _biased_member() -> torch.nn.Module:
    """A classifier that leans to class 1 (of three), the way a model trained on neutral-heavy phrases leans
    to neutral on sentences."""
    member = build_model(MEMBER_PARAMS, 12, 3).eval()
    with torch.no_grad():
        member.output.bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
    return member


def test_label_prior_valid_shifts_probabilities_to_the_validation_class_frequencies(tmp_path):
    """Bayes' rule for a new class prior: softmax of the output is p(c) * valid_freq(c) / train_freq(c),
    renormalised; the shift comes from label counts (one added to each), and the shifted model is what is
    saved, reloaded and scored."""
    torch.manual_seed(0)
    member = _biased_member()
    train = EncodedSplit.from_lists([[1 + i % 10] for i in range(60)], [1] * 40 + [0] * 10 + [2] * 10)
    valid = EncodedSplit.from_lists([[1 + i] for i in range(9)], [0, 0, 0, 1, 1, 1, 2, 2, 2])
    params = TrainParams(label_prior="valid")
    assert wraps_members(params) and not wraps_members(TrainParams())

    model, report = served_classifier([member], train, valid, params, torch.device("cpu"))
    expected_shift = np.log(np.array([4.0, 4.0, 4.0]) / 12) - np.log(np.array([11.0, 41.0, 11.0]) / 63)
    assert np.allclose(report["log_prior_shift"], expected_shift, atol=1e-6)
    ids = torch.arange(1, 10).unsqueeze(1)
    reweighted = torch.softmax(member(ids), 1) * torch.tensor(np.exp(expected_shift), dtype=torch.float32)
    assert torch.allclose(torch.softmax(model(ids), 1), reweighted / reweighted.sum(1, keepdim=True), atol=1e-5)
    assert (member(ids).argmax(1) == 1).all() and not (model(ids).argmax(1) == 1).all()
    assert report["valid_accuracy"] == pytest.approx(float((model(ids).argmax(1).numpy() == valid.labels).mean()))

    extra = {"vocab_size": 12, "num_classes": 3, "class_names": ["a", "b", "c"], "ensemble_size": 1}
    save_model(tmp_path / "model.pt", model, "classification", MEMBER_PARAMS, extra)
    loaded, _ = load_model(tmp_path / "model.pt")
    assert torch.allclose(loaded(ids), model(ids))

    served, unchanged = served_classifier([member], train, valid, TrainParams(), torch.device("cpu"))
    assert served is member and unchanged == {}


def _leaning_member(labels: list[int]) -> torch.nn.Module:
    """Token ``i + 1`` scores 0.5 for ``labels[i]`` on top of a lean of 1.0 to class 1: unshifted, it always
    says class 1; shifted away from class 1 by more than 0.5, it always says the token's label."""
    member = torch.nn.Sequential(torch.nn.Embedding(len(labels) + 1, 3), torch.nn.Flatten())
    with torch.no_grad():
        member[0].weight.copy_(torch.tensor([[0.0, 1.0, 0.0]] * (len(labels) + 1)))
        for token, label in enumerate(labels, start=1):
            member[0].weight[token, label] += 0.5
    return member.eval()


def test_label_prior_auto_serves_the_shift_only_where_it_scores_higher_on_validation():
    """On sentences whose classes are balanced, a model trained where class 1 is 63% leans to it: the shift
    takes validation accuracy from 3/9 to 9/9, so auto serves it. Where validation is all class 1 the shift
    gains nothing (9/9 either way) and the tie serves the model unshifted."""
    train = EncodedSplit.from_lists([[1]] * 63, [1] * 41 + [0] * 11 + [2] * 11)
    balanced = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    valid = EncodedSplit.from_lists([[token] for token in range(1, 10)], balanced)
    member = _leaning_member(balanced)
    assert wraps_members(TrainParams(label_prior="auto"))

    model, report = served_classifier([member], train, valid, TrainParams(label_prior="auto"), torch.device("cpu"))
    assert report["label_prior"] == "valid"
    assert report["valid_accuracy_by_label_prior"] == pytest.approx({"train": 3 / 9, "valid": 1.0})
    ids = torch.arange(1, 10).unsqueeze(1)
    assert model(ids).argmax(1).tolist() == balanced and (member(ids).argmax(1) == 1).all()
    shifted, _ = served_classifier([member], train, valid, TrainParams(label_prior="valid"), torch.device("cpu"))
    assert torch.allclose(model(ids), shifted(ids))

    ones = EncodedSplit.from_lists([[token] for token in range(1, 10)], [1] * 9)
    model, report = served_classifier(
        [_leaning_member([1] * 9)], train, ones, TrainParams(label_prior="auto"), torch.device("cpu")
    )
    assert report["label_prior"] == "train" and report["valid_accuracy_by_label_prior"] == {"train": 1.0, "valid": 1.0}
    assert len(model.log_prior_shift) == 0


def test_an_ensemble_saved_before_the_prior_shift_existed_still_loads():
    torch.manual_seed(0)
    members = [_biased_member() for _ in range(2)]
    old_state = {key: value for key, value in EnsembleClassifier(members).state_dict().items() if "prior" not in key}
    loaded = EnsembleClassifier([_biased_member() for _ in range(2)])
    loaded.load_state_dict(old_state)
    ids = torch.tensor([[3], [5]])
    assert torch.allclose(loaded(ids), EnsembleClassifier(members)(ids))


@pytest.mark.slow
def test_a_seed_ensemble_trains_registers_serves_and_resumes_every_member(reproduced_project, tmp_path):
    """``train.ensemble_size: 3`` through the pipeline: three members with seeds 42-44, weights chosen on
    validation (the ensemble's validation accuracy is at least its best member's), one registered model the
    raw-text pyfunc serves with the evaluate stage's accuracy to the example; retraining after the model file
    is lost resumes all three members from their checkpoints and writes the same bytes."""
    project = clone_project(reproduced_project, tmp_path / "project")
    env = tool_env({"MLFLOW_TRACKING_URI": ""})
    run(
        ["dvc", "exp", "run", "-S", "train.ensemble_size=3", "-S", "register.model_name=demo-ensemble"],
        project,
        env=env,
    )
    trained = json.loads((project / "reports/train.json").read_text())
    ensemble = trained["ensemble"]
    assert len(ensemble["weights"]) == 3 and sum(ensemble["weights"]) == pytest.approx(1.0, abs=1e-5)
    assert ensemble["valid_accuracy"] >= max(ensemble["member_valid_accuracy"])
    assert sorted(p.name for p in (project / "models").glob("checkpoint*.pt")) == [
        "checkpoint.member1.pt",
        "checkpoint.member2.pt",
        "checkpoint.pt",
    ]

    served_test_accuracy_matches_evaluate(project, "demo-ensemble")

    first = (project / "models/model.pt").read_bytes()
    (project / "models/model.pt").unlink()
    again = run(["dvc", "repro", "--force", "--single-item", "train"], project, env=env)
    assert again.stderr.count("resumed from checkpoint") + again.stdout.count("resumed from checkpoint") == 3
    assert (project / "models/model.pt").read_bytes() == first


def test_each_member_mirrors_its_checkpoint_to_its_own_url():
    url = "s3://bucket/checkpoints/run-1/checkpoint.pt"
    assert CheckpointMirror(url).for_member(0).url == url
    assert CheckpointMirror(url).for_member(2).url == "s3://bucket/checkpoints/run-1/checkpoint.member2.pt"
    assert member_name("models/checkpoint.pt", 1) == "models/checkpoint.member1.pt"
    assert CheckpointMirror(None).for_member(1).url is None


@pytest.mark.parametrize("scheme", ["", "file://"])
def test_a_directory_mirror_creates_the_runs_folder_and_a_fresh_workspace_restores_from_it(tmp_path, scheme):
    """A DVC remote on a shared disk: the first upload of a DAG run creates its folder, and a retry in another
    workspace starts from the uploaded checkpoint."""
    url = f"{scheme}{tmp_path}/remote/checkpoints/run-1/checkpoint.pt"
    written = tmp_path / "first-worker" / "models" / "checkpoint.pt"
    written.parent.mkdir(parents=True)
    written.write_bytes(b"epoch 3 of 10")
    mirror = CheckpointMirror(url)
    mirror.upload(written)
    assert mirror.close(timeout=60)
    restored = tmp_path / "second-worker" / "models" / "checkpoint.pt"
    CheckpointMirror(url).restore(restored)
    assert restored.read_bytes() == b"epoch 3 of 10"
