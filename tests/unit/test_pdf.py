"""User-supplied guideline PDFs: printed page labels, and clear errors for unusable files."""

from __future__ import annotations

import pytest

from drafter.corpus.pdf import pdf_chunks, printed_labels
from drafter.errors import IngestError
from tests.pdf_factory import scanned_pdf, text_pdf

PAGES = [
    "Physical Medicine. Allow for fading of treatment frequency plus active self-directed home physical medicine.",
    "Myalgia and myositis: 9-10 visits over 8 weeks. Neuralgia, neuritis and radiculitis: 8-10 visits over 4 weeks.",
    "Psychological evaluations are recommended before a spinal cord stimulator trial.",
]


def test_chunks_cite_the_printed_page_numbers(tmp_path):
    path = text_pdf(tmp_path / "cpmtg.pdf", PAGES, first_printed=98)
    chunks = pdf_chunks(path, "MTUS Chronic Pain Medical Treatment Guidelines", "2009")
    by_page = {c.metadata["pages_label"]: c for c in chunks}
    assert set(by_page) == {"98", "99", "100"}
    assert "9-10 visits over 8 weeks" in by_page["99"].text
    assert by_page["99"].pages == [99]
    assert by_page["99"].metadata["label_source"] == "text"
    assert by_page["99"].chunk_id == "pdf-mtus-chronic-pain-medical-treatment-guidelines-2009#i1.0"


def test_pdf_page_labels_win_over_indexes(tmp_path):
    path = text_pdf(tmp_path / "labelled.pdf", PAGES, first_printed=None, pdf_labels_start=41)
    chunks = pdf_chunks(path, "Guide", "2009")
    assert [c.metadata["pages_label"] for c in chunks] == ["41", "42", "43"]
    assert chunks[0].metadata["label_source"] == "pdf-labels"


def test_without_printed_numbers_the_index_is_used_and_said(tmp_path):
    path = text_pdf(tmp_path / "plain.pdf", PAGES, first_printed=None)
    chunks = pdf_chunks(path, "Guide", "2009")
    assert [c.metadata["pages_label"] for c in chunks] == ["1", "2", "3"]
    assert chunks[0].metadata["label_source"] == "index"


def test_printed_labels_tolerate_a_page_without_a_number():
    texts = ["intro\n12", "body text only", "more\n14", "end\n15"]
    assert printed_labels(texts, None) == (["12", "13", "14", "15"], "text")


def test_scanned_pdf_is_a_clear_error(tmp_path):
    with pytest.raises(IngestError, match="no text layer.*OCR.*not changed"):
        pdf_chunks(scanned_pdf(tmp_path / "scan.pdf"), "Guide", "2009")


def test_empty_and_corrupt_files_are_clear_errors(tmp_path):
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="empty"):
        pdf_chunks(empty, "Guide", "2009")
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"this is not a pdf at all" * 10)
    with pytest.raises(IngestError, match="not a readable PDF"):
        pdf_chunks(junk, "Guide", "2009")
    with pytest.raises(IngestError, match="no such file"):
        pdf_chunks(tmp_path / "missing.pdf", "Guide", "2009")
