import numpy as np
import pytest
import torch

from pipelines.config import (
    CharCNNParams,
    FastTextParams,
    ModelParams,
    NBNgramsParams,
    RecurrentParams,
    TextCNNParams,
    TfidfLinearParams,
    TrainParams,
)
from pipelines.models import build_model, fit_to_training_split
from pipelines.models.nb_ngrams import NBWeightedNgrams
from pipelines.models.saved import load_model, save_model
from pipelines.text.sequences import EncodedSplit
from pipelines.training.lazy_adam import LazyAdam, clip_gradient_norm
from pipelines.training.loop import make_optimizer, predict_probabilities, train_model

VOCAB, CLASSES = 50, 3


MODELS = [
    ModelParams(type="fasttext", embedding_dim=16),
    ModelParams(type="fasttext", embedding_dim=16, fasttext=FastTextParams(initialization="fasttext")),
    ModelParams(type="textcnn", embedding_dim=16),
    ModelParams(type="bigru", embedding_dim=16),
    ModelParams(type="bilstm", embedding_dim=16, rnn=RecurrentParams(hidden_size=8, pooling="attention")),
    ModelParams(type="charcnn", charcnn=CharCNNParams(num_features=128, hidden_size=32)),
]


@pytest.mark.parametrize(
    "params", MODELS, ids=lambda params: f"{params.type}-{params.rnn.pooling}-{params.fasttext.initialization}"
)
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
    optimizer = make_optimizer(model, TrainParams(learning_rate=0.01))
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


NB_PARAMS = ModelParams(type="nb_ngrams", dropout=0.0, nb_ngrams=NBNgramsParams(buckets=1000))


def _nb_model(train: EncodedSplit) -> NBWeightedNgrams:
    model = build_model(NB_PARAMS, VOCAB, 2)
    fit_to_training_split(model, train)
    return model


def _ngram_sets(sequence: list[int], model: NBWeightedNgrams) -> set[int]:
    features = model.feature_ids(torch.tensor([sequence]))[0].tolist()
    return set(features) - {0}


def test_nb_ngrams_log_count_ratios_are_wang_and_mannings():
    """r = log((p / |p|_1) / (q / |q|_1)) with p, q the smoothed binarised counts in and outside the class,
    over the training n-grams, computed here by hand from the indicator sets."""
    texts = [[5, 6, 5, 6], [5, 7], [8, 9, 8], [8, 6]]
    labels = [1, 1, 0, 0]
    train = EncodedSplit.from_lists(texts, labels)
    model = _nb_model(train)
    sets = [_ngram_sets(text, model) for text in texts]
    assert sets[0] == {5, 6} | (sets[0] - {5, 6}) and len(sets[0]) == 4  # 5, 6, (5 6), (6 5): repeats count once
    features = sorted(set().union(*sets))
    positive = np.array([sum(f in s for s, y in zip(sets, labels, strict=True) if y == 1) for f in features]) + 1.0
    negative = np.array([sum(f in s for s, y in zip(sets, labels, strict=True) if y == 0) for f in features]) + 1.0
    expected = np.log((positive / positive.sum()) / (negative / negative.sum()))
    rows = model.table_rows(torch.tensor(features))
    assert model.seen_ngrams.tolist() == features
    assert np.allclose(model.log_count_ratio[rows, 1].numpy(), expected)
    assert np.allclose(model.log_count_ratio[rows, 0].numpy(), -expected)
    assert model.table_rows(torch.tensor([42, 0])).tolist() == [0, 0]  # unseen and padding share the zero row


def test_nb_ngrams_see_indicators_ignore_padding_learn_and_reload(tmp_path):
    texts = [[5, 6, 7], [8, 9, 10], [5, 11], [8, 12]]
    model = _nb_model(EncodedSplit.from_lists(texts, [1, 0, 1, 0]))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    ids, labels = torch.tensor([[5, 6, 7], [8, 9, 10]]), torch.tensor([1, 0])
    for _ in range(30):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(ids), labels).backward()
        optimizer.step()
    model.eval()
    assert torch.equal(model(torch.tensor([[5, 11, 0], [8, 12, 0]])).argmax(dim=1), labels)
    once, twice = model(torch.tensor([[5, 6, 0, 0]])), model(torch.tensor([[5, 6, 5, 6]]))
    assert torch.allclose(once, twice) and torch.allclose(once, model(torch.tensor([[5, 6]])))
    extra = {"vocab_size": VOCAB, "num_classes": 2, "class_names": ["neg", "pos"]}
    save_model(tmp_path / "model.pt", model, "classification", NB_PARAMS, extra)
    loaded, _ = load_model(tmp_path / "model.pt")
    assert torch.equal(loaded(ids), model(ids))


def test_nb_ngrams_with_initial_weight_one_start_as_naive_bayes():
    """Before any step, each class's logit is the sum of its log-count ratios over the text's distinct seen
    n-grams: naive Bayes's log-odds (uniform prior), so training moves from NB rather than from zero."""
    texts = [[5, 6, 7], [8, 9, 10], [5, 11], [8, 12], [6, 9]]
    params = NB_PARAMS.model_copy(update={"nb_ngrams": NB_PARAMS.nb_ngrams.model_copy(update={"initial_weight": 1.0})})
    model = build_model(params, VOCAB, 2)
    fit_to_training_split(model, EncodedSplit.from_lists(texts, [1, 0, 1, 0, 1]))
    model.eval()
    query = [5, 6, 5, 13]
    rows = model.table_rows(torch.tensor(sorted(_ngram_sets(query, model))))
    assert torch.allclose(model(torch.tensor([query]))[0], model.log_count_ratio[rows].sum(dim=0))
    assert model(torch.tensor([[5, 11], [8, 12]])).argmax(dim=1).tolist() == [1, 0]
    assert not _nb_model(EncodedSplit.from_lists(texts, [1, 0, 1, 0, 1]))(torch.tensor([query])).any()


TFIDF_PARAMS = ModelParams(type="tfidf_linear", dropout=0.0, tfidf_linear=TfidfLinearParams(buckets=0))


def test_tfidf_linear_features_are_scikit_learns_tfidf_vectors():
    """Binary term frequency, smoothed idf from the training texts, unit L2 norm, unseen words ignored: what
    ``TfidfVectorizer(binary=True)`` gives (the peer's sublinear tf is the same for words seen once)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [[5, 6, 5, 7], [5, 8], [9, 6, 7], [6, 9, 9]]
    model = build_model(TFIDF_PARAMS, VOCAB, 2)
    fit_to_training_split(model, EncodedSplit.from_lists(texts, [0, 1, 0, 1]))
    vectorizer = TfidfVectorizer(token_pattern=r"\S+", binary=True).fit([" ".join(map(str, text)) for text in texts])
    for query in ([5, 6, 7, 0], [9, 9, 8, 42]):
        features = model.feature_ids(torch.tensor([query]))[0]
        values = model.idf[model.table_rows(features), 0]
        ours = {int(f): float(v) for f, v in zip(features, values / values.norm(), strict=True) if v > 0}
        expected = vectorizer.transform([" ".join(map(str, query))]).toarray()[0]
        theirs = {int(word): expected[index] for word, index in vectorizer.vocabulary_.items() if expected[index]}
        assert ours.keys() == theirs.keys() and all(np.isclose(ours[k], theirs[k]) for k in ours), (ours, theirs)


def test_tfidf_linear_learns_with_bigrams_and_reloads_without_the_training_data(tmp_path):
    texts = [[5, 6, 7], [6, 5, 7], [5, 11], [11, 5]]
    params = TFIDF_PARAMS.model_copy(update={"tfidf_linear": TfidfLinearParams(buckets=1000)})
    model = build_model(params, VOCAB, 2)
    fit_to_training_split(model, EncodedSplit.from_lists(texts, [1, 0, 1, 0]))
    assert len(model.seen_ngrams) == 4 + 6, "the words and each distinct bigram"
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    ids, labels = torch.tensor([[5, 6, 7], [6, 5, 7], [5, 11, 0], [11, 5, 0]]), torch.tensor([1, 0, 1, 0])
    for _ in range(50):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(ids), labels).backward()
        optimizer.step()
    model.eval()
    assert torch.equal(model(ids).argmax(dim=1), labels), "word order, through the bigrams"
    extra = {"vocab_size": VOCAB, "num_classes": 2, "class_names": ["neg", "pos"]}
    save_model(tmp_path / "model.pt", model, "classification", params, extra)
    loaded, _ = load_model(tmp_path / "model.pt")
    assert torch.equal(loaded(ids), model(ids))


def test_tfidf_linear_fit_by_lbfgs_is_scikit_learns_logistic_regression():
    """``train.optimizer: lbfgs`` fits to convergence the loss scikit-learn's ``LogisticRegression`` minimises
    (mean cross-entropy plus weight decay on the weights, not the biases, ``C = 1 / (weight_decay * rows)``), so
    the two give the same probabilities on texts neither saw: the peer's fit, as a model type of ours."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    labels = rng.integers(0, CLASSES, size=240)
    texts = [(rng.integers(5, 30, size=rng.integers(2, 9)) + 6 * label).tolist() for label in labels]
    train, held_out = EncodedSplit.from_lists(texts[:160], labels[:160].tolist()), texts[160:]
    weight_decay = 0.01
    params = ModelParams(type="tfidf_linear", dropout=0.0, tfidf_linear=TfidfLinearParams(max_n=1, buckets=0))
    torch.manual_seed(0)
    model = build_model(params, VOCAB, CLASSES)
    fit_to_training_split(model, train)
    schedule = TrainParams(optimizer="lbfgs", learning_rate=1.0, weight_decay=weight_decay, epochs=10, patience=10)
    train_model(model, train, train, schedule, seed=0, device=torch.device("cpu"))

    def words(text):
        return " ".join(map(str, text))

    vectorizer = TfidfVectorizer(token_pattern=r"\S+", binary=True).fit([words(text) for text in texts[:160]])
    peer = LogisticRegression(C=1 / (weight_decay * 160), max_iter=5000, tol=1e-8)
    peer.fit(vectorizer.transform([words(text) for text in texts[:160]]), labels[:160])
    theirs = peer.predict_proba(vectorizer.transform([words(text) for text in held_out]))
    ours = predict_probabilities(model, EncodedSplit.from_lists(held_out, [0] * len(held_out)), 32, model.bias.device)
    assert np.abs(ours - theirs).max() < 1e-3, np.abs(ours - theirs).max()
    assert 0.1 < theirs.max(axis=1).mean() < 0.95, "regularised enough that C matters, not so much that it is flat"


def test_nb_ngrams_interpolation_serves_nbsvms_beta_mix_but_trains_the_plain_weights(tmp_path):
    """With beta, the evaluated model's weights are beta * w + (1 - beta) * each class's mean |w| over the seen
    n-grams (Wang & Manning's w'); training mode keeps w, so the fit is plain NB-LR, and a reload serves the same."""
    texts = [[5, 6, 7], [8, 9, 10], [5, 11], [8, 12], [6, 9]]
    params = NB_PARAMS.model_copy(update={"nb_ngrams": NB_PARAMS.nb_ngrams.model_copy(update={"interpolation": 0.25})})
    model = build_model(params, VOCAB, 2)
    fit_to_training_split(model, EncodedSplit.from_lists(texts, [1, 0, 1, 0, 1]))
    with torch.no_grad():
        model.weight.copy_(torch.randn_like(model.weight))
        model.weight[0] = 100.0  # the unseen row has ratio 0: it must not count in the mean
    query = torch.tensor([[5, 6, 5, 13]])
    rows = model.table_rows(model.feature_ids(query))
    ratios = model.log_count_ratio[rows]
    trained = model.weight[1:].detach()
    mixed = 0.25 * model.weight[rows] + 0.75 * trained.abs().mean(dim=0)
    model.train()
    model.dropout.p = 0.0
    assert torch.allclose(model(query), (model.weight[rows] * ratios).sum(dim=1) + model.bias)
    model.eval()
    assert torch.allclose(model(query), (mixed * ratios).sum(dim=1) + model.bias)
    extra = {"vocab_size": VOCAB, "num_classes": 2, "class_names": ["neg", "pos"]}
    save_model(tmp_path / "model.pt", model, "classification", params, extra)
    loaded, _ = load_model(tmp_path / "model.pt")
    assert torch.allclose(loaded(query), model(query))


def test_sparse_fasttext_steps_only_the_rows_of_its_batch_and_learns_like_the_dense_one():
    params = ModelParams(type="fasttext", embedding_dim=8, dropout=0.0, fasttext=FastTextParams(bigram_buckets=64))
    ids, labels = torch.tensor([[5, 6, 7], [8, 9, 10]]), torch.tensor([0, 1])
    trained = {}
    for sparse in (False, True):
        torch.manual_seed(0)
        model = build_model(
            params.model_copy(update={"fasttext": FastTextParams(bigram_buckets=64, sparse=sparse)}), VOCAB, 2
        )
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(20):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(ids), labels).backward()
            optimizer.step()
        trained[sparse] = model
    gradient = trained[True].embedding.weight.grad
    assert gradient.is_sparse and set(gradient.coalesce().indices()[0].tolist()) < set(range(5, 11)) | set(
        range(VOCAB, VOCAB + 64)
    )
    assert torch.allclose(trained[True].embedding.weight, trained[False].embedding.weight, atol=1e-5)
    assert torch.equal(trained[True](ids).argmax(dim=1), labels)


def _fasttext(sparse: bool, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    fasttext = FastTextParams(bigram_buckets=64, sparse=sparse)
    return build_model(ModelParams(type="fasttext", embedding_dim=8, dropout=0.0, fasttext=fasttext), VOCAB, 2)


BATCHES = [torch.tensor([[5, 6, 7], [8, 9, 10]]), torch.tensor([[5, 5, 11, 12], [13, 6, 0, 0]])]


def _train_steps(model, optimizers, steps: int) -> None:
    labels = torch.tensor([0, 1])
    for step in range(steps):
        for optimizer in optimizers:
            optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(BATCHES[step % 2]), labels).backward()
        for optimizer in optimizers:
            optimizer.step()


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_lazy_adam_on_dense_gradients_is_torch_adam(weight_decay):
    """A model without sparse gradients trains under LazyAdam exactly as under torch's Adam, weight decay and a
    state dict saved and loaded mid-way (a resumed checkpoint) included."""
    reference, lazy = _fasttext(sparse=False), _fasttext(sparse=False)
    options = dict(lr=0.01, weight_decay=weight_decay)
    adam, lazy_adam = torch.optim.Adam(reference.parameters(), **options), LazyAdam(lazy.parameters(), **options)
    _train_steps(reference, [adam], 5)
    _train_steps(lazy, [lazy_adam], 5)
    resumed = LazyAdam(lazy.parameters(), **options)
    resumed.load_state_dict(lazy_adam.state_dict())
    _train_steps(reference, [adam], 5)
    _train_steps(lazy, [resumed], 5)
    for (name, expected), actual in zip(reference.state_dict().items(), lazy.state_dict().values(), strict=True):
        assert torch.allclose(actual, expected, atol=1e-6), name


def test_lazy_adam_moves_only_the_rows_a_batch_used_as_sparse_adam_does():
    """Sparse gradients: LazyAdam is torch's SparseAdam on the embedding (rows never used keep their start) while
    the dense output layer gets Adam's step, in one optimizer; make_optimizer picks it for a sparse fastText.
    SparseAdam adds eps before the second moment's bias correction, Adam after; with gradients of ~1e-4 the
    default eps makes that a 1e-3 difference, so both run with an eps too small to matter."""
    lazy, reference = _fasttext(sparse=True), _fasttext(sparse=True)
    start = lazy.embedding.weight.detach().clone()
    assert isinstance(make_optimizer(lazy, TrainParams(learning_rate=0.01, weight_decay=0.0)), LazyAdam)
    _train_steps(lazy, [LazyAdam(lazy.parameters(), lr=0.01, eps=1e-14)], 6)
    sparse_adam = torch.optim.SparseAdam([reference.embedding.weight], lr=0.01, eps=1e-14)
    dense_adam = torch.optim.Adam(reference.output.parameters(), lr=0.01, eps=1e-14)
    _train_steps(reference, [sparse_adam, dense_adam], 6)
    for (name, expected), actual in zip(reference.state_dict().items(), lazy.state_dict().values(), strict=True):
        assert torch.allclose(actual, expected, atol=1e-6), name
    used = {row for batch in BATCHES for row in torch.cat([batch, lazy.bigram_ids(batch)], dim=1).flatten().tolist()}
    moved = set((lazy.embedding.weight != start).any(dim=1).nonzero().flatten().tolist())
    assert moved == used - {0}


def test_gradient_clipping_over_sparse_gradients_equals_torch_clipping_of_the_same_dense_ones():
    sparse, dense = _fasttext(sparse=True), _fasttext(sparse=False)
    ids, labels = torch.tensor([[5, 5, 6, 7], [8, 9, 10, 5]]), torch.tensor([0, 1])
    for model in (sparse, dense):
        torch.nn.functional.cross_entropy(model(ids) * 50, labels).backward()
    assert sparse.embedding.weight.grad.is_sparse
    ours = clip_gradient_norm(sparse.parameters(), 0.1)
    theirs = torch.nn.utils.clip_grad_norm_(dense.parameters(), 0.1)
    assert ours > 0.1 and torch.allclose(ours, theirs)
    for (name, expected), actual in zip(dense.named_parameters(), sparse.parameters(), strict=True):
        assert torch.allclose(actual.grad.to_dense(), expected.grad, atol=1e-7), name


@pytest.mark.parametrize("embedding_init", ["rand", "non-static"])
def test_fasttext_initialization_starts_as_the_fasttext_binary_and_keeps_copied_vectors(embedding_init):
    """fastText draws input rows from U[-1/dim, 1/dim] and zeroes the output layer; vectors from the embed stage
    stay as copied, only the rows past them (the bigram buckets) start small."""
    dim, buckets = 20, 1000
    vectors = np.random.default_rng(0).normal(size=(VOCAB, dim)).astype(np.float32)
    params = ModelParams(
        type="fasttext",
        embedding_dim=dim,
        embedding_init=embedding_init,
        fasttext=FastTextParams(bigram_buckets=buckets, initialization="fasttext"),
    )
    model = build_model(params, VOCAB, CLASSES, vectors)
    weight = model.embedding.weight.detach()
    random_rows = weight[1:] if embedding_init == "rand" else weight[VOCAB:]
    assert random_rows.abs().max() <= 1.0 / dim and random_rows.abs().max() > 0.9 / dim
    assert torch.count_nonzero(weight[0]) == 0
    if embedding_init == "non-static":
        assert torch.equal(weight[1:VOCAB], torch.from_numpy(vectors[1:]))
    assert torch.count_nonzero(model.output.weight) == 0 and torch.count_nonzero(model.output.bias) == 0
    kim = build_model(
        params.model_copy(update={"fasttext": FastTextParams(bigram_buckets=buckets)}), VOCAB, CLASSES, vectors
    )
    assert kim.embedding.weight.detach()[VOCAB:].abs().max() > 0.2
