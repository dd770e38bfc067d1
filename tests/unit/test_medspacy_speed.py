"""The fact pipeline's faster medspaCy internals give exactly the stock results: the one-pass regex matcher the same
matches, the sentence-local ConText the same modifiers, scopes and flags on every target."""

from __future__ import annotations

import re

import pytest
import spacy
from medspacy.common.regex_matcher import RegexMatcher

from drafter.facts.medspacy_speed import one_pass_regex_matcher
from drafter.facts.pipeline import SPAN_GROUP, build_nlp, load_rules

TEXTS = [
    "  Leading spaces. Pt c/o LBP 7/10 w/o meds, 3/10 w/ Norco.  Denies numbness.\n\nSLR neg bilat.",
    "Norco10/325mg #90; UDS 2/10/15 consistent.Seen 3/5/2015 ... P&S w/ permanent restrictions   ",
    "x",
    "",
    # case folding that str.lower() does not reproduce: long s, Kelvin sign, dotted and dotless I
    "Pt on NORCO. \u017fLR NEG.", "\u212aT done.", "D\u0130SC bulge.", "Bl\u0131nd.",
    "Caf\u00e9 Na\u00efve \u00c9LAN: slr Neg, SLR neg, norco 10/325",
]
PATTERNS = [r"\bw/o meds\b", r"orco1", r"\d+/10", r"SLR neg\w*", r"0/15 cons", r"\s+", r"restrictions\s*$", r"^\s+L", r"x",
            r"(?<![a-z])slr neg\w*", r"norco", r"\bkt\b", r"disc", r"blind", r"caf\u00e9|\u00e9lan", r"(?P<who>pt) on"]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("resolve", [("left", "right"), ("right", "left"), ("left", "left")])
def test_same_matches_as_medspacy(text, resolve):
    nlp = spacy.blank("en")
    doc = nlp(text)
    stock = RegexMatcher(nlp.vocab, flags=re.I, resolve_start=resolve[0], resolve_end=resolve[1])
    fast = RegexMatcher(nlp.vocab, flags=re.I, resolve_start=resolve[0], resolve_end=resolve[1])
    fast.__class__ = one_pass_regex_matcher()
    for i, p in enumerate(PATTERNS):
        stock.add(f"r{i}", [p])
        fast.add(f"r{i}", [p])
    assert fast(doc) == stock(doc)


def test_lower_case_twins_only_for_lower_case_patterns():
    from drafter.facts.medspacy_speed import lower_case_twin, lowered_in_place

    assert lower_case_twin(re.compile(r"(?<![a-z])slr\s+neg\w*", re.I)).flags & re.I == 0
    assert lower_case_twin(re.compile(r"SLR neg", re.I)) is None
    assert lower_case_twin(re.compile(r"slr", 0)) is None
    assert lowered_in_place("Pt NORCO") == "pt norco"
    assert lowered_in_place("\u017fLR") is None and lowered_in_place("D\u0130SC") is None


def _annotations(doc) -> tuple:
    targets = tuple((s.start, s.end, s.label_, s._.is_negated, s._.is_historical, s._.is_hypothetical, s._.is_family, s._.is_uncertain,
                     tuple((m.category, m.modifier_span, m.scope_span) for m in s._.modifiers)) for s in doc.spans[SPAN_GROUP])
    modifiers = tuple((m.category, m.modifier_span, m.scope_span, len(m._targets)) for m in doc._.context_graph.modifiers)
    return targets, modifiers


def test_the_pipeline_reads_every_rule_example_as_stock_medspacy_does():
    """All our rule files' examples in one document (many sentences, negations, terminations, cross-sentence text)."""
    from medspacy.context import ConText

    examples = [x if isinstance(x, str) else x["text"] for rule in load_rules(None).values()
                for x in [*rule.examples.present, *rule.examples.absent, *rule.examples.unknown, *rule.examples.values]]
    text = "\n\n".join(examples)
    nlp = build_nlp()
    fast = _annotations(nlp(text))
    context = nlp.get_pipe("medspacy_context")
    target = nlp.get_pipe("medspacy_target_matcher")
    swapped = [(context, context.__class__)] + [(r, r.__class__) for r in (
        context._ConText__matcher._MedspacyMatcher__regex_matcher, target._TargetMatcher__matcher._MedspacyMatcher__regex_matcher)]
    assert type(context) is not ConText, "the pipeline runs the sentence-local ConText"
    try:
        context.__class__ = ConText
        for r, _ in swapped[1:]:
            r.__class__ = RegexMatcher
        stock = _annotations(nlp(text))
    finally:
        for obj, cls in swapped:
            obj.__class__ = cls
    assert len(fast[0]) > 500 and any(t[3] for t in fast[0]), "the examples give many targets, some negated"
    assert fast == stock
