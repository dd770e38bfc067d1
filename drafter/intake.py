"""Intake: a case file or folder (.txt, .md, .pdf, .docx) -> documents, disputed items and the request date."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from drafter.errors import DrafterError
from drafter.instructions import Instruction, find_instructions
from drafter.settings import IntakeSettings

SUPPORTED = {".txt", ".md", ".pdf", ".docx"}


class IntakeError(DrafterError):
    """A case file cannot be read; the message names the file and what to do."""


@dataclass(frozen=True)
class Document:
    name: str
    text: str
    kind: str  # "ur" (utilization review letter), "rfa", "report"

    @property
    def is_ur(self) -> bool:
        return self.kind == "ur"


@dataclass
class Case:
    documents: list[Document]
    items: list[str] = field(default_factory=list)
    request_date: dt.date | None = None
    date_source: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def evidence(self) -> list[Document]:
        """Documents whose statements count as case facts: the records, not the UR reviewer's opinion."""
        docs = [d for d in self.documents if not d.is_ur]
        return docs or self.documents

    def doc(self, name: str) -> Document:
        return next(d for d in self.documents if d.name == name)

    @property
    def instructions(self) -> list[Instruction]:
        """Instruction-like sentences in the records (never evidence; every draft lists them)."""
        return [i for d in self.documents for i in find_instructions(d.name, d.text)]


# -- reading files -------------------------------------------------------------------------------
def _read_text_file(path: Path) -> str:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise IntakeError(f"{path.name}: the PDF is encrypted. Save an unencrypted copy and try again.")
        return "\n\n".join((p.extract_text() or "") for p in reader.pages)
    except IntakeError:
        raise
    except Exception as exc:  # pypdf raises many error types on damaged files
        raise IntakeError(f"{path.name}: not a readable PDF ({type(exc).__name__}: {exc}).") from exc


def _read_docx(path: Path) -> str:
    try:
        import docx

        d = docx.Document(str(path))
    except Exception as exc:  # python-docx raises zipfile/KeyError/ValueError on bad files
        raise IntakeError(f"{path.name}: not a readable DOCX ({type(exc).__name__}). Re-save it from Word, or export it as PDF or text.") from exc
    parts = [p.text for p in d.paragraphs]
    for table in d.tables:
        for row in table.rows:
            parts.append(" | ".join(c.text for c in row.cells))
    return "\n".join(parts)


def _kind(name: str, text: str) -> str:
    low_name = name.lower()
    head = text[:600].lower()
    if re.search(r"(^|[_\-\s])ur([_\-\s.]|$)|utilization", low_name) or "utilization review determination" in head \
            or re.search(r"utilization review (decision|report|determination)", head):
        return "ur"
    if "rfa" in low_name or "request for authorization" in head:
        return "rfa"
    return "report"


def read_document(path: Path, settings: IntakeSettings) -> Document:
    """One file -> Document, or an IntakeError naming the file."""
    path = Path(path)
    if not path.exists():
        raise IntakeError(f"{path}: no such file.")
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        raise IntakeError(f"{path.name}: unsupported file type {ext or '(none)'}; give .txt, .md, .pdf or .docx.")
    size = path.stat().st_size
    if size == 0:
        raise IntakeError(f"{path.name}: the file is empty.")
    if size > settings.max_file_mb * 2**20:
        raise IntakeError(
            f"{path.name}: {size / 2**20:.1f} MB is over the {settings.max_file_mb:g} MB limit "
            "(DRAFTER_INTAKE__MAX_FILE_MB). Split it or remove scanned images."
        )
    text = {".pdf": _read_pdf, ".docx": _read_docx}.get(ext, _read_text_file)(path)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    if len(re.sub(r"\s", "", text)) < 20:
        what = "no text layer (a scanned PDF?). Run OCR (e.g. ocrmypdf) and try again" if ext == ".pdf" else "no text"
        raise IntakeError(f"{path.name}: {what}.")
    return Document(name=path.name, text=text, kind=_kind(path.name, text))


def load_case(path: Path, settings: IntakeSettings, items: list[str] | None = None, request_date: dt.date | None = None) -> Case:
    """Read a case (file or folder). Every unreadable file is reported at once; nothing is silently skipped."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p.name != "expected.json")
        if not files:
            raise IntakeError(f"{path}: the folder has no files.")
    elif path.exists():
        files = [path]
    else:
        raise IntakeError(f"{path}: no such file or folder.")
    docs, problems = [], []
    for f in files:
        try:
            docs.append(read_document(f, settings))
        except IntakeError as exc:
            problems.append(str(exc))
    if problems:
        raise IntakeError("Cannot read the case:\n" + "\n".join(problems))
    total = sum(len(d.text) for d in docs)
    if total > settings.max_case_chars:
        raise IntakeError(
            f"{path}: {total:,} characters of text is over the {settings.max_case_chars:,} limit "
            "(DRAFTER_INTAKE__MAX_CASE_CHARS); give the relevant reports only."
        )
    case = Case(documents=docs)
    case.items = [i.strip() for i in items if i.strip()] if items else find_disputed_items(docs)
    if items is not None and any(not i.strip() for i in items):
        raise IntakeError("An --item is empty; give the disputed treatment as the request words it.")
    if len(case.items) > settings.max_items:
        raise IntakeError(f"{len(case.items)} disputed items is over the limit of {settings.max_items}; draft them in groups.")
    if request_date is not None:
        case.request_date, case.date_source = request_date, "given"
    else:
        case.request_date, case.date_source = find_request_date(docs)
    return case


# -- disputed items ---------------------------------------------------------------------------------
_DECISION_WORDS = r"(non[- ]?certif\w*|not\s+certified|not\s+medically\s+necessary|denied|deny|modified|partially\s+certified|upheld|overturned)"
# "1. Norco 10/325mg #120:  Modified - certified #60", "Ambien 10mg #30      Non-certified": the item is the text
# before the last separator (a colon or a run of spaces) that precedes the decision word.
_ITEM_LINE = re.compile(
    rf"^[ \t]*(?:\d+[.)][ \t]*|[-*•][ \t]*)?(?P<item>[^\n]{{3,160}}?)(?:[ \t]*:[ \t]+|[ \t]{{2,}}|[ \t]+[-–][ \t]+){_DECISION_WORDS}\b[^\n]*$",
    re.I | re.M,
)
_REQUEST_LINE = re.compile(
    r"^[ \t]*(?:service/good requested|requested (?:service|treatment|item)s?|(?:service|treatment|item)s? requested|request(?:ed)?|treatment)[ \t]*:[ \t]*(?P<item>[^\n]{3,160})$",
    re.I | re.M,
)
_DISPUTE_HEADER = re.compile(r"treatment\(?s?\)?\s+in\s+dispute[^\n]*\n", re.I)
_NOT_ITEMS = re.compile(r"(?i)^(date|rationale|decision|determination|status|reviewer|guidelines?|the request|diagnos\w*|icd|\(\d+\)|work status|claim|re:|reason)\b")


def _clean_item(s: str) -> str:
    s = re.sub(r"^\s*(?:(?:item|request)\s*#?\s*\d+\s*[:.)-]|\(\d+\)|#?\d+\s*[.):]|[-*•])\s*", "", s, flags=re.I)
    s = re.sub(r"^(?:request(?:ed)?\s+(?:for\s+)?|the request for\s+)", "", s, flags=re.I)
    return " ".join(s.split()).strip(" .;,")


def _plausible(item: str) -> bool:
    """An item line names a treatment; it is not a sentence of rationale or a header field."""
    return (3 <= len(item) <= 160 and ". " not in item and not _NOT_ITEMS.match(item)
            and not re.search(r"(?i)\bnotice\b|utilization review|\bdetermination\b", item))


def find_disputed_items(docs: list[Document]) -> list[str]:
    """Items the UR letter decided against (non-certified or modified), a "Treatment(s) in Dispute" list,
    or, failing those, the UR letter's or the RFA's "service requested" lines."""
    found: list[str] = []
    for d in docs:
        for m in _DISPUTE_HEADER.finditer(d.text):
            for line in d.text[m.end():].split("\n"):
                if not line.strip():
                    break
                found.append(_clean_item(line))
    for d in (d for d in docs if d.is_ur):
        for m in _ITEM_LINE.finditer(d.text):
            item = _clean_item(m.group("item"))
            if _plausible(item):
                found.append(item)
    if not found:
        for kind in ("ur", "rfa"):
            for d in (d for d in docs if d.kind == kind):
                found.extend(i for i in (_clean_item(m.group("item")) for m in _REQUEST_LINE.finditer(d.text)) if _plausible(i))
            if found:
                break
    out: list[str] = []
    for i in found:
        if i.lower() not in {o.lower() for o in out}:
            out.append(i)
    return out


# -- dates --------------------------------------------------------------------------------------------
_DATE = r"(\d{1,2})/(\d{1,2})/(\d{2,4})"


def parse_us_date(text: str) -> dt.date | None:
    m = re.search(_DATE, text)
    if not m:
        m2 = re.search(r"(\d{4})-(\d{2})-(\d{2})", text)
        if not m2:
            return None
        try:
            return dt.date(int(m2.group(1)), int(m2.group(2)), int(m2.group(3)))
        except ValueError:
            return None
    month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if year < 100:
        year += 2000
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def find_request_date(docs: list[Document]) -> tuple[dt.date | None, str]:
    """The date of the request for authorization (it selects the guideline edition): the RFA's own date,
    else a date the records give for the request or its receipt, else the UR decision date (also as a
    narrative: "In a Utilization Review Report dated March 20, 2014"), else the latest date of any document
    (said so in the source). Never the date of injury or birth."""
    from drafter.dates import DATE, dates_in, parse_date

    value = rf"({DATE})"
    passes: list[tuple[str, str]] = [
        ("rfa", r"(?<!of )(?<!injury )(?<!birth )(?<!loss )\b(?:date|date of request|request date|date of service request)\s*:\s*"),
        ("any", r"(?:date of (?:request|rfa)|rfa date|rfa dated|\brfa\b(?: form)?(?: of| on| received)?|request for authori[sz]ation(?: form)?(?: dated| of| on| received on)?|request dated|request date|date requested)\s*:?\s*"),
        ("any", r"(?:date rfa received|rfa received|date request received|request received|date received)\s*:?\s*"),
        ("ur", r"(?:date of (?:determination|decision|ur|review|notice)|ur (?:date|denial date)|determination date|decision date|notification date|date of this notice)\s*:?\s*"),
        ("any", r"(?:utilization review|\bur\b)(?: report| decision| determination| letter| notice)?(?: of)?\s+dated\s+"),
        ("any", r"(?:utilization review|\bur\b)(?: report| decision| determination)?\s+(?:on|of)\s+"),
    ]
    for kind, label in passes:
        for d in docs:
            if kind != "any" and d.kind != kind:
                continue
            for m in re.finditer(label + value, d.text, flags=re.I):
                date = parse_date(m.group(1))
                if date:
                    return date, f"{d.name}: {' '.join(m.group(0).split())}"
    for d in docs:
        m = re.search(r"(\d{4}-\d{2}-\d{2})", d.name)
        if m and d.kind in ("rfa", "ur"):
            return parse_us_date(m.group(1)), f"file name {d.name}"
    latest: tuple[dt.date, str] | None = None
    for d in docs:
        for pos, date in dates_in(d.text):
            before = d.text[max(0, pos - 40):pos].lower()
            if re.search(r"(?:doi|injur\w*|dob|birth|born|loss|accident|since|from)\W{0,25}(?:on|of|date|:)?\W{0,5}$", before):
                continue
            if latest is None or date > latest[0]:
                latest = (date, d.name)
    if latest:
        return latest[0], f"no request date was stated; the latest date in the records ({latest[1]}) was used"
    return None, ""
