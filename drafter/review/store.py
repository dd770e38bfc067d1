"""The audit trail: every case, draft, edit and approval in a local SQLite database in DRAFTER_HOME.

WAL mode (several reviewers' sessions write at once), schema migrations numbered in MIGRATIONS, and
rows that say who, when, model, backend, prompt version, retrieved chunk ids, the draft and the final
text, so QA can compare what the tool proposed with what was signed.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

MIGRATIONS: list[str] = [
    """
    CREATE TABLE cases (
        id TEXT PRIMARY KEY, reviewer TEXT NOT NULL, created REAL NOT NULL, name TEXT NOT NULL,
        request_date TEXT, items_json TEXT NOT NULL DEFAULT '[]', status TEXT NOT NULL DEFAULT 'open'
    );
    CREATE TABLE drafts (
        id INTEGER PRIMARY KEY AUTOINCREMENT, case_id TEXT NOT NULL REFERENCES cases(id), created REAL NOT NULL,
        reviewer TEXT NOT NULL, model TEXT NOT NULL, backend TEXT NOT NULL, prompt_version TEXT NOT NULL,
        retrieved_json TEXT NOT NULL, draft_json TEXT NOT NULL
    );
    CREATE TABLE edits (
        id INTEGER PRIMARY KEY AUTOINCREMENT, case_id TEXT NOT NULL REFERENCES cases(id), created REAL NOT NULL,
        reviewer TEXT NOT NULL, item_index INTEGER, field TEXT NOT NULL, old TEXT, new TEXT
    );
    CREATE TABLE approvals (
        id INTEGER PRIMARY KEY AUTOINCREMENT, case_id TEXT NOT NULL REFERENCES cases(id), created REAL NOT NULL,
        reviewer TEXT NOT NULL, final_text TEXT NOT NULL, final_json TEXT NOT NULL, draft_id INTEGER
    );
    CREATE INDEX drafts_case ON drafts(case_id, id);
    CREATE INDEX edits_case ON edits(case_id, id);
    """,
    # 2: the working copy of each case (the reviewer's current edited state), so a refresh loses nothing
    """
    CREATE TABLE working (
        case_id TEXT PRIMARY KEY REFERENCES cases(id), updated REAL NOT NULL, state_json TEXT NOT NULL
    );
    """,
]


class AuditStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if row is None:
                db.execute("INSERT INTO schema_version VALUES (0)")
            for i, sql in enumerate(MIGRATIONS[version:], start=version + 1):
                db.executescript(sql)
                db.execute("UPDATE schema_version SET version = ?", (i,))

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    @property
    def version(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT version FROM schema_version").fetchone()[0])

    # -- cases ------------------------------------------------------------------------------------
    def create_case(self, reviewer: str, name: str, request_date: str | None = None, items: list[str] | None = None) -> str:
        case_id = uuid.uuid4().hex[:12]
        with self._connect() as db:
            db.execute("INSERT INTO cases (id, reviewer, created, name, request_date, items_json) VALUES (?,?,?,?,?,?)",
                       (case_id, reviewer, time.time(), name, request_date, json.dumps(items or [])))
        return case_id

    def update_case(self, case_id: str, **fields: Any) -> None:
        allowed = {"name", "request_date", "items_json", "status"}
        sets = {k: (json.dumps(v) if k == "items_json" else v) for k, v in fields.items() if k in allowed}
        if sets:
            with self._connect() as db:
                db.execute(f"UPDATE cases SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?", (*sets.values(), case_id))

    def case(self, case_id: str) -> dict | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()
        return dict(row) if row else None

    def cases(self, reviewer: str) -> list[dict]:
        with self._connect() as db:
            return [dict(r) for r in db.execute("SELECT * FROM cases WHERE reviewer = ? ORDER BY created DESC", (reviewer,))]

    # -- drafts, edits, approvals ----------------------------------------------------------------
    def save_draft(self, case_id: str, reviewer: str, draft: dict, backend: str) -> int:
        retrieved = sorted({c for it in draft.get("items", []) for c in it.get("retrieved_chunk_ids", [])})
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO drafts (case_id, created, reviewer, model, backend, prompt_version, retrieved_json, draft_json) VALUES (?,?,?,?,?,?,?,?)",
                (case_id, time.time(), reviewer, draft.get("model", ""), backend, draft.get("prompt_version", ""), json.dumps(retrieved), json.dumps(draft)),
            )
            return int(cur.lastrowid)

    def latest_draft(self, case_id: str) -> dict | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM drafts WHERE case_id = ? ORDER BY id DESC LIMIT 1", (case_id,)).fetchone()
        return {**dict(row), "draft": json.loads(row["draft_json"])} if row else None

    def record_edit(self, case_id: str, reviewer: str, field: str, old: Any, new: Any, item_index: int | None = None) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO edits (case_id, created, reviewer, item_index, field, old, new) VALUES (?,?,?,?,?,?,?)",
                       (case_id, time.time(), reviewer, item_index, field, json.dumps(old), json.dumps(new)))

    def edits(self, case_id: str) -> list[dict]:
        with self._connect() as db:
            return [dict(r) for r in db.execute("SELECT * FROM edits WHERE case_id = ? ORDER BY id", (case_id,))]

    def save_working(self, case_id: str, state: dict) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO working (case_id, updated, state_json) VALUES (?,?,?) "
                       "ON CONFLICT(case_id) DO UPDATE SET updated = excluded.updated, state_json = excluded.state_json",
                       (case_id, time.time(), json.dumps(state)))

    def working(self, case_id: str) -> dict | None:
        with self._connect() as db:
            row = db.execute("SELECT state_json FROM working WHERE case_id = ?", (case_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def approve(self, case_id: str, reviewer: str, final_text: str, final: dict) -> int:
        latest = self.latest_draft(case_id)
        with self._connect() as db:
            cur = db.execute("INSERT INTO approvals (case_id, created, reviewer, final_text, final_json, draft_id) VALUES (?,?,?,?,?,?)",
                             (case_id, time.time(), reviewer, final_text, json.dumps(final), latest["id"] if latest else None))
            db.execute("UPDATE cases SET status = 'approved' WHERE id = ?", (case_id,))
            return int(cur.lastrowid)

    def approvals(self, case_id: str) -> list[dict]:
        with self._connect() as db:
            return [dict(r) for r in db.execute("SELECT * FROM approvals WHERE case_id = ? ORDER BY id", (case_id,))]
