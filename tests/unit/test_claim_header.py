"""The claim header read from invented case documents: labels in their common forms, several fields on one line,
missing and redacted fields, and a date of injury never taken for the request date."""

from __future__ import annotations

import datetime as dt

import pytest

from drafter.claim_header import ClaimHeader, find_claim_header
from drafter.intake import Case, Document

# SAMPLE texts, invented for these tests.
RFA = """STATE OF CALIFORNIA - REQUEST FOR AUTHORIZATION (DWC FORM RFA)

Date: 02/09/2016        [X] Initial request   [ ] Resubmission

Employee information
Name: Marlo Fictitious          Date of injury: 07/21/2014
Claim number: 77-0042-WC        Employer: Quillfeather Bakery Supply

Claims administrator
Company: Brightwater Mutual Claims   Adjuster: Ren Placeholder

Service/good requested: Physical therapy 2 x 4, right shoulder
"""

UR = """UTILIZATION REVIEW DETERMINATION

Date of determination: 02/16/2016
Date RFA received: 02/09/2016
Claimant: Marlo Fictitious      Claim #: 77-0042-WC      DOI: 07/21/2014

Physical therapy 2 x 4, right shoulder:  Non-certified
"""

PR2 = """PRIMARY TREATING PHYSICIAN'S PROGRESS REPORT (PR-2)
Patient: Marlo Fictitious, 44-year-old baker    Date of exam: 02/02/2016
Employer: Quillfeather Bakery Supply
The patient reports shoulder pain 5/10.
"""


def case(*docs: Document, request_date: dt.date | None = None, source: str = "") -> Case:
    return Case(documents=list(docs), request_date=request_date, date_source=source)


def test_reads_every_field_from_an_rfa_a_ur_letter_and_a_pr2():
    h = find_claim_header(case(Document("pr2.txt", PR2, "report"), Document("ur.txt", UR, "ur"), Document("rfa.txt", RFA, "rfa")))
    assert h.claimant == "Marlo Fictitious"
    assert h.claim_number == "77-0042-WC"
    assert h.date_of_injury == "07/21/2014"
    assert h.ur_date == "02/16/2016"
    assert h.request_date == "02/09/2016"
    assert h.employer == "Quillfeather Bakery Supply"
    assert h.claims_administrator == "Brightwater Mutual Claims"
    assert h.missing() == []
    # each field says where it was read: the document and the line
    assert h.sources["request_date"].startswith("rfa.txt: Date: 02/09/2016")
    assert h.sources["ur_date"] == "ur.txt: Date of determination: 02/16/2016"
    assert "Company: Brightwater Mutual Claims" in h.sources["claims_administrator"]
    assert h.sources["claimant"].startswith("rfa.txt:") and "Name: Marlo Fictitious" in h.sources["claimant"]


@pytest.mark.parametrize("line, field, value", [
    ("Claimant: Tobin Exemplar", "claimant", "Tobin Exemplar"),
    ("Patient: Tobin Exemplar   Age: 51", "claimant", "Tobin Exemplar"),
    ("Employee: Exemplar, Tobin  |  Claim No. 3321-889", "claimant", "Exemplar, Tobin"),
    ("Employee: Exemplar, Tobin  |  Claim No. 3321-889", "claim_number", "3321-889"),
    ("Injured worker: Tobin Exemplar Claim #: AB-55120 DOI: 3/4/2013", "claimant", "Tobin Exemplar"),
    ("Injured worker: Tobin Exemplar Claim #: AB-55120 DOI: 3/4/2013", "claim_number", "AB-55120"),
    ("Injured worker: Tobin Exemplar Claim #: AB-55120 DOI: 3/4/2013", "date_of_injury", "03/04/2013"),
    ("Claim #99-1234", "claim_number", "99-1234"),
    ("WCAB Case No.: ADJ9988776", "claim_number", "ADJ9988776"),
    ("Date of Injury: March 4, 2013", "date_of_injury", "03/04/2013"),
    ("Injury Date: 2013-03-04", "date_of_injury", "03/04/2013"),
    ("DOI 03/04/13", "date_of_injury", "03/04/2013"),
    ("DOI: CT 01/05/2011 - 06/30/2013", "date_of_injury", "01/05/2011 - 06/30/2013"),
    ("Date of UR decision: 11/02/2015", "ur_date", "11/02/2015"),
    ("UR date: 11/02/2015", "ur_date", "11/02/2015"),
    ("Employer: Sunfield Orchards, Inc.", "employer", "Sunfield Orchards, Inc."),
    ("Claims Administrator: Harborline Risk Services; adjuster Ren Placeholder", "claims_administrator", "Harborline Risk Services"),
    ("Insurer: Copperleaf Casualty Co.", "claims_administrator", "Copperleaf Casualty Co."),
])
def test_header_lines_in_their_common_forms(line, field, value):
    h = find_claim_header(case(Document("pr2.txt", f"PROGRESS REPORT\n{line}\nThe patient is seen today.\n", "report")))
    assert getattr(h, field) == value
    assert h.sources[field].startswith("pr2.txt: ")


def test_claims_administrator_before_insurer_whatever_the_order():
    text = "Insurer: Copperleaf Casualty Co.\nClaims administrator: Harborline Risk Services\n"
    assert find_claim_header(case(Document("rfa.txt", text, "rfa"))).claims_administrator == "Harborline Risk Services"


def test_the_ur_letters_plain_date_line_is_the_ur_date_but_a_reports_is_not():
    ur = Document("ur.txt", "UTILIZATION REVIEW DECISION\nDate: 05/06/2015     Received: 04/29/2015\n", "ur")
    report = Document("pr2.txt", "PR-2\nDate: 04/20/2015\n", "report")
    h = find_claim_header(case(report, ur))
    assert h.ur_date == "05/06/2015"
    assert find_claim_header(case(report)).ur_date == ""


def test_ur_date_from_a_narrative_or_the_file_name():
    report = Document("pr2.txt", "The Utilization Review Report dated 08/12/2014 denied the request.\n", "report")
    assert find_claim_header(case(report)).ur_date == "08/12/2014"
    ur = Document("ur_2014-08-12.txt", "Non-certified.\n", "ur")
    h = find_claim_header(case(ur))
    assert h.ur_date == "08/12/2014" and h.sources["ur_date"] == "file name ur_2014-08-12.txt"


def test_missing_and_redacted_fields_are_empty_and_unsourced():
    text = "Employee: [redacted]      Claim number: [redacted]\nEmployer: N/A\nClaims administrator: ____\n"
    h = find_claim_header(case(Document("rfa.txt", text, "rfa")))
    assert h.claimant == h.claim_number == h.employer == h.claims_administrator == ""
    assert h.date_of_injury == h.request_date == h.ur_date == ""
    assert h.sources == {}
    assert set(h.missing()) == {"claimant", "claim_number", "date_of_injury", "ur_date", "request_date", "employer", "claims_administrator"}


def test_a_sentence_is_not_a_header_field():
    text = "The patient reports more pain. The employer has no modified duty. Claim accepted for the back.\n"
    h = find_claim_header(case(Document("pr2.txt", text, "report")))
    assert h.claimant == h.employer == h.claim_number == ""


def test_a_name_stops_before_the_age_and_description():
    h = find_claim_header(case(Document("consult.txt", "Applicant: Kit Imaginary, 36-year-old nursing assistant\n", "report")))
    assert h.claimant == "Kit Imaginary"


def test_the_date_of_injury_is_never_the_request_date():
    # an RFA whose only dates are the date of injury and a date of birth: no request date
    rfa = Document("rfa.txt", "REQUEST FOR AUTHORIZATION\nInjury Date: 01/12/2015\nDOB: 04/04/1970\nDate of injury: 01/12/2015\n", "rfa")
    h = find_claim_header(case(rfa))
    assert h.date_of_injury == "01/12/2015"
    assert h.request_date == ""
    # on one line, single-spaced, with "Injury Date:" ending in "Date:"
    rfa2 = Document("rfa.txt", "Injury Date: 01/12/2015 Date: 06/01/2016\n", "rfa")
    h2 = find_claim_header(case(rfa2))
    assert (h2.date_of_injury, h2.request_date) == ("01/12/2015", "06/01/2016")
    # the UR letter's narrative gives the date of injury; the RFA narrative gives the request
    ur = Document("ur.txt", "The claimant has a date of injury of 01/12/2015. The RFA dated 06/03/2016 requests therapy.\n", "ur")
    h3 = find_claim_header(case(ur))
    assert (h3.date_of_injury, h3.request_date) == ("01/12/2015", "06/03/2016")


def test_a_request_date_the_reviewer_gave_wins():
    rfa = Document("rfa.txt", "Date: 06/01/2016\n", "rfa")
    h = find_claim_header(case(rfa, request_date=dt.date(2016, 6, 2), source="given"))
    assert h.request_date == "06/02/2016" and h.sources["request_date"] == "given by the reviewer"
    # a date the intake found is not "given": the RFA's own line is read
    assert find_claim_header(case(rfa, request_date=dt.date(2016, 6, 2), source="rfa.txt: Date: 06/02/2016")).request_date == "06/01/2016"


def test_docx_table_cells_and_a_value_on_the_next_line():
    text = "Claimant | Pat Invented | Claim Number | 12-3456 | Employer | Northgate Tile\nClaims Administrator\nSilverpine Administrators\n"
    h = find_claim_header(case(Document("rfa.docx", text, "rfa")))
    assert (h.claimant, h.claim_number, h.claims_administrator) == ("Pat Invented", "12-3456", "Silverpine Administrators")
    assert h.employer == "Northgate Tile"  # a bare label in a later cell
    assert h.sources["claims_administrator"] == "rfa.docx: Claims Administrator / Silverpine Administrators"


def test_claim_header_is_a_plain_model():
    h = ClaimHeader(claimant="A")
    assert h.model_dump()["sources"] == {} and "claim_number" in h.missing()
