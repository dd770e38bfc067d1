"""One precedent record per disputed item of a past letter: what was asked, what IMR decided, on what basis."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

from drafter.citations import NormCitation
from drafter.corpus.chunks import pages_label
from drafter.items import ParsedItem, drug_table, parse_item
from drafter.letter_parser import LetterParseError, ParsedLetter, parse_letter_text, read_letter_text
from drafter.metrics.rationale import _FACT_PATTERNS
from drafter.precedents.facts import label, read_facts


class PrecedentRecord(BaseModel):
    """A past decision on one item, as the archive stores and returns it."""

    id: str = Field(description="stable: hash of the letter's content and the item's index")
    letter_path: str
    letter_name: str
    content_hash: str = Field(description="SHA-256 of the letter file's bytes (first 16 hex digits)")
    item_index: int
    letter_date: dt.date | None = Field(default=None, description="the request / UR date the letter states")
    item: str
    category: str
    treatment: str
    generic: str | None = None
    family: str = Field(description="category/treatment-or-generic: the item family outcomes are counted over")
    decision: str
    citations: list[NormCitation] = Field(default_factory=list)
    pages: str = Field(default="", description="the cited guidelines and pages, as a reviewer reads them")
    rationale: str = ""
    key_facts: list[str] = Field(default_factory=list, description="numbers, pages and drugs the rationale names (the key_fact metric)")
    facts: list[str] = Field(default_factory=list, description="fact=reading keys the rationale decides on (rationale_facts.yaml)")
    layout: str

    @property
    def embed_text(self) -> str:
        return embed_text(self.item, self.generic, self.treatment, self.facts)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def record_id(chash: str, index: int) -> str:
    return f"{chash}-{index}"


def family_of(category: str, treatment: str, generic: str | None) -> str:
    return f"{category}/{generic or treatment}"


def embed_text(item: str, generic: str | None, treatment: str, facts: list[str]) -> str:
    """What the dense index sees: the item with its normalized name, and the deciding facts in words."""
    name = generic or (treatment if treatment not in ("unknown", "medication") else "")
    head = f"{item} ({name})" if name and name.lower() not in item.lower() else item
    words = "; ".join(label(f) for f in facts)
    return f"{head}. {words}" if words else head


def pages_text(cites: list[NormCitation]) -> str:
    parts = []
    for c in cites:
        where = c.section or ""
        if c.pages:
            where = (where + " " if where else "") + ("p. " if len(c.pages) == 1 else "pp. ") + pages_label(c.pages)
        parts.append(f"{c.guideline} {where}".strip())
    return "; ".join(dict.fromkeys(parts))


@lru_cache(maxsize=1)
def _fact_regexes() -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p) for p in _FACT_PATTERNS)


@lru_cache(maxsize=1)
def _drug_names() -> tuple[tuple[str, re.Pattern], ...]:
    return tuple((d, re.compile(rf"(?<![a-z]){re.escape(d)}(?![a-z])")) for d in drug_table() if len(d) >= 5)


def rationale_key_facts(text: str) -> list[str]:
    """drafter.metrics.rationale.key_facts with the same drug list, as fast as an archive needs: a drug's
    pattern runs only when its name occurs in the text at all (the metric runs every drug's pattern)."""
    low = " ".join(text.lower().split())
    facts = {re.sub(r"\s+", " ", m.group(0)).replace("pages", "page") for rx in _fact_regexes() for m in rx.finditer(low)}
    facts |= {d for d, rx in _drug_names() if d in low and rx.search(low)}
    return sorted(facts)


@lru_cache(maxsize=8192)
def _parsed(item: str) -> ParsedItem:
    """Item strings repeat across an archive ("Norco 10/325 mg #120"): parse each once."""
    return parse_item(item)


def letter_date(letter: ParsedLetter) -> dt.date | None:
    """The request / UR date the letter states, read as the eval reads it."""
    from drafter.evaluation.systems import letter_request_date

    return letter_request_date(letter)


def records_from_parsed(letter: ParsedLetter, path: str, chash: str) -> list[PrecedentRecord]:
    date = letter_date(letter)
    out = []
    for i, it in enumerate(letter.items):
        p = _parsed(it.item)
        facts = read_facts(f"{it.item}. {it.rationale}")
        out.append(PrecedentRecord(
            id=record_id(chash, i), letter_path=path, letter_name=Path(path).name, content_hash=chash, item_index=i,
            letter_date=date, item=it.item, category=p.category, treatment=p.treatment, generic=p.generic,
            family=family_of(p.category, p.treatment, p.generic), decision=it.decision, citations=it.citations,
            pages=pages_text(it.citations), rationale=it.rationale, key_facts=rationale_key_facts(it.rationale),
            facts=facts, layout=letter.layout,
        ))
    return out


def read_letter(path: Path) -> tuple[str, str]:
    """(text, content hash) of a letter file; raises LetterParseError when it cannot be read."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LetterParseError(f"{path}: cannot read ({exc.strerror or exc}).") from exc
    chash = content_hash(data)
    text = read_letter_text(path) if path.suffix.lower() == ".pdf" else data.decode("utf-8", errors="replace")
    if len(text.strip()) < 50:
        raise LetterParseError(f"{path.name}: empty or textless (a scanned PDF needs OCR first).")
    return text, chash


def records_from_letter(path: Path) -> list[PrecedentRecord]:
    """Every disputed item of one letter (.txt or .pdf) as a record; LetterParseError says why a file is not a letter."""
    text, chash = read_letter(path)
    return records_from_parsed(parse_letter_text(text, Path(path).name), str(path), chash)
