"""The one-pass regex matcher in the fact pipeline finds exactly the matches medspaCy's own RegexMatcher finds."""

from __future__ import annotations

import re

import pytest
import spacy
from medspacy.common.regex_matcher import RegexMatcher

from drafter.facts.pipeline import _one_pass_regex_matcher

TEXTS = [
    "  Leading spaces. Pt c/o LBP 7/10 w/o meds, 3/10 w/ Norco.  Denies numbness.\n\nSLR neg bilat.",
    "Norco10/325mg #90; UDS 2/10/15 consistent.Seen 3/5/2015 ... P&S w/ permanent restrictions   ",
    "x",
    "",
]
PATTERNS = [r"\bw/o meds\b", r"orco1", r"\d+/10", r"SLR neg\w*", r"0/15 cons", r"\s+", r"restrictions\s*$", r"^\s+L", r"x"]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("resolve", [("left", "right"), ("right", "left"), ("left", "left")])
def test_same_matches_as_medspacy(text, resolve):
    nlp = spacy.blank("en")
    doc = nlp(text)
    stock = RegexMatcher(nlp.vocab, flags=re.I, resolve_start=resolve[0], resolve_end=resolve[1])
    fast = RegexMatcher(nlp.vocab, flags=re.I, resolve_start=resolve[0], resolve_end=resolve[1])
    fast.__class__ = _one_pass_regex_matcher()
    for i, p in enumerate(PATTERNS):
        stock.add(f"r{i}", [p])
        fast.add(f"r{i}", [p])
    assert fast(doc) == stock(doc)
