"""How hard each task of a release is: baselines beside the human agreement (reports/baseline.json).

Per target (stance per ``[[targets]]`` entry, each per-article choice layer), on the labelled
rows of the release (``unresolved`` rows left out):

- a majority-class baseline: the most frequent label of ``train`` (ties: the layer's value
  order), predicted for every test row;
- one simple trained model: TF-IDF (scikit-learn's TfidfTransformer, sublinear tf, idf of the
  train rows) of hashed character 2- to 4-grams (:func:`char_ngrams`) of the article's title and
  the start of its text, and a logistic regression (scikit-learn, lbfgs, balanced class weights)
  trained on ``train``, its ``C`` picked from :data:`C_GRID` by macro-F1 on ``validation``,
  scored on ``test``;
- both as macro-F1 on ``test`` with a 95% percentile bootstrap interval (the same
  :data:`RESAMPLES` resamples of the test rows for both, seed :data:`SEED`);
- Krippendorff's alpha (nominal) of the human labels, computed with the agreement code
  (quality/reliability.py) from the release's current annotations.

The cost is bounded whatever the corpus size: at most :data:`CAPS` articles per split are used
(a fixed-seed sample when there are more), each read up to :data:`MAX_CHARS` characters, and
each article is vectorised once for every target. A target whose splits have fewer than
:data:`MIN_ROWS` labelled rows (or whose ``train`` rows have one label only) gets no figures,
only the reason. Everything is deterministic: the same release gives the same figures.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from ..config import Config
from ..layers import UNRESOLVED, ChoiceLayer, Layers, and_list, defined
from ..quality.reliability import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    alpha_from_coincidences,
    coincidences,
    confidence_interval,
    value_counts,
)

BASELINE_JSON = "reports/baseline.json"  # in the release folder
SEED = BOOTSTRAP_SEED  # the agreement bootstrap's seed: samples, resamples
RESAMPLES = BOOTSTRAP_RESAMPLES  # 1,000
SPLITS = ("train", "validation", "test")  # the split names the baselines need
CAPS = {"train": 2000, "validation": 500, "test": 1000}  # articles used per split, at most
MAX_CHARS = 1000  # characters of title + text read per article
MIN_ROWS = 10  # labelled rows a split needs (and two labels in train)
C_GRID = (0.1, 1.0, 10.0)  # inverse regularisation strengths tried on validation
NGRAMS = (2, 4)
FEATURES = 2**15  # hashed n-gram columns: the model's cost grows with them
MAX_ITER = 100
CHUNK = 256  # texts whose n-grams are counted at once  # lbfgs iterations per fit, at most
DIGITS = 4  # figures are rounded to this many decimals

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Score:
    """Macro-F1 on test and its 95% bootstrap interval."""

    macro_f1: float
    ci95: tuple[float, float] | None


@dataclass(frozen=True)
class Agreement:
    """Krippendorff's alpha (nominal) of the human labels of one target."""

    alpha: float | None
    units: int  # articles with two or more labels


@dataclass(frozen=True)
class TargetBaseline:
    """The baselines of one target (a stance target, or a per-article choice layer)."""

    config: str  # the release config: stance, or the choice layer's name
    target: str | None  # the stance target id; None for a choice layer
    rows: Mapping[str, int]  # labelled rows per split (before the caps)
    used: Mapping[str, int]  # rows used per split (after the caps)
    labels: tuple[str, ...]  # the layer's values
    agreement: Agreement
    majority_label: str | None = None
    majority: Score | None = None
    model: Score | None = None
    model_c: float | None = None
    validation_macro_f1: float | None = None
    skipped: str | None = None  # why there are no figures

    @property
    def name(self) -> str:
        return self.config if self.target is None else f"{self.config}: {self.target}"

    def to_json(self) -> dict[str, Any]:
        def score(s: Score | None) -> dict[str, Any] | None:
            if s is None:
                return None
            return {"macro_f1": s.macro_f1, "ci95": list(s.ci95) if s.ci95 else None}

        return {
            "config": self.config,
            "target": self.target,
            "labels": list(self.labels),
            "rows": dict(self.rows),
            "used": dict(self.used),
            "alpha": self.agreement.alpha,
            "alpha_units": self.agreement.units,
            "majority": None
            if self.majority is None
            else {"label": self.majority_label, **(score(self.majority) or {})},
            "model": None
            if self.model is None
            else {
                "C": self.model_c,
                "validation_macro_f1": self.validation_macro_f1,
                **(score(self.model) or {}),
            },
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class BaselineResult:
    """Every target's baselines and how they were computed (``to_json``: reports/baseline.json)."""

    targets: tuple[TargetBaseline, ...]
    claims: str  # why claim detection has no baseline

    def to_json(self) -> dict[str, Any]:
        return {
            "method": {
                "metric": "macro-F1 on test (labels in the test rows or the predictions)",
                "interval": f"95% percentile bootstrap over test rows, {RESAMPLES} resamples, seed {SEED}",
                "majority": "the most frequent label of train",
                "model": (
                    f"TF-IDF (sublinear tf, idf of train) of character {NGRAMS[0]}- to "
                    f"{NGRAMS[1]}-grams hashed into {FEATURES} columns + logistic regression "
                    f"(lbfgs, at most {MAX_ITER} iterations, balanced class weights), trained on "
                    "train, C picked by macro-F1 on validation"
                ),
                "C_grid": list(C_GRID),
                "scikit_learn": sklearn_version(),
                "input": f"title and text, first {MAX_CHARS} characters",
                "caps": dict(CAPS),
                "min_rows": MIN_ROWS,
                "seed": SEED,
                "left_out": UNRESOLVED,
                "alpha": "Krippendorff's alpha (nominal) of the current human labels",
            },
            "targets": [t.to_json() for t in self.targets],
            "claims": {"skipped": self.claims},
        }


def sklearn_version() -> str:
    """The installed scikit-learn's version (the figures depend on it)."""
    from importlib.metadata import version

    return version("scikit-learn")


CLAIMS_SKIPPED = (
    "no claim detection baseline yet (a span tagger is not cheap enough to train at release "
    "time); span agreement is in the Agreement section"
)


# --- metrics ------------------------------------------------------------------------------------


def macro_f1_many(truth: IntArray, pred: IntArray, k: int) -> npt.NDArray[np.float64]:
    """Macro-F1 of each row of (resamples x n) code arrays, as scikit-learn's f1_score(average="macro").

    The classes averaged are those in the row's truth or predictions; codes are 0..k-1.
    """
    r = truth.shape[0]
    flat = (np.arange(r)[:, None] * k * k + truth * k + pred).ravel()
    conf = np.bincount(flat, minlength=r * k * k).reshape(r, k, k).astype(np.float64)
    tp = np.einsum("rii->ri", conf)
    actual = conf.sum(axis=2)
    predicted = conf.sum(axis=1)
    present = (actual + predicted) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(present, 2 * tp / (actual + predicted), 0.0)
    counted = present.sum(axis=1)
    return np.where(counted > 0, f1.sum(axis=1) / np.maximum(counted, 1), np.nan)


def macro_f1(truth: Sequence[int] | IntArray, pred: Sequence[int] | IntArray, k: int) -> float:
    """Macro-F1 of one set of predictions (codes 0..k-1)."""
    t = np.asarray(truth, dtype=np.int64)[None, :]
    p = np.asarray(pred, dtype=np.int64)[None, :]
    return float(macro_f1_many(t, p, k)[0])


def bootstrap_indices(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> IntArray:
    """(resamples x n) row indices drawn with replacement (fixed seed)."""
    rng = np.random.default_rng(seed)
    out: IntArray = rng.integers(0, n, size=(resamples, n), dtype=np.int64)
    return out


def score(truth: IntArray, pred: IntArray, k: int, resamples: IntArray) -> Score:
    """Macro-F1 and its percentile interval over the given resamples of the rows."""
    point = macro_f1(truth, pred, k)
    ci = confidence_interval(macro_f1_many(truth[resamples], pred[resamples], k))
    return Score(
        macro_f1=round(point, DIGITS),
        ci95=None if ci is None else (round(ci[0], DIGITS), round(ci[1], DIGITS)),
    )


def majority_label(train: Sequence[str], values: Sequence[str]) -> str:
    """The most frequent label of train; a tie goes to the value listed first."""
    counts = {v: 0 for v in values}
    for label in train:
        counts[label] += 1
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


# --- agreement ----------------------------------------------------------------------------------


def alpha_of(labels: pl.DataFrame, values: tuple[str, ...]) -> Agreement:
    """Alpha (nominal) of (article_id, label) rows, one per annotator's label, as `agree` computes it."""
    rows = labels.filter(pl.col("label").is_in(list(values)))
    if not rows.height:
        return Agreement(alpha=None, units=0)
    index = {v: i for i, v in enumerate(values)}
    unit = rows.get_column("article_id").rank("dense").cast(pl.Int64).to_numpy() - 1
    code = rows.get_column("label").replace_strict(index, return_dtype=pl.Int64).to_numpy()
    counts = value_counts(unit, code, int(unit.max()) + 1, len(values))
    pairable = int((counts.sum(axis=1) >= 2).sum())
    if not pairable:
        return Agreement(alpha=None, units=0)
    a = alpha_from_coincidences(coincidences(counts), np.arange(len(values), dtype=np.float64))
    return Agreement(alpha=None if np.isnan(a) else round(a, DIGITS), units=pairable)


def annotator_labels(annotations: pl.DataFrame, config: str, target: str | None) -> pl.DataFrame:
    """(article_id, label) of every annotator's label of one target in the annotations config."""
    if target is None:
        return annotations.select("article_id", pl.col(config).alias("label"))
    return (
        annotations.select("article_id", "stance")
        .explode("stance")
        .drop_nulls("stance")
        .unnest("stance")
        .filter(pl.col("target") == target)
        .select("article_id", "label")
    )


# --- the trained model --------------------------------------------------------------------------


def _sample(ids: list[str], cap: int) -> list[str]:
    """At most ``cap`` of ``ids``: those first in the order of SHA-256 of seed and id.

    The same order for every target, so targets labelled on the same articles share their
    sample (and its vectors); an article's place does not depend on the others.
    """
    if len(ids) <= cap:
        return sorted(ids)
    key = {a: hashlib.sha256(f"{SEED}:{a}".encode()).hexdigest() for a in ids}
    return sorted(sorted(ids, key=key.__getitem__)[:cap])


@dataclass(frozen=True)
class _Question:
    config: str
    target: str | None
    layer: ChoiceLayer
    rows: pl.DataFrame  # article_id, label, split (labelled rows of the release)
    annotators: pl.DataFrame  # article_id, label (every annotator's label)


def _questions(
    cfg: Config,
    stance: pl.DataFrame,
    choices: Mapping[str, pl.DataFrame],
    annotations: pl.DataFrame,
) -> list[_Question]:
    layers: Layers = defined()
    out = []
    for t in cfg.targets:
        out.append(
            _Question(
                "stance",
                t.id,
                layers.stance,
                stance.filter(pl.col("target") == t.id).select("article_id", "label", "split"),
                annotator_labels(annotations, "stance", t.id),
            )
        )
    for layer in layers.choices:
        frame = choices.get(layer.name)
        rows = (
            frame.select("article_id", "label", "split")
            if frame is not None
            else pl.DataFrame(
                schema={"article_id": pl.String, "label": pl.String, "split": pl.String}
            )
        )
        out.append(
            _Question(
                layer.name, None, layer, rows, annotator_labels(annotations, layer.name, None)
            )
        )
    return out


def _too_few(rows: Mapping[str, int], train_labels: int, splits: Sequence[str]) -> str | None:
    missing = [s for s in SPLITS if s not in splits]
    if missing:
        return (
            f"the baselines need splits named {and_list(SPLITS)} ([release].splits has "
            f"{', '.join(splits)})"
        )
    short = [s for s in SPLITS if rows[s] < MIN_ROWS]
    if short or train_labels < 2:
        counts = ", ".join(f"{s} {rows[s]}" for s in SPLITS)
        return (
            f"too few labelled rows ({counts}; each split needs {MIN_ROWS} or more, and train "
            "two labels or more)"
        )
    return None


def compute_baselines(
    cfg: Config,
    *,
    articles: pl.DataFrame | Callable[[Sequence[str]], pl.DataFrame],
    stance: pl.DataFrame,
    choices: Mapping[str, pl.DataFrame],
    annotations: pl.DataFrame,
) -> BaselineResult:
    """Every target's baselines from a release's frames (``articles``: id, title and full
    text of every article, or a function giving them for some ids)."""
    splits = [s for s, _ in cfg.release.splits]
    questions = _questions(cfg, stance, choices, annotations)
    plans: list[tuple[_Question, pl.DataFrame, dict[str, int], str | None]] = []
    for q in questions:
        labelled = q.rows.filter(pl.col("label").is_in(list(q.layer.value_names)))
        rows = {s: int((labelled.get_column("split") == s).sum()) for s in splits}
        for s in SPLITS:
            rows.setdefault(s, 0)
        train_labels = labelled.filter(pl.col("split") == "train").get_column("label").n_unique()
        plans.append((q, labelled, rows, _too_few(rows, train_labels, splits)))
    # per target and split at most CAPS[split] rows; every sampled article vectorised once
    samples: dict[tuple[int, str], list[str]] = {}
    for i, (_, labelled, _, skipped) in enumerate(plans):
        if skipped is None:
            for s in SPLITS:
                ids = labelled.filter(pl.col("split") == s).get_column("article_id").to_list()
                samples[i, s] = _sample(ids, CAPS[s])
    union = {
        s: sorted({a for (_, s2), ids in samples.items() if s2 == s for a in ids}) for s in SPLITS
    }
    features = _Features(articles, union) if samples else None
    out = []
    for i, (q, labelled, rows, skipped) in enumerate(plans):
        agreement = alpha_of(q.annotators, q.layer.value_names)
        base = TargetBaseline(
            config=q.config,
            target=q.target,
            rows=rows,
            used={s: 0 for s in SPLITS},
            labels=q.layer.value_names,
            agreement=agreement,
            skipped=skipped,
        )
        if skipped is None and features is not None:
            sampled = {s: samples[i, s] for s in SPLITS}
            base = _fit(base, q, labelled, sampled, features)
        out.append(base)
    return BaselineResult(targets=tuple(out), claims=CLAIMS_SKIPPED)


def char_ngrams(texts: Sequence[str], ngrams: tuple[int, int] = NGRAMS) -> Any:
    """(texts x FEATURES) sparse counts of hashed character n-grams, computed with numpy.

    Each text is lower-cased, its whitespace runs made one space, and a space put at each end
    (so word starts and ends are n-grams, as scikit-learn's ``char_wb`` pads words); every
    n-gram of ``ngrams[0]`` to ``ngrams[1]`` characters, across word boundaries as ``char``,
    is hashed (polynomial over code points, a splitmix64 finaliser, the low bits) into one of
    :data:`FEATURES` columns. scikit-learn's analyzers build each n-gram as a Python string:
    ~1.5 µs per character here, 20 times this. Texts are counted :data:`CHUNK` at a time, so
    memory stays small.
    """
    from scipy.sparse import csr_matrix, vstack

    parts = [_ngram_chunk(texts[i : i + CHUNK], ngrams) for i in range(0, len(texts), CHUNK)]
    if not parts:
        return csr_matrix((0, FEATURES), dtype=np.float32)
    return vstack(parts, format="csr")


def _ngram_chunk(texts: Sequence[str], ngrams: tuple[int, int]) -> Any:
    from scipy.sparse import csr_matrix

    joined = "\0".join(" " + " ".join(t.lower().split()) + " " for t in texts)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    doc = np.cumsum(codes == 0)  # a text's index at each position (NUL: the next text's)
    keys = []
    for n in range(ngrams[0], ngrams[1] + 1):
        m = len(codes) - n + 1
        if m <= 0:
            continue
        h = np.full(m, n, dtype=np.uint64)
        for j in range(n):
            h = h * np.uint64(1_000_003) + codes[j : j + m]
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
        ok = (doc[:m] == doc[n - 1 :]) & (codes[:m] != 0)  # within one text
        keys.append(doc[:m][ok] * np.uint64(FEATURES) + (h[ok] & np.uint64(FEATURES - 1)))
    key, count = np.unique(np.concatenate(keys), return_counts=True)  # sorted: row-major
    rows = key // np.uint64(FEATURES)
    indptr = np.searchsorted(rows, np.arange(len(texts) + 1, dtype=np.uint64))
    cols = (key % np.uint64(FEATURES)).astype(np.int32)
    shape = (len(texts), FEATURES)
    return csr_matrix((count.astype(np.float32), cols, indptr), shape=shape)


class _Features:
    """TF-IDF rows of the sampled articles (idf from the train sample), one row per article."""

    def __init__(
        self,
        articles: pl.DataFrame | Callable[[Sequence[str]], pl.DataFrame],
        sample: Mapping[str, list[str]],
    ) -> None:
        from sklearn.feature_extraction.text import TfidfTransformer

        order = [a for s in SPLITS for a in sample[s]]
        if callable(articles):
            articles = articles(order)
        frame = pl.DataFrame({"id": order}, schema={"id": pl.String}).join(
            articles.select("id", "title", "text"), on="id", how="left", maintain_order="left"
        )
        docs = frame.select(
            pl.concat_str(
                [pl.col("title").fill_null(""), pl.col("text").fill_null("")], separator="\n\n"
            ).str.slice(0, MAX_CHARS)
        ).to_series()
        counts = char_ngrams(docs.to_list())
        self.row = {a: i for i, a in enumerate(order)}
        tfidf = TfidfTransformer(sublinear_tf=True)
        tfidf.fit(counts[: len(sample["train"])])
        self.matrix = tfidf.transform(counts).astype(np.float32).tocsr()

    def rows(self, ids: list[str]) -> Any:
        return self.matrix[[self.row[a] for a in ids]]


def _fit(
    base: TargetBaseline,
    q: _Question,
    labelled: pl.DataFrame,
    sampled: Mapping[str, list[str]],
    features: _Features,
) -> TargetBaseline:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    values = q.layer.value_names
    index = {v: i for i, v in enumerate(values)}
    parts: dict[str, tuple[list[str], IntArray]] = {}
    for s in SPLITS:
        part = labelled.filter(pl.col("split") == s)
        part = pl.DataFrame({"article_id": sampled[s]}).join(
            part.select("article_id", "label"), on="article_id", how="left", maintain_order="left"
        )
        ids = part.get_column("article_id").to_list()
        codes = np.asarray([index[v] for v in part.get_column("label").to_list()], dtype=np.int64)
        parts[s] = (ids, codes)
    used = {s: len(parts[s][0]) for s in SPLITS}
    train_all = labelled.filter(pl.col("split") == "train").get_column("label").to_list()
    top = majority_label(train_all, values)
    (x_ids, y), (v_ids, y_val), (t_ids, y_test) = (parts[s] for s in SPLITS)
    k = len(values)
    resamples = bootstrap_indices(len(t_ids))
    majority = score(y_test, np.full(len(y_test), index[top], dtype=np.int64), k, resamples)
    if len(set(y.tolist())) < 2:  # the train sample lost a label: no model
        return _replace(base, used, top, majority, None, None, None)
    x, x_val, x_test = features.rows(x_ids), features.rows(v_ids), features.rows(t_ids)
    best: tuple[float, float, Any] | None = None
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=MAX_ITER, class_weight="balanced")
        # one thread (the build runs validation beside it; same sums in every build), and
        # lbfgs stopping at MAX_ITER is no news to the release's reader
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, y)
        f1 = macro_f1(y_val, model.predict(x_val).astype(np.int64), k)
        if best is None or f1 > best[0]:
            best = (f1, c, model)
    assert best is not None
    f1_val, c, model = best
    trained = score(y_test, model.predict(x_test).astype(np.int64), k, resamples)
    return _replace(base, used, top, majority, trained, c, round(f1_val, DIGITS))


def _replace(
    base: TargetBaseline,
    used: Mapping[str, int],
    top: str,
    majority: Score,
    model: Score | None,
    c: float | None,
    f1_val: float | None,
) -> TargetBaseline:
    return replace(
        base,
        used=dict(used),
        majority_label=top,
        majority=majority,
        model=model,
        model_c=c,
        validation_macro_f1=f1_val,
    )
