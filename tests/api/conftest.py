"""An API client bound to the test's transaction (rolled back afterwards) and users of every
role with their access tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from checkonce.api.app import create_app
from checkonce.auth.models import ROLES
from checkonce.auth.service import create_user, issue_token
from checkonce.config import Settings
from tests import factories as f

SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery"


@pytest.fixture
def app(engine, db_session):
    application = create_app(Settings(env="test", secret_key=SECRET), engine=engine)
    connection = db_session.connection()
    application.state.sessions = lambda: Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def users(db_session) -> dict:
    """One user per role: the bureau is 市场监管 (SAMR), the inspector a SAMR officer, the
    enterprise a restaurant."""
    firm = f.enterprise(db_session)
    officer = f.inspector(db_session, "SAMR")
    made = {
        "admin": create_user(
            db_session=db_session, actor=f.SETUP, username="admin1", password=PASSWORD, role="admin"
        ),
        "coordinator": create_user(
            db_session=db_session,
            actor=f.SETUP,
            username="coord1",
            password=PASSWORD,
            role="coordinator",
        ),
        "bureau": create_user(
            db_session=db_session,
            actor=f.SETUP,
            username="samr1",
            password=PASSWORD,
            role="bureau",
            department="SAMR",
        ),
        "inspector": create_user(
            db_session=db_session,
            actor=f.SETUP,
            username="insp1",
            password=PASSWORD,
            role="inspector",
            inspector=officer.code,
        ),
        "enterprise": create_user(
            db_session=db_session,
            actor=f.SETUP,
            username="firm1",
            password=PASSWORD,
            role="enterprise",
            credit_code=firm.credit_code,
        ),
    }
    assert set(made) == set(ROLES)
    return made


@pytest.fixture
def headers(users) -> dict[str, dict[str, str]]:
    """Authorization headers per role; 'anonymous' sends none."""
    out = {
        role: {"Authorization": f"Bearer {issue_token(u, secret=SECRET)}"}
        for role, u in users.items()
    }
    out["anonymous"] = {}
    return out
