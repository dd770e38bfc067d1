"""Chunks: the passages that are indexed, retrieved and cited, each with a stable citation key."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from drafter.corpus.topics import Topic

FAR_FUTURE = 99991231


def date_int(d: dt.date | None) -> int:
    """Dates as YYYYMMDD integers, so Chroma can range-filter them; None means 'still in force'."""
    return FAR_FUTURE if d is None else d.year * 10000 + d.month * 100 + d.day


def pages_label(pages: tuple[int, ...] | list[int]) -> str:
    """(98, 99) -> '98-99'; (41, 42, 64) -> '41-42, 64'."""
    ps = sorted(set(pages))
    runs: list[str] = []
    i = 0
    while i < len(ps):
        j = i
        while j + 1 < len(ps) and ps[j + 1] == ps[j] + 1:
            j += 1
        runs.append(str(ps[i]) if i == j else f"{ps[i]}-{ps[j]}")
        i = j + 1
    return ", ".join(runs)


@dataclass(frozen=True)
class Chunk:
    """One citable passage. `metadata` holds only scalars (Chroma's rule)."""

    chunk_id: str
    text: str
    metadata: dict[str, str | int | float | bool] = field(default_factory=dict)

    @property
    def pages(self) -> list[int]:
        raw = str(self.metadata.get("pages", ""))
        return [int(p) for p in raw.split(",") if p.strip().isdigit()]


def split_text(text: str, max_chars: int) -> list[str]:
    """Split at paragraph, then sentence boundaries so no piece exceeds max_chars (unless one sentence does)."""
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    buf = ""
    units: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        if len(para) <= max_chars:
            units.append(para)
        else:
            units.extend(s for s in re.split(r"(?<=[.;:])\s+", para) if s)
    for u in units:
        if buf and len(buf) + len(u) + 2 > max_chars:
            pieces.append(buf)
            buf = u
        else:
            buf = f"{buf}\n\n{u}" if buf else u
    if buf:
        pieces.append(buf)
    return pieces


def topic_chunks(topic: Topic, max_chars: int = 900) -> list[Chunk]:
    """Chunks of one topic: a section (or part of one) each, carrying the section's printed pages."""
    m = topic.meta
    base = {
        "topic_id": m.id,
        "guideline": m.guideline.value,
        "edition": m.edition,
        "regulation": m.regulation,
        "section": m.section or "",
        "topic": m.topic,
        "category": m.category.value,
        "recommendation": m.recommendation.value,
        "effective_from": date_int(m.effective_from),
        "effective_to": date_int(m.effective_to),
        "applies_to": "; ".join(m.applies_to),
        "content_hash": topic.content_hash,
        "source_kind": "corpus",
        "source": str(topic.path.name),
    }
    out: list[Chunk] = []
    for si, sec in enumerate(topic.sections):
        parts = split_text(sec.text, max_chars)
        for pi, part in enumerate(parts):
            cid = f"{m.id}#s{si}" + (f".{pi}" if len(parts) > 1 else "")
            heading = sec.heading or m.topic
            meta = dict(base, heading=heading, pages=",".join(map(str, sec.pages)), pages_label=pages_label(sec.pages))
            title = m.topic if heading.lower() in m.topic.lower() else f"{m.topic}: {heading}"
            out.append(Chunk(cid, f"{title}\n{part}", meta))
    return out
