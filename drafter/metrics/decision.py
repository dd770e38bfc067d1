"""Decision metrics: per item agreement; accuracy, macro-F1, Cohen's kappa, overturn recall, confusion."""

from __future__ import annotations

from collections import Counter

from drafter.metrics import MetricResult

LABELS = ("upheld", "overturned", "needs_review")


def item_decision(gold: str, draft: str) -> MetricResult:
    ok = gold == draft
    return MetricResult(value=1.0 if ok else 0.0, reason=f"letter {gold}, draft {draft}")


def confusion(pairs: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """confusion[gold][draft] counts."""
    m = {g: {d: 0 for d in LABELS} for g in LABELS}
    for g, d in pairs:
        m[g][d] += 1
    return m


def accuracy(pairs: list[tuple[str, str]]) -> MetricResult:
    if not pairs:
        return MetricResult(value=None, reason="no items")
    right = sum(g == d for g, d in pairs)
    return MetricResult(value=right / len(pairs), reason=f"{right} of {len(pairs)} items match the letter")


def macro_f1(pairs: list[tuple[str, str]]) -> MetricResult:
    """Mean F1 over the letters' classes (upheld, overturned); needs_review counts as a wrong answer."""
    classes = sorted({g for g, _ in pairs} & {"upheld", "overturned"})
    if not classes:
        return MetricResult(value=None, reason="no upheld or overturned items")
    parts = []
    f1s = []
    for c in classes:
        tp = sum(g == c and d == c for g, d in pairs)
        fp = sum(g != c and d == c for g, d in pairs)
        fn = sum(g == c and d != c for g, d in pairs)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        f1s.append(f1)
        parts.append(f"{c} F1 {f1:.3f}")
    return MetricResult(value=sum(f1s) / len(f1s), reason="; ".join(parts))


def cohen_kappa(pairs: list[tuple[str, str]]) -> MetricResult:
    n = len(pairs)
    if not n:
        return MetricResult(value=None, reason="no items")
    po = sum(g == d for g, d in pairs) / n
    cg, cd = Counter(g for g, _ in pairs), Counter(d for _, d in pairs)
    pe = sum(cg[k] * cd[k] for k in set(cg) | set(cd)) / (n * n)
    if pe == 1:
        return MetricResult(value=1.0 if po == 1 else 0.0, reason="all labels in one class: kappa is degenerate")
    k = (po - pe) / (1 - pe)
    return MetricResult(value=k, reason=f"observed agreement {po:.3f}, chance agreement {pe:.3f}")


def overturn_recall(pairs: list[tuple[str, str]]) -> MetricResult:
    gold = [(g, d) for g, d in pairs if g == "overturned"]
    if not gold:
        return MetricResult(value=None, reason="no overturned items in the letters")
    hit = sum(d == "overturned" for _, d in gold)
    return MetricResult(value=hit / len(gold), reason=f"{hit} of {len(gold)} overturned items drafted as overturned")
