import json

import pandas as pd
import pytest

from pipelines.data.formats import (
    FileReader,
    FormatError,
    read_ag_news_csv,
    read_dataset_file,
    read_file,
    read_label_text,
)


def test_label_text_parses_labels_and_sentences(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("0 How far is it ?\n\n5 What is a dog ?\n", encoding="utf-8")
    frame = read_label_text(path)
    assert frame.to_dict("list") == {"text": ["How far is it ?", "What is a dog ?"], "label": ["0", "5"]}


def test_next_line_character_inside_a_sentence_is_not_a_line_break(tmp_path):
    path = tmp_path / "mr.txt"
    path.write_bytes("1 a film \x85 that works\n0 dull\n".encode("latin-1"))
    frame = read_label_text(path, "latin-1")
    assert len(frame) == 2 and "\x85" in frame.text[0]


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "broken.txt"
    path.write_text("1 fine sentence\n0\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"broken.txt:2: a label and no text .*on_bad_lines: skip"):
        read_label_text(path)


def test_wrong_encoding_names_the_line(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"1 ok\n0 caf\xe9\n")
    with pytest.raises(FormatError, match=r"latin.txt:2: not valid utf-8"):
        read_label_text(path)


def test_empty_file_is_reported_as_truncated(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n")
    with pytest.raises(FormatError, match="empty or truncated"):
        read_label_text(path)


def test_ag_news_csv_joins_title_and_description_and_names_classes(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(
        '"3","Wall St. Bears Claw Back","Short-sellers, Wall Street\'s dwindling\\band, are seeing green."\n'
        '"2","Cup final","The team won, 2-1."\n',
        encoding="utf-8",
    )
    frame = read_dataset_file(path, "ag_news_csv")
    assert frame.label.tolist() == ["Business", "Sports"]
    assert frame.text[0] == "Wall St. Bears Claw Back Short-sellers, Wall Street's dwindling band, are seeing green."


def test_ag_news_bad_row_names_file_and_line(tmp_path):
    path = tmp_path / "test.csv"
    path.write_text('"1","ok","fine"\n"9","bad class","x"\n', encoding="utf-8")
    with pytest.raises(FormatError, match=r"test.csv:2: expected 3 CSV fields"):
        read_ag_news_csv(path)


def test_unknown_format_is_rejected(tmp_path):
    with pytest.raises(FormatError, match="unknown format 'xml'"):
        read_dataset_file(tmp_path / "x", "xml")


def test_ag_news_line_separators_and_quoted_newlines_stay_inside_their_field(tmp_path):
    """U+2028, U+0085 and a quoted newline are text inside a field, not record breaks."""
    path = tmp_path / "train.csv"
    path.write_text(
        '"1","Summit\u2028opens","Leaders met\u0085today"\n"4","Chip","line one\nline two"\n"2","Cup","Won"\n',
        encoding="utf-8",
    )
    frame = read_ag_news_csv(path)
    assert frame.label.tolist() == ["World", "Sci_Tech", "Sports"]
    assert frame.text[0] == "Summit\u2028opens Leaders met\u0085today"
    assert frame.text[1] == "Chip line one\nline two"


def test_a_csv_with_header_bom_quoted_newlines_and_two_text_columns_just_works(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(
        b"\xef\xbb\xbfid,title,body,sentiment\r\n"
        b'1,Great,"loved it,\r\nwould watch again",pos\r\n'
        b'2,"Dull ""plot""",,neg\r\n'
    )
    reader = FileReader(format="csv", text_columns=("title", "body"), label_column="sentiment")
    frame = read_file(path, reader).frame
    assert frame.to_dict("list") == {
        "text": ["Great loved it,\r\nwould watch again", 'Dull "plot"'],
        "label": ["pos", "neg"],
    }


def test_tsv_without_header_names_columns_by_position(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("spam\tWin money now\nham\tSee you at 5\n", encoding="utf-8")
    frame = read_file(path, FileReader(format="tsv", header=False, text_columns=("2",), label_column="1")).frame
    assert frame.to_dict("list") == {"text": ["Win money now", "See you at 5"], "label": ["spam", "ham"]}


def test_a_column_missing_from_the_header_is_named_with_the_keys_to_set(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("sentence,label\nhello,1\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"data.csv: column 'text' not in its header \['sentence', 'label'\]"):
        read_file(path, FileReader(format="csv"))


def test_jsonl_and_parquet_read_their_columns(tmp_path):
    rows = [{"headline": "Rates rise", "topic": 2, "extra": None}, {"headline": "Cup final", "topic": 1}]
    jsonl = tmp_path / "data.jsonl"
    jsonl.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n", encoding="utf-8")
    parquet = tmp_path / "data.parquet"
    pd.DataFrame({"headline": ["Rates rise", "Cup final"], "topic": [2.0, 1.0]}).to_parquet(parquet)
    expected = {"text": ["Rates rise", "Cup final"], "label": ["2", "1"]}
    for path, fmt in ((jsonl, "jsonl"), (parquet, "parquet")):
        reader = FileReader(format=fmt, text_columns=("headline",), label_column="topic")
        assert read_file(path, reader).frame.to_dict("list") == expected


def test_bad_lines_error_by_default_and_skip_reports_which(tmp_path):
    """The two faults seen in public sentence files: a label with no text, and one line in Latin-1."""
    path = tmp_path / "train.txt"
    path.write_bytes(b"1 a fine film\n0\n0 a caf\xe9 scene\n1 worth it\n")
    with pytest.raises(FormatError, match=r"train.txt:2: a label and no text"):
        read_file(path, FileReader())
    parsed = read_file(path, FileReader(on_bad_lines="skip"))
    assert parsed.frame.text.tolist() == ["a fine film", "worth it"]
    summary = parsed.skipped_summary()
    assert summary["count"] == 2 and [item["line"] for item in summary["lines"]] == [2, 3]
    assert "not valid utf-8" in summary["lines"][1]["reason"]
    assert read_file(path, FileReader(encoding="latin-1", on_bad_lines="skip")).frame.text[1] == "a café scene"


@pytest.mark.parametrize(
    ("fmt", "content", "message"),
    [
        ("csv", "text,label\nok,1\ntoo,many,fields\n", r"data:3: expected 2 fields, got 3"),
        ("jsonl", '{"text": "ok", "label": 1}\n{"text": "broken"\n', r"data:2: not valid JSON"),
        ("jsonl", '{"text": "ok", "label": 1}\n{"text": "no label"}\n', r"data:2: no key 'label'"),
        ("csv", 'text,label\n"unclosed,1\n', r"data:2: not valid CSV \(unexpected end of data\)"),
    ],
)
def test_malformed_records_name_file_and_line(tmp_path, fmt, content, message):
    path = tmp_path / "data"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FormatError, match=message):
        read_file(path, FileReader(format=fmt))
