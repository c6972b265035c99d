"""The part the linear n-gram models share: a text as its distinct word n-grams, and a weight table with rows only
for the n-grams seen in training.

Word n-grams beyond unigrams are hashed into ``buckets`` ids past the vocabulary, fastText's trick; only the ids
seen in training get a row (``seen_ngrams``, sorted ids), plus row 0 for every other n-gram, whose statistic is
0 so it adds nothing. A hash space of millions of buckets therefore costs nothing: the weights are as many as the
training n-grams (about 150k on MR), and an Adam step touches only those; two of MR's ~150k bigrams share an id
in about 1.5% of cases at 10M buckets. The table's size is known after :meth:`SeenNgramTable.fit_to` or from a
saved state dict, so a saved model rebuilt from its config and state dict predicts the same without the
training data.
"""

from __future__ import annotations

import torch
from torch import nn

from pipelines.models.fasttext import BIGRAM_PRIME
from pipelines.text.sequences import EncodedSplit
from pipelines.text.vocab import PAD_ID
from pipelines.training.batches import iterate_batches

COUNT_BATCH = 1024


class SeenNgramTable(nn.Module):
    """Base of a linear model over a text's distinct n-grams: ``weight`` (one row per seen n-gram, a column per
    class), ``bias``, dropout, and the per-n-gram statistic buffer its subclass fits from the training split
    (:meth:`fit_statistics`, named by :attr:`statistic`)."""

    min_length = 1
    statistic = "statistic"
    statistic_columns: int | None = None
    """Columns of the statistic: ``None`` for one per class."""

    def __init__(
        self, vocab_size: int, num_classes: int, max_n: int, buckets: int, dropout: float, initial_weight: float = 0.0
    ) -> None:
        super().__init__()
        self.vocab_size, self.num_classes = vocab_size, num_classes
        self.max_n, self.buckets, self.initial_weight = max_n, buckets, initial_weight
        self.bias = nn.Parameter(torch.zeros(num_classes))
        self.dropout = nn.Dropout(dropout)
        self._allocate(0)

    def _allocate(self, seen: int) -> None:
        device = self.bias.device
        columns = self.statistic_columns or self.num_classes
        self.weight = nn.Parameter(torch.full((seen + 1, self.num_classes), self.initial_weight, device=device))
        self.register_buffer(self.statistic, torch.zeros(seen + 1, columns, device=device))
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

    @torch.no_grad()
    def fit_to(self, train: EncodedSplit) -> None:
        """Size the table to the training n-grams and fit their statistic from the binarised counts per class
        (``counts[ngram, class]``: the training texts of the class holding the n-gram). Call before the
        optimizer is built: the weight parameter is replaced."""
        features, labels = [], []
        for _, ids, batch_labels in iterate_batches(train, COUNT_BATCH, shuffle=False):
            batch = self.feature_ids(ids)
            present = batch != PAD_ID
            features.append(batch[present])
            labels.append(batch_labels.unsqueeze(1).expand_as(batch)[present])
        seen, row = torch.unique(torch.cat(features), return_inverse=True)
        counts = torch.zeros(len(seen), self.num_classes, dtype=torch.float64)
        counts.index_put_((row, torch.cat(labels)), torch.ones((), dtype=counts.dtype), accumulate=True)
        statistic = self.fit_statistics(counts, texts=len(train))
        self._allocate(len(seen))
        self.seen_ngrams.copy_(seen)
        getattr(self, self.statistic)[1:] = statistic.to(self.weight.dtype)

    def fit_statistics(self, counts: torch.Tensor, texts: int) -> torch.Tensor:
        raise NotImplementedError
