"""Grounding metrics: share of draft sentences supported; citations to passages retrieval did not return."""

from __future__ import annotations

from drafter.metrics import MetricResult


def supported_share(grounded_fraction: float, dropped: int) -> MetricResult:
    return MetricResult(value=grounded_fraction, reason=f"{dropped} sentence(s) were not supported by a cited passage or the case text")


def unretrieved_citations(cited: list[str], retrieved: list[str]) -> MetricResult:
    bad = [c for c in cited if c not in set(retrieved)]
    return MetricResult(value=float(len(bad)), reason="none" if not bad else "not retrieved: " + ", ".join(bad))
