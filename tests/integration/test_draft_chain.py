"""The drafting chain end to end on sample cases: real embeddings and Chroma; the fake LLM here and the
real embedded LLM in test_embedded_llm.py."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess

import pytest

from drafter.chain import Drafter
from drafter.grounding import pages_named
from drafter.letters import write_docx
from drafter.llm import FakeChatModel
from tests.conftest import REPO
from tests.integration.conftest import VENV_BIN, make_settings

pytestmark = pytest.mark.integration
CASES = REPO / "evals" / "cases"


@pytest.fixture(scope="module")
def fake_drafter(built_home):
    settings = make_settings(built_home)
    settings.llm.backend = "fake"
    return Drafter(settings)


def expected(case: str) -> dict:
    return json.loads((CASES / case / "expected.json").read_text())


def names_page(text: str, page: int) -> bool:
    """The text cites the page alone ("page 99") or in a run ("pages 98-99"), as letters cite a section."""
    return page in pages_named(text)


@pytest.mark.parametrize("case", ["case-01-pt-continuation-lumbar", "case-15-lumbar-esi-radiculopathy", "case-30-medical-food-antiemetic"])
def test_decisions_citations_and_grounding(fake_drafter, case):
    draft = fake_drafter.draft(CASES / case)
    exp = expected(case)
    assert [i.item for i in draft.items] == [i["item"] for i in exp["items"]]
    for got, want in zip(draft.items, exp["items"]):
        assert got.decision == want["expected_decision"]
        assert all(c.chunk_id in got.retrieved_chunk_ids for c in got.citations)
        # the fake restates the argument it was given: its prose must pass every output check, so no fallback
        assert [c.name for c in got.checks if not c.passed] == []
        if got.decision != "needs_review":
            assert not got.fallback_used and not got.degenerate and got.grounded_fraction == 1.0
            assert {p.chunk_id for p in got.argument.points} <= {c.chunk_id for c in got.citations}
        if got.decision == "needs_review" and got.governing_topic is None:
            assert got.citations == [] and "reviewer" in got.rationale
        else:
            assert got.citations and got.rationale.endswith("medically necessary.")
    assert "CLINICAL CASE SUMMARY" in draft.letter_text and "IMR ISSUES, DECISIONS AND RATIONALES" in draft.letter_text


def test_every_criterion_cites_a_passage_that_states_its_page(fake_drafter, tmp_path):
    """The hydrocodone topic has five passages; its 4 A's criteria (pages 78, 80) cited the page-91 dosing passage
    when retrieval kept only four of them, and the rationale said "page 78" beside a passage that does not state it
    (seen in the reviewer app, session 9, on this note)."""
    note = tmp_path / "pr2.txt"
    note.write_text(
        "PROGRESS REPORT (PR-2)\nDate of exam: 03/10/2016\nDOI: 07/09/2015\n"
        "SUBJECTIVE: Constant low back pain 5/10. He takes Norco 10/325 three times a day since 08/2015; pain 8/10 "
        "without and 6/10 with it; no change in activities. No urine drug screen is on file.\n"
        "WORK STATUS: Temporarily totally disabled.\n"
        "PLAN: REQUEST FOR AUTHORIZATION dated 03/11/2016: 1) Chiropractic manipulation lumbar spine 3 x 2 (6 visits) "
        "2) Norco 10/325 mg #90\n")
    for case in (note, CASES / "case-07-norco-uds", CASES / "case-08-oxycodone-high-med"):
        for item in fake_drafter.draft(case).items:
            for c in item.criteria:
                if c.page is not None and c.citation is not None:
                    assert c.page in c.citation.pages, (case.name, item.item, c.criterion, c.page, c.citation.chunk_id)


def test_cli_json_contract(built_home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAFTER_")}
    env["DRAFTER_HOME"] = str(built_home)
    out = subprocess.run([str(VENV_BIN / "imr-drafter"), "draft", str(CASES / "case-07-norco-uds"), "--backend", "fake", "--json"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert set(d) >= {"case_summary", "items", "letter_text", "model", "prompt_version", "timings_s"}
    assert set(d["case_summary"]) >= {"text", "sources"}
    for it in d["items"]:
        assert set(it) >= {"item", "parsed", "decision", "criteria", "rationale", "citations", "grounded_fraction", "fallback_used"}
        assert it["decision"] in ("upheld", "overturned", "needs_review")
        for c in it["citations"]:
            assert set(c) >= {"chunk_id", "guideline", "edition", "topic", "pages"}
        for c in it["criteria"]:
            assert c["status"] in ("met", "not_met", "unknown")


def test_malformed_model_output_falls_back_to_the_template(built_home):
    settings = make_settings(built_home)
    settings.llm.backend = "fake"
    fake = FakeChatModel(script=["this is not json"])
    draft = Drafter(settings, chat=fake).draft(CASES / "case-01-pt-continuation-lumbar")
    item = draft.items[0]
    assert item.fallback_used and item.decision == "upheld"
    assert "Therefore, the request for" in item.rationale and item.citations
    assert draft.case_summary.fallback_used
    assert fake.calls == 2 * 3 + 3  # two rationale attempts and one summary, each tried 1 + 2 times
    assert "malformed" in " ".join(item.notes)


@pytest.mark.parametrize("style, leak", [("skeleton", "..."), ("ungrounded", "hydrotherapy")])
def test_degenerate_model_output_is_caught_and_replaced(built_home, style, leak):
    """The failures seen in the app (a skeleton echoed back; invented facts) are caught, re-asked and replaced by the
    argument in template sentences; the draft says so and is never weaker than its argument."""
    settings = make_settings(built_home)
    settings.llm.backend = "fake"
    settings.llm.fake_style = style
    draft = Drafter(settings).draft(CASES / "case-01-pt-continuation-lumbar")
    item = draft.items[0]
    assert item.fallback_used and leak not in item.rationale
    assert len(item.model_log["attempts"]) == settings.checks.attempts
    assert all(a["problems"] for a in item.model_log["attempts"])
    if style == "skeleton":
        assert item.degenerate and "ellipsis" in " ".join(item.notes)
    else:
        assert "ungrounded" in " ".join(item.notes) or "missing_findings" in " ".join(item.notes)
    assert names_page(item.rationale, 99) and "30" in item.rationale, "the template states the argument: the course and the total"
    assert [c.name for c in item.checks if not c.passed] == []


def test_planted_instructions_are_quarantined_and_change_nothing(built_home, tmp_path):
    settings = make_settings(built_home)
    settings.llm.backend = "fake"
    seen: list[list] = []

    def record(messages, kwargs):
        seen.append(messages)
        from drafter.llm import default_fake_reply
        return default_fake_reply(messages, kwargs)

    drafter = Drafter(settings, chat=FakeChatModel(responder=record))
    draft = drafter.draft(CASES / "case-16-tens-purchase-injected-note")
    assert seen, "the model was asked"
    system = drafter.prompts.render("system")
    for messages in seen:
        assert messages[0].content == system, "the rules are the same whatever the records say"
        user = str(messages[1].content)
        assert user.count("<records>") <= 1 and user.count("</records>") <= 1
        assert "ignore all previous instructions" not in user.lower(), "quarantined text is never given to the model as evidence"
    assert any("instruction" in w.lower() and "ignore all previous instructions" in w.lower() for w in draft.warnings)
    # the same case with the planted line deleted drafts the same decisions, criteria and rationales
    clean = tmp_path / "clean"
    shutil.copytree(CASES / "case-16-tens-purchase-injected-note", clean)
    for f in clean.glob("*.txt"):
        f.write_text("\n".join(line for line in f.read_text().splitlines() if "ignore all previous" not in line.lower()))
    again = Drafter(settings).draft(clean)
    for a, b in zip(draft.items, again.items):
        assert (a.decision, [c.status for c in a.criteria], a.rationale) == (b.decision, [c.status for c in b.criteria], b.rationale)


def test_case_text_is_not_logged(built_home, caplog):
    settings = make_settings(built_home)
    settings.llm.backend = "fake"
    with caplog.at_level(logging.INFO):
        Drafter(settings, chat=FakeChatModel(script=["{bad"])).draft(CASES / "case-01-pt-continuation-lumbar")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "order selector" not in logged and "Oswestry" not in logged and "06/17/2013" not in logged


def test_letter_exports_to_docx(fake_drafter, tmp_path):
    import docx

    draft = fake_drafter.draft(CASES / "case-09-muscle-relaxants")
    path = write_docx(draft.letter_text, tmp_path / "letter.docx")
    doc = docx.Document(str(path))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings == ["HOW THE IMR FINAL DETERMINATION WAS MADE", "CLINICAL CASE SUMMARY", "IMR ISSUES, DECISIONS AND RATIONALES"]
    assert any("Upheld" in p.text for p in doc.paragraphs)


SEED_LIKE = """The applicant is a represented former warehouse worker who has filed a claim for chronic neck and low back pain
reportedly associated with an industrial injury of June 2, 2011. Thus far, the applicant has been treated with analgesic
medications, unspecified amounts of physical therapy and time off of work. In a Utilization Review Report dated March 20, 2014,
the claims administrator denied a request for 12 sessions of physical therapy. On March 3, 2014, the applicant reported
persistent neck and low back pain. The applicant was not working. The applicant was using Naprosyn, tramadol and
cyclobenzaprine. Twelve additional sessions of physical therapy were sought."""


@pytest.mark.parametrize("use_llm", [False, True])
def test_seed_like_pt_case_argues_the_course_and_functional_improvement(fake_drafter, tmp_path, use_llm):
    """A 2014 IMR-summary-style record (written for this test): the request date comes from the narrative UR date, so
    only 2009-edition topics are cited; the rationale argues the myalgia/myositis course (page 99) and functional
    improvement (9792.20(f), page 8), whether the model or the template writes it."""
    (tmp_path / "summary.txt").write_text(SEED_LIKE)
    from drafter.intake import load_case

    case = load_case(tmp_path, fake_drafter.settings.intake, items=["Physical therapy x 12 sessions"])
    draft = fake_drafter.draft_case(case, use_llm=use_llm)
    item = draft.items[0]
    assert draft.request_date == "2014-03-20" and item.decision == "upheld"
    assert {c.edition for c in item.citations} == {"2009"}
    pages = {p for c in item.citations for p in c.pages}
    assert {99, 8} <= pages
    text = item.rationale
    assert names_page(text, 99) and "10 visits" in text and "12" in text
    assert "9792.20(f)" in text and names_page(text, 8) and "functional improvement" in text
    assert text.endswith("is not medically necessary.")
    assert [c.name for c in item.checks if not c.passed] == []


SURGERY_CASE = """PRIMARY TREATING PHYSICIAN'S PROGRESS REPORT dated 03/02/2015 (written for this test).
The applicant is a 48-year-old mechanic injured on 06/01/2013. He reports right shoulder pain with overhead work.
MRI of 01/2015 shows supraspinatus tendinosis without a full-thickness tear. He has had 6 physical therapy visits.
PLAN: Request authorization for right shoulder arthroscopy with subacromial decompression, preoperative medical clearance,
post-operative physical therapy x 12 and a cold therapy unit."""


@pytest.mark.parametrize("use_llm", [False, True])
def test_requests_serving_an_unnecessary_surgery_follow_it_and_cite_its_passages(fake_drafter, tmp_path, use_llm):
    """Pre-operative clearance, post-operative therapy and post-operative equipment requested with a surgery that is
    not medically necessary are not medically necessary either; they are drafted after the surgery whatever the order,
    and cite only passages retrieval returned for it."""
    (tmp_path / "pr2.txt").write_text(SURGERY_CASE)
    from drafter.intake import load_case

    items = ["Preoperative medical clearance", "Post-operative physical therapy x 12", "Right shoulder arthroscopy with subacromial decompression",
             "Cold therapy unit 7-day rental"]
    case = load_case(tmp_path, fake_drafter.settings.intake, items=items)
    draft = fake_drafter.draft_case(case, use_llm=use_llm)
    by = {d.item: d for d in draft.items}
    surgery = by[items[2]]
    assert [d.item for d in draft.items] == items and surgery.decision == "upheld" and surgery.basis != "associated"
    for name in (items[0], items[1], items[3]):
        d = by[name]
        assert (d.decision, d.basis) == ("upheld", "associated"), name
        assert d.citations and {c.chunk_id for c in d.citations} <= set(surgery.retrieved_chunk_ids)
        assert "arthroscopy" in d.rationale.lower() and d.rationale.endswith("is not medically necessary.")
        assert [c.name for c in d.checks if not c.passed] == []
        # a page the surgery's point names (the section's run, "pages 209-211") has its passage cited here too
        assert pages_named(d.rationale) <= {p for c in d.citations for p in c.pages}, name
        assert d.grounded_fraction == 1.0, d.dropped_sentences
