"""Span F1 (exact and overlap) on a case computed by hand, its symmetry, and majority spans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newscorpus.quality.spans import (
    SpanAgreement,
    majority_spans,
    pair_f1,
    span_agreement,
    spans_match,
)
from tests.conftest import make_article
from tests.quality.helpers import ann, span


def test_touching_spans_do_not_overlap() -> None:
    assert not spans_match(span("a", 0, 10), span("b", 10, 20), "overlap")
    assert spans_match(span("a", 0, 10), span("b", 9, 20), "overlap")
    assert not spans_match(span("a", 0, 10), span("b", 0, 10, "Quote"), "overlap")


def test_hand_computed_case() -> None:
    art, other = make_article(0, text="x" * 100), make_article(1, text="y" * 100)
    a = ann(art, "ann-a", spans=[span("1", 0, 10), span("2", 20, 30), span("3", 40, 50, "Quote")])
    b = ann(art, "ann-b", spans=[span("4", 0, 10), span("5", 25, 35), span("6", 60, 70)])
    c = ann(other, "ann-c", spans=[span("7", 0, 10)])  # shares no task with a or b
    # Claim exact: a matched 1 of 2 (P=1/2), b matched 1 of 3 (R=1/3): F1 = 2PR/(P+R) = 0.4
    # Claim overlap: a 2 of 2 (P=1), b 2 of 3 (R=2/3): F1 = 0.8
    # Quote: a has one, b none: F1 = 0. Speaker: nobody has one: left out.
    result = span_agreement([a, b, c])
    claim = result["Claim"]
    assert claim.f1_exact == pytest.approx(0.4) and claim.f1_overlap == pytest.approx(0.8)
    assert (claim.pairs, claim.pairs_without_spans) == (1, 0)
    assert result["Quote"].f1_exact == 0.0 and result["Quote"].pairs == 1
    assert result["Speaker"] == SpanAgreement(
        f1_exact=None, f1_overlap=None, pairs=0, pairs_without_spans=1
    )


def test_mean_over_pairs_sharing_a_task() -> None:
    art = make_article(0, text="x" * 100)
    a = ann(art, "a", spans=[span("1", 0, 10)])
    b = ann(art, "b", spans=[span("2", 0, 10)])
    c = ann(art, "c", spans=[span("3", 50, 60)])
    # pairs: (a,b)=1, (a,c)=0, (b,c)=0 -> mean 1/3
    assert span_agreement([a, b, c])["Claim"].f1_exact == pytest.approx(1 / 3)


spans_st = st.lists(
    st.tuples(st.integers(0, 50), st.integers(1, 20), st.sampled_from(["Claim", "Quote"])),
    max_size=6,
)


@settings(max_examples=80, deadline=None)
@given(spans_st, spans_st, st.sampled_from(["exact", "overlap"]))
def test_f1_is_symmetric_in_the_pair(xs, ys, mode) -> None:  # type: ignore[no-untyped-def]
    a = {"t": [span(f"a{i}", s, s + n, lab) for i, (s, n, lab) in enumerate(xs)]}
    b = {"t": [span(f"b{i}", s, s + n, lab) for i, (s, n, lab) in enumerate(ys)]}
    for label in ("Claim", "Quote"):
        assert pair_f1(a, b, label, mode) == pair_f1(b, a, label, mode)


def test_majority_spans_take_the_majority_boundaries_and_attributes() -> None:
    text = "0123456789" * 10
    per = {
        "a": [
            span("a1", 10, 20, checkworthy="yes", claim_type="causal", speaker="a9"),
            span("a9", 0, 5, "Speaker"),
        ],
        "b": [
            span("b1", 10, 20, checkworthy="yes", claim_type="event", speaker="b9"),
            span("b9", 0, 5, "Speaker"),
        ],
        "c": [span("c1", 12, 25, checkworthy="no", claim_type="event"), span("c2", 60, 70)],
    }
    spans, unresolved = majority_spans(per, 3, text)
    assert unresolved == 1  # c's lone span at 60..70
    by_label = {s["label"]: s for s in spans}
    claim, speaker = by_label["Claim"], by_label["Speaker"]
    assert (claim["start"], claim["end"]) == (10, 20)
    assert claim["text"] == text[10:20]
    assert claim["checkworthy"] == "yes" and claim["claim_type"] == "event"
    assert claim["speaker"] == speaker["id"]
    # with a fourth annotator, the Speaker (2 of 4) is no strict majority; the Claim (3 of 4) is
    spans4, unresolved4 = majority_spans({**per, "d": []}, 4, text)
    assert [s["label"] for s in spans4] == ["Claim"] and unresolved4 == 2
    assert spans4[0]["speaker"] is None
    assert majority_spans(per, 6, text) == ([], 3)
