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

The ratios come from the training split before training (:meth:`fit_log_count_ratio`) and are a buffer, so a
saved model rebuilt from its config and state dict predicts the same without the training data.

Word n-grams beyond unigrams are hashed into ``buckets`` ids past the vocabulary, fastText's trick; only the
ids seen in training get a row (see the class), so the default 10M buckets cost nothing and two of MR's ~150k
bigrams share an id in about 1.5% of cases.
"""

from __future__ import annotations

import torch
from torch import nn

from pipelines.models.fasttext import BIGRAM_PRIME
from pipelines.text.sequences import EncodedSplit
from pipelines.text.vocab import PAD_ID
from pipelines.training.batches import iterate_batches

COUNT_BATCH = 1024


class NBWeightedNgrams(nn.Module):
    """Rows exist only for the n-grams seen in training (``seen_ngrams``, sorted ids), plus row 0 for every
    other n-gram, whose ratio is 0 so it adds nothing. A hash space of millions of buckets therefore costs
    nothing: the weights are as many as the training n-grams (about 150k on MR), and an Adam step touches only
    those. The table's size is known after :meth:`fit_log_count_ratio` or from a saved state dict."""

    min_length = 1

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
        super().__init__()
        self.vocab_size, self.num_classes = vocab_size, num_classes
        self.max_n, self.buckets, self.smoothing = max_n, buckets, smoothing
        self.initial_weight, self.interpolation = initial_weight, interpolation
        self.bias = nn.Parameter(torch.zeros(num_classes))
        self.dropout = nn.Dropout(dropout)
        self._allocate(0)

    def _allocate(self, seen: int) -> None:
        device = self.bias.device
        self.weight = nn.Parameter(torch.full((seen + 1, self.num_classes), self.initial_weight, device=device))
        self.register_buffer("log_count_ratio", torch.zeros(seen + 1, self.num_classes, device=device))
        self.register_buffer("seen_ngrams", torch.zeros(seen, dtype=torch.long, device=device))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        saved = state_dict.get(f"{prefix}seen_ngrams")
        if saved is not None and saved.shape != self.seen_ngrams.shape:
            self._allocate(len(saved))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def feature_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """Each row's distinct n-gram ids (unigrams are token ids, longer n-grams hashed past the vocabulary);
        repeats and n-grams touching padding become PAD, so a row's features are binary indicators."""
        grams = [ids]
        if self.buckets:
            for n in range(2, min(self.max_n, ids.shape[1]) + 1):
                windows = ids.unfold(1, n, 1)
                hashed = windows[..., 0] % self.buckets
                for position in range(1, n):
                    hashed = (hashed * BIGRAM_PRIME + windows[..., position]) % self.buckets
                valid = (windows != PAD_ID).all(dim=-1)
                grams.append(torch.where(valid, hashed + self.vocab_size, torch.full_like(hashed, PAD_ID)))
        features, _ = torch.cat(grams, dim=1).sort(dim=1)
        repeated = torch.zeros_like(features, dtype=torch.bool)
        repeated[:, 1:] = features[:, 1:] == features[:, :-1]
        return features.masked_fill(repeated, PAD_ID)

    def table_rows(self, features: torch.Tensor) -> torch.Tensor:
        """Row of each feature id in the weight table: 1 + its place among the seen n-grams, 0 if unseen."""
        if not len(self.seen_ngrams):
            return torch.zeros_like(features)
        place = torch.searchsorted(self.seen_ngrams, features).clamp(max=len(self.seen_ngrams) - 1)
        found = (self.seen_ngrams[place] == features) & (features != PAD_ID)
        return torch.where(found, place + 1, torch.zeros_like(place))

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

    @torch.no_grad()
    def fit_log_count_ratio(self, train: EncodedSplit) -> None:
        """Size the table to the training n-grams and set their per-class log-count ratios from binarised
        counts. Call before the optimizer is built: the weight parameter is replaced."""
        features, labels = [], []
        for _, ids, batch_labels in iterate_batches(train, COUNT_BATCH, shuffle=False):
            batch = self.feature_ids(ids)
            present = batch != PAD_ID
            features.append(batch[present])
            labels.append(batch_labels.unsqueeze(1).expand_as(batch)[present])
        seen, row = torch.unique(torch.cat(features), return_inverse=True)
        counts = torch.zeros(len(seen), self.num_classes, dtype=torch.float64)
        counts.index_put_((row, torch.cat(labels)), torch.ones((), dtype=counts.dtype), accumulate=True)
        in_class = counts + self.smoothing
        elsewhere = counts.sum(dim=1, keepdim=True) - counts + self.smoothing
        ratio = torch.log(in_class / in_class.sum(dim=0)) - torch.log(elsewhere / elsewhere.sum(dim=0))
        self._allocate(len(seen))
        self.seen_ngrams.copy_(seen)
        self.log_count_ratio[1:] = ratio.to(self.log_count_ratio.dtype)
