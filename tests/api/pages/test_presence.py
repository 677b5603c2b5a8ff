"""Presence over the API and the pages: the remote check-in attack replayed (no staff account
gets an enterprise's code; a check-in made with a copied code stays unconfirmed and is flagged
to coordinators, on the dashboard, the alert map and in the result's audit record), the
enterprise confirming from its own account (its visit page, or the inspector's code), and an
inspection code shown to an enterprise it is not for."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from checkonce.audit.models import AuditRecord
from checkonce.registry.models import Enterprise, Inspector
from checkonce.visits.checkin_models import CheckIn
from checkonce.visits.inspection_codes import inspection_token
from tests import factories as f
from tests.api.conftest import SECRET
from tests.api.pages.conftest import csrf_of
from tests.api.pages.test_coordinator import kpi
from tests.api.test_authorization import CALLERS
from tests.api.test_checkin_api import body, poster_url, today
from tests.visits.test_checkin import visit

UNCONFIRMED = "签到未经企业确认的检查"


@pytest.fixture
def officer(db_session, users) -> Inspector:
    return db_session.get(Inspector, users["inspector"].inspector_id)


@pytest.fixture
def firm(db_session, users) -> Enterprise:
    return db_session.get(Enterprise, users["enterprise"].enterprise_id)


def audit(db_session, action: str) -> list[dict]:
    rows = db_session.scalars(
        select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.seq)
    )
    return [json.loads(r.body) for r in rows]


def result_payload(task) -> dict:
    return {
        "result": "passed",
        "checklist": {line.key: {"answer": "ok"} for line in task.item.checklist},
    }


def test_remote_check_in_replayed(client, login, headers, db_session, officer, firm):
    planned = visit(db_session, firm, [officer, f.inspector(db_session)], day=today())
    # 1. No staff account gets the enterprise's code: not the poster, not its URL.
    for caller in CALLERS:
        if caller in ("admin", "enterprise"):
            continue
        for fmt in ("png", "svg"):
            answer = client.get(
                f"/api/v1/enterprises/{firm.credit_code}/poster.{fmt}", headers=headers[caller]
            )
            assert answer.status_code in (401, 403), (caller, answer.status_code)
            assert "x-code-url" not in answer.headers

    # 2. With a copy of the poster anyway (a photo of the door), from afar, claiming 0 m:
    copied = poster_url(client, headers, firm)
    sent = client.post(
        "/api/v1/checkins",
        json=body(firm, copied, lat=firm.lat, lon=firm.lon),
        headers=headers["inspector"],
    )
    assert sent.status_code == 201, sent.text
    answer = sent.json()
    assert answer["outcome"] == "planned" and answer["distance_m"] == 0
    assert answer["confirmed"] is False and answer["confirmed_at"] is None
    assert "请企业扫描您的检查码或在其检查页面确认到场" in answer["message"]

    # 3. The coordinator sees it flagged: dashboard KPI and list, and the alert map.
    dashboard = login("coordinator").get("/coordinator")
    assert kpi(dashboard.text, UNCONFIRMED) == "1"
    section = dashboard.text.split('id="unconfirmed"', 1)[1].split("</section>", 1)[0]
    assert planned.code in section and firm.name in section and officer.name in section
    alert_map = client.get("/api/v1/maps/alerts", headers=headers["coordinator"])
    layer = "签到未经企业确认（1 条）"
    assert alert_map.status_code == 200 and "入企预警：1 条" in alert_map.text
    assert layer in alert_map.text or json.dumps(layer)[1:-1] in alert_map.text

    # 4. A result recorded now carries the flag into the audit trail.
    task = planned.tasks[0].task
    recorded = client.post(
        f"/api/v1/visits/{planned.id}/tasks/{task.id}/result",
        json=result_payload(task),
        headers=headers["inspector"],
    )
    assert recorded.status_code == 201, recorded.text
    [trail] = audit(db_session, "finding.result_record")
    assert trail["detail"]["presence"] == "unconfirmed"
    assert trail["actor"]["role"] == "inspector" and trail["channel"] == "api"


def test_the_enterprise_confirms_on_its_visit_page(
    client, login, headers, db_session, officer, firm
):
    planned = visit(db_session, firm, [officer, f.inspector(db_session)], day=today())
    sent = client.post(
        "/api/v1/checkins",
        json=body(firm, poster_url(client, headers, firm)),
        headers=headers["inspector"],
    ).json()

    browser = login("enterprise")
    home = browser.get("/enterprise")
    assert 'id="pending"' in home.text and f"/enterprise/visits/{planned.id}" in home.text
    page = browser.get(f"/enterprise/visits/{planned.id}")
    assert page.status_code == 200 and officer.name in page.text
    action = f"/enterprise/visits/{planned.id}/checkins/{sent['id']}/confirm"
    assert action in page.text and "签到未经企业确认" in page.text

    # Without the page's CSRF token nothing happens.
    assert browser.post(action, data={}).status_code == 403
    done = browser.post(action, data={"csrf": csrf_of(browser)}, follow_redirects=False)
    assert done.status_code == 303
    row = db_session.get(CheckIn, sent["id"])
    db_session.refresh(row)
    assert row.confirm_method == "visit_page" and row.confirmed_by == "enterprise:firm1"
    after = browser.get(f"/enterprise/visits/{planned.id}")
    assert "企业已确认到场" in after.text and action not in after.text
    assert 'id="pending"' not in browser.get("/enterprise").text
    assert kpi(login("coordinator").get("/coordinator").text, UNCONFIRMED) == "0"

    listed = client.get("/api/v1/checkins?confirmed=true", headers=headers["enterprise"]).json()
    assert [c["id"] for c in listed["items"]] == [sent["id"]]
    assert listed["items"][0]["confirm_method"] == "visit_page"

    # Another enterprise cannot open the visit nor confirm anything in it.
    stranger = f.enterprise(db_session)
    from checkonce.api.cookies import SESSION_COOKIE
    from checkonce.auth.service import create_user, issue_token

    other = create_user(
        db_session=db_session,
        actor=f.SETUP,
        username="firm2",
        password="correct horse battery",
        role="enterprise",
        credit_code=stranger.credit_code,
    )
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, issue_token(other, secret=SECRET))
    assert client.get(f"/enterprise/visits/{planned.id}").status_code == 404
    assert client.post(action, data={"csrf": csrf_of(client)}).status_code == 404


def test_scanning_the_inspectors_code_confirms_and_another_enterprise_is_told(
    client,
    login,
    headers,
    db_session,
    officer,
    firm,
):
    planned = visit(db_session, firm, [officer, f.inspector(db_session)], day=today())
    token = client.get(f"/api/v1/visits/{planned.id}/code", headers=headers["inspector"]).json()[
        "token"
    ]

    browser = login("enterprise")
    early = browser.get(f"/v/{token}")
    assert early.status_code == 200 and "尚未扫描贵企业门口的企业码签到" in early.text
    assert "确认到场</button>" not in early.text

    sent = client.post(
        "/api/v1/checkins",
        json=body(firm, poster_url(client, headers, firm)),
        headers=headers["inspector"],
    ).json()
    browser = login("enterprise")
    page = browser.get(f"/v/{token}")
    assert "确认到场</button>" in page.text and officer.name in page.text
    done = browser.post(
        f"/v/{token}/confirm", data={"csrf": csrf_of(browser)}, follow_redirects=False
    )
    assert done.status_code == 303
    row = db_session.get(CheckIn, sent["id"])
    db_session.refresh(row)
    assert row.confirm_method == "inspection_code"
    assert "贵企业已于" in browser.get(f"/v/{token}").text

    # The same valid code shown to another logged-in enterprise: not for it, and recorded.
    stranger = f.enterprise(db_session)
    from checkonce.api.cookies import SESSION_COOKIE
    from checkonce.auth.service import create_user, issue_token

    other = create_user(
        db_session=db_session,
        actor=f.SETUP,
        username="firm3",
        password="correct horse battery",
        role="enterprise",
        credit_code=stranger.credit_code,
    )
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, issue_token(other, secret=SECRET))
    wrong = client.get(f"/v/{token}")
    assert wrong.status_code == 403
    assert "此检查不是针对贵企业的" in wrong.text and "已登记的检查" not in wrong.text
    assert officer.name not in wrong.text and firm.name not in wrong.text
    refused = client.post(f"/v/{token}/confirm", data={"csrf": csrf_of(client)})
    assert refused.status_code == 409 and "不是针对贵企业" in refused.text
    outcomes = [
        (r["enterprise_id"], r["detail"]["outcome"]) for r in audit(db_session, "visit.code_verify")
    ]
    assert (stranger.id, "other_enterprise") in outcomes and (firm.id, "registered") in outcomes
    assert [r["object"]["id"] for r in audit(db_session, "visit.checkin_confirm")] == [
        str(sent["id"])
    ]

    # Anonymous scans see the inspection as before and leave no record.
    client.cookies.clear()
    before = len(audit(db_session, "visit.code_verify"))
    assert client.get(f"/v/{token}").status_code == 200
    assert len(audit(db_session, "visit.code_verify")) == before


def test_a_code_for_tomorrow_is_refused_for_confirmation(
    client, login, headers, db_session, officer, firm
):
    import datetime as dt

    later = visit(
        db_session, firm, [officer, f.inspector(db_session)], day=today() + dt.timedelta(days=1)
    )
    token = inspection_token(
        db_session=db_session,
        secret_key=SECRET,
        visit_id=later.id,
        inspector_id=officer.id,
        day=later.day,
    )
    browser = login("enterprise")
    answer = browser.post(f"/v/{token}/confirm", data={"csrf": csrf_of(browser)})
    assert answer.status_code == 409 and "当日有效" in answer.text
    assert re.search(r"未登记的检查", answer.text)
