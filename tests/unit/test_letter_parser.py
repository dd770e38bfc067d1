"""Letter parser: golden answers for every sample letter (all layouts, with extraction quirks), errors,
and properties over generated Layout A letters (hypothesis)."""

from __future__ import annotations

import json
import re
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drafter.letter_parser import LetterParseError, parse_letter, parse_letter_text
from tests.conftest import REPO
from tests.pdf_factory import text_pdf

LETTERS = REPO / "evals" / "letters"
GOLDEN = sorted(LETTERS.glob("letter-*.expected.json"))


def citation_keys(cites) -> set:
    out = set()
    for c in cites:
        c = c if isinstance(c, dict) else c.model_dump()
        out |= {(c["guideline"], None, p) for p in c.get("pages") or []}
        if c.get("section") or c["guideline"] == "ODG":
            sec = "" if c["guideline"] == "ODG" else re.sub(r"(?i)\s*guidelines?$", "", c["section"])
            out.add((c["guideline"], sec, None))
    return out


def test_the_sample_set_is_large_and_varied():
    assert len(GOLDEN) >= 40
    layouts = {json.loads(p.read_text())["layout"] for p in GOLDEN}
    assert layouts == {"A", "B", "C", "D"}
    cats = {c for p in GOLDEN for c in json.loads(p.read_text())["categories"]}
    assert len(cats) >= 12


@pytest.mark.parametrize("golden", GOLDEN, ids=[p.name.split(".")[0] for p in GOLDEN])
def test_golden_letters(golden):
    exp = json.loads(golden.read_text())
    letter = parse_letter(golden.with_name(golden.name.replace(".expected.json", ".txt")))
    assert letter.layout == exp["layout"]
    assert [(i.item.lower(), i.decision) for i in letter.items] == [(i["item"].lower(), i["decision"]) for i in exp["items"]]
    for want, got in zip(exp["items"], letter.items):
        assert citation_keys(got.citations) == citation_keys(want["citations"])
        assert got.rationale
    assert " ".join(letter.case_summary.split()).startswith(" ".join(exp["case_summary_starts"].split())[:30])


def test_not_a_letter_is_a_clear_error():
    with pytest.raises(LetterParseError, match="not an IMR determination letter"):
        parse_letter(LETTERS / "not-a-letter-progress-report.txt")


def test_empty_file_is_a_clear_error(tmp_path):
    (tmp_path / "x.txt").write_text("  ")
    with pytest.raises(LetterParseError, match="empty or textless"):
        parse_letter(tmp_path / "x.txt")


def test_pdf_letter_reads_like_text(tmp_path):
    src = (LETTERS / "letter-01-pt-lumbar-continuation.txt").read_text()
    pages = [src[i:i + 1800] for i in range(0, len(src), 1800)]
    letter = parse_letter(text_pdf(tmp_path / "letter.pdf", pages, first_printed=1))
    assert letter.layout == "A" and letter.items[0].decision == "upheld"
    assert any(99 in c.pages for c in letter.items[0].citations)


item_names = st.from_regex(r"[A-Z][a-z]{3,9}( [a-z]{2,8}){0,3} [0-9]{1,3}(mg)? #[0-9]{2,3}", fullmatch=True)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(item_names, st.sampled_from(["Upheld", "Overturned"]), st.integers(20, 400)), min_size=1, max_size=4, unique_by=lambda t: t[0]),
       st.integers(min_value=30, max_value=110), st.booleans())
def test_generated_layout_a_letters_split_into_their_items(items, width, footers):
    body = ["CLINICAL CASE SUMMARY", "",
            "The expert reviewer developed the following clinical case summary based on a review of the case file, including all medical records:",
            "", "The applicant is a represented employee with chronic pain since 2012.", "",
            "IMR ISSUES, DECISIONS AND RATIONALES", "", "The Final Determination was based on decisions for the disputed items set forth below:", ""]
    for name, decision, page in items:
        word = "is medically necessary" if decision == "Overturned" else "is not medically necessary"
        body += [f"{name}:  {decision}", "", "Claims Administrator guideline: Decision based on MTUS.", "",
                 f"MAXIMUS guideline: Decision based on MTUS page {page}.", "",
                 f"Decision rationale: Page {page} applies here. Therefore, the request for {name} {word}.", ""]
    text = "\n".join(textwrap.fill(line, width) if line and not line.endswith(("Upheld", "Overturned")) else line for line in body)
    if footers:
        text = text.replace("applies here.", "applies Page 2 of 3 here.")
    letter = parse_letter_text("HOW THE IMR FINAL DETERMINATION WAS MADE\n\n" + text)
    assert [(i.item, i.decision) for i in letter.items] == [(n, d.lower()) for n, d, _ in items]
    assert [i.citations[0].pages for i in letter.items] == [[p] for _, _, p in items]
    assert letter.case_summary.startswith("The applicant is a represented employee")


def test_layout_d_issue_list_with_labelled_sub_lines_that_wrap():
    """A numbered issue list whose items carry a wrapped 'Guideline(s) relied upon ...:' line (fresh9 dev letter
    i24): the continuation is not another item, and an item name that wraps stays one item."""
    text = textwrap.dedent("""\
        ISSUE AT DISPUTE:

        1. Inpatient hospital stay x 5 days
           DETERMINATION: UPHELD - the requested service is not medically necessary.
           Guideline(s) relied upon by the claims administrator: ODG Low Back chapter, Hospital length of stay.

        2. Bone growth stimulator, lumbar, purchase for use after the
           fusion
           DETERMINATION: OVERTURNED - the requested service is medically necessary.
           Guideline(s) relied upon by the claims administrator: ODG Low Back chapter, Bone growth
           stimulators.

        CASE SUMMARY:
        The injured worker is a 58-year-old man who had an L4-5 fusion in 2020.

        MEDICAL TREATMENT GUIDELINE(S) RELIED UPON BY PROFESSIONAL REVIEWER AND WHY:
        ODG Low Back chapter.

        RATIONALE FOR WHY THE REQUESTED TREATMENT/SERVICE IS/WAS NOT MEDICALLY NECESSARY:
        The stay exceeds the guideline's target. The stimulator is medically necessary.
        """)
    letter = parse_letter_text(text)
    assert letter.layout == "D"
    assert [(i.item, i.decision) for i in letter.items] == [
        ("Inpatient hospital stay x 5 days", "upheld"),
        ("Bone growth stimulator, lumbar, purchase for use after the fusion", "overturned")]


def test_layout_d_rationale_heading_that_states_an_overturn():
    """An overturned Layout D letter heads its rationale 'IS MEDICALLY NECESSARY' (fresh10 dev letter j19)."""
    text = textwrap.dedent("""\
        ISSUE AT DISPUTE:

        1. Post-operative physical therapy, right shoulder, 12 visits
           DETERMINATION: OVERTURNED - the requested service is medically necessary.

        CASE SUMMARY:
        The claimant is a 46-year-old grocery stocker who had a shoulder decompression on 05/14/2018.

        MEDICAL TREATMENT GUIDELINE(S) RELIED UPON BY PROFESSIONAL REVIEWER AND WHY:
        MTUS Postsurgical Treatment Guidelines.

        RATIONALE FOR WHY THE REQUESTED TREATMENT/SERVICE IS MEDICALLY NECESSARY:
        The 12 visits are the initial course, one-half of the general course.
        """)
    letter = parse_letter_text(text)
    assert [(i.item, i.decision) for i in letter.items] == [("Post-operative physical therapy, right shoulder, 12 visits", "overturned")]
    assert "initial course" in letter.items[0].rationale


def test_layout_d_with_several_issues_and_numbered_guideline_and_rationale_blocks():
    """'ISSUES AT DISPUTE:' (plural), and the guideline and rationale sections in numbered blocks, one per item
    (fresh11 dev letters k12 and k28 did not parse): each item gets its own rationale and citations."""
    text = textwrap.dedent("""\
        ISSUES AT DISPUTE:

        1. Cognitive behavioral therapy, 6 sessions
           DETERMINATION: UPHELD - the requested service is not medically necessary.

        2. Biofeedback, 6 sessions
           DETERMINATION: UPHELD - the requested service is not medically necessary.

        CASE SUMMARY:
        The claimant is a 34-year-old roofer who fell from a roof.

        MEDICAL TREATMENT GUIDELINE(S) RELIED UPON BY PROFESSIONAL REVIEWER AND WHY:

        1. Cognitive behavioral therapy, 6 sessions: MTUS Chronic Pain Medical Treatment Guidelines, page 23.

        2. Biofeedback, 6 sessions: MTUS Chronic Pain Medical Treatment Guidelines, pages 24-25.

        RATIONALE FOR WHY THE REQUESTED TREATMENT/SERVICE IS/WAS NOT MEDICALLY NECESSARY:

        1. Cognitive behavioral therapy, 6 sessions:

        Six sessions exceed the initial trial of 3-4 visits.

        2. Biofeedback, 6 sessions:

        Biofeedback is not recommended as a stand-alone treatment.
        """)
    letter = parse_letter_text(text)
    assert [(i.item, i.decision) for i in letter.items] == [("Cognitive behavioral therapy, 6 sessions", "upheld"),
                                                            ("Biofeedback, 6 sessions", "upheld")]
    assert [i.rationale for i in letter.items] == ["Six sessions exceed the initial trial of 3-4 visits.",
                                                   "Biofeedback is not recommended as a stand-alone treatment."]
    assert [c.pages for c in letter.items[1].citations] == [[24, 25]]


@pytest.mark.parametrize("issue_lines, item", [
    ("Physical therapy for the lumbar spine, 12 sessions:\nUpheld", "Physical therapy for the lumbar spine, 12 sessions"),
    ("Hydrocodone/acetaminophen 10/325 mg #120 and\nurine drug testing:  Upheld", "Hydrocodone/acetaminophen 10/325 mg #120 and urine drug testing"),
])
def test_layout_a_item_line_broken_before_the_decision(issue_lines, item):
    """A Layout A item whose decision word, or the end of its name, wraps onto the next line is still one item."""
    text = ("CLINICAL CASE SUMMARY\n\nThe applicant is a 50-year-old man.\n\nIMR ISSUES, DECISIONS AND RATIONALES\n\n"
            "The Final Determination was based on decisions for the disputed items/services set forth below:\n\n"
            f"{issue_lines}\n\nClaims Administrator guideline: Decision based on MTUS.\n\n"
            "MAXIMUS guideline: Decision based on MTUS Chronic Pain Medical Treatment Guidelines, page 99.\n\n"
            "Decision rationale: The request exceeds the course. The request is not medically necessary.\n\n"
            "Omeprazole 20 mg #30:  Overturned\n\nDecision rationale: GI risk is documented.\n")
    letter = parse_letter_text("HOW THE IMR FINAL DETERMINATION WAS MADE\n\n" + text)
    assert [(i.item, i.decision) for i in letter.items] == [(item, "upheld"), ("Omeprazole 20 mg #30", "overturned")]
