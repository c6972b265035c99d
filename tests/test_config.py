from pathlib import Path

import pytest
import yaml

from pipelines.config import (
    ConfigError,
    Params,
    flatten,
    load_params,
    params_from_dict,
    parse_assignments,
    set_flags,
    to_dict,
)
from tests.conftest import ROOT


def test_params_yaml_matches_declared_defaults():
    """params.yaml is the user-facing copy of the defaults; the two must never drift apart."""
    written = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert to_dict(params_from_dict(written, resolve=False)) == to_dict(Params())


def test_auto_tokenizer_is_the_datasets_unit_and_a_plain_corpus_needs_the_language_model_task():
    assert load_params(ROOT / "params.yaml").tokenize.method == "word"
    chinese = load_params(ROOT / "params.yaml", {"task": "language_model", "dataset.name": "jaychou"})
    assert chinese.tokenize.method == "char"
    assert (
        load_params(
            ROOT / "params.yaml",
            {
                "dataset.name": "jaychou",
                "tokenize.method": "jieba",
                "task": "language_model",
                "keywords.stopwords": "nltk",
            },
        ).tokenize.method
        == "jieba"
    )
    with pytest.raises(ConfigError, match="'ptb' is plain text without labels.*task: language_model"):
        load_params(ROOT / "params.yaml", {"dataset.name": "ptb"})
    with pytest.raises(ConfigError, match="'language_model.embedding_dim' \\(100\\) must equal"):
        load_params(
            ROOT / "params.yaml",
            {"task": "language_model", "language_model.tied": True, "language_model.embedding_dim": 100},
        )


def test_override_by_dotted_key(tmp_path):
    params = load_params(ROOT / "params.yaml", {"model.type": "bigru", "train.learning_rate": 0.01})
    assert params.model.type == "bigru"
    assert params.train.learning_rate == 0.01


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"model": {"typo": 1}}, "unknown key 'model.typo'; allowed keys here: charcnn, dropout"),
        (
            {"model": {"type": "transformer"}},
            "'model.type' is 'transformer'; allowed values: fasttext, textcnn, bigru, bilstm, charcnn, nb_ngrams, tfidf_linear",
        ),
        ({"train": {"epochs": "ten"}}, "'train.epochs' must be an integer, got 'ten'"),
        ({"train": {"epochs": 0}}, "'train.epochs' is 0; allowed range: 1 to 1000"),
        ({"train": {"learning_rate": True}}, "'train.learning_rate' must be a number"),
        ({"clean": {"stem": "yes"}}, "'clean.stem' must be true or false"),
        ({"model": {"textcnn": {"kernel_sizes": []}}}, "'model.textcnn.kernel_sizes' must be a non-empty list"),
        ({"validate": {"valid_fraction": 0.9}}, "'validate.valid_fraction' is 0.9; allowed range: 0.01 to 0.5"),
        ({"model": {"embedding_init": "static"}, "embed": {"method": "none"}}, "'embed.method' is 'none'"),
        ({"model": {"embedding_init": "static", "embedding_dim": 100}}, "must equal 'embed.dim'"),
        ({"dataset": {"name": "local"}}, "'dataset.local.train' must name a file"),
        ({"model": {"type": "charcnn"}}, "charcnn reads characters; set 'tokenize.method' to char"),
        (
            {"model": {"type": "charcnn", "embedding_init": "static"}, "tokenize": {"method": "char"}},
            "'model.embedding_init' must be rand",
        ),
        ({"model": {"type": "nb_ngrams", "embedding_init": "static"}}, "nb_ngrams is a linear model over n-gram"),
        (
            {"model": {"type": "fasttext"}, "train": {"optimizer": "sgd"}},
            "which train.optimizer 'adam' (lazily, the batch's rows) or plain 'sgd' (momentum 0, weight_decay 0) "
            "applies; here 'train.momentum' is 0.9 (set",
        ),
        (
            {"model": {"type": "fasttext"}, "train": {"optimizer": "adamw"}},
            "applies; here 'train.optimizer' is 'adamw' (set train.optimizer: adam",
        ),
        (
            {"model": {"type": "tfidf_linear"}, "train": {"optimizer": "lbfgs", "lr_schedule": "cosine"}},
            "'train.optimizer' lbfgs minimises one fixed full-batch loss, but 'model.dropout' is 0.5 (set dropout: "
            "0.0), 'train.lr_schedule' is 'cosine' (set lr_schedule: 'constant')",
        ),
        (
            {"task": "language_model", "dataset": {"name": "ptb"}, "train": {"optimizer": "lbfgs"}},
            "'train.optimizer' lbfgs fits classifiers, but 'task' is 'language_model'; a language model's batches",
        ),
        ({"dataset": {"name": "mr", "train_on": "phrases"}}, "dataset 'mr' has no parse trees; phrases exist for"),
        ({"embed": {"method": "none", "extra_text": "mr"}}, "'embed.extra_text' is 'mr' but 'embed.method' is 'none'"),
        ({"model": {"rnn": {"pooling": "mean"}}}, "'model.rnn.pooling' is 'mean'; allowed values: max, attention"),
        (
            {"task": "language_model", "dataset": {"name": "ptb"}, "train": {"ensemble_size": 3}},
            "'task' is 'language_model', but 'train.ensemble_size' is 3 (it averages classifiers' probabilities; "
            "set ensemble_size: 1)",
        ),
        (
            {"task": "language_model", "dataset": {"name": "ptb"}, "search": {"ensemble_size": 5}},
            "'search.ensemble_size' is 5 (its refit averages classifiers' probabilities; set ensemble_size: 1)",
        ),
        (
            {"task": "language_model", "dataset": {"name": "ptb"}, "train": {"label_prior": "valid"}},
            "'train.label_prior' is 'valid' (it shifts class probabilities; set label_prior: train)",
        ),
        ({"model": {"nb_ngrams": {"interpolation": 1.5}}}, "'model.nb_ngrams.interpolation' is 1.5; allowed range"),
        (
            {"search": {"spaces": {"classifier": {"train.weight_decay": {"low": "1e-8", "high": 0.1}}}}},
            "'search.spaces.classifier.train.weight_decay.low' must be a number, got '1e-8'",
        ),
        (
            {"search": {"spaces": {"classifier": {"model.dropout": {"choices": [[0.1]]}}}}},
            "'search.spaces.classifier.model.dropout.choices[0]' is [0.1]; it must be one of: int, float, str, bool",
        ),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(data, message):
    with pytest.raises(ConfigError) as error:
        params_from_dict(data)
    assert message in str(error.value)


def test_a_number_dvc_exp_run_writes_as_1e_05_is_read_as_that_number(tmp_path):
    """`dvc exp run -S train.weight_decay=1e-5` writes `weight_decay: 1e-05` (DVC's YAML 1.2, here through DVC's
    own override code); PyYAML's YAML 1.1 would read the string '1e-05' and the schema would refuse it."""
    from dvc.utils.hydra import apply_overrides

    params = tmp_path / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text())
    apply_overrides(params, ["train.weight_decay=1e-5"])
    assert "weight_decay: 1e-05" in params.read_text()
    assert load_params(params).train.weight_decay == 1e-5
    assert load_params(ROOT / "params.yaml", parse_assignments(["train.weight_decay=1e-5"])).train.weight_decay == 1e-5


def test_the_dvc_exp_run_line_of_a_search_trial_gives_back_its_params(tmp_path):
    """Each trial's row in sweep_results.json carries ``dvc exp run -S ...`` to repeat it on a laptop; applied by
    DVC's own override code, the params it leaves are the trial's (a drawn weight decay prints as ``4e-05``)."""
    from dvc.utils.hydra import apply_overrides

    trial = {
        "train.learning_rate": 0.00046598555549367583,
        "train.weight_decay": 4e-05,
        "model.dropout": 8.006237214142065e-05,
        "model.textcnn.num_filters": 50,
        "model.textcnn.kernel_sizes": [2, 3, 4],
        "clean.style": "kim",
        "clean.lowercase": False,
        "train.label_prior": "valid",
    }
    params = tmp_path / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text())
    apply_overrides(params, set_flags(trial).replace("-S ", "").split(" "))
    assert {key: value for key, value in flatten(load_params(params)).items() if key in trial} == trial


def test_missing_file_and_bad_yaml_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    broken = tmp_path / "params.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(broken)


def test_flatten_gives_every_leaf_by_dotted_key():
    flat = flatten(Params())
    assert flat["model.textcnn.kernel_sizes"] == [3, 4, 5]
    assert flat["clean.stopwords"] == "none"
    leaves = yaml.safe_load(Path(ROOT / "params.yaml").read_text())
    assert len(flat) == sum(1 for _ in _leaves(leaves))


def _leaves(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    else:
        yield node


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
@pytest.mark.parametrize("key", ["train.learning_rate", "model.dropout", "train.grad_clip", "embed.x_max"])
def test_nan_and_infinities_are_refused_from_the_command_line(key, value):
    """``dvc exp run -S key=.nan`` reads the value as YAML; no float param accepts a non-finite value."""
    overrides = parse_assignments([f"{key}={value}"])
    with pytest.raises(ConfigError, match=rf"'{key}' is -?(nan|inf); it must be a finite number"):
        load_params(ROOT / "params.yaml", overrides)


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "/proc/self/environ", "~/.ssh/id_rsa", "../docker/.env", "data/../../x", "a\\..\\b"]
)
def test_local_files_must_stay_inside_the_data_root(path):
    with pytest.raises(ConfigError, match=r"'dataset.local.train' is .*relative to the data root"):
        params_from_dict({"dataset": {"name": "local", "local": {"train": path}}})
    assert params_from_dict({"dataset": {"name": "local", "local": {"train": "reviews/train.csv"}}})
