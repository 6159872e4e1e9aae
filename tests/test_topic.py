from __future__ import annotations

from newscorpus.gather.topic import TopicMatcher, fold


def test_fold() -> None:
    assert fold("Cártel SOBERANÍA Souveraineté") == "cartel soberania souverainete"


def test_case_accent_and_word_boundaries() -> None:
    m = TopicMatcher(["cártel", "fentanyl", "García Harfuch", "DEA"])
    assert m.matches("El CARTEL de Sinaloa") == ["cártel"]
    assert m.matches("Fentanyl-laced pills") == ["fentanyl"]
    assert m.matches("carteles") == []  # whole words only
    assert m.matches("Omar garcia  harfuch said") == ["García Harfuch"]
    assert m.matches("an idea for the deal") == []
    assert m.matches("title: DEA", "text with cártel") == ["cártel", "DEA"]


def on_topic(m: TopicMatcher, *texts: str) -> bool:
    """The topic stage's rule: no terms accepts everything, else a term must occur."""
    return m.accepts_all or bool(m.matches(*texts))


def test_empty_topic_accepts_everything() -> None:
    m = TopicMatcher([])
    assert m.accepts_all and on_topic(m, "football scores")
    assert not on_topic(TopicMatcher(["fentanyl"]), "football scores")
