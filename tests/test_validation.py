import pandas as pd
import pytest

from pipelines.config import ValidateParams
from pipelines.data.splits import stratified_split
from pipelines.data.validation import in_training, validate_splits


def _frame(texts, labels):
    return pd.DataFrame({"text": texts, "label": labels})


@pytest.fixture
def good_splits():
    train = _frame([f"sentence number {i}" for i in range(40)], ["a", "b"] * 20)
    valid = _frame([f"valid sentence {i}" for i in range(6)], ["a", "b"] * 3)
    test = _frame([f"test sentence {i}" for i in range(6)], ["a", "b"] * 3)
    return {"train": train, "valid": valid, "test": test}


def test_clean_data_passes_and_reports_statistics(good_splits):
    report = validate_splits(good_splits, ValidateParams())
    assert report.success, report.summary()
    assert report.statistics["train"]["rows"] == 40
    assert report.statistics["test"]["overlap_with_train"] == 0


def test_unknown_test_label_fails_naming_split_column_and_rows(good_splits):
    good_splits["test"].loc[0, "label"] = "zebra"
    report = validate_splits(good_splits, ValidateParams())
    assert not report.success
    assert "[test] expect_column_values_to_be_in_set on column 'label': 1 of 6 rows unexpected" in report.summary()
    assert "zebra" in report.summary()


def test_leakage_and_duplicates_are_caught(good_splits):
    good_splits["test"]["text"] = good_splits["train"]["text"][:6].tolist()
    good_splits["train"].loc[20:29, "text"] = "same"
    report = validate_splits(good_splits, ValidateParams())
    failed = {(check.split, check.expectation) for check in report.failures}
    assert ("test", "expect_column_values_to_not_be_in_set") in failed
    assert "[test] expect_column_values_to_not_be_in_set on column 'text': 6 of 6 rows unexpected" in report.summary()
    assert ("train", "expect_column_proportion_of_unique_values_to_be_between") in failed
    assert report.statistics["test"]["overlap_with_train"] == 6


def test_overlap_with_training_is_exact_whatever_the_string_storage():
    """Arrow-backed and plain object columns, a missing text and a text that differs only in case: the rows that
    occur in training are exactly those flagged."""
    train = pd.Series(["a cat", "the dog", None, "Ends here"], dtype="string[pyarrow]")
    texts = pd.Series(["the dog", "A cat", None, "ends here", "a cat", "Ends here"], dtype=object)
    with_missing = in_training({"train": pd.DataFrame({"text": train}), "test": pd.DataFrame({"text": texts})})
    assert with_missing["test"].tolist() == [True, False, True, False, True, True]
    without = in_training({"train": pd.DataFrame({"text": train.dropna()}), "test": pd.DataFrame({"text": texts})})
    assert without["test"].tolist() == [True, False, False, False, True, True]


def test_empty_split_and_blank_text_fail(good_splits):
    good_splits["valid"] = good_splits["valid"].iloc[0:0]
    good_splits["train"].loc[3, "text"] = "   "
    summary = validate_splits(good_splits, ValidateParams()).summary()
    assert "[valid] expect_table_row_count_to_be_between on table" in summary
    assert "[train] expect_column_values_to_not_match_regex on column 'text': 1 of 40 rows unexpected" in summary


def test_stratified_split_is_seeded_and_keeps_every_class():
    frame = _frame([f"t{i}" for i in range(103)], ["x"] * 90 + ["y"] * 10 + ["z"] * 3)
    kept, held = stratified_split(frame, 0.1, seed=7)
    again_kept, again_held = stratified_split(frame, 0.1, seed=7)
    assert held.equals(again_held) and kept.equals(again_kept)
    assert held.label.value_counts().to_dict() == {"x": 9, "y": 1, "z": 1}
    assert set(kept.label) == {"x", "y", "z"}
    assert len(kept) + len(held) == 103 and not set(kept.text) & set(held.text)
