"""Citation normalization: the forms letters use, and properties over generated strings (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drafter.citations import family_of, normalize


def simple(text):
    return sorted(((c.guideline, c.section, tuple(c.pages)) for c in normalize(text)), key=lambda x: (x[0], x[1] or "", x[2]))


@pytest.mark.parametrize("text,expected", [
    ("MTUS page 99", [("MTUS", None, (99,))]),
    ("MTUS pages 98-99", [("MTUS", None, (98, 99))]),
    ("Page(s): 99, 8", [("MTUS", None, (8, 99))]),
    ("page 8 of the MTUS Chronic Pain Medical Treatment Guidelines", [("MTUS", None, (8,))]),
    ("MTUS 9792.20f", [("MTUS", "9792.20f", ())]),
    ("MTUS 9792.20(f)", [("MTUS", "9792.20f", ())]),
    ("MTUS 9792.24.2", [("MTUS", "9792.24.2", ())]),
    ("ACOEM Practice Guidelines, 2nd Edition (2004), Chapter 12, pages 303-305", [("ACOEM", "Chapter 12", (303, 304, 305))]),
    ("ACOEM Chapter 8, page 177", [("ACOEM", "Chapter 8", (177,))]),
    ("ODG Low Back chapter, Lumbar supports", [("ODG", "Low Back", ())]),
    ("MTUS 9792.20f.2. MTUS page 99.3. MTUS page 8 Page(s): 99, 8.", [("MTUS", None, (8, 99)), ("MTUS", "9792.20f", ())]),
    ("MTUS 9792.20f2. MTUS page 99 Page(s): 99.", [("MTUS", None, (99,)), ("MTUS", "9792.20f", ())]),
    ("MTUS Drug Formulary", [("MTUS Drug Formulary", None, ())]),
])
def test_letter_citation_forms(text, expected):
    assert simple(text) == sorted(expected, key=lambda x: (x[0], x[1] or "", x[2]))


def test_family_of_corpus_names():
    assert family_of("MTUS Chronic Pain Medical Treatment Guidelines") == "MTUS"
    assert family_of("ACOEM Practice Guidelines, 2nd Edition (2004)") == "ACOEM"
    assert family_of("MTUS ACOEM-based Guidelines") == "MTUS ACOEM-based"
    assert family_of("MTUS Drug Formulary") == "MTUS Drug Formulary"


pages = st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=6, unique=True)


@given(pages)
def test_listed_pages_come_back_sorted(ps):
    text = "MTUS Page(s): " + ", ".join(map(str, ps))
    assert normalize(text)[0].pages == sorted(ps)


@given(st.integers(min_value=1, max_value=460), st.integers(min_value=0, max_value=40))
def test_ranges_expand(lo, width):
    assert normalize(f"MTUS pages {lo}-{lo + width}")[0].pages == list(range(lo, lo + width + 1))


@given(st.integers(min_value=1, max_value=499), st.integers(min_value=1, max_value=499), st.integers(min_value=2, max_value=9))
def test_glued_list_numbers_are_not_pages(a, b, n):
    text = f"1. MTUS page {a}.{n}. MTUS page {b}"
    got = {p for c in normalize(text) for p in c.pages}
    assert got == {a, b}


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_never_raises_on_any_text(text):
    for c in normalize(text):
        assert all(0 < p < 2000 for p in c.pages)
