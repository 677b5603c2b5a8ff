"""Login over HTTP: tokens, one answer for wrong user or password, rate limit (429)."""

from checkonce.auth.service import MAX_FAILURES_PER_USER
from tests.api.conftest import PASSWORD


def test_login_endpoint_and_rate_limit_over_http(client, users):
    ok = client.post("/api/v1/auth/token", data={"username": "coord1", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["role"] == "coordinator"
    token = ok.json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "coord1"
    bodies = set()
    for username in ("coord1", "nosuchuser"):
        bad = client.post("/api/v1/auth/token", data={"username": username, "password": "x" * 12})
        assert bad.status_code == 401
        bodies.add(bad.text)
    assert len(bodies) == 1  # no hint whether the user exists
    for _ in range(MAX_FAILURES_PER_USER):
        client.post("/api/v1/auth/token", data={"username": "coord1", "password": "x" * 12})
    limited = client.post("/api/v1/auth/token", data={"username": "coord1", "password": PASSWORD})
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "too_many_attempts"
