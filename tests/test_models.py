import numpy as np
import pytest
import torch

from pipelines.config import CharCNNParams, ModelParams, RecurrentParams, TextCNNParams
from pipelines.models import build_model
from pipelines.models.saved import load_model, save_model

VOCAB, CLASSES = 50, 3


MODELS = [
    ModelParams(type="fasttext", embedding_dim=16),
    ModelParams(type="textcnn", embedding_dim=16),
    ModelParams(type="bigru", embedding_dim=16),
    ModelParams(type="bilstm", embedding_dim=16, rnn=RecurrentParams(hidden_size=8, pooling="attention")),
    ModelParams(type="charcnn", charcnn=CharCNNParams(num_features=128, hidden_size=32)),
]


@pytest.mark.parametrize("params", MODELS, ids=lambda params: f"{params.type}-{params.rnn.pooling}")
def test_models_give_one_logit_row_per_text_ignore_padding_and_learn(params):
    torch.manual_seed(0)
    model = build_model(params, VOCAB, CLASSES).eval()
    ids = torch.tensor([[5, 6, 7, 8, 9, 0], [10, 11, 12, 13, 14, 15]])
    logits = model(ids)
    assert logits.shape == (2, CLASSES)
    padded = torch.cat([ids, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    if params.type not in ("textcnn", "charcnn"):  # max-over-time of a convolution may see zero-padding windows
        assert torch.allclose(model(padded), logits, atol=1e-5)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    labels = torch.tensor([0, 2])
    for _ in range(30):  # two texts, two labels: every model must be able to memorise them
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(ids), labels).backward()
        optimizer.step()
    assert torch.equal(model.eval()(ids).argmax(dim=1), labels)


def test_multichannel_tunes_one_copy_of_the_vectors_and_keeps_the_other():
    vectors = np.random.default_rng(0).normal(size=(VOCAB, 8)).astype(np.float32)
    model = build_model(ModelParams(type="textcnn", embedding_dim=8, embedding_init="multichannel"), VOCAB, 3, vectors)
    ids = torch.tensor([[4, 5, 6, 7, 8]])
    torch.optim.SGD(model.parameters(), lr=1.0).zero_grad()
    model(ids).sum().backward()
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0).step()
    assert torch.equal(model.embedding.static.weight[1:], torch.from_numpy(vectors[1:]))
    assert not torch.equal(model.embedding.tuned.weight[4:9], torch.from_numpy(vectors[4:9]))


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
    params = ModelParams(type="bigru", embedding_dim=8, embedding_init="multichannel")
    model = build_model(params, VOCAB, CLASSES, vectors).eval()
    extra = {"vocab_size": VOCAB, "num_classes": CLASSES, "class_names": ["a", "b", "c"]}
    save_model(tmp_path / "model.pt", model, "classification", params, extra)
    loaded, record = load_model(tmp_path / "model.pt")
    ids = torch.tensor([[4, 5, 6]])
    assert torch.equal(loaded(ids), model(ids))
    assert record["class_names"] == ["a", "b", "c"]


def test_a_saved_language_model_reloads_as_its_task_and_predicts_the_same(tmp_path):
    from pipelines.config import LanguageModelParams
    from pipelines.models.language_model import build_language_model

    params = LanguageModelParams(cell="lstm", embedding_dim=8, hidden_size=8, num_layers=2, tied=True)
    model = build_language_model(params, VOCAB).eval()
    save_model(tmp_path / "lm.pt", model, "language_model", params, {"vocab_size": VOCAB})
    loaded, record = load_model(tmp_path / "lm.pt")
    ids = torch.tensor([[4, 5, 6]])
    assert record["task"] == "language_model"
    assert torch.equal(loaded(ids)[0], model(ids)[0])
    assert loaded.decoder.weight is loaded.embedding.weight, "tied weights stay tied after loading"
