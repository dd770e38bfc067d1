"""Fusion, lexicon expansion, date filtering and query checks, on a small in-memory index."""

from __future__ import annotations

import datetime as dt

import pytest

from drafter.corpus.chunks import Chunk
from drafter.errors import QueryError
from drafter.retrieval import HybridRetriever, Lexicon, check_query, parse_date, tokenize
from drafter.settings import RetrievalSettings


def chunk(cid: str, topic_id: str, text: str, applies: str = "", start: int = 20090718, end: int = 20171130) -> Chunk:
    return Chunk(cid, text, {
        "topic_id": topic_id, "topic": topic_id.replace("-", " "), "guideline": "G", "edition": "2009",
        "applies_to": applies, "effective_from": start, "effective_to": end, "pages": "99", "pages_label": "99",
    })


def _match(meta: dict, where: dict | None) -> bool:
    if not where:
        return True
    if "$and" in where:
        return all(_match(meta, w) for w in where["$and"])
    (key, cond), = where.items()
    (op, val), = cond.items()
    return {"$lte": meta[key] <= val, "$gte": meta[key] >= val, "$eq": meta[key] == val}[op]


class FakeEmbeddings:
    def embed_query(self, text: str) -> str:
        return text


class FakeIndex:
    """Dense ranking = a fixed order given by the test (or word overlap), filtered like Chroma's `where`."""

    def __init__(self, chunks: list[Chunk], dense_order: list[str] | None = None) -> None:
        self.chunks = chunks
        self.dense_order = dense_order
        self.embeddings = FakeEmbeddings()
        self.wheres: list = []

    def all_chunks(self) -> list[Chunk]:
        return list(self.chunks)

    def dense_search(self, vector: str, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        self.wheres.append(where)
        if self.dense_order is not None:
            order = self.dense_order
        else:
            q = set(tokenize(vector))
            order = [c.chunk_id for c in sorted(self.chunks, key=lambda c: -len(q & set(tokenize(c.text))))]
        by_id = {c.chunk_id: c for c in self.chunks}
        return [(cid, 1.0) for cid in order if _match(by_id[cid].metadata, where)][:n]


CHUNKS = [
    chunk("pt#s0", "physical-medicine", "Physical medicine visits fade to home exercise; 9-10 visits over 8 weeks.", "physical therapy; PT"),
    chunk("chiro#s0", "manipulation", "Manual therapy and manipulation: trial of 6 visits over 2 weeks.", "chiropractic; manipulation"),
    chunk("soma#s0", "carisoprodol", "Carisoprodol is not recommended and is not for long-term use.", "Soma; carisoprodol"),
    chunk("flex#s0", "cyclobenzaprine", "Cyclobenzaprine: a short course of therapy is recommended.", "Flexeril; cyclobenzaprine"),
    chunk("opi#s0", "opioids-2017", "Opioids for chronic pain: caution above 50 MME per day.", "Norco; opioids", 20171201, 99991231),
    chunk("opi-old#s0", "opioids-2009", "Opioids: 120 mg morphine equivalent ceiling per day.", "Norco; opioids"),
]


def retriever(dense_order=None, **overrides) -> HybridRetriever:
    return HybridRetriever(FakeIndex(CHUNKS, dense_order), RetrievalSettings(**overrides))


def test_rrf_rewards_agreement_between_rankers():
    # dense ranks soma first and pt second; BM25 ranks pt first and never sees soma.
    r = retriever(dense_order=["soma#s0", "pt#s0", "chiro#s0", "flex#s0", "opi-old#s0", "opi#s0"], lexicon_weight=0)
    hits = r.search("home exercise visits fade", k=3)
    assert hits[0].chunk_id == "pt#s0"
    assert hits[0].ranks["dense"] == 2 and hits[0].ranks["bm25"] == 1
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_weights_change_the_order():
    order = ["soma#s0", "pt#s0", "chiro#s0", "flex#s0", "opi-old#s0", "opi#s0"]
    dense_only_weight = retriever(dense_order=order, bm25_weight=0.0, lexicon_weight=0).search("home exercise visits fade", k=1)
    assert dense_only_weight[0].chunk_id == "soma#s0"


def test_modes_are_pure_baselines():
    r = retriever(dense_order=["chiro#s0", "pt#s0", "soma#s0", "flex#s0", "opi-old#s0", "opi#s0"])
    assert set(r.search("Soma 350mg #60", mode="dense")[0].ranks) == {"dense"}
    assert set(r.search("Soma 350mg #60", mode="bm25")[0].ranks) == {"bm25"}


def test_brand_name_reaches_topic_through_lexicon():
    r = retriever(dense_order=["pt#s0", "chiro#s0", "flex#s0", "opi-old#s0", "opi#s0", "soma#s0"])
    hits = r.search("Soma 350mg #60", k=2, mode="hybrid")
    assert hits[0].topic_id == "carisoprodol" and hits[0].ranks["lexicon"] == 1


def test_lexicon_tolerates_typos_and_respects_short_abbreviation_case():
    lex = Lexicon(CHUNKS)
    assert lex.match("Cyclobenzeprine 7.5mg #90")[0].topic_id == "cyclobenzaprine"
    assert lex.match("PT 2x6 lumbar")[0].topic_id == "physical-medicine"
    assert not any(m.topic_id == "physical-medicine" for m in lex.match("pt reports pain"))


def test_a_plural_request_names_the_topics_singular_term_but_tens_is_not_ten():
    """'Lidocaine 5% patches #30' named no topic (its terms say 'patch'), so a 2018 request went to the reviewer as
    if no MTUS topic governed it (fresh9 dev letter i26)."""
    lex = Lexicon([*CHUNKS, chunk("lido#s0", "lidocaine", "Topical lidocaine for neuropathic pain.", "lidocaine 5% patch; Lidoderm"),
                   chunk("tens#s0", "tens", "TENS: a one-month trial.", "TENS")])
    assert lex.match("Lidocaine 5% patches #30")[0].topic_id == "lidocaine"
    assert lex.match("Chiropractic manipulation x 8 sessions")[0].topic_id == "manipulation"
    assert lex.match("TENS unit purchase")[0].topic_id == "tens"
    assert not any(m.topic_id == "tens" for m in lex.match("ten sessions of physical therapy"))


def test_expansion_adds_named_topic_titles():
    r = retriever()
    text, matches = r.expand("Flexeril 10 mg")
    assert matches[0].topic_id == "cyclobenzaprine" and "cyclobenzaprine" in text


def test_request_date_selects_the_edition_in_force():
    r = retriever()
    old = {h.topic_id for h in r.search("Norco opioids", k=6, date=dt.date(2015, 3, 1))}
    new = {h.topic_id for h in r.search("Norco opioids", k=6, date=dt.date(2019, 3, 1))}
    assert "opioids-2009" in old and "opioids-2017" not in old
    assert new == {"opioids-2017"}
    assert r.index.wheres[-1] == {"$and": [{"effective_from": {"$lte": 20190301}}, {"effective_to": {"$gte": 20190301}}]}


def test_one_hit_per_topic_by_default():
    chunks = CHUNKS + [chunk("pt#s1", "physical-medicine", "Physical medicine visits for radiculitis 8-10 visits.", "physical therapy")]
    r = HybridRetriever(FakeIndex(chunks), RetrievalSettings())
    ids = [h.topic_id for h in r.search("physical medicine visits", k=5)]
    assert len(ids) == len(set(ids))
    r2 = HybridRetriever(FakeIndex(chunks), RetrievalSettings(per_topic=2))
    assert [h.topic_id for h in r2.search("physical medicine visits", k=2)] == ["physical-medicine"] * 2


def test_metadata_filters_apply_to_every_ranker():
    r = retriever()
    hits = r.search("visits", k=5, filters={"topic_id": "manipulation"})
    assert {h.topic_id for h in hits} == {"manipulation"}


@pytest.mark.parametrize("q", ["", "   ", "\n"])
def test_empty_query_is_a_clear_error(q):
    with pytest.raises(QueryError, match="empty"):
        check_query(q, 100)


def test_overlong_query_is_a_clear_error():
    with pytest.raises(QueryError, match="limit is 50"):
        retriever(max_query_chars=50).search("x" * 51)


def test_bad_date_is_a_clear_error():
    with pytest.raises(QueryError, match="YYYY-MM-DD"):
        parse_date("03/01/2015")
    assert parse_date(None) is None and parse_date("2015-03-01") == dt.date(2015, 3, 1)


def test_citation_string():
    hit = retriever().search("Soma", k=1)[0]
    assert hit.citation == "G (2009), carisoprodol, page 99"


def test_the_longest_term_in_force_names_the_request():
    """fresh14 dev n26: a 2024 "Transforaminal epidural steroid injection left L4-L5" named no topic in force (the low
    back chapter listed only "lumbar epidural steroid injection"); once it lists the plain term, a cervical request must
    still go to the neck chapter, and a 2014 one to the 2009 topic the longer neck term does not name."""
    far = 20991231
    esi_2009 = chunk("esi#s0", "esi-2009", "ESI 2009.", "epidural steroid injection; cervical epidural steroid injection")
    back = chunk("back#s0", "low-back", "Low back.", "epidural steroid injection; epidural injection", start=20171201, end=far)
    neck = chunk("neck#s0", "neck", "Neck.", "cervical epidural steroid injection; epidural steroid injection C6", start=20171201, end=far)
    lex = Lexicon([esi_2009, back, neck])
    in_2019 = lambda tid: tid != "esi-2009"  # noqa: E731
    in_2014 = lambda tid: tid == "esi-2009"  # noqa: E731
    assert [m.topic_id for m in lex.match("Cervical epidural steroid injection C5-C6", in_2019)] == ["neck"]
    assert [m.topic_id for m in lex.match("Epidural steroid injection C6-C7", in_2019)] == ["neck"]
    assert [m.topic_id for m in lex.match("Epidural steroid injection C6-C7", in_2014)] == ["esi-2009"]
    assert [m.topic_id for m in lex.match("Transforaminal epidural steroid injection left L4-L5", in_2019)] == ["low-back"]
