"""On PostgreSQL a deployment runs the application as a role that does not own the tables.
Such a role, granted what the application needs (SELECT and INSERT on the trail, UPDATE of
the chain head), appends records; its UPDATE, DELETE and TRUNCATE of the trail are refused
by privileges, and it cannot switch the triggers off either. The owner, who may, is still
stopped by the triggers."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor, Channel
from checkonce.audit.service import head, record, verify
from checkonce.db import session_scope

APP = Actor(user_id=1, username="app", role="coordinator", channel=Channel.API)


def _refused(connection, statement: str) -> str:
    """The database's refusal of `statement` (rolled back to a savepoint)."""
    nested = connection.begin_nested()
    with pytest.raises(DBAPIError) as caught:
        connection.execute(text(statement))
    nested.rollback()
    assert getattr(caught.value.orig, "sqlstate", None) == "42501"  # insufficient_privilege
    return str(caught.value.orig)


def test_the_application_role_cannot_change_the_trail(fresh_engine):
    if fresh_engine.dialect.name != "postgresql":
        pytest.skip("roles and privileges are PostgreSQL's")
    with session_scope(fresh_engine) as s:
        record(s, actor=APP, action=AuditAction.LOGIN, object_type="user", object_id=1)
        schema = s.scalar(text("SELECT current_schema()"))
    role = f"checkonce_app_{uuid.uuid4().hex[:10]}"
    with fresh_engine.begin() as c:
        c.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
        c.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        c.execute(text(f'GRANT SELECT, INSERT ON audit_record, audit_checkpoint TO "{role}"'))
        c.execute(text(f'GRANT SELECT, UPDATE ON audit_head TO "{role}"'))
    try:
        with fresh_engine.connect() as c:
            outer = c.begin()
            c.execute(text(f'SET ROLE "{role}"'))
            # what the application does: append (in the role's own transaction)
            with Session(bind=c, join_transaction_mode="create_savepoint") as s:
                seq = record(
                    s, actor=APP, action=AuditAction.LOGOUT, object_type="user", object_id=1
                )
                s.commit()
            assert seq == 2
            for statement in (
                "UPDATE audit_record SET action = 'auth.login_failed' WHERE seq = 1",
                "DELETE FROM audit_record WHERE seq = 1",
                "TRUNCATE audit_record",
                "UPDATE audit_checkpoint SET hash = 'x'",
            ):
                assert "permission denied" in _refused(c, statement)
            assert "must be owner" in _refused(c, "ALTER TABLE audit_record DISABLE TRIGGER USER")
            c.execute(text("RESET ROLE"))
            # the owner has the privileges, and the triggers stop it
            for statement in (
                "UPDATE audit_record SET action = 'auth.login_failed' WHERE seq = 1",
                "DELETE FROM audit_record WHERE seq = 1",
                "TRUNCATE audit_record",
            ):
                assert "append-only" in _refused(c, statement)
            outer.commit()
        with session_scope(fresh_engine) as s:
            assert head(s)[0] == 2 and verify(s).ok
    finally:
        with fresh_engine.begin() as c:
            c.execute(text(f'DROP OWNED BY "{role}"'))
            c.execute(text(f'DROP ROLE "{role}"'))
