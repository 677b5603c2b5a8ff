"""Authorization matrix: every API route × every role, generated from the app's routes.
A route without an Allow(...) or PUBLIC declaration fails this test."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from checkonce.api.deps import Allow, Public
from checkonce.auth.models import ROLES

CALLERS = (*ROLES, "anonymous")


def declared_roles(route) -> frozenset[str] | None:
    """The roles a route admits, read from its Allow/Public dependencies (None: undeclared)."""
    original = getattr(route, "original_route", route)
    stack = list(original.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Allow | Public):
            return dep.call.roles
        stack.extend(dep.dependencies)
    return None


def api_routes(app) -> list:
    """Every API route with its full path (FastAPI ≥ 0.160 keeps included routers nested)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are flattened into app.routes
        routes = list(app.routes)
    else:
        routes = list(iter_route_contexts(app.routes))
    found = [
        r
        for r in routes
        if isinstance(getattr(r, "original_route", r), APIRoute)
        and (r.path or "").startswith("/api/")
    ]
    assert found, "no API routes found: the route walk is broken"
    return found


def test_every_route_declares_who_may_call_it(app):
    undeclared = [
        f"{sorted(r.methods)} {r.path}" for r in api_routes(app) if declared_roles(r) is None
    ]
    assert not undeclared, f"routes without Allow(...)/PUBLIC: {undeclared}"


def test_matrix(app, client, headers):
    checked = 0
    for route in api_routes(app):
        roles = declared_roles(route)
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            for caller in CALLERS:
                response = client.request(method, path, headers=headers[caller])
                allowed = caller in roles
                if allowed:
                    assert response.status_code not in (401, 403), (
                        method,
                        path,
                        caller,
                        response.text,
                    )
                else:
                    expected = 401 if caller == "anonymous" else 403
                    assert response.status_code == expected, (method, path, caller, response.text)
                    body = response.json()["error"]
                    assert body["code"] and body["message"]
                checked += 1
    assert checked >= 6 * len(CALLERS)


@pytest.mark.parametrize("role", ROLES)
def test_me_reports_the_role(client, headers, role):
    response = client.get("/api/v1/auth/me", headers=headers[role])
    assert response.status_code == 200 and response.json()["role"] == role
