"""The case summary opens in the letters' voice from facts the fact layer found, and attributes record sentences."""

from __future__ import annotations

from drafter.facts import FactFinder
from drafter.intake import Case, Document
from drafter.prompts import PromptLibrary
from drafter.settings import REPO_ROOT
from drafter.summary import fallback_summary, select_facts

PR2 = """PRIMARY TREATING PHYSICIAN'S PROGRESS REPORT (PR-2)
Date of exam: 04/02/2015
## History
The patient is a 52-year-old warehouse worker. Date of injury: 09/14/2012.
## Treatment to date
Physical therapy 12 visits in 2014 with no lasting benefit.
## Objective
Lumbar flexion 40 degrees. Tenderness over the L4-S1 paraspinals.
## Work status
Temporarily totally disabled.
## Plan
Request authorization: Physical therapy 2x6 lumbar spine.
"""


def test_summary_opens_with_the_applicant_injury_work_status_and_request():
    case = Case(documents=[Document(name="pr2_2015-04-02.txt", text=PR2, kind="report")], items=["Physical therapy 2x6 lumbar spine"])
    facts = select_facts(case, FactFinder(case), case.items, None)
    assert all(f.span.document == "pr2_2015-04-02.txt" for f in facts), "every sentence is traceable to the record"
    text = fallback_summary(PromptLibrary(REPO_ROOT / "prompts"), facts)
    assert text.startswith("The applicant is a 52-year-old injured worker who sustained an industrial injury on 09/14/2012.")
    assert "the applicant was not working" in text and "The request under review is for Physical therapy 2x6 lumbar spine." in text
    assert "The progress report dated 04/02/2015 notes:" in text
    assert "#" not in text and "Treatment to date." not in text
