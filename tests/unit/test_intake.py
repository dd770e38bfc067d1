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
