"""The audit trail: cases, drafts, edits, approvals (the schema of the first SQLite store).

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIME = sa.Float(precision=53)  # epoch seconds; double precision on PostgreSQL


def upgrade() -> None:
    op.create_table("cases", sa.Column("id", sa.Text, primary_key=True), sa.Column("reviewer", sa.Text, nullable=False),
                    sa.Column("created", TIME, nullable=False), sa.Column("name", sa.Text, nullable=False),
                    sa.Column("request_date", sa.Text), sa.Column("items_json", sa.Text, nullable=False, server_default="[]"),
                    sa.Column("status", sa.Text, nullable=False, server_default="open"))
    op.create_table("drafts", sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("case_id", sa.Text, sa.ForeignKey("cases.id"), nullable=False), sa.Column("created", TIME, nullable=False),
                    sa.Column("reviewer", sa.Text, nullable=False), sa.Column("model", sa.Text, nullable=False),
                    sa.Column("backend", sa.Text, nullable=False), sa.Column("prompt_version", sa.Text, nullable=False),
                    sa.Column("retrieved_json", sa.Text, nullable=False), sa.Column("draft_json", sa.Text, nullable=False))
    op.create_table("edits", sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("case_id", sa.Text, sa.ForeignKey("cases.id"), nullable=False), sa.Column("created", TIME, nullable=False),
                    sa.Column("reviewer", sa.Text, nullable=False), sa.Column("item_index", sa.Integer),
                    sa.Column("field", sa.Text, nullable=False), sa.Column("old", sa.Text), sa.Column("new", sa.Text))
    op.create_table("approvals", sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("case_id", sa.Text, sa.ForeignKey("cases.id"), nullable=False), sa.Column("created", TIME, nullable=False),
                    sa.Column("reviewer", sa.Text, nullable=False), sa.Column("final_text", sa.Text, nullable=False),
                    sa.Column("final_json", sa.Text, nullable=False), sa.Column("draft_id", sa.Integer))
    op.create_index("drafts_case", "drafts", ["case_id", "id"])
    op.create_index("edits_case", "edits", ["case_id", "id"])


def downgrade() -> None:
    for t in ("approvals", "edits", "drafts", "cases"):
        op.drop_table(t)
