"""The claim header of a letter (claimant, claim number, dates, claims administrator), read from the case file's
header lines; the labels it looks for are data in drafter/data/claim_header.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, Field

from drafter.dates import DATE, dates_in, parse_date, us_date
from drafter.errors import DrafterError
from drafter.intake import Case, Document

FIELDS = ("claimant", "claim_number", "date_of_injury", "ur_date", "request_date", "employer", "claims_administrator")


class ClaimHeaderDataError(DrafterError):
    """drafter/data/claim_header.yaml is malformed."""


class ClaimHeader(BaseModel):
    """The claim the letter decides on. Dates are MM/DD/YYYY; "" when the case file does not say."""

    claimant: str = ""
    claim_number: str = ""
    date_of_injury: str = ""
    ur_date: str = ""
    request_date: str = ""
    employer: str = ""
    claims_administrator: str = ""
    sources: dict[str, str] = Field(default_factory=dict, description="field -> 'document: the line it was read from'")

    def missing(self) -> list[str]:
        return [f for f in FIELDS if not getattr(self, f)]


@dataclass(frozen=True)
class _Rule:
    kinds: tuple[str, ...]
    labels: tuple[re.Pattern, ...]


@dataclass(frozen=True)
class _Field:
    name: str
    type: str
    rules: tuple[_Rule, ...]
    narrative: tuple[re.Pattern, ...]
    file_name: str | None


@dataclass(frozen=True)
class _Data:
    fields: tuple[_Field, ...]
    labels: tuple[re.Pattern, ...]  # every known label: where one value ends and the next begins
    any_label: re.Pattern
    continuation: re.Pattern
    unknown: re.Pattern
    redaction: re.Pattern
    value_ends: dict[str, re.Pattern]  # by field name or field type: where a value stops


# a label starts a line or follows white space or a cell separator; a label ending in a word character must end the word
_LEFT = r"(?<![^\s|;,(])"
_RIGHT = r"(?:(?<=\W)|(?!\w))"
_EXPLICIT = re.compile(r"(?:[:#.]|\bnumbers?|\bno)\s*$", re.I)
_CELL = re.compile(r"\s{2,}|\t|\|")


@lru_cache(maxsize=1)
def header_data() -> _Data:
    raw = yaml.safe_load(resources.files("drafter.data").joinpath("claim_header.yaml").read_text(encoding="utf-8"))
    try:
        fields = []
        every: list[str] = list(raw.get("other_labels", []))
        for name, spec in raw["fields"].items():
            if name not in FIELDS:
                raise ClaimHeaderDataError(f"claim_header.yaml: unknown field {name!r}; use one of {', '.join(FIELDS)}.")
            rules = []
            for r in spec["rules"]:
                every.extend(r["labels"])
                rules.append(_Rule(kinds=tuple(r["in"]), labels=tuple(re.compile(_LEFT + f"(?:{lab})" + _RIGHT, re.I) for lab in r["labels"])))
            narrative = tuple(re.compile(p.replace("{date}", f"({DATE})"), re.I) for p in spec.get("narrative", []))
            fields.append(_Field(name=name, type=spec["type"], rules=tuple(rules), narrative=narrative, file_name=spec.get("file_name")))
        labels = tuple(re.compile(_LEFT + f"(?:{lab})" + _RIGHT, re.I) for lab in dict.fromkeys(every))
        any_label = re.compile(_LEFT + "(?:" + "|".join(f"(?:{lab})" for lab in dict.fromkeys(every)) + ")" + _RIGHT, re.I)
        continuation = re.compile(r"^\s*(?:" + "|".join(raw["continuation_labels"]) + r")\s*:\s*", re.I)
        unknown = re.compile(raw["unknown_values"], re.I)
        redaction = re.compile(raw["redaction"], re.I)
        value_ends = {k: re.compile(v, re.I) for k, v in raw["value_ends"].items()}
    except (KeyError, TypeError, re.error) as exc:
        raise ClaimHeaderDataError(f"drafter/data/claim_header.yaml is malformed ({type(exc).__name__}: {exc}); "
                                   "compare it with the layout described at the top of the file.") from exc
    return _Data(fields=tuple(fields), labels=labels, any_label=any_label, continuation=continuation, unknown=unknown,
                 redaction=redaction, value_ends=value_ends)


@dataclass(frozen=True)
class _Pair:
    label: str
    value: str
    bare: bool  # a label without ":" or "#"
    table: bool  # the value is in the next cell or on the next line, not run on after a bare word
    where: str  # the line (and the next one, when the value is there)


def _cell_start(line: str, pos: int) -> bool:
    """Whether pos starts the line or a cell (after two spaces, a tab or a "|")."""
    return not line[:pos].strip() or bool(re.search(r"(?:\s{2,}|\t|\|)\s*$", line[:pos]))


def _pairs(lines: list[str], i: int, data: _Data) -> list[_Pair]:
    """The label-value pairs of line i (a label alone on its line takes the next line as its value)."""
    line = lines[i]
    spans: list[tuple[int, int]] = []
    pos = 0
    while (m := data.any_label.search(line, pos)) is not None:
        start = m.start()
        # the longest label at this place ("Employee information", not "Employee")
        end = max((x.end() for p in data.labels if (x := p.match(line, start))), default=m.end())
        pos = max(end, start + 1)
        # a bare word in running text ("the employer reported") is no label, unless a date follows ("DOI 04/30/2012")
        if _EXPLICIT.search(line[start:end]) or _cell_start(line, start) or re.match(rf"\s*{DATE}", line[end:], re.I):
            spans.append((start, end))
    pairs = []
    for n, (start, end) in enumerate(spans):
        stop = spans[n + 1][0] if n + 1 < len(spans) else len(line)
        raw = line[end:stop]
        label = line[start:end].strip()
        bare = not _EXPLICIT.search(label)
        table = bool(re.match(r"\s{2,}|\t|\s*\|", raw)) and _cell_start(line, start)
        value = _CELL.split(raw.strip(" \t|"), maxsplit=1)[0]
        value = re.split(r"\s+(?=[A-Z][A-Za-z]*:)", value, maxsplit=1)[0]  # "Dana Sample Age: 46" -> "Dana Sample"
        where = line
        if not value and n + 1 == len(spans) and not line[:start].strip():
            value, nxt = _next_line_value(lines, i, data)
            table, where = True, f"{line} / {nxt}" if value else line
        pairs.append(_Pair(label=label, value=value.strip(" \t,;"), bare=bare, table=table, where=where))
    return pairs


def _next_line_value(lines: list[str], i: int, data: _Data) -> tuple[str, str]:
    nxt = next((ln for ln in lines[i + 1:i + 3] if ln.strip()), "")
    m = data.continuation.match(nxt)
    if m:
        return _CELL.split(nxt[m.end():].strip(), maxsplit=1)[0], nxt
    if data.any_label.search(nxt) or ":" in nxt or len(nxt.strip()) > 80:
        return "", ""
    return _CELL.split(nxt.strip(), maxsplit=1)[0], nxt


def _usable(field: _Field, pair: _Pair, data: _Data) -> str:
    """The value as the header writes it, or "" when it is not a value of this field."""
    value = " ".join(pair.value.split())
    cut = data.value_ends.get(field.name) or data.value_ends.get(field.type)
    if cut is not None:
        value = cut.split(value, maxsplit=1)[0]
    value = value.strip(" ,;:") if field.type == "text" else value.strip(" ,;:.")
    if not value or data.unknown.match(value) or not re.search(r"[A-Za-z0-9]", data.redaction.sub("", value)):
        return ""
    if field.type == "date":
        found = dates_in(value)
        if not found or (pair.bare and not pair.table and found[0][0] > 3):
            return ""
        if field.name == "date_of_injury" and len(found) > 1 and found[0][0] < 4:  # cumulative trauma: a period
            return f"{us_date(found[0][1].isoformat())} - {us_date(found[1][1].isoformat())}"
        return us_date(found[0][1].isoformat())
    if pair.bare and not pair.table:
        return ""  # "Patient reports ..." is a sentence, not a header field
    if field.type == "id":
        return value if re.search(r"\d", value) and len(value) <= 60 else ""
    return value if len(value) <= 80 else ""


def _documents(case: Case, kinds: tuple[str, ...]) -> list[Document]:
    return [d for k in kinds for d in case.documents if d.kind == k]


def _source(doc: Document, line: str) -> str:
    return f"{doc.name}: {' '.join(line.split())[:200]}"


def _find(case: Case, field: _Field, data: _Data) -> tuple[str, str]:
    for rule in field.rules:
        for doc in _documents(case, rule.kinds):
            lines = doc.text.split("\n")
            for i, line in enumerate(lines):
                for pair in _pairs(lines, i, data):
                    if not any(p.fullmatch(pair.label) for p in rule.labels):
                        continue
                    value = _usable(field, pair, data)
                    if value:
                        return value, _source(doc, pair.where)
    for pattern in field.narrative:
        for doc in _documents(case, ("rfa", "ur", "report")):
            m = pattern.search(doc.text)
            if m and (date := parse_date(m.group(1))):
                return us_date(date.isoformat()), _source(doc, m.group(0))
    if field.file_name:
        for doc in _documents(case, (field.file_name,)):
            m = re.search(r"\d{4}-\d{2}-\d{2}", doc.name)
            if m and (date := parse_date(m.group(0))):
                return us_date(date.isoformat()), f"file name {doc.name}"
    return "", ""


def find_claim_header(case: Case) -> ClaimHeader:
    """The claim header from the case documents (RFA first, then the UR letter, then the reports).
    The request date the reviewer gave wins over any in the records; a date of injury is never a request date."""
    data = header_data()
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for field in data.fields:
        if field.name == "request_date" and case.request_date is not None and case.date_source == "given":
            values[field.name], sources[field.name] = us_date(case.request_date.isoformat()), "given by the reviewer"
            continue
        value, source = _find(case, field, data)
        if value:
            values[field.name], sources[field.name] = value, source
    return ClaimHeader(**values, sources=sources)
