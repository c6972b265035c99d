import json

import numpy as np
import yaml

from pipelines.config import DemoCorpus, EmbedParams
from pipelines.data.demo import generate_demo_corpus
from pipelines.embeddings import aligned_matrix, train_embeddings
from pipelines.stages.embed import embed
from pipelines.text.clean import CleanSettings, TextCleaner
from pipelines.text.sequences import EncodedSplit
from pipelines.text.vocab import PAD_ID, Vocabulary


def _sentences():
    texts = generate_demo_corpus(DemoCorpus(train_size=600, test_size=20), seed=5)["train"].text
    return TextCleaner(CleanSettings()).clean_many(texts)


def test_word2vec_is_deterministic_and_aligned_to_the_vocabulary():
    sentences = _sentences()
    vocabulary = Vocabulary.build(sentences)
    params = EmbedParams(dim=16, epochs=3)
    first, coverage = aligned_matrix(train_embeddings(sentences, params, 1).wv, vocabulary, 16, 1, subword=False)
    second, _ = aligned_matrix(train_embeddings(sentences, params, 1).wv, vocabulary, 16, 1, subword=False)
    assert first.shape == (len(vocabulary), 16) and np.array_equal(first, second)
    assert coverage == 1.0 and not first[PAD_ID].any()


def test_fasttext_covers_words_it_never_saw_through_subwords():
    sentences = _sentences()
    vocabulary = Vocabulary.build([*sentences, ["teamwork", "marketplace"]])
    model = train_embeddings(sentences, EmbedParams(method="fasttext", dim=16, epochs=2), 1)
    matrix, coverage = aligned_matrix(model.wv, vocabulary, 16, 1, subword=True)
    assert coverage == 1.0
    assert np.allclose(matrix[vocabulary.index["teamwork"]], model.wv["teamwork"])


def test_embed_none_writes_an_empty_matrix_and_trains_nothing(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"embed": {"method": "none", "dim": 8}}))
    Vocabulary.build([["a"]]).save(tmp_path / "tokens" / "vocab.json")
    EncodedSplit.from_lists([[4]], [0]).save(tmp_path / "tokens" / "train.npz")
    embed(str(tmp_path / "params.yaml"), tmp_path / "tokens", tmp_path / "vectors.npy", tmp_path / "embed.json")
    assert np.load(tmp_path / "vectors.npy").shape == (0, 8)
    assert json.loads((tmp_path / "embed.json").read_text())["method"] == "none"
