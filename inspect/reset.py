"""Emptying a database for the demo: drops every CheckOnce table and the migration marker."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text
from sqlalchemy.engine import make_url

from checkonce.db import make_engine, normalize_url


def reset_database(url: str) -> None:
    """Remove all CheckOnce data at `url`: a SQLite file is deleted, other databases have
    their tables dropped (only tables of this schema's metadata and alembic_version)."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    import checkonce.models  # noqa: F401  (complete metadata)
    from checkonce.db import Base

    engine = make_engine(url)
    try:
        Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            if sa_inspect(conn).has_table("alembic_version"):
                conn.execute(text("DROP TABLE alembic_version"))
    finally:
        engine.dispose()
