"""Budgeted hyperparameter search: Optuna's seeded TPE sampler proposes params from ``search.spaces``, each trial
is one training judged on validation only, and a trial whose validation score falls below the median of earlier
trials after an epoch is pruned.

The study is never stored: a search is its trials' records (params, validation curve, final score), and
:func:`pipelines.search.study.build_study` rebuilds an in-memory study from them whenever a decision is due, in
the sweep's propose task or in a trial's train stage (pruning), on any worker. So a search needs no shared
database, and the same records give the same next proposals.
"""
