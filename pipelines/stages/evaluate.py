"""Stage ``evaluate``: score the trained model on the validation and test splits, as its task scores
(classification: accuracy, macro-F1 and a confusion matrix; language model: perplexity and samples); write the
metrics and the task's figures and how raw text reaches the model (``--preprocessing``: cleaning, tokenizer and
stopwords as trained, which ``predict --local`` and the served model read), and log them, both splits' content
hashes and the served model to the run.
The registry gate selects on validation; test is reported."""

from __future__ import annotations

from pipelines.config import load_params
from pipelines.stages import stage_cli
from pipelines.tasks import get_task


def main(argv: list[str] | None = None) -> None:
    stage_cli(
        "evaluate",
        __doc__,
        ["tokens", "validated", "validation", "stopwords", "model", "run", "metrics", "figures", "preprocessing"],
        evaluate,
        argv,
    )


def evaluate(args) -> None:
    params = load_params(args.params)
    get_task(params).evaluate(args, params)


if __name__ == "__main__":
    main()
