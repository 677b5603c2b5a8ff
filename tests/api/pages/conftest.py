"""Page tests: the API test client (rolled-back transaction) logged in through the session
cookie, as a browser would be."""

from __future__ import annotations

import pytest

from checkonce.api.cookies import SESSION_COOKIE
from checkonce.auth.service import issue_token
from tests.api.conftest import SECRET


@pytest.fixture
def login(client, users):
    """login(role): the client now carries that role's session cookie (None: logged out)."""

    def as_role(role: str | None):
        client.cookies.clear()
        if role is not None:
            client.cookies.set(SESSION_COOKIE, issue_token(users[role], secret=SECRET))
        return client

    return as_role


def csrf_of(client) -> str:
    """The CSRF token a page of this session carries (read back from a rendered page)."""
    import re

    page = client.get("/login")
    match = re.search(r'name="csrf-token" content="([0-9a-f]*)"', page.text)
    assert match, "the layout lost its csrf-token meta tag"
    return match.group(1)
