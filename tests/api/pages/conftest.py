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


def post_login(client, data: dict, **kwargs):
    """POST /login as the login page's form does: with the login CSRF token the page gave
    this browser (its cookie and the form's hidden field)."""
    import re

    page = client.get("/login")
    match = re.search(r'action="/login".*?name="csrf" value="([0-9a-f]+)"', page.text, re.S)
    assert match, "the login form lost its csrf field"
    return client.post("/login", data={**data, "csrf": match.group(1)}, **kwargs)
