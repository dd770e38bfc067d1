"""Intake: documents, disputed items and request dates from sample cases; clear errors for bad files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from drafter.intake import IntakeError, load_case, read_document
from drafter.settings import IntakeSettings
from tests.conftest import REPO
from tests.pdf_factory import scanned_pdf, text_pdf

CASES = sorted(p for d in ("cases", "cases-heldout") for p in (REPO / "evals" / d).glob("case-*") if (p / "expected.json").exists())


@pytest.mark.parametrize("folder", CASES, ids=[p.name for p in CASES])
def test_items_and_request_date_are_found(folder: Path):
    exp = json.loads((folder / "expected.json").read_text())
    case = load_case(folder, IntakeSettings())
    assert [i.lower() for i in case.items] == [i["item"].lower() for i in exp["items"]]
    assert str(case.request_date) == exp["request_date"]
    assert any(d.is_ur for d in case.documents) and case.evidence and not any(d.is_ur for d in case.evidence)


def test_given_items_and_date_win(tmp_path):
    case = load_case(CASES[0], IntakeSettings(), items=["MRI lumbar spine"], request_date=dt.date(2016, 1, 2))
    assert case.items == ["MRI lumbar spine"] and case.request_date == dt.date(2016, 1, 2) and case.date_source == "given"


def test_empty_file_is_named(tmp_path):
    (tmp_path / "note.txt").write_text("")
    with pytest.raises(IntakeError, match=r"note\.txt: the file is empty"):
        load_case(tmp_path, IntakeSettings())


def test_scanned_pdf_is_named(tmp_path):
    scanned_pdf(tmp_path / "scan.pdf")
    with pytest.raises(IntakeError, match=r"scan\.pdf: no text layer"):
        read_document(tmp_path / "scan.pdf", IntakeSettings())


def test_unreadable_docx_is_named(tmp_path):
    (tmp_path / "report.docx").write_bytes(b"PK\x03\x04 this is not really a docx")
    with pytest.raises(IntakeError, match=r"report\.docx: not a readable DOCX"):
        read_document(tmp_path / "report.docx", IntakeSettings())


def test_huge_file_is_refused(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("x" * (2 * 2**20))
    with pytest.raises(IntakeError, match=r"big\.txt: 2\.0 MB is over the 1 MB limit"):
        read_document(big, IntakeSettings(max_file_mb=1))


def test_unsupported_type_and_missing_path(tmp_path):
    (tmp_path / "x.xlsx").write_text("data")
    with pytest.raises(IntakeError, match="unsupported file type"):
        read_document(tmp_path / "x.xlsx", IntakeSettings())
    with pytest.raises(IntakeError, match="no such file"):
        load_case(tmp_path / "missing", IntakeSettings())


def test_every_bad_file_is_reported_at_once(tmp_path):
    (tmp_path / "a.txt").write_text("")
    scanned_pdf(tmp_path / "b.pdf")
    (tmp_path / "c.txt").write_text("A readable progress note with enough words in it.")
    with pytest.raises(IntakeError) as err:
        load_case(tmp_path, IntakeSettings())
    assert "a.txt" in str(err.value) and "b.pdf" in str(err.value) and "c.txt" not in str(err.value)


def test_pdf_and_docx_cases_read_like_text(tmp_path):
    import docx

    src = CASES[0]
    texts = {p.name: p.read_text() for p in src.iterdir() if p.suffix in (".txt", ".md")}
    names = sorted(texts)
    text_pdf(tmp_path / "report.pdf", [texts[names[0]][:1500]], first_printed=None)
    d = docx.Document()
    for line in texts[names[-1]].splitlines():
        d.add_paragraph(line)
    d.save(str(tmp_path / "ur_determination.docx"))
    case = load_case(tmp_path, IntakeSettings())
    assert {doc.name for doc in case.documents} == {"report.pdf", "ur_determination.docx"}
    assert case.items, "the UR letter in DOCX still yields the disputed item"


def test_empty_item_is_refused():
    with pytest.raises(IntakeError, match="empty"):
        load_case(CASES[0], IntakeSettings(), items=["  "])


# -- finding items and the request date in invented RFA, UR and IMR texts ------------------------------------
from drafter.intake import (  # noqa: E402
    Document,
    FoundItem,
    find_disputed_items,
    find_items_with_sources,
    find_request_date,
    find_request_date_with_source,
)

RFA_LINE = ("REQUEST FOR AUTHORIZATION dated 04/03/2015: 1) Additional physical therapy 3x4 lumbar 2) Norco 10/325 #60 "
            "3) Omeprazole 20mg #30")
PR2 = ("PRIMARY TREATING PHYSICIAN'S PROGRESS REPORT (PR-2)\nDate of exam: 03/30/2015      DOI: 01/02/2013\n"
       "Subjective: low back pain 6/10, worse with lifting boxes.\nPlan: continue home exercise; return in 4 weeks.\n")


def _items(text: str, kind: str = "rfa", name: str = "doc.txt") -> list[FoundItem]:
    return find_items_with_sources([Document(name, text, kind)])


@pytest.mark.parametrize("kind", ["report", "rfa"])
def test_the_pasted_pr2_with_an_rfa_line_gives_three_items_and_the_rfa_date(kind):
    docs = [Document("pasted.txt", PR2 + "\n" + RFA_LINE + "\n", kind)]
    found = find_items_with_sources(docs)
    assert [f.text for f in found] == ["Additional physical therapy 3x4 lumbar", "Norco 10/325 #60", "Omeprazole 20mg #30"]
    assert all(f.how == "RFA numbered list" and f.document == "pasted.txt" and f.line.startswith("REQUEST FOR AUTH") for f in found)
    assert all(len(f.line) <= 160 for f in found)
    date, how, line = find_request_date_with_source(docs)
    assert date == dt.date(2015, 4, 3) and "RFA" in how and "pasted.txt" in how and "04/03/2015" in line
    assert find_request_date(docs)[0] == dt.date(2015, 4, 3)
    assert find_disputed_items(docs) == [f.text for f in found]


@pytest.mark.parametrize("text, expected", [
    ("Requested treatment: 1. Acupuncture 2x3 cervical spine 2. Gabapentin 300mg #90",
     ["Acupuncture 2x3 cervical spine", "Gabapentin 300mg #90"]),
    ("Treatment requested: (1) MRI right shoulder without contrast; (2) Naproxen 550mg #60; (3) TENS unit 30-day rental.",
     ["MRI right shoulder without contrast", "Naproxen 550mg #60", "TENS unit 30-day rental"]),
    ("Request for authorization: 1) Chiropractic care x 6 visits, 2) Ketoprofen 20% cream 120gm.",
     ["Chiropractic care x 6 visits", "Ketoprofen 20% cream 120gm"]),
])
def test_numbered_lists_on_one_line(text, expected):
    found = _items(text)
    assert [f.text for f in found] == expected
    assert all("numbered list" in f.how for f in found)


def test_one_item_per_line_numbered_and_bulleted():
    numbered = _items("Requested treatment(s):\n1. Chiropractic 2x4 lumbar spine\n2. Lidoderm 5% patch #30.\n\nReason: flare-up.")
    assert [f.text for f in numbered] == ["Chiropractic 2x4 lumbar spine", "Lidoderm 5% patch #30"]
    assert numbered[1].line == "2. Lidoderm 5% patch #30." and "numbered list" in numbered[1].how
    bulleted = _items("Requested services:\n- Home health aide 4 hours/day x 6 weeks\n• Shower chair\n\nNotes: none")
    assert [f.text for f in bulleted] == ["Home health aide 4 hours/day x 6 weeks", "Shower chair"]
    assert all("bulleted list" in f.how for f in bulleted)


def test_a_numbered_rfa_form_with_diagnosis_lines_and_fields_gives_the_items_only():
    text = ("DWC FORM RFA\nRequested treatment\n"
            "1. Diagnosis M54.16 lumbar radiculopathy; M51.26 other disc displacement\n"
            "   Transforaminal epidural steroid injection left L4-5 under fluoroscopy\n"
            "   CPT: 64483    Quantity: 1\n"
            "2. ICD-10 G47.00 insomnia\n"
            "   Trazodone 50 mg at bedtime. Quantity: 30.\n"
            "3. Diazepam 5 mg #20 (certified 02/2016; not in dispute)\n"
            "\nJustification: leg pain 7/10 for 4 months.")
    assert [f.text for f in _items(text)] == ["Transforaminal epidural steroid injection left L4-5 under fluoroscopy",
                                               "Trazodone 50 mg at bedtime, quantity 30"]


def test_rfa_form_rows_keep_the_item_and_drop_the_other_fields():
    text = ("STATE OF CALIFORNIA\nREQUEST FOR AUTHORIZATION - DWC FORM RFA\nDate: 05/06/2016\n"
            "Service/Good Requested (Required): Cervical epidural steroid injection C6-7\nCPT: 62321\n"
            "Service: Meloxicam 15mg #30    Frequency: 1 daily    Quantity: 30\n"
            "Service: Physical therapy, right wrist\n    Frequency: 2 times per week    Duration: 4 weeks\n")
    found = _items(text)
    assert [f.text for f in found] == ["Cervical epidural steroid injection C6-7", "Meloxicam 15mg #30",
                                       "Physical therapy, right wrist, 2 times per week x 4 weeks"]
    assert found[0].how == "RFA form line"


@pytest.mark.parametrize("table", [
    "Requested | Quantity | Frequency\nTramadol 50mg | 120 | QID\nPhysical therapy lumbar | 12 | 2x/week\n",
    "ICD-10     Requested                  Quantity\nM54.5      Tramadol 50mg              120\nM54.5      Physical therapy lumbar    12\n",
])
def test_tables_flattened_to_text(table):
    found = _items("REQUEST FOR AUTHORIZATION\n" + table)
    assert [f.text for f in found] == ["Tramadol 50mg #120", "Physical therapy lumbar x 12"]
    assert all(f.how == "RFA table" for f in found)


def test_ur_letter_phrasings():
    text = ("UTILIZATION REVIEW DETERMINATION\nDate: 07/08/2016      Request received: 07/01/2016\n\n"
            "1. Lumbar MRI without contrast: Non-certified\n2. Hydrocodone/APAP 5/325 #30: Certified\n"
            "3. Celebrex 200mg #30 - Denied\nHinged knee brace, left      MODIFIED to a knee sleeve\n"
            "Decision: Non-certified for functional capacity evaluation\n\n"
            "Rationale: the guideline supports imaging only with red flags. The request for Flexeril 10mg #60 is\n"
            "non-certified. Therefore the request for lumbar MRI is not medically necessary.\n")
    found = _items(text, "ur", "ur_letter.txt")
    assert [f.text for f in found] == ["Lumbar MRI without contrast", "Celebrex 200mg #30", "Hinged knee brace, left",
                                       "functional capacity evaluation", "Flexeril 10mg #60"]
    assert [f.how for f in found] == ["UR letter non-certified", "UR letter denied", "UR letter modified",
                                      "UR letter decision", "UR letter non-certified"]
    assert "The request for Flexeril" in found[4].line
    assert find_request_date_with_source([Document("ur_letter.txt", text, "ur")])[:2] == (dt.date(2016, 7, 1), "request received, ur_letter.txt")


def test_a_ur_decision_in_a_sentence_takes_the_request_lines_wording():
    text = ("UTILIZATION REVIEW DETERMINATION\nService requested: MRI cervical spine without contrast\n"
            "Determination: Non-certified\n\nRationale: no red flags. The request for a cervical MRI is not medically necessary.\n")
    found = _items(text, "ur")
    assert [f.text for f in found] == ["MRI cervical spine without contrast"]
    assert found[0].how.startswith("UR letter not medically necessary")


def test_imr_application_disputed_treatment_and_ur_decision_date():
    docs = [Document("imr_application.txt", "APPLICATION FOR INDEPENDENT MEDICAL REVIEW\n"
                     "Disputed treatment: Left knee arthroscopy with partial meniscectomy\n"
                     "Date of UR decision: 10/10/2016\nDate of injury: 01/15/2016\n", "report")]
    found = find_items_with_sources(docs)
    assert [(f.text, f.how) for f in found] == [("Left knee arthroscopy with partial meniscectomy", "IMR application disputed treatment line")]
    assert find_request_date_with_source(docs)[0] == dt.date(2016, 10, 10)


def test_items_joined_with_and_or_semicolons_split_only_when_each_is_a_treatment():
    assert [f.text for f in _items("RFA dated 1/5/2017: Norco 10/325 #90 and Soma 350mg #60")] == ["Norco 10/325 #90", "Soma 350mg #60"]
    assert [f.text for f in _items("Requested treatment: Urine drug screen; Ketoprofen cream 20% 120gm; psych consult")] == [
        "Urine drug screen", "Ketoprofen cream 20% 120gm", "psych consult"]
    assert [f.text for f in _items("RFA dated 1/5/2017: Additional acupuncture 2 x 4 for the lumbar spine and right wrist")] == [
        "Additional acupuncture 2 x 4 for the lumbar spine and right wrist"]
    assert [f.text for f in _items("Requested treatment: MRI and x-ray of the lumbar spine")] == ["MRI and x-ray of the lumbar spine"]
    assert [f.text for f in _items("Requested treatment: Compound cream: flurbiprofen 20%; lidocaine 5%, 180gm")] == [
        "Compound cream: flurbiprofen 20%; lidocaine 5%, 180gm"]


def test_the_same_item_in_the_rfa_and_the_ur_letter_appears_once():
    rfa = Document("rfa.txt", "REQUEST FOR AUTHORIZATION\nDate: 02/02/2017\nRequested treatment: 1) Norco 10/325 mg #60 "
                              "2) Physical therapy 2x6 lumbar spine", "rfa")
    ur = Document("ur.txt", "UTILIZATION REVIEW REPORT\nRequested treatment: Norco 10/325mg #60; physical therapy, lumbar spine\n", "ur")
    found = find_items_with_sources([rfa, ur])
    assert [f.text for f in found] == ["Norco 10/325mg #60", "Physical therapy 2x6 lumbar spine"]
    assert found[0].document == "ur.txt" and found[0].also_in == ["rfa.txt"]
    assert found[1].document == "rfa.txt" and found[1].also_in == ["ur.txt"]  # the wording with the visits is kept
    # a decided item wins over the requests: the certified one is not in dispute
    decided = Document("ur2.txt", "UTILIZATION REVIEW DETERMINATION\n1. Norco 10/325mg #60: Certified\n"
                                  "2. Physical therapy 2 x 6, lumbar spine: Non-certified\n", "ur")
    assert find_disputed_items([rfa, decided]) == ["Physical therapy 2 x 6, lumbar spine"]


def test_no_items_found_is_an_empty_list():
    docs = [Document("pr2.txt", "Progress report. Patient doing well. DOI 01/01/2014. Continue home exercise. "
                                "Request: patient asks about a note for work.\nTreatment plan: rest.", "report")]
    assert find_items_with_sources(docs) == [] and find_disputed_items(docs) == []


def test_fragments_and_header_fields_are_not_items():
    text = ("REQUEST FOR AUTHORIZATION\nRequested treatment:\n- Date: 03/03/2016\n- Diagnosis: lumbar strain\n"
            "- Employee: [redacted]\n- Please see attached notes for the\n- Massage therapy x 6\n")
    assert [f.text for f in _items(text)] == ["Massage therapy x 6"]


def test_the_request_date_is_never_the_injury_birth_or_service_date():
    rfa = ("REQUEST FOR AUTHORIZATION\nDate of Injury: 03/03/2013\nDOB: 04/04/1970\nInjury Date: 05/05/2013\n"
           "Date of service: 06/06/2016\nDOI 07/07/2013\nService requested: Bone scan\n")
    assert find_request_date_with_source([Document("rfa.txt", rfa, "rfa")]) == (None, "", "")
    date, how, line = find_request_date_with_source([Document("rfa.txt", rfa + "Date of request: 06/20/2016\n", "rfa")])
    assert date == dt.date(2016, 6, 20) and how == "date of request, rfa.txt" and line == "Date of request: 06/20/2016"


def test_a_date_closing_an_injury_clause_is_not_taken_as_the_latest_document_date():
    text = "She injured her R shoulder lifting a patient on 4/9/2014. The UR report in the file is undated."
    assert find_request_date_with_source([Document("note.txt", text, "report")]) == (None, "", "")


@pytest.mark.parametrize("text, expected", [
    ("RFA dated 3/9/2016 for chiropractic", dt.date(2016, 3, 9)),
    ("Date of RFA: 03/10/2016", dt.date(2016, 3, 10)),
    ("Injury Date: 01/01/2010\nDate of request: 03/11/2016", dt.date(2016, 3, 11)),
    ("DOI: 01/01/2010. Request received: 03/12/2016", dt.date(2016, 3, 12)),
    ("Per the UR report dated 03/13/2016, the treatment was denied. DOI 02/02/2012.", dt.date(2016, 3, 13)),
    ("REQUEST FOR AUTHORIZATION dated March 14, 2016: MRI lumbar spine", dt.date(2016, 3, 14)),
    # the request told as a narrative beside a later UR date, which is not the request's (fact writers' excerpts)
    ("The provider requested purchase of the TENS unit on 08/22/2014. UR non-certified the purchase on 09/02/2014.",
     dt.date(2014, 8, 22)),
    ("Purchase was requested 2/10/2015; UR non-certified on 2/18/2015.", dt.date(2015, 2, 10)),
    ("The request for 12 additional sessions dated 08/10/2016 was non-certified on 08/17/2016.", dt.date(2016, 8, 10)),
    ("UR 6/18/15. Request for Percocet 5/325 #30 after a release scheduled 6/22/15.", dt.date(2015, 6, 18)),
])
def test_request_date_forms(text, expected):
    date, how, line = find_request_date_with_source([Document("note.txt", text, "report")])
    assert date == expected and "note.txt" in how and line


def test_the_rfa_document_date_and_not_the_pr2_date_above_it():
    text = PR2.replace("Date of exam", "Date") + "\nREQUEST FOR AUTHORIZATION\nDate: 04/06/2015\nService requested: Aquatic therapy 2x4\n"
    date, how, _ = find_request_date_with_source([Document("bundle.txt", text, "report")])
    assert date == dt.date(2015, 4, 6) and how.startswith("RFA document date")


def test_load_case_finds_the_items_of_a_pasted_rfa_line(tmp_path):
    (tmp_path / "pasted.txt").write_text(PR2 + "\n" + RFA_LINE + "\n")
    case = load_case(tmp_path, IntakeSettings())
    assert case.items == ["Additional physical therapy 3x4 lumbar", "Norco 10/325 #60", "Omeprazole 20mg #30"]
    assert case.request_date == dt.date(2015, 4, 3)


def test_a_progress_report_history_and_medication_table_are_not_disputed_items():
    pr2 = ("PROGRESS REPORT\nUtilization review decision dated 02/01/2016 denied therapy.\n"
           "Physical therapy 2x6 lumbar:  denied by UR in 01/2016\n\n"
           "Medication | Dose | Since\nNorco 10/325 | TID | 2014\nGabapentin 300mg | BID | 2015\n")
    assert find_items_with_sources([Document("pr2.txt", pr2, "report")]) == []


def test_an_rfa_line_under_a_progress_reports_plan_heading_gives_its_items():
    from drafter.intake import Document, find_items_with_sources, find_request_date_with_source

    text = ("PR-2, exam 03/27/2015. DOI: 06/12/2011. Chronic low back pain 7/10.\n"
            "PLAN: REQUEST FOR AUTHORIZATION dated 04/03/2015: 1) Additional physical therapy 3x4 lumbar "
            "2) Norco 10/325 #60 3) Omeprazole 20mg #30\n")
    found = find_items_with_sources([Document("pasted.txt", text, "pr2")])
    assert [f.text for f in found] == ["Additional physical therapy 3x4 lumbar", "Norco 10/325 #60", "Omeprazole 20mg #30"]
    assert str(find_request_date_with_source([Document("pasted.txt", text, "pr2")])[0]) == "2015-04-03"


def test_a_numbered_rfa_line_keeps_services_that_name_no_drug_or_therapy():
    """A surgery's pre-operative clearance on a one-line numbered RFA list is an item too (it was dropped)."""
    from drafter.intake import Document, find_items_with_sources

    line = ("PLAN: REQUEST FOR AUTHORIZATION dated 04/03/2015: 1) Right shoulder arthroscopy with subacromial decompression "
            "2) Preoperative medical clearance 3) Cold therapy unit rental 4) Norco 10/325 #60\n")
    found = [f.text for f in find_items_with_sources([Document(name="pr2.txt", text=line, kind="report")])]
    assert found == ["Right shoulder arthroscopy with subacromial decompression", "Preoperative medical clearance",
                     "Cold therapy unit rental", "Norco 10/325 #60"]


def test_a_labelled_ur_decision_line_gives_the_item_without_its_label():
    """Session 17 walkthrough: "Request: Transforaminal epidural steroid injection ... - NON-CERTIFIED." became the item
    "Request: Transforaminal ...", and the letter read "the request for Request: ..."."""
    text = ("UTILIZATION REVIEW DETERMINATION\nDate: 01/26/2024\nRFA received 01/16/2024.\n"
            "Request: Transforaminal epidural steroid injection left L4-L5 and L5-S1 - NON-CERTIFIED.\n"
            "Treatment: Physical therapy 2x4 lumbar spine - Denied\n")
    assert [f.text for f in _items(text, "ur")] == ["Transforaminal epidural steroid injection left L4-L5 and L5-S1",
                                                   "Physical therapy 2x4 lumbar spine"]
