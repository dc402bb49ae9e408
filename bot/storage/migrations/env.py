"""Alembic's environment. Radar runs it with a connection (`bot.storage.migrations`); the
`alembic` command in a checkout (for `alembic revision --autogenerate`) connects to
`RADAR_DB` instead."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection

from bot.storage.engine import engine_url
from bot.storage.schema import metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        run(given)
        return
    if not os.environ.get("RADAR_DB"):
        raise SystemExit("set RADAR_DB to the database to compare the tables with")
    url = engine_url(os.environ["RADAR_DB"])
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            run(connection)
            connection.commit()
    finally:
        engine.dispose()


main()
