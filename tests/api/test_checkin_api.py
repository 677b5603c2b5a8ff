"""Check-in over the API as the phone does it: poster → scan → POST /api/v1/checkins (with
retries), the /e and /v pages, inspection codes, alerts for coordinators, key rotation."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from checkonce.registry.models import Enterprise, Inspector
from checkonce.visits.checkin_models import CheckIn
from checkonce.visits.models import Visit
from tests import factories as f
from tests.visits.test_checkin import offset, statements, visit

ZONE = ZoneInfo("Asia/Shanghai")


def today() -> dt.date:
    return dt.datetime.now(ZONE).date()


@pytest.fixture
def officer(db_session, users) -> Inspector:
    return db_session.get(Inspector, users["inspector"].inspector_id)


@pytest.fixture
def firm(db_session, users) -> Enterprise:
    return db_session.get(Enterprise, users["enterprise"].enterprise_id)


def poster_url(client, headers, firm, fmt: str = "png", role: str = "enterprise") -> str:
    """Print the poster as the enterprise does and scan it back."""
    response = client.get(
        f"/api/v1/enterprises/{firm.credit_code}/poster.{fmt}", headers=headers[role]
    )
    assert response.status_code == 200, response.text
    if fmt == "png":
        assert response.headers["content-type"] == "image/png"
        [result] = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))
        assert result.text == response.headers["x-code-url"]
        return result.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert firm.name in response.text and firm.credit_code in response.text
    return response.headers["x-code-url"]


def body(firm, url: str, **overrides) -> dict:
    lat, lon = offset(firm, 30)
    values = {
        "token": url,
        "idempotency_key": str(uuid.uuid4()),
        "client_time": dt.datetime.now(dt.UTC).isoformat(),
        "lat": lat,
        "lon": lon,
    }
    values.update(overrides)
    return values


def test_scan_and_check_in_to_a_planned_visit_with_retries(
    client, headers, db_session, officer, firm
):
    planned = visit(db_session, firm, [officer, f.inspector(db_session)], day=today())
    url = poster_url(client, headers, firm)
    payload = body(firm, url, credit_code=firm.credit_code)

    first = client.post("/api/v1/checkins", json=payload, headers=headers["inspector"])
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["outcome"] == "planned" and answer["visit_id"] == planned.id
    assert answer["visit_code"] in answer["message"] and "签到成功" in answer["message"]
    assert answer["distance_m"] == pytest.approx(30, abs=1) and not answer["outside_geofence"]
    assert "idempotent-replay" not in first.headers

    retry = client.post("/api/v1/checkins", json=payload, headers=headers["inspector"])
    assert retry.status_code == 201 and retry.headers["idempotent-replay"] == "true"
    assert retry.json() == answer
    assert db_session.scalar(select(func.count()).select_from(CheckIn)) == 1
    db_session.expire_all()
    assert db_session.get(Visit, planned.id).state == "checked_in"

    changed = client.post(
        "/api/v1/checkins",
        json={**payload, "lat": payload["lat"] + 0.01},
        headers=headers["inspector"],
    )
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "idempotency_key_reused"


def test_a_check_in_request_takes_few_round_trips(client, headers, db_session, officer, firm):
    """The whole request, answer included (nothing the answer shows is loaded again)."""
    visit(db_session, firm, [officer, f.inspector(db_session)], day=today())
    url = poster_url(client, headers, firm)
    assert client.get(url.split("testserver", 1)[1]).status_code == 200  # the key, now cached
    payload = body(firm, url)
    seq = f.audit_seq(db_session)
    traced = {**headers["inspector"], "X-Request-ID": "req-checkin-0001"}
    with statements(db_session) as ran:
        first = client.post("/api/v1/checkins", json=payload, headers=traced)
    assert first.status_code == 201 and first.json()["outcome"] == "planned"
    # + the audit record (head, insert, head's hash) + the token's account re-read: a token
    # of a deactivated account, or one whose password or role changed, is refused at once.
    assert len(ran) <= 7 + 3 + 1, ran
    assert sum("FROM app_user" in s for s in ran) == 1, ran
    with statements(db_session) as ran:
        retry = client.post("/api/v1/checkins", json=payload, headers=headers["inspector"])
    assert retry.json() == first.json()
    assert len(ran) <= 2, ran
    # One record, as the inspector's account, through the API, with the request's id; the
    # replay added none.
    [record] = f.audit_since(db_session, seq)
    assert record["action"] == "visit.checkin" and record["channel"] == "api"
    assert record["actor"]["username"] == "insp1" and record["actor"]["user_id"] is not None
    assert record["request_id"] == "req-checkin-0001"
    assert record["enterprise_id"] == firm.id and record["object"]["id"] == str(first.json()["id"])
    assert record["after"]["outcome"] == "planned" and record["detail"] is None


def test_an_unplanned_entry_is_recorded_and_alerted(client, headers, officer, firm):
    url = poster_url(client, headers, firm, fmt="svg", role="admin")
    lat, lon = offset(firm, 1_500)
    response = client.post(
        "/api/v1/checkins", json=body(firm, url, lat=lat, lon=lon), headers=headers["inspector"]
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["outcome"] == "unplanned" and answer["visit_id"] is None
    assert answer["outside_geofence"] and "超出范围" in answer["message"]
    assert "计划外入企" in answer["message"]

    alerts = client.get("/api/v1/alerts", headers=headers["coordinator"])
    assert alerts.status_code == 200
    page = alerts.json()
    assert page["total"] == 1
    [alert] = page["items"]
    assert alert["kind"] == "unplanned_entry" and alert["credit_code"] == firm.credit_code
    assert "计划外入企" in alert["message"]
    filtered = client.get(
        "/api/v1/alerts", params={"kind": "entries_per_day"}, headers=headers["coordinator"]
    )
    assert filtered.json()["total"] == 0
    bad = client.get("/api/v1/alerts", params={"kind": "x"}, headers=headers["coordinator"])
    assert bad.status_code == 422 and bad.json()["error"]["message"]

    mine = client.get("/api/v1/checkins", headers=headers["inspector"]).json()
    theirs = client.get("/api/v1/checkins", headers=headers["enterprise"]).json()
    flagged = client.get(
        "/api/v1/checkins", params={"flagged": True}, headers=headers["coordinator"]
    ).json()
    assert mine["total"] == theirs["total"] == flagged["total"] == 1


@pytest.mark.parametrize("how", ["tampered", "garbage_url", "other_enterprise"])
def test_refused_codes_answer_in_chinese_and_store_nothing(client, headers, db_session, firm, how):
    url = poster_url(client, headers, firm)
    credit_code = None
    if how == "tampered":
        url = url[:-3] + ("xyz" if not url.endswith("xyz") else "abc")
    elif how == "garbage_url":
        url = "https://example.com/pay?token=123456789"
    else:
        other = f.enterprise(db_session)
        url = poster_url(client, headers, other, role="admin")
        credit_code = firm.credit_code
    response = client.post(
        "/api/v1/checkins",
        json=body(firm, url, credit_code=credit_code),
        headers=headers["inspector"],
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"].startswith("code_") and any(
        "\u4e00" <= c <= "\u9fff" for c in error["message"]
    )
    assert db_session.scalar(select(func.count()).select_from(CheckIn)) == 0


def test_back_fill_over_the_api(client, headers, firm):
    url = poster_url(client, headers, firm)
    past = dt.datetime.now(ZONE) - dt.timedelta(days=4)
    ok = client.post(
        "/api/v1/checkins",
        json=body(
            firm,
            url,
            client_time=past.isoformat(),
            lat=None,
            lon=None,
            backfill_reason="当时无网络",
        ),
        headers=headers["inspector"],
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["backfill"] and "补录" in ok.json()["message"]
    too_late = client.post(
        "/api/v1/checkins",
        json=body(
            firm,
            url,
            client_time=(past - dt.timedelta(days=8)).isoformat(),
            backfill_reason="忘记了",
        ),
        headers=headers["inspector"],
    )
    assert too_late.status_code == 422
    assert too_late.json()["error"]["code"] == "backfill_too_late"


def test_posters_are_the_enterprises_own(client, headers, db_session, firm):
    other = f.enterprise(db_session)
    response = client.get(
        f"/api/v1/enterprises/{other.credit_code}/poster.png", headers=headers["enterprise"]
    )
    assert response.status_code == 404
    assert (
        client.get(
            f"/api/v1/enterprises/{other.credit_code}/poster.svg", headers=headers["admin"]
        ).status_code
        == 200
    )
    # The enterprise code is what a check-in rests on: no other staff account gets it, in
    # any format, whichever enterprise it asks for (and so never the X-Code-Url header).
    for role in ("inspector", "bureau", "coordinator"):
        for credit_code in (firm.credit_code, other.credit_code):
            for fmt in ("png", "svg"):
                refused = client.get(
                    f"/api/v1/enterprises/{credit_code}/poster.{fmt}", headers=headers[role]
                )
                assert refused.status_code == 403, (role, fmt)
                assert "x-code-url" not in refused.headers and "/e/" not in refused.text
    assert (
        client.get(
            f"/api/v1/enterprises/{firm.credit_code}/poster.gif", headers=headers["enterprise"]
        ).status_code
        == 422
    )


def test_the_enterprise_page_behind_the_poster(client, headers, firm):
    url = poster_url(client, headers, firm)
    path = url.split("testserver", 1)[1]
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert firm.name in page.text and firm.credit_code in page.text and "一键签到" in page.text
    # Government networks have no internet: nothing is loaded from elsewhere.
    # Scripts come from the app itself (/static), never from another host.
    assert page.text.count("<script src") == page.text.count('<script src="/static/')
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert page.headers["cache-control"] == "no-store"
    broken = client.get(path[:-2] + "zz")
    assert broken.status_code == 404 and "此企业码无效" in broken.text


def test_inspection_code_page_for_the_enterprise(client, headers, db_session, officer, firm):
    colleague = f.inspector(db_session, "FIRE")
    planned = visit(
        db_session, firm, [officer, colleague], day=today(), items=("SAMR-SP-001", "FIRE-001")
    )
    code = client.get(f"/api/v1/visits/{planned.id}/code", headers=headers["inspector"])
    assert code.status_code == 200, code.text
    data = code.json()
    assert data["valid_on"] == today().isoformat() and data["url"].endswith(data["token"])

    page = client.get(f"/v/{data['token']}")
    assert page.status_code == 200
    for text in (
        officer.name,
        officer.certificate_no,
        str(officer.certificate_valid_to),
        firm.name,
    ):
        assert text in page.text
    for link in planned.tasks:
        assert link.task.item.legal_basis in page.text
    assert "未登记的检查" not in page.text

    qr = client.get(f"/api/v1/visits/{planned.id}/code.svg", headers=headers["inspector"])
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")

    # Tomorrow's visit: the code exists but the page refuses it today.
    later = visit(db_session, firm, [officer, colleague], day=today() + dt.timedelta(days=1))
    token = client.get(f"/api/v1/visits/{later.id}/code", headers=headers["inspector"]).json()[
        "token"
    ]
    refused = client.get(f"/v/{token}")
    assert refused.status_code == 404
    assert "未登记的检查：您有权拒绝" in refused.text and "当日有效" in refused.text
    assert "未登记的检查：您有权拒绝" in client.get("/v/not-a-code").text


def test_inspection_codes_only_for_own_visits(client, headers, db_session, firm):
    stranger_visit = visit(
        db_session, firm, [f.inspector(db_session), f.inspector(db_session)], day=today()
    )
    response = client.get(f"/api/v1/visits/{stranger_visit.id}/code", headers=headers["inspector"])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_key_rotation_and_revocation_over_the_api(client, headers, firm):
    old_url = poster_url(client, headers, firm)
    keys = client.get("/api/v1/code-keys", headers=headers["admin"]).json()
    [current] = [k for k in keys if k["current"]]
    rotated = client.post("/api/v1/code-keys", headers=headers["admin"])
    assert rotated.status_code == 201 and rotated.json()["current"]
    revoked = client.post(
        f"/api/v1/code-keys/{current['kid']}/revoke",
        json={"reason": "海报外泄"},
        headers=headers["admin"],
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = client.post(
        "/api/v1/checkins", json=body(firm, old_url), headers=headers["inspector"]
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "code_revoked"
    new_url = poster_url(client, headers, firm)
    assert new_url != old_url
    ok = client.post("/api/v1/checkins", json=body(firm, new_url), headers=headers["inspector"])
    assert ok.status_code == 201
    again = client.post(
        f"/api/v1/code-keys/{current['kid']}/revoke",
        json={"reason": "再次"},
        headers=headers["admin"],
    )
    assert again.status_code == 409


def test_pages_escape_what_the_registry_holds(client, headers, db_session):
    firm = f.enterprise(db_session, name="<script>alert('x')</script>餐饮店")
    url = poster_url(client, headers, firm, role="admin")
    page = client.get(url.split("testserver", 1)[1])
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text
