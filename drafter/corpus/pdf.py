"""Official guideline PDFs a user supplies: one chunk per printed page (split when long)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from pathlib import Path

from drafter.corpus.chunks import Chunk, date_int, split_text
from drafter.errors import IngestError

MAX_PDF_BYTES = 300 * 1024 * 1024
_NUM_LINE = re.compile(r"^\s*(?:page\s+)?(\d{1,4})(?:\s+of\s+\d{1,4})?\s*$", re.I)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "guideline"


def _printed_number(text: str) -> int | None:
    """A page number printed alone on one of the first or last three lines of a page."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for ln in lines[-3:][::-1] + lines[:3]:
        m = _NUM_LINE.match(ln)
        if m:
            return int(m.group(1))
    return None


def printed_labels(texts: list[str], pdf_labels: list[str] | None) -> tuple[list[str], str]:
    """Printed page labels for each page and where they came from: 'pdf-labels', 'text' or 'index'."""
    if pdf_labels and any(lbl != str(i + 1) for i, lbl in enumerate(pdf_labels)):
        return list(pdf_labels), "pdf-labels"
    found = [_printed_number(t) for t in texts]
    offsets = Counter(n - i for i, n in enumerate(found) if n is not None)
    if offsets:
        offset, support = offsets.most_common(1)[0]
        if support >= max(2, len(texts) // 2) or (len(texts) == 1 and support == 1):
            return [str(i + offset) for i in range(len(texts))], "text"
    return [str(i + 1) for i in range(len(texts))], "index"


def read_pdf_pages(path: Path) -> tuple[list[str], list[str] | None]:
    """Per-page text and the PDF's own page labels (None when it defines none)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not path.exists():
        raise IngestError(f"{path}: no such file.")
    size = path.stat().st_size
    if size == 0:
        raise IngestError(f"{path}: the file is empty.")
    if size > MAX_PDF_BYTES:
        raise IngestError(f"{path}: {size / 2**20:.0f} MB is over the {MAX_PDF_BYTES // 2**20} MB limit; split the PDF.")
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise IngestError(f"{path}: the PDF is encrypted; save an unencrypted copy and ingest that.")
        texts = [(p.extract_text() or "") for p in reader.pages]
        has_labels = "/PageLabels" in reader.trailer["/Root"]
        labels = list(reader.page_labels) if has_labels else None
    except IngestError:
        raise
    except (PdfReadError, OSError, ValueError, KeyError) as exc:
        raise IngestError(f"{path}: not a readable PDF ({exc}).") from exc
    return texts, labels


def pdf_chunks(
    path: Path,
    guideline: str,
    edition: str,
    effective_from: dt.date | None = None,
    effective_to: dt.date | None = None,
    max_chars: int = 900,
) -> list[Chunk]:
    """Chunks of a guideline PDF, each citing the page label printed on its page."""
    path = Path(path)
    texts, pdf_labels = read_pdf_pages(path)
    if sum(len(t.strip()) for t in texts) < 20:
        raise IngestError(
            f"{path}: no text layer (a scanned PDF?). Run OCR first (e.g. `ocrmypdf in.pdf out.pdf`), "
            "then ingest the OCR'd file. The index was not changed."
        )
    labels, label_source = printed_labels(texts, pdf_labels)
    source_id = f"pdf-{slug(guideline)}-{slug(edition)}"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    base = {
        "topic_id": source_id,
        "guideline": guideline,
        "edition": edition,
        "regulation": "",
        "section": "",
        "category": "user_pdf",
        "recommendation": "",
        "effective_from": date_int(effective_from) if effective_from else 0,
        "effective_to": date_int(effective_to),
        "applies_to": "",
        "content_hash": digest,
        "source_kind": "pdf",
        "source": path.name,
        "label_source": label_source,
    }
    out: list[Chunk] = []
    for idx, (text, label) in enumerate(zip(texts, labels)):
        text = re.sub(r"[ \t]+", " ", text).strip()
        if not text:
            continue
        parts = split_text(text, max_chars)
        for pi, part in enumerate(parts):
            meta = dict(
                base,
                topic=f"{guideline} page {label}",
                heading=f"page {label}",
                pages=label if label.isdigit() else "",
                pages_label=label,
            )
            out.append(Chunk(f"{source_id}#i{idx}.{pi}", part, meta))
    return out
