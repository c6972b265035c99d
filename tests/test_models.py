import numpy as np
import pytest
import torch

from pipelines.config import ModelParams, TextCNNParams
from pipelines.models import build_model
from pipelines.models.saved import load_model, save_model

VOCAB, CLASSES = 50, 3


@pytest.mark.parametrize("model_type", ["fasttext", "textcnn", "bigru"])
def test_models_give_one_logit_row_per_text_and_ignore_padding(model_type):
    torch.manual_seed(0)
    model = build_model(ModelParams(type=model_type, embedding_dim=16), VOCAB, CLASSES).eval()
    ids = torch.tensor([[5, 6, 7, 8, 9, 0], [10, 11, 12, 13, 14, 15]])
    logits = model(ids)
    assert logits.shape == (2, CLASSES)
    padded = torch.cat([ids, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    if model_type != "textcnn":  # max-over-time of a convolution may pick up zero-padding windows
        assert torch.allclose(model(padded), logits, atol=1e-5)


def test_textcnn_max_norm_constrains_output_rows():
    model = build_model(
        ModelParams(type="textcnn", embedding_dim=8, textcnn=TextCNNParams(max_norm=0.5)), VOCAB, CLASSES
    )
    with torch.no_grad():
        model.output.weight.mul_(100)
    model.apply_constraints()
    assert model.output.weight.norm(dim=1).max() <= 0.5 + 1e-5


@pytest.mark.parametrize(("init", "trainable"), [("static", False), ("non-static", True)])
def test_pretrained_embeddings_are_copied_and_frozen_only_when_static(init, trainable):
    vectors = np.random.default_rng(0).normal(size=(VOCAB, 8)).astype(np.float32)
    model = build_model(ModelParams(type="textcnn", embedding_dim=8, embedding_init=init), VOCAB, CLASSES, vectors)
    assert torch.allclose(model.embedding.weight[1:], torch.from_numpy(vectors[1:]))
    assert torch.all(model.embedding.weight[0] == 0)
    assert model.embedding.weight.requires_grad is trainable


def test_saved_model_reloads_without_embedding_matrix(tmp_path):
    vectors = np.ones((VOCAB, 8), dtype=np.float32)
    params = ModelParams(type="bigru", embedding_dim=8, embedding_init="static")
    model = build_model(params, VOCAB, CLASSES, vectors).eval()
    save_model(tmp_path / "model.pt", model, params, VOCAB, CLASSES, {"class_names": ["a", "b", "c"]})
    loaded, record = load_model(tmp_path / "model.pt")
    ids = torch.tensor([[4, 5, 6]])
    assert torch.equal(loaded(ids), model(ids))
    assert record["class_names"] == ["a", "b", "c"]
