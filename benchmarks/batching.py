"""Batching speed: one training epoch's padded batches, the per-row copy loop (the baseline: the pipeline's
previous implementation) against :func:`pipelines.training.batches.pad_batch`'s single gather.

    TEXTFLOW_MIRROR=../shared/mirror python -m benchmarks.batching [--dataset sst2] [--train-on phrases]

The split is the real encoded training split of the dataset (SST-2's 76,961 phrases by default: many short
rows, where per-row overhead shows most), batched as training batches it (seeded, length-bucketed). Both
ways must give identical tensors; the script fails otherwise. Prints seconds per epoch for each and the ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.quality import workbenches
from pipelines.config import load_params
from pipelines.text.sequences import EncodedSplit
from pipelines.text.vocab import PAD_ID
from pipelines.training.batches import batch_rows, pad_batch


def per_row_pad(split: EncodedSplit, rows: np.ndarray, min_length: int = 1) -> torch.Tensor:
    """The baseline: ``lengths`` of the whole split per batch, then one slice copy per row."""
    lengths = split.lengths[rows]
    width = max(int(lengths.max()) if len(rows) else 1, min_length, 1)
    batch = np.full((len(rows), width), PAD_ID, dtype=np.int64)
    for position, row in enumerate(rows):
        sequence = split.sequence(row)
        batch[position, : len(sequence)] = sequence
    return torch.from_numpy(batch)


def epoch_seconds(pad, split: EncodedSplit, batches: list[np.ndarray], repeats: int) -> tuple[float, list]:
    """Best of ``repeats`` passes over the epoch's batches, and the last pass's tensors."""
    best, padded = float("inf"), []
    for _ in range(repeats):
        began = time.perf_counter()
        padded = [pad(split, rows) for rows in batches]
        best = min(best, time.perf_counter() - began)
    return best, padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sst2")
    parser.add_argument("--train-on", default="phrases", choices=["sentences", "phrases"])
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    params = load_params(overrides={"dataset.name": args.dataset, "dataset.train_on": args.train_on})
    _, bench = next(workbenches(params, seeds=[1], folds=10))
    split = bench.encoded(params).splits["train"]
    batches = batch_rows(split.lengths, args.batch_size, shuffle=True, seed=1, epoch=1)

    baseline, expected = epoch_seconds(per_row_pad, split, batches, args.repeats)
    gathered, actual = epoch_seconds(pad_batch, split, batches, args.repeats)
    if not all(torch.equal(a, b) for a, b in zip(expected, actual, strict=True)):
        raise SystemExit("pad_batch and the per-row baseline disagree")
    print(
        f"{args.dataset} {args.train_on}: {len(split):,} rows, {len(batches):,} batches of {args.batch_size}\n"
        f"  per-row loop (baseline)  {baseline:.3f} s/epoch\n"
        f"  pad_batch (one gather)   {gathered:.3f} s/epoch\n"
        f"  speed-up                 {baseline / gathered:.1f}x"
    )


if __name__ == "__main__":
    main()
