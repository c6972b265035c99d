"""Smoke runs of benchmarks/quality.py on the offline demo corpus (the full benchmark is not part of CI)."""

import json

import yaml

from benchmarks.quality import main as quality
from benchmarks.report import UNTUNED
from pipelines.config import DemoCorpus
from pipelines.data.demo import generate_demo_corpus
from pipelines.data.formats import write_label_text
from tests.conftest import ROOT


def _small_params(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["dataset"]["demo"] |= {"train_size": 600, "test_size": 200}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_demo_benchmark_puts_our_models_beside_the_peers(tmp_path):
    records, out = tmp_path / "quality.json", tmp_path / "RESULTS.md"
    common = ["--params", str(_small_params(tmp_path)), "--records", str(records), "--out", str(out), "--seeds", "1"]
    quality(
        [
            "--datasets",
            "demo",
            "--models",
            "fasttext",
            "textcnn-rand",
            "tfidf-logreg",
            "fasttext-binary-bigram",
            "--epochs",
            "3",
            *common,
        ]
    )
    rows = json.loads(records.read_text())
    assert {row["model"] for row in rows} == {"fasttext", "textcnn-rand", "tfidf-logreg", "fasttext-binary-bigram"}
    assert all(row["accuracy"] > 0.5 for row in rows), rows  # 4 balanced classes: chance is 0.25
    table = out.read_text()
    assert "| textcnn-rand | " in table and "| fasttext-binary-bigram | " in table and "(n=1)" in table
    assert "## Time to accuracy" in table

    quality(["--datasets", "demo", "--models", "tfidf-logreg", *common])  # a re-run replaces, never duplicates
    assert len(json.loads(records.read_text())) == len(rows)


def test_a_local_file_without_test_split_is_cross_validated_under_its_own_name_against_the_best_peer(tmp_path):
    """A set you bring (`--name`) gets its own table and a Targets row whose bar is the best peer: no recipe here
    was tuned on it."""
    frame = generate_demo_corpus(DemoCorpus(train_size=300, test_size=20), seed=3)["train"]
    write_label_text(frame, tmp_path / "mine.txt")
    records, out = tmp_path / "quality.json", tmp_path / "RESULTS.md"
    quality(
        [
            "--dataset",
            "local",
            "--train",
            str(tmp_path / "mine.txt"),
            "--name",
            "my-set",
            "--folds",
            "3",
            "--seeds",
            "1",
            "--models",
            "fasttext",
            "tfidf-logreg",
            "--epochs",
            "2",
            "--params",
            str(_small_params(tmp_path)),
            "--records",
            str(records),
            "--out",
            str(out),
        ]
    )
    rows = json.loads(records.read_text())
    assert {row["dataset"] for row in rows} == {"my-set"}
    assert sorted(row["fold"] for row in rows) == [0, 0, 1, 1, 2, 2] and all(row["folds"] == 3 for row in rows)
    table = out.read_text()
    assert "## my-set (3-fold cross-validation)" in table
    mean = {
        model: 100 * sum(r["accuracy"] for r in rows if r["model"] == model) / 3
        for model in ("fasttext", "tfidf-logreg")
    }
    met = "yes" if mean["fasttext"] >= mean["tfidf-logreg"] - 1e-9 else "no"
    (target_row,) = [line for line in table.splitlines() if line.startswith("| my-set |")]
    assert target_row.startswith(f"| my-set | ≥ best peer | {UNTUNED} | fasttext {mean['fasttext']:.1f}")
    assert target_row.endswith(f"| tfidf-logreg {mean['tfidf-logreg']:.1f} | {met} |")


def test_on_chinese_text_tokenized_with_jieba_the_peers_read_jiebas_words(tmp_path):
    """Cleaned Chinese keeps each run of characters whole. Every text here is a distinct run and only its last
    word tells its label, so a peer reading runs as words would meet only unseen "words" in each test fold and
    score near chance (50%); reading jieba's words, as our models do, it learns the label words."""
    subjects = ["这本书", "这部电影", "这个手机", "这家餐厅", "这件衣服", "这款游戏", "这首歌", "这个酒店"]
    adverbs = ["真的很", "实在太", "非常", "特别", "确实"]
    words = {"positive": ["喜欢", "推荐", "满意", "精彩"], "negative": ["失望", "后悔", "糟糕", "无聊"]}
    lines = [
        f"{label} {subject}{adverb}{word}"
        for label, label_words in words.items()
        for subject in subjects
        for adverb in adverbs
        for word in label_words
    ]
    (tmp_path / "reviews.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = tmp_path / "quality.json"
    quality(
        [
            *("--dataset", "local", "--train", str(tmp_path / "reviews.txt"), "--name", "reviews"),
            *("--folds", "3", "--seeds", "1", "--models", "tfidf-logreg", "-S", "tokenize.method=jieba"),
            *("-S", "keywords.stopwords=nltk"),
            *("--params", str(_small_params(tmp_path)), "--records", str(records), "--out", str(tmp_path / "R.md")),
        ]
    )
    accuracies = [row["accuracy"] for row in json.loads(records.read_text())]
    assert len(accuracies) == 3 and min(accuracies) > 0.9, accuracies


def test_a_malformed_local_file_stops_the_benchmark_with_one_line_naming_it(tmp_path, capsys):
    path = tmp_path / "sentences.txt"
    path.write_text("1 a good film\n0\n", encoding="utf-8")
    records, out = tmp_path / "quality.json", tmp_path / "RESULTS.md"
    try:
        quality(
            [
                "--dataset",
                "local",
                "--train",
                str(path),
                "--models",
                "tfidf-logreg",
                "--seeds",
                "1",
                "--params",
                str(ROOT / "params.yaml"),
                "--records",
                str(records),
                "--out",
                str(out),
            ]
        )
    except SystemExit as stop:
        assert stop.code == 2
    else:
        raise AssertionError("a malformed file must stop the benchmark")
    error = capsys.readouterr().err.strip()
    assert error.endswith(  # named as the data root (the file's directory here) holds it
        f" {path.name}:2: a label and no text (expected '<label> <text>'); fix the line, or set "
        "dataset.local.on_bad_lines: skip to drop such lines (they are counted in "
        "reports/validation.json)"
    )
    assert "Traceback" not in error and not records.exists()


def test_embeddings_benchmark_puts_the_four_kinds_of_vectors_side_by_side(tmp_path):
    from benchmarks.embeddings import VECTORS
    from benchmarks.embeddings import main as embeddings

    records, out = tmp_path / "embeddings.json", tmp_path / "RESULTS.md"
    embeddings(
        [
            "--datasets",
            "demo",
            "--seeds",
            "1",
            "--epochs",
            "2",
            "-S",
            "embed.epochs=2",
            "-S",
            "embed.dim=24",
            "-S",
            "model.embedding_dim=24",
            "--params",
            str(_small_params(tmp_path)),
            "--records",
            str(records),
            "--quality-records",
            str(tmp_path / "none.json"),
            "--out",
            str(out),
        ]
    )
    rows = json.loads(records.read_text())
    assert sorted(row["model"] for row in rows) == sorted(VECTORS)
    assert all(row["embed_seconds"] > 0 and 0 <= row["accuracy"] <= 1 for row in rows)
    table = out.read_text()
    assert "## Word vectors" in table and all(f"| demo | {name} |" in table for name in VECTORS)


def test_the_tfidf_peer_takes_the_validation_prior_as_our_models_do():
    from benchmarks.peers import Split, tfidf_logistic_regression

    # one text, 60% "pos" in training but 20% in validation and 0% in test: only the shift predicts "neg"
    train = Split(["film"] * 10, ["pos"] * 6 + ["neg"] * 4)
    valid = Split(["film"] * 5, ["pos"] + ["neg"] * 4)
    test = Split(["film"] * 3, ["neg"] * 3)
    plain = tfidf_logistic_regression(train, valid, test, seed=1)
    shifted = tfidf_logistic_regression(train, valid, test, seed=1, label_prior="valid")
    assert (plain.accuracy, shifted.accuracy) == (0.0, 1.0)
    assert shifted.setting.endswith(", valid prior") and not plain.setting.endswith("prior")
    chosen = tfidf_logistic_regression(train, valid, test, seed=1, label_prior="auto")
    assert chosen.accuracy == 1.0 and chosen.setting.endswith(", valid prior"), "shifted: 4 of 5 on validation"
    same_mix = Split(["film"] * 5, ["pos"] * 3 + ["neg"] * 2)
    unshifted = tfidf_logistic_regression(train, same_mix, test, seed=1, label_prior="auto")
    assert unshifted.accuracy == 0.0 and not unshifted.setting.endswith("prior"), "a tie keeps the training prior"


def test_a_peer_that_cannot_take_the_validation_prior_is_refused_before_any_training(tmp_path, capsys):
    records = tmp_path / "quality.json"
    arguments = ["--datasets", "demo", "--models", "tfidf-logreg", "fasttext-binary-bigram", "--seeds", "1"]
    try:
        quality(
            [*arguments, "-S", "train.label_prior=valid", "--records", str(records), "--out", str(tmp_path / "q.md")]
        )
    except SystemExit as stop:
        assert stop.code == 2
    else:
        raise AssertionError("fastText with train.label_prior=valid must stop the benchmark")
    error = capsys.readouterr().err
    assert "cannot be applied to the peers fasttext-binary-bigram" in error and not records.exists()


def test_with_the_prior_chosen_on_validation_each_record_names_the_prior_it_served(tmp_path):
    records = tmp_path / "quality.json"
    common = ["--params", str(_small_params(tmp_path)), "--records", str(records), "--out", str(tmp_path / "q.md")]
    arguments = ["--datasets", "demo", "--models", "fasttext", "tfidf-logreg", "--seeds", "1", "--epochs", "2"]
    quality([*arguments, "-S", "train.label_prior=auto", *common])
    ours, peer = sorted(json.loads(records.read_text()), key=lambda row: row["model"])
    assert ours["model"] == "fasttext" and ours["label_prior"] in ("train", "valid") and ours["accuracy"] > 0.25
    assert peer["model"] == "tfidf-logreg" and "label_prior" not in peer


def test_a_single_lucky_seed_is_never_the_target_pick_over_a_three_seed_row():
    from benchmarks.report import render_results

    def rows(model, seeds, valid, test):
        return [
            {"dataset": "trec", "model": model, "seed": seed, "fold": None, "folds": None, "device": "cpu",
             "machine": "cpu", "overrides": {}, "accuracy": test, "seconds": 1.0, "valid_accuracy": valid}
            for seed in seeds
        ]  # fmt: skip

    records = rows("textcnn-rand", [1, 2, 3], 0.86, 0.90) + rows("textcnn-rand+lucky", [1], 0.95, 0.93)
    targets = render_results(records, {"cpu": "test"}).split("## trec")[0]
    assert "| trec | ≥ 92.0 |" in targets and "textcnn-rand 90.0" in targets and "lucky" not in targets


def test_a_run_stopped_after_a_partition_keeps_that_partitions_records_and_page(tmp_path, monkeypatch):
    """Records and RESULTS.md are written after every partition: stopping a run of hours (here at the second
    seed's first training) loses only the partition it was in."""
    import benchmarks.quality

    real_run_peer = benchmarks.quality.run_peer

    def stopped_at_seed_two(name, bench, params, threads):
        if bench.partition.seed == 2:
            raise KeyboardInterrupt
        return real_run_peer(name, bench, params, threads)

    monkeypatch.setattr(benchmarks.quality, "run_peer", stopped_at_seed_two)
    records, out = tmp_path / "quality.json", tmp_path / "RESULTS.md"
    arguments = ["--datasets", "demo", "--models", "tfidf-logreg", "--seeds", "1", "2"]
    files = ["--params", str(_small_params(tmp_path)), "--records", str(records), "--out", str(out)]
    try:
        quality([*arguments, *files])
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the run was to be stopped at seed 2")
    assert [(row["model"], row["seed"]) for row in json.loads(records.read_text())] == [("tfidf-logreg", 1)]
    assert "| tfidf-logreg | – | " in out.read_text() and "(n=1)" in out.read_text()


def test_a_cross_validated_seed_missing_folds_is_named_and_not_counted():
    from benchmarks.report import render_results

    def row(model, seed, fold, accuracy):
        return {"dataset": "mr", "model": model, "seed": seed, "fold": fold, "folds": 3, "device": "cpu",
                "machine": "cpu", "overrides": {}, "accuracy": accuracy, "seconds": 1.0, "valid_accuracy": 0.8}  # fmt: skip

    finished = [row("nb-ngrams", 1, fold, 0.80) for fold in range(3)]
    stopped = [row("nb-ngrams", 2, 0, 0.60)]  # a run stopped after seed 2's first fold
    page = render_results(finished + stopped, {"cpu": "test"}, [], [], speed_records=())
    assert "| nb-ngrams | 80.0 | 80.0 ± 0.0 (n=1) |" in page
    assert "- mr `nb-ngrams` seed 2 on cpu: 1 of 3 folds" in page.split("## Targets")[0]


def test_search_rows_are_the_best_trial_on_validation_with_the_settings_it_chose(tmp_path):
    records, out = tmp_path / "quality.json", tmp_path / "RESULTS.md"
    quality(
        [
            "--datasets", "demo", "--models", "nb-ngrams", "--search", "3", "--epochs", "2", "--seeds", "1",
            "--params", str(_small_params(tmp_path)), "--records", str(records), "--out", str(out),
        ]
    )  # fmt: skip
    (row,) = json.loads(records.read_text())
    assert row["model"] == "nb-ngrams+search"
    assert row["search"]["trials"] == 3 and 0 <= row["search"]["best_trial"] < 3
    chosen = row["search"]["chosen"]
    space = yaml.safe_load((ROOT / "params.yaml").read_text())["search"]["spaces"]
    assert set(chosen) == set(space["classifier"]) | set(space["nb_ngrams"])
    assert row["overrides"]["model.type"] == "nb_ngrams" and all(row["overrides"][k] == v for k, v in chosen.items())
    assert row["search"]["baseline_first"] is True
    assert "| nb-ngrams+search | " in out.read_text()
    assert "3 trials, the first the model's own settings, over" in out.read_text()


def test_each_seed_runs_its_own_search_draws_and_seed_one_draws_what_search_seed_draws(tmp_path):
    """One drawn trial per search (no baseline trial), so the chosen settings are the sampler's draw: two seeds
    draw different settings, and seed 1 with search.seed 5 draws what seed 5 with search.seed 1 does (the
    sampler is seeded search.seed + seed - 1)."""
    records, params = tmp_path / "quality.json", _small_params(tmp_path)

    def searched_by_seed(seeds: list[str], search_seed: int) -> dict[int, dict]:
        quality(
            [
                "--datasets", "demo", "--models", "nb-ngrams", "--search", "1", "--epochs", "1", "--seeds", *seeds,
                "-S", "search.baseline_first=false", "-S", f"search.seed={search_seed}",
                "--params", str(params), "--records", str(records), "--out", str(tmp_path / "RESULTS.md"),
            ]
        )  # fmt: skip
        return {row["seed"]: row["search"] for row in json.loads(records.read_text())}

    first = searched_by_seed(["1", "2"], 5)
    assert first[1]["chosen"] != first[2]["chosen"], "one draw for both seeds would measure one search twice"
    assert (first[1]["sampler_seed"], first[2]["sampler_seed"]) == (5, 6)
    assert searched_by_seed(["5"], 1)[5]["chosen"] == first[1]["chosen"]
    assert "(its sampler seeded anew for each seed)" in (tmp_path / "RESULTS.md").read_text()


def test_a_search_refit_as_a_seed_ensemble_is_kept_only_where_it_scores_higher_on_validation(tmp_path):
    records, out = tmp_path / "quality.json", tmp_path / "RESULTS.md"
    quality(
        [
            "--datasets", "demo", "--models", "nb-ngrams", "--search", "2", "--epochs", "2", "--seeds", "1",
            "-S", "search.ensemble_size=3",
            "--params", str(_small_params(tmp_path)), "--records", str(records), "--out", str(out),
        ]
    )  # fmt: skip
    (row,) = json.loads(records.read_text())
    search = row["search"]
    assert search["ensemble_size"] == 3
    kept = search["refit_valid_accuracy"] > search["trial_valid_accuracy"]
    assert search["refit_kept"] is kept
    assert row["valid_accuracy"] == max(search["refit_valid_accuracy"], search["trial_valid_accuracy"])
    assert row["accuracy"] == search["refit_accuracy" if kept else "trial_accuracy"]
    assert row["overrides"].get("train.ensemble_size", 1) == (3 if kept else 1)
    assert f"seed ensemble of 3 (kept where it scored higher on validation: {int(kept)} of 1 partitions)" in (
        out.read_text()
    )


def _speed_section(page: str) -> str:
    return page.partition("\n## Speed")[2].split("\n## Notes")[0]


def test_the_results_page_shows_each_speed_benchmarks_newest_run_under_the_command_that_made_it(tmp_path):
    from benchmarks.report import render_results

    executors, scale = tmp_path / "executors.md", tmp_path / "scale.md"
    executors.write_text(
        "# A DAG run against dvc repro\n\n`python -m benchmarks.executors --record`, alone.\n"
        "\n### demo (2026-11-25)\n\n| how | s |\n| --- | ---: |\n| old | 98.9 |\n"
        "\n### demo (2026-12-06)\n\n| how | s |\n| --- | ---: |\n| new | 62.5 |\n"
    )
    scale.write_text("# Stage cost\n\n`python -m benchmarks.scale --record`.\n\n### one epoch (2026-12-04)\n\n| a |\n")
    (tmp_path / "scale.png").write_bytes(b"\x89PNG")
    speed = _speed_section(render_results([], {"cpu": "test"}, [], [], speed_records=(executors, scale)))
    assert "### A DAG run against dvc repro: demo (2026-12-06)" in speed and "| new | 62.5 |" in speed
    assert "2026-11-25" not in speed and "| old |" not in speed
    assert "From `benchmarks/results/executors.md`. `python -m benchmarks.executors --record`, alone." in speed
    assert "![Stage cost, log-log](results/scale.png)" in speed
    assert speed.count("![") == 1


def test_the_committed_results_page_shows_the_newest_speed_records():
    from benchmarks.report import QUALITY_RECORDS, RESULTS_PAGE, render_results

    rendered = render_results(json.loads(QUALITY_RECORDS.read_text()), {"cpu": "test"})
    assert _speed_section(RESULTS_PAGE.read_text()) == _speed_section(rendered), (
        "benchmarks/RESULTS.md is older than benchmarks/results/*.md: run a benchmark's --record again, or "
        "python -c 'from benchmarks.report import rewrite_results_page; rewrite_results_page()'"
    )


def test_the_machine_line_names_the_cpus_the_records_were_made_on_not_the_one_rendering():
    from benchmarks.report import render_results

    def row(machine):
        return {"dataset": "trec", "model": "textcnn-rand", "seed": 1, "fold": None, "folds": None, "device": "cpu",
                "machine": machine, "overrides": {}, "accuracy": 0.9, "seconds": 1.0, "valid_accuracy": 0.86}  # fmt: skip

    machine = {"cpu": "Rendering CPU, 64 cores", "torch": "2.13.0+cpu"}
    one = render_results([row("AMD EPYC, 2 cores")] * 2, machine, [], [], speed_records=())
    assert "Machine: cpu AMD EPYC, 2 cores; torch 2.13.0+cpu." in one
    both = render_results([row("AMD EPYC, 2 cores")] * 2 + [row("Intel Xeon, 2 cores")], machine, [], [], ())
    assert "Machine: cpu AMD EPYC, 2 cores (2 records), Intel Xeon, 2 cores (1 record); torch" in both
    assert "Rendering CPU" not in one + both
