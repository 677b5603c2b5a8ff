"""Findings over the API: the inspector records, others are refused or see nothing of
another tenant (404), the coordinator publishes and the public lists and downloads; ratings
stay anonymous to the bureau; fee findings, review and refunds are scoped."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from checkonce.api.routers.schedules import today as today_dependency
from checkonce.registry.models import Enterprise, Inspector
from tests import factories as f
from tests.findings.conftest import answers, tasks_of

DAY = dt.date(2026, 11, 18)
API = "/api/v1"


@pytest.fixture
def world(db_session, users, app):
    s = db_session
    firm = s.get(Enterprise, users["enterprise"].enterprise_id)
    officer = s.get(Inspector, users["inspector"].inspector_id)
    fire = [f.inspector(s, "FIRE"), f.inspector(s, "FIRE")]
    visit = f.visit_with_tasks(
        s,
        firm,
        [officer, f.inspector(s, "SAMR"), *fire],
        day=DAY,
        items=("SAMR-SP-001", "FIRE-001"),
    )
    food, fire_task = tasks_of(s, visit)
    other_firm = f.enterprise(s)
    other = f.visit_with_tasks(
        s, other_firm, [f.inspector(s, "SAMR"), f.inspector(s, "SAMR")], day=DAY
    )
    app.dependency_overrides[today_dependency] = lambda: dt.date(2026, 11, 20)
    return {
        "firm": firm,
        "visit": visit,
        "food": food,
        "fire_task": fire_task,
        "fire": fire,
        "other": other,
        "other_firm": other_firm,
    }


def passed_body(session, task):
    return {"result": "passed", "checklist": answers(session, task)}


def post_result(client, headers, world, task, body, role="inspector"):
    return client.post(
        f"{API}/visits/{world['visit'].id}/tasks/{task.id}/result", json=body, headers=headers[role]
    )


def test_inspector_records_and_bureau_sees_only_its_department(client, headers, world, db_session):
    r = post_result(client, headers, world, world["food"], passed_body(db_session, world["food"]))
    assert r.status_code == 201, r.text
    assert r.json()["revision"] == 1 and r.json()["result_name"] == "合格"
    # The SAMR inspector may not record the FIRE task.
    r = post_result(
        client, headers, world, world["fire_task"], passed_body(db_session, world["fire_task"])
    )
    assert r.status_code == 400 and "谁检查、谁录入" in r.json()["error"]["message"]
    bureau = client.get(
        f"{API}/visits/{world['visit'].id}/results", headers=headers["bureau"]
    ).json()
    assert [t["department"] for t in bureau] == ["SAMR"]
    coord = client.get(
        f"{API}/visits/{world['visit'].id}/results", headers=headers["coordinator"]
    ).json()
    assert [t["result"] is not None for t in coord] == [True, False]


def test_other_tenants_visit_is_404(client, headers, world, db_session):
    (task,) = tasks_of(db_session, world["other"])
    r = client.post(
        f"{API}/visits/{world['other'].id}/tasks/{task.id}/result",
        json=passed_body(db_session, task),
        headers=headers["inspector"],
    )
    assert r.status_code == 404
    r = client.get(f"{API}/visits/{world['other'].id}/results", headers=headers["inspector"])
    assert r.status_code == 404


@pytest.mark.parametrize("role", ["coordinator", "bureau", "enterprise", "admin"])
def test_only_inspectors_record(client, headers, world, db_session, role):
    r = post_result(
        client, headers, world, world["food"], passed_body(db_session, world["food"]), role
    )
    assert r.status_code == 403


def test_publish_then_public_list_and_csv(client, headers, world, db_session):
    rid = post_result(
        client, headers, world, world["food"], passed_body(db_session, world["food"])
    ).json()["id"]
    assert client.get(f"{API}/public/results", params={"period": "2026Q4"}).json()["total"] == 0
    r = client.post(f"{API}/results/{rid}/publish", headers=headers["bureau"])
    assert r.status_code == 403
    r = client.post(
        f"{API}/results/publish", json={"result_ids": [rid]}, headers=headers["coordinator"]
    )
    assert r.status_code == 200 and r.json() == {"published": [rid]}
    public = client.get(f"{API}/public/results", params={"period": "2026Q4"}).json()
    assert public["total"] == 1 and public["items"][0]["credit_code"] == world["firm"].credit_code
    r = client.get(f"{API}/public/results.csv", params={"period": "2026Q4"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "统一社会信用代码",
        "企业名称",
        "检查事项",
        "检查部门",
        "检查日期",
        "检查结果",
    ]
    assert rows[1][0] == world["firm"].credit_code and rows[1][4:] == ["2026-11-18", "合格"]


def test_overdue_per_department_and_bureau_scope(client, headers, world, db_session, app):
    post_result(client, headers, world, world["food"], passed_body(db_session, world["food"]))
    app.dependency_overrides[today_dependency] = lambda: dt.date(2027, 1, 5)
    coord = client.get(f"{API}/results/overdue", headers=headers["coordinator"]).json()
    assert {(o["department"], o["status"]) for o in coord} == {
        ("SAMR", "unpublished"),
        ("FIRE", "unrecorded"),
        ("SAMR", "unrecorded"),
    }
    bureau = client.get(f"{API}/results/overdue", headers=headers["bureau"]).json()
    assert {o["department"] for o in bureau} == {"SAMR"}


def test_photo_upload_and_download(client, headers, world, db_session, tmp_path, monkeypatch):
    monkeypatch.setenv("CHECKONCE_PHOTOS_DIR", str(tmp_path))
    rid = post_result(
        client, headers, world, world["food"], passed_body(db_session, world["food"])
    ).json()["id"]
    from tests.findings.test_results import picture

    png = picture()
    # The attacks: a PNG with an HTML page appended, and a truncated one.
    r = client.post(
        f"{API}/results/{rid}/photos",
        files={"file": ("a.png", png + b"<html><script>x()</script>", "image/png")},
        headers=headers["inspector"],
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    truncated = client.post(
        f"{API}/results/{rid}/photos",
        files={"file": ("b.png", png[:-30], "image/png")},
        headers=headers["inspector"],
    )
    assert truncated.status_code == 400 and "不完整" in truncated.json()["error"]["message"]
    r = client.post(
        f"{API}/results/{rid}/photos",
        files={"file": ("a.txt", b"hello", "image/png")},
        headers=headers["inspector"],
    )
    assert r.status_code == 400
    r = client.get(f"{API}/results/{rid}/photos/{pid}", headers=headers["bureau"])
    assert r.status_code == 200 and b"<script>" not in r.content
    assert r.content.startswith(b"\x89PNG") and r.content.endswith(b"IEND\xaeB`\x82")


def test_rating_is_anonymous_to_the_bureau(client, headers, world, db_session):
    world["visit"].state = "completed"
    db_session.flush()
    r = client.put(
        f"{API}/visits/{world['visit'].id}/rating",
        json={"score": 2, "comment": "态度差"},
        headers=headers["enterprise"],
    )
    assert r.status_code == 200, r.text
    r = client.put(
        f"{API}/visits/{world['other'].id}/rating", json={"score": 5}, headers=headers["enterprise"]
    )
    assert r.status_code == 404
    summary = client.get(f"{API}/ratings/summary", headers=headers["bureau"]).json()
    assert summary == {
        "department": "SAMR",
        "count": 1,
        "suppressed": True,
        "mean": None,
        "distribution": None,
    }
    assert client.get(f"{API}/ratings", headers=headers["bureau"]).status_code == 403
    full = client.get(f"{API}/ratings", headers=headers["coordinator"]).json()
    assert full[0]["enterprise_id"] == world["firm"].id and full[0]["comment"] == "态度差"


def test_fee_findings_scoped_review_and_refunds(client, headers, world, db_session):
    body = {
        "unit": "SEII",
        "item": "特种设备检测费",
        "amount": "520",
        "charged_on": "2026-10-09",
        "receipt_no": "SE-1",
    }
    r = client.post(f"{API}/fees/findings", json=body, headers=headers["enterprise"])
    assert r.status_code == 201, r.text
    finding = r.json()
    assert finding["verdict"] == "needs_review" and finding["match_score"] == pytest.approx(87.5)
    r = client.post(
        f"{API}/fees/findings",
        json={
            **body,
            "receipt_no": "SE-2",
            "item": "电梯定期检验费",
            "visit_id": world["visit"].id,
        },
        headers=headers["inspector"],
    )
    assert r.status_code == 201 and r.json()["verdict"] == "over_standard"
    assert r.json()["source"] == "visit"
    queue = client.get(f"{API}/fees/review", headers=headers["coordinator"]).json()
    assert [q["id"] for q in queue] == [finding["id"]]
    r = client.post(
        f"{API}/fees/findings/{finding['id']}/review",
        json={"entry_code": None, "note": "检测费不在目录"},
        headers=headers["coordinator"],
    )
    assert r.json()["verdict"] == "off_catalog" and r.json()["refund_state"] == "due"
    refund_id = r.json()["refund_id"]
    # The bureau (SAMR) collected none of these charges: it sees none of them.
    assert client.get(f"{API}/fees/findings", headers=headers["bureau"]).json()["total"] == 0
    assert (
        client.get(f"{API}/fees/findings/{finding['id']}", headers=headers["bureau"]).status_code
        == 404
    )
    mine = client.get(f"{API}/fees/findings", headers=headers["enterprise"]).json()
    assert mine["total"] == 2
    r = client.post(
        f"{API}/fees/refunds/{refund_id}/confirm",
        json={"on": "2026-11-20"},
        headers=headers["coordinator"],
    )
    assert r.status_code == 200 and r.json()["state"] == "confirmed"
    r = client.post(
        f"{API}/fees/refunds/{refund_id}/refunded",
        json={"on": "2026-11-19"},
        headers=headers["coordinator"],
    )
    assert r.status_code == 400
    totals = client.get(f"{API}/fees/refunds/totals", headers=headers["coordinator"]).json()
    assert totals["by_unit"][0]["key"] == "SEII"
    assert totals["by_unit"][0]["total"] == "640.00"


def test_fee_check_explains(client, headers, world):
    r = client.post(
        f"{API}/fees/check",
        json={
            "unit": "SEII",
            "item": "设备检验服务费",
            "amount": "300",
            "charged_on": "2026-10-09",
        },
        headers=headers["enterprise"],
    )
    assert r.status_code == 200
    assert r.json()["verdict"] == "off_catalog" and "清单之外" in r.json()["explanation"]


def test_fee_check_refuses_zero_amounts_and_future_dates_like_the_cli(client, headers, world):
    base = {"unit": "SEII", "item": "特种设备检验检测费", "amount": "400"}
    zero = client.post(
        f"{API}/fees/check",
        json={**base, "amount": "0", "charged_on": "2026-10-09"},
        headers=headers["enterprise"],
    )
    assert zero.status_code == 422 and "amount" in zero.json()["error"]["message"]
    future = client.post(
        f"{API}/fees/check",
        json={**base, "charged_on": "2031-01-01"},
        headers=headers["enterprise"],
    )
    assert future.status_code == 400 and "晚于今天" in future.json()["error"]["message"]
