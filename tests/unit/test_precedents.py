"""The letter archive and precedent search, on hand-written letters: records, outcome counts, the strong-majority
flag and leave-one-out. Real Chroma (on disk in tmp) and SQLite; a small hashing embedder stands in for MiniLM."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from pathlib import Path

import pytest

from drafter.errors import QueryError
from drafter.letter_parser import LetterParseError
from drafter.precedents.facts import parse_fact_args, read_facts, readings
from drafter.precedents.records import records_from_letter
from drafter.precedents.search import Outcomes, find_precedents, outcome_line, parse_date_range, strong_majority, vote
from drafter.settings import Settings

SAMPLE = "SAMPLE LETTER - fictional, written for the precedent unit tests. Not a real determination.\n\n"


def letter(items: list[tuple[str, str, str]], ur_date: str = "March 3, 2015", summary: str = "") -> str:
    """A layout-A letter: items are (item, Upheld|Overturned, rationale)."""
    body = "\n\n".join(
        f"{item}:  {decision}\n\nClaims Administrator guideline: Decision based on MTUS Chronic Pain Medical Treatment Guidelines.\n\n"
        f"MAXIMUS guideline: Decision based on MTUS Chronic Pain Medical Treatment Guidelines, pages 78-80.\n\n"
        f"Decision rationale: {why}"
        for item, decision, why in items
    )
    return (SAMPLE + "HOW THE IMR FINAL DETERMINATION WAS MADE\n\nThe expert reviewer is board certified in Physical Medicine.\n\n"
            "CLINICAL CASE SUMMARY\n\nThe expert reviewer developed the following clinical case summary based on a review of the case file:\n\n"
            f"The applicant is a represented  warehouse worker with chronic low back pain. In a Utilization Review Report dated {ur_date}, "
            f"the claims administrator denied the request. {summary}\n\n"
            "IMR ISSUES, DECISIONS AND RATIONALES\n\nThe expert reviewer based the decision on the following rationale.\n\n" + body + "\n")


NO_GAIN = ("Pages 78 to 80 tie continued opioids to improved function. The applicant remains off work after two years of opioid "
           "therapy and there is no documentation of functional improvement. Therefore, the request is not medically necessary.")
GAIN = ("Pages 78 to 80 tie continued opioids to improved function. The attending physician has documented specific functional "
        "improvement: the applicant has returned to modified duty. Therefore, the request is medically necessary.")
PT = ("Page 99 allows 9 to 10 visits. The applicant has already had 20 sessions of therapy without functional improvement. "
      "Therefore, the request is not medically necessary.")


class HashEmbeddings:
    """Deterministic bag-of-words vectors: enough nearness for filters and ranking, no model."""

    model_name = "test-hash-64"

    def _vec(self, text: str) -> list[float]:
        v = [0.0] * 64
        for w in re.findall(r"[a-z0-9]+", text.lower()):
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % 64] += 1.0
        n = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / n for x in v]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", precedents={"strong_min_n": 3, "strong_share": 0.75, "k": 3, "ingest_batch": 2})


@pytest.fixture
def archive(settings):
    from drafter.precedents.archive import LetterArchive

    return LetterArchive(settings, embeddings=HashEmbeddings())


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p


def test_records_from_a_hand_written_letter(tmp_path):
    p = write(tmp_path, "l1.txt", letter([("Norco 10/325 mg #90", "Upheld", NO_GAIN), ("Physical therapy 2 x 6 lumbar", "Upheld", PT)]))
    recs = records_from_letter(p)
    assert [r.item for r in recs] == ["Norco 10/325 mg #90", "Physical therapy 2 x 6 lumbar"]
    norco, pt = recs
    assert norco.decision == "upheld" and norco.category == "opioids" and norco.generic == "hydrocodone/acetaminophen"
    assert norco.family == "opioids/hydrocodone/acetaminophen" and pt.family == "rehabilitation/physical therapy"
    assert norco.letter_date == dt.date(2015, 3, 3)
    assert "functional_improvement=absent" in norco.facts and "return_to_work=absent" in norco.facts
    assert "prior_visits_completed=present" in pt.facts
    assert norco.pages == "MTUS pp. 78-80"
    assert "page 78" in norco.key_facts
    assert norco.id != pt.id and norco.id == records_from_letter(p)[0].id  # stable
    write(tmp_path, "l1.txt", letter([("Norco 10/325 mg #90", "Upheld", NO_GAIN + " ")]))
    assert records_from_letter(p)[0].id != norco.id  # content changed -> new id


def test_not_a_letter_raises(tmp_path):
    with pytest.raises(LetterParseError):
        records_from_letter(write(tmp_path, "note.txt", "Progress note. Patient doing better with therapy, plan to continue. " * 3))


def test_fact_rules_read_their_examples_and_query_words():
    for r in readings():
        for ex in r.examples:
            assert r.key in read_facts(ex), (r.key, ex)
    assert parse_fact_args(["no functional improvement"]) == ["functional_improvement=absent"]
    assert parse_fact_args(["return_to_work=absent"]) == ["return_to_work=absent"]
    with pytest.raises(QueryError):
        parse_fact_args(["not_a_fact=x"])
    with pytest.raises(QueryError):
        parse_fact_args(["the weather was pleasant"])


def test_outcome_line_counts_and_words():
    o = outcome_line("opioids/hydrocodone/acetaminophen", ["treatment_phase=continuation", "functional_improvement=absent"],
                     {"upheld": 1166, "overturned": 74})
    assert (o.n, o.majority) == (1240, "upheld") and abs(o.share - 1166 / 1240) < 1e-9
    assert o.text == "hydrocodone/acetaminophen continuation without documented functional improvement: 94% upheld, n=1,240"
    assert outcome_line("x/y", [], {}).n == 0


def test_strong_majority_needs_share_and_n():
    s = Settings(precedents={"strong_share": 0.85, "strong_min_n": 20})

    def o(up: int, ov: int) -> Outcomes:
        return outcome_line("f/x", [], {"upheld": up, "overturned": ov})

    flag = strong_majority([o(18, 2), None], s)
    assert flag is not None and flag.decision == "upheld" and flag.n == 20
    assert strong_majority([o(19, 1)], s) is not None
    assert strong_majority([o(17, 2)], s) is None  # n=19 < 20
    assert strong_majority([o(16, 4)], s) is None  # 80% < 85%
    flag = strong_majority([o(3, 0), o(2, 40)], s)  # the specific line is too small: the family line decides
    assert flag is not None and flag.decision == "overturned" and flag.n == 42
    assert flag.goes_against("upheld") and not flag.goes_against("overturned") and not flag.goes_against("needs_review")


def test_date_range():
    assert parse_date_range("2014-01-01:2015-12-31") == (dt.date(2014, 1, 1), dt.date(2015, 12, 31))
    assert parse_date_range("2014-01-01:") == (dt.date(2014, 1, 1), None)
    for bad in ("2014-01-01", "2015-01-01:2014-01-01", "soon:later"):
        with pytest.raises(QueryError):
            parse_date_range(bad)


def _archive_letters(tmp_path: Path) -> list[Path]:
    return [
        write(tmp_path, "a.txt", letter([("Norco 10/325 mg #120", "Upheld", NO_GAIN)], "January 5, 2014")),
        write(tmp_path, "b.txt", letter([("Norco 10/325 mg #60", "Upheld", NO_GAIN)], "June 9, 2014")),
        write(tmp_path, "c.txt", letter([("Norco 5/325 mg #90", "Upheld", NO_GAIN.replace("two", "three"))], "May 1, 2015")),
        write(tmp_path, "d.txt", letter([("Norco 10/325 mg #120", "Overturned", GAIN)], "July 7, 2015")),
        write(tmp_path, "e.txt", letter([("Physical therapy 2 x 6 lumbar", "Upheld", PT), ("Norco 10/325 mg #30", "Upheld", NO_GAIN)],
                                        "August 8, 2015")),
    ]


def test_ingest_is_incremental_and_reports_bad_files(tmp_path, archive):
    paths = _archive_letters(tmp_path)
    bad = write(tmp_path, "bad.txt", "This is a shopping list, not a determination letter of any kind at all.")
    r = archive.ingest([*paths, bad, tmp_path / "missing.pdf"])
    assert (r.added_letters, r.added_items, r.unchanged_letters) == (5, 6, 0)
    assert sorted(Path(f.path).name for f in r.failed) == ["bad.txt", "missing.pdf"]
    again = archive.ingest(paths)
    assert (again.added_letters, again.added_items, again.unchanged_letters) == (0, 0, 5)
    write(tmp_path, "d.txt", letter([("Norco 10/325 mg #120", "Upheld", NO_GAIN)], "July 7, 2015"))  # the file changed
    third = archive.ingest([tmp_path / "d.txt"])
    assert (third.updated_letters, third.added_items) == (1, 1)
    assert archive.count() == 6 and archive.collection.count() == 6


def test_family_outcomes_facts_and_strong_majority(tmp_path, archive):
    archive.ingest(_archive_letters(tmp_path))
    res = find_precedents("Norco 10/325 mg #120", facts=["no functional improvement"], archive=archive)
    assert res.family == "opioids/hydrocodone/acetaminophen"
    assert (res.outcomes.n, res.outcomes.upheld) == (4, 4)  # the overturned Norco letter documents improvement
    assert (res.family_outcomes.n, res.family_outcomes.upheld, res.family_outcomes.overturned) == (5, 4, 1)
    assert res.strong_majority is not None and res.strong_majority.decision == "upheld"
    assert res.goes_against("overturned") and not res.goes_against("upheld")
    assert all(p.scope == "family" and "Norco" in p.item for p in res.precedents) and len(res.precedents) == 3
    assert all(p.rationale_excerpt and p.pages for p in res.precedents)
    dated = find_precedents("Norco 10/325 mg #120", date_range="2015-01-01:2015-12-31", archive=archive, k=10)
    assert {p.letter_date[:4] for p in dated.precedents} == {"2015"}
    assert dated.family_outcomes is None or dated.outcomes.n == 3


def test_leave_one_out_never_returns_the_same_letter(tmp_path, archive):
    paths = _archive_letters(tmp_path)
    archive.ingest(paths)
    from drafter.precedents.records import read_letter

    for p in paths:
        _, h = read_letter(p)
        for rec in records_from_letter(p):
            res = find_precedents(rec.item, archive=archive, exclude_hash=h, k=10)
            assert res.precedents and all(not x.id.startswith(h) and x.letter_name != p.name for x in res.precedents)
            others = [r for q in paths if q != p for r in records_from_letter(q) if r.family == rec.family]
            assert res.outcomes.n == len(others)  # the outcome counts leave the letter out too


def test_vote_is_the_majority_of_the_neighbours():
    from drafter.precedents.search import Precedent, PrecedentResult

    def res(decisions: list[str], fam_majority: str | None = None) -> PrecedentResult:
        ps = [Precedent(id=str(i), letter_name="x", letter_path="x", letter_date=None, item="i", decision=d, similarity=0.5,
                        scope="family", pages="", rationale_excerpt="r") for i, d in enumerate(decisions)]
        counts = {"upheld": 1, "overturned": 5} if fam_majority == "overturned" else {"upheld": 5}
        return PrecedentResult(query="q", family="f/x", family_known=True, facts=[], precedents=ps, outcomes=outcome_line("f/x", [], counts))

    assert vote(res(["overturned", "overturned", "upheld"])) == "overturned"
    assert vote(res(["upheld", "overturned"], "overturned")) == "overturned"
    assert vote(res([])) == "needs_review"


def test_a_short_candidate_list_falls_back_to_filtered_queries_with_the_same_answer(tmp_path, settings):
    from drafter.precedents.archive import LetterArchive

    wide = LetterArchive(settings, embeddings=HashEmbeddings())
    wide.ingest(_archive_letters(tmp_path))
    narrow = LetterArchive(settings.model_copy(update={"precedents": settings.precedents.model_copy(update={"candidates": 1})}),
                           embeddings=HashEmbeddings())
    for dr in (None, "2015-01-01:2015-12-31", "2014-06-01:2014-06-30"):
        a = find_precedents("Norco 10/325 mg #120", date_range=dr, archive=wide, k=3)
        b = find_precedents("Norco 10/325 mg #120", date_range=dr, archive=narrow, k=3)
        # identical item texts embed identically: which of several equally near items a query returns is a tie, so
        # the answers must agree on the similarities and scopes found, not on which tied item came back
        assert [(round(p.similarity, 6), p.scope) for p in a.precedents] == \
            [(round(p.similarity, 6), p.scope) for p in b.precedents], dr
    only_june = find_precedents("Norco 10/325 mg #120", date_range="2014-06-01:2014-06-30", archive=narrow, k=3)
    assert [p.letter_name for p in only_june.precedents] == ["b.txt"]


def test_a_drafts_deciding_facts_become_query_facts_the_archive_can_count():
    from drafter.precedents.search import facts_of_draft

    draft = {"facts": {"functional_improvement": {"status": "unknown"}, "urine_drug_screen": {"status": "present"}},
             "criteria": [
                 {"fact": "functional_improvement", "status": "not_met", "decisive": True},   # silence counts as absent
                 {"fact": "urine_drug_screen", "status": "met", "decisive": False},           # not deciding: left out
                 {"fact": "age", "status": "met", "decisive": True},                          # no reading letters name
             ]}
    assert facts_of_draft(draft) == ["functional_improvement=absent"]
