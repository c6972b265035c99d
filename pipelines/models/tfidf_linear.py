"""TF-IDF logistic regression over word n-grams (uni+bigrams by default): the classic strong baseline on small
text sets, as a model type like the others (trained by the train stage, saved, served and registered), so a
search can choose it where it wins.

A text's features are its distinct n-grams, each weighted by its smoothed inverse document frequency over the
training texts, ``idf = ln((1 + N) / (1 + df)) + 1`` (scikit-learn's ``smooth_idf``), the vector scaled to unit L2
norm; the logits are a linear function of it, and L2 regularisation (scikit-learn's ``1 / C``) is
``train.weight_decay``. Term frequency is binary: in sentences almost every n-gram occurs once, where
scikit-learn's sublinear ``1 + ln tf`` is 1 as well. N-grams unseen in training weigh 0 and do not count in the
norm, as in a fitted ``TfidfVectorizer``. The idf values are a buffer fitted before training
(:meth:`~pipelines.models.ngram_table.SeenNgramTable.fit_to`), so a saved model predicts the same without the
training data.
"""

from __future__ import annotations

import torch

from pipelines.models.ngram_table import SeenNgramTable


class TfidfLinear(SeenNgramTable):
    statistic = "idf"
    statistic_columns = 1

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        rows = self.table_rows(self.feature_ids(ids))
        values = self.idf[rows, 0]
        values = values / values.norm(dim=1, keepdim=True).clamp(min=1e-12)
        contributions = values.unsqueeze(-1) * self.weight[rows]
        return self.dropout(contributions).sum(dim=1) + self.bias

    def fit_statistics(self, counts: torch.Tensor, texts: int) -> torch.Tensor:
        document_frequency = counts.sum(dim=1, keepdim=True)
        return torch.log((1.0 + texts) / (1.0 + document_frequency)) + 1.0
