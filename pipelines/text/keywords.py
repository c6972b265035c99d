"""Keywords: TF-IDF and TextRank, per document and per class (the topic words of each label).

TF-IDF: the inverse document frequency comes from the training documents themselves, ``log((1 + N) / (1 + df))``,
not from a bundled table (``jieba.analyse`` ships one made from other text). Unlike scikit-learn's it has no
``+ 1``: a term in every document (a stopword no list caught) scores 0 instead of leading each class. A document scores each term by its frequency in the document times its idf; a class scores it the same
way over all of the class's documents taken as one (class-based TF-IDF), so a term frequent in one class and
rare elsewhere ranks first, and a term frequent everywhere sinks.

TextRank (Mihalcea & Tarau 2004): candidate terms are nodes, an undirected edge joins two candidates that
occur within ``window`` tokens of each other (weighted by how often), and scores are weighted PageRank with
damping ``damping`` until the change is below ``tolerance`` (networkx). A class's graph joins all of its
documents. TextRank knows nothing of other classes, so words frequent in every class rank high in each.

Candidates are tokens with at least one letter (of any script, so Chinese words count) that are neither
stopwords nor contraction pieces (``'s``, ``n't``); scores are rounded for stable reports.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import networkx

from pipelines.common.io import atomic_path
from pipelines.config import ConfigError, KeywordMethod

Keyword = tuple[str, float]
METHODS: tuple[str, ...] = get_args(KeywordMethod)
DIGITS = 6


CLITICS = frozenset({"n't", "'s", "'ve", "'re", "'d", "'ll", "'m"})
"""The pieces the cleaner splits contractions into (treebank style): frequent, and about no topic."""


def is_candidate(token: str, stopwords: frozenset[str]) -> bool:
    return token not in stopwords and token not in CLITICS and any(character.isalpha() for character in token)


def candidates(documents: Iterable[Sequence[str]], stopwords: frozenset[str]) -> list[list[str]]:
    return [[token for token in document if is_candidate(token, stopwords)] for document in documents]


def _top(scores: dict[str, float], top_k: int) -> list[Keyword]:
    """The ``top_k`` best terms; ties broken alphabetically so reports do not depend on dict order."""
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:top_k]
    return [(term, round(score, DIGITS)) for term, score in ranked]


@dataclass(frozen=True)
class InverseDocumentFrequency:
    """``idf(term)`` learned from a corpus of token lists; a term never seen gets the largest idf."""

    weights: dict[str, float]
    unseen: float

    @classmethod
    def fit(cls, documents: Sequence[Sequence[str]]) -> InverseDocumentFrequency:
        frequency = Counter(term for document in documents for term in set(document))
        count = len(documents)
        weights = {term: math.log((1 + count) / (1 + seen)) for term, seen in frequency.items()}
        return cls(weights, math.log(1 + count))

    def __getitem__(self, term: str) -> float:
        return self.weights.get(term, self.unseen)


def tfidf_keywords(tokens: Sequence[str], idf: InverseDocumentFrequency, top_k: int) -> list[Keyword]:
    if not tokens:
        return []
    counts = Counter(tokens)
    return _top({term: count / len(tokens) * idf[term] for term, count in counts.items()}, top_k)


def textrank_keywords(
    documents: Sequence[Sequence[str]],
    top_k: int,
    window: int = 4,
    damping: float = 0.85,
    tolerance: float = 1e-6,
    max_iterations: int = 200,
) -> list[Keyword]:
    """TextRank over the co-occurrence graph of ``documents`` (one document, or all of a class)."""
    graph = networkx.Graph()
    for tokens in documents:
        graph.add_nodes_from(tokens)
        for position, term in enumerate(tokens):
            for other in tokens[position + 1 : position + window]:
                if other == term:
                    continue
                weight = graph.get_edge_data(term, other, {"weight": 0})["weight"]
                graph.add_edge(term, other, weight=weight + 1)
    if graph.number_of_nodes() == 0:
        return []
    try:
        scores = networkx.pagerank(graph, alpha=damping, tol=tolerance, max_iter=max_iterations, weight="weight")
    except networkx.PowerIterationFailedConvergence:
        raise ConfigError(
            f"TextRank did not converge in {max_iterations} iterations (tolerance {tolerance}); raise "
            "keywords.max_iterations or keywords.tolerance"
        ) from None
    return _top(scores, top_k)


def class_keywords(
    documents: Sequence[Sequence[str]],
    labels: Sequence[str],
    method: str,
    top_k: int,
    idf: InverseDocumentFrequency | None = None,
    **textrank: float,
) -> dict[str, list[Keyword]]:
    """``{label: keywords}`` with each class's documents taken together; ``documents`` hold candidates only.
    TF-IDF uses ``idf`` when given (fitted on these ``documents``), else fits it."""
    by_class: dict[str, list[Sequence[str]]] = {}
    for tokens, label in zip(documents, labels, strict=True):
        by_class.setdefault(label, []).append(tokens)
    if method == "tfidf":
        idf = idf if idf is not None else InverseDocumentFrequency.fit(documents)
        return {
            label: tfidf_keywords([term for tokens in group for term in tokens], idf, top_k)
            for label, group in sorted(by_class.items())
        }
    if method == "textrank":
        return {label: textrank_keywords(group, top_k, **textrank) for label, group in sorted(by_class.items())}
    raise ValueError(f"unknown keyword method {method!r}; known: {', '.join(METHODS)}")


def document_keywords(
    tokens: Sequence[str], idf: InverseDocumentFrequency | None, method: str, top_k: int, **textrank: float
) -> list[Keyword]:
    """One document's keywords; TF-IDF needs the corpus's ``idf``, TextRank none."""
    if method == "tfidf":
        if idf is None:
            raise ValueError("TF-IDF keywords of a document need the corpus's inverse document frequencies")
        return tfidf_keywords(tokens, idf, top_k)
    return textrank_keywords([tokens], top_k, **textrank)


def precision_at_k(keywords: Sequence[Keyword], relevant: Iterable[str], k: int) -> float:
    """Share of the first ``k`` keywords that are relevant (out of ``k``, so a short list is not rewarded)."""
    relevant = set(relevant)
    return sum(term in relevant for term, _ in keywords[:k]) / k


def plot_keywords(keywords: dict[str, list[Keyword]], path: Path, title: str) -> None:
    """One horizontal bar chart per class, best keyword on top, for ``dvc plots`` and the MLflow run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(4, max(1, len(keywords)))
    rows = math.ceil(len(keywords) / columns) or 1
    height = max(2.5, 0.3 * max((len(terms) for terms in keywords.values()), default=1) + 1)
    figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, height * rows), squeeze=False)
    for axis in axes.flat[len(keywords) :]:
        axis.axis("off")
    for axis, (label, terms) in zip(axes.flat, keywords.items(), strict=False):
        axis.barh([term for term, _ in reversed(terms)], [score for _, score in reversed(terms)], color="#4c72b0")
        axis.set_title(label)
        axis.tick_params(axis="y", labelsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)
