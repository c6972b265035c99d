import pytest

from pipelines.data.formats import FormatError, read_ag_news_csv, read_dataset_file, read_label_text


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
    with pytest.raises(FormatError, match=r"broken.txt:2: expected '<label> <text>'"):
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
