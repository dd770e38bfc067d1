"""Drafting jobs: a queue per loaded model, drafted items stored as they finish (a refresh or a closed tab loses
nothing; the case's tab takes them into the working copy).

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIME = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table("jobs", sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("case_id", sa.Text, sa.ForeignKey("cases.id"), nullable=False),
                    sa.Column("user_id", sa.Text, nullable=False), sa.Column("reviewer", sa.Text, nullable=False),
                    sa.Column("status", sa.Text, nullable=False, server_default="queued"),
                    sa.Column("items_json", sa.Text, nullable=False), sa.Column("request_date", sa.Text),
                    sa.Column("created", TIME, nullable=False), sa.Column("started", TIME), sa.Column("finished", TIME),
                    sa.Column("error", sa.Text))
    op.create_index("jobs_case", "jobs", ["case_id", "id"])
    op.create_index("jobs_status", "jobs", ["status", "id"])
    op.create_table("job_results", sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), primary_key=True),
                    sa.Column("idx", sa.Integer, primary_key=True), sa.Column("created", TIME, nullable=False),
                    sa.Column("payload_json", sa.Text, nullable=False))


def downgrade() -> None:
    op.drop_table("job_results")
    op.drop_index("jobs_status", "jobs")
    op.drop_index("jobs_case", "jobs")
    op.drop_table("jobs")
