import hashlib

import numpy as np

from pipelines.text.sequences import EncodedSplit
from pipelines.text.tokenizers import get_tokenizer
from pipelines.text.vocab import BOS, EOS, PAD, UNK, UNK_ID, Vocabulary


def test_vocabulary_reserves_specials_and_orders_by_frequency():
    vocabulary = Vocabulary.build([["b", "a", "b"], ["c", "a", "b", "<unk>"]], min_freq=2)
    assert vocabulary.tokens == [PAD, UNK, BOS, EOS, "b", "a"]
    assert vocabulary.encode(["a", "c", "zzz"]) == [5, UNK_ID, UNK_ID]
    assert Vocabulary.build([["x", "y", "z"]], max_size=5).tokens == [PAD, UNK, BOS, EOS, "x"]


def test_vocabulary_round_trips_through_json(tmp_path):
    vocabulary = Vocabulary.build([["hello", "world", "hello"]])
    vocabulary.save(tmp_path / "vocab.json")
    loaded = Vocabulary.load(tmp_path / "vocab.json")
    assert loaded.tokens == vocabulary.tokens and loaded.counts == vocabulary.counts
    assert loaded.index["hello"] == 4


def test_tokenizers_word_char_jieba_and_bos_eos():
    assert get_tokenizer("word")("the cat sat") == ["the", "cat", "sat"]
    assert get_tokenizer("char")("ab c") == ["a", "b", " ", "c"]
    assert get_tokenizer("word", bos_eos=True, max_length=4)("a b c d e") == [BOS, "a", "b", EOS]
    segmented = get_tokenizer("jieba")("我们在北京工作")
    assert "".join(segmented) == "我们在北京工作" and 1 < len(segmented) < 7


def test_encoded_split_is_ragged_and_round_trips(tmp_path):
    split = EncodedSplit.from_lists([[4, 5, 6], [7], [8, 9]], [0, 1, 0])
    assert split.lengths.tolist() == [3, 1, 2]
    assert split.sequence(2).tolist() == [8, 9]
    split.save(tmp_path / "train.npz")
    loaded = EncodedSplit.load(tmp_path / "train.npz")
    assert np.array_equal(loaded.ids, split.ids) and np.array_equal(loaded.labels, split.labels)
    assert len(loaded.ids) == 6, "stored ragged: no padding on disk"
    split.save(tmp_path / "again.npz")
    assert (tmp_path / "again.npz").read_bytes() == (tmp_path / "train.npz").read_bytes(), "same ids, same bytes"


def test_encoded_split_bytes_do_not_depend_on_the_python_that_wrote_them(tmp_path):
    """A dvc.lock committed on a laptop must name bytes a worker image makes too. This digest was written by
    Python 3.11.7 and by the image's Debian Python 3.11.2 alike; a ``force_zip64`` stream gave each its own."""
    EncodedSplit.from_lists([[4, 5, 6], [7], [8, 9]], [0, 1, 0]).save(tmp_path / "train.npz")
    assert hashlib.md5((tmp_path / "train.npz").read_bytes()).hexdigest() == "30f6137532c61cf7b61c1fa83d68ebe7"


def test_corpus_encoding_in_worker_processes_gives_the_ids_of_one_process(monkeypatch):
    """The tokenize stage's ids, vocabulary and labels are the same whether it runs in one process or splits a
    large corpus across workers, and equal encoding each text's token list with a vocabulary built from the
    training texts' lists (max_length and <bos>/<eos> included)."""
    import pandas as pd

    from pipelines.config import TokenizeParams
    from pipelines.text import encode
    from pipelines.text.tokenizers import tokens_or_empty

    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    texts = [" ".join(words[(row * step) % 6] for step in range(row % 9)) for row in range(700)]
    frames = {
        split: pd.DataFrame({"text": texts[start:end], "label": [f"c{row % 3}" for row in range(start, end)]})
        for split, (start, end) in {"train": (0, 500), "valid": (500, 600), "test": (600, 700)}.items()
    }
    options = TokenizeParams(method="word", max_length=6, bos_eos=True, min_freq=2)
    monkeypatch.setattr(encode, "CHUNK_SIZE", 37)
    one = encode.encode_corpus(frames, options.model_copy(update={"workers": 1}))
    monkeypatch.setattr(encode, "PARALLEL_THRESHOLD", 10)
    two = encode.encode_corpus(frames, options.model_copy(update={"workers": 2}))

    tokenize = get_tokenizer("word", bos_eos=True, max_length=6)
    lists = {split: [tokens_or_empty(tokenize, text) for text in frame["text"]] for split, frame in frames.items()}
    vocabulary = Vocabulary.build(lists["train"], min_freq=2)
    assert one.vocabulary.tokens == two.vocabulary.tokens == vocabulary.tokens
    assert one.vocabulary.counts == two.vocabulary.counts == vocabulary.counts
    assert one.class_names == two.class_names == ["c0", "c1", "c2"]
    for split, frame in frames.items():
        expected = EncodedSplit.from_lists(
            [vocabulary.encode(tokens) for tokens in lists[split]], [int(label[1]) for label in frame["label"]]
        )
        for encoded in (one.splits[split], two.splits[split]):
            assert np.array_equal(encoded.ids, expected.ids)
            assert np.array_equal(encoded.offsets, expected.offsets)
            assert np.array_equal(encoded.labels, expected.labels)
    assert one.vocabulary.decode(one.splits["train"].sequence(0)) == [BOS, EOS]
    assert len(one.splits["train"].sequence(8)) == 6


def test_a_text_cleaning_emptied_and_a_word_training_never_saw_are_different_tokens():
    """An emptied training text is the word ``<empty>``; a word training never saw is ``<unk>``, which no training
    text holds, so a model learns nothing for it from the emptied texts (their label is not every new word's)."""
    import pandas as pd

    from pipelines.config import TokenizeParams
    from pipelines.text import encode
    from pipelines.text.tokenizers import EMPTY

    frames = {
        "train": pd.DataFrame({"text": ["good film", "", "bad film", ""], "label": ["pos", "spam", "neg", "spam"]}),
        "valid": pd.DataFrame({"text": ["unseen words", ""], "label": ["pos", "spam"]}),
    }
    corpus = encode.encode_corpus(frames, TokenizeParams(method="word"))
    train, valid = corpus.splits["train"], corpus.splits["valid"]
    assert EMPTY in corpus.vocabulary.tokens
    assert UNK_ID not in train.ids.tolist()
    assert corpus.vocabulary.decode(train.sequence(1)) == [EMPTY] == corpus.vocabulary.decode(valid.sequence(1))
    assert valid.sequence(0).tolist() == [UNK_ID, UNK_ID]


def test_language_model_stream_in_worker_processes_equals_one_process(monkeypatch):
    import pandas as pd

    from pipelines.config import TokenizeParams
    from pipelines.text import encode

    lines = [f"line {row} says {'la ' * (row % 4)}".strip() for row in range(300)]
    frames = {
        split: pd.DataFrame({"text": lines[start : start + 100]})
        for split, start in [("train", 0), ("valid", 100), ("test", 200)]
    }
    monkeypatch.setattr(encode, "CHUNK_SIZE", 23)
    one = encode.encode_stream(frames, TokenizeParams(method="char", workers=1))
    monkeypatch.setattr(encode, "PARALLEL_THRESHOLD", 10)
    two = encode.encode_stream(frames, TokenizeParams(method="char", workers=2))
    assert one.vocabulary.tokens == two.vocabulary.tokens
    for split in frames:
        assert np.array_equal(one.splits[split].ids, two.splits[split].ids)
        assert np.array_equal(one.splits[split].offsets, two.splits[split].offsets)
    first = one.vocabulary.decode(one.splits["train"].sequence(0))
    assert first == [*lines[0], EOS]


def test_word_tokens_of_chinese_text_warn_to_use_jieba_and_jieba_or_english_do_not(caplog):
    """Word tokens keep each unspaced Chinese clause whole; the stage says so and what to set, once."""
    import pandas as pd

    from pipelines.config import TokenizeParams
    from pipelines.text import encode

    chinese = ["这本书 , 真的很精彩", "质量还不错 , 内容一般", "很后悔 , 不怎么样的一本书", "good film"]
    english = ["a good film , really", "the plot is thin", "很好 is good"]

    def warnings(texts: list[str], method: str) -> list[str]:
        caplog.clear()
        with caplog.at_level("WARNING", logger=encode.log.name):
            frame = pd.DataFrame({"text": texts, "label": ["a"] * len(texts)})
            encode.encode_corpus({"train": frame}, TokenizeParams(method=method))
        return [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]

    (warning,) = warnings(chinese, "word")
    assert "tokenize.method is word" in warning and "Set tokenize.method: jieba" in warning
    assert warnings(chinese, "jieba") == [] and warnings(chinese, "char") == [] and warnings(english, "word") == []
