"""The grounding check keeps supported sentences and drops the rest, saying why."""

from __future__ import annotations

from drafter.grounding import check_sentence, ground

SOURCES = ("MTUS Chronic Pain Medical Treatment Guidelines (2009), Physical medicine, pages 98-99\n"
           "Myalgia and myositis: 9 to 10 visits over 8 weeks. The applicant completed 18 sessions of physical therapy.")


def test_supported_sentence_is_kept():
    assert check_sentence("The applicant completed 18 sessions of physical therapy.", SOURCES, {98, 99}) is None
    assert check_sentence("Page 99 allows 9 to 10 visits over 8 weeks for myalgia.", SOURCES, {98, 99}) is None


def test_invented_number_is_dropped():
    why = check_sentence("The applicant completed 24 sessions of physical therapy.", SOURCES, {98, 99})
    assert why and "24" in why


def test_page_outside_cited_passages_is_dropped():
    why = check_sentence("Page 86 sets a ceiling for physical therapy visits.", SOURCES, {98, 99})
    assert why and "page 86" in why


def test_unknown_drug_name_is_dropped():
    why = check_sentence("The applicant also takes oxycodone for physical therapy pain.", SOURCES, {98, 99})
    assert why and "oxycodone" in why


def test_ground_reports_fraction_and_invalid_citations():
    text = "The applicant completed 18 sessions of physical therapy. The applicant completed 40 sessions of yoga."
    r = ground(text, SOURCES, {98, 99}, ["a#s0", "zzz#s9"], {"a#s0"})
    assert r.kept == ["The applicant completed 18 sessions of physical therapy."]
    assert len(r.dropped) == 1 and r.grounded_fraction == 0.5
    assert r.invalid_citations == ["zzz#s9"]


def test_page_lists_are_not_ranges():
    src = "Oxycodone, pages 92, 97. Muscle relaxants pages 41 and 64."
    assert check_sentence("The guideline on pages 92, 97 covers oxycodone.", src, {92, 97}) is None
    assert check_sentence("Pages 41 and 64 cover muscle relaxants.", src, {41, 64}) is None
    assert "page 93" in check_sentence("Pages 92-94 cover oxycodone.", src, {92, 97})
