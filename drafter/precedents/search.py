"""Precedent search: the nearest past items to a disputed item, and how IMR has decided its item family.

Nearness is dense (MiniLM) over the item text and the deciding facts in words, filtered to the item's family
(category/treatment-or-generic); when the family holds fewer than k past items the search widens to the
category, then to the whole archive, and each precedent says which scope found it. The outcome line counts
the family's items that name every fact of the query, in the audit database.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from drafter.errors import QueryError
from drafter.items import parse_item
from drafter.precedents.facts import fact_sentences, label, parse_fact_args, read_facts
from drafter.precedents.records import embed_text, family_of
from drafter.settings import Settings

Scope = Literal["family", "category", "archive"]


class Precedent(BaseModel):
    """One past item near the query."""

    id: str
    letter_name: str
    letter_path: str
    letter_date: str | None
    item: str
    decision: str
    similarity: float
    scope: Scope = Field(description="the filter that found it: the item's family, its category, or the whole archive")
    pages: str
    citations: list[dict] = Field(default_factory=list)
    rationale_excerpt: str
    facts: list[str] = Field(default_factory=list, description="fact=reading keys the past rationale decides on")


class Outcomes(BaseModel):
    """How IMR decided an item family (and facts): counts, shares and the line a reviewer reads."""

    family: str
    facts: list[str] = Field(default_factory=list)
    n: int
    upheld: int
    overturned: int
    majority: str | None = None
    share: float | None = Field(default=None, description="the majority decision's share")
    text: str


class StrongMajority(BaseModel):
    decision: str
    share: float
    n: int
    basis: str = Field(description="the outcome line it rests on")

    def goes_against(self, decision: str) -> bool:
        """True when a draft's decision differs from the strong majority (needs_review never does)."""
        return decision in ("upheld", "overturned") and decision != self.decision


class PrecedentResult(BaseModel):
    query: str
    family: str
    family_known: bool
    facts: list[str]
    precedents: list[Precedent]
    outcomes: Outcomes = Field(description="the family's items that name every fact of the query")
    family_outcomes: Outcomes | None = Field(default=None, description="the whole family, when the query names facts")
    strong_majority: StrongMajority | None = None
    seconds: float = 0.0

    def goes_against(self, decision: str) -> bool:
        return bool(self.strong_majority and self.strong_majority.goes_against(decision))


def parse_date_range(text: str | None) -> tuple[dt.date | None, dt.date | None] | None:
    """'2014-01-01:2015-12-31', either end may be left empty ('2014-01-01:')."""
    if not text:
        return None
    lo, sep, hi = text.partition(":")
    if not sep:
        raise QueryError(f"--date-range {text!r}: write FROM:TO as YYYY-MM-DD:YYYY-MM-DD (either end may be empty).")
    try:
        a = dt.date.fromisoformat(lo.strip()) if lo.strip() else None
        b = dt.date.fromisoformat(hi.strip()) if hi.strip() else None
    except ValueError as exc:
        raise QueryError(f"--date-range {text!r}: dates must be YYYY-MM-DD ({exc}).") from exc
    if a and b and a > b:
        raise QueryError(f"--date-range {text!r}: the start is after the end.")
    return a, b


def _family_name(family: str) -> str:
    return family.split("/", 1)[1] if "/" in family else family


def outcome_line(family: str, facts: list[str], counts: dict[str, int]) -> Outcomes:
    up, ov = counts.get("upheld", 0), counts.get("overturned", 0)
    n = up + ov
    phase = [f for f in facts if f.startswith("treatment_phase=")]
    rest = [f for f in facts if not f.startswith("treatment_phase=")]
    what = " ".join([_family_name(family)] + [label(f) for f in phase])
    if rest:
        what += " " + ", ".join(label(f) for f in rest)
    if not n:
        return Outcomes(family=family, facts=facts, n=0, upheld=0, overturned=0, text=f"{what}: no past items")
    majority = "upheld" if up >= ov else "overturned"
    share = max(up, ov) / n
    return Outcomes(family=family, facts=facts, n=n, upheld=up, overturned=ov, majority=majority, share=share,
                    text=f"{what}: {share:.0%} {majority}, n={n:,}")


def strong_majority(outcomes: list[Outcomes | None], settings: Settings) -> StrongMajority | None:
    """The first (most specific) outcome line with enough items and a large enough majority."""
    p = settings.precedents
    for o in outcomes:
        if o is None or o.n < p.strong_min_n or o.share is None or o.majority is None:
            continue
        return StrongMajority(decision=o.majority, share=o.share, n=o.n, basis=o.text) if o.share >= p.strong_share else None
    return None


def _nearest_in_scopes(archive: Any, vector: list[float], k: int, scopes: list[tuple[Scope, dict | None]], exclude_hash: str | None,
                       lo: dt.date | None, hi: dt.date | None) -> list[tuple[str, tuple[float, Scope]]]:
    """The k nearest items, scope by scope (family, category, archive) until k are found.

    One unfiltered query for `candidates` items answers most searches (an item's family sits near it); only a
    scope the candidates leave short is queried with its filter (further when a date range thins it out), and
    the date range goes into Chroma's filter last, for a scope too sparse in that range (a range filter makes
    Chroma scan its metadata: about 250 ms at 100,000 items, against 5-60 ms for the other queries)."""
    lo_i = int(lo.strftime("%Y%m%d")) if lo else None
    hi_i = int(hi.strftime("%Y%m%d")) if hi else None

    def ok(meta: dict) -> bool:
        d = int(meta.get("letter_date") or 0)
        return (meta.get("content_hash") != exclude_hash if exclude_hash else True) and (lo_i is None or d >= lo_i) and (hi_i is None or d <= hi_i)

    def fits(meta: dict, cond: dict | None) -> bool:
        return all(meta.get(key) == val for key, val in (cond or {}).items())

    n = max(k, archive.settings.precedents.candidates)
    cands = sorted(archive.nearest(vector, n), key=lambda c: (-c[1], c[0]))  # equal similarity: by id, not Chroma's order
    hits: dict[str, tuple[float, Scope]] = {}
    for scope, cond in scopes:
        for rid, sim, meta in cands:
            if len(hits) >= k:
                break
            if rid not in hits and fits(meta, cond) and ok(meta):
                hits[rid] = (sim, scope)
        if len(hits) < k and cond is not None and len(cands) >= n:  # the candidates may have missed some of this scope
            m = n * (8 if lo_i or hi_i else 1)  # a date range leaves a fraction of the scope: look further before a range filter
            found = archive.nearest(vector, m, cond)
            extra = [(rid, sim) for rid, sim, meta in found if ok(meta) and rid not in hits]
            if len(hits) + len(extra) < k and (lo_i or hi_i) and len(found) >= m:
                dated = [c for c in (cond, {"letter_date": {"$gte": lo_i}} if lo_i else None, {"letter_date": {"$lte": hi_i}} if hi_i else None) if c]
                extra = [(rid, sim) for rid, sim, meta in archive.nearest(vector, n, {"$and": dated}) if ok(meta) and rid not in hits]
            for rid, sim in sorted(extra, key=lambda x: (-x[1], x[0]))[: k - len(hits)]:
                hits[rid] = (sim, scope)
        if len(hits) >= k:
            break
    return list(hits.items())


def find_precedents(item: str, facts: list[str] | None = None, date_range: tuple[dt.date | None, dt.date | None] | str | None = None,
                    k: int | None = None, *, archive: Any | None = None, settings: Settings | None = None,
                    exclude_hash: str | None = None) -> PrecedentResult:
    """The k nearest past items to `item` and the outcome distribution of its family.

    facts: `fact=reading` keys or words (see rationale_facts.yaml); date_range: (from, to) or 'FROM:TO';
    exclude_hash: a letter's content hash whose items are left out (leave-one-out evaluation).
    """
    t0 = time.perf_counter()
    if not item or not item.strip():
        raise QueryError("Give the disputed item, as the request words it (e.g. 'Norco 10/325 mg #120').")
    if archive is None:
        from drafter.precedents.archive import LetterArchive

        archive = LetterArchive(settings or Settings())
    settings = archive.settings
    k = k or settings.precedents.k
    if isinstance(date_range, str):
        date_range = parse_date_range(date_range)
    given = parse_fact_args(facts)
    named = {f.split("=", 1)[0] for f in given}
    qfacts = given + [f for f in read_facts(item) if f.split("=", 1)[0] not in named]
    p = parse_item(item)
    family = family_of(p.category, p.treatment, p.generic)
    known = p.treatment != "unknown" or p.generic is not None
    vector = archive.embeddings.embed_query(embed_text(" ".join(item.split()), p.generic, p.treatment, qfacts))
    lo, hi = date_range or (None, None)
    scopes: list[tuple[Scope, dict | None]] = []
    if known:
        scopes.append(("family", {"family": family}))
    if p.category != "unknown":
        scopes.append(("category", {"category": p.category}))
    scopes.append(("archive", None))
    hits = _nearest_in_scopes(archive, vector, k, scopes, exclude_hash, lo, hi)
    ordered = hits[:k]
    rows = archive.rows([rid for rid, _ in ordered])
    limit = settings.precedents.excerpt_chars
    precedents = []
    for rid, (sim, scope) in ordered:
        r = rows.get(rid)
        if r is None:  # in Chroma but not (yet) in SQL: a batch cut off midway; the next ingest completes it
            continue
        rfacts = [f for f in r["facts"].strip("|").split("|") if f]
        precedents.append(Precedent(
            id=rid, letter_name=r["letter_name"], letter_path=r["letter_path"], letter_date=r["letter_date"], item=r["item"],
            decision=r["decision"], similarity=round(sim, 4), scope=scope, pages=r["pages"], citations=json.loads(r["citations_json"]),
            rationale_excerpt=fact_sentences(r["rationale"], [f for f in rfacts if f in qfacts] or rfacts, limit), facts=rfacts,
        ))
    if known:
        counts = archive.outcomes(family, qfacts, date_range, exclude_hash)
    else:  # an item the parser cannot name: counted over its category, or the whole archive, and never flagged
        cat = p.category if p.category != "unknown" else None
        counts = archive.outcomes(None, qfacts, date_range, exclude_hash, category=cat)
    outcomes = outcome_line(family if known else f"{p.category}/all {p.category} items" if p.category != "unknown" else "archive/all items",
                            qfacts, counts)
    whole = outcome_line(family, [], archive.outcomes(family, [], date_range, exclude_hash)) if qfacts and known else None
    strong = strong_majority([outcomes, whole], settings) if known else None
    return PrecedentResult(query=item, family=family, family_known=known, facts=qfacts, precedents=precedents, outcomes=outcomes,
                           family_outcomes=whole, strong_majority=strong, seconds=round(time.perf_counter() - t0, 4))


def facts_of_draft(item_draft: dict) -> list[str]:
    """`fact=reading` keys of the facts a drafted item's decision rests on (its deciding criteria), read as a letter
    names them: a required fact the records do not document counts as absent ("without documented ...")."""
    from drafter.precedents.facts import readings

    known = {f"{r.fact}={r.reading}" for r in readings()}  # only readings past letters are read for can be counted
    facts = item_draft.get("facts") or {}
    out: list[str] = []
    for c in item_draft.get("criteria") or []:
        if not c.get("decisive", True) or c.get("status") not in ("met", "not_met") or not c.get("fact"):
            continue
        status = (facts.get(c["fact"]) or {}).get("status")
        reading = status if status in ("present", "absent") else ("absent" if c["status"] == "not_met" else None)
        if reading and f"{c['fact']}={reading}" in known:
            out.append(f"{c['fact']}={reading}")
    return list(dict.fromkeys(out))


def vote(result: PrecedentResult) -> str:
    """The precedent-vote decision: the majority of the nearest items; a tie goes to the family's majority,
    then to upheld (the archive-wide base rate); no precedent at all is needs_review."""
    ds = [p.decision for p in result.precedents]
    if not ds:
        return "needs_review"
    up, ov = ds.count("upheld"), ds.count("overturned")
    if up != ov:
        return "upheld" if up > ov else "overturned"
    return result.outcomes.majority or "upheld"
