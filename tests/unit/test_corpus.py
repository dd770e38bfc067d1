"""Every bundled topic file validates; malformed ones fail naming the file and field."""

from __future__ import annotations

from collections import Counter

import pytest

from drafter.corpus.schema import FACTS, Category, Guideline
from drafter.corpus.topics import load_corpus, load_topic, parse_pages, split_sections
from drafter.errors import CorpusError
from tests.conftest import CORPUS, write_topic


@pytest.fixture(scope="module")
def topics():
    return load_corpus(CORPUS)


def test_bundled_corpus_is_valid_and_large_enough(topics):
    assert len(topics) >= 80


def test_every_cwci_category_has_topics(topics):
    counts = Counter(t.meta.category for t in topics)
    missing = [c.value for c in Category if counts[c] == 0]
    assert not missing, f"categories without topics: {missing}"


def test_every_guideline_part_is_covered(topics):
    have = {t.meta.guideline for t in topics}
    assert have >= set(Guideline) - {Guideline.USER_PDF}


def test_ids_match_file_names_and_are_unique(topics):
    ids = [t.meta.id for t in topics]
    assert len(ids) == len(set(ids))
    assert all(t.path.stem == t.meta.id for t in topics)


def test_paged_guidelines_cite_pages_and_sections_inherit(topics):
    for t in topics:
        for s in t.sections:
            assert set(s.pages) <= set(range(1, 1000))
        if t.meta.guideline in (Guideline.CPMTG, Guideline.ACOEM_2004):
            assert t.meta.pages, t.path


def test_criteria_use_known_facts(topics):
    for t in topics:
        for c in t.meta.criteria:
            assert c.fact in FACTS


def test_post_2017_topics_are_in_force_after_dec_2017(topics):
    import datetime as dt

    for t in topics:
        if t.meta.guideline in (Guideline.ACOEM_MTUS, Guideline.FORMULARY):
            assert t.meta.in_force(dt.date(2019, 6, 1)), t.path
            assert not t.meta.in_force(dt.date(2016, 6, 1)), t.path
        if t.meta.guideline is Guideline.CPMTG:
            assert t.meta.in_force(dt.date(2015, 6, 1)) and not t.meta.in_force(dt.date(2019, 6, 1)), t.path


def test_bad_field_names_file_and_field(tmp_path):
    path = write_topic(tmp_path, "bad-topic", replace={"recommendation: conditional": "recommendation: maybe"})
    with pytest.raises(CorpusError) as err:
        load_topic(path)
    assert "bad-topic.md" in str(err.value) and "recommendation" in str(err.value)


def test_unknown_fact_is_rejected(tmp_path):
    path = write_topic(
        tmp_path, "bad-fact",
        replace={"recommendation: conditional": "recommendation: conditional\ncriteria:\n  - id: x-y\n    text: a criterion with text\n    fact: favourite_colour"},
    )
    with pytest.raises(CorpusError, match=r"criteria\.0\.fact.*favourite_colour"):
        load_topic(path)


def test_missing_front_matter_and_id_mismatch(tmp_path):
    p = tmp_path / "plain.md"
    p.write_text("# just text\n" * 30)
    with pytest.raises(CorpusError, match="no YAML front matter"):
        load_topic(p)
    q = write_topic(tmp_path, "right-id")
    q.rename(tmp_path / "wrong-name.md")
    with pytest.raises(CorpusError, match="must equal the file name"):
        load_topic(tmp_path / "wrong-name.md")


def test_paged_guideline_without_pages_is_rejected(tmp_path):
    path = write_topic(tmp_path, "no-pages", replace={"pages: [98, 99]": "pages: []"})
    with pytest.raises(CorpusError, match="pages"):
        load_topic(path)


def test_corpus_load_is_all_or_nothing(tmp_path):
    write_topic(tmp_path, "good-one")
    write_topic(tmp_path, "bad-two", replace={'edition: "2009"': "edition: 9"})
    with pytest.raises(CorpusError) as err:
        load_corpus(tmp_path)
    assert "bad-two.md" in str(err.value) and "nothing was indexed" in str(err.value)


@pytest.mark.parametrize(
    "spec,expected",
    [("99", (99,)), ("98-99", (98, 99)), ("41-42, 64", (41, 42, 64)), ("8, 99, 8", (8, 99)), ("303–305", (303, 304, 305))],
)
def test_parse_pages(spec, expected):
    assert parse_pages(spec) == expected


def test_sections_carry_their_own_pages():
    body = "# Intro\nGeneral words.\n\n## Dosing [p. 86]\nThe ceiling.\n\n## Misuse [pp. 94-95]\nSteps.\n\n## Other\nMore."
    secs = split_sections(body, (74, 75))
    assert [(s.heading, s.pages) for s in secs] == [
        ("Intro", (74, 75)), ("Dosing", (86,)), ("Misuse", (94, 95)), ("Other", (74, 75))
    ]


def test_bad_heading_page_marker_is_an_error():
    with pytest.raises(CorpusError, match="bad page range"):
        split_sections("## Dosing [pp. 90-20]\ntext", (1,), where="x.md")


def test_an_unreadable_page_label_in_a_heading_is_an_error_not_the_topic_pages():
    """'[p. 22, pp. 98-99]' once left a section on the topic's page 22, so a limit on page 99 cited a passage without it."""
    with pytest.raises(CorpusError, match="unreadable page label"):
        split_sections("## Number of visits [p. 22, pp. 98-99]\nNine to ten visits.", (22,), "x.md")
    assert split_sections("## Number of visits [pp. 22, 98-99]\nNine to ten visits.", (22,), "x.md")[0].pages == (22, 98, 99)
