"""The letter archive end to end: real MiniLM, real Chroma on disk, SQLite; sample letters ingested twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import letters_folder, make_settings

pytestmark = pytest.mark.integration

NAMES = ["letter-01-pt-lumbar-continuation.txt", "letter-05-norco-uds.txt", "letter-03-acupuncture-neck-continuation.txt",
         "letter-12-mri-lumbar.txt"]


@pytest.fixture
def letters_dir(tmp_path) -> Path:
    return letters_folder(tmp_path, NAMES)


def test_ingest_twice_reports_bad_files_and_finds_the_similar_item(tmp_path, letters_dir, embeddings):
    from drafter.precedents.archive import LetterArchive
    from drafter.precedents.search import find_precedents

    settings = make_settings(tmp_path / "home")
    archive = LetterArchive(settings, embeddings=embeddings)
    first = archive.ingest([letters_dir])
    assert first.added_letters == 4 and first.added_items >= 5
    assert sorted(Path(f.path).name for f in first.failed) == ["memo.txt", "scan-without-text.pdf"]
    assert all(f.reason for f in first.failed)
    second = LetterArchive(settings, embeddings=embeddings).ingest([letters_dir])
    assert (second.added_letters, second.added_items, second.unchanged_letters) == (0, 0, 4)
    assert archive.collection.count() == archive.count() == first.added_items

    res = find_precedents("Hydrocodone/APAP 10/325 #100", facts=["no functional improvement"], archive=archive, k=3)
    top = res.precedents[0]
    assert top.letter_name == "letter-05-norco-uds.txt" and top.item.startswith("Norco") and top.scope == "family"
    assert top.decision == "upheld" and "78" in top.pages and top.rationale_excerpt
    assert res.outcomes.n == 1 and res.outcomes.upheld == 1
    pt = find_precedents("Additional physical therapy 2 x 4 low back", archive=archive, k=1)
    assert pt.precedents[0].letter_name == "letter-01-pt-lumbar-continuation.txt"


def test_cli_ingest_and_search(tmp_path, letters_dir, monkeypatch, capsys, embeddings):
    from drafter import cli

    for k in [k for k in list(__import__("os").environ) if k.startswith("DRAFTER_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("DRAFTER_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("drafter.embeddings.make_embeddings", lambda *a, **k: embeddings)
    monkeypatch.setattr("drafter.precedents.archive.make_embeddings", lambda *a, **k: embeddings)
    assert cli.main(["letters", "ingest", str(letters_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["added_letters"] == 4 and len(out["failed"]) == 2
    assert cli.main(["precedents", "Norco 10/325 #120", "--facts", "functional_improvement=absent", "--k", "2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["precedents"][0]["letter_name"] == "letter-05-norco-uds.txt" and "strong_majority" in res
