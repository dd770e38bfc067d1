"""Audit store: migrations, WAL, and the rows QA needs to compare what was proposed with what was signed."""

from __future__ import annotations

import sqlite3
import threading

from drafter.review.store import MIGRATIONS, AuditStore


def test_migrations_and_wal(tmp_path):
    s = AuditStore(tmp_path / "audit.db")
    assert s.version == len(MIGRATIONS)
    with sqlite3.connect(tmp_path / "audit.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert AuditStore(tmp_path / "audit.db").version == len(MIGRATIONS)  # reopening does not re-run migrations


def test_old_database_is_migrated(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1)")
        db.executescript(MIGRATIONS[0])
    s = AuditStore(path)
    assert s.version == len(MIGRATIONS)
    cid = s.create_case("ann", "x")
    s.save_working(cid, {"a": 1})
    assert s.working(cid) == {"a": 1}


def test_draft_edit_approval_trail(tmp_path):
    s = AuditStore(tmp_path / "audit.db")
    cid = s.create_case("ann", "Case A", "2015-03-01", ["PT 2x6"])
    draft = {"model": "llamacpp:qwen", "prompt_version": "rationale@3#abc", "items": [{"retrieved_chunk_ids": ["a#s0", "b#s1"]}]}
    s.save_draft(cid, "ann", draft, "llamacpp")
    s.record_edit(cid, "ann", "rationale", "old text", "new text", 0)
    s.approve(cid, "ann", "FINAL LETTER", {"items": []})
    latest = s.latest_draft(cid)
    assert latest["model"] == "llamacpp:qwen" and latest["backend"] == "llamacpp" and latest["prompt_version"] == "rationale@3#abc"
    assert latest["retrieved_json"] == '["a#s0", "b#s1"]'
    assert [e["field"] for e in s.edits(cid)] == ["rationale"]
    ap = s.approvals(cid)
    assert ap[0]["final_text"] == "FINAL LETTER" and ap[0]["draft_id"] == latest["id"] and ap[0]["reviewer"] == "ann"
    assert s.case(cid)["status"] == "approved"


def test_reviewers_see_only_their_cases_and_concurrent_writes_succeed(tmp_path):
    s = AuditStore(tmp_path / "audit.db")
    a = s.create_case("ann", "A")
    b = s.create_case("bob", "B")
    assert [c["id"] for c in s.cases("ann")] == [a] and [c["id"] for c in s.cases("bob")] == [b]
    errors = []

    def write(case_id, who):
        try:
            for n in range(50):
                s.record_edit(case_id, who, "rationale", n, n + 1, 0)
        except Exception as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(a, "ann")), threading.Thread(target=write, args=(b, "bob"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(s.edits(a)) == 50 and len(s.edits(b)) == 50
    assert all(e["reviewer"] == "ann" for e in s.edits(a))
