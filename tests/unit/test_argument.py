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
    assert first.guideline_sentence.startswith("The MTUS Chronic Pain Medical Treatment Guidelines (2009), pages 41-42, states that cyclobenzaprine")
    assert rest and all(p.kind != "context" for p in rest)
    # the opener is context, not a deciding point: prose that argues only the deciding points passes the check
    deciding = " ".join(p.guideline_sentence + " " + p.case for p in rest)
    assert check_findings(deciding, arg, Settings().checks).passed


def test_no_opener_when_a_deciding_point_already_cites_the_entry_s_pages(tmp_path):
    _, arg = argue(tmp_path, CYCLO, "Cyclobenzaprine 7.5 mg #90", "cpmtg-cyclobenzaprine", [63, 64])
    assert all(p.kind != "context" for p in arg.points)
