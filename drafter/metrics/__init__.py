"""Evaluation metrics, one module per family; every metric returns a value and the reason for it."""

from __future__ import annotations

from pydantic import BaseModel


class MetricResult(BaseModel):
    value: float | None
    reason: str
