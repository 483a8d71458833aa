"""Alembic environment: run with the connection bot.store.db.upgrade() hands over, or from alembic.ini."""

from alembic import context
from sqlalchemy import create_engine

from bot.store.db import database_url
from bot.store.models import metadata

connection = context.config.attributes.get("connection")


def run(conn) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    with create_engine(database_url(), future=True).begin() as conn:
        run(conn)
