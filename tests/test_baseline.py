"""Baselines beside human agreement (release/baseline.py): reports/baseline.json and the card's
Baselines section; metrics pinned by hand and against scikit-learn; deterministic builds."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import f1_score

from newscorpus import layers as layers_module
from newscorpus.config import Config, load_config
from newscorpus.corpus import add_annotations, add_articles
from newscorpus.layers import CHOICES, SPANS, STANCE, Layers
from newscorpus.records import Annotation, Article
from newscorpus.release import baseline
from newscorpus.release.baseline import (
    bootstrap_indices,
    macro_f1,
    macro_f1_many,
    majority_label,
    score,
)
from tests.conftest import make_article, write_corpus
from tests.release.helpers import TOML, make_release
from tests.test_layers import FRAME, FRAMES

VALUES = ("favor", "against", "neutral", "unrelated")
WORDS = {  # a word in the text that gives away the stance towards us_forces_in_mexico
    "favor": "welcomed applauded",
    "against": "condemned rejected",
    "neutral": "weighed discussed",
    "unrelated": "harvest weather",
}
SPLITS = "\n[release]\nsplits = { train = 0.5, validation = 0.25, test = 0.25 }\n"
T1, T2 = "us_forces_in_mexico", "cartels_as_terrorists"


def build(root: Path, n: int = 120, toml: str = TOML + SPLITS, frame: bool = False) -> Config:
    """n articles whose text gives their stance on T1 away; T2's labels are noise; with
    ``frame``, a per-article frame label (``choices``) that the text gives away too."""
    write_corpus(root, toml)
    cfg = load_config(root)
    rng = random.Random(3)
    arts: list[Article] = []
    anns: list[Annotation] = []
    for i in range(n):
        label = VALUES[i % 4]
        text = (
            f"Synthetic report {i}. Officials {WORDS[label]} the plan on fentanyl "
            f"{rng.choice(['today', 'again', 'on Monday'])}.\n\nSecond paragraph {i}."
        )
        art = make_article(i, text=text, source="open", url=f"http://news.test/b/{i}")
        arts.append(art)
        for j in range(3):
            anns.append(
                Annotation(
                    id=f"ann-{art.id}-{j}",
                    kind="annotation",
                    article_id=art.id,
                    annotator=f"annotator-{j:02d}",
                    stance={T1: label if j < 2 else rng.choice(VALUES), T2: rng.choice(VALUES)},
                    spans=[],
                    created_at="2026-02-01T10:00:00Z",
                    extra={CHOICES: {"frame": FRAMES[i % 4] if j else FRAMES[0]}} if frame else {},
                )
            )
    add_articles(cfg, arts, file="synthetic")
    add_annotations(cfg, anns, "pulled")
    return cfg


def test_macro_f1_of_a_small_case_computed_by_hand() -> None:
    """truth 0,0,1,2; predicted 0,1,1,1: F1 2/3 (class 0), 1/2 (class 1), 0 (class 2)."""
    assert macro_f1([0, 0, 1, 2], [0, 1, 1, 1], 3) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    # a class in neither the truth nor the predictions is not averaged (code 3 here)
    assert macro_f1([0, 1], [0, 1], 4) == 1.0


def test_macro_f1_equals_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        n, k = int(rng.integers(1, 30)), int(rng.integers(2, 6))
        truth, pred = rng.integers(0, k, n), rng.integers(0, k, n)
        want = f1_score(truth, pred, average="macro", zero_division=0)
        assert macro_f1(truth, pred, k) == pytest.approx(want)
    # and row by row over resamples, as the bootstrap uses it
    truth, pred = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    idx = bootstrap_indices(50, resamples=20)
    many = macro_f1_many(truth[idx], pred[idx], 4)
    for row, got in zip(idx, many, strict=True):
        want = f1_score(truth[row], pred[row], average="macro", zero_division=0)
        assert got == pytest.approx(want)


def test_majority_baseline_of_a_tiny_set_by_hand() -> None:
    """train favor, favor, against -> favor; test favor, against, neutral, favor predicted all
    favor: F1 of favor = 2*2/(2+4) = 2/3, against 0, neutral 0: macro-F1 2/9."""
    top = majority_label(["favor", "favor", "against"], VALUES)
    assert top == "favor"
    truth = np.array([0, 1, 2, 0])
    s = score(truth, np.zeros(4, dtype=np.int64), 4, bootstrap_indices(4))
    assert s.macro_f1 == round(2 / 9, 4)
    # a tie goes to the value listed first in the layer
    assert majority_label(["neutral", "against"], VALUES) == "against"


def test_bootstrap_interval_contains_the_point_and_repeats() -> None:
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 4, 300)
    pred = np.where(rng.random(300) < 0.6, truth, rng.integers(0, 4, 300))
    a = score(truth, pred, 4, bootstrap_indices(300))
    b = score(truth, pred, 4, bootstrap_indices(300))
    assert a == b
    assert a.ci95 is not None
    assert a.ci95[0] <= a.macro_f1 <= a.ci95[1]
    assert a.ci95[0] < a.ci95[1]


def _release(cfg: Config, repo: Path) -> tuple[dict[str, Any], str]:
    make_release(cfg, version="1.0.0", to=repo)
    data = json.loads((repo / "reports" / "baseline.json").read_text(encoding="utf-8"))
    card = (repo / "README.md").read_text(encoding="utf-8")
    return data, card[card.index("## Baselines") : card.index("## Known limitations")]


def _by_target(data: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {t["target"] or t["config"]: t for t in data["targets"]}


def test_release_reports_baselines_beside_the_alpha_of_agree(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """reports/baseline.json and the card's section: per target a majority baseline and the
    trained model on test with intervals, and the alpha `agree` computes; hashed in the manifest."""
    cfg = build(tmp_path / "corpus")
    res = cli("--corpus", cfg.root, "agree", "--json")
    assert res.exit_code == 0, res.output
    agreed = json.loads(res.stdout)["stance"]
    repo = tmp_path / "repo"
    data, section = _release(cfg, repo)
    targets = _by_target(data)
    assert set(targets) == {T1, T2}
    for t in (T1, T2):
        assert targets[t]["alpha"] == round(agreed[t]["alpha"], 4)
        assert targets[t]["alpha_units"] == agreed[t]["units"] == 120
        assert targets[t]["skipped"] is None
        assert set(targets[t]["rows"]) == {"train", "validation", "test"}
        for kind in ("majority", "model"):
            lo, hi = targets[t][kind]["ci95"]
            assert lo <= targets[t][kind]["macro_f1"] <= hi
    # the text gives T1 away: the model beats the majority class by far; T2 is noise
    assert targets[T1]["model"]["macro_f1"] > targets[T1]["majority"]["macro_f1"] + 0.5
    assert targets[T2]["model"]["macro_f1"] < 0.6
    assert targets[T1]["model"]["C"] in (0.1, 1.0, 10.0)
    # unresolved rows (T2's ties) are left out of the rows
    assert sum(targets[T2]["rows"].values()) < 120 == sum(targets[T1]["rows"].values())
    m1 = targets[T1]["majority"]
    assert f"| `stance: {T1}` |" in section
    assert (
        f"`{m1['label']}` | {m1['macro_f1']:.3f} [{m1['ci95'][0]:.3f}, {m1['ci95'][1]:.3f}]"
        in section
    )
    assert f"{targets[T1]['alpha']:.3f} (120 articles)" in section
    assert "scikit-learn 1.9.1" in section or "scikit-learn " in section
    assert "Claim detection: no claim detection baseline" in section
    manifest = json.loads((repo / "manifest.json").read_text(encoding="utf-8"))
    assert "reports/baseline.json" in manifest["files"]


def test_two_builds_give_the_same_baselines(tmp_path: Path) -> None:
    cfg = build(tmp_path / "corpus")
    first = _release(cfg, tmp_path / "repo1")
    second = _release(cfg, tmp_path / "repo2")
    assert first == second
    assert (tmp_path / "repo1" / "reports" / "baseline.json").read_bytes() == (
        tmp_path / "repo2" / "reports" / "baseline.json"
    ).read_bytes()


def test_caps_bound_the_rows_used_and_the_card_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for split, cap in (("train", 20), ("validation", 12), ("test", 15)):
        monkeypatch.setitem(baseline.CAPS, split, cap)
    cfg = build(tmp_path / "corpus")
    data, section = _release(cfg, tmp_path / "repo1")
    t1 = _by_target(data)[T1]
    assert t1["used"] == {"train": 20, "validation": 12, "test": 15}
    assert t1["rows"] == {"train": 52, "validation": 40, "test": 28}
    assert "20 of 52 / 12 of 40 / 15 of 28" in section
    assert "at most 20 train, 12 validation and 15 test rows are used per target" in section
    assert _release(cfg, tmp_path / "repo2") == (data, section)


def test_too_few_labelled_rows_give_a_reason_instead_of_a_number(tmp_path: Path) -> None:
    cfg = build(tmp_path / "corpus", n=16, toml=TOML)  # splits 0.8 / 0.1 / 0.1
    data, section = _release(cfg, tmp_path / "repo")
    for t in data["targets"]:
        assert t["majority"] is None and t["model"] is None
        assert t["skipped"].startswith("too few labelled rows (train ")
        assert "each split needs 10 or more" in t["skipped"]
    assert "| majority macro-F1 |" not in section
    assert f"- `stance: {T1}`: too few labelled rows (train " in section


def test_splits_without_validation_give_a_reason(tmp_path: Path) -> None:
    toml = TOML + "\n[release]\nsplits = { train = 0.5, test = 0.5 }\n"
    cfg = build(tmp_path / "corpus", n=40, toml=toml)
    data, section = _release(cfg, tmp_path / "repo")
    for t in data["targets"]:
        assert t["model"] is None
        assert t["skipped"] == (
            "the baselines need splits named train, validation and test "
            "([release].splits has train, test)"
        )
    assert "the baselines need splits named train, validation and test" in section


def test_a_per_article_choice_layer_gets_its_baselines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Any]
) -> None:
    """A choice layer defined in layers.LAYERS (here: frame) is a target of its own."""
    monkeypatch.setattr(
        layers_module, "LAYERS", Layers(stance=STANCE, spans=SPANS, choices=(FRAME,))
    )
    cfg = build(tmp_path / "corpus", frame=True)
    res = cli("--corpus", cfg.root, "agree", "--json")
    assert res.exit_code == 0, res.output
    agreed = json.loads(res.stdout)["choices"]["frame"]
    data, section = _release(cfg, tmp_path / "repo")
    frame = _by_target(data)["frame"]
    assert frame["config"] == "frame" and frame["target"] is None
    assert frame["labels"] == list(FRAMES)
    assert frame["alpha"] == round(agreed["alpha"], 4)
    assert frame["model"]["macro_f1"] > frame["majority"]["macro_f1"]
    assert "| `frame` |" in section


def test_char_ngrams_count_every_ngram_of_the_normalised_text_once() -> None:
    """ " Ab  c" -> " ab c " (6 characters): 5 bigrams, 4 trigrams, 3 four-grams; case and
    whitespace runs do not matter; a text's row is the same alone and among others (across
    the chunks it is counted in), so no n-gram spans two texts."""
    m = baseline.char_ngrams(["Ab  c"])
    assert m.shape == (1, baseline.FEATURES)
    assert m.sum() == 5 + 4 + 3
    assert (baseline.char_ngrams(["ab\n\tc"]) != m).nnz == 0
    rng = random.Random(2)
    texts = ["".join(rng.choice("abc xyz") for _ in range(rng.randint(0, 40))) for _ in range(600)]
    batch = baseline.char_ngrams(texts)
    assert batch.shape[0] == 600 > baseline.CHUNK
    for i in (0, 255, 256, 257, 599):
        alone = baseline.char_ngrams([texts[i]])
        assert (batch[i] != alone).nnz == 0
        padded = " " + " ".join(texts[i].split()) + " "
        assert batch[i].sum() == sum(max(len(padded) - n + 1, 0) for n in (2, 3, 4))
