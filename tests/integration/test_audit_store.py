"""Audit store on both engines (SQLite in a temp dir, a real PostgreSQL the fixture starts): migrations, the
rows QA needs, optimistic concurrency, one-transaction approval, and the migration lock."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import sqlalchemy as sa

from drafter.review import tables
from drafter.review.identity import Identity
from drafter.review.store import (
    AuditStore,
    CaseApproved,
    StaleWorkingCopy,
    head_revision,
)

ANN = Identity(id="https://idp.example|ann-sub", name="Ann Reviewer", email="ann@example.org")
BOB = Identity(id="https://idp.example|bob-sub", name="Bob Reviewer", email="bob@example.org")


def test_migrates_to_head_and_the_schema_matches_the_tables_module(db_url):
    s = AuditStore(db_url)
    assert s.revision == head_revision()
    assert AuditStore(db_url).revision == head_revision()  # reopening is a no-op
    insp = sa.inspect(s.engine)
    for table in tables.metadata.sorted_tables:
        assert {c["name"] for c in insp.get_columns(table.name)} == {c.name for c in table.columns}, table.name


def test_sqlite_default_is_wal(tmp_path):
    AuditStore(tmp_path / "audit.db")
    with sqlite3.connect(tmp_path / "audit.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_of_the_first_store_is_migrated_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (2);
            CREATE TABLE cases (id TEXT PRIMARY KEY, reviewer TEXT NOT NULL, created REAL NOT NULL, name TEXT NOT NULL,
                request_date TEXT, items_json TEXT NOT NULL DEFAULT '[]', status TEXT NOT NULL DEFAULT 'open');
            CREATE TABLE drafts (id INTEGER PRIMARY KEY AUTOINCREMENT, case_id TEXT NOT NULL, created REAL NOT NULL, reviewer TEXT NOT NULL,
                model TEXT NOT NULL, backend TEXT NOT NULL, prompt_version TEXT NOT NULL, retrieved_json TEXT NOT NULL, draft_json TEXT NOT NULL);
            CREATE TABLE edits (id INTEGER PRIMARY KEY AUTOINCREMENT, case_id TEXT NOT NULL, created REAL NOT NULL, reviewer TEXT NOT NULL,
                item_index INTEGER, field TEXT NOT NULL, old TEXT, new TEXT);
            CREATE TABLE approvals (id INTEGER PRIMARY KEY AUTOINCREMENT, case_id TEXT NOT NULL, created REAL NOT NULL, reviewer TEXT NOT NULL,
                final_text TEXT NOT NULL, final_json TEXT NOT NULL, draft_id INTEGER);
            CREATE TABLE working (case_id TEXT PRIMARY KEY, updated REAL NOT NULL, state_json TEXT NOT NULL);
            INSERT INTO cases VALUES ('c1', 'ann', 1.0, 'Old case', '2015-01-01', '["PT 2x6"]', 'open');
            INSERT INTO edits (case_id, created, reviewer, item_index, field, old, new) VALUES ('c1', 2.0, 'ann', 0, 'rationale', '"a"', '"b"');
            INSERT INTO working VALUES ('c1', 3.0, '{"summary": "kept"}');
        """)
    s = AuditStore(path)
    assert s.revision == head_revision()
    assert [c["name"] for c in s.cases("ann")] == ["Old case"]  # owner 'local:ann', as a pre-identity caller names her
    assert s.working_copy("c1").state == {"summary": "kept"} and s.working_copy("c1").version == 1
    assert s.edits("c1")[0]["user_id"] == "local:ann"


def test_draft_edit_approval_trail_names_the_signed_in_user(db_url):
    s = AuditStore(db_url)
    cid = s.create_case(ANN, "Case A", "2015-03-01", ["PT 2x6"])
    draft = {"model": "llamacpp:qwen", "prompt_version": "rationale@3#abc", "items": [{"retrieved_chunk_ids": ["a#s0", "b#s1"]}]}
    s.save_draft(cid, ANN, draft, "llamacpp")
    v = s.save_working(cid, {"summary": "s"}, ANN, expected_version=0)
    v = s.record_edit(cid, ANN, "rationale", "old text", "new text", 0, state={"summary": "s2"}, expected_version=v)
    s.approve(cid, ANN, "FINAL LETTER", {"items": []}, expected_version=v, signed_on="2026-11-30")
    latest = s.latest_draft(cid)
    assert (latest["model"], latest["backend"], latest["user_id"]) == ("llamacpp:qwen", "llamacpp", ANN.id)
    assert latest["retrieved_json"] == '["a#s0", "b#s1"]'
    assert [(e["field"], e["user_id"], e["reviewer"]) for e in s.edits(cid)] == [("rationale", ANN.id, "Ann Reviewer")]
    ap = s.approvals(cid)[0]
    assert (ap["final_text"], ap["draft_id"], ap["user_id"], ap["signed_on"]) == ("FINAL LETTER", latest["id"], ANN.id, "2026-11-30")
    assert s.case(cid)["status"] == "approved"
    assert [e["what"] for e in s.timeline(cid)] == ["created the case", "drafted with llamacpp:qwen (prompts rationale@3#abc)",
                                                    "item 1: edited the rationale (+0 words)", "approved and signed the letter"]


def test_a_stale_tab_is_refused_and_given_the_newer_text(db_url):
    s = AuditStore(db_url)
    cid = s.create_case(ANN, "A")
    v1 = s.save_working(cid, {"rationale": "first"}, ANN, expected_version=0)
    v2 = s.record_edit(cid, ANN, "rationale", "first", "tab one", 0, state={"rationale": "tab one"}, expected_version=v1)
    with pytest.raises(StaleWorkingCopy) as err:  # tab two still holds version 1
        s.record_edit(cid, ANN, "rationale", "first", "tab two", 0, state={"rationale": "tab two"}, expected_version=v1)
    assert err.value.current.version == v2 and err.value.current.state == {"rationale": "tab one"}
    assert "another tab" in str(err.value)
    assert s.working(cid) == {"rationale": "tab one"}
    assert [e["new"] for e in s.edits(cid)] == ['"tab one"']  # the refused edit left no audit row either
    with pytest.raises(StaleWorkingCopy):  # a fresh draft does not replace a working copy the tab did not know about
        s.save_working(cid, {"rationale": "new draft"}, ANN, expected_version=0)


def test_an_approved_case_refuses_every_change(db_url):
    s = AuditStore(db_url)
    cid = s.create_case(ANN, "A")
    v = s.save_working(cid, {"x": 1}, ANN, expected_version=0)
    s.approve(cid, ANN, "LETTER", {}, expected_version=v)
    for change in (lambda: s.save_working(cid, {"x": 2}, ANN, expected_version=v),
                   lambda: s.record_edit(cid, ANN, "decision", "upheld", "overturned", 0),
                   lambda: s.update_case(cid, items_json=["other"]),
                   lambda: s.save_draft(cid, ANN, {}, "fake"),
                   lambda: s.approve(cid, ANN, "AGAIN", {}, expected_version=v)):
        with pytest.raises(CaseApproved):
            change()
    assert len(s.approvals(cid)) == 1 and s.working(cid) == {"x": 1}


def test_two_approvals_at_once_record_exactly_one(db_url):
    s = AuditStore(db_url)
    cid = s.create_case(ANN, "A")
    v = s.save_working(cid, {"x": 1}, ANN, expected_version=0)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def approve(n: int) -> None:
        barrier.wait()
        try:
            s.approve(cid, ANN, f"LETTER {n}", {}, expected_version=v)
            results.append("ok")
        except CaseApproved:
            results.append("refused")

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == ["ok", "refused", "refused", "refused"]
    assert len(s.approvals(cid)) == 1


def test_concurrent_editors_lose_no_update(db_url):
    """Two tabs edit the same case as fast as they can; every save either lands on the newest version or is
    refused, so the final version counts exactly the saves that landed."""
    s = AuditStore(db_url)
    cid = s.create_case(ANN, "A")
    s.save_working(cid, {"n": []}, ANN, expected_version=0)
    landed: list[tuple[str, int]] = []
    errors: list[Exception] = []

    def tab(name: str) -> None:
        for k in range(25):
            wc = s.working_copy(cid)
            state = {"n": wc.state["n"] + [f"{name}{k}"]}
            try:
                s.record_edit(cid, ANN, "summary", None, f"{name}{k}", state=state, expected_version=wc.version)
                landed.append((name, k))
            except StaleWorkingCopy:
                pass
            except Exception as exc:  # pragma: no cover - reported by the assertion
                errors.append(exc)

    threads = [threading.Thread(target=tab, args=(n,)) for n in ("a", "b")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    final = s.working_copy(cid)
    assert not errors
    assert final.version == 1 + len(landed)
    assert sorted(final.state["n"]) == sorted(f"{n}{k}" for n, k in landed)  # nothing that landed was overwritten
    assert len(s.edits(cid)) == len(landed)


def test_concurrent_first_starts_migrate_once(db_url):
    errors: list[Exception] = []
    revisions: list[str] = []

    def start() -> None:
        try:
            revisions.append(AuditStore(db_url).revision)
        except Exception as exc:  # pragma: no cover - reported by the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and revisions == [head_revision()] * 3


def test_reviewers_see_their_own_cases_and_a_qa_lead_sees_all(db_url):
    s = AuditStore(db_url)
    a = s.create_case(ANN, "A")
    b = s.create_case(BOB, "B")
    assert [c["id"] for c in s.cases(ANN)] == [a] and [c["id"] for c in s.cases(BOB)] == [b]
    assert {c["id"] for c in s.cases(None)} == {a, b}


def test_users_and_profiles(db_url):
    s = AuditStore(db_url)
    s.touch_user(ANN)
    s.save_profile(ANN, "Ann Reviewer", "Physical Medicine and Rehabilitation", "MD", "American Board of PM&R")
    assert s.profile(ANN.id)["specialty"] == "Physical Medicine and Rehabilitation"
    assert [u["id"] for u in s.users()] == [ANN.id]


def test_a_dead_database_server_gets_a_clear_error():
    from drafter.review.store import StoreError

    with pytest.raises(StoreError, match="DRAFTER_DATABASE_URL"):
        AuditStore("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
