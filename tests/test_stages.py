"""Stage functions called in-process on generated files: the `local` source, AG News CSV, created splits."""

import json

import pandas as pd
import pytest
import yaml

from pipelines.data.formats import FormatError
from pipelines.stages.download import download
from pipelines.stages.validate import validate

AG_ROWS = [
    ("1", "Talks resume in Geneva", "Diplomats met again on Monday."),
    ("2", "Cup final tonight", "The home team plays its rival."),
    ("3", "Stocks rally", "Shares rose after earnings beat forecasts."),
    ("4", "New chip unveiled", "The processor doubles battery life."),
]


@pytest.fixture(autouse=True)
def data_root(tmp_path, monkeypatch):
    """The local files of these tests lie in the test's directory: that is their data root."""
    monkeypatch.setenv("TEXTFLOW_DATA_ROOT", str(tmp_path))


def _ag_news_file(path, copies):
    lines = [f'"{label}","{title} {i}","{body} Item {i}."' for i in range(copies) for label, title, body in AG_ROWS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_local_ag_news_csv_flows_through_download_and_validate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _ag_news_file(tmp_path / "news.csv", copies=30)
    params = yaml.safe_dump(
        {
            "dataset": {"name": "local", "local": {"train": "news.csv", "format": "ag_news_csv"}},
            "embed": {"extra_text": "demo"},
        }
    )
    (tmp_path / "params.yaml").write_text(params)

    download("params.yaml", tmp_path / "raw", tmp_path / "stopwords.txt", tmp_path / "extra.txt")
    manifest = json.loads((tmp_path / "raw" / "manifest.json").read_text())
    assert manifest["reader"]["format"] == "ag_news_csv" and set(manifest["files"]) == {"train"}
    assert (tmp_path / "stopwords.txt").read_text().startswith("# stopwords: none (0 words)")
    header, *extra = (tmp_path / "extra.txt").read_text(encoding="utf-8").splitlines()
    assert header == "# unlabelled sentences of embed.extra_text: demo (3800)"
    assert len(extra) == 3000 + 800 and all(line.strip() == line and line for line in extra)

    validate("params.yaml", tmp_path / "raw", tmp_path / "validated", tmp_path / "validation.json")
    splits = {name: pd.read_parquet(tmp_path / "validated" / f"{name}.parquet") for name in ("train", "valid", "test")}
    assert sum(len(frame) for frame in splits.values()) == 120
    for frame in splits.values():
        assert set(frame.label) == {"World", "Sports", "Business", "Sci_Tech"}
    report = json.loads((tmp_path / "validation.json").read_text())
    assert report["success"] and report["created_splits"] == ["test", "valid"]


def test_a_messy_local_csv_is_refused_by_line_or_skipped_and_counted_in_the_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = [f'{i},"Headline {i}","Body of story {i}, in detail",{label}' for i, label in enumerate(["a", "b"] * 60)]
    rows[7] = '7,"",,b'
    (tmp_path / "news.csv").write_text("id,title,body,topic\n" + "\n".join(rows) + "\n", encoding="utf-8")
    local = {"train": "news.csv", "format": "csv", "text_columns": ["title", "body"], "label_column": "topic"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"dataset": {"name": "local", "local": local}}))
    download("params.yaml", tmp_path / "raw", tmp_path / "stopwords.txt", tmp_path / "extra.txt")
    with pytest.raises(FormatError, match=r"^news.csv:9: a label and no text \(column 'title', 'body'\)"):
        validate("params.yaml", tmp_path / "raw", tmp_path / "validated", tmp_path / "validation.json")
    assert not (tmp_path / "validated").exists()

    local["on_bad_lines"] = "skip"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"dataset": {"name": "local", "local": local}}))
    download("params.yaml", tmp_path / "raw", tmp_path / "stopwords.txt", tmp_path / "extra.txt")
    validate("params.yaml", tmp_path / "raw", tmp_path / "validated", tmp_path / "validation.json")
    report = json.loads((tmp_path / "validation.json").read_text())
    assert report["skipped_lines"]["train"] == {
        "count": 1,
        "lines": [{"line": 9, "reason": "a label and no text (column 'title', 'body')"}],
    }
    assert sum(len(pd.read_parquet(path)) for path in (tmp_path / "validated").glob("*.parquet")) == 119


def test_missing_local_file_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump({"dataset": {"name": "local", "local": {"train": "nope.txt"}}})
    )
    try:
        download("params.yaml", tmp_path / "raw", tmp_path / "stopwords.txt", tmp_path / "extra.txt")
    except FileNotFoundError as error:
        assert "dataset.local.train: nope.txt is not a file" in str(error)
    else:
        raise AssertionError("a missing local file must fail")
    assert not (tmp_path / "raw").exists()
