"""Batching and the training loop, in-process on small generated data."""

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


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_a_run_interrupted_and_resumed_ends_with_the_uninterrupted_weights(tmp_path, schedule):
    train, valid = _split(200, seed=1), _split(60, seed=2)
    params = TrainParams(epochs=4, batch_size=16, learning_rate=0.01, lr_schedule=schedule, patience=10)

    def run(checkpoint, stop_after=None):
        torch.manual_seed(7)
        model = build_model(ModelParams(type="textcnn", embedding_dim=8, dropout=0.5), 80, 2)

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
    assert result.resumed_from_epoch == 1  # epoch 2 was interrupted before its checkpoint was written

    def curves(history):
        return [{key: value for key, value in row.items() if key != "seconds"} for row in history]

    assert curves(result.history) == curves(expected.history)
    for name, tensor in uninterrupted.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    assert expected.history[-1]["valid_accuracy"] > 0.9


def test_thread_share_divides_the_usable_cores_among_the_trainings_that_share_them():
    from pipelines.training.device import thread_share

    assert thread_share(0, cores=2, trainings=1) == 2
    assert thread_share(0, cores=2, trainings=2) == 1
    assert thread_share(0, cores=16, trainings=3) == 5
    assert thread_share(0, cores=2, trainings=4) == 1, "never zero threads"
    assert thread_share(3, cores=2, trainings=2) == 3, "an explicit train.num_threads wins"


def test_usable_cores_follow_affinity_and_the_cgroup_quota_not_the_machine(tmp_path):
    import os

    from pipelines.training.device import usable_cores

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
    from pipelines.stages.train import fingerprint

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
