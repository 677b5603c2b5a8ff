"""The documents API: who may generate, read, sign and send; the enterprise sees its own
outward documents only while it may see the visit; reschedule options, request and the
coordinator's re-plan."""

from __future__ import annotations

import datetime as dt

import pytest

from checkonce.api.deps import today as today_dependency
from checkonce.registry.models import Inspector
from tests import factories as f
from tests.api.conftest import app, client, headers, users  # noqa: F401 (fixtures)
from tests.documents.test_signatures import ink

DAY = dt.date(2026, 11, 18)


@pytest.fixture
def scene(db_session, users, app):  # noqa: F811
    officer = db_session.get(Inspector, users["inspector"].inspector_id)
    firm_id = users["enterprise"].enterprise_id
    from checkonce.registry.models import Enterprise

    firm = db_session.get(Enterprise, firm_id)
    visit = f.visit_with_tasks(
        db_session, firm, [officer, f.inspector(db_session, "SAMR")], day=DAY, state="scheduled"
    )
    visit.announced = True
    visit.schedule.period = "2026Q4"
    db_session.flush()
    state = {"today": dt.date(2026, 11, 13)}
    app.dependency_overrides[today_dependency] = lambda: state["today"]
    return {"visit": visit, "state": state}


def test_generate_read_and_hide(client, headers, scene, db_session):  # noqa: F811
    visit = scene["visit"]
    made = client.post(
        f"/api/v1/visits/{visit.id}/documents",
        json={"kind": "notice"},
        headers=headers["inspector"],
    )
    assert made.status_code == 201, made.text
    doc = made.json()[0]
    assert doc["doc_no"].endswith("检通〔2026〕1号") and doc["verify_url"].endswith(
        "/d/" + doc["verify_url"].rsplit("/", 1)[1]
    )
    seen = client.get(f"/api/v1/visits/{visit.id}/documents", headers=headers["enterprise"])
    assert [d["kind"] for d in seen.json()] == ["notice"]
    pdf = client.get(doc["pdf_url"], headers=headers["enterprise"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    # Before the notice period the enterprise may not see the visit, nor its documents.
    scene["state"]["today"] = dt.date(2026, 11, 10)
    assert client.get(doc["pdf_url"], headers=headers["enterprise"]).status_code == 404
    # The enterprise never generates; an approval is refused with the reason.
    assert (
        client.post(
            f"/api/v1/visits/{visit.id}/documents",
            json={"kind": "notice"},
            headers=headers["enterprise"],
        ).status_code
        == 403
    )
    refused = client.post(
        f"/api/v1/visits/{visit.id}/documents",
        json={"kind": "approval"},
        headers=headers["coordinator"],
    )
    assert refused.status_code == 400 and "没有需要审批" in refused.json()["error"]["message"]


def test_inspector_signs_on_the_api(client, headers, scene, db_session):  # noqa: F811
    visit = scene["visit"]
    visit.state = "checked_in"
    db_session.flush()
    doc = client.post(
        f"/api/v1/visits/{visit.id}/documents",
        json={"kind": "onsite_record"},
        headers=headers["inspector"],
    ).json()[0]
    signed = client.post(
        f"/api/v1/documents/{doc['id']}/signatures",
        json={"signer": "inspector", "image": ink()},
        headers=headers["inspector"],
    )
    assert signed.status_code == 201, signed.text
    assert len(signed.json()["document"]["missing_signers"]) == 2  # colleague and enterprise
    assert (
        client.post(
            f"/api/v1/documents/{doc['id']}/signatures",
            json={"signer": "inspector", "image": ink()},
            headers=headers["bureau"],
        ).status_code
        == 403
    )


def test_enterprise_moves_its_visit_and_the_coordinator_replans(client, headers, scene):  # noqa: F811
    visit = scene["visit"]
    options = client.get(
        f"/api/v1/visits/{visit.id}/reschedule-options", headers=headers["enterprise"]
    ).json()
    assert options["allowed"] and "2026-11-23" in [d["day"] for d in options["days"]]
    asked = client.post(
        f"/api/v1/visits/{visit.id}/reschedule-requests",
        json={"day": "2026-11-23", "reason": "当天停业盘点"},
        headers=headers["enterprise"],
    )
    assert asked.status_code == 201, asked.text
    again = client.get(
        f"/api/v1/visits/{visit.id}/reschedule-options", headers=headers["enterprise"]
    ).json()
    assert not again["allowed"] and "一次" in again["reason"]
    listed = client.get(
        "/api/v1/reschedule-requests?state=pending", headers=headers["coordinator"]
    ).json()
    assert [r["visit_code"] for r in listed] == [visit.code]
    done = client.post(
        "/api/v1/reschedule-requests/replan",
        json={"period": "2026Q4"},
        headers=headers["coordinator"],
    )
    assert done.status_code == 201, done.text
    assert done.json()["violations"] == 0 and done.json()["moved"] == 1
    assert (
        client.get("/api/v1/reschedule-requests", headers=headers["enterprise"]).status_code == 403
    )


def test_staff_reading_a_pdf_is_audited(client, headers, scene, db_session):  # noqa: F811
    import json

    from sqlalchemy import select

    from checkonce.audit.models import AuditRecord

    visit = scene["visit"]
    doc = client.post(
        f"/api/v1/visits/{visit.id}/documents",
        json={"kind": "notice"},
        headers=headers["coordinator"],
    ).json()[0]
    assert client.get(doc["pdf_url"], headers=headers["coordinator"]).status_code == 200
    assert client.get(doc["pdf_url"], headers=headers["enterprise"]).status_code == 200
    reads = db_session.scalars(
        select(AuditRecord).where(
            AuditRecord.action == "data.read", AuditRecord.object_type == "document"
        )
    ).all()
    assert [r.actor_role for r in reads] == ["coordinator"]
    assert json.loads(reads[0].body)["detail"]["doc_no"] == doc["doc_no"]
