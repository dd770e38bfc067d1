"""Intake: a case file or folder (.txt, .md, .pdf, .docx) -> documents, disputed items and the request date."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from drafter.errors import DrafterError
from drafter.instructions import Instruction, find_instructions
from drafter.items import parse_item
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
    case = Case(documents=docs)
    check_limits(case, settings, str(path))  # the characters first, before any item is looked for
    case.items = [i.strip() for i in items if i.strip()] if items else find_disputed_items(docs)
    if items is not None and any(not i.strip() for i in items):
        raise IntakeError("An --item is empty; give the disputed treatment as the request words it.")
    check_limits(case, settings, str(path))
    if request_date is not None:
        case.request_date, case.date_source = request_date, "given"
    else:
        case.request_date, case.date_source = find_request_date(docs)
    return case


# -- patterns (drafter/data/intake_patterns.yaml) -------------------------------------------------------
_PATTERNS_FILE = "drafter/data/intake_patterns.yaml"


class _LabelRule(BaseModel):
    label: str
    how: str
    scope: str | list[str] = "any"
    bare_header: bool = False


class _PatternRule(BaseModel):
    pattern: str
    how: str
    scope: str | list[str] = "any"


class _Tier(BaseModel):
    labels: list[_LabelRule] = Field(default_factory=list)
    lines: list[_PatternRule] = Field(default_factory=list)
    sentences: list[_PatternRule] = Field(default_factory=list)
    table_item_column: str | None = None
    table_quantity_column: str | None = None
    skip_if: str | None = None


class _DateRule(BaseModel):
    label: str
    how: str
    scope: str | list[str] = "any"


class IntakePatterns(BaseModel):
    """The phrase patterns of intake_patterns.yaml, checked on load."""

    decision_words: str
    label_prefix: str = ""
    rfa_title: str
    ur_title: str
    dispute: _Tier
    request: _Tier
    row_fields: str
    service_words: str
    not_items: str
    not_item_words: str
    request_date: list[_DateRule]
    not_request_date_before: str


@lru_cache(maxsize=1)
def patterns() -> IntakePatterns:
    """Load and check the intake patterns; a broken file is named with the rule to fix."""
    try:
        data = yaml.safe_load(resources.files("drafter.data").joinpath("intake_patterns.yaml").read_text(encoding="utf-8"))
        pats = IntakePatterns.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise IntakeError(f"{_PATTERNS_FILE} is malformed ({exc}); fix the file or restore it from git.") from exc
    for where, text in _all_regexes(pats):
        try:
            _compile(text, pats.decision_words)
        except re.error as exc:
            raise IntakeError(f"{_PATTERNS_FILE}: the pattern of {where} is not a valid regular expression ({exc}); fix it.") from exc
    return pats


def _all_regexes(p: IntakePatterns) -> list[tuple[str, str]]:
    out = [(k, getattr(p, k)) for k in ("decision_words", "rfa_title", "ur_title", "row_fields", "service_words", "not_items",
                                         "not_item_words", "not_request_date_before")]
    for tier in ("dispute", "request"):
        t: _Tier = getattr(p, tier)
        out += [(f"{tier}.labels '{r.how}'", r.label) for r in t.labels]
        out += [(f"{tier}.lines '{r.how}'", r.pattern) for r in t.lines + t.sentences]
        out += [(f"{tier}.{k}", v) for k in ("table_item_column", "table_quantity_column", "skip_if") if (v := getattr(t, k))]
    return out + [(f"request_date '{r.how}'", r.label) for r in p.request_date]


@lru_cache(maxsize=512)
def _compile(pattern: str, decision: str) -> re.Pattern[str]:
    from drafter.dates import DATE

    return re.compile(pattern.replace("{decision}", decision).replace("{date}", DATE), re.I | re.M)


def _rx(pattern: str) -> re.Pattern[str]:
    """A YAML pattern compiled: {decision} and {date} stand for the decision words and a date."""
    return _compile(pattern, patterns().decision_words)


# -- documents as the rules see them --------------------------------------------------------------------
@dataclass(frozen=True)
class _View:
    doc: Document
    rank: int
    rfa_from: int | None  # offset where RFA text starts (a pasted text may hold a PR-2 first); None: no RFA
    ur: bool

    def in_scope(self, scope: str | list[str], pos: int = 0) -> bool:
        scopes = [scope] if isinstance(scope, str) else scope
        return any(s == "any" or (s == "ur" and self.ur) or (s == "rfa" and self.rfa_from is not None and pos >= self.rfa_from)
                   for s in scopes)

    def source(self, pos: int) -> str:
        if self.ur:
            return "UR letter"
        return "RFA" if self.rfa_from is not None and pos >= self.rfa_from else ""


def _views(docs: list[Document]) -> list[_View]:
    """UR letters first, then RFAs, then the rest: the UR letter words the dispute as the IMR reviews it."""
    p = patterns()
    out = []
    for d in docs:
        m = _rx(p.rfa_title).search(d.text)
        rfa_from = m.start() if m else (0 if d.kind == "rfa" else None)
        ur = d.is_ur or bool(_rx(p.ur_title).search(d.text))
        out.append(_View(d, {"ur": 0, "rfa": 1}.get(d.kind, 2), rfa_from, ur))
    return sorted(out, key=lambda v: v.rank)


# -- disputed items ---------------------------------------------------------------------------------
class FoundItem(BaseModel):
    """A disputed item and where intake found it, for the reviewer to confirm."""

    text: str
    document: str
    line: str = Field(description="the source line, trimmed to 160 characters")
    how: str = Field(description='the form it was found in, e.g. "RFA numbered list", "UR letter non-certified"')
    also_in: list[str] = Field(default_factory=list, description="other documents naming the same item")
    _from_sentence: bool = PrivateAttr(default=False)


@dataclass
class _Cand:
    text: str
    view: _View
    line: str
    how: str
    order: tuple[int, int, int]  # (priority, document rank, line number)


_MARKER = re.compile(r"(?:(?<=\s)|^)(?:\((\d{1,2})\)|(\d{1,2})([.)]))(?=\s)")
_LEAD = re.compile(r"^\s*(?:(?:line|item|request|no\.?)\s*#?\s*\d+\s*[:.)-]?|\(\d{1,2}\)|#?\d{1,2}\s*[.):]|#\d{1,2}(?=\s)|[a-h][.)](?=\s)|[-*•·▪◦>]+)\s*", re.I)
_QTY_FIELDS = ("strength", "count", "visits", "frequency_per_week", "duration_weeks", "rental_days", "hours_per_day",
               "days_per_week", "total_hours")


def _trim(line: str) -> str:
    line = " ".join(line.split())
    return line if len(line) <= 160 else line[:157] + "..."


def _clean_item(s: str) -> str:
    """Item text without list numbering, label words, trailing form fields or trailing punctuation."""
    p = patterns()
    fields = _form_fields(s)
    s = " ".join(s.split())
    for _ in range(3):  # "1. Line 1: - Norco" takes more than one pass
        s2 = _LEAD.sub("", s)
        if s2 == s:
            break
        s = s2
    s = re.sub(r"^(?i:diagnosis|dx|icd(?:-?\d+)?)\s*:?\s*(?:[A-Z]?\d[\d.A-Z]*[\s/;,]*)+?\.\s+(?=[A-Z])", "", s)
    s = re.split(r"(?<=[\w)\]%])\.\s+(?=[A-Z(])", s)[0]  # the item, not the sentence after it
    s = re.sub(r"\s+[-–]\s+(?:dx|diagnos\w*|icd(?:-?\d+)?)\b.*$", "", s, flags=re.I)  # "#90 - Dx 847.0"
    m = re.search(r"(?:\s{2,}|[;,]\s*|\s+(?=\())?\(?\b" + p.row_fields, s, re.I)
    if m and m.start() > 2:
        s = s[: m.start()]
    s = re.sub(r"^(?:medication|service|good|procedure|request(?:ed)?|item|treatment)s?\s*:\s*", "", s, flags=re.I)
    s = re.sub(r"^(?:(?:the\s+)?request(?:ed)?\s+(?:for\s+)?|authori[sz]ation\s+(?:for|of)\s+|(?:a|an|the)\s+)", "", s, flags=re.I)
    if s.count("(") > s.count(")"):  # a parenthesis the line cut off: "TENS unit with supplies (electrodes"
        s = s[: s.rfind("(")]
    s = re.sub(r"\s+(?:and|or|plus|with)$", "", s.strip(" .;,:-–"), flags=re.I)
    s = " ".join(s.split()).strip(" .;,:-–")
    if fields and s and not _qualified(s, quantities_only=True):
        s = f"{s}, {fields}"  # an RFA row's "Frequency: 2 times per week. Duration: 3 weeks." kept with the item
    return s


def _form_fields(s: str) -> str:
    """'Frequency: 2 times per week. Duration: 3 weeks. Quantity: 6 visits.' -> '2 times per week x 3 weeks'."""
    found = {k.lower()[:3]: v.strip(" ,") for k, v in re.findall(
        r"\b(frequency|duration|quantity|qty)\s*:\s*([^.;:|]+?)(?=\s{2,}|[.;|]\s|[.;|]?$|\s+[A-Za-z/']+(?:[ ][A-Za-z']+)?\s*:)", s, re.I)}
    if "fre" in found and "dur" in found:
        return f"{found['fre']} x {found['dur']}"
    qty = found.get("qua") or found.get("qty") or ""
    return f"quantity {qty}" if qty and not re.match(r"1\b", qty) else ""  # "Quantity: 1" says nothing


def _is_treatment(item: str) -> bool:
    parsed = parse_item(item)
    return parsed.treatment != "unknown" or parsed.category != "unknown"


def _plausible(item: str) -> bool:
    """An item names a treatment, drug, test, equipment or service; it is not rationale, a header field or a fragment."""
    p = patterns()
    if not 3 <= len(item) <= 160 or ". " in item or not re.search(r"[a-z]{2}", item, re.I):
        return False
    if _rx(p.not_items).match(item) or _rx(p.not_item_words).search(item) or _rx(p.row_fields).match(item):
        return False
    if parse_us_date(item) and len(re.sub(r"[\d/\-\s:]", "", item)) < 6:
        return False
    return _is_treatment(item) or bool(_rx(p.service_words).search(item))


def _qualified(item: str, quantities_only: bool = False) -> bool:
    """The item says how much (or, unless quantities_only, where or which side)."""
    parsed = parse_item(item)
    if quantities_only and parsed.treatment == "medication":
        return parsed.count is not None
    if any(getattr(parsed, f) is not None for f in _QTY_FIELDS if f != "strength"):
        return True
    return not quantities_only and (parsed.strength is not None or bool(parsed.body_regions) or parsed.laterality is not None)


def _same(a: str, b: str) -> bool:
    """Two wordings of one item: the same treatment (or drug), with no quantity, region or side that differs."""
    norm = lambda s: re.sub(r"[^a-z0-9#%/]+|(?<=\d)mg\b", "", s.lower())
    if norm(a) == norm(b):
        return True
    pa, pb = parse_item(a), parse_item(b)
    if pa.treatment == "unknown" or pa.treatment != pb.treatment or pa.generic != pb.generic:
        return False
    for f in (*_QTY_FIELDS, "laterality"):
        x, y = getattr(pa, f), getattr(pb, f)
        if x is not None and y is not None and str(x).replace(" ", "") != str(y).replace(" ", ""):
            return False
    return not (pa.body_regions and pb.body_regions and set(pa.body_regions) != set(pb.body_regions))


def _numbered(text: str) -> list[str]:
    """'1) A 2) B', '1. A 2. B', '(1) A; (2) B' -> the items, when the numbers run 1, 2, 3... on one line."""
    seq: list[re.Match[str]] = []
    style = None
    for m in _MARKER.finditer(text):
        n, st = int(m.group(1) or m.group(2)), "(" if m.group(1) else m.group(3)
        if n == len(seq) + 1 and style in (None, st):
            seq.append(m)
            style = st
    if len(seq) < 2 or text[: seq[0].start()].strip(" :;,-–"):
        return []
    ends = [m.start() for m in seq[1:]] + [len(text)]
    return [text[m.end():e] for m, e in zip(seq, ends)]


def _split_joined(text: str) -> list[str]:
    """'A; B' or 'A and B' -> [A, B] when each part is a separate treatment; else [text]."""
    whole = parse_item(text)
    if whole.generic == "compound":
        return [text]
    for sep, strict in ((r"\s*;\s*", False), (r"\s+(?:and|&|plus)\s+", True)):
        parts = [x.strip(" ,.") for x in re.split(sep, text) if x.strip(" ,.")]
        if len(parts) < 2:
            continue
        if not all((_is_treatment(x) if strict else _plausible(_clean_item(x))) for x in parts):
            continue
        if any(_same(x, y) for i, x in enumerate(parts) for y in parts[i + 1:]):
            continue
        # "MRI and x-ray of the lumbar spine": the region belongs to both, so it stays one item
        if strict and not _qualified(parts[0]) and _qualified(parts[-1]) and parse_item(parts[0]).treatment != "medication":
            continue
        return parts
    return [text]


def _split_inline(rest: str) -> tuple[list[str], str]:
    """The items on one line, and the form they were in."""
    parts = _numbered(rest)
    if parts:
        return parts, "numbered list"
    bullets = [x for x in re.split(r"\s*[•·▪]\s*", rest) if x.strip()]
    if len(bullets) >= 2:
        return bullets, "bulleted list"
    parts = _split_joined(rest)
    return (parts, "list") if len(parts) > 1 else ([rest], "line")


def _label_rx(rule: _LabelRule) -> re.Pattern[str]:
    prefix = f"(?:{patterns().label_prefix})?" if patterns().label_prefix else ""
    return _rx(rf"^[ \t]*(?:[-*•][ \t]*|\(?\d{{1,2}}[.)][ \t]*)?{prefix}(?:{rule.label})(?:[ \t]*\([^)\n]{{0,60}}\))?[ \t]*(?P<sep>[:\-–][ \t]*|$)(?P<rest>[^\n]*)$")


def _label_at(line: str, tiers: tuple[_Tier, ...]) -> tuple[_LabelRule, re.Match[str]] | None:
    for tier in tiers:
        for rule in tier.labels:
            m = _label_rx(rule).match(line)
            if m and (m.group("sep") or rule.bare_header):
                return rule, m
    return None


def _cells(line: str) -> list[tuple[int, str]]:
    """(start, text) of each cell of a table row: cells split by '|', a tab, or a run of spaces."""
    if line.count("|") >= 1:
        out, pos = [], 0
        for part in line.split("|"):
            if part.strip():
                out.append((pos + len(part) - len(part.lstrip()), part.strip()))
            pos += len(part) + 1
        return out
    return [(m.start(), m.group(0).strip()) for m in re.finditer(r"\S+(?:[ ](?! )\S*)*", line.replace("\t", "   "))]


def _table_items(lines: list[str], tier: _Tier) -> list[tuple[int, str, str]]:
    """(line number, item, how) from tables whose header names a requested-item column."""
    if not tier.table_item_column:
        return []
    out = []
    col_rx = _rx(tier.table_item_column)
    qty_rx = _rx(tier.table_quantity_column) if tier.table_quantity_column else None
    for i, line in enumerate(lines):
        head = _cells(line)
        if len(head) < 2:
            continue
        idx = next((k for k, (_, c) in enumerate(head) if col_rx.match(c.strip(" :*"))), None)
        if idx is None:
            continue
        qidx = next((k for k, (_, c) in enumerate(head) if qty_rx and qty_rx.match(c.strip(" :*"))), None)
        piped = "|" in line
        for j in range(i + 1, min(len(lines), i + 40)):
            row = lines[j]
            if not row.strip() or (piped and "|" not in row):
                break
            if re.fullmatch(r"[\s|:+\-=]+", row):
                continue
            cells = _cells(row)

            def cell(k: int | None) -> str:
                if k is None:
                    return ""
                if len(cells) == len(head):
                    return cells[k][1]
                lo = head[k][0]
                hi = head[k + 1][0] if k + 1 < len(head) else 10**6
                return next((c for s, c in cells if lo - 2 <= s < hi), "")

            item = cell(idx)
            if not item:
                continue
            q = cell(qidx)
            if re.fullmatch(r"\d{1,4}", q) and q != "1":
                parsed = parse_item(item)
                if parsed.treatment == "medication" and parsed.count is None:
                    item = f"{item} #{q}"
                elif parsed.treatment != "medication" and parsed.visits is None and parsed.count is None:
                    item = f"{item} x {q}"
            out.append((j, item, "table"))
    return out


def _field_line(s: str) -> bool:
    """'CPT: 95886', 'Performing provider: ...', 'Diagnosis: ...': a form field, not an item ('Compound cream: ...' is one)."""
    m = re.match(r"([A-Za-z][\w /&()-]{1,40}):\s", _LEAD.sub("", s.strip()))
    return bool(m) and not _is_treatment(m.group(1))


def _continued(lines: list[str], i: int, text: str) -> str:
    """A form row's item with its wrapped lines and the field lines under it ('Frequency: 2x/week')."""
    p = patterns()
    for j in range(i + 1, min(len(lines), i + 4)):
        nxt = lines[j]
        if not nxt.strip() or not nxt[:1].isspace():
            break
        if _rx(p.row_fields).match(nxt.strip()):
            text = f"{text}  {nxt.strip()}"
            continue
        wrapped = text.count("(") > text.count(")") or re.search(r"(?:,|\b(?:and|with|of|for|to|the|per|x))\s*$", text, re.I)
        if not wrapped or _field_line(nxt) or re.match(r"\s*(?:\(?\d{1,2}[.)]|[-*•])\s", nxt):
            break
        text = f"{text} {nxt.strip()}"
    return text


def _header_block(lines: list[str], start: int, tiers: tuple[_Tier, ...]) -> list[tuple[int, str, str]]:
    """Items listed one per line under a header line: numbered, bulleted or plain, with wrapped lines joined.
    Form fields (diagnosis, CPT, provider) and their wrapped lines are left out."""
    entries: list[list] = []  # [line number, text, form]
    blank = 0
    skipping = False  # after a form field or a form row: a wrapped line belongs to it, not to an item
    not_items = _rx(patterns().not_items)
    for j in range(start + 1, min(len(lines), start + 40)):
        raw = lines[j]
        s = raw.strip()
        if not s:
            blank += 1
            if entries or blank > 1:
                break
            continue
        marker = re.match(r"\s*(?:\(?\d{1,2}[.)]|#\d{1,2}|(?:line|item)\s*#?\d+\s*[:.)-]?|[-*•·▪])\s", raw, re.I)
        if not marker and not raw[:1].isspace() and re.match(r"[A-Z][\w /()'&-]{1,40}:(\s|$)", s) and not _label_at(raw, tiers):
            break  # the next section ("Reason:", "Other information:")
        if _label_at(raw, tiers) or raw.count("|") >= 2 or _field_line(s):
            skipping = True  # a form row or a table row (its own rule reads it), or a field
            continue
        form = "numbered list" if marker and re.match(r"\s*(?:\(?\d|#|line|item)", raw, re.I) else "bulleted list" if marker else "list"
        cur = entries[-1] if entries else None
        if marker or cur is None or not raw[:1].isspace():
            entries.append([j, s, form])
            skipping = False
            continue
        own = _plausible(_clean_item(s))
        head = _clean_item(cur[1])
        if skipping or not_items.match(head):
            if own:  # after a diagnosis line, the next line is the item
                entries.append([j, s, cur[2]])
                skipping = False
            elif not skipping:
                cur[1] = f"{cur[1]} {s}"
        elif cur[1].rstrip().endswith(".") or (own and _plausible(head)):
            entries.append([j, s, cur[2]])
        else:
            cur[1] = f"{cur[1]} {s}"
    return [(j, text, form) for j, text, form in entries]


def _tier_candidates(views: list[_View], tier: _Tier, tiers: tuple[_Tier, ...]) -> list[_Cand]:
    out: list[_Cand] = []
    for v in views:
        text = v.doc.text
        lines = text.split("\n")
        offsets = [0]
        for ln in lines:
            offsets.append(offsets[-1] + len(ln) + 1)

        def add(raw: str, line_no: int, how: str, prio: int = 0, context: str = "") -> None:
            if tier.skip_if and _rx(tier.skip_if).search(f"{context} {raw}"):
                return
            item = _clean_item(raw)
            if _plausible(item):
                out.append(_Cand(item, v, _trim(lines[line_no]), how, (prio, v.rank, line_no)))

        def named(how: str, pos: int) -> str:
            src = v.source(pos)
            return how if not src or how.startswith(("RFA", "UR", "IMR")) else f"{src} {how}"

        for i, line in enumerate(lines):
            hit = _label_at(line, (tier,))
            if not hit or not v.in_scope(hit[0].scope, offsets[i]):
                continue
            rule, m = hit
            rest = _continued(lines, i, m.group("rest").strip()) if m.group("rest").strip() else ""
            if rest:
                parts, form = _split_inline(rest)
                for part in parts:
                    add(part, i, named(f"{rule.how} {form}", offsets[i]))
            else:
                for j, entry, form in _header_block(lines, i, tiers):
                    parts, inline_form = _split_inline(_clean_item(entry))
                    for part in parts:
                        add(part, j, named(f"{rule.how} {form if len(parts) == 1 else inline_form}", offsets[j]), context=entry)
        for j, item, form in _table_items(lines, tier):
            if v.in_scope("rfa", offsets[j]) or v.ur:  # not a PR-2's medication table
                add(item, j, named(f"{'RFA' if v.rfa_from is not None else 'request'} {form}", offsets[j]))
        for rule in tier.lines:
            for m in _rx(rule.pattern).finditer(text):
                if v.in_scope(rule.scope, m.start()):
                    line_no = text.count("\n", 0, m.start())
                    add(m.group("item"), line_no, rule.how.replace("{decision}", _decision(m)))
        for rule in tier.sentences:
            if not v.in_scope(rule.scope):
                continue
            for para in re.finditer(r"(?:[^\n]|\n(?!\s*\n))+", text):
                words = list(re.finditer(r"\S+", para.group(0)))
                flat = " ".join(w.group(0) for w in words)
                starts = [0]
                for w in words[:-1]:
                    starts.append(starts[-1] + len(w.group(0)) + 1)
                for m in _rx(rule.pattern).finditer(flat):
                    k = max(i for i, st in enumerate(starts) if st <= m.start())
                    pos = para.start() + words[k].start()
                    line_no = text.count("\n", 0, pos)
                    add(m.group("item"), line_no, rule.how.replace("{decision}", _decision(m)), prio=1)
    return out


def _decision(m: re.Match[str]) -> str:
    word = " ".join((m.groupdict().get("decision") or "").lower().split())
    for key, name in (("non", "non-certified"), ("not certified", "non-certified"), ("modif", "modified"), ("partial", "modified"),
                      ("den", "denied"), ("not medically", "not medically necessary"), ("not recommended", "not recommended")):
        if key in word:
            return name
    return word or "decision"


def _dedupe(cands: list[_Cand]) -> list[FoundItem]:
    out: list[FoundItem] = []
    for c in sorted(cands, key=lambda c: c.order):
        twin = next((o for o in out if _same(o.text, c.text)), None)
        if twin is None:
            out.append(FoundItem(text=c.text, document=c.view.doc.name, line=c.line, how=c.how))
            out[-1]._from_sentence = c.order[0] > 0
            continue
        if c.view.doc.name != twin.document and c.view.doc.name not in twin.also_in:
            twin.also_in.append(c.view.doc.name)
        # keep the wording that carries a quantity ("Norco" and "Norco 10/325 #60": the second)
        if not _qualified(twin.text, quantities_only=True) and _qualified(c.text, quantities_only=True):
            old = twin.document
            twin.text, twin.document, twin.line, twin.how = c.text, c.view.doc.name, c.line, c.how
            twin.also_in = [d for d in [old, *twin.also_in] if d != twin.document]
    return out


def find_items_with_sources(docs: list[Document]) -> list[FoundItem]:
    """Disputed items with where each was found. The UR letter's decisions and an IMR application's disputed
    treatments come first; only when there are none, the requested items of the RFA or the UR letter's request
    lines. Each item appears once however many documents name it. [] when none is found: say so to the reviewer."""
    p = patterns()
    views = _views(docs)
    tiers = (p.dispute, p.request)
    found = _dedupe(_tier_candidates(views, p.dispute, tiers))
    if not found:
        return _dedupe(_tier_candidates(views, p.request, tiers))
    if any(f._from_sentence for f in found):
        # "The request for a lumbar MRI is not medically necessary": the request line words the item better
        requested = _dedupe(_tier_candidates(views, p.request, tiers))
        for f in (f for f in found if f._from_sentence):
            better = next((r for r in requested if _same(r.text, f.text)), None)
            if better:
                f.text, f.line, f.how = better.text, better.line, f"{f.how} ({better.how})"
                f.also_in = [d for d in dict.fromkeys([f.document, *f.also_in, *better.also_in]) if d != better.document]
                f.document = better.document
    return found


def find_disputed_items(docs: list[Document]) -> list[str]:
    """The disputed items' texts (see find_items_with_sources)."""
    return [i.text for i in find_items_with_sources(docs)]


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


def _line_at(text: str, pos: int) -> str:
    return _trim(text[text.rfind("\n", 0, pos) + 1: (text.find("\n", pos) + 1 or len(text) + 1) - 1])


def _request_date(docs: list[Document]) -> tuple[dt.date | None, str, str, str]:
    """(date, how, source line, old-style source) of the request date; see find_request_date."""
    from drafter.dates import DATE, dates_in, parse_date

    p = patterns()
    views = sorted(_views(docs), key=lambda v: {1: 0, 0: 1}.get(v.rank, 2))  # RFA, UR letter, the rest
    for rule in p.request_date:
        for v in views:
            for m in _rx(rf"(?:{rule.label})({DATE})").finditer(v.doc.text):
                if not v.in_scope(rule.scope, m.start()):
                    continue
                date = parse_date(m.group(1))
                if date:
                    return date, f"{rule.how}, {v.doc.name}", _line_at(v.doc.text, m.start(1)), f"{v.doc.name}: {' '.join(m.group(0).split())}"
    for v in views:
        m = re.search(r"(\d{4}-\d{2}-\d{2})", v.doc.name)
        if m and (v.doc.kind in ("rfa", "ur")) and (date := parse_us_date(m.group(1))):
            return date, f"file name {v.doc.name}", v.doc.name, f"file name {v.doc.name}"
    latest: tuple[dt.date, str, str] | None = None
    not_before = _rx(p.not_request_date_before)
    for d in docs:
        for pos, date in dates_in(d.text):
            if not_before.search(d.text[max(0, pos - 70):pos]):
                continue
            if latest is None or date > latest[0]:
                latest = (date, d.name, _line_at(d.text, pos))
    if latest:
        return (latest[0], f"no request date was stated; the latest date in the records ({latest[1]}) was used", latest[2],
                f"no request date was stated; the latest date in the records ({latest[1]}) was used")
    return None, "", "", ""


def find_request_date_with_source(docs: list[Document]) -> tuple[dt.date | None, str, str]:
    """(date, how it was found and in which document, the source line); (None, "", "") when the records give none.
    Never a date of injury, birth or service."""
    date, how, line, _ = _request_date(docs)
    return date, how, line


def find_request_date(docs: list[Document]) -> tuple[dt.date | None, str]:
    """The date of the request for authorization (it selects the guideline edition): the RFA's own date, else a
    date the records give for the request or its receipt, else the UR decision date (also as a narrative: "In a
    Utilization Review Report dated March 20, 2014"), else the latest date of any document (said so in the source).
    Never the date of injury or birth."""
    date, _, _, source = _request_date(docs)
    return date, source


def check_limits(case: Case, settings: IntakeSettings, where: str) -> None:
    """The case-size and item-count limits, the same for the CLI (load_case) and the reviewer app."""
    total = sum(len(d.text) for d in case.documents)
    if total > settings.max_case_chars:
        raise IntakeError(f"{where}: {total:,} characters of text is over the {settings.max_case_chars:,} limit "
                          "(DRAFTER_INTAKE__MAX_CASE_CHARS); give the relevant reports only.")
    if len(case.items) > settings.max_items:
        raise IntakeError(f"{len(case.items)} disputed items is over the limit of {settings.max_items}; draft them in groups.")
