"""RESULTS.md from the benchmark records: accuracy mean ± std per model and device, the targets, and the
time-to-accuracy of our ``fasttext`` model against the fastText binary.

A record is one training: dataset, model, seed, fold (cross-validation) and device. For a cross-validated
dataset, a seed's accuracy is the mean over its folds; mean ± std are then taken over seeds, so every
number is "mean over seeds" whatever the protocol.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.peers import NAMES
from pipelines.config import set_flags
from pipelines.search.study import REFIT_KEY

RESULTS_PAGE = Path(__file__).resolve().parent / "RESULTS.md"
RECORDS_DIR = RESULTS_PAGE.parent / "results"
NOTES = RECORDS_DIR / "notes.md"
QUALITY_RECORDS = RECORDS_DIR / "quality.json"
EMBEDDING_RECORDS = RECORDS_DIR / "embeddings.json"
LANGUAGE_MODEL_RECORDS = RECORDS_DIR / "language_models.json"
EXECUTOR_RECORDS = RECORDS_DIR / "executors.md"
SCALE_RECORDS = RECORDS_DIR / "scale.md"
SUITE_CPU_RECORDS = RECORDS_DIR / "suite_cpu.md"
SPEED_RECORDS = (EXECUTOR_RECORDS, SCALE_RECORDS, SUITE_CPU_RECORDS)
"""What benchmarks/executors.py, scale.py and suite_cpu.py append to with ``--record`` (the DAG against `dvc
repro`, each stage's cost against corpus size, where the test suite's CPU goes); RESULTS.md shows the newest
section of each."""
# dataset -> (target, published anchor); also the datasets the quality benchmark runs by default, in table order
TARGETS = {
    "trec": (92.0, "CNN-rand 91.2 (Kim 2014); LinearSVC uni+bigram 91.0-91.2"),
    "sst2": (85.0, "CNN-rand 82.7, DAN-rand 83.2, BiNB 83.1 (phrase-trained)"),
    "sst1": (46.0, "CNN-rand 45.0, RNTN 45.7, DAN-rand 45.4 (phrase-trained)"),
    "mr": (79.5, "NBSVM-bi 79.4 (Wang & Manning 2012)"),
}
DATASET_ORDER = tuple(TARGETS)
TIE = 1e-9
"""Accuracies in % that differ by less are equal (the same correct count, summed in another order)."""
UNTUNED = "none: a set no recipe here was tuned on (`--dataset local --name`)"
"""The anchor of a set without a target of its own: there, ours chosen on validation must match the best peer."""
WITHIN = 0.005


def is_peer(model: str) -> bool:
    """A peer, or a ``--tag``ged variant of one (``tfidf-logreg+k``)."""
    return model.split("+")[0] in NAMES


def per_seed(records: list[dict[str, Any]], field: str = "accuracy") -> list[float]:
    by_seed: dict[int, list[float]] = defaultdict(list)
    for record in records:
        by_seed[record["seed"]].append(record[field])
    return [statistics.fmean(values) for _, values in sorted(by_seed.items())]


def unfinished_seeds(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The records without those of a cross-validated seed missing some of its folds, and a line naming each
    such seed: a run stopped part-way (records are saved after every partition) would otherwise show the mean of
    whichever folds finished as that seed's number."""
    folds_seen: dict[tuple[str, str, str, int], set[int]] = defaultdict(set)
    folds_wanted: dict[tuple[str, str, str, int], int] = defaultdict(int)
    for record in records:
        if record.get("folds"):
            key = (record["dataset"], record["model"], record["device"], record["seed"])
            folds_seen[key].add(record["fold"])
            folds_wanted[key] = max(folds_wanted[key], record["folds"])
    missing = {key for key, seen in folds_seen.items() if not set(range(folds_wanted[key])) <= seen}
    kept = [r for r in records if (r["dataset"], r["model"], r["device"], r["seed"]) not in missing]
    lines = []
    for key in sorted(missing):
        dataset, model, device, seed = key
        lines.append(
            f"{dataset} `{model}` seed {seed} on {device}: {len(folds_seen[key])} of {folds_wanted[key]} folds"
        )
    return kept, lines


def summary(records: list[dict[str, Any]]) -> tuple[float, float, int]:
    """(mean %, std %, seeds)."""
    values = [100 * value for value in per_seed(records)]
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), spread, len(values)


TARGET_SEEDS = 3
"""The targets are means over at least this many seeds; a row of ours with fewer cannot be the pick while one
with enough exists (a lucky single seed would otherwise win on validation)."""


def _selection_score(records: list[dict[str, Any]]) -> float:
    """Our headline model is the one with the best mean *validation* accuracy, so no test number picks it."""
    if all("valid_accuracy" in record for record in records):
        return statistics.fmean(per_seed(records, "valid_accuracy"))
    return statistics.fmean(per_seed(records))


def _cell(records: list[dict[str, Any]]) -> str:
    if not records:
        return "–"
    mean, spread, seeds = summary(records)
    return f"{mean:.1f} ± {spread:.1f} (n={seeds})"


def _seconds(records: list[dict[str, Any]]) -> str:
    return f"{statistics.fmean(record['seconds'] for record in records):.1f}" if records else "–"


def _protocol(records: list[dict[str, Any]]) -> str:
    folds = next((record["folds"] for record in records if record.get("folds")), None)
    return f"{folds}-fold cross-validation" if folds else "official test split"


SPACES_PREFIX = "search.spaces."


def _setting(rows: list[dict[str, Any]]) -> str:
    """Our model's overrides as flags; a searched row's are its fixed ones, the searched keys named, since each
    partition's search chose its own values (in the records, ``search.chosen``); a space given on the command
    line (``-S search.spaces.<group>=...``) is named by its keys there, not repeated as a flag."""
    overrides, search = rows[0].get("overrides", {}), rows[0].get("search")
    if not search:
        return f"`{_flags(overrides)}`"
    ensemble = search.get("ensemble_size", 1)
    refit = REFIT_KEY if ensemble > 1 else None
    fixed = {
        key: value
        for key, value in overrides.items()
        if key not in search["chosen"] and key != refit and not key.startswith(SPACES_PREFIX)
    }
    searched = ", ".join(key.rsplit(".", 1)[-1] for key in search["chosen"])
    first = ", the first the model's own settings," if search.get("baseline_first") else ""
    described = f"`{_flags(fixed)}`, then a search of {search['trials']} trials{first} over {searched} per partition"
    if "sampler_seed" in search:
        described += " (its sampler seeded anew for each seed)"
    if refit:
        kept = sum(bool(row["search"].get("refit_kept")) for row in rows)
        described += (
            f", the best trial's settings then trained again as a seed ensemble of {ensemble} (kept where it scored "
            f"higher on validation: {kept} of {len(rows)} partitions)"
        )
    return described


def _flags(overrides: dict[str, Any]) -> str:
    return set_flags({key: value for key, value in overrides.items() if key != "dataset.name"}) or "(defaults)"


def render_results(
    records: list[dict[str, Any]],
    machine: dict[str, str],
    embedding_records: list[dict[str, Any]] | None = None,
    language_model_records: list[dict[str, Any]] | None = None,
    speed_records: tuple[Path, ...] = SPEED_RECORDS,
) -> str:
    """The whole RESULTS.md; ``embedding_records`` and ``language_model_records`` default to those saved by
    benchmarks/embeddings.py and benchmarks/language_models.py. The CPU named on the Machine line is the one the
    records were made on (their ``machine`` field), not the one rendering; ``machine`` gives the rest."""
    if embedding_records is None:
        embedding_records = json.loads(EMBEDDING_RECORDS.read_text()) if EMBEDDING_RECORDS.exists() else []
    if language_model_records is None:
        saved = LANGUAGE_MODEL_RECORDS
        language_model_records = json.loads(saved.read_text(encoding="utf-8")) if saved.exists() else []
    records, unfinished = unfinished_seeds(records)
    grouped: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        grouped[record["dataset"]][(record["model"], record["device"])].append(record)
    datasets = [name for name in DATASET_ORDER if name in grouped] + sorted(set(grouped) - set(DATASET_ORDER))
    has_gpu = any(record["device"] == "cuda" for record in records)
    lines = [
        "# Model quality, side by side",
        "",
        "Generated by `benchmarks/quality.py` from `benchmarks/results/quality.json`; do not edit by hand",
        "(hand-written notes live in `benchmarks/results/notes.md` and are appended below).",
        "Test accuracy in %, mean ± standard deviation over seeds (n = seeds; for cross-validated sets each",
        "seed's number is the mean over its folds). Valid: mean best validation accuracy (early stopping's pick).",
        "Train s: seconds to train the reported model, mean per run.",
        "No externally pretrained vectors anywhere: `static`/`non-static`/`multichannel` use vectors trained by",
        "our embed stage.",
        "",
        "Machine: " + "; ".join(f"{key} {value}" for key, value in _recorded_machine(records, machine).items()) + ".",
        "",
        *(
            ["Not counted until their run finishes (a stopped run keeps the folds it finished):"]
            + [f"- {line}" for line in unfinished]
            + [""]
            if unfinished
            else []
        ),
        "## Targets",
        "",
        "Ours: the model (or `--tag`ged variant) with the best mean validation accuracy among those run with at",
        f"least {TARGET_SEEDS} seeds, so the test set picks nothing; peers: the best test accuracy among them.",
        "",
        "| dataset | target | published anchor | ours (chosen on validation) | best peer | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in datasets:
        target, anchor = TARGETS.get(name, (None, UNTUNED))
        cpu = {model: rows for (model, device), rows in grouped[name].items() if device == "cpu"}
        ours = {model: rows for model, rows in cpu.items() if not is_peer(model)}
        theirs = {model: summary(rows) for model, rows in cpu.items() if is_peer(model)}
        if not ours:
            continue
        # rows recorded before validation accuracy was stored can only be ranked by test accuracy; they compete
        # only when no row has a validation score, so a test number never outranks a validation one
        validated = {model: rows for model, rows in ours.items() if all("valid_accuracy" in r for r in rows)}
        pool = validated or ours
        pool = {model: rows for model, rows in pool.items() if len(per_seed(rows)) >= TARGET_SEEDS} or pool
        chosen = max(pool, key=lambda model: _selection_score(pool[model]))
        best_ours = (chosen, summary(ours[chosen]))
        best_peer = max(theirs.items(), key=lambda item: item[1][0]) if theirs else None
        if target is None:  # a set no recipe was tuned on: the bar is the best peer
            met = "yes" if best_peer is None or best_ours[1][0] >= best_peer[1][0] - TIE else "no"
        else:
            beats = best_peer is None or best_ours[1][0] > best_peer[1][0]
            met = "yes" if best_ours[1][0] >= target and beats else "no"
        peer_text = f"{best_peer[0]} {best_peer[1][0]:.1f}" if best_peer else "–"
        lines.append(
            f"| {name} | {'≥ best peer' if target is None else f'≥ {target}'} | {anchor} | {best_ours[0]} {best_ours[1][0]:.1f} ± {best_ours[1][1]:.1f} "
            f"| {peer_text} | {met} |"
        )
    for name in datasets:
        models = sorted({model for model, _ in grouped[name]}, key=lambda model: (is_peer(model), model))
        some = next(iter(grouped[name].values()))
        lines += ["", f"## {name} ({_protocol(some)})", ""]
        header = "| model | valid | CPU accuracy | CPU train s |" + (" GPU accuracy | GPU train s |" if has_gpu else "")
        lines += [header + " setting |", "| --- " * header.count("|") + "|"]
        for model in models:
            cpu, gpu = grouped[name].get((model, "cpu"), []), grouped[name].get((model, "cuda"), [])
            rows = cpu or gpu
            setting = rows[0].get("setting") if is_peer(model) else _setting(rows)
            valid = [record for record in rows if "valid_accuracy" in record]
            valid_text = f"{100 * statistics.fmean(per_seed(valid, 'valid_accuracy')):.1f}" if valid else "–"
            cells = f"| {model} | {valid_text} | {_cell(cpu)} | {_seconds(cpu)} |"
            if has_gpu:
                cells += f" {_cell(gpu)} | {_seconds(gpu)} |"
            lines.append(f"{cells} {setting} |")
    lines += _time_to_accuracy(grouped)
    lines += _embeddings(embedding_records)
    lines += _language_models(language_model_records)
    lines += _speed(speed_records)
    if NOTES.exists():
        lines += ["", NOTES.read_text(encoding="utf-8").rstrip()]
    return "\n".join(lines) + "\n"


def rewrite_results_page(out: Path = RESULTS_PAGE) -> None:
    """RESULTS.md again from every record file as saved: what a speed benchmark's ``--record`` ends with, so the
    page shows the table it just appended."""
    from benchmarks.quality import MACHINE  # torch's version for the Machine line; imported only to write a page

    records = json.loads(QUALITY_RECORDS.read_text(encoding="utf-8")) if QUALITY_RECORDS.exists() else []
    out.write_text(render_results(records, MACHINE), encoding="utf-8")


def _recorded_machine(records: list[dict[str, Any]], machine: dict[str, str]) -> dict[str, str]:
    """``machine`` with its CPU (or GPU) replaced by the ones the records name, each with its count of records when
    there are several: re-rendering on another machine must not claim its CPU made the numbers."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for record in records:
        if "machine" in record:
            counts["gpu" if record["device"] == "cuda" else "cpu"][record["machine"]] += 1
    described = dict(machine)
    for kind, by_name in counts.items():
        if len(by_name) == 1:
            described[kind] = next(iter(by_name))
        else:
            described[kind] = ", ".join(
                f"{name} ({count:,} record{'s' if count > 1 else ''})" for name, count in sorted(by_name.items())
            )
    return described


def _speed(paths: tuple[Path, ...]) -> list[str]:
    """The newest section each speed benchmark appended to its record file, under that file's title and the
    paragraph saying how it was made (the command), so RESULTS.md shows the latest tables without restating
    them; older sections stay in the files."""
    shown = [path for path in paths if path.exists()]
    if not shown:
        return []
    lines = [
        "",
        "## Speed: a DAG run against `dvc repro`, stage cost against corpus size, the test suite's CPU",
        "",
        "The newest run each benchmark recorded (`--record`); every earlier one is in the file named.",
    ]
    for path in shown:
        title, intro, heading, body = _newest_section(path.read_text(encoding="utf-8"))
        lines += ["", f"### {title}: {heading}", "", f"From `benchmarks/results/{path.name}`. {intro}", "", body]
        plot = path.with_suffix(".png")
        if plot.exists():
            lines += ["", f"![{title}, log-log](results/{plot.name})"]
    return lines


def _newest_section(text: str) -> tuple[str, str, str, str]:
    """(title, intro, heading, body) of a record file: ``# title``, an intro paragraph, then ``### heading``
    sections appended oldest first."""
    title_line, _, rest = text.partition("\n")
    intro, *sections = rest.split("\n### ")
    if not sections:
        raise ValueError(f"no '### ' section under {title_line!r}")
    heading, _, body = sections[-1].partition("\n")
    return title_line.removeprefix("# ").strip(), " ".join(intro.split()), heading.strip(), body.strip()


def _time_to_accuracy(grouped) -> list[str]:
    """Seconds each of our fastText-style models (``fasttext``, ``fasttext-sparse``, ...: whatever recorded a
    test curve) needs to come within 0.5 point of the fastText binary (bigram) on the same partition."""
    rows = []
    for name, by_model in grouped.items():
        binary = {record["seed"]: record for record in by_model.get(("fasttext-binary-bigram", "cpu"), [])}
        for (model, device), records in sorted(by_model.items()):
            ours = {record["seed"]: record for record in records if record.get("test_curve") and device == "cpu"}
            for seed in sorted(set(ours) & set(binary)):
                if ours[seed].get("fold") is not None:
                    continue
                goal = binary[seed]["accuracy"] - WITHIN
                reached = next((point for point in ours[seed]["test_curve"] if point[1] >= goal), None)
                ours_text = f"{reached[0]:.2f} s ({100 * reached[1]:.1f}%)" if reached else "not reached"
                ratio = f"{reached[0] / binary[seed]['seconds']:.1f}×" if reached else "–"
                rows.append(
                    f"| {name} | {model} | {seed} | {100 * binary[seed]['accuracy']:.1f}% in "
                    f"{binary[seed]['seconds']:.2f} s | {ours_text} | {ratio} |"
                )
    if not rows:
        return []
    return [
        "",
        "## Time to accuracy: our fastText-style models vs the fastText binary (bigrams)",
        "",
        "Seconds of training until our model's test accuracy is within 0.5 point of the binary's final accuracy",
        "(epoch granularity; the binary's time is its whole training at the learning rate chosen on validation).",
        "",
        "| dataset | ours | seed | fastText binary | ours reaches it at | ours / binary |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
    ]


def _embeddings(records: list[dict[str, Any]]) -> list[str]:
    """The vectors table of benchmarks/embeddings.py: scores and seconds per dataset, then the downstream
    accuracy of a static TextCNN on each (mean ± std over seeds)."""
    if not records:
        return []
    lines = [
        "",
        "## Word vectors (benchmarks/embeddings.py)",
        "",
        "Trained by the embed stage's code on each dataset's training split (no external text), then frozen under",
        "a `static` TextCNN. WordSim353 / SimLex-999: Spearman ρ on the pairs the vocabulary covers; analogies:",
        "accuracy on the answerable share (in brackets). Scores on a few thousand sentences are mostly noise;",
        "the downstream accuracy is what these vectors are for. Embed s: training seconds, mean per seed.",
        "",
        "| dataset | vectors | embed s | WordSim353 ρ | SimLex-999 ρ | analogies | vocab coverage | valid "
        "| static TextCNN test |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        grouped[(record["dataset"], record["model"])].append(record)
    order = {name: position for position, name in enumerate(DATASET_ORDER)}
    for (dataset, vectors), rows in sorted(grouped.items(), key=lambda item: (order.get(item[0][0], 99), item[0])):

        def mean(field: str, rows: list[dict[str, Any]] = rows) -> float:
            return statistics.fmean(row[field] for row in rows)

        lines.append(
            f"| {dataset} | {vectors} | {mean('embed_seconds'):.1f} | {mean('wordsim353_spearman'):.3f} "
            f"| {mean('simlex999_spearman'):.3f} | {100 * mean('analogy_accuracy'):.1f}% "
            f"({100 * mean('analogy_coverage'):.0f}%) | {100 * mean('coverage'):.1f}% "
            f"| {100 * statistics.fmean(per_seed(rows, 'valid_accuracy')):.1f} | {_cell(rows)} |"
        )
    return lines


def _language_models(records: list[dict[str, Any]]) -> list[str]:
    """Perplexity per corpus and cell (lower is better), with the samples of the first seed."""
    if not records:
        return []
    lines = [
        "",
        "## Language models (benchmarks/language_models.py)",
        "",
        "Perplexity, lower is better. Train: training perplexity (training mode, with dropout) of the best epoch",
        "(chosen on validation, whose weights are kept) and of the last (what d2l reports after its last epoch).",
        "Valid/test: the kept weights on held-out text read in order, state carried. Tokens/s: training.",
        "",
        "| corpus | cell | seed | device | epochs (best) | train best / last | valid | test | wall s | tokens/s "
        "| setting |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    ordered = sorted(
        records, key=lambda r: (r["dataset"], r.get("tag", ""), CELL_ORDER.index(r["cell"]), r["seed"], r["device"])
    )
    for r in ordered:
        cell = r["cell"] + (f" ({r['tag']})" if r.get("tag") else "")
        lines.append(
            f"| {r['dataset']} | {cell} | {r['seed']} | {r['device']} | {r['epochs_run']} ({r['best_epoch']}) "
            f"| {r['train_perplexity']:.2f} / {_last_train(r)} | {r['valid_perplexity']:.2f} | {r['test_perplexity']:.2f} "
            f"| {r['seconds']:.0f} | {r['tokens_per_second']:,} | {r['setting']} |"
        )
    lines += ["", "Samples (first seed of each corpus and cell):", ""]
    shown = set()
    for r in ordered:
        variant = (r["dataset"], r["cell"], r.get("tag", ""))
        if variant in shown:
            continue
        shown.add(variant)
        name = " ".join(part for part in variant if part)
        for prefix, text in r["samples"].items():
            lines.append(f"- {name}, `{prefix}`: " + text.replace("\n", " / ")[:160])
    return lines


CELL_ORDER = ["rnn", "gru", "lstm"]


def _last_train(record: dict[str, Any]) -> str:
    last = record.get("last_train_perplexity")
    return f"{last:.2f}" if last is not None else "–"
