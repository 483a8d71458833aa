"""conversations, anonymous counts, contact drafts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 15:09:17.158412
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("article", sa.String(length=128), nullable=False),
        sa.Column("conversations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_counts")),
        sa.UniqueConstraint("day", "team", "article", name="uq_article_counts_key"),
    )
    op.create_table(
        "contact_drafts",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_contact_drafts")),
    )
    with op.batch_alter_table("contact_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_drafts_created_at"), ["created_at"], unique=False)

    op.create_table(
        "conversation_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("handover", sa.Boolean(), nullable=False),
        sa.Column("conversations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_counts")),
        sa.UniqueConstraint("day", "team", "topic", "handover", name="uq_conversation_counts_key"),
    )
    op.create_table(
        "conversation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("type_name", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.Column("intent_name", sa.String(length=255), nullable=True),
        sa.Column("action_name", sa.String(length=255), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_events")),
    )
    with op.batch_alter_table("conversation_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversation_events_sender_id"), ["sender_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversation_events_timestamp"), ["timestamp"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("conversation_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_events_timestamp"))
        batch_op.drop_index(batch_op.f("ix_conversation_events_sender_id"))

    op.drop_table("conversation_events")
    op.drop_table("conversation_counts")
    with op.batch_alter_table("contact_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_drafts_created_at"))

    op.drop_table("contact_drafts")
    op.drop_table("article_counts")
