"""Requests that serve another request of the case follow its decision (rules in data/associated_items.yaml)."""

from __future__ import annotations

import pytest

from drafter.argument import Argument, Point, associated_argument
from drafter.associated import _rules, associations, drafting_order, follow_served, kind_of
from drafter.criteria import Assessment
from drafter.items import parse_item

DATA = _rules()["raw"]
SURGERY = "Right shoulder arthroscopy with subacromial decompression"


@pytest.mark.parametrize("item", [e for k in DATA["associated"] for e in k["examples"]["associated"]])
def test_every_associated_example_is_read_as_serving_a_surgery(item):
    assert kind_of(item, parse_item(item), case_has_primary=False) is not None


@pytest.mark.parametrize("item", DATA["with_surgery"]["examples"]["associated"])
def test_post_operative_equipment_serves_a_surgery_only_when_one_is_requested(item):
    assert kind_of(item, parse_item(item), case_has_primary=True) == ("postoperative", "post-operative equipment")
    assert kind_of(item, parse_item(item), case_has_primary=False) is None
    assert associations([item]) == {}


@pytest.mark.parametrize("item", DATA["examples"]["not_associated"] + ["Revision of left knee arthroplasty", "Post-op revision surgery"])
def test_ordinary_requests_and_surgeries_are_not_associated(item):
    assert kind_of(item, parse_item(item), case_has_primary=True) is None


def test_served_requests_are_drafted_first_and_without_a_surgery_nothing_is_linked():
    items = ["Preoperative medical clearance", "Post-operative physical therapy x 12", SURGERY, "Norco 10/325 #60"]
    links = associations(items)
    assert set(links) == {0, 1} and links[0].primaries == (2,) and links[1].kind == "postoperative"
    assert drafting_order(items) == [2, 3, 0, 1]
    assert associations(["Preoperative medical clearance", "Post-operative physical therapy x 12"]) == {}
    assert drafting_order(["Norco 10/325 #60", "MRI lumbar spine"]) == [0, 1]


class _Served:
    def __init__(self, item: str, decision: str, confidence: str = "high") -> None:
        self.item, self.decision, self.confidence = item, decision, confidence


def _own(decision: str = "needs_review") -> Assessment:
    return Assessment(item="Preoperative medical clearance", parsed=parse_item("Preoperative medical clearance"), phase="initial",
                      decision=decision, reasons=["No MTUS topic in force on the request date names this item."])


def test_an_item_serving_an_unnecessary_surgery_is_not_necessary_either():
    link = associations(["Preoperative medical clearance", SURGERY])[0]
    a = follow_served(_own(), link, [_Served(SURGERY, "upheld", "medium")])
    assert (a.decision, a.basis, a.confidence) == ("upheld", "associated", "medium")
    assert SURGERY in a.reasons[0] and "not medically necessary" in a.reasons[0]


def test_an_item_serving_a_necessary_surgery_keeps_its_own_assessment():
    link = associations(["Preoperative medical clearance", SURGERY])[0]
    a = follow_served(_own(), link, [_Served(SURGERY, "overturned")])
    assert a.decision == "needs_review" and a.basis == "none"
    assert "decide it on its own guideline" in a.reasons[-1]
    assert follow_served(_own(), link, [_Served(SURGERY, "needs_review")]).reasons == _own().reasons


def test_the_argument_carries_the_surgery_point_and_states_the_link_without_an_empty_guideline():
    surgery = Argument(item=SURGERY, decision="upheld", conclusion="", points=[
        Point(kind="criterion", status="not_met", requirement="exercise has failed and a surgical lesion exists",
              source="ACOEM Practice Guidelines, 2nd Edition (2004)", where="page 209", chunk_id="acoem-shoulder#s1",
              case="The records provided for review do not document failed exercise.", fact="conservative_care_failed")])
    arg = associated_argument("Preoperative medical clearance", "pre-operative evaluation or testing", [(SURGERY, surgery)])
    assert arg.decision == "upheld" and arg.chunk_ids == ["acoem-shoulder#s1"]
    text = " ".join(arg.bullets())
    assert "page 209" in text.lower() and f"accompanies the request for {SURGERY}" in text
    assert "The  states" not in text and "" not in arg.bullets()
    assert arg.conclusion.endswith("Preoperative medical clearance is not medically necessary.")
