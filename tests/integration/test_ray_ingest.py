"""The letter archive's ingest on Ray: the same archive as the single-process ingest, incremental, duplicates
stored once even when two tasks prepare them at once, and batches spread over a cluster's nodes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.conftest import letters_folder, make_settings

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.integration

NAMES = ["letter-01-pt-lumbar-continuation.txt", "letter-05-norco-uds.txt", "letter-03-acupuncture-neck-continuation.txt",
         "letter-12-mri-lumbar.txt", "letter-37-tens-purchase-scraped.txt", "letter-10-naproxen-omeprazole.txt"]


@pytest.fixture
def letters_dir(tmp_path) -> Path:
    d = letters_folder(tmp_path, NAMES)
    shutil.copy(d / NAMES[1], d / "zz-copy-of-norco.txt")  # same content, another name, another batch
    return d


def settings_for(home: Path, **kw):
    s = make_settings(home, **kw)
    s.precedents.ingest_batch = 1  # one letter per task, so a few letters make several tasks at once
    return s


def stored(archive) -> list[tuple]:
    """The archive's rows, without the path (a duplicate's path depends on which copy was stored first)."""
    from drafter.review import tables as t

    c = t.precedents.c
    with archive.engine.connect() as db:
        return sorted(tuple(r) for r in db.execute(sa.select(c.id, c.family, c.decision, c.pages, c.facts, c.rationale)))


def test_local_ray_builds_the_same_archive_and_is_incremental(tmp_path, letters_dir, embeddings):
    from drafter.precedents.archive import LetterArchive
    from drafter.precedents.ray_ingest import ingest_ray

    serial = LetterArchive(settings_for(tmp_path / "serial"), embeddings=embeddings)
    ref = serial.ingest([letters_dir])
    settings = settings_for(tmp_path / "ray")
    archive = LetterArchive(settings, embeddings=embeddings)
    got = ingest_ray([letters_dir], settings, archive, num_cpus=2)
    assert not ray.is_initialized(), "a run that started Ray shuts it down"
    assert (got.added_letters, got.unchanged_letters, got.added_items) == (ref.added_letters, ref.unchanged_letters, ref.added_items) == (6, 1, ref.added_items)
    assert sorted(Path(f.path).name for f in got.failed) == ["memo.txt", "scan-without-text.pdf"]
    # the copy of the Norco letter sits in another batch: it is parsed again when its task runs before the original is
    # stored (two tasks at once), or skipped by its hash after; either way it is stored once (above and below)
    assert sum(got.nodes.values()) == 9 and got.letters_parsed in (6, 7)
    assert stored(archive) == stored(serial) and archive.collection.count() == serial.collection.count() == ref.added_items
    a = archive.collection.get(include=["embeddings"], limit=3)
    b = serial.collection.get(ids=a["ids"], include=["embeddings"])  # Chroma returns them in its own order

    def by_id(got):
        return {i: [round(float(v), 5) for v in e] for i, e in zip(got["ids"], got["embeddings"])}

    assert len(a["ids"]) == 3 and by_id(a) == by_id(b)

    again = ingest_ray([letters_dir], settings, archive, num_cpus=2)
    assert (again.added_letters, again.added_items, again.unchanged_letters) == (0, 0, 7)

    changed = letters_dir / NAMES[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\nCorrected copy.\n", encoding="utf-8")
    third = ingest_ray([letters_dir], settings, archive, num_cpus=2)
    assert (third.added_letters, third.updated_letters, third.unchanged_letters) == (0, 1, 6)
    assert archive.count() == archive.collection.count() == ref.added_items


def test_cli_ingest_on_ray(tmp_path, letters_dir, monkeypatch, capsys, embeddings):
    import json
    import os

    from drafter import cli

    for k in [k for k in list(os.environ) if k.startswith("DRAFTER_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("DRAFTER_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("drafter.embeddings.make_embeddings", lambda *a, **k: embeddings)
    assert cli.main(["letters", "ingest", str(letters_dir), "--ray", "--workers", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["added_letters"] == 6 and out["unchanged_letters"] == 1 and len(out["failed"]) == 2
    assert out["archive_items"] == out["added_items"] and sum(out["nodes"].values()) == 9


def test_a_two_node_cluster_spreads_the_letters_into_a_chroma_server_archive(two_node_cluster, chroma_server, tmp_path,
                                                                                letters_dir, embeddings):
    from drafter.precedents.archive import LetterArchive
    from drafter.precedents.ray_ingest import ingest_ray

    serial = LetterArchive(settings_for(tmp_path / "serial"), embeddings=embeddings)
    serial.ingest([letters_dir])
    settings = settings_for(tmp_path / "driver", chroma_url=chroma_server)
    settings.precedents.collection = "ray_ingest_precedents"
    archive = LetterArchive(settings, embeddings=embeddings)
    got = ingest_ray([letters_dir], settings, archive, address=two_node_cluster.address)
    assert not ray.is_initialized(), "a run that joined the cluster leaves it again"
    assert len(got.nodes) == 2 and sum(got.nodes.values()) == 9, got.nodes
    assert stored(archive) == stored(serial) and archive.collection.count() == serial.collection.count()
    assert not (tmp_path / "driver" / "index").exists(), "the archive went to the Chroma server"
