"""Stage ``keywords``: TF-IDF or TextRank keywords of each class and of sampled training documents, from the
clean stage's text split by the tokenize stage's tokenizer; a per-class bar chart; both logged to the training
run. On the demo corpus it also scores the class keywords against the topic words that generated each class
(precision@10).

It runs after train only to log into that run: nothing it writes is read by another stage, so changing a
``keywords.*`` param re-runs this stage alone."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from pipelines import tracking
from pipelines.common.io import write_json
from pipelines.config import load_params
from pipelines.data.demo import TOPICS
from pipelines.stages import stage_cli
from pipelines.text.keywords import (
    InverseDocumentFrequency,
    Keyword,
    candidates,
    class_keywords,
    document_keywords,
    plot_keywords,
    precision_at_k,
)
from pipelines.text.stopwords import stopword_list
from pipelines.text.tokenizers import get_tokenizer

log = logging.getLogger("keywords")
PRECISION_AT = 10
SHOWN_CHARACTERS = 200


def main(argv: list[str] | None = None) -> None:
    stage_cli("keywords", __doc__, ["clean", "run", "out", "figure"], keywords, argv)


def _listed(keywords: list[Keyword]) -> list[dict[str, Any]]:
    return [{"term": term, "score": score} for term, score in keywords]


def keywords(args) -> None:
    params = load_params(args.params)
    options = params.keywords
    language = "chinese" if params.tokenize.method == "jieba" else "english"
    stopwords = frozenset(stopword_list(options.stopwords, language))
    train = pd.read_parquet(args.clean / "train.parquet")
    tokenize = get_tokenizer(params.tokenize.method)
    documents = candidates((tokenize(text) for text in train["text"]), stopwords)
    # an unlabelled corpus (a language model's) is one class, named after the dataset
    labels = train["label"].astype(str).tolist() if "label" in train else [params.dataset.name] * len(train)
    textrank = {
        "window": options.window,
        "damping": options.damping,
        "tolerance": options.tolerance,
        "max_iterations": options.max_iterations,
    }
    idf = InverseDocumentFrequency.fit(documents) if options.method == "tfidf" else None
    by_class = class_keywords(documents, labels, options.method, options.top_k, idf, **textrank)
    rows = np.random.default_rng(params.dataset.seed).permutation(len(train))[: options.documents]
    report: dict[str, Any] = {
        "method": options.method,
        "language": language,
        "documents_in_corpus": len(train),
        "classes": {label: _listed(terms) for label, terms in by_class.items()},
        "documents": [
            {
                "row": int(row),
                "label": labels[row],
                "text": train["text"].iat[row][:SHOWN_CHARACTERS],
                "keywords": _listed(document_keywords(documents[row], idf, options.method, options.top_k, **textrank)),
            }
            for row in sorted(rows.tolist())
        ],
    }
    if params.dataset.name == "demo" and set(by_class) <= set(TOPICS):  # the demo's topics are its labels
        precision = {label: precision_at_k(by_class[label], TOPICS[label], PRECISION_AT) for label in by_class}
        report[f"topic_precision_at_{PRECISION_AT}"] = precision | {"mean": float(np.mean(list(precision.values())))}
    write_json(args.out, report)
    plot_keywords(by_class, args.figure, f"{params.dataset.name}: {options.method} keywords per class")
    for label, terms in by_class.items():
        log.info("%s: %s", label, ", ".join(term for term, _ in terms))

    with tracking.resumed_run(args.run) as run_id:
        if run_id is None:
            return
        import mlflow

        mlflow.log_artifact(str(args.out), "reports")
        mlflow.log_artifact(str(args.figure), "reports")
        if f"topic_precision_at_{PRECISION_AT}" in report:
            scores = report[f"topic_precision_at_{PRECISION_AT}"]
            mlflow.log_metrics(
                {f"keywords_topic_precision_at_{PRECISION_AT}_{key}": value for key, value in scores.items()}
            )
        log.info("logged keywords to MLflow run %s", run_id)


if __name__ == "__main__":
    main()
