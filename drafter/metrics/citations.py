"""Citation metrics: precision and recall against the letter's cited guideline pages, and at topic level."""

from __future__ import annotations

from drafter.citations import NormCitation
from drafter.metrics import MetricResult


def page_keys(cites: list[NormCitation]) -> set[tuple[str, int]]:
    return {(c.guideline, p) for c in cites for p in c.pages}


def precision_recall(gold: set, draft: set, what: str) -> tuple[MetricResult, MetricResult]:
    hit = gold & draft
    p = MetricResult(value=len(hit) / len(draft) if draft else None,
                     reason=f"{len(hit)} of {len(draft)} drafted {what} are in the letter" if draft else f"the draft cites no {what}")
    r = MetricResult(value=len(hit) / len(gold) if gold else None,
                     reason=f"{len(hit)} of {len(gold)} letter {what} are in the draft" + (f" (missing {sorted(gold - draft)[:5]})" if gold - draft else "")
                     if gold else f"the letter cites no {what}")
    return p, r
