"""Every tunable of the pipeline, declared once: type, default, allowed values or range, and what it does.

pydantic v2 models, strict (``"10"`` is not a number, ``true`` is not 1), closed (an unknown key is an error),
frozen, and finite (NaN and infinities are refused). The rules that tie two keys together are the
``after`` validator of :class:`Params`; they judge ``tokenize.method: auto`` by what it resolves to. Each list
of choices is written once, here; modules acting on a choice derive theirs with ``typing.get_args``.

The ``description`` of a field is what the Airflow trigger form shows beside it (pipelines/orchestration/form.py
builds the form from these models' JSON Schema).
"""

from __future__ import annotations

import warnings
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from pipelines.common.project import DATA_ROOT_ENV
from pipelines.data.registry import DATASET_NAMES, DATASETS, get_dataset


class Section(BaseModel):
    """A block of params.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False, validate_default=True)


def choices(names: dict[str, str]) -> Any:
    """``Literal`` of a choice table's keys, so the table (value -> readable name) and the type are one list."""
    return Literal[tuple(names)]


DatasetName = Literal[DATASET_NAMES]  # the registry's names (pipelines/data/registry.py)
ExtraText = Literal[("none", *(name for name in DATASET_NAMES if name != "local"))]
Task = Literal["classification", "language_model"]
DataFormat = Literal["label_text", "ag_news_csv", "csv", "tsv", "jsonl", "parquet", "plain_text"]
BadLinePolicy = Literal["error", "skip"]
StopwordSource = Literal["nltk", "gensim", "none"]
CleanStyle = Literal["treebank", "kim", "kim_sst"]
KeywordMethod = Literal["tfidf", "textrank"]
TokenizerMethod = Literal["word", "char", "jieba"]
TokenizerChoice = Literal[("auto", *TokenizerMethod.__args__)]
MODEL_TYPES = {
    "fasttext": "fastText (mean of word and hashed-bigram embeddings)",
    "textcnn": "TextCNN (Kim 2014)",
    "bigru": "BiGRU",
    "bilstm": "BiLSTM",
    "charcnn": "Character CNN (Zhang et al. 2015)",
    "nb_ngrams": "NB-weighted uni+bigrams (Wang & Manning 2012)",
    "tfidf_linear": "TF-IDF uni+bigram logistic regression",
}
"""Classifier types and the names the trigger form shows for them."""
ModelType = choices(MODEL_TYPES)
RecurrentCell = Literal["rnn", "gru", "lstm"]
BatchSampling = Literal["sequential", "random"]
EmbeddingInit = Literal["rand", "static", "non-static", "multichannel"]
Pooling = Literal["max", "attention"]

PositiveInt = Annotated[int, Field(ge=1)]


class LocalFiles(Section):
    """Files for ``dataset.name: local``, named relative to the data root (``TEXTFLOW_DATA_ROOT``, default
    ``data/local`` in the project). How each format is read is in pipelines/data/formats.py."""

    train: str | None = None
    valid: str | None = None
    test: str | None = None
    format: DataFormat = "label_text"
    encoding: str = Field("utf-8", description="a Python codec name (utf-8, latin-1, gbk, ...)")
    text_columns: list[str] = Field(
        default_factory=lambda: ["text"],
        min_length=1,
        description="csv/tsv/jsonl/parquet: the columns joined (with a space) into the text",
    )
    label_column: str = "label"
    header: bool = Field(True, description="csv/tsv: the first row names the columns; false: named 1, 2, ...")
    on_bad_lines: BadLinePolicy = Field(
        "error", description="skip: drop malformed lines, counted in reports/validation.json"
    )

    @field_validator("train", "valid", "test")
    @classmethod
    def _inside_data_root(cls, value: str | None, info) -> str | None:
        """A trigger of a DAG may set these keys, so a path must not reach outside the data root: an absolute
        path, ``~`` or ``..`` could name a secret the worker can read (docker/.env, /proc/self/environ)."""
        if value is None:
            return value
        path = PurePosixPath(value)
        if path.is_absolute() or value.startswith("~") or ".." in path.parts or "\\" in value or not value.strip():
            raise ValueError(
                f"'dataset.local.{info.field_name}' is {value!r}; give a path relative to the data root "
                f"({DATA_ROOT_ENV}, default data/local): absolute paths, '~' and '..' are refused"
            )
        return value


class DemoCorpus(Section):
    """Size and difficulty of the synthetic demo corpus (see pipelines/data/demo.py)."""

    train_size: int = Field(3000, ge=50, le=1_000_000)
    test_size: int = Field(800, ge=20, le=1_000_000)
    label_noise: float = Field(0.05, ge=0.0, le=0.5)


class DatasetParams(Section):
    name: DatasetName = Field(
        "demo",
        description="Dataset from the registry (demo is synthetic and offline; ptb and jaychou are language-model "
        "corpora; local: your files under the data root)",
    )
    seed: int = Field(
        42,
        ge=0,
        le=2**31 - 1,
        description="Data seed: the demo corpus, the created splits and the embeddings (everything before train)",
    )
    train_on: Literal["sentences", "phrases"] = Field(
        "sentences",
        description="phrases: every labelled phrase of the training parse trees (sst1, sst2), as published SST "
        "results train; validation and test stay sentences",
    )
    demo: DemoCorpus = Field(default_factory=DemoCorpus)
    local: LocalFiles = Field(default_factory=LocalFiles)


class ValidateParams(Section):
    valid_fraction: float = Field(0.1, ge=0.01, le=0.5)
    test_fraction: float = Field(0.1, ge=0.01, le=0.5)
    min_chars: int = Field(1, ge=1)
    max_chars: int = Field(20_000, ge=1)
    max_duplicate_rate: float = Field(0.05, ge=0.0, le=1.0)
    max_overlap_rate: float = Field(0.05, ge=0.0, le=1.0)
    min_rows_per_class: int = Field(2, ge=1)


class CleanParams(Section):
    style: CleanStyle = Field(
        "treebank",
        description="treebank: markup stripped, treebank-style tokens; kim / kim_sst: Kim (2014)'s clean_str / "
        "clean_str_sst (SST) exactly, keeping the punctuation Kim keeps (clean.punctuation is ignored)",
    )
    lowercase: bool = True
    punctuation: bool = True
    stopwords: StopwordSource = Field("none", description="Stopword list removed by the clean stage")
    stem: bool = Field(False, description="Porter-stem tokens")
    workers: int = Field(0, ge=0, le=256, description="0 = one per CPU core, used only for large inputs")


class TokenizeParams(Section):
    method: TokenizerChoice = Field(
        "auto",
        description="auto (the dataset's unit: characters for jaychou, else words), word, char (needed by charcnn) "
        "or jieba tokens",
    )
    min_freq: int = Field(1, ge=1)
    max_size: int = Field(50_000, ge=10)
    max_length: int = Field(256, ge=1)
    bos_eos: bool = False
    workers: int = Field(0, ge=0, le=256, description="0 = one per CPU core, used only for large inputs")


class EmbedParams(Section):
    method: Literal["word2vec", "fasttext", "glove", "none"] = Field(
        "word2vec", description="Embeddings trained by the embed stage"
    )
    algorithm: Literal["skipgram", "cbow"] = "skipgram"
    loss: Literal["negative", "hierarchical_softmax"] = "negative"
    dim: int = Field(300, ge=2, le=2048)
    window: int = Field(5, ge=1, le=50)
    epochs: int = Field(10, ge=1, le=1000)
    min_count: int = Field(1, ge=1)
    negative: int = Field(5, ge=1, le=50)
    min_n: int = Field(3, ge=1, le=10, description="FastText subword n-gram lengths")
    max_n: int = Field(6, ge=1, le=10)
    x_max: float = Field(100.0, ge=1.0, description="GloVe: co-occurrence count at which an entry gets full weight")
    alpha: float = Field(0.75, ge=0.0, le=1.0, description="GloVe: exponent of the weighting below x_max")
    learning_rate: float = Field(0.05, ge=1e-5, le=10.0, description="GloVe: AdaGrad's initial learning rate")
    extra_text: ExtraText = Field(
        "none", description="Unlabelled sentences of another registry dataset added to the embedding corpus"
    )


class KeywordsParams(Section):
    """The keywords stage (pipelines/text/keywords.py): topic words per class and per sampled document."""

    method: KeywordMethod = "tfidf"
    top_k: int = Field(10, ge=1, le=1000)
    documents: int = Field(
        20, ge=0, le=100_000, description="training documents sampled (with dataset.seed) for per-document keywords"
    )
    stopwords: StopwordSource = Field(
        "gensim",
        description="removed from candidates; gensim's ships with it (offline), nltk's has a Chinese list (jieba)",
    )
    window: int = Field(4, ge=2, le=100, description="TextRank: terms fewer than this many tokens apart are linked")
    damping: float = Field(0.85, ge=0.01, le=0.99, description="TextRank: PageRank damping factor")
    tolerance: float = Field(1e-6, ge=1e-12, le=0.1, description="TextRank: convergence threshold")
    max_iterations: int = Field(200, ge=1, le=100_000, description="TextRank: power iterations at most")


class TextCNNParams(Section):
    kernel_sizes: list[PositiveInt] = Field(default_factory=lambda: [3, 4, 5], min_length=1)
    num_filters: int = Field(100, ge=1, le=4096)
    max_norm: float = Field(3.0, ge=0.0, description="0 disables the max-norm constraint")


class RecurrentParams(Section):
    """Shared by ``bigru`` and ``bilstm``."""

    hidden_size: int = Field(128, ge=1, le=4096)
    num_layers: int = Field(1, ge=1, le=8)
    pooling: Pooling = "max"


class CharCNNParams(Section):
    num_features: int = Field(256, ge=1, le=4096, description="filters per convolution (Zhang small: 256)")
    hidden_size: int = Field(1024, ge=1, le=8192, description="fully connected width (Zhang small: 1024)")


class FastTextParams(Section):
    bigram_buckets: int = Field(200_000, ge=0, le=10_000_000, description="0 = unigrams only")
    sparse: bool = Field(
        True,
        description="sparse embedding gradients: a step touches only the rows in its batch, so the table's size "
        "(fastText's own: 100 dims x 2M buckets) costs little; train.optimizer adam applies them lazily (the "
        "batch's rows and their moments), sgd needs momentum 0 and weight_decay 0; false: dense Adam, every row "
        "every step",
    )
    initialization: Literal["kim", "fasttext"] = Field(
        "kim",
        description="random start of the rows not copied from the embed stage's vectors (all of them under 'rand'): "
        "'kim' draws them from U[-0.25, 0.25] as every model here; 'fasttext' does as the fastText binary, "
        "U[-1/dim, 1/dim] rows and a zero output layer, so the millions of rarely seen bigram buckets add little "
        "noise to a text's mean",
    )


class NBNgramsParams(Section):
    max_n: int = Field(2, ge=1, le=5, description="longest word n-gram (Wang & Manning: 2, uni+bigrams)")
    buckets: int = Field(
        10_000_000, ge=0, le=1_000_000_000, description="hash ids for n >= 2 (rows only for those seen); 0 = unigrams"
    )
    smoothing: float = Field(1.0, ge=1e-6, le=100.0, description="alpha added to every n-gram count")
    initial_weight: float = Field(
        0.0,
        ge=-10.0,
        le=10.0,
        description="every n-gram's weight before training; 1 starts from multinomial naive Bayes instead of from "
        "nothing",
    )
    interpolation: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="NBSVM's beta: evaluated and served weights are beta * w + (1 - beta) * mean |w| (Wang & "
        "Manning: 0.25); 1 serves the trained weights",
    )


class TfidfLinearParams(Section):
    max_n: int = Field(2, ge=1, le=5, description="longest word n-gram (2: uni+bigrams)")
    buckets: int = Field(
        10_000_000, ge=0, le=1_000_000_000, description="hash ids for n >= 2 (rows only for those seen); 0 = unigrams"
    )


class ModelParams(Section):
    type: ModelType = Field("textcnn", description="Classifier architecture (task classification)")
    embedding_dim: int = Field(300, ge=2, le=2048)
    embedding_init: EmbeddingInit = Field(
        "rand",
        description="rand, or vectors from the embed stage (static = frozen, non-static = fine-tuned, multichannel "
        "= both)",
    )
    dropout: float = Field(0.5, ge=0.0, le=0.95)
    textcnn: TextCNNParams = Field(default_factory=TextCNNParams)
    rnn: RecurrentParams = Field(default_factory=RecurrentParams)
    fasttext: FastTextParams = Field(default_factory=FastTextParams)
    charcnn: CharCNNParams = Field(default_factory=CharCNNParams)
    nb_ngrams: NBNgramsParams = Field(default_factory=NBNgramsParams)
    tfidf_linear: TfidfLinearParams = Field(default_factory=TfidfLinearParams)


class LanguageModelParams(Section):
    """``task: language_model``: a recurrent LM over one token stream (pipelines/models/language_model.py)."""

    cell: RecurrentCell = Field("lstm", description="Recurrent cell of the language model (task language_model)")
    embedding_dim: int = Field(200, ge=2, le=4096)
    hidden_size: int = Field(200, ge=1, le=8192, description="Hidden units per layer of the language model")
    num_layers: int = Field(2, ge=1, le=8, description="Stacked recurrent layers of the language model")
    dropout: float = Field(0.2, ge=0.0, le=0.95, description="on the embedding, between layers and on the output")
    tied: bool = Field(False, description="share input and output embeddings (needs embedding_dim == hidden_size)")
    bptt: int = Field(35, ge=1, le=10_000, description="truncated back-propagation length in tokens")
    sampling: BatchSampling = Field(
        "sequential",
        description="sequential: the stream cut into train.batch_size rows, hidden state carried between batches; "
        "random: windows at random offsets, fresh state each batch",
    )
    clean: bool = Field(
        False, description="apply the clean.* steps (lossy); false keeps the text as written, whitespace normalised"
    )
    sample_prefixes: list[str] = Field(
        default_factory=list,
        description="texts continued every epoch (logged to MLflow) and by the evaluate stage; empty: the "
        "dataset's prompts from the registry (分开 and 不分开 for jaychou)",
    )
    sample_tokens: int = Field(40, ge=1, le=10_000)
    temperature: float = Field(0.8, ge=0.01, le=10.0)


class TrainParams(Section):
    seed: int = Field(
        42,
        ge=0,
        le=2**31 - 1,
        description="Training seed: initial weights, dropout and batch order (the data stays the same)",
    )
    ensemble_size: int = Field(
        1,
        ge=1,
        le=20,
        description="Trainings (seeds train.seed, +1, ...) served as one model averaging their probabilities, "
        "weights chosen on validation (classification)",
    )
    label_prior: Literal["train", "valid", "auto"] = Field(
        "train",
        description="classification: the class frequencies the served probabilities assume. valid: shift them "
        "from the training split's frequencies to the validation split's, for training data whose label mix "
        "differs from what is scored (SST phrases: 51% neutral vs 19% of sentences); auto: whichever of the two "
        "scores higher on validation",
    )
    epochs: int = Field(15, ge=1, le=1000, description="Maximum epochs (early stopping on validation may end sooner)")
    batch_size: int = Field(50, ge=1, le=65_536, description="Examples per batch")
    learning_rate: float = Field(
        0.001,
        ge=1e-7,
        le=100.0,
        description="Optimizer learning rate (a language model's plain SGD on the per-token mean loss uses 20, "
        "Zaremba's 1 on a sum over 20 steps)",
    )
    optimizer: Literal["adam", "adamw", "adadelta", "sgd", "lbfgs"] = Field(
        "adam",
        description="lbfgs: full-batch L-BFGS for classifiers without dropout (tfidf_linear: scikit-learn's "
        "logistic regression, fit to convergence); an epoch is 20 iterations, a line search picks each step "
        "(learning_rate is its first trial, 1 is usual), weight_decay penalises weights, not biases",
    )
    lr_schedule: Literal["constant", "cosine", "linear", "plateau", "step"] = Field(
        "constant",
        description="Learning-rate decay: cosine/linear decay per step to 0 over train.epochs; plateau: times "
        "train.decay_factor after each epoch that does not improve the validation score; step: times decay_factor "
        "after every epoch from train.decay_after on (Zaremba 2014)",
    )
    decay_factor: float = Field(0.25, ge=0.01, le=1.0, description="learning-rate factor of plateau and step")
    decay_after: int = Field(4, ge=0, le=10_000, description="step: epochs at the full learning rate")
    momentum: float = Field(0.9, ge=0.0, le=0.999, description="sgd only (0 = plain SGD, as Zaremba 2014)")
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    grad_clip: float = Field(5.0, ge=0.0, description="max gradient norm; 0 disables clipping")
    patience: int = Field(4, ge=1, description="epochs without validation improvement before stopping")
    length_buckets: bool = Field(
        True, description="batch texts of similar length together so padding (and compute) shrinks"
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    mixed_precision: bool = True
    num_threads: int = Field(
        0,
        ge=0,
        le=256,
        description="0 = this training's share: usable cores / TEXTFLOW_CONCURRENT_TRAININGS (see training/device.py)",
    )


class TrackingParams(Section):
    enabled: bool = True
    experiment: str = "textflow"
    data_docs: bool = Field(
        True,
        description="log GX's Data Docs site of the scored splits to the run; the evaluate stage validates them "
        "again to build it (as long as the validate stage takes)",
    )


class RegisterParams(Section):
    model_name: str = Field(
        "", description="registered model name; empty = textflow-<dataset> (a language model: textflow-<dataset>-lm)"
    )
    metric: Literal["macro_f1", "accuracy"] = Field(
        "macro_f1", description="classification; a language model is always selected on perplexity"
    )
    approval: bool = Field(
        False,
        description="a person approves each move of alias champion (Airflow's approve_champion step); "
        "until then the new version is challenger",
    )
    approval_hours: float = Field(
        48.0, gt=0, description="hours the approval step waits; then it rejects (the version stays challenger)"
    )

    @field_validator("model_name")
    @classmethod
    def _registry_safe(cls, value: str) -> str:
        if value and not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError("'register.model_name' may hold letters, digits, '-' and '_' only")
        return value


SEARCH_SPACE_GROUPS = ("classifier", *MODEL_TYPES, "language_model")
"""The groups of ``search.spaces``: ``classifier`` applies to every classifier trial, a model type's group to
trials of that type, ``language_model`` to language-model trials."""
SearchChoice = int | float | str | bool


class SearchDimension(Section):
    """One searched params key: a range (``low``..``high``, sampled on a log scale when ``log``; an integer key
    gets integers) or a list of ``choices``."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[SearchChoice] | None = None

    @model_serializer(mode="wrap")
    def _as_written(self, handler: Any) -> dict[str, Any]:
        """Only what params.yaml spells: ``{low, high}``, ``log`` when true, or ``{choices}``."""
        return {key: value for key, value in handler(self).items() if value is not None and value is not False}

    @model_validator(mode="after")
    def _range_or_choices(self) -> SearchDimension:
        ranged = self.low is not None or self.high is not None
        if ranged == (self.choices is not None):
            raise ValueError("a search dimension is either a range (low and high) or a list of choices")
        if self.choices is not None and not self.choices:
            raise ValueError("a search dimension's choices may not be empty")
        if ranged:
            if self.low is None or self.high is None or self.low >= self.high:
                raise ValueError("a search range needs low < high")
            if self.log and self.low <= 0:
                raise ValueError("a log-scaled search range needs low > 0")
        return self


def _default_search_spaces() -> dict[str, dict[str, SearchDimension]]:
    """General ranges, not tuned to any dataset: the regularisation and rate every classifier has, one size or
    option per model type, NBSVM's interpolation and smoothing. ``tfidf_linear`` widens weight decay, its only
    regulariser (scikit-learn's ``C`` from 0.1 to 100 on 1k-100k texts is a decay of about 1e-7 to 1e-2), and
    takes larger steps: its unit-norm features spread a text over its n-grams, so each weight moves slowly. It
    stays with Adam and early stopping: pinned to L-BFGS to convergence (``train.optimizer: lbfgs``,
    ``model.dropout: 0``, ``train.learning_rate: 1``, as scikit-learn fits it) the search chose worse on
    SpamAssassin's subjects, 90.9% on validation and 89.4% on test against 91.8% and 89.9%, in five times the
    time (benchmarks/RESULTS.md)."""
    ranged, chosen = SearchDimension, lambda *values: SearchDimension(choices=list(values))
    return {
        "classifier": {
            "train.learning_rate": ranged(low=0.0003, high=0.01, log=True),
            "train.weight_decay": ranged(low=1e-08, high=0.001, log=True),
            "model.dropout": ranged(low=0.0, high=0.7),
        },
        "textcnn": {"model.textcnn.num_filters": chosen(50, 100, 200)},
        "bigru": {"model.rnn.hidden_size": chosen(64, 128, 256)},
        "bilstm": {"model.rnn.hidden_size": chosen(64, 128, 256)},
        "fasttext": {"model.fasttext.bigram_buckets": chosen(0, 200000, 2000000)},
        "charcnn": {"model.charcnn.hidden_size": chosen(256, 1024)},
        "nb_ngrams": {
            "model.nb_ngrams.max_n": chosen(1, 2, 3),
            "model.nb_ngrams.interpolation": ranged(low=0.1, high=1.0),
            "model.nb_ngrams.smoothing": ranged(low=0.1, high=2.0, log=True),
        },
        "tfidf_linear": {
            "model.tfidf_linear.max_n": chosen(1, 2, 3),
            "train.learning_rate": ranged(low=0.001, high=0.3, log=True),
            "train.weight_decay": ranged(low=1e-07, high=0.01, log=True),
        },
        "language_model": {
            "train.learning_rate": ranged(low=0.0003, high=0.01, log=True),
            "language_model.dropout": ranged(low=0.0, high=0.6),
        },
    }


class SearchParams(Section):
    """``textflow_sweep``'s search mode and ``benchmarks/quality.py --search``: Optuna's TPE sampler proposes
    params from ``spaces``, each trial one training judged on validation only (pipelines/search/). No stage reads
    this section, so changing it re-runs nothing."""

    trials: int = Field(8, ge=1, le=256, description="Search budget in trials (trainings)")
    parallel: int = Field(
        2, ge=1, le=64, description="Trials per round, trained at once; each round is proposed from every earlier one"
    )
    minutes: float = Field(
        120.0, gt=0.0, le=100_000.0, description="Search budget in wall time: no round starts after this many minutes"
    )
    seed: int = Field(1, ge=0, le=2**31 - 1, description="Seed of the TPE sampler: same seed and results, same trials")
    startup_trials: int = Field(
        4, ge=1, le=256, description="Random trials before TPE models the results and before any trial is pruned"
    )
    baseline_first: bool = Field(
        True,
        description="the first trial trains the run's own values of the searched keys (a value outside a range at "
        "its nearest bound), so the pick is not worse on validation than the run without a search",
    )
    pruning: bool = Field(
        True, description="stop a trial whose validation score after an epoch is below the median of earlier trials"
    )
    warmup_epochs: int = Field(2, ge=0, le=1000, description="epochs every trial trains before it may be pruned")
    ensemble_size: int = Field(
        1,
        ge=1,
        le=20,
        description="after the trials, the best one's settings trained again as a seed ensemble of this many "
        "members (train.ensemble_size), which is registered instead where it scores higher on validation; "
        "1: no refit (classification)",
    )
    model_types: list[ModelType] = Field(
        default_factory=list, description="classifier types the search chooses among; empty: model.type only"
    )
    spaces: dict[str, dict[str, SearchDimension]] = Field(
        default_factory=_default_search_spaces,
        description="per group (classifier, a model type, language_model): dotted params key -> range or choices",
    )

    @field_validator("spaces")
    @classmethod
    def _known_groups(cls, spaces: dict[str, dict[str, SearchDimension]]) -> dict[str, dict[str, SearchDimension]]:
        unknown = sorted(set(spaces) - set(SEARCH_SPACE_GROUPS))
        if unknown:
            raise ValueError(
                f"'search.spaces' has unknown group(s) {', '.join(unknown)}; groups: {', '.join(SEARCH_SPACE_GROUPS)}"
            )
        return spaces


def resolved_tokenizer(params: Params) -> str:
    """``tokenize.method``, with ``auto`` as the dataset's unit (registry): what the rules below judge."""
    method = params.tokenize.method
    return get_dataset(params.dataset.name).tokenizer if method == "auto" else method


def dataset_has_labels(params: Params) -> bool:
    """False for a plain-text corpus (a registry language-model corpus, or local files in plain_text)."""
    if params.dataset.name == "local":
        return params.dataset.local.format != "plain_text"
    return get_dataset(params.dataset.name).format != "plain_text"


# ``validate`` and ``register`` are params.yaml sections and also names on every pydantic model (v1's deprecated
# ``BaseModel.validate``, ABCMeta's ``register``), which nothing here calls on Params; the fields win, and
# pydantic's warning about that is expected.
warnings.filterwarnings("ignore", message='Field name "(validate|register)" in "Params" shadows', category=UserWarning)


class Params(Section):
    task: Task = Field(
        "classification",
        description="classification (labelled texts) or language_model (next token: perplexity and generation)",
    )
    dataset: DatasetParams = Field(default_factory=DatasetParams)
    validate: ValidateParams = Field(default_factory=ValidateParams)
    clean: CleanParams = Field(default_factory=CleanParams)
    tokenize: TokenizeParams = Field(default_factory=TokenizeParams)
    embed: EmbedParams = Field(default_factory=EmbedParams)
    keywords: KeywordsParams = Field(default_factory=KeywordsParams)
    model: ModelParams = Field(default_factory=ModelParams)
    language_model: LanguageModelParams = Field(default_factory=LanguageModelParams)
    train: TrainParams = Field(default_factory=TrainParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)
    register: RegisterParams = Field(default_factory=RegisterParams)
    search: SearchParams = Field(default_factory=SearchParams)

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        for rule in CONSISTENCY_RULES:
            problem = rule(self)
            if problem:
                raise ValueError(problem)
        return self


def _labels_for_classification(params: Params) -> str | None:
    if params.task == "classification" and not dataset_has_labels(params):
        return (
            f"dataset {params.dataset.name!r} is plain text without labels, so 'task' classification has "
            "nothing to learn; set task: language_model (or give labelled files)"
        )
    return None


def _tied_sizes(params: Params) -> str | None:
    lm = params.language_model
    if params.task == "language_model" and lm.tied and lm.embedding_dim != lm.hidden_size:
        return (
            "'language_model.tied' shares the output layer with the input embedding, so "
            f"'language_model.embedding_dim' ({lm.embedding_dim}) must equal 'language_model.hidden_size' "
            f"({lm.hidden_size})"
        )
    return None


def _keyword_stopwords_language(params: Params) -> str | None:
    if params.keywords.stopwords == "gensim" and resolved_tokenizer(params) == "jieba":
        return (
            "'keywords.stopwords' gensim is English only and 'tokenize.method' is jieba (Chinese); "
            "use nltk (it has a Chinese list) or none"
        )
    return None


def _subword_lengths(params: Params) -> str | None:
    if params.embed.max_n < params.embed.min_n:
        return f"'embed.max_n' ({params.embed.max_n}) must be >= 'embed.min_n' ({params.embed.min_n})"
    return None


def _vectors_exist(params: Params) -> str | None:
    model, embed = params.model, params.embed
    if model.embedding_init == "rand":
        return None
    if embed.method == "none":
        return (
            f"'model.embedding_init' is {model.embedding_init!r} but 'embed.method' is 'none'; "
            "set embed.method to word2vec or fasttext, or use embedding_init: rand"
        )
    if embed.dim != model.embedding_dim:
        return (
            f"'model.embedding_dim' ({model.embedding_dim}) must equal 'embed.dim' ({embed.dim}) when "
            f"'model.embedding_init' is {model.embedding_init!r}"
        )
    return None


def _charcnn_reads_characters(params: Params) -> str | None:
    if params.model.type != "charcnn":
        return None
    if (method := resolved_tokenizer(params)) != "char":
        return f"'model.type' charcnn reads characters; set 'tokenize.method' to char (it is {method!r})"
    if params.model.embedding_init != "rand":
        return (
            "'model.type' charcnn quantizes characters one-hot and has no word embedding; "
            f"'model.embedding_init' must be rand (it is {params.model.embedding_init!r})"
        )
    return None


def _classification_only_training(params: Params) -> str | None:
    if params.task == "classification":
        return None
    wrong = [
        f"'{key}' is {value!r} ({purpose}; set {key.rsplit('.', 1)[1]}: {default})"
        for key, value, default, purpose in [
            ("train.label_prior", params.train.label_prior, "train", "it shifts class probabilities"),
            ("train.ensemble_size", params.train.ensemble_size, 1, "it averages classifiers' probabilities"),
            ("search.ensemble_size", params.search.ensemble_size, 1, "its refit averages classifiers' probabilities"),
        ]
        if value != default
    ]
    return f"'task' is {params.task!r}, but {', '.join(wrong)}" if wrong else None


def _sparse_fasttext_optimizer(params: Params) -> str | None:
    if not (params.model.type == "fasttext" and params.model.fasttext.sparse):
        return None
    train = params.train
    if train.optimizer == "adam":
        return None
    if train.optimizer == "sgd":
        wrong = [
            f"'train.{key}' is {value!r}"
            for key, value in [("momentum", train.momentum), ("weight_decay", train.weight_decay)]
            if value != 0.0
        ]
    else:
        wrong = [f"'train.optimizer' is {train.optimizer!r}"]
    if not wrong:
        return None
    # torch 2.13: AdamW and Adadelta refuse sparse gradients; SGD's momentum buffer stays sparse and is never
    # coalesced, so it grows by every step's rows (TREC, 2M buckets: epoch 1 4.4 s, epoch 5 30.7 s)
    return (
        "'model.fasttext.sparse' gives sparse gradients, which train.optimizer 'adam' (lazily, the batch's rows) "
        f"or plain 'sgd' (momentum 0, weight_decay 0) applies; here {', '.join(wrong)} (set train.optimizer: "
        "adam, or sgd with momentum: 0 and weight_decay: 0, or model.fasttext.sparse: false)"
    )


def _lbfgs_full_batch(params: Params) -> str | None:
    """L-BFGS's line search compares losses of one fixed objective, which dropout would change on every call,
    and a per-epoch schedule would fight; a language model's batches carry hidden state from one to the next."""
    train = params.train
    if train.optimizer != "lbfgs":
        return None
    if params.task != "classification":
        return (
            f"'train.optimizer' lbfgs fits classifiers, but 'task' is {params.task!r}; a language model's "
            "batches carry hidden state from one to the next (set another train.optimizer)"
        )
    wrong = [
        f"'{key}' is {value!r} (set {key.split('.')[-1]}: {fixed!r})"
        for key, value, fixed in [
            ("model.dropout", params.model.dropout, 0.0),
            ("train.lr_schedule", train.lr_schedule, "constant"),
        ]
        if value != fixed
    ]
    if not wrong:
        return None
    return f"'train.optimizer' lbfgs minimises one fixed full-batch loss, but {', '.join(wrong)}"


def _ngram_models_without_vectors(params: Params) -> str | None:
    if params.model.type in ("nb_ngrams", "tfidf_linear") and params.model.embedding_init != "rand":
        return (
            f"'model.type' {params.model.type} is a linear model over n-gram indicators with no word embedding; "
            f"'model.embedding_init' must be rand (it is {params.model.embedding_init!r})"
        )
    return None


def _extra_text_needs_embeddings(params: Params) -> str | None:
    if params.embed.extra_text != "none" and params.embed.method == "none":
        return (
            f"'embed.extra_text' is {params.embed.extra_text!r} but 'embed.method' is 'none', "
            "so no embeddings would be trained on it; set embed.method or extra_text: none"
        )
    return None


def _phrases_need_trees(params: Params) -> str | None:
    if params.dataset.train_on == "phrases" and get_dataset(params.dataset.name).phrases is None:
        with_trees = [dataset.name for dataset in DATASETS.values() if dataset.phrases is not None]
        return (
            f"'dataset.train_on' is phrases but dataset {params.dataset.name!r} has no parse trees; "
            f"phrases exist for {', '.join(with_trees)} (or set train_on: sentences)"
        )
    return None


def _local_needs_a_file(params: Params) -> str | None:
    if params.dataset.name == "local" and not params.dataset.local.train:
        return "'dataset.local.train' must name a file when 'dataset.name' is 'local'"
    return None


CONSISTENCY_RULES = (
    _labels_for_classification,
    _tied_sizes,
    _keyword_stopwords_language,
    _subword_lengths,
    _vectors_exist,
    _charcnn_reads_characters,
    _classification_only_training,
    _sparse_fasttext_optimizer,
    _lbfgs_full_batch,
    _ngram_models_without_vectors,
    _extra_text_needs_embeddings,
    _phrases_need_trees,
    _local_needs_a_file,
)
"""Rules tying keys together, in the order they are checked; each returns the problem (naming every key it
involves) or None."""
