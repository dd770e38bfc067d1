"""Grounding check: every citation a retrieved chunk; every number, page, date and drug name in a
sentence found in a cited passage or in the case text. Ungrounded sentences are dropped and reported."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from drafter.items import drug_table

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"(])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?%?")
_PAGE = re.compile(r"\b(?:pages?|pp?\.)\s*(\d+(?:\s*(?:-|–|to|and|,|&)\s*\d+)*)", re.I)
_STOP = set("the and for with that this from were was are has have had been into than then they their there which what when will would should could shall "
            "also more most such only other over under upon about after before because while where these those each some into onto".split())


@dataclass
class GroundingReport:
    kept: list[str] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (sentence, why)
    invalid_citations: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.kept) + len(self.dropped)

    @property
    def grounded_fraction(self) -> float:
        return len(self.kept) / self.total if self.total else 1.0

    @property
    def text(self) -> str:
        return " ".join(self.kept)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(" ".join(text.split())) if s.strip()]


def word_stems(text: str, length: int, stop: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The first `length` letters of each word of 5 letters or more that is not in `stop`, in order, once each:
    the near-enough word match the argument and the output checks compare wording by."""
    return list(dict.fromkeys(w[:length] for w in re.findall(r"[a-z]{5,}", text.lower()) if w not in stop))


def _numbers(text: str) -> set[str]:
    return {n.rstrip("%") for n in _NUMBER.findall(text)}


def _drug_names(text: str) -> set[str]:
    low = text.lower()
    return {name for name in drug_table() if len(name) >= 5 and re.search(rf"(?<![a-z]){re.escape(name)}(?![a-z])", low)}


def pages_named(text: str) -> set[int]:
    """The guideline pages a text names: "page 99", "pages 98-99" (a range), "pages 92, 97", "(p. 22)"."""
    pages_said: set[int] = set()
    for m in _PAGE.finditer(text):
        # "pages 98-99" is a range; "pages 92, 97" and "pages 41 and 64" are lists
        for part in re.split(r"\s*(?:,|and|&)\s*", m.group(1)):
            bounds = [int(x) for x in re.split(r"\s*(?:-|–|to)\s*", part) if x.strip().isdigit()]
            if len(bounds) == 2 and 0 <= bounds[1] - bounds[0] <= 30:
                pages_said.update(range(bounds[0], bounds[1] + 1))
            else:
                pages_said.update(bounds)
    return pages_said


def check_sentence(sentence: str, sources: str, cited_pages: set[int]) -> str | None:
    """Why the sentence is not grounded, or None when it is."""
    src_numbers = _numbers(sources)
    pages_said = pages_named(sentence)
    bad_pages = sorted(p for p in pages_said if p not in cited_pages)
    if bad_pages:
        return f"page {', '.join(map(str, bad_pages))} is not a page of the cited passages"
    page_numbers = {str(p) for p in pages_said}
    for n in _numbers(sentence) - page_numbers:
        if n not in src_numbers and not any(n in s for s in src_numbers if "/" in s):
            return f"the number {n} is not in the cited passages or the case text"
    missing = [d for d in _drug_names(sentence) if d not in sources.lower()]
    if missing:
        return f"the drug name {missing[0]!r} is not in the case text or the passages"
    words = [w for w in re.findall(r"[a-z]{4,}", sentence.lower()) if w not in _STOP]
    if words:
        low = sources.lower()
        support = sum(1 for w in words if w[:6] in low) / len(words)
        if support < 0.5:
            return "most of its words appear in neither the cited passages nor the case text"
    return None


def ground(text: str, sources: str, cited_pages: set[int], cited_ids: list[str], retrieved_ids: set[str]) -> GroundingReport:
    """Keep the grounded sentences of `text`; report the rest and any citation that retrieval did not return."""
    report = GroundingReport(invalid_citations=[c for c in cited_ids if c not in retrieved_ids])
    for s in split_sentences(text):
        why = check_sentence(s, sources, cited_pages)
        if why:
            report.dropped.append((s, why))
        else:
            report.kept.append(s)
    return report
