"""Great Expectations suite for parsed datasets, and the readable summary a failed run stops with.

Each split is checked on its own (schema, non-empty text within length bounds, labels from the training
label set, duplicate rate); the test split is also checked against the training texts, because a sentence in
both inflates every test metric (leakage). The GX context is ephemeral: the suite is code, versioned with
the pipeline, and its results go to ``reports/validation.json``. On request the same run also builds GX's Data Docs
site (the evaluate stage logs it to the MLflow run; see pipelines/evaluation/data_docs.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.common.errors import InputError
from pipelines.config import ValidateParams

COLUMNS = ["text", "label"]
DATA_DOCS_SITE = "textflow"


class ValidationFailed(InputError, RuntimeError):
    """One or more expectations failed; the message lists each failure with its split, column and row count."""


@dataclass
class CheckResult:
    split: str
    expectation: str
    column: str | None
    success: bool
    detail: str

    def line(self) -> str:
        where = f"column '{self.column}'" if self.column else "table"
        return f"[{self.split}] {self.expectation} on {where}: {self.detail}"


@dataclass
class ValidationReport:
    checks: list[CheckResult] = field(default_factory=list)
    statistics: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return all(check.success for check in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.success]

    def summary(self) -> str:
        failures = self.failures
        if not failures:
            return f"all {len(self.checks)} expectations passed"
        lines = [f"{len(failures)} of {len(self.checks)} expectations failed:"]
        lines += [f"  - {check.line()}" for check in failures]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "statistics": self.statistics,
            "checks": [check.__dict__ | {"summary": check.line()} for check in self.checks],
        }


def build_expectations(
    labels: list[str] | None, params: ValidateParams, shared_with_train: list[str] | None = None
) -> list[Any]:
    """The expectations for one split; ``shared_with_train`` adds the leakage check (for valid/test splits).

    The leakage check's value set is the split's texts that also occur in training, not every training text:
    only those can match, so the rows it flags are the same, and GX 1.x turns an expectation's kwargs into a
    pydantic dict hundreds of times per suite run, each time walking the value set (100k training texts: 64 of
    the stage's 78 s; with the shared texts alone, a few seconds).

    ``labels`` None: an unlabelled corpus (a language model's), checked for its text only. Repeated lines (a
    chorus, "<unk> said") are natural there, and a line of the test text that also occurs in training is not
    a leaked answer, so neither the duplicate nor the overlap rate is checked."""
    import great_expectations as gx

    expect = gx.expectations
    labelled = labels is not None
    expectations = [
        expect.ExpectTableColumnsToMatchSet(column_set=COLUMNS if labelled else ["text"], exact_match=True),
        expect.ExpectTableRowCountToBeBetween(min_value=1),
        expect.ExpectColumnValuesToNotBeNull(column="text"),
        expect.ExpectColumnValueLengthsToBeBetween(
            column="text", min_value=params.min_chars, max_value=params.max_chars
        ),
        expect.ExpectColumnValuesToNotMatchRegex(column="text", regex=r"^\s*$"),
    ]
    if not labelled:
        return expectations
    expectations += [
        expect.ExpectColumnValuesToNotBeNull(column="label"),
        expect.ExpectColumnValuesToBeInSet(column="label", value_set=labels),
        expect.ExpectColumnProportionOfUniqueValuesToBeBetween(
            column="text", min_value=1.0 - params.max_duplicate_rate
        ),
    ]
    if shared_with_train is not None:
        expectations.append(
            expect.ExpectColumnValuesToNotBeInSet(
                column="text", value_set=sorted(shared_with_train), mostly=1.0 - params.max_overlap_rate
            )
        )
    return expectations


def validate_splits(
    splits: dict[str, pd.DataFrame], params: ValidateParams, labelled: bool = True, data_docs: Path | None = None
) -> ValidationReport:
    """Run the suite on every split; the label set is taken from the training split. With ``data_docs``, each
    split is validated through a GX checkpoint whose ``UpdateDataDocsAction`` builds GX's Data Docs site in that
    directory (``index.html``, a page per split's suite and per validation); the checks are the same."""
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    # this module sets its own level to INFO and announces the temporary directory of its docs site
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    _disable_progress_bars(context)
    if data_docs is not None:
        context.add_data_docs_site(
            DATA_DOCS_SITE,
            {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(data_docs)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_how_to_buttons": False},
            },
        )
    batch_definition = (
        context.data_sources.add_pandas("textflow")
        .add_dataframe_asset("split")
        .add_batch_definition_whole_dataframe("whole_split")
    )
    train = splits["train"]
    labels = (sorted(train["label"].astype(str).unique()) if "label" in train else []) if labelled else None
    overlaps = in_training(splits)
    report = ValidationReport()
    for name, frame in splits.items():
        suite = gx.ExpectationSuite(name=f"textflow_{name}")
        shared = None if name == "train" else _shared_texts(frame, overlaps.get(name))
        for expectation in build_expectations(labels, params, shared):
            suite.add_expectation(expectation)
        suite = context.suites.add(suite)
        if data_docs is None:
            result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
        else:
            result = _validate_into_data_docs(context, batch_definition, suite, frame)
        report.checks += [_check_result(name, item) for item in result.results]
    if labelled:
        report.checks += _class_balance_checks(train, params)
    report.statistics = split_statistics(splits, overlaps)
    return report


def _validate_into_data_docs(context: Any, batch_definition: Any, suite: Any, frame: pd.DataFrame) -> Any:
    import great_expectations as gx

    definition = context.validation_definitions.add(
        gx.ValidationDefinition(data=batch_definition, suite=suite, name=suite.name)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=suite.name,
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[DATA_DOCS_SITE])],
        )
    )
    (result,) = checkpoint.run(batch_parameters={"dataframe": frame}).run_results.values()
    return result


def _disable_progress_bars(context: Any) -> None:
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    except (ImportError, AttributeError):
        pass


def _check_result(split: str, item: Any) -> CheckResult:
    config = item.expectation_config
    result = item.result or {}
    column = config.kwargs.get("column")
    if "unexpected_count" in result:
        examples = [str(value)[:60] for value in (result.get("partial_unexpected_list") or [])[:3]]
        detail = f"{result['unexpected_count']} of {result.get('element_count')} rows unexpected"
        if examples and not item.success:
            detail += f" (e.g. {examples})"
    else:
        detail = f"observed {result.get('observed_value')!r}"
    if item.exception_info and item.exception_info.get("raised_exception"):
        detail = f"could not be evaluated: {item.exception_info.get('exception_message')}"
    return CheckResult(split, config.type, column, bool(item.success), detail)


def _class_balance_checks(train: pd.DataFrame, params: ValidateParams) -> list[CheckResult]:
    if "label" not in train:
        return []
    counts = train["label"].value_counts()
    small = counts[counts < params.min_rows_per_class]
    detail = f"smallest class has {counts.min()} rows" if small.empty else f"classes below minimum: {small.to_dict()}"
    return [CheckResult("train", "expect_each_class_to_have_min_rows", "label", small.empty, detail)]


def in_training(splits: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """For every split but ``train`` that has text, which of its rows' texts also occur in training, through
    Arrow's hash set, the training texts converted once. pandas 3's ``isin`` on a string column makes an Arrow
    scalar of every value of the set, one by one, and iterating an Arrow-backed column makes a Python string per
    row: with 1M training texts that was 30 of validate's 47 s."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def strings(series: pd.Series) -> pa.Array:
        return pa.array(series, from_pandas=True).cast(pa.large_string())

    if "text" not in splits["train"]:
        return {}
    training = strings(splits["train"]["text"])
    return {
        name: pc.is_in(strings(frame["text"]), value_set=training).to_numpy(zero_copy_only=False)
        for name, frame in splits.items()
        if name != "train" and "text" in frame
    }


def _shared_texts(frame: pd.DataFrame, in_train: np.ndarray | None) -> list[str]:
    if in_train is None:
        return []
    return frame["text"][in_train].dropna().unique().tolist()


def split_statistics(splits: dict[str, pd.DataFrame], overlaps: dict[str, np.ndarray]) -> dict[str, Any]:
    """Rows, classes, duplicate rate and lengths of every split; ``overlaps`` (from :func:`in_training`) gives
    each other split's rows that occur in training."""
    statistics: dict[str, Any] = {}
    for name, frame in splits.items():
        if "text" not in frame:
            continue
        lengths = frame["text"].str.len()
        statistics[name] = {
            "rows": len(frame),
            **({"classes": int(frame["label"].nunique())} if "label" in frame else {}),
            "duplicate_rate": round(float(frame["text"].duplicated().mean()) if len(frame) else 0.0, 6),
            "mean_chars": round(float(lengths.mean()) if len(frame) else 0.0, 2),
            "max_chars": int(lengths.max()) if len(frame) else 0,
        }
        if name != "train":
            statistics[name]["overlap_with_train"] = int(overlaps[name].sum()) if name in overlaps else 0
    return statistics
