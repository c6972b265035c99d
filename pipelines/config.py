"""The one reader of ``params.yaml``: plain dataclasses, validated on load.

Every tunable of the pipeline is declared here once, with its type, default and allowed range, so that a
typo in ``params.yaml``, in ``dvc exp run -S key=value`` or in an Airflow trigger form fails before any work
starts, with a message that names the key and what it accepts.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from pipelines.data.registry import DATASET_NAMES, DATASETS, get_dataset

PARAMS_FILE = Path("params.yaml")
MOVED_KEYS = {
    "seed": "was split in two: 'dataset.seed' (demo corpus, splits, embeddings) and 'train.seed' (initial "
    "weights, dropout, batch order), so a model can be retrained with another seed on the same data",
}


class ConfigError(ValueError):
    """A value in params.yaml (or an override) is unknown, of the wrong type or out of range."""


def bounded(default: Any, *, minimum: float | None = None, maximum: float | None = None, doc: str = "") -> Any:
    """A dataclass field with an inclusive numeric range that the loader enforces."""
    return field(default=default, metadata={"minimum": minimum, "maximum": maximum, "doc": doc})


# Each list of choices is written once, here; the modules that act on a choice derive theirs with get_args.
DatasetName = Literal[DATASET_NAMES]  # the registry's names (pipelines/data/registry.py)
ExtraText = Literal[("none", *(name for name in DATASET_NAMES if name != "local"))]
Task = Literal["classification", "language_model"]
DataFormat = Literal["label_text", "ag_news_csv", "csv", "tsv", "jsonl", "parquet", "plain_text"]
BadLinePolicy = Literal["error", "skip"]
StopwordSource = Literal["nltk", "gensim", "none"]
CleanStyle = Literal["treebank", "kim", "kim_sst"]
KeywordMethod = Literal["tfidf", "textrank"]
TokenizerMethod = Literal["word", "char", "jieba"]
TokenizerChoice = Literal[("auto", *get_args(TokenizerMethod))]
ModelType = Literal["fasttext", "textcnn", "bigru", "bilstm", "charcnn", "nb_ngrams"]
RecurrentCell = Literal["rnn", "gru", "lstm"]
BatchSampling = Literal["sequential", "random"]
EmbeddingInit = Literal["rand", "static", "non-static", "multichannel"]
Pooling = Literal["max", "attention"]


@dataclass(frozen=True)
class LocalFiles:
    """Files for ``dataset.name: local``; paths are relative to the project root. How each format is read is in
    pipelines/data/formats.py."""

    train: str | None = None
    valid: str | None = None
    test: str | None = None
    format: DataFormat = "label_text"
    encoding: str = field(default="utf-8", metadata={"doc": "a Python codec name (utf-8, latin-1, gbk, ...)"})
    text_columns: list[str] = field(
        default_factory=lambda: ["text"],
        metadata={"doc": "csv/tsv/jsonl/parquet: the columns joined (with a space) into the text"},
    )
    label_column: str = "label"
    header: bool = field(
        default=True, metadata={"doc": "csv/tsv: the first row names the columns; false: named 1, 2, ..."}
    )
    on_bad_lines: BadLinePolicy = field(
        default="error", metadata={"doc": "skip: drop malformed lines, counted in reports/validation.json"}
    )


@dataclass(frozen=True)
class DemoCorpus:
    """Size and difficulty of the synthetic demo corpus (see pipelines/data/demo.py)."""

    train_size: int = bounded(3000, minimum=50, maximum=1_000_000)
    test_size: int = bounded(800, minimum=20, maximum=1_000_000)
    label_noise: float = bounded(0.05, minimum=0.0, maximum=0.5)


@dataclass(frozen=True)
class DatasetParams:
    name: DatasetName = "demo"
    seed: int = bounded(
        42,
        minimum=0,
        maximum=2**31 - 1,
        doc="the data seed: the demo corpus, the created splits and the embeddings (everything before train)",
    )
    train_on: Literal["sentences", "phrases"] = field(
        default="sentences",
        metadata={
            "doc": "phrases: every labelled phrase of the training parse trees (sst1, sst2), as published SST "
            "results train; validation and test stay sentences"
        },
    )
    demo: DemoCorpus = field(default_factory=DemoCorpus)
    local: LocalFiles = field(default_factory=LocalFiles)


@dataclass(frozen=True)
class ValidateParams:
    valid_fraction: float = bounded(0.1, minimum=0.01, maximum=0.5)
    test_fraction: float = bounded(0.1, minimum=0.01, maximum=0.5)
    min_chars: int = bounded(1, minimum=1)
    max_chars: int = bounded(20_000, minimum=1)
    max_duplicate_rate: float = bounded(0.05, minimum=0.0, maximum=1.0)
    max_overlap_rate: float = bounded(0.05, minimum=0.0, maximum=1.0)
    min_rows_per_class: int = bounded(2, minimum=1)


@dataclass(frozen=True)
class CleanParams:
    style: CleanStyle = field(
        default="treebank",
        metadata={
            "doc": "treebank: markup stripped, treebank-style tokens; kim / kim_sst: Kim (2014)'s clean_str / "
            "clean_str_sst (SST) exactly, keeping the punctuation Kim keeps (clean.punctuation is ignored)"
        },
    )
    lowercase: bool = True
    punctuation: bool = True
    stopwords: StopwordSource = "none"
    stem: bool = False
    workers: int = bounded(0, minimum=0, maximum=256, doc="0 = one per CPU core, used only for large inputs")


@dataclass(frozen=True)
class TokenizeParams:
    method: TokenizerChoice = field(
        default="auto",
        metadata={"doc": "auto: the dataset's own unit (characters for jaychou, words otherwise; see the registry)"},
    )
    min_freq: int = bounded(1, minimum=1)
    max_size: int = bounded(50_000, minimum=10)
    max_length: int = bounded(256, minimum=1)
    bos_eos: bool = False


@dataclass(frozen=True)
class EmbedParams:
    method: Literal["word2vec", "fasttext", "glove", "none"] = "word2vec"
    algorithm: Literal["skipgram", "cbow"] = "skipgram"
    loss: Literal["negative", "hierarchical_softmax"] = "negative"
    dim: int = bounded(300, minimum=2, maximum=2048)
    window: int = bounded(5, minimum=1, maximum=50)
    epochs: int = bounded(10, minimum=1, maximum=1000)
    min_count: int = bounded(1, minimum=1)
    negative: int = bounded(5, minimum=1, maximum=50)
    min_n: int = bounded(3, minimum=1, maximum=10, doc="FastText subword n-gram lengths")
    max_n: int = bounded(6, minimum=1, maximum=10)
    x_max: float = bounded(100.0, minimum=1.0, doc="GloVe: co-occurrence count at which an entry gets full weight")
    alpha: float = bounded(0.75, minimum=0.0, maximum=1.0, doc="GloVe: exponent of the weighting below x_max")
    learning_rate: float = bounded(0.05, minimum=1e-5, maximum=10.0, doc="GloVe: AdaGrad's initial learning rate")
    extra_text: ExtraText = field(
        default="none", metadata={"doc": "a registry dataset whose sentences (labels unused) add to the corpus"}
    )


@dataclass(frozen=True)
class KeywordsParams:
    """The keywords stage (pipelines/text/keywords.py): topic words per class and per sampled document."""

    method: KeywordMethod = "tfidf"
    top_k: int = bounded(10, minimum=1, maximum=1000)
    documents: int = bounded(
        20, minimum=0, maximum=100_000, doc="training documents sampled (with dataset.seed) for per-document keywords"
    )
    stopwords: StopwordSource = field(
        default="gensim",
        metadata={
            "doc": "removed from candidates; gensim's ships with it (offline), nltk's has a Chinese list (jieba)"
        },
    )
    window: int = bounded(4, minimum=2, maximum=100, doc="TextRank: terms fewer than this many tokens apart are linked")
    damping: float = bounded(0.85, minimum=0.01, maximum=0.99, doc="TextRank: PageRank damping factor")
    tolerance: float = bounded(1e-6, minimum=1e-12, maximum=0.1, doc="TextRank: convergence threshold")
    max_iterations: int = bounded(200, minimum=1, maximum=100_000, doc="TextRank: power iterations at most")


@dataclass(frozen=True)
class TextCNNParams:
    kernel_sizes: list[int] = field(default_factory=lambda: [3, 4, 5])
    num_filters: int = bounded(100, minimum=1, maximum=4096)
    max_norm: float = bounded(3.0, minimum=0.0, doc="0 disables the max-norm constraint")


@dataclass(frozen=True)
class RecurrentParams:
    """Shared by ``bigru`` and ``bilstm``."""

    hidden_size: int = bounded(128, minimum=1, maximum=4096)
    num_layers: int = bounded(1, minimum=1, maximum=8)
    pooling: Pooling = "max"


@dataclass(frozen=True)
class CharCNNParams:
    num_features: int = bounded(256, minimum=1, maximum=4096, doc="filters per convolution (Zhang small: 256)")
    hidden_size: int = bounded(1024, minimum=1, maximum=8192, doc="fully connected width (Zhang small: 1024)")


@dataclass(frozen=True)
class FastTextParams:
    bigram_buckets: int = bounded(200_000, minimum=0, maximum=10_000_000, doc="0 = unigrams only")
    sparse: bool = field(
        default=False,
        metadata={
            "doc": "sparse embedding gradients: a step touches only the rows in its batch, so fastText's size "
            "(100 dims x 2M buckets) trains fast; needs train.optimizer sgd, momentum 0, weight_decay 0, grad_clip 0"
        },
    )
    initialization: Literal["kim", "fasttext"] = field(
        default="kim",
        metadata={
            "doc": "random start of the rows not copied from the embed stage's vectors (all of them under 'rand'): "
            "'kim' draws them from U[-0.25, 0.25] as every model here; "
            "'fasttext' does as the fastText binary, U[-1/dim, 1/dim] rows and a zero output layer, so the millions of "
            "rarely seen bigram buckets add little noise to a text's mean"
        },
    )


@dataclass(frozen=True)
class NBNgramsParams:
    max_n: int = bounded(2, minimum=1, maximum=5, doc="longest word n-gram (Wang & Manning: 2, uni+bigrams)")
    buckets: int = bounded(
        10_000_000, minimum=0, maximum=1_000_000_000, doc="hash ids for n >= 2 (rows only for those seen); 0 = unigrams"
    )
    smoothing: float = bounded(1.0, minimum=1e-6, maximum=100.0, doc="alpha added to every n-gram count")
    initial_weight: float = bounded(
        0.0,
        minimum=-10.0,
        maximum=10.0,
        doc="every n-gram's weight before training; 1 starts from multinomial naive Bayes instead of from nothing",
    )
    interpolation: float = bounded(
        1.0,
        minimum=0.0,
        maximum=1.0,
        doc="NBSVM's beta: evaluated and served weights are beta * w + (1 - beta) * mean |w| (Wang & Manning: "
        "0.25); 1 serves the trained weights",
    )


@dataclass(frozen=True)
class ModelParams:
    type: ModelType = "textcnn"
    embedding_dim: int = bounded(300, minimum=2, maximum=2048)
    embedding_init: EmbeddingInit = "rand"
    dropout: float = bounded(0.5, minimum=0.0, maximum=0.95)
    textcnn: TextCNNParams = field(default_factory=TextCNNParams)
    rnn: RecurrentParams = field(default_factory=RecurrentParams)
    fasttext: FastTextParams = field(default_factory=FastTextParams)
    charcnn: CharCNNParams = field(default_factory=CharCNNParams)
    nb_ngrams: NBNgramsParams = field(default_factory=NBNgramsParams)


@dataclass(frozen=True)
class LanguageModelParams:
    """``task: language_model``: a recurrent LM over one token stream (pipelines/models/language_model.py)."""

    cell: RecurrentCell = "lstm"
    embedding_dim: int = bounded(200, minimum=2, maximum=4096)
    hidden_size: int = bounded(200, minimum=1, maximum=8192)
    num_layers: int = bounded(2, minimum=1, maximum=8)
    dropout: float = bounded(0.2, minimum=0.0, maximum=0.95, doc="on the embedding, between layers and on the output")
    tied: bool = field(
        default=False, metadata={"doc": "share input and output embeddings (needs embedding_dim == hidden_size)"}
    )
    bptt: int = bounded(35, minimum=1, maximum=10_000, doc="truncated back-propagation length in tokens")
    sampling: BatchSampling = field(
        default="sequential",
        metadata={
            "doc": "sequential: the stream cut into train.batch_size rows, hidden state carried between batches; "
            "random: windows at random offsets, fresh state each batch"
        },
    )
    clean: bool = field(
        default=False,
        metadata={"doc": "apply the clean.* steps (lossy); false keeps the text as written, whitespace normalised"},
    )
    sample_prefixes: list[str] = field(
        default_factory=list,
        metadata={
            "doc": "texts continued every epoch (logged to MLflow) and by the evaluate stage; empty: the dataset's "
            "prompts from the registry (分开 and 不分开 for jaychou)",
            "allow_empty": True,
        },
    )
    sample_tokens: int = bounded(40, minimum=1, maximum=10_000)
    temperature: float = bounded(0.8, minimum=0.01, maximum=10.0)


@dataclass(frozen=True)
class TrainParams:
    seed: int = bounded(
        42, minimum=0, maximum=2**31 - 1, doc="the training seed: initial weights, dropout and batch order"
    )
    ensemble_size: int = bounded(
        1,
        minimum=1,
        maximum=20,
        doc="classification: N trainings (seeds seed .. seed+N-1) served as one model averaging their "
        "probabilities, weights chosen on validation",
    )
    label_prior: Literal["train", "valid"] = field(
        default="train",
        metadata={
            "doc": "classification: the class frequencies the served probabilities assume. valid: shift them "
            "from the training split's frequencies to the validation split's, for training data whose label "
            "mix differs from what is scored (SST phrases: 51% neutral vs 19% of sentences)"
        },
    )
    epochs: int = bounded(15, minimum=1, maximum=1000)
    batch_size: int = bounded(50, minimum=1, maximum=65_536)
    learning_rate: float = bounded(
        0.001,
        minimum=1e-7,
        maximum=100.0,
        doc="a language model's plain SGD on the per-token mean loss uses 20 (Zaremba's 1 on a sum over 20 steps)",
    )
    optimizer: Literal["adam", "adamw", "adadelta", "sgd"] = "adam"
    lr_schedule: Literal["constant", "cosine", "linear", "plateau", "step"] = field(
        default="constant",
        metadata={
            "doc": "cosine/linear: per-step decay to 0 over train.epochs; plateau: times train.decay_factor after "
            "each epoch that does not improve the validation score; step: times decay_factor after every epoch "
            "from train.decay_after on (Zaremba 2014)"
        },
    )
    decay_factor: float = bounded(0.25, minimum=0.01, maximum=1.0, doc="learning-rate factor of plateau and step")
    decay_after: int = bounded(4, minimum=0, maximum=10_000, doc="step: epochs at the full learning rate")
    momentum: float = bounded(0.9, minimum=0.0, maximum=0.999, doc="sgd only (0 = plain SGD, as Zaremba 2014)")
    weight_decay: float = bounded(0.0, minimum=0.0, maximum=1.0)
    grad_clip: float = bounded(5.0, minimum=0.0, doc="max gradient norm; 0 disables clipping")
    patience: int = bounded(4, minimum=1, doc="epochs without validation improvement before stopping")
    length_buckets: bool = field(
        default=True, metadata={"doc": "batch texts of similar length together so padding (and compute) shrinks"}
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    mixed_precision: bool = True
    num_threads: int = bounded(
        0,
        minimum=0,
        maximum=256,
        doc="0 = this training's share: usable cores / TEXTFLOW_CONCURRENT_TRAININGS (see training/device.py)",
    )


@dataclass(frozen=True)
class TrackingParams:
    enabled: bool = True
    experiment: str = "textflow"


@dataclass(frozen=True)
class RegisterParams:
    model_name: str = field(
        default="",
        metadata={"doc": "registered model name; empty = textflow-<dataset> (a language model: textflow-<dataset>-lm)"},
    )
    metric: Literal["macro_f1", "accuracy"] = field(
        default="macro_f1", metadata={"doc": "classification; a language model is always selected on perplexity"}
    )


@dataclass(frozen=True)
class Params:
    task: Task = "classification"
    dataset: DatasetParams = field(default_factory=DatasetParams)
    validate: ValidateParams = field(default_factory=ValidateParams)
    clean: CleanParams = field(default_factory=CleanParams)
    tokenize: TokenizeParams = field(default_factory=TokenizeParams)
    embed: EmbedParams = field(default_factory=EmbedParams)
    keywords: KeywordsParams = field(default_factory=KeywordsParams)
    model: ModelParams = field(default_factory=ModelParams)
    language_model: LanguageModelParams = field(default_factory=LanguageModelParams)
    train: TrainParams = field(default_factory=TrainParams)
    tracking: TrackingParams = field(default_factory=TrackingParams)
    register: RegisterParams = field(default_factory=RegisterParams)


def load_params(path: str | Path = PARAMS_FILE, overrides: dict[str, Any] | None = None) -> Params:
    """Read params.yaml, apply dotted-key ``overrides`` (``{"model.type": "bigru"}``) and validate."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found; run from the project root or pass its path")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    for dotted, value in (overrides or {}).items():
        set_dotted(data, dotted, value)
    return params_from_dict(data, source=str(path))


def params_from_dict(data: dict[str, Any], source: str = "params", resolve: bool = True) -> Params:
    """Validated params; ``resolve`` False keeps ``auto`` values as written (for forms and comparisons of what a
    user typed), after checking that they resolve."""
    resolved = _resolve_defaults(_build(Params, data, prefix="", source=source))
    _check_consistency(resolved, source)
    return resolved if resolve else _build(Params, data, prefix="", source=source)


def _resolve_defaults(params: Params) -> Params:
    """Values that depend on the dataset: ``tokenize.method: auto`` becomes the dataset's unit (registry)."""
    if params.tokenize.method != "auto":
        return params
    method = get_dataset(params.dataset.name).tokenizer
    return dataclasses.replace(params, tokenize=dataclasses.replace(params.tokenize, method=method))


def dataset_has_labels(params: Params) -> bool:
    """False for a plain-text corpus (a registry language-model corpus, or local files in plain_text)."""
    if params.dataset.name == "local":
        return params.dataset.local.format != "plain_text"
    return get_dataset(params.dataset.name).format != "plain_text"


def _check_consistency(params: Params, source: str) -> None:
    """Rules that tie two keys together; each message names both keys."""
    if params.task == "classification" and not dataset_has_labels(params):
        raise ConfigError(
            f"{source}: dataset {params.dataset.name!r} is plain text without labels, so 'task' classification has "
            "nothing to learn; set task: language_model (or give labelled files)"
        )
    lm = params.language_model
    if params.task == "language_model" and lm.tied and lm.embedding_dim != lm.hidden_size:
        raise ConfigError(
            f"{source}: 'language_model.tied' shares the output layer with the input embedding, so "
            f"'language_model.embedding_dim' ({lm.embedding_dim}) must equal 'language_model.hidden_size' "
            f"({lm.hidden_size})"
        )
    if params.keywords.stopwords == "gensim" and params.tokenize.method == "jieba":
        raise ConfigError(
            f"{source}: 'keywords.stopwords' gensim is English only and 'tokenize.method' is jieba (Chinese); "
            "use nltk (it has a Chinese list) or none"
        )
    if not params.dataset.local.text_columns:
        raise ConfigError(f"{source}: 'dataset.local.text_columns' must name at least one column")
    if params.embed.max_n < params.embed.min_n:
        raise ConfigError(
            f"{source}: 'embed.max_n' ({params.embed.max_n}) must be >= 'embed.min_n' ({params.embed.min_n})"
        )
    if params.model.embedding_init != "rand":
        if params.embed.method == "none":
            raise ConfigError(
                f"{source}: 'model.embedding_init' is {params.model.embedding_init!r} but 'embed.method' is 'none'; "
                "set embed.method to word2vec or fasttext, or use embedding_init: rand"
            )
        if params.embed.dim != params.model.embedding_dim:
            raise ConfigError(
                f"{source}: 'model.embedding_dim' ({params.model.embedding_dim}) must equal 'embed.dim' "
                f"({params.embed.dim}) when 'model.embedding_init' is {params.model.embedding_init!r}"
            )
    if params.model.type == "charcnn":
        if params.tokenize.method != "char":
            raise ConfigError(
                f"{source}: 'model.type' charcnn reads characters; set 'tokenize.method' to char "
                f"(it is {params.tokenize.method!r})"
            )
        if params.model.embedding_init != "rand":
            raise ConfigError(
                f"{source}: 'model.type' charcnn quantizes characters one-hot and has no word embedding; "
                f"'model.embedding_init' must be rand (it is {params.model.embedding_init!r})"
            )
    if params.task != "classification":
        classification_only = [
            f"'train.{key}' is {value!r} ({purpose}; set {key}: {default})"
            for key, value, default, purpose in [
                ("label_prior", params.train.label_prior, "train", "it shifts class probabilities"),
                ("ensemble_size", params.train.ensemble_size, 1, "it averages classifiers' probabilities"),
            ]
            if value != default
        ]
        if classification_only:
            raise ConfigError(f"{source}: 'task' is {params.task!r}, but {', '.join(classification_only)}")
    train = params.train
    if params.model.type == "fasttext" and params.model.fasttext.sparse:
        wrong = [
            f"'{key}' is {value!r}"
            for key, value, needed in [
                ("train.optimizer", train.optimizer, "sgd"),
                ("train.momentum", train.momentum, 0.0),
                ("train.weight_decay", train.weight_decay, 0.0),
                ("train.grad_clip", train.grad_clip, 0.0),
            ]
            if value != needed
        ]
        if wrong:
            # torch 2.13: Adam and clip_grad_norm_ refuse sparse gradients; SGD's momentum buffer stays sparse and
            # is never coalesced, so it grows by every step's rows (TREC, 2M buckets: epoch 1 4.4 s, epoch 5 30.7 s)
            raise ConfigError(
                f"{source}: 'model.fasttext.sparse' gives sparse gradients, which only plain SGD without momentum, "
                f"weight decay or gradient clipping applies at the cost of the batch's rows; {', '.join(wrong)} "
                "(set train.optimizer: sgd, train.momentum: 0, train.weight_decay: 0, train.grad_clip: 0)"
            )
    if params.model.type == "nb_ngrams" and params.model.embedding_init != "rand":
        raise ConfigError(
            f"{source}: 'model.type' nb_ngrams is a linear model over n-gram indicators with no word embedding; "
            f"'model.embedding_init' must be rand (it is {params.model.embedding_init!r})"
        )
    if any(size < 1 for size in params.model.textcnn.kernel_sizes):
        raise ConfigError(
            f"{source}: 'model.textcnn.kernel_sizes' must be positive, got {params.model.textcnn.kernel_sizes}"
        )
    if params.register.model_name and not params.register.model_name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{source}: 'register.model_name' may hold letters, digits, '-' and '_' only")
    if params.embed.extra_text != "none" and params.embed.method == "none":
        raise ConfigError(
            f"{source}: 'embed.extra_text' is {params.embed.extra_text!r} but 'embed.method' is 'none', "
            "so no embeddings would be trained on it; set embed.method or extra_text: none"
        )
    if params.dataset.train_on == "phrases" and get_dataset(params.dataset.name).phrases is None:
        with_trees = [dataset.name for dataset in DATASETS.values() if dataset.phrases is not None]
        raise ConfigError(
            f"{source}: 'dataset.train_on' is phrases but dataset {params.dataset.name!r} has no parse trees; "
            f"phrases exist for {', '.join(with_trees)} (or set train_on: sentences)"
        )
    if params.dataset.name == "local" and not params.dataset.local.train:
        raise ConfigError(f"{source}: 'dataset.local.train' must name a file when 'dataset.name' is 'local'")


def build_section(cls: type, data: dict[str, Any], key: str) -> Any:
    """Validate one section (e.g. a saved model's ``ModelParams``) on its own, without cross-section rules."""
    return _build(cls, data, prefix=f"{key}.", source=key)


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dicts, creating the intermediate levels."""
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{dotted}: '{key}' is a value, not a section")
    node[leaf] = value


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """``["train.epochs=3", ...]`` (the ``-S`` flags of ``dvc exp run``) as dotted overrides, values read as YAML."""
    overrides = {}
    for item in items:
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    return overrides


def flatten(params: Params) -> dict[str, Any]:
    """``{"model.type": "textcnn", ...}``: the form MLflow params and Airflow forms use."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if dataclasses.is_dataclass(node):
            for item in dataclasses.fields(node):
                walk(f"{prefix}{item.name}.", getattr(node, item.name))
        else:
            flat[prefix[:-1]] = node

    walk("", params)
    return flat


def to_dict(params: Params) -> dict[str, Any]:
    return dataclasses.asdict(params)


def _build(cls: type, data: Any, prefix: str, source: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: '{prefix.rstrip('.') or 'top level'}' must be a mapping, got {data!r}")
    known = {item.name: item for item in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        key = prefix + unknown[0]
        if key in MOVED_KEYS:
            raise ConfigError(f"{source}: '{key}' {MOVED_KEYS[key]}")
        raise ConfigError(f"{source}: unknown key '{key}'; allowed keys here: {', '.join(sorted(known))}")
    hints = get_type_hints(cls)
    values = {}
    for name, value in data.items():
        values[name] = _check(hints[name], value, prefix + name, known[name].metadata, source)
    return cls(**values)


def _check(hint: Any, value: Any, key: str, metadata: Any, source: str) -> Any:
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".", source)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _check(inner, value, key, metadata, source)
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{source}: '{key}' is {value!r}; allowed values: {', '.join(map(str, allowed))}")
        return value
    if origin is list:
        (inner,) = get_args(hint)
        if not isinstance(value, list) or not (value or metadata.get("allow_empty")):
            raise ConfigError(f"{source}: '{key}' must be a non-empty list of {inner.__name__}, got {value!r}")
        return [_check(inner, item, f"{key}[{index}]", metadata, source) for index, item in enumerate(value)]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: '{key}' must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: '{key}' must be an integer, got {value!r}")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: '{key}' must be a number, got {value!r}")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: '{key}' must be a string, got {value!r}")
        return value
    minimum, maximum = metadata.get("minimum"), metadata.get("maximum")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        allowed = f"{minimum if minimum is not None else '-inf'} to {maximum if maximum is not None else 'inf'}"
        raise ConfigError(f"{source}: '{key}' is {value!r}; allowed range: {allowed}")
    return value
