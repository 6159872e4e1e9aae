"""Near duplicates: MinHash signatures and the LSH index."""

from __future__ import annotations

import random
from typing import Any

from newscorpus.gather.dedup import NearDupIndex, optimal_bands, signature

WORDS = [
    "mexico",
    "united",
    "states",
    "fentanyl",
    "cartel",
    "sinaloa",
    "joint",
    "operations",
    "sovereignty",
    "army",
    "officials",
    "president",
    "intelligence",
    "border",
    "labs",
    "raids",
    "security",
    "cooperation",
    "talks",
    "minister",
    "week",
    "said",
]


def article(rng: random.Random, n: int = 250) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randint(0, 40)) for _ in range(n))


def wire_copy(text: str, rng: random.Random) -> str:
    words = text.split()
    for _ in range(len(words) // 25):  # edit 4% of the words
        words[rng.randrange(len(words))] = "edited"
    return "MEXICO CITY (Wire) — " + " ".join(words) + " Reporting by the wire desk."


def test_signature_is_deterministic_and_estimates_jaccard() -> None:
    rng = random.Random(1)
    a = article(rng)
    assert (signature(a) == signature(a)).all()
    b = wire_copy(a, rng)
    c = article(rng)
    assert (signature(a) == signature(b)).mean() > 0.6
    assert (signature(a) == signature(c)).mean() < 0.1
    assert (signature("Fentanyl, CÁRTEL!") == signature("fentanyl cartel")).all()


def test_index_clusters_copies_with_their_first_member() -> None:
    rng = random.Random(2)
    idx = NearDupIndex(0.5)
    assert optimal_bands(0.5, 128) == (idx.bands, idx.rows)
    originals = [article(rng) for _ in range(50)]
    ids = [f"{i:016x}" for i in range(50)]
    for text, aid in zip(originals, ids, strict=True):
        assert idx.add_new(signature(text), aid) == aid
    for i in range(0, 50, 5):
        assert idx.add_new(signature(wire_copy(originals[i], rng)), f"c{i:015x}") == ids[i]
    # unrelated texts stay alone
    assert idx.add_new(signature(article(rng)), "f" * 16) == "f" * 16
    assert len(idx) == 61


def test_cluster_choice_does_not_depend_on_insertion_order() -> None:
    rng = random.Random(3)
    base = article(rng)
    texts = {"b" * 16: base, "a" * 16: wire_copy(base, rng)}
    new = wire_copy(base, rng)
    results = set()
    for order in (list(texts), list(reversed(texts))):
        idx = NearDupIndex(0.5)
        for key in order:
            idx.add(signature(texts[key]), key)
        results.add(idx.assign(signature(new), "c" * 16))
    assert results == {"a" * 16}


def test_signatures_of_stored_articles_are_computed_once(tmp_path: Any, monkeypatch: Any) -> None:
    """State reuses the signatures of earlier runs (.newscorpus/minhash.npz), by text hash."""
    from newscorpus.config import load_config
    from newscorpus.corpus import add_articles
    from newscorpus.gather import known
    from newscorpus.gather.dedup import load_signatures
    from tests.conftest import make_article, write_corpus

    cfg = load_config(write_corpus(tmp_path / "c"))
    rng = random.Random(3)
    first = article(rng)
    arts = [
        make_article(0, text=first),
        make_article(1, text=wire_copy(first, rng)),
        make_article(2, text=article(rng)),
    ]
    arts[1].dup_cluster = arts[0].id
    add_articles(cfg, arts[:2], file="a")
    state = known.CorpusIndex(cfg, None)
    assert state.signatures_computed == 2
    state.save()
    cache = cfg.state_dir / known.SIGNATURE_CACHE
    assert set(load_signatures(cache)) == {a.text_sha256 for a in arts[:2]}
    add_articles(cfg, arts[2:], file="a")
    again = known.CorpusIndex(cfg, None)
    assert again.signatures_computed == 1  # only the new article
    again.save()
    assert set(load_signatures(cache)) == {a.text_sha256 for a in arts}
    probe = signature(wire_copy(first, rng))
    assert again.near.index.assign(probe, "x") == state.near.index.assign(probe, "x") == arts[0].id
    before = cache.read_bytes()
    known.CorpusIndex(cfg, None).save()  # nothing new: the cache is not rewritten
    assert cache.read_bytes() == before
    cache.write_bytes(b"not an npz file")  # a damaged cache is recomputed, not trusted
    damaged = known.CorpusIndex(cfg, None)
    assert damaged.signatures_computed == 3
    damaged.save()
    assert known.CorpusIndex(cfg, None).signatures_computed == 0
