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


# Every acting route and the audited action its service performs: the route's gate admits
# exactly the roles the access module lets perform it, so the API and the CLI (which meets
# only the service's gate) allow the same people the same deeds.
ACTION_ROUTES = {
    ("POST", "/api/v1/plans"): "plan.create",
    ("POST", "/api/v1/plans/upload"): "plan.import",
    ("POST", "/api/v1/plans/{plan_id}/validate"): "plan.validate",
    ("POST", "/api/v1/plans/{plan_id}/submit"): "plan.submit",
    ("POST", "/api/v1/plans/{plan_id}/approve"): "plan.approve",
    ("POST", "/api/v1/plans/{plan_id}/publish"): "plan.publish",
    ("POST", "/api/v1/plans/{plan_id}/return"): "plan.return",
    ("POST", "/api/v1/draws"): "draw.commit",
    ("POST", "/api/v1/draws/{draw_id}/run"): "draw.run",
    ("POST", "/api/v1/draws/{draw_id}/reveal"): "draw.reveal",
    ("POST", "/api/v1/draws/{draw_id}/publish"): "draw.publish",
    ("POST", "/api/v1/draws/{draw_id}/beacon"): "draw.beacon",
    ("POST", "/api/v1/draws/{draw_id}/redraw"): "draw.redraw_request",
    ("POST", "/api/v1/redraw-requests/{request_id}/approve"): "draw.redraw_approve",
    ("POST", "/api/v1/redraw-requests/{request_id}/reject"): "draw.redraw_reject",
    ("POST", "/api/v1/schedules/jobs"): "schedule.generate",
    ("POST", "/api/v1/schedules/{schedule_id}/publish"): "schedule.publish",
    ("POST", "/api/v1/checkins"): "visit.checkin",
    ("POST", "/api/v1/visits/{visit_id}/tasks/{task_id}/result"): "finding.result_record",
    ("POST", "/api/v1/results/{result_id}/photos"): "finding.photo_upload",
    ("POST", "/api/v1/results/publish"): "finding.result_publish",
    ("POST", "/api/v1/results/{result_id}/publish"): "finding.result_publish",
    ("PUT", "/api/v1/visits/{visit_id}/rating"): "enterprise.rating_create",
    ("POST", "/api/v1/fees/findings"): "finding.fee_finding",
    ("POST", "/api/v1/fees/findings/{finding_id}/review"): "finding.fee_review",
    ("POST", "/api/v1/fees/refunds/{refund_id}/confirm"): "finding.refund_update",
    ("POST", "/api/v1/fees/refunds/{refund_id}/refunded"): "finding.refund_update",
    ("POST", "/api/v1/code-keys"): "auth.key_create",
    ("POST", "/api/v1/code-keys/{kid}/revoke"): "auth.key_revoke",
    ("POST", "/api/v1/enterprises"): "registry.enterprise_create",
    ("PATCH", "/api/v1/enterprises/{credit_code}"): "registry.enterprise_update",
    ("PATCH", "/api/v1/inspectors/{code}"): "registry.certificate_update",
    ("POST", "/api/v1/conflicts"): "registry.conflict_create",
    ("POST", "/api/v1/conflicts/{conflict_id}/withdraw"): "registry.conflict_delete",
    ("POST", "/api/v1/imports/enterprises"): "registry.enterprise_import",
    ("POST", "/api/v1/imports/inspectors"): "registry.inspector_import",
    ("POST", "/api/v1/visits/{visit_id}/documents"): "document.generate",
    ("POST", "/api/v1/documents/{document_id}/signatures"): "document.sign",
    ("POST", "/api/v1/documents/{document_id}/send"): "document.send",
    ("POST", "/api/v1/visits/{visit_id}/reschedule-requests"): "enterprise.reschedule_request",
    ("POST", "/api/v1/reschedule-requests/{request_id}/reject"): "schedule.reschedule_reject",
    ("POST", "/api/v1/reschedule-requests/replan"): "schedule.reschedule_replan",
}


def test_route_gates_match_the_access_module(app):
    from checkonce.audit.actions import AuditAction
    from checkonce.auth import access

    routes = {
        (method, route.path): route
        for route in api_routes(app)
        for method in route.methods - {"HEAD", "OPTIONS"}
    }
    missing = sorted(key for key in ACTION_ROUTES if key not in routes)
    assert not missing, f"routes gone or renamed: {missing}"
    for key, action in ACTION_ROUTES.items():
        assert declared_roles(routes[key]) == access.roles_for(AuditAction(action)), key
