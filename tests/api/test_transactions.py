"""A request's transaction is committed before its response leaves: when the commit fails,
the client gets an error, never a success for data that was not stored."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.api.conftest import PASSWORD


def test_a_failed_commit_is_an_error_not_a_success(app, client, users, monkeypatch):
    original = app.state.sessions

    class FailingCommit(Session):
        def commit(self) -> None:
            raise OperationalError("COMMIT", {}, Exception("disk full"))

    def sessions():
        made = original()
        made.__class__ = FailingCommit
        return made

    monkeypatch.setattr(app.state, "sessions", sessions)
    response = client.post("/api/v1/auth/token", data={"username": "coord1", "password": PASSWORD})
    assert response.status_code == 500
    assert "access_token" not in response.text


def test_a_successful_request_is_committed_when_answered(app, client, users):
    response = client.post("/api/v1/auth/token", data={"username": "coord1", "password": PASSWORD})
    assert response.status_code == 200 and response.json()["access_token"]
