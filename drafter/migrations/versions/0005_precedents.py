"""The letter archive: one row per disputed item of a past IMR letter, for precedent filters and outcome counts.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIME = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table("precedents", sa.Column("id", sa.Text, primary_key=True), sa.Column("letter_path", sa.Text, nullable=False),
                    sa.Column("letter_name", sa.Text, nullable=False), sa.Column("content_hash", sa.Text, nullable=False),
                    sa.Column("item_index", sa.Integer, nullable=False), sa.Column("letter_date", sa.Text),
                    sa.Column("item", sa.Text, nullable=False), sa.Column("category", sa.Text, nullable=False),
                    sa.Column("treatment", sa.Text, nullable=False), sa.Column("generic", sa.Text),
                    sa.Column("family", sa.Text, nullable=False), sa.Column("decision", sa.Text, nullable=False),
                    sa.Column("citations_json", sa.Text, nullable=False, server_default="[]"),
                    sa.Column("pages", sa.Text, nullable=False, server_default=""), sa.Column("rationale", sa.Text, nullable=False, server_default=""),
                    sa.Column("key_facts_json", sa.Text, nullable=False, server_default="[]"),
                    sa.Column("facts", sa.Text, nullable=False, server_default="|"), sa.Column("layout", sa.Text, nullable=False),
                    sa.Column("ingested", TIME, nullable=False))
    op.create_index("precedents_hash", "precedents", ["content_hash"])
    op.create_index("precedents_path", "precedents", ["letter_path"])
    op.create_index("precedents_family", "precedents", ["family", "decision"])


def downgrade() -> None:
    op.drop_index("precedents_family", "precedents")
    op.drop_index("precedents_path", "precedents")
    op.drop_index("precedents_hash", "precedents")
    op.drop_table("precedents")
