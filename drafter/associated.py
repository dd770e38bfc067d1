"""Requests that serve another request of the same case (pre-operative clearance, post-operative therapy and
equipment, an assistant surgeon), read from `data/associated_items.yaml`, and the drafting order that decides
the request they serve first."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol
from importlib import resources

import yaml

from drafter.items import ParsedItem, parse_item

if TYPE_CHECKING:
    from drafter.criteria import Assessment


@dataclass(frozen=True)
class Association:
    """Item `index` serves the items `primaries` (indices into the case's items)."""

    index: int
    kind: str
    what: str
    primaries: tuple[int, ...]


@cache
def _rules() -> dict:
    data = yaml.safe_load(resources.files("drafter.data").joinpath("associated_items.yaml").read_text(encoding="utf-8"))

    def compiled(patterns: list[str]) -> re.Pattern[str]:
        return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)

    return {
        "primary": set(data["primary_categories"]),
        "kinds": [(k["kind"], k["what"], compiled(k["patterns"]), bool(k.get("overrides_primary"))) for k in data["associated"]],
        "with_surgery": compiled(data["with_surgery"]["patterns"]),
        "never": compiled(data["never"]),
        "raw": data,
    }


def is_primary(parsed: ParsedItem) -> bool:
    return parsed.category in _rules()["primary"]


def kind_of(item: str, parsed: ParsedItem, case_has_primary: bool) -> tuple[str, str] | None:
    """(kind, what) when the item serves another request, by its own words or, for post-operative equipment,
    because a surgery is requested with it; None otherwise."""
    r = _rules()
    if r["never"].search(item):
        return None
    primary = is_primary(parsed)
    for kind, what, pattern, overrides in r["kinds"]:
        if pattern.search(item) and (overrides or not primary):
            return kind, what
    if case_has_primary and not primary and r["with_surgery"].search(item):
        return "postoperative", "post-operative equipment"
    return None


def associations(items: list[str]) -> dict[int, Association]:
    """For each item that serves requests of the same case, what it serves; items with no primary request in the
    case are decided on their own."""
    parsed = [parse_item(i) for i in items]
    kinds = {n: kind_of(item, p, True) for n, (item, p) in enumerate(zip(items, parsed))}
    primaries = tuple(n for n, p in enumerate(parsed) if is_primary(p) and kinds[n] is None)
    if not primaries:
        return {}
    return {n: Association(index=n, kind=k[0], what=k[1], primaries=primaries) for n, k in kinds.items() if k is not None}


def drafting_order(items: list[str]) -> list[int]:
    """Item indices with every served request before the requests that serve it."""
    served = associations(items)
    return [n for n in range(len(items)) if n not in served] + sorted(served)


class Served(Protocol):
    """What the drafter knows of a served request once it is drafted."""

    item: str
    decision: str
    confidence: str


def follow_served(a: Assessment, link: Association, served: list[Served]) -> Assessment:
    """The item's assessment once the requests it serves are decided: not medically necessary when every one of them
    is not; otherwise its own assessment, with a note that it is decided on its own guideline."""
    names = " and ".join(s.item for s in served)
    if served and all(s.decision == "upheld" for s in served):
        confidence = "high" if all(s.confidence == "high" for s in served) else "medium"
        return a.model_copy(update={
            "decision": "upheld", "basis": "associated", "confidence": confidence, "criteria": [], "facts": {},
            "reasons": [f"It is {link.what} for {names}, which this review finds not medically necessary."]})
    if any(s.decision == "overturned" for s in served):
        note = f"It is {link.what} for {names}, which this review finds medically necessary: decide it on its own guideline."
        return a.model_copy(update={"reasons": a.reasons + [note]})
    return a
