"""The ``demo`` dataset: a synthetic, seeded 4-class news-like corpus, so the pipeline runs with no network.

It is synthetic (generated here, not sampled from any real corpus) and built to be learnable but not
trivially so, so that a broken model, tokenizer or training loop shows up as a drop in accuracy:

- four topics (sports, technology, finance, health); each has its own content words, in several inflected
  forms (``play``/``played``/``playing``) so stemming changes the vocabulary;
- every pair of neighbouring topics shares "bridge" words (sports and health share ``fitness``, finance and
  technology share ``startup``), and all topics draw most of their tokens from one pool of function words
  and neutral words, so bag-of-words overlap between classes is large;
- the share of topic words per sentence varies from 15% to 45%, and sentence length follows a log-normal
  between 4 and 60 tokens, so short sentences are often ambiguous;
- ``label_noise`` (default 5%) of labels are replaced by a different random class.

Expected test accuracy with the default sizes and noise: about 80-88% (TF-IDF + logistic regression
83-85%, TextCNN about 81%, measured with seeds 1 and 42); the label noise alone caps it near 95%. A model
near 25% (chance) is broken.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.config import DemoCorpus

TOPICS: dict[str, list[str]] = {
    "sports": (
        "team teams player players played playing match matches coach coaches league season goal goals score "
        "scored scoring championship tournament stadium referee striker defender keeper final finals win wins "
        "winning victory defeat cup medal athlete athletes olympic race racing runner sprint"
    ).split(),
    "technology": (
        "software computer computers chip chips processor network networks internet browser server servers "
        "code coding developer developers app apps phone phones device devices cloud data algorithm algorithms "
        "robot robots program programs programming launch launched update updates silicon laptop"
    ).split(),
    "finance": (
        "market markets stock stocks share shares investor investors bank banks profit profits revenue "
        "earnings quarter quarterly dividend bond bonds inflation interest rate rates trading traded trader "
        "traders fund funds currency loan loans merger acquisition price prices economy"
    ).split(),
    "health": (
        "patient patients doctor doctors hospital hospitals disease diseases vaccine vaccines treatment "
        "treatments clinical trial trials virus infection infections symptom symptoms drug drugs therapy "
        "nurse nurses surgery cancer diet medicine medical researcher researchers study studies"
    ).split(),
}

BRIDGES: dict[tuple[str, str], list[str]] = {
    ("sports", "health"): "fitness injury injured recovery training trained exercise muscle".split(),
    ("technology", "finance"): "startup startups valuation digital payments platform platforms investment".split(),
    ("finance", "health"): "insurance costs budget spending pharmaceutical".split(),
    ("sports", "technology"): "streaming broadcast video gaming sensor".split(),
}

FUNCTION_WORDS = (
    "the the the a a an of of to to in in and and on for with at by from as is was are were has had have "
    "will would could this that these those it its their they he she we after before over under about into "
    "than while during more most new said says reported according also just only very"
).split()

NEUTRAL_WORDS = (
    "year years week weeks day today people group report reports official officials company companies "
    "city country world national local plan plans program time number percent million billion major "
    "early late big small first second third public private news statement monday friday morning"
).split()


def topic_vocabulary(topic: str) -> list[str]:
    bridges = [word for pair, words in BRIDGES.items() if topic in pair for word in words]
    return TOPICS[topic] + bridges


def generate_demo_corpus(settings: DemoCorpus, seed: int) -> dict[str, pd.DataFrame]:
    """Return ``{"train": ..., "test": ...}`` frames with ``text`` and ``label`` columns."""
    rng = np.random.default_rng(seed)
    return {
        "train": _generate(settings.train_size, settings.label_noise, rng),
        "test": _generate(settings.test_size, settings.label_noise, rng),
    }


def _generate(size: int, label_noise: float, rng: np.random.Generator) -> pd.DataFrame:
    topics = sorted(TOPICS)
    vocabularies = {topic: topic_vocabulary(topic) for topic in topics}
    background = FUNCTION_WORDS + NEUTRAL_WORDS
    texts, labels = [], []
    for _ in range(size):
        topic = topics[rng.integers(len(topics))]
        length = int(np.clip(rng.lognormal(mean=2.6, sigma=0.55), 4, 60))
        topic_share = rng.uniform(0.15, 0.45)
        confuser = topics[rng.integers(len(topics))]
        words = []
        for _ in range(length):
            draw = rng.random()
            if draw < topic_share:
                pool = vocabularies[topic]
            elif draw < topic_share + 0.08:
                pool = vocabularies[confuser]
            else:
                pool = background
            words.append(pool[rng.integers(len(pool))])
        words[0] = words[0].capitalize()
        texts.append(" ".join(words) + rng.choice([".", ".", ".", "!", "?"]))
        if rng.random() < label_noise:
            topic = rng.choice([other for other in topics if other != topic])
        labels.append(str(topic))
    return pd.DataFrame({"text": texts, "label": labels})
