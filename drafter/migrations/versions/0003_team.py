"""A team's database: users and reviewer profiles, the signed-in user's id on every audit row, case owners,
intake fields kept with the case, and a version per working copy (optimistic concurrency).

Rows written before identities existed keep their reviewer name and get the owner id "local:<name>".

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIME = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table("users", sa.Column("id", sa.Text, primary_key=True), sa.Column("name", sa.Text, nullable=False),
                    sa.Column("email", sa.Text, nullable=False, server_default=""),
                    sa.Column("role", sa.Text, nullable=False, server_default="reviewer"),
                    sa.Column("first_seen", TIME, nullable=False), sa.Column("last_seen", TIME, nullable=False))
    op.create_table("profiles", sa.Column("user_id", sa.Text, sa.ForeignKey("users.id"), primary_key=True),
                    sa.Column("name", sa.Text, nullable=False, server_default=""),
                    sa.Column("specialty", sa.Text, nullable=False, server_default=""),
                    sa.Column("credentials", sa.Text, nullable=False, server_default=""),
                    sa.Column("certification", sa.Text, nullable=False, server_default=""),
                    sa.Column("updated", TIME, nullable=False))
    with op.batch_alter_table("cases") as b:
        b.add_column(sa.Column("owner_id", sa.Text))
        b.add_column(sa.Column("intake_json", sa.Text, nullable=False, server_default="{}"))
    op.execute("UPDATE cases SET owner_id = 'local:' || reviewer WHERE owner_id IS NULL")
    op.create_index("cases_owner", "cases", ["owner_id", "created"])
    for table in ("drafts", "edits", "approvals"):
        with op.batch_alter_table(table) as b:
            b.add_column(sa.Column("user_id", sa.Text))
        op.execute(f"UPDATE {table} SET user_id = 'local:' || reviewer WHERE user_id IS NULL")
    with op.batch_alter_table("approvals") as b:
        b.add_column(sa.Column("signed_on", sa.Text))
    with op.batch_alter_table("working") as b:
        b.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        b.add_column(sa.Column("updated_by", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("working") as b:
        b.drop_column("updated_by")
        b.drop_column("version")
    with op.batch_alter_table("approvals") as b:
        b.drop_column("signed_on")
    for table in ("approvals", "edits", "drafts"):
        with op.batch_alter_table(table) as b:
            b.drop_column("user_id")
    op.drop_index("cases_owner", "cases")
    with op.batch_alter_table("cases") as b:
        b.drop_column("intake_json")
        b.drop_column("owner_id")
    op.drop_table("profiles")
    op.drop_table("users")
