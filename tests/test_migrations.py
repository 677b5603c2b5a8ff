"""The Alembic migrations build exactly the schema the models describe, on each backend."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import checkonce.models  # noqa: F401  (every domain's tables)
from checkonce.db import Base
from checkonce.migrations import head_revision, is_current


def test_database_is_at_head(engine):
    assert is_current(engine)
    assert head_revision()


def test_migrations_match_the_models(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"
