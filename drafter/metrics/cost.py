"""Cost metrics: latency per item and tokens."""

from __future__ import annotations

from drafter.metrics import MetricResult


def latency(seconds: float) -> MetricResult:
    return MetricResult(value=seconds, reason="retrieval + criteria + generation for this item")


def tokens(prompt: int, completion: int) -> MetricResult:
    return MetricResult(value=float(prompt + completion), reason=f"{prompt} prompt + {completion} completion tokens")
