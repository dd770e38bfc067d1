"""Small guideline PDFs made in the tests: with a text layer and printed page numbers, or scanned-like."""

from __future__ import annotations

from pathlib import Path


def text_pdf(path: Path, pages: list[str], first_printed: int | None = 97, pdf_labels_start: int | None = None) -> Path:
    """A PDF whose page i shows `pages[i]` and, if `first_printed` is set, the number first_printed+i at the bottom."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.set_auto_page_break(auto=False)
    for i, body in enumerate(pages):
        pdf.add_page()
        pdf.multi_cell(0, 6, body)
        if first_printed is not None:
            pdf.set_y(-20)
            pdf.cell(0, 6, str(first_printed + i), align="C")
    pdf.output(str(path))
    if pdf_labels_start is not None:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(str(path)))
        writer.set_page_label(0, len(pages) - 1, style="/D", start=pdf_labels_start)
        writer.write(str(path))
    return path


def scanned_pdf(path: Path, n_pages: int = 2) -> Path:
    """A PDF of blank pages: no text layer, as a scan without OCR has."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(n_pages):
        writer.add_blank_page(width=612, height=792)
    with open(path, "wb") as fh:
        writer.write(fh)
    return path
