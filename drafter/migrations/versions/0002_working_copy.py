"""The working copy of each case (the reviewer's current edited state), so a refresh loses nothing.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("working", sa.Column("case_id", sa.Text, sa.ForeignKey("cases.id"), primary_key=True),
                    sa.Column("updated", sa.Float(precision=53), nullable=False), sa.Column("state_json", sa.Text, nullable=False))


def downgrade() -> None:
    op.drop_table("working")
