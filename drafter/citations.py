"""Citation strings as IMR letters write them -> (guideline family, edition, section, pages).

"MTUS 9792.20f.2. MTUS page 99.3. MTUS page 8 Page(s): 99, 8." -> MTUS 9792.20f; MTUS pages 8, 99.
"ACOEM Practice Guidelines, 2nd Edition (2004), Chapter 12, pages 303-305" -> ACOEM 2004 Chapter 12, 303-305.
Pages are the numbers printed on the guideline's pages.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

class NormCitation(BaseModel):
    guideline: str
    edition: str | None = None
    section: str | None = None
    pages: list[int] = Field(default_factory=list)

    def key(self) -> tuple[str, str | None]:
        return (self.guideline, self.section)


def family_of(guideline_name: str) -> str:
    """Our corpus guideline names -> the families letters cite."""
    g = guideline_name.lower()
    if "formulary" in g:
        return "MTUS Drug Formulary"
    if "acoem-based" in g or "acoem based" in g:
        return "MTUS ACOEM-based"
    if "acoem" in g:
        return "ACOEM"
    if "odg" in g or "official disability" in g:
        return "ODG"
    if "mtus" in g or "chronic pain" in g or "postsurgical" in g or "acupuncture" in g:
        return "MTUS"
    return "Other"


_GLUED = re.compile(r"(?<=[A-Za-z0-9)])\.(\d{1,2})\.\s+(?=[A-Z(])"
                    r"|(?<=\d[a-z])(\d{1,2})\.\s+(?=[A-Z(])")  # also after a subsection letter: "MTUS 9792.20f2. MTUS page 99"
_PAGES = re.compile(r"\b(?:pages?|pp?\.|pg\.?|page\(s\))\s*:?\s*((?:\d{1,4}\s*(?:(?:-|–|to|and|&|,)\s*)?)+)", re.I)
_SECTION = re.compile(r"\b(9792\.\d+(?:\.\d+)*)\s*(?:\(?\s*([a-z])\s*\)?)?(?!\d)(?!\.\d)", re.I)
_CHAPTER = re.compile(r"\bchapter\s*(\d{1,2})\b", re.I)


def _page_numbers(spec: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:,|and|&)\s*", spec.strip()):
        m = re.fullmatch(r"(\d{1,4})\s*(?:-|–|to)\s*(\d{1,4})", part.strip())
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo and len(m.group(2)) < len(m.group(1)):  # "303-5" = 303-305
                hi = int(m.group(1)[: len(m.group(1)) - len(m.group(2))] + m.group(2))
            if 0 <= hi - lo <= 40:
                out.extend(range(lo, hi + 1))
            else:
                out.extend([lo, hi])
        elif part.strip().isdigit():
            out.append(int(part.strip()))
    return [p for p in out if 0 < p < 2000]


def _family(segment: str, default: str) -> str:
    s = segment.lower()
    if "formulary" in s:
        return "MTUS Drug Formulary"
    if re.search(r"mtus[^.;]{0,30}acoem|acoem[^.;]{0,40}(?:mtus|adopted|2017|2018|2019|2020|guideline\b(?! ?s?,? 2nd))", s) and not re.search(r"2nd|2004|second edition", s):
        return "MTUS ACOEM-based"
    if "acoem" in s or re.search(r"\bchapter\s*\d", s):
        return "ACOEM"
    if re.search(r"\bodg\b|official disability", s):
        return "ODG"
    if "mtus" in s or "9792" in s or "chronic pain medical treatment" in s or "ca mtus" in s:
        return "MTUS"
    return default


def normalize(text: str) -> list[NormCitation]:
    """All citations in a guideline-basis string, merged per (guideline, section), pages sorted."""
    t = " ".join(text.replace("\u2013", "-").replace("\u2014", "-").split())
    t = _GLUED.sub(". ", t)
    merged: dict[tuple[str, str | None], NormCitation] = {}
    last_family = "MTUS"  # letters cite the MTUS unless they name another guideline
    segments = [s for s in re.split(r";|(?<=[a-z0-9)])\.\s+(?=[A-Z(])|\s+(?=Page\(s\))", t) if s.strip()]
    for seg in segments:
        fam = _family(seg, last_family)
        if fam != "Other":
            last_family = fam
        edition = None
        m = re.search(r"\((20\d\d)\)|\b(20\d\d)\b(?= ?(?:edition|ed\.))|2nd edition", seg, re.I)
        if fam == "ACOEM" and (m or re.search(r"2nd|second", seg, re.I)):
            edition = "2004"
        sections: list[str] = []
        for sm in _SECTION.finditer(seg):
            # subsection letters matter for 9792.20 (each letter is a definition); elsewhere cite the section
            letter = sm.group(2).lower() if sm.group(2) and sm.group(1) == "9792.20" else ""
            sections.append(sm.group(1) + letter)
        ch = _CHAPTER.search(seg)
        if ch:
            sections.append(f"Chapter {int(ch.group(1))}")
        if fam == "ODG" and not sections:
            odg = re.search(r"odg[^,;]*?,?\s*([A-Z][A-Za-z/ ]+?)\s+chapter", seg, re.I)
            if odg:
                sections.append(odg.group(1).strip().title())
        if fam == "MTUS ACOEM-based" and not sections:
            bare = re.sub(r"\b(?:CA|California|MTUS|ACOEM|the|\(|\))\b", " ", seg)
            g = re.search(r"([A-Z][A-Za-z,/ ]+?(?:Disorders|Guideline|Guidelines))", bare)
            if g:
                sections.append(re.sub(r"\s+(?:Guidelines?)$", "", " ".join(g.group(1).split())).strip(" ,"))
        pages: list[int] = []
        for pm in _PAGES.finditer(seg):
            pages.extend(_page_numbers(pm.group(1)))
        if not (sections or pages or fam in ("MTUS Drug Formulary", "ODG", "MTUS ACOEM-based")):
            continue
        for sec in sections or [None]:
            c = merged.setdefault((fam, sec), NormCitation(guideline=fam, edition=edition, section=sec))
            c.edition = c.edition or edition
            if sec is None or sec.startswith("Chapter") or len(sections) == 1:
                c.pages = sorted(set(c.pages) | set(pages))
    return list(merged.values())
