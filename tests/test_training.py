"""Batching and the training loop, in-process on small generated data."""

from pathlib import Path

import numpy as np
import pytest
import torch

from pipelines.config import ModelParams, TrainParams
from pipelines.models import build_model
from pipelines.text.sequences import EncodedSplit
from pipelines.text.vocab import PAD_ID
from pipelines.training.batches import batch_rows, pad_batch
from pipelines.training.loop import predict_probabilities, train_model

CPU = torch.device("cpu")


def _split(rows=300, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 60, size=rows)
    labels = rng.integers(0, 2, size=rows)
    sequences = [
        (rng.integers(4, 40, size=length) + 20 * label).tolist() for length, label in zip(lengths, labels, strict=True)
    ]
    return EncodedSplit.from_lists(sequences, labels.tolist())


def test_length_buckets_cover_every_row_once_reproducibly_and_cut_padding():
    lengths = _split(2000).lengths
    epoch = batch_rows(lengths, 20, shuffle=True, seed=3, epoch=1)
    assert sorted(np.concatenate(epoch).tolist()) == list(range(2000))
    again = batch_rows(lengths, 20, shuffle=True, seed=3, epoch=1)
    assert all(np.array_equal(a, b) for a, b in zip(epoch, again, strict=True))
    assert not np.array_equal(
        np.concatenate(epoch), np.concatenate(batch_rows(lengths, 20, shuffle=True, seed=3, epoch=2))
    )

    def padding(batches):
        return sum(int(lengths[rows].max()) * len(rows) - int(lengths[rows].sum()) for rows in batches)

    plain = batch_rows(lengths, 20, shuffle=True, seed=3, epoch=1, length_buckets=False)
    assert padding(epoch) < padding(plain) / 5


def test_a_padded_batch_holds_each_row_then_padding():
    split = EncodedSplit.from_lists([[5, 6, 7], [], [8], [9, 10]], [0, 1, 0, 1])
    assert pad_batch(split, np.array([3, 0, 1])).tolist() == [[9, 10, PAD_ID], [5, 6, 7], [PAD_ID] * 3]
    assert pad_batch(split, np.array([2]), min_length=3).tolist() == [[8, PAD_ID, PAD_ID]]
    empty = EncodedSplit.from_lists([[], []], [0, 1])
    assert pad_batch(empty, np.array([1, 0]), min_length=2).tolist() == [[PAD_ID, PAD_ID]] * 2
    generated = _split(500)
    rows = np.random.default_rng(1).permutation(500)[:64]
    batch = pad_batch(generated, rows).numpy()
    for position, row in enumerate(rows):
        sequence = generated.sequence(row)
        assert batch[position, : len(sequence)].tolist() == sequence.tolist()
        assert (batch[position, len(sequence) :] == PAD_ID).all()
    assert batch.shape[1] == generated.lengths[rows].max() and batch.dtype == np.int64


def test_predictions_come_back_in_row_order():
    split = _split(57)
    torch.manual_seed(0)
    model = build_model(ModelParams(type="bigru", embedding_dim=8), 80, 2)
    together = predict_probabilities(model, split, 16, CPU)
    one_by_one = np.concatenate([predict_probabilities(model, _subset(split, [row]), 1, CPU) for row in range(57)])
    assert np.allclose(together, one_by_one, atol=1e-5)


def _subset(split, rows):
    return EncodedSplit.from_lists([split.sequence(row).tolist() for row in rows], split.labels[rows].tolist())


def test_training_returns_the_weights_of_its_best_validation_epoch_not_its_last():
    train, valid = _split(200, seed=1), _split(60, seed=2)
    params = TrainParams(epochs=8, batch_size=16, learning_rate=1.0, optimizer="sgd", momentum=0.0, patience=8)
    torch.manual_seed(3)
    model = build_model(ModelParams(type="fasttext", embedding_dim=8, dropout=0.0), 80, 2)
    after_epoch = {}

    def on_epoch(row):
        after_epoch[row["epoch"]] = {name: tensor.clone() for name, tensor in model.state_dict().items()}

    result = train_model(model, train, valid, params, seed=3, device=CPU, on_epoch=on_epoch)
    scores = [row["valid_accuracy"] for row in result.history]
    assert result.best_epoch == 1 + scores.index(max(scores)) and len(after_epoch) == 8
    assert 2 <= result.best_epoch < 8, "this setting must improve after epoch 1 and peak before the end"
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, after_epoch[result.best_epoch][name]), name
    assert not torch.equal(model.output.weight, after_epoch[8]["output.weight"])


class Interrupted(Exception):
    pass


RESUMED_SETTINGS = {
    "cosine": TrainParams(lr_schedule="cosine", learning_rate=0.01),
    "linear": TrainParams(lr_schedule="linear", learning_rate=0.01),
    # L-BFGS carries its curvature pairs, last step and loss from one epoch's iterations to the next
    "lbfgs": TrainParams(optimizer="lbfgs", learning_rate=1.0, weight_decay=0.001),
}


@pytest.mark.parametrize("setting", RESUMED_SETTINGS)
def test_a_run_interrupted_and_resumed_ends_with_the_uninterrupted_weights(tmp_path, setting):
    train, valid = _split(200, seed=1), _split(60, seed=2)
    params = RESUMED_SETTINGS[setting].model_copy(update={"epochs": 4, "batch_size": 16, "patience": 10})
    dropout = 0.0 if params.optimizer == "lbfgs" else 0.5

    def run(checkpoint, stop_after=None):
        torch.manual_seed(7)
        model = build_model(ModelParams(type="textcnn", embedding_dim=8, dropout=dropout), 80, 2)

        def on_epoch(row):
            if row["epoch"] == stop_after:
                raise Interrupted

        result = train_model(
            model, train, valid, params, seed=7, device=CPU, checkpoint_path=checkpoint, on_epoch=on_epoch
        )
        return model, result

    uninterrupted, expected = run(None)
    with pytest.raises(Interrupted):
        run(tmp_path / "checkpoint.pt", stop_after=2)
    resumed, result = run(tmp_path / "checkpoint.pt")
    # the interruption came while epoch 2 was being reported: its checkpoint was already written
    assert result.resumed_from_epoch == 2
    assert result.history == expected.history, "the curves hold no wall-clock value, so they are equal exactly"
    for name, tensor in uninterrupted.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    assert expected.history[-1]["valid_accuracy"] > 0.9
    assert expected.history[2]["train_loss"] != expected.history[3]["train_loss"], "still learning after the resume"


def test_thread_share_divides_the_usable_cores_among_the_trainings_that_share_them():
    from pipelines.training.device import thread_share

    assert thread_share(0, cores=2, trainings=1) == 2
    assert thread_share(0, cores=2, trainings=2) == 1
    assert thread_share(0, cores=16, trainings=3) == 5
    assert thread_share(0, cores=2, trainings=4) == 1, "never zero threads"
    assert thread_share(3, cores=2, trainings=2) == 3, "an explicit train.num_threads wins"


def test_usable_cores_follow_affinity_and_the_cgroup_quota_not_the_machine(tmp_path):
    import os

    from pipelines.common.parallel import usable_cores

    affinity = len(os.sched_getaffinity(0))
    unlimited, quota = tmp_path / "unlimited", tmp_path / "quota"
    unlimited.write_text("max 100000\n")
    quota.write_text("100000 100000\n")
    assert usable_cores(unlimited) == affinity
    assert usable_cores(quota) == 1
    assert usable_cores(tmp_path / "absent") == affinity


def test_a_checkpoint_from_another_device_or_precision_is_not_resumed(tmp_path):
    """A CPU checkpoint has no GradScaler state for a CUDA mixed-precision run: the fingerprint differs, so
    the retry starts fresh instead of crashing on every try."""
    from pipelines.training.fingerprint import fingerprint

    data = tmp_path / "data.bin"
    data.write_bytes(b"inputs")
    cpu = fingerprint([data], {"train": {}, "device": "cpu", "mixed_precision": False})
    cuda = fingerprint([data], {"train": {}, "device": "cuda", "mixed_precision": True})
    assert cpu != cuda

    train, valid = _split(120, seed=1), _split(40, seed=2)
    params = TrainParams(epochs=2, batch_size=16, learning_rate=0.01)
    checkpoint = tmp_path / "checkpoint.pt"
    torch.manual_seed(0)
    model = build_model(ModelParams(type="fasttext", embedding_dim=8), 64, 2, None)
    train_model(model, train, valid, params, seed=0, device=CPU, checkpoint_path=checkpoint, fingerprint=cpu)
    model = build_model(ModelParams(type="fasttext", embedding_dim=8), 64, 2, None)
    result = train_model(model, train, valid, params, seed=0, device=CPU, checkpoint_path=checkpoint, fingerprint=cuda)
    assert result.resumed_from_epoch == 0 and len(result.history) == 2


def test_the_checkpoint_fingerprint_covers_exactly_what_dvc_retrains_for(tmp_path):
    """A checkpoint is resumed only by the training DVC would consider the same: every train dep of dvc.yaml
    (code such as pipelines/tasks included, read from dvc.yaml) and every declared param change it, while a
    param train does not declare, or a performance-only one, does not."""
    import shutil

    from pipelines.config import load_params
    from pipelines.config.pipeline import load_stages
    from pipelines.training.fingerprint import train_fingerprint
    from tests.conftest import ROOT

    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    deps = load_stages(tmp_path / "dvc.yaml")["train"].deps
    for dep in deps:
        source = ROOT / dep
        if source.is_dir() and dep.startswith("pipelines/"):
            shutil.copytree(source, tmp_path / dep, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file() and dep.startswith("pipelines/"):
            (tmp_path / dep).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, tmp_path / dep)
        else:  # data: a directory (no suffix) with one file, or one file
            target = tmp_path / dep / "part.bin" if not Path(dep).suffix else tmp_path / dep
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"data of " + dep.encode())
    params = load_params(ROOT / "params.yaml")

    def current(settings=params) -> str:
        return train_fingerprint(settings, "cpu", False, tmp_path / "dvc.yaml")

    base = current()
    assert any(dep == "pipelines/tasks" for dep in deps), "the review's example: task code trains"
    for dep in deps:
        path = tmp_path / dep
        changed = next(item for item in sorted(path.rglob("*")) if item.is_file()) if path.is_dir() else path
        original = changed.read_bytes()
        changed.write_bytes(original + b"\n# edited\n")
        assert current() != base, f"an edit of {changed.relative_to(tmp_path)} must start training afresh"
        changed.write_bytes(original)
    assert current() == base

    def with_override(key, value):
        return load_params(ROOT / "params.yaml", {key: value})

    assert current(with_override("train.epochs", 3)) != base
    assert current(with_override("tokenize.method", "char")) != base, "train declares tokenize.method"
    assert current(with_override("train.num_threads", 1)) == base, "performance only"
    assert current(with_override("keywords.top_k", 3)) == base, "train does not read keywords"
    assert train_fingerprint(params, "cuda", True, tmp_path / "dvc.yaml") != base


FAKE_NVIDIA_SMI = """#!/bin/sh
echo "GPU 0: NVIDIA H200 (UUID: GPU-aaaaaaaa-0000)"
echo "GPU 1: NVIDIA H200 (UUID: GPU-bbbbbbbb-1111)"
"""


def fake_gpu_machine(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``nvidia-smi`` lists two GPUs, with a fresh lock directory."""
    import os

    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "nvidia-smi").write_text(FAKE_NVIDIA_SMI)
    (tools / "nvidia-smi").chmod(0o755)
    environment = {key: value for key, value in os.environ.items() if key != "CUDA_VISIBLE_DEVICES"}
    return environment | {
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "TEXTFLOW_GPU_LOCKS": str(tmp_path / "locks"),
    }


def test_each_training_claims_its_own_gpu_and_a_third_waits_for_one(tmp_path):
    import subprocess
    import sys
    import time

    script = (
        "import logging, os, sys, time; logging.basicConfig(level=logging.INFO, stream=sys.stderr);"
        "from pipelines.training.gpus import claim_gpu; gpu = claim_gpu(poll=0.2);"
        "print('GPU', gpu, os.environ['CUDA_VISIBLE_DEVICES'], flush=True); time.sleep(float(sys.argv[1]))"
    )
    environment = fake_gpu_machine(tmp_path)
    first, second = (
        subprocess.Popen([sys.executable, "-c", script, "4"], env=environment, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    )
    lines = [first.stdout.readline(), second.stdout.readline()]  # each prints once it holds a GPU
    third = subprocess.Popen(
        [sys.executable, "-c", script, "0"], env=environment, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    began = time.monotonic()
    third_output = "".join(third.communicate(timeout=60))
    for process in (first, second):
        process.communicate(timeout=60)
    claimed = sorted(line.split()[1] for line in lines if line.startswith("GPU "))
    assert claimed == ["GPU-aaaaaaaa-0000", "GPU-bbbbbbbb-1111"], lines
    assert all(line.split()[1] == line.split()[2] for line in lines), "CUDA sees only the claimed GPU"
    assert "all 2 GPUs are claimed by other trainings; waiting" in third_output
    assert time.monotonic() - began > 2, "the third training started only once a GPU was free"
