"""The audit trail: every case, draft, edit and approval, with who did it, in one SQL database.

SQLite in DRAFTER_HOME (WAL) is the embedded default; a team points DRAFTER_DATABASE_URL at PostgreSQL.
Alembic migrates the schema when the store opens (under a lock, so two app processes starting at once do
not race). Each working copy has a version: a save from a tab that read an older version is refused with
the newer state (`StaleWorkingCopy`), never written over it. Approval is one transaction that refuses a
case already approved, and an approved case refuses every later change.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from pydantic import BaseModel
from sqlalchemy.engine import Connection, Engine

from drafter.errors import DrafterError
from drafter.review import tables as t
from drafter.review.identity import Identity

MIGRATION_LOCK_KEY = 0x494D52  # pg_advisory_lock key of the migration step ("IMR")


class StoreError(DrafterError):
    """The audit database refused a change."""


class CaseApproved(StoreError):
    """The case is approved: its letter is final and nothing in it may change."""


class StaleWorkingCopy(StoreError):
    """Someone saved a newer version of the working copy since this tab read it."""

    def __init__(self, message: str, current: WorkingCopy | None) -> None:
        super().__init__(message)
        self.current = current


class WorkingCopy(BaseModel):
    state: dict
    version: int
    updated: float
    updated_by: str | None = None


def _actor(user: Identity | str) -> tuple[str, str]:
    """(user id, display name) of whoever acts; a bare name is a pre-identity caller (tests, the CLI)."""
    if isinstance(user, Identity):
        return user.id, user.name
    return f"local:{user}", str(user)


def make_engine(url: str) -> Engine:
    """An engine for the audit database; SQLite gets WAL, a busy timeout and explicit write transactions."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            dbapi_conn.isolation_level = None  # transactions are begun below, not by the driver
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock at the start, so read-check-write steps cannot interleave
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


@contextlib.contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """A lock file beside the SQLite database, held from before the first connection.

    The connection's own first statements (switching a new file to WAL) need the write lock and can fail
    with "database is locked" without waiting, so a second starter must not even connect until the first
    has migrated."""
    db = engine.url.database if engine.dialect.name == "sqlite" else None
    if not db or db == ":memory:":
        yield
        return
    with open(f"{db}.migrate.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _advisory_lock(engine: Engine, conn: Connection) -> Iterator[None]:
    """One migrator at a time on PostgreSQL (a no-op elsewhere)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
    conn.commit()
    try:
        yield
    finally:
        conn.rollback()
        conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
        conn.commit()


def _alembic_config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent.parent / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def migrate(engine: Engine) -> str:
    """Bring the database to the newest schema; returns the revision it is at."""
    with _sqlite_migration_lock(engine), engine.connect() as conn:
        with _advisory_lock(engine, conn):
            cfg = _alembic_config(conn)
            names = set(sa.inspect(conn).get_table_names())
            if "schema_version" in names and "alembic_version" not in names:
                # a database from the first store (numbered migrations in code): mark where it stands
                old = conn.exec_driver_sql("SELECT version FROM schema_version").scalar() or 0
                conn.commit()
                if old:
                    command.stamp(cfg, f"{int(old):04d}")
                    conn.commit()
                conn.exec_driver_sql("DROP TABLE schema_version")
                conn.commit()
            command.upgrade(cfg, "head")
            conn.commit()
            return str(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar())


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent.parent / "migrations"))
    return str(ScriptDirectory.from_config(cfg).get_current_head())


class AuditStore:
    """Cases, drafts, edits, approvals, users and working copies; `url` is a SQLAlchemy URL or a SQLite file path."""

    def __init__(self, url: str | Path) -> None:
        self.url = url if isinstance(url, str) and "://" in url else f"sqlite:///{Path(url)}"
        self.engine = make_engine(self.url)
        try:
            self.revision = migrate(self.engine)
        except sa.exc.OperationalError as exc:
            raise StoreError(f"Cannot open the audit database at {self.engine.url.render_as_string(hide_password=True)}: "
                             f"{exc.orig}. Check DRAFTER_DATABASE_URL and that the database server is running.") from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(write=True)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    # -- users and profiles -------------------------------------------------------------------------
    def touch_user(self, user: Identity) -> None:
        """Record a sign-in (name, e-mail and role as the identity provider and settings give them now)."""
        now = time.time()
        with self._write() as db:
            if db.execute(sa.select(t.users.c.id).where(t.users.c.id == user.id)).first():
                db.execute(t.users.update().where(t.users.c.id == user.id).values(name=user.name, email=user.email, role=user.role, last_seen=now))
            else:
                db.execute(t.users.insert().values(id=user.id, name=user.name, email=user.email, role=user.role, first_seen=now, last_seen=now))

    def users(self) -> list[dict]:
        with self._read() as db:
            return [dict(r._mapping) for r in db.execute(sa.select(t.users).order_by(t.users.c.name))]

    def profile(self, user_id: str) -> dict | None:
        with self._read() as db:
            row = db.execute(sa.select(t.profiles).where(t.profiles.c.user_id == user_id)).first()
        return dict(row._mapping) if row else None

    def save_profile(self, user: Identity, name: str, specialty: str, credentials: str, certification: str = "") -> None:
        values = dict(name=name.strip(), specialty=specialty.strip(), credentials=credentials.strip(), certification=certification.strip(),
                      updated=time.time())
        self.touch_user(user)
        with self._write() as db:
            if db.execute(sa.select(t.profiles.c.user_id).where(t.profiles.c.user_id == user.id)).first():
                db.execute(t.profiles.update().where(t.profiles.c.user_id == user.id).values(**values))
            else:
                db.execute(t.profiles.insert().values(user_id=user.id, **values))

    # -- cases --------------------------------------------------------------------------------------
    def create_case(self, user: Identity | str, name: str, request_date: str | None = None, items: list[str] | None = None) -> str:
        uid, uname = _actor(user)
        case_id = uuid.uuid4().hex[:12]
        with self._write() as db:
            db.execute(t.cases.insert().values(id=case_id, reviewer=uname, owner_id=uid, created=time.time(), name=name,
                                               request_date=request_date, items_json=json.dumps(items or [])))
        return case_id

    def _refuse_if_approved(self, db: Connection, case_id: str) -> dict:
        q = sa.select(t.cases).where(t.cases.c.id == case_id)
        if db.dialect.name == "postgresql":
            q = q.with_for_update()
        row = db.execute(q).first()
        if row is None:
            raise StoreError(f"Case {case_id} does not exist; pick a case from your list.")
        if row.status == "approved":
            raise CaseApproved(f"Case '{row.name}' is approved and its letter is final; nothing in it can change. "
                               "Create a new case for an amended determination.")
        return dict(row._mapping)

    def update_case(self, case_id: str, **fields: Any) -> None:
        """Change the case's name, request date, items or intake findings (refused once approved)."""
        allowed = {"name", "request_date", "items_json", "intake_json"}
        sets = {k: (json.dumps(v) if k in ("items_json", "intake_json") else v) for k, v in fields.items() if k in allowed}
        if sets:
            with self._write() as db:
                self._refuse_if_approved(db, case_id)
                db.execute(t.cases.update().where(t.cases.c.id == case_id).values(**sets))

    def case(self, case_id: str) -> dict | None:
        with self._read() as db:
            row = db.execute(sa.select(t.cases).where(t.cases.c.id == case_id)).first()
        return dict(row._mapping) if row else None

    def cases(self, user: Identity | str | None = None) -> list[dict]:
        """A reviewer's own cases, newest first; None lists every case (QA leads, admins)."""
        q = sa.select(t.cases).order_by(t.cases.c.created.desc())
        if user is not None:
            q = q.where(t.cases.c.owner_id == _actor(user)[0])
        with self._read() as db:
            return [dict(r._mapping) for r in db.execute(q)]

    # -- drafts, edits, working copies, approvals ---------------------------------------------------
    def save_draft(self, case_id: str, user: Identity | str, draft: dict, backend: str) -> int:
        uid, uname = _actor(user)
        retrieved = sorted({c for it in draft.get("items", []) for c in it.get("retrieved_chunk_ids", [])})
        with self._write() as db:
            self._refuse_if_approved(db, case_id)
            res = db.execute(t.drafts.insert().values(
                case_id=case_id, created=time.time(), reviewer=uname, user_id=uid, model=draft.get("model", ""), backend=backend,
                prompt_version=draft.get("prompt_version", ""), retrieved_json=json.dumps(retrieved), draft_json=json.dumps(draft)))
            return int(res.inserted_primary_key[0])

    def latest_draft(self, case_id: str) -> dict | None:
        with self._read() as db:
            row = db.execute(sa.select(t.drafts).where(t.drafts.c.case_id == case_id).order_by(t.drafts.c.id.desc()).limit(1)).first()
        return {**dict(row._mapping), "draft": json.loads(row.draft_json)} if row else None

    def _save_working(self, db: Connection, case_id: str, state: dict, uid: str, expected: int | None) -> int:
        """Write the working copy if this tab read the newest version (expected=0: there must be none yet;
        None: replace whatever is there, for callers without a tab such as the CLI)."""
        now, body = time.time(), json.dumps(state)
        current = db.execute(sa.select(t.working).where(t.working.c.case_id == case_id)).first()
        if current is None:
            if expected not in (None, 0):
                raise StaleWorkingCopy("This case's working copy was removed since this tab loaded it; reload the case.", None)
            db.execute(t.working.insert().values(case_id=case_id, updated=now, state_json=body, version=1, updated_by=uid))
            return 1
        if expected is not None and current.version != expected:
            newer = WorkingCopy(state=json.loads(current.state_json), version=current.version, updated=current.updated,
                                updated_by=current.updated_by)
            raise StaleWorkingCopy(
                f"This case was changed in another tab or by another reviewer (version {current.version}, this tab had "
                f"version {expected}). Your change was not saved; the newer text is shown, so make the change again there.", newer)
        version = current.version + 1
        db.execute(t.working.update().where(t.working.c.case_id == case_id).values(updated=now, state_json=body, version=version, updated_by=uid))
        return version

    def save_working(self, case_id: str, state: dict, user: Identity | str = "system", expected_version: int | None = None) -> int:
        """Save the working copy; returns its new version. Raises StaleWorkingCopy or CaseApproved."""
        with self._write() as db:
            self._refuse_if_approved(db, case_id)
            return self._save_working(db, case_id, state, _actor(user)[0], expected_version)

    def working(self, case_id: str) -> dict | None:
        wc = self.working_copy(case_id)
        return wc.state if wc else None

    def working_copy(self, case_id: str) -> WorkingCopy | None:
        with self._read() as db:
            row = db.execute(sa.select(t.working).where(t.working.c.case_id == case_id)).first()
        return WorkingCopy(state=json.loads(row.state_json), version=row.version, updated=row.updated, updated_by=row.updated_by) if row else None

    def record_edit(self, case_id: str, user: Identity | str, field: str, old: Any, new: Any, item_index: int | None = None,
                    state: dict | None = None, expected_version: int | None = None) -> int | None:
        """Log one edit and, when `state` is given, save the working copy with it in the same transaction
        (the edit and the text it produced are stored together or not at all). Returns the new version."""
        uid, uname = _actor(user)
        with self._write() as db:
            self._refuse_if_approved(db, case_id)
            version = self._save_working(db, case_id, state, uid, expected_version) if state is not None else None
            db.execute(t.edits.insert().values(case_id=case_id, created=time.time(), reviewer=uname, user_id=uid, item_index=item_index,
                                               field=field, old=json.dumps(old), new=json.dumps(new)))
            return version

    def edits(self, case_id: str) -> list[dict]:
        with self._read() as db:
            return [dict(r._mapping) for r in db.execute(sa.select(t.edits).where(t.edits.c.case_id == case_id).order_by(t.edits.c.id))]

    def approve(self, case_id: str, user: Identity | str, final_text: str, final: dict, expected_version: int | None = None,
                signed_on: str | None = None) -> int:
        """Approve in one transaction: refused when the case is already approved or the tab's working copy is stale."""
        uid, uname = _actor(user)
        with self._write() as db:
            self._refuse_if_approved(db, case_id)
            current = db.execute(sa.select(t.working.c.version).where(t.working.c.case_id == case_id)).scalar()
            if expected_version is not None and current is not None and current != expected_version:
                raise StaleWorkingCopy(f"This case was changed in another tab or by another reviewer (version {current}); "
                                       "review the newer text before approving.", self._copy(db, case_id))
            draft_id = db.execute(sa.select(sa.func.max(t.drafts.c.id)).where(t.drafts.c.case_id == case_id)).scalar()
            res = db.execute(t.approvals.insert().values(case_id=case_id, created=time.time(), reviewer=uname, user_id=uid,
                                                         final_text=final_text, final_json=json.dumps(final), draft_id=draft_id,
                                                         signed_on=signed_on))
            db.execute(t.cases.update().where(t.cases.c.id == case_id).values(status="approved"))
            return int(res.inserted_primary_key[0])

    def _copy(self, db: Connection, case_id: str) -> WorkingCopy | None:
        row = db.execute(sa.select(t.working).where(t.working.c.case_id == case_id)).first()
        return WorkingCopy(state=json.loads(row.state_json), version=row.version, updated=row.updated, updated_by=row.updated_by) if row else None

    def approvals(self, case_id: str) -> list[dict]:
        with self._read() as db:
            return [dict(r._mapping) for r in db.execute(sa.select(t.approvals).where(t.approvals.c.case_id == case_id).order_by(t.approvals.c.id))]

    # -- drafting jobs ------------------------------------------------------------------------------
    ACTIVE = ("queued", "running", "cancelling")

    def create_job(self, case_id: str, user: Identity | str, items: list[str], request_date: str | None) -> int:
        """Queue a draft of the case; refused while the case already has one queued or running."""
        uid, uname = _actor(user)
        with self._write() as db:
            self._refuse_if_approved(db, case_id)
            busy = db.execute(sa.select(t.jobs.c.id).where(t.jobs.c.case_id == case_id, t.jobs.c.status.in_(self.ACTIVE))).first()
            if busy:
                raise StoreError("This case is already being drafted; wait for it to finish or cancel it.")
            res = db.execute(t.jobs.insert().values(case_id=case_id, user_id=uid, reviewer=uname, status="queued",
                                                    items_json=json.dumps(items), request_date=request_date, created=time.time()))
            return int(res.inserted_primary_key[0])

    def job(self, job_id: int) -> dict | None:
        with self._read() as db:
            row = db.execute(sa.select(t.jobs).where(t.jobs.c.id == job_id)).first()
        return dict(row._mapping) if row else None

    def latest_job(self, case_id: str) -> dict | None:
        with self._read() as db:
            row = db.execute(sa.select(t.jobs).where(t.jobs.c.case_id == case_id).order_by(t.jobs.c.id.desc()).limit(1)).first()
        return dict(row._mapping) if row else None

    def jobs(self, statuses: tuple[str, ...] = ACTIVE) -> list[dict]:
        """Jobs in these states, oldest first (the queue as the sidebar shows it)."""
        q = sa.select(t.jobs, t.cases.c.name.label("case_name")).join(t.cases, t.cases.c.id == t.jobs.c.case_id)
        with self._read() as db:
            return [dict(r._mapping) for r in db.execute(q.where(t.jobs.c.status.in_(statuses)).order_by(t.jobs.c.id))]

    def set_job_status(self, job_id: int, status: str, error: str | None = None, only_from: tuple[str, ...] | None = None) -> bool:
        """Move a job to `status` (only from the given states, when given); False when it was not in them."""
        now = time.time()
        values: dict[str, Any] = {"status": status}
        if status == "running":
            values["started"] = now
        if status in ("done", "failed", "cancelled", "interrupted"):
            values["finished"] = now
        if error is not None:
            values["error"] = error
        q = t.jobs.update().where(t.jobs.c.id == job_id)
        if only_from:
            q = q.where(t.jobs.c.status.in_(only_from))
        with self._write() as db:
            return db.execute(q.values(**values)).rowcount > 0

    def interrupt_stale_jobs(self, older_than_s: float) -> int:
        """At start-up: a job that has been running longer than any draft takes belongs to a server that stopped;
        say so instead of spinning. Queued jobs stay queued for whichever worker is free."""
        with self._write() as db:
            return db.execute(t.jobs.update().where(t.jobs.c.status.in_(("running", "cancelling")),
                                                    t.jobs.c.started < time.time() - older_than_s)
                              .values(status="interrupted", finished=time.time(),
                                      error="The server stopped before this draft finished; draft again.")).rowcount

    def add_job_result(self, job_id: int, idx: int, payload: dict) -> None:
        with self._write() as db:
            db.execute(t.job_results.insert().values(job_id=job_id, idx=idx, created=time.time(), payload_json=json.dumps(payload)))

    def job_results(self, job_id: int) -> dict[int, dict]:
        with self._read() as db:
            rows = db.execute(sa.select(t.job_results).where(t.job_results.c.job_id == job_id).order_by(t.job_results.c.idx))
            return {r.idx: json.loads(r.payload_json) for r in rows}

    def timeline(self, case_id: str) -> list[dict]:
        """Every recorded event of a case in order: when, who, what (for the app's audit timeline and QA)."""
        events = []
        with self._read() as db:
            c = db.execute(sa.select(t.cases).where(t.cases.c.id == case_id)).first()
            if c:
                events.append({"when": c.created, "who": c.reviewer, "what": "created the case", "field": "case"})
            for d in db.execute(sa.select(t.drafts.c.created, t.drafts.c.reviewer, t.drafts.c.model, t.drafts.c.prompt_version)
                                .where(t.drafts.c.case_id == case_id)):
                events.append({"when": d.created, "who": d.reviewer, "what": f"drafted with {d.model} (prompts {d.prompt_version})",
                               "field": "draft"})
            for e in db.execute(sa.select(t.edits).where(t.edits.c.case_id == case_id)):
                events.append({"when": e.created, "who": e.reviewer, "field": e.field, "item_index": e.item_index,
                               "what": _describe_edit(e.field, e.item_index, e.old, e.new)})
            for a in db.execute(sa.select(t.approvals).where(t.approvals.c.case_id == case_id)):
                events.append({"when": a.created, "who": a.reviewer, "what": "approved and signed the letter", "field": "approval"})
        return sorted(events, key=lambda e: e["when"])


def _describe_edit(field: str, index: int | None, old: str | None, new: str | None) -> str:
    item = f"item {index + 1}: " if index is not None else ""
    before, after = (json.loads(x) if x else None for x in (old, new))
    if field == "decision":
        return f"{item}changed the decision from {before} to {after}"
    if field in ("rationale", "summary"):
        words = len(str(after or "").split()) - len(str(before or "").split())
        return f"{item}edited the {field} ({'+' if words >= 0 else ''}{words} words)"
    if field == "citation":
        (cid, ok), = dict(after or {}).items() or [("?", None)]
        return f"{item}{'accepted' if ok else 'rejected'} the citation {cid}"
    if field == "add_citation":
        return f"{item}added a guideline passage ({(after or {}).get('topic', '')})"
    if field == "regenerate":
        return f"{item}regenerated the rationale"
    return f"{item}changed {field}"
