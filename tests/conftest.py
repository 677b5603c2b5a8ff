"""Database fixtures: every database test runs on SQLite and, when CHECKONCE_TEST_DATABASE_URL
is set, on PostgreSQL too. Each backend gets a fresh schema migrated by Alembic with the Xi'an
reference data (districts, bureaus, items, scenes, fee catalog) loaded once; each test runs
inside a transaction that is rolled back, so tests never see each other's rows."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from checkonce.db import make_engine, normalize_url
from checkonce.migrations import upgrade

PG_URL = os.environ.get("CHECKONCE_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
_PG_SCHEMAS: dict[int, str] = {}  # engine id -> its private schema, dropped afterwards


def create_test_engine(backend: str, tmp_dir, name: str) -> Engine:
    """A migrated, empty database of `backend`; on PostgreSQL a private schema."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_dir / (name + '.db')}"
        upgrade(url)
        return make_engine(url)
    schema = f"{name}_{os.getpid()}"
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # CI must fail, not skip, when PostgreSQL is unreachable
        raise RuntimeError(f"PostgreSQL at CHECKONCE_TEST_DATABASE_URL is unusable: {exc}") from exc
    finally:
        admin.dispose()
    url = normalize_url(PG_URL)
    sep = "&" if "?" in url else "?"
    schema_url = f"{url}{sep}options=-csearch_path%3D{schema}"
    upgrade(schema_url)
    engine = make_engine(schema_url)
    _PG_SCHEMAS[id(engine)] = schema
    return engine


def drop_test_engine(engine: Engine) -> None:
    schema = _PG_SCHEMAS.pop(id(engine), None)
    engine.dispose()
    if schema:
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request, tmp_path_factory) -> Iterator[Engine]:
    """A migrated database with the Xi'an reference data, one per backend."""
    from checkonce.config import packaged_data_dir
    from checkonce.db import session_scope
    from checkonce.registry.reference import load_reference

    eng = create_test_engine(request.param, tmp_path_factory.mktemp("db"), "checkonce_test")
    with session_scope(eng) as session:
        load_reference(session, packaged_data_dir())
    yield eng
    drop_test_engine(eng)


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session whose commits are savepoints inside one transaction rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def backend(engine: Engine) -> str:
    return engine.dialect.name


@pytest.fixture
def fresh_engine(engine: Engine, tmp_path) -> Iterator[Engine]:
    """An empty migrated database of the same backend as `engine` (no reference data)."""
    eng = create_test_engine(engine.dialect.name, tmp_path, "checkonce_fresh")
    yield eng
    drop_test_engine(eng)
