"""Chunking keeps page labels, stable ids and scalar metadata."""

from __future__ import annotations

from drafter.corpus.chunks import pages_label, split_text, topic_chunks
from drafter.corpus.topics import load_topic
from tests.conftest import CORPUS, write_topic


def test_page_labels_survive_chunking(tmp_path):
    body = "Intro words about the topic. " * 10 + "\n\n## Frequency [p. 99]\n" + "Visits fade over weeks. " * 80
    path = write_topic(tmp_path, "paged", body=body)
    chunks = topic_chunks(load_topic(path), max_chars=400)
    freq = [c for c in chunks if c.metadata["heading"] == "Frequency"]
    assert len(freq) >= 3, "a long section is split into several chunks"
    assert all(c.pages == [99] and c.metadata["pages_label"] == "99" for c in freq)
    intro = [c for c in chunks if c.metadata["heading"] != "Frequency"]
    assert intro and all(c.pages == [98, 99] for c in intro)
    assert all(len(c.text) <= 400 + 80 for c in chunks)


def test_chunk_ids_are_stable_and_unique():
    topic = load_topic(CORPUS / "cpmtg" / "cpmtg-physical-medicine.md")
    a, b = topic_chunks(topic), topic_chunks(topic)
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    assert len({c.chunk_id for c in a}) == len(a)
    assert all(c.chunk_id.startswith("cpmtg-physical-medicine#s") for c in a)
    for c in a:
        assert all(isinstance(v, (str, int, float, bool)) for v in c.metadata.values())
        assert c.metadata["effective_from"] == 20090718 and c.metadata["effective_to"] == 20171130


def test_physical_medicine_visit_limits_cite_page_99():
    topic = load_topic(CORPUS / "cpmtg" / "cpmtg-physical-medicine.md")
    chunk = next(c for c in topic_chunks(topic) if "9 to 10 visits over 8 weeks" in c.text)
    assert chunk.pages == [99]


def test_pages_label_and_split_text():
    assert pages_label([98, 99]) == "98-99"
    assert pages_label([64, 41, 42]) == "41-42, 64"
    assert pages_label([]) == ""
    parts = split_text("One. " * 300, 200)
    assert len(parts) > 5 and all(len(p) <= 200 for p in parts)
    assert " ".join(parts).split() == ("One. " * 300).split()


def test_two_passages_of_one_topic_name_their_sections(tmp_path):
    from drafter.retrieval import passage_heading
    from drafter.review.ui import citation_label

    body = "Intro words about the topic. " * 6 + "\n\n## Frequency [p. 99]\n" + "Visits fade over weeks. " * 6
    topic = load_topic(write_topic(tmp_path, "paged", body=body))
    chunks = topic_chunks(topic)
    name = topic.meta.topic
    headings = [passage_heading(name, c.text) for c in chunks]
    assert headings == ["", "Frequency"]
    labels = {citation_label({"guideline": "MTUS", "edition": "2009", "topic": name, "heading": h, "pages": c.pages})
              for h, c in zip(headings, chunks)}
    assert len(labels) == 2 and any(label.endswith(f"{name}: Frequency, p. 99") for label in labels)


def test_a_citation_label_never_spans_pages_the_passage_does_not_state():
    from drafter.review.ui import citation_label

    label = citation_label({"guideline": "MTUS", "edition": "2009", "topic": "Introduction", "pages": [1, 8]})
    assert label.endswith("pp. 1, 8") and "1-8" not in label
    assert citation_label({"guideline": "MTUS", "edition": "2009", "topic": "t", "pages": [98, 99]}).endswith("pp. 98-99")
