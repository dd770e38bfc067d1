"""Hybrid retrieval: dense (Chroma) + BM25 + an `applies_to` lexicon, fused by weighted reciprocal rank.

Every hit carries a stable citation key (guideline, edition, topic, pages, chunk id). A request date
keeps only the guideline editions in force on that date.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Callable, Literal

from rank_bm25 import BM25Okapi
from rapidfuzz import fuzz

from drafter.corpus.chunks import Chunk, date_int
from drafter.errors import QueryError
from drafter.index import GuidelineIndex
from drafter.settings import RetrievalSettings

Mode = Literal["hybrid", "dense", "bm25"]

_STOP = frozenset(
    "a an and are as at be by for from in into is it of on or per the to with w wo without x "
    "request requested requests retrospective prospective dos date".split()
)
_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stop words; a light plural fold ('injections' -> 'injection')."""
    out = []
    for t in _TOKEN.findall(text.lower()):
        if t in _STOP:
            continue
        if len(t) > 4 and t.endswith("s") and not t.endswith("ss"):
            t = t[:-1]
        out.append(t)
    return out


def _singular(token: str) -> str:
    """"patches" -> "patch", "visits" -> "visit": a request's plural names the topic's singular term. Short words
    keep their s ("TENS" is not "ten")."""
    if len(token) < 5 or token.endswith(("ss", "us", "is")) or not token.endswith("s"):
        return token
    return token[:-2] if token.endswith(("ches", "shes", "xes", "sses")) else token[:-1]


def normalize(text: str) -> str:
    return " " + " ".join(_singular(t) for t in _TOKEN.findall(text.lower())) + " "


@dataclass
class Hit:
    """One retrieved passage with its citation key and the ranks each ranker gave it."""

    chunk_id: str
    guideline: str
    edition: str
    topic: str
    topic_id: str
    pages: list[int]
    pages_label: str
    score: float
    text: str
    ranks: dict[str, int] = field(default_factory=dict)
    category: str = ""

    def to_json(self) -> dict:
        d = asdict(self)
        out = {k: d[k] for k in ("chunk_id", "guideline", "edition", "topic", "topic_id", "pages", "pages_label", "score", "text", "ranks")}
        return out | {"heading": self.heading}

    @property
    def heading(self) -> str:
        """The passage's section heading ("Number of visits"), or "" for a topic's one untitled section."""
        return passage_heading(self.topic, self.text)

    @property
    def citation(self) -> str:
        where = f", page{'s' if len(self.pages) > 1 else ''} {self.pages_label}" if self.pages_label else ""
        return f"{self.guideline} ({self.edition}), {self.topic}{where}"


def passage_heading(topic: str, text: str) -> str:
    """The heading in a passage's title line ("Physical medicine: Number of visits"), "" when it is the topic itself."""
    title = text.split("\n", 1)[0]
    prefix = f"{topic}: "
    return title[len(prefix):].strip() if title.startswith(prefix) else ""


@dataclass(frozen=True)
class LexiconMatch:
    topic_id: str
    term: str
    strength: float


def _within(words: list[str], longer: list[str]) -> bool:
    """`words` in order inside `longer` ("epidural injection" inside "cervical epidural steroid injection")."""
    it = iter(longer)
    return len(words) < len(longer) and all(w in it for w in words)


class Lexicon:
    """Maps the words requests use (`applies_to`, topic titles) to topics; tolerant of small typos."""

    def __init__(self, chunks: list[Chunk], max_topics_per_term: int = 3) -> None:
        terms: dict[str, set[str]] = defaultdict(set)
        for c in chunks:
            tid = str(c.metadata.get("topic_id", ""))
            for raw in str(c.metadata.get("applies_to", "")).split(";"):
                if raw.strip():
                    terms[raw.strip()].add(tid)
        self.terms = {t: ids for t, ids in terms.items() if len(ids) <= max_topics_per_term}
        self._norm = {t: normalize(t) for t in self.terms}
        self._single = {t: n.strip() for t, n in self._norm.items() if " " not in n.strip() and len(n.strip()) >= 5}

    def match(self, query: str, in_force: Callable[[str], bool] | None = None) -> list[LexiconMatch]:
        """Topics named by the query, strongest (longest, exact) first; with `in_force`, only topics it accepts."""
        q = normalize(query)
        q_tokens = set(q.split())
        found: list[tuple[str, str, float]] = []  # (term, its words, strength)
        for term, n in self._norm.items():
            core = n.strip()
            if not core:
                continue
            strength = 0.0
            if len(core) <= 2:
                if re.search(rf"(?<![A-Za-z0-9]){re.escape(term)}(?![A-Za-z0-9])", query):
                    strength = len(core) + 1.0
            elif n in q:
                strength = len(core) + 1.0
            elif " " in core and self._gapped(core.split(), q):
                strength = len(core) * 0.8
            elif term in self._single:
                ratio = max((fuzz.ratio(core, tok) for tok in q_tokens if abs(len(tok) - len(core)) <= 2), default=0)
                if ratio >= 85:
                    strength = len(core) * ratio / 100
            if strength:
                found.append((term, core, strength))
        # the longest term names the request: "epidural steroid injection" inside "cervical epidural steroid injection"
        # does not also name the low back chapter. Only where the two name different topics in force: "Norco" inside
        # "Norco 10/325" still names every topic it lists, as the longer term agrees on one of them.
        live = {t: {tid for tid in self.terms[t] if in_force is None or in_force(tid)} for t, _, _ in found}
        found = [(t, c, st) for t, c, st in found if live[t]]
        best: dict[str, LexiconMatch] = {}
        for term, core, strength in found:
            if any(core != other and _within(core.split(), other.split()) and not live[term] & live[longer]
                   for longer, other, _ in found):
                continue
            for tid in sorted(live[term]):  # a set follows the hash seed; sorted, ties resolve alike in every process
                if tid not in best or best[tid].strength < strength:
                    best[tid] = LexiconMatch(tid, term, strength)
        return sorted(best.values(), key=lambda m: -m.strength)

    @staticmethod
    def _gapped(term: list[str], q: str, max_gap: int = 2) -> bool:
        """All words of a multi-word term, in order, with at most `max_gap` other words between neighbours
        ("MRI left knee" names "MRI knee")."""
        words = q.split()
        for start, w in enumerate(words):
            if w != term[0]:
                continue
            pos, ok = start, True
            for t in term[1:]:
                window = words[pos + 1 : pos + 2 + max_gap]
                if t not in window:
                    ok = False
                    break
                pos = pos + 1 + window.index(t)
            if ok:
                return True
        return False


class HybridRetriever:
    """Answers queries over a GuidelineIndex. Build once; each query then costs milliseconds."""

    def __init__(self, index: GuidelineIndex, settings: RetrievalSettings) -> None:
        self.index = index
        self.settings = settings
        self.chunks = index.all_chunks()
        self.by_id = {c.chunk_id: c for c in self.chunks}
        self.lexicon = Lexicon(self.chunks)
        self.topic_titles = {str(c.metadata["topic_id"]): str(c.metadata.get("topic", "")) for c in self.chunks}
        self._topic_chunks: dict[str, list[str]] = defaultdict(list)
        for c in self.chunks:
            self._topic_chunks[str(c.metadata["topic_id"])].append(c.chunk_id)
        docs = [tokenize(f"{c.text} {c.metadata.get('topic', '')} {c.metadata.get('applies_to', '')}") for c in self.chunks]
        self._bm25_index = BM25Okapi(docs) if docs else None
        self.last_timings: dict[str, float] = {}
        self._vectors: dict[str, list[float]] = {}

    # -- filters -------------------------------------------------------------------------
    @staticmethod
    def _where(date: dt.date | None, filters: dict[str, str] | None) -> dict | None:
        conds: list[dict] = []
        if date is not None:
            d = date_int(date)
            conds += [{"effective_from": {"$lte": d}}, {"effective_to": {"$gte": d}}]
        for k, v in (filters or {}).items():
            conds.append({k: {"$eq": v}})
        if not conds:
            return None
        return conds[0] if len(conds) == 1 else {"$and": conds}

    @staticmethod
    def _passes(c: Chunk, date: dt.date | None, filters: dict[str, str] | None) -> bool:
        if date is not None:
            d = date_int(date)
            if not (int(c.metadata["effective_from"]) <= d <= int(c.metadata["effective_to"])):
                return False
        return all(str(c.metadata.get(k)) == str(v) for k, v in (filters or {}).items())

    # -- rankers -------------------------------------------------------------------------
    def _embed(self, text: str) -> list[float]:
        """Query vectors, cached: a draft searches the same item text several times (per governing topic)."""
        vec = self._vectors.get(text)
        if vec is None:
            if len(self._vectors) >= 512:
                self._vectors.clear()
            vec = self._vectors[text] = self.index.embeddings.embed_query(text)
        return vec

    def clear_cache(self) -> None:
        self._vectors.clear()

    def _dense(self, text: str, n: int, date: dt.date | None, filters: dict[str, str] | None) -> list[str]:
        vec = self._embed(text)
        return [cid for cid, _ in self.index.dense_search(vec, n, self._where(date, filters))]

    def _bm25(self, text: str, n: int, date: dt.date | None, filters: dict[str, str] | None) -> list[str]:
        tokens = tokenize(text)
        if not tokens or self._bm25_index is None:
            return []
        scores = self._bm25_index.get_scores(tokens)
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        out = []
        for i in order:
            if scores[i] <= 0 or len(out) >= n:
                break
            if self._passes(self.chunks[i], date, filters):
                out.append(self.chunks[i].chunk_id)
        return out

    def expand(self, query: str, date: dt.date | None = None) -> tuple[str, list[LexiconMatch]]:
        """The query plus the titles of topics it names (only topics in force on `date`)."""
        matches = self.lexicon.match(
            query, None if date is None else lambda tid: any(self._passes(self.by_id[c], date, None) for c in self._topic_chunks[tid][:1]))
        titles = list(dict.fromkeys(self.topic_titles[m.topic_id] for m in matches[:3]))
        return (f"{query} ({'; '.join(titles)})" if titles else query), matches

    # -- public --------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        date: dt.date | None = None,
        filters: dict[str, str] | None = None,
        mode: Mode = "hybrid",
        per_topic: int | None = None,
    ) -> list[Hit]:
        query = check_query(query, self.settings.max_query_chars)
        s = self.settings
        k = k or s.k
        n = max(s.candidates, k * 3)
        t0 = time.perf_counter()
        lex: list[LexiconMatch] = []
        text = query
        if mode == "hybrid":
            text, lex = self.expand(query, date)
        t1 = time.perf_counter()
        dense = self._dense(text, n, date, filters) if mode in ("hybrid", "dense") else []
        t2 = time.perf_counter()
        bm25 = self._bm25(text, n, date, filters) if mode in ("hybrid", "bm25") else []
        t3 = time.perf_counter()

        scores: dict[str, float] = defaultdict(float)
        ranks: dict[str, dict[str, int]] = defaultdict(dict)
        for name, ranked, w in (("dense", dense, s.dense_weight), ("bm25", bm25, s.bm25_weight)):
            for r, cid in enumerate(ranked, 1):
                scores[cid] += w / (s.rrf_k + r)
                ranks[cid][name] = r
        allowed = set(scores)
        for r, m in enumerate(lex, 1):
            for cid in self._topic_chunks[m.topic_id]:
                if cid in allowed or self._passes(self.by_id[cid], date, filters):
                    scores[cid] += s.lexicon_weight / (s.rrf_k + r)
                    ranks[cid]["lexicon"] = r
        ordered = sorted(scores, key=lambda c: (-scores[c], c))
        hits: list[Hit] = []
        seen_per_topic: dict[str, int] = defaultdict(int)
        for cid in ordered:
            c = self.by_id[cid]
            tid = str(c.metadata["topic_id"])
            if seen_per_topic[tid] >= (per_topic or s.per_topic):
                continue
            seen_per_topic[tid] += 1
            hits.append(self._hit(c, scores[cid], ranks[cid]))
            if len(hits) >= k:
                break
        self.last_timings = {"expand": t1 - t0, "dense": t2 - t1, "bm25": t3 - t2, "total": time.perf_counter() - t0}
        return hits

    def hit(self, chunk_id: str) -> Hit:
        """The indexed chunk as a Hit with no score (a passage an earlier search returned, cited again)."""
        return self._hit(self.by_id[chunk_id], 0.0, {})

    @staticmethod
    def _hit(c: Chunk, score: float, ranks: dict[str, int]) -> Hit:
        m = c.metadata
        return Hit(
            chunk_id=c.chunk_id,
            guideline=str(m.get("guideline", "")),
            edition=str(m.get("edition", "")),
            topic=str(m.get("topic", "")),
            topic_id=str(m.get("topic_id", "")),
            pages=c.pages,
            pages_label=str(m.get("pages_label", "")),
            score=round(score, 6),
            text=c.text,
            ranks=dict(ranks),
            category=str(m.get("category", "")),
        )


def check_query(query: str, max_chars: int) -> str:
    """The stripped query, or a QueryError saying what to give instead."""
    q = (query or "").strip()
    if not q:
        raise QueryError("The query is empty. Give the disputed item, e.g. 'Physical therapy 2x6 lumbar spine'.")
    if len(q) > max_chars:
        raise QueryError(
            f"The query is {len(q)} characters; the limit is {max_chars} "
            "(DRAFTER_RETRIEVAL__MAX_QUERY_CHARS). Search for one disputed item at a time."
        )
    return q


def parse_date(value: str | None) -> dt.date | None:
    """'YYYY-MM-DD' -> date, with an error that says the format."""
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise QueryError(f"Date {value!r} is not YYYY-MM-DD.") from exc
