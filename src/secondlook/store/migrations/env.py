"""Alembic environment, configured from code (see secondlook.store.migrate); no alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from secondlook.store.db import is_sqlite, make_engine
from secondlook.store.tables import METADATA

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        render_as_batch=is_sqlite(str(connection.engine.url)),
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
