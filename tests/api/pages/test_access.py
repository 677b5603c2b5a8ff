"""Who may open which page, read from the page routes themselves: every page declares
PageAllow(...) or PUBLIC; anonymous visitors go to the login page and come back; a
logged-in user of another role gets a 403 page, never the page."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from checkonce.auth.models import ROLES
from tests.api.test_authorization import declared_roles

NOT_PAGES = ("/api/", "/healthz", "/readyz", "/metrics", "/docs", "/openapi", "/static", "/vendor")


def page_routes(app) -> list:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        routes = list(app.routes)
    else:
        routes = list(iter_route_contexts(app.routes))
    found = [
        r
        for r in routes
        if isinstance(getattr(r, "original_route", r), APIRoute)
        and not (r.path or "").startswith(NOT_PAGES)
    ]
    assert found, "no page routes found: the route walk is broken"
    return found


def test_every_page_declares_who_may_open_it(app):
    undeclared = [
        f"{sorted(r.methods)} {r.path}" for r in page_routes(app) if declared_roles(r) is None
    ]
    assert not undeclared, f"pages without PageAllow(...)/PUBLIC: {undeclared}"


def test_page_matrix(app, login):
    checked = 0
    for route in page_routes(app):
        if "GET" not in route.methods:
            continue
        roles = declared_roles(route)
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for caller in (*ROLES, None):
            client = login(caller)
            response = client.get(path, follow_redirects=False)
            if caller is None and "anonymous" not in roles:
                assert response.status_code == 303, (path, response.status_code)
                assert response.headers["location"].startswith("/login?next="), path
            elif caller is not None and caller not in roles:
                assert response.status_code == 403, (path, caller, response.status_code)
                assert "无权打开此页面" in response.text
            else:
                assert response.status_code not in (401, 403), (path, caller, response.text[:300])
                assert response.status_code < 500, (path, caller, response.text[:300])
            checked += 1
    assert checked >= 6
