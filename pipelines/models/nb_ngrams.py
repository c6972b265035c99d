"""NB-weighted n-grams (Wang & Manning 2012, NB-LR): a linear model over binarised n-gram indicators, each
scaled by its naive-Bayes log-count ratio.

For class ``c`` with ``p_c = alpha + sum of indicators of texts in c`` and ``q_c`` the same over the other
classes, ``r_c = log((p_c / |p_c|_1) / (q_c / |q_c|_1))`` says how much an n-gram favours ``c`` over the rest.
The logit of ``c`` is ``sum over the text's distinct n-grams f of w_c[f] * r_c[f] + b_c``: logistic regression on
the NB-scaled features, one ratio per class (one-vs-rest) so it extends to more than two classes; for two
classes ``r_0 = -r_1`` and it is the paper's NB-LR. Wang & Manning's NBSVM adds an interpolation towards the
mean weight, ``w' = beta * w + (1 - beta) * mean |w|`` (beta 0.25), which pulls the trained model back towards
naive Bayes (equal weights on the ratios); ``interpolation`` is that beta. Training fits ``w`` as plain NB-LR and
only the evaluated and served model uses ``w'`` (as the paper interpolates after fitting), so early stopping
chooses the epoch whose interpolated model scores best on validation. The loss stays logistic, not the paper's
hinge. ``initial_weight: 1`` is the other route to naive Bayes: every weight starts equal, so the untrained
model is multinomial naive Bayes (uniform prior) and early stopping picks a point on the way from NB to LR
instead of from an empty model.

The ratios come from the training split before training (:meth:`fit_to`) and are a buffer, so a
saved model rebuilt from its config and state dict predicts the same without the training data.

The n-gram table (hashed n-grams, rows only for those seen in training) is :mod:`pipelines.models.ngram_table`'s.
"""

from __future__ import annotations

import torch

from pipelines.models.ngram_table import SeenNgramTable


class NBWeightedNgrams(SeenNgramTable):
    """The statistic is ``log_count_ratio`` (a column per class); row 0 (unseen n-grams) has ratio 0."""

    statistic = "log_count_ratio"

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        max_n: int,
        buckets: int,
        smoothing: float,
        dropout: float,
        initial_weight: float = 0.0,
        interpolation: float = 1.0,
    ) -> None:
        self.smoothing, self.interpolation = smoothing, interpolation
        super().__init__(vocab_size, num_classes, max_n, buckets, dropout, initial_weight)

    def served_weight(self, rows: torch.Tensor) -> torch.Tensor:
        """The trained weights of ``rows`` while training; NBSVM's interpolation of them otherwise, mixed only
        for the rows asked for, not the whole table. Row 0 (unseen n-grams, ratio 0) is left out of each
        class's mean magnitude."""
        if self.training or self.interpolation == 1.0 or len(self.weight) < 2:
            return self.weight[rows]
        mean_magnitude = self.weight[1:].abs().mean(dim=0)
        return self.interpolation * self.weight[rows] + (1.0 - self.interpolation) * mean_magnitude

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        rows = self.table_rows(self.feature_ids(ids))
        contributions = self.served_weight(rows) * self.log_count_ratio[rows]
        return self.dropout(contributions).sum(dim=1) + self.bias

    def fit_statistics(self, counts: torch.Tensor, texts: int) -> torch.Tensor:
        """Per-class log-count ratios of the binarised counts, one-vs-rest."""
        in_class = counts + self.smoothing
        elsewhere = counts.sum(dim=1, keepdim=True) - counts + self.smoothing
        return torch.log(in_class / in_class.sum(dim=0)) - torch.log(elsewhere / elsewhere.sum(dim=0))
