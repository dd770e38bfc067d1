"""The audit database's tables as the store queries them (the schema at the newest migration).

The migrations in drafter/migrations/versions create and change these tables; this module only describes
the result, so a change here needs a migration beside it (tests/unit/test_audit_store.py compares them).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
TIME = sa.Float(precision=53)  # epoch seconds

users = sa.Table(
    "users", metadata, sa.Column("id", sa.Text, primary_key=True), sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False, server_default=""), sa.Column("role", sa.Text, nullable=False, server_default="reviewer"),
    sa.Column("first_seen", TIME, nullable=False), sa.Column("last_seen", TIME, nullable=False),
)
profiles = sa.Table(
    "profiles", metadata, sa.Column("user_id", sa.Text, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, server_default=""), sa.Column("specialty", sa.Text, nullable=False, server_default=""),
    sa.Column("credentials", sa.Text, nullable=False, server_default=""),
    sa.Column("certification", sa.Text, nullable=False, server_default=""), sa.Column("updated", TIME, nullable=False),
)
cases = sa.Table(
    "cases", metadata, sa.Column("id", sa.Text, primary_key=True), sa.Column("reviewer", sa.Text, nullable=False),
    sa.Column("created", TIME, nullable=False), sa.Column("name", sa.Text, nullable=False), sa.Column("request_date", sa.Text),
    sa.Column("items_json", sa.Text, nullable=False, server_default="[]"), sa.Column("status", sa.Text, nullable=False, server_default="open"),
    sa.Column("owner_id", sa.Text), sa.Column("intake_json", sa.Text, nullable=False, server_default="{}"),
)
drafts = sa.Table(
    "drafts", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Text, sa.ForeignKey("cases.id"), nullable=False), sa.Column("created", TIME, nullable=False),
    sa.Column("reviewer", sa.Text, nullable=False), sa.Column("model", sa.Text, nullable=False), sa.Column("backend", sa.Text, nullable=False),
    sa.Column("prompt_version", sa.Text, nullable=False), sa.Column("retrieved_json", sa.Text, nullable=False),
    sa.Column("draft_json", sa.Text, nullable=False), sa.Column("user_id", sa.Text),
)
edits = sa.Table(
    "edits", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Text, sa.ForeignKey("cases.id"), nullable=False), sa.Column("created", TIME, nullable=False),
    sa.Column("reviewer", sa.Text, nullable=False), sa.Column("item_index", sa.Integer), sa.Column("field", sa.Text, nullable=False),
    sa.Column("old", sa.Text), sa.Column("new", sa.Text), sa.Column("user_id", sa.Text),
)
approvals = sa.Table(
    "approvals", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Text, sa.ForeignKey("cases.id"), nullable=False), sa.Column("created", TIME, nullable=False),
    sa.Column("reviewer", sa.Text, nullable=False), sa.Column("final_text", sa.Text, nullable=False),
    sa.Column("final_json", sa.Text, nullable=False), sa.Column("draft_id", sa.Integer), sa.Column("user_id", sa.Text),
    sa.Column("signed_on", sa.Text),
)
working = sa.Table(
    "working", metadata, sa.Column("case_id", sa.Text, sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("updated", TIME, nullable=False), sa.Column("state_json", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"), sa.Column("updated_by", sa.Text),
)
jobs = sa.Table(
    "jobs", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Text, sa.ForeignKey("cases.id"), nullable=False), sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("reviewer", sa.Text, nullable=False), sa.Column("status", sa.Text, nullable=False, server_default="queued"),
    sa.Column("items_json", sa.Text, nullable=False), sa.Column("request_date", sa.Text), sa.Column("created", TIME, nullable=False),
    sa.Column("started", TIME), sa.Column("finished", TIME), sa.Column("error", sa.Text),
)
job_results = sa.Table(
    "job_results", metadata, sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True), sa.Column("created", TIME, nullable=False), sa.Column("payload_json", sa.Text, nullable=False),
)
precedents = sa.Table(  # the letter archive (drafter/precedents/): `facts` is "|fact=reading|...|" so a LIKE finds one fact
    "precedents", metadata, sa.Column("id", sa.Text, primary_key=True), sa.Column("letter_path", sa.Text, nullable=False),
    sa.Column("letter_name", sa.Text, nullable=False), sa.Column("content_hash", sa.Text, nullable=False),
    sa.Column("item_index", sa.Integer, nullable=False), sa.Column("letter_date", sa.Text), sa.Column("item", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False), sa.Column("treatment", sa.Text, nullable=False), sa.Column("generic", sa.Text),
    sa.Column("family", sa.Text, nullable=False), sa.Column("decision", sa.Text, nullable=False),
    sa.Column("citations_json", sa.Text, nullable=False, server_default="[]"), sa.Column("pages", sa.Text, nullable=False, server_default=""),
    sa.Column("rationale", sa.Text, nullable=False, server_default=""), sa.Column("key_facts_json", sa.Text, nullable=False, server_default="[]"),
    sa.Column("facts", sa.Text, nullable=False, server_default="|"), sa.Column("layout", sa.Text, nullable=False),
    sa.Column("ingested", TIME, nullable=False),
    sa.Index("precedents_hash", "content_hash"), sa.Index("precedents_path", "letter_path"), sa.Index("precedents_family", "family", "decision"),
)
