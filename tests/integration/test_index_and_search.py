"""Real embeddings + real Chroma: retrieval quality smoke checks, edition filter, incremental sync, bad input."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess

import pytest

from drafter.errors import CorpusError, IngestError
from drafter.index import GuidelineIndex
from drafter.ingest import ingest_corpus, ingest_pdf
from drafter.retrieval import HybridRetriever
from tests.conftest import write_topic
from tests.integration.conftest import VENV_BIN, make_settings
from tests.pdf_factory import scanned_pdf, text_pdf

pytestmark = pytest.mark.integration

CASES = [
    ("Additional physical therapy 3 x 4 to the cervical/thoracic/lumbar spine", "2015-02-10", "cpmtg-physical-medicine"),
    ("Norco 10/325mg #120", "2014-08-01", "cpmtg-hydrocodone-acetaminophen"),
    ("Soma 350mg #60", "2014-05-20", "cpmtg-carisoprodol"),
    ("MRI lumbar spine w/o contrast", "2015-09-03", "acoem2004-low-back-imaging"),
    ("Lidoderm 5% patch #30", "2016-01-12", "cpmtg-lidocaine-patch"),
    ("TENS unit purchase", "2014-11-11", "cpmtg-tens"),
]


@pytest.mark.parametrize("query,date,topic", CASES)
def test_governing_topic_is_in_top_five(retriever, query, date, topic):
    hits = retriever.search(query, k=5, date=dt.date.fromisoformat(date))
    assert topic in [h.topic_id for h in hits], [h.topic_id for h in hits]
    for h in hits:
        assert h.chunk_id in retriever.by_id and h.text == retriever.by_id[h.chunk_id].text


def test_hits_carry_citation_keys_with_real_pages(retriever):
    hit = next(h for h in retriever.search("Soma 350mg #60", date=dt.date(2014, 5, 20)) if h.topic_id == "cpmtg-carisoprodol")
    assert hit.guideline == "MTUS Chronic Pain Medical Treatment Guidelines" and hit.edition == "2009"
    assert 29 in hit.pages and hit.pages_label


def test_request_date_switches_edition(retriever):
    old = retriever.search("Norco 10/325mg #120", k=8, date=dt.date(2015, 1, 5))
    new = retriever.search("Norco 10/325mg #120", k=8, date=dt.date(2019, 1, 5))
    assert all(h.edition == "2009" or h.guideline.startswith("ACOEM Practice") or "Acupuncture" in h.guideline or "Postsurgical" in h.guideline or "General" in h.guideline for h in old)
    assert not any(h.guideline == "MTUS Chronic Pain Medical Treatment Guidelines" for h in new)
    assert any(h.topic_id == "acoem-mtus-opioids-2017" for h in new)


def test_resync_embeds_only_what_changed_and_bad_files_change_nothing(tmp_path, small_corpus, embeddings):
    settings = make_settings(tmp_path / "home")
    index = GuidelineIndex(settings, embeddings)
    first = ingest_corpus(index, small_corpus)
    assert len(first.added_topics) == 5
    count = index.count()
    assert ingest_corpus(index, small_corpus).chunks_embedded == 0

    tens = small_corpus / "cpmtg-tens.md"
    tens.write_text(tens.read_text() + "\nAn added sentence about the one-month home trial.\n")
    second = ingest_corpus(index, small_corpus)
    assert second.updated_topics == ["cpmtg-tens"] and second.unchanged_topics == 4

    write_topic(small_corpus, "broken-topic", replace={"category: rehabilitation": "category: astrology"})
    before = index.count()
    with pytest.raises(CorpusError, match=r"broken-topic\.md.*category"):
        ingest_corpus(index, small_corpus)
    assert index.count() == before

    (small_corpus / "broken-topic.md").unlink()
    (small_corpus / "cpmtg-drug-testing.md").unlink()
    third = ingest_corpus(index, small_corpus)
    assert third.removed_topics == ["cpmtg-drug-testing"]
    assert index.count() < count + 5


def test_pdf_ingest_cites_printed_pages_and_scans_change_nothing(tmp_path, small_corpus, embeddings):
    settings = make_settings(tmp_path / "home")
    index = GuidelineIndex(settings, embeddings)
    ingest_corpus(index, small_corpus)
    before = index.count()
    with pytest.raises(IngestError, match="no text layer"):
        ingest_pdf(index, scanned_pdf(tmp_path / "scan.pdf"), "MTUS Chronic Pain Medical Treatment Guidelines", "2009")
    assert index.count() == before

    pages = [
        "Opioids, dosing. Total daily dose above 120 mg oral morphine equivalents is not recommended.",
        "Physical medicine. Myalgia and myositis 9-10 visits over 8 weeks.",
    ]
    pdf = text_pdf(tmp_path / "cpmtg.pdf", pages, first_printed=86)
    report = ingest_pdf(index, pdf, "MTUS Chronic Pain Medical Treatment Guidelines (official PDF)", "2009",
                        dt.date(2009, 7, 18), dt.date(2017, 11, 30))
    assert report.chunks_embedded == 2 and index.count() == before + 2
    assert ingest_pdf(index, pdf, "MTUS Chronic Pain Medical Treatment Guidelines (official PDF)", "2009",
                      dt.date(2009, 7, 18), dt.date(2017, 11, 30)).chunks_embedded == 0
    assert ingest_corpus(index, small_corpus).removed_topics == [], "syncing the corpus must keep user PDFs"

    r = HybridRetriever(index, settings.retrieval)
    hits = r.search("morphine equivalents 120 mg ceiling", k=3, date=dt.date(2015, 1, 1),
                    filters={"source_kind": "pdf"})
    assert hits[0].pages == [86] and hits[0].pages_label == "86"


def test_chroma_server_mode_gives_the_same_answers(chroma_server, built_home, retriever, embeddings, tmp_path):
    settings = make_settings(tmp_path / "home", chroma_url=chroma_server)
    index = GuidelineIndex(settings, embeddings)
    assert type(index.client).__name__ != "PersistentClient" and not (tmp_path / "home" / "index").exists()
    ingest_corpus(index)
    assert index.count() == retriever.index.count()
    remote = HybridRetriever(index, settings.retrieval)
    for query, date, topic in CASES:
        d = dt.date.fromisoformat(date)
        here = [h.chunk_id for h in retriever.search(query, date=d)]
        there = [h.chunk_id for h in remote.search(query, date=d)]
        assert here == there, query
    assert ingest_corpus(index).chunks_embedded == 0


def _cli(home, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAFTER_")}
    env["DRAFTER_HOME"] = str(home)
    return subprocess.run([str(VENV_BIN / "imr-drafter"), *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_cli_search_json_and_batch(built_home, tmp_path):
    out = _cli(built_home, "search", "Soma 350mg #60", "--date", "2014-05-20", "--k", "3", "--json")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert len(hits) == 3
    assert set(hits[0]) >= {"chunk_id", "guideline", "edition", "topic", "pages", "score", "text"}
    assert "cpmtg-carisoprodol" in [h["topic_id"] for h in hits]

    qfile = tmp_path / "q.txt"
    qfile.write_text("Soma 350mg #60\n\nTENS unit purchase\nMRI lumbar spine\n")
    out = _cli(built_home, "search", "--queries", str(qfile), "--json", "--date", "2015-01-01")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert [x["query"] for x in lines] == ["Soma 350mg #60", "TENS unit purchase", "MRI lumbar spine"]
    assert all(len(x["hits"]) == 5 for x in lines)


def test_dead_chroma_server_is_a_clear_error(tmp_path):
    out = _cli(tmp_path / "home", "search", "PT", "--json", timeout=120)
    # a fresh home builds the index on first use and then answers
    assert out.returncode == 0 and json.loads(out.stdout)
    env_out = subprocess.run(
        [str(VENV_BIN / "imr-drafter"), "search", "PT"], capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("DRAFTER_")},
             "DRAFTER_HOME": str(tmp_path / "h2"), "DRAFTER_CHROMA_URL": "http://127.0.0.1:9"},
    )
    assert env_out.returncode == 2 and "Chroma server" in env_out.stderr and "Traceback" not in env_out.stderr
