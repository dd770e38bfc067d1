"""Metric values checked against hand-computed numbers."""

from __future__ import annotations

import pytest

from drafter.citations import NormCitation
from drafter.metrics.citations import page_keys, precision_recall
from drafter.metrics.decision import accuracy, cohen_kappa, confusion, macro_f1, overturn_recall
from drafter.metrics.rationale import cosine, key_fact_recall, lcs_length, rouge_l

PAIRS = [("upheld", "upheld")] * 6 + [("upheld", "overturned")] * 2 + [("overturned", "overturned")] * 1 + [("overturned", "upheld")] * 1


def test_accuracy_and_confusion():
    assert accuracy(PAIRS).value == pytest.approx(0.7)
    m = confusion(PAIRS)
    assert m["upheld"]["upheld"] == 6 and m["upheld"]["overturned"] == 2 and m["overturned"]["upheld"] == 1


def test_macro_f1_by_hand():
    # upheld: tp 6, fp 1, fn 2 -> p 6/7, r 6/8, f1 = 2*(6/7)(6/8)/((6/7)+(6/8)) = 0.8
    # overturned: tp 1, fp 2, fn 1 -> p 1/3, r 1/2, f1 = 0.4
    assert macro_f1(PAIRS).value == pytest.approx(0.6)


def test_kappa_by_hand():
    # po = 0.7; gold: upheld 8, overturned 2; draft: upheld 7, overturned 3
    # pe = (8*7 + 2*3) / 100 = 0.62; kappa = (0.7 - 0.62) / 0.38
    assert cohen_kappa(PAIRS).value == pytest.approx(0.08 / 0.38)


def test_overturn_recall():
    assert overturn_recall(PAIRS).value == pytest.approx(0.5)
    assert overturn_recall([("upheld", "upheld")]).value is None


def test_always_uphold_looks_good_on_accuracy_and_bad_on_kappa():
    pairs = [("upheld", "upheld")] * 9 + [("overturned", "upheld")]
    assert accuracy(pairs).value == pytest.approx(0.9)
    assert cohen_kappa(pairs).value == pytest.approx(0.0)
    assert overturn_recall(pairs).value == 0.0


def test_lcs_and_rouge_l_by_hand():
    assert lcs_length("a b c d e".split(), "a c e f".split()) == 3
    r = rouge_l("the request is not medically necessary", "the request is medically necessary")
    # LCS 5 of 6 reference words, 5 of 5 candidate words: p 1, r 5/6, f 10/11
    assert r.value == pytest.approx(10 / 11)


def test_citation_precision_recall_by_hand():
    gold = page_keys([NormCitation(guideline="MTUS", pages=[98, 99]), NormCitation(guideline="MTUS", section="9792.20f")])
    draft = page_keys([NormCitation(guideline="MTUS", pages=[99]), NormCitation(guideline="ACOEM", pages=[303])])
    p, r = precision_recall(gold, draft, "pages")
    assert p.value == pytest.approx(0.5) and r.value == pytest.approx(0.5)
    p, r = precision_recall(set(), set(), "pages")
    assert p.value is None and r.value is None


def test_key_fact_recall_by_hand():
    ref = "Page 99 allows 9-10 visits over 8 weeks; the applicant had 18 sessions and takes Norco 10/325 mg #120."
    cand = "Guidelines on page 99 allow limited visits; 18 sessions were completed."
    r = key_fact_recall(ref, cand, {"norco"})
    assert r.value is not None and 0 < r.value < 1 and "norco" in r.reason


def test_cosine():
    assert cosine([1, 0], [1, 0]).value == pytest.approx(1.0)
    assert cosine([1, 0], [0, 1]).value == pytest.approx(0.0)
    assert cosine([0, 0], [1, 0]).value is None


def test_key_facts_match_as_letters_write_them_and_only_whole():
    """'pages 78 to 80' is the letter's 'pages 78-80'; 'page 9' is not found inside 'page 99', nor 10 visits in 110."""
    ref = "Pages 78-80 and page 9 allow 10 visits."
    assert key_fact_recall(ref, "The guideline, pages 78 to 80, page 9 and 10 visits.", set()).value == pytest.approx(1.0)
    r = key_fact_recall(ref, "The guideline, pages 78\u201380, page 99 and 110 visits.", set())
    assert r.value == pytest.approx(1 / 3) and "page 9'" in r.reason and "10 visits" in r.reason


def test_a_page_range_is_found_by_its_first_and_last_page():
    """The letter's 'pages 78-80' is in a draft that cites page 78 and page 80 separately, or pages 76-80; its
    'page 99' is in 'pages 98-99'; one end alone is not enough."""
    ref = "Pages 78-80 apply, and page 99."
    assert key_fact_recall(ref, "The guideline, page 78, and page 80; pages 98-99.", set()).value == pytest.approx(1.0)
    assert key_fact_recall(ref, "The guideline, pages 76-80, and page 99.", set()).value == pytest.approx(1.0)
    assert key_fact_recall(ref, "The guideline, page 78, and page 99.", set()).value == pytest.approx(0.5)
