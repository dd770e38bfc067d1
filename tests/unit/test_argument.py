"""The argument built from the criteria: a letter opens with what the governing entry says, on its own pages."""

from __future__ import annotations

import dataclasses
import datetime as dt

from drafter.argument import build_argument
from drafter.criteria import assess
from drafter.items import parse_item
from drafter.output_checks import check_findings
from drafter.settings import Settings
from tests.unit.test_criteria import TOPICS, hit, make_case

CYCLO = """PR-2 03/01/2015. The applicant has taken cyclobenzaprine 7.5 mg three times a day since 2013 for chronic low
back pain. Pain 6/10, unchanged. Naproxen 550 mg twice daily. Exam: lumbar tenderness.
"""


def argue(tmp_path, report, item, topic_id, pages):
    _, ff = make_case(tmp_path, report, item)
    h = dataclasses.replace(hit(topic_id), pages=pages, chunk_id=f"{topic_id}#p{pages[0]}")
    a = assess(item, parse_item(item), [h], TOPICS, ff, dt.date(2015, 3, 5))
    return a, build_argument(a, TOPICS, governing=h)


def test_an_upheld_item_opens_with_the_governing_entry_on_its_own_pages(tmp_path):
    a, arg = argue(tmp_path, CYCLO, "Cyclobenzaprine 7.5 mg #90", "cpmtg-cyclobenzaprine", [41, 42])
    assert a.decision == "upheld"
    first, rest = arg.points[0], arg.points[1:]
    assert first.kind == "context" and first.where == "pages 41-42" and first.chunk_id == "cpmtg-cyclobenzaprine#p41"
    assert first.guideline_sentence.startswith("Pages 41-42 of the MTUS Chronic Pain Medical Treatment Guidelines (2009) state that cyclobenzaprine")
    assert rest and all(p.kind != "context" for p in rest)
    # the opener is context, not a deciding point: prose that argues only the deciding points passes the check
    deciding = " ".join(p.guideline_sentence + " " + p.case for p in rest)
    assert check_findings(deciding, arg, Settings().checks).passed


def test_no_opener_when_a_deciding_point_already_cites_the_entry_s_pages(tmp_path):
    _, arg = argue(tmp_path, CYCLO, "Cyclobenzaprine 7.5 mg #90", "cpmtg-cyclobenzaprine", [63, 64])
    assert all(p.kind != "context" for p in arg.points)


def test_a_criterion_is_cited_by_its_passages_short_page_run_as_letters_cite_a_section():
    from drafter.argument import _where
    from drafter.criteria import Citation, CriterionResult

    def where(page, pages):
        cite = Citation(chunk_id="t#s0", guideline="MTUS", edition="2009", topic="t", pages=pages)
        return _where(CriterionResult(criterion="c", criterion_id="c", topic_id="t", fact="f", status="not_met", page=page,
                                      citation=cite), span_max=3)

    assert where(68, [68, 69]) == "pages 68-69"
    assert where(59, [58, 59, 60]) == "pages 58-60"
    assert where(78, [76, 77, 78, 79, 80]) == "page 78"  # a long run would cite pages the criterion is not on
    assert where(99, [22, 98, 99]) == "pages 98-99"
    assert where(8, [98, 99]) == "page 8"  # a page the passage does not state is cited as itself
    assert where(None, [41, 42, 63]) == "pages 41-42, 63"


def test_a_criterion_of_a_short_topic_is_cited_by_the_topics_pages_as_letters_cite_the_section():
    """Letters cite the chronic pain programs' selection criteria as "pages 30-34", the section they sit in, though
    the criteria's own passage is page 32; a topic printed on more pages than the limit is cited by the page."""
    from drafter.argument import _where
    from drafter.criteria import Citation, CriterionResult

    def where(page, passage, topic_pages):
        cite = Citation(chunk_id="t#s1", guideline="MTUS", edition="2009", topic="t", pages=passage)
        return _where(CriterionResult(criterion="c", criterion_id="c", topic_id="t", fact="f", status="not_met", page=page,
                                      citation=cite), span_max=5, topic_pages=topic_pages)

    assert where(32, [32], [30, 31, 32, 33, 34]) == "pages 30-34"
    assert where(32, [32], [30, 31, 32, 33, 34, 35]) == "page 32"
    assert where(99, [98, 99], [98, 99, 100]) == "pages 98-99"  # the passage's own run comes first
    assert where(8, [32], [30, 31, 32]) == "page 8"  # a page outside the topic is cited as itself


def test_a_page_the_argument_names_in_passing_is_cited_by_the_passage_that_states_it():
    """Found in the dev letters: a needs-review note said 'the traditional first line of treatment (p. 22)' while
    the draft cited only the NSAID topic's page-67 passage, so the page it named had no passage behind it."""
    from drafter.argument import Argument, Point, cite_named_pages
    from drafter.retrieval import Hit

    def passage(cid, topic_id, pages):
        return Hit(chunk_id=cid, guideline="MTUS", edition="2009", topic=topic_id, topic_id=topic_id, pages=pages,
                   pages_label="", score=0.5, text="")

    def argument():
        return Argument(item="Naproxen 550 mg #60", decision="needs_review", conclusion="", points=[Point(
            kind="criterion", status="unknown", requirement="NSAIDs are an option for short-term relief", source="MTUS",
            where="page 67", chunk_id="nsaids#s0", case="They are the traditional first line of treatment (p. 22).")])

    retrieved = [passage("nsaids#s0", "nsaids", [67, 68]), passage("other#s1", "other", [22]), passage("nsaids#s1", "nsaids", [22])]
    arg = argument()
    added = cite_named_pages(arg, retrieved, ["nsaids"])
    assert [h.chunk_id for h in added] == ["nsaids#s1"]  # the item's own topic, not another topic's page 22
    assert arg.chunk_ids == ["nsaids#s0", "nsaids#s1"]
    # a page no passage of the item's topics states is left uncited, for grounding to report
    arg = argument()
    assert cite_named_pages(arg, retrieved[:2], ["nsaids"]) == [] and arg.chunk_ids == ["nsaids#s0"]


def test_an_excluded_ingredient_is_argued_in_the_guideline_s_words_then_the_product_s(tmp_path):
    a, arg = argue(tmp_path, CYCLO, "Terocin patches #20", "cpmtg-topical-analgesics", [111, 112, 113])
    point = next(p for p in arg.points if p.kind == "recommendation")
    assert point.requirement.startswith("no topical lidocaine formulation other than the dermal patch (Lidoderm)")
    assert "requested" not in point.requirement
    assert point.case == "The product requested, Terocin patches #20, lists lidocaine and menthol among its ingredients."


def test_a_compound_with_several_excluded_ingredients_is_named_once(tmp_path):
    """Seen on sample case-10: the product's name, said for each excluded ingredient, tripped the loop check."""
    _, arg = argue(tmp_path, CYCLO, "Compound cream: gabapentin 10%/cyclobenzaprine 2%, 120 g", "cpmtg-topical-analgesics", [111, 112, 113])
    cases = [p.case for p in arg.points if p.kind == "recommendation"]
    assert cases[0].startswith("The product requested, Compound cream: gabapentin 10%/cyclobenzaprine 2%, 120 g, contains")
    assert cases[1] in ("It also contains gabapentin.", "It also contains cyclobenzaprine.")


def test_a_requirement_two_topics_state_is_said_once_and_both_passages_are_cited(tmp_path):
    """Letters on CBT cite page 23 (behavioral interventions) and pages 101-102 (psychological treatment) for the
    requirements both state; the draft said each once and cited only page 23."""
    report = "PR-2 03/01/2015. Chronic low back pain 6/10 for two years. Plan: cognitive behavioral therapy x 6 sessions."
    item = "Cognitive behavioral therapy x 6 sessions"
    _, ff = make_case(tmp_path, report, item)
    hits = [hit("cpmtg-behavioral-interventions"), hit("cpmtg-psychological-treatment", rank=2)]
    a = assess(item, parse_item(item), hits, TOPICS, ff, dt.date(2015, 3, 5))
    arg = build_argument(a, TOPICS, governing=hits[0])
    facts = [p.fact for p in arg.points if p.kind == "criterion"]
    assert a.decision == "upheld" and facts and len(facts) == len(set(facts))
    assert {c.topic_id for c in a.criteria if c.fact == facts[0] and c.status == "not_met"} == set(a.topic_ids)  # both state it
    assert "cpmtg-psychological-treatment#s0" in arg.chunk_ids and "cpmtg-psychological-treatment#s0" in arg.also_cites


def test_one_rule_two_topics_state_in_other_words_is_said_once_with_both_case_sides():
    """Seen in Norco drafts (dev letters and the reviewer app): the hydrocodone topic's "continued prescribing requires
    return to work or improved function and pain" and the opioid criteria's page-80 rule were both stated, each with
    its own quote."""
    from drafter.argument import Point, _as_a_letter_says_it

    def point(fact, requirement, quote, doc="the medical record dated 08/21/2014"):
        return Point(kind="criterion", status="not_met", source="MTUS Chronic Pain Medical Treatment Guidelines (2009)",
                     where="pages 76-80", fact=fact, requirement=requirement, case=f'This is not documented: {doc} records "{quote}".')

    def hydrocodone_point():
        return point("functional_improvement", "continued prescribing requires return to work or improved function and pain", "8/10 pain")

    hydrocodone = hydrocodone_point()
    scores = point("pain_score_change", "each review records current pain, least and average pain since the last visit", "no scores")
    criteria = point("return_to_work", "opioids are continued if the patient has returned to work, or has improved functioning and pain",
                     "He remained off of work")
    said = _as_a_letter_says_it([hydrocodone, scores, criteria])
    assert [p.fact for p in said] == ["functional_improvement", "pain_score_change"]
    assert said[0].case == 'This is not documented: the medical record dated 08/21/2014 records "8/10 pain", and "He remained off of work".'
    other = point("return_to_work", criteria.requirement, "He has not worked since 2010", doc="the progress report dated 04/26/2016")
    merged = _as_a_letter_says_it([hydrocodone_point(), other])
    assert merged[0].case.endswith('"8/10 pain", and the progress report dated 04/26/2016 records "He has not worked since 2010".')
    # a rule on other pages, or in other words, stands
    assert len(_as_a_letter_says_it([hydrocodone_point(), criteria.model_copy(update={"where": "page 8"})])) == 2
    assert len(_as_a_letter_says_it([hydrocodone_point(), scores.model_copy()])) == 2


def test_the_case_is_read_against_9792_20_f_as_letters_read_it_not_recited():
    """Letters do not recite the definition; they read the case against it: "the applicant remains off work ... and
    continues on the same medications, so there is no functional improvement as defined in MTUS 9792.20f"."""
    from types import SimpleNamespace

    from drafter.argument import _functional_reading

    def fact(value):
        return SimpleNamespace(value=value)

    off = {"work_status": fact("off_work")}
    text = _functional_reading({"prior_visits_completed": fact(12)}, off.get, ["naproxen", "tramadol"])
    assert text == ("The applicant is not working and remains on naproxen and tramadol after 12 visits. Together these imply "
                    "a lack of functional improvement as defined in MTUS 9792.20(f).")
    restricted = {"work_status": fact("modified_duty")}
    assert _functional_reading({}, restricted.get, ["naproxen"]).startswith("The applicant remains on work restrictions and on naproxen.")
    assert _functional_reading({}, {}.get, []) == ("The records do not document functional improvement as defined in "
                                                   "MTUS 9792.20(f) from the treatment already given.")
    assert _functional_reading({}, off.get).endswith("This implies a lack of functional improvement as defined in MTUS "
                                                     "9792.20(f) despite the treatment already given.")


def test_a_finding_denied_in_the_records_is_not_argued_as_found():
    """Seen in 6 dev letter drafts: 'The records document a red flag condition: the therapy note dated 06/20/2013
    records "No red flags were noted".' A criterion that wants a fact found it absent; 'the records document X' is
    for a fact the guideline wants absent that was found present."""
    from drafter.argument import _case_side, argument_data
    from drafter.criteria import CriterionResult
    from drafter.facts.schema import Evidence, Fact

    ev = Evidence(document="pt-note.txt", start=0, end=26, quote="No red flags were noted.", date="2013-06-20")
    r = CriterionResult(criterion="Red flags of serious pathology", criterion_id="red-flags", topic_id="t", fact="red_flags",
                        status="not_met", evidence=ev)
    denied = _case_side(r, argument_data(), {"red_flags": Fact(name="red_flags", status="absent", negated=True, evidence=[ev])})
    assert denied.startswith("This is not documented:") and "No red flags were noted" in denied
    found = _case_side(r, argument_data(), {"red_flags": Fact(name="red_flags", status="present", evidence=[ev])})
    assert found.startswith("The records document a red flag condition:")
