"""Stage ``evaluate``: score the trained model on the test split; write metrics, the per-example confusion
table for ``dvc plots`` and a confusion-matrix PNG."""

from __future__ import annotations

import logging

from pipelines.config import load_params
from pipelines.evaluation import classification_metrics, confusion_frame, plot_confusion
from pipelines.io import atomic_path, write_json
from pipelines.models.saved import load_model
from pipelines.stages import stage_cli
from pipelines.text.sequences import EncodedSplit
from pipelines.training.device import resolve_device
from pipelines.training.loop import predict_probabilities

log = logging.getLogger("evaluate")
BATCH_SIZE = 256


def main(argv: list[str] | None = None) -> None:
    stage_cli("evaluate", __doc__, ["tokens", "model", "metrics", "confusion", "plot"], evaluate, argv)


def evaluate(args) -> None:
    params = load_params(args.params)
    device = resolve_device(params.train.device)
    model, saved = load_model(args.model, device)
    class_names = saved["class_names"]
    test = EncodedSplit.load(args.tokens / "test.npz")
    predictions = predict_probabilities(model, test, BATCH_SIZE, device).argmax(axis=1)
    metrics = classification_metrics(test.labels, predictions, class_names)
    write_json(args.metrics, {"test": metrics})
    with atomic_path(args.confusion) as temporary:
        confusion_frame(test.labels, predictions, class_names).to_csv(temporary, index=False)
    plot_confusion(
        test.labels,
        predictions,
        class_names,
        args.plot,
        f"{params.dataset.name} / {params.model.type}: accuracy {metrics['accuracy']:.3f}",
    )
    log.info("test accuracy %.4f, macro-F1 %.4f on %d examples", metrics["accuracy"], metrics["macro_f1"], len(test))


if __name__ == "__main__":
    main()
