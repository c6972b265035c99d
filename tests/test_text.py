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
