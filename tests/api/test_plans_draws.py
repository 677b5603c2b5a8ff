"""Plans and draws over the API: bureaus only touch their own department's plans, the
coordinator approves and draws, the public sees only what is published."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from checkonce.plans.models import Plan
from checkonce.sampling import service as draws
from checkonce.sampling.verify import verify_published
from tests import factories as f
from tests.sampling.ceremony import BOSS

WINDOW = ["2026-03-02", "2026-03-31"]


def random_plan(dept="SAMR", item="SAMR-SP-001"):
    return {
        "department": dept,
        "period": "2026Q1",
        "title": "一季度计划",
        "tasks": [
            {
                "kind": "random",
                "items": [item],
                "window": WINDOW,
                "scope": {"industries": ["restaurant"]},
            }
        ],
    }


def test_bureau_files_only_its_own_department(client, headers, db_session):
    for _ in range(4):
        f.enterprise(db_session, risk_class="D")
    own = client.post("/api/v1/plans", json=random_plan(), headers=headers["bureau"])
    assert own.status_code == 201, own.text
    assert own.json()["department"] == "SAMR" and own.json()["state"] == "draft"
    other = client.post(
        "/api/v1/plans", json=random_plan("FIRE", "FIRE-001"), headers=headers["bureau"]
    )
    assert other.status_code == 403 and "本部门" in other.json()["error"]["message"]

    fire = client.post(
        "/api/v1/plans", json=random_plan("FIRE", "FIRE-001"), headers=headers["coordinator"]
    )
    assert fire.status_code == 201
    listed = client.get("/api/v1/plans", headers=headers["bureau"]).json()
    assert {p["department"] for p in listed["items"]} == {"SAMR"}
    hidden = client.get(f"/api/v1/plans/{fire.json()['id']}", headers=headers["bureau"])
    assert hidden.status_code == 404  # another tenant's plan does not exist for it


def test_bad_plan_is_refused_with_every_problem_and_nothing_written(client, headers, db_session):
    before = db_session.scalar(select(func.count()).select_from(Plan))
    body = random_plan()
    body["tasks"] = [
        {"kind": "random", "items": ["NOT-AN-ITEM"], "window": WINDOW},
        {"kind": "inspection", "items": ["SAMR-SP-001"], "window": WINDOW},
    ]
    response = client.post("/api/v1/plans", json=body, headers=headers["bureau"])
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "import_rejected"
    assert {d["row"] for d in error["details"]} == {1, 2}
    assert db_session.scalar(select(func.count()).select_from(Plan)) == before


def test_upload_with_bad_row_names_row_and_field(client, headers):
    csv = (
        "任务类型,检查事项,开始日期,结束日期,行业\n"
        "双随机,SAMR-SP-001,2026-03-02,2026-03-31,restaurant\n"
        "双随机,SAMR-SP-001,2026-03-02,2026-02-30,restaurant\n"
    ).encode()
    response = client.post(
        "/api/v1/plans/upload",
        headers=headers["bureau"],
        data={"department": "SAMR", "period": "2026Q1"},
        files={"file": ("plan.csv", csv, "text/csv")},
    )
    assert response.status_code == 422, response.text
    rows = {(d["row"], d["field"]) for d in response.json()["error"]["details"]}
    assert any(row == 3 for row, _ in rows)


def test_plan_lifecycle_draw_and_public_verification(client, headers, db_session):
    for risk in "ABCDDCCB":
        f.enterprise(db_session, risk_class=risk)
    plan = client.post("/api/v1/plans", json=random_plan(), headers=headers["bureau"]).json()
    check = client.post(f"/api/v1/plans/{plan['id']}/validate", headers=headers["bureau"])
    assert check.status_code == 200 and check.json()["submittable"], check.text
    assert (
        client.post(f"/api/v1/plans/{plan['id']}/submit", headers=headers["bureau"]).json()["state"]
        == "submitted"
    )
    denied = client.post(f"/api/v1/plans/{plan['id']}/approve", json={}, headers=headers["bureau"])
    assert denied.status_code == 403
    approved = client.post(
        f"/api/v1/plans/{plan['id']}/approve", json={"note": "同意"}, headers=headers["coordinator"]
    ).json()
    assert approved["state"] == "approved"
    assert [e["to_state"] for e in approved["events"]][-2:] == ["submitted", "approved"]
    assert client.get(f"/api/v1/public/plans/{plan['id']}").status_code == 404

    task_id = approved["task_list"][0]["id"]
    draw = client.post(
        "/api/v1/draws",
        json={"plan_task_ids": [task_id], "title": "餐饮抽查"},
        headers=headers["coordinator"],
    )
    assert draw.status_code == 201, draw.text
    draw_id = draw.json()["id"]
    # the commitment is public at once, on the public list and in the draw's public data
    listed = client.get("/api/v1/public/draws").json()["items"]
    assert [(d["id"], d["state"], d["seed"]) for d in listed] == [(draw_id, "committed", None)]
    public = client.get(f"/api/v1/public/draws/{draw_id}").json()
    assert public["commitment"]["seed_sha256"] == draw.json()["seed_sha256"]
    assert public["commitment_sha256"] == listed[0]["commitment_sha256"]
    assert "seed" not in public and "seed" not in public["commitment"]  # not before the run
    beacon_day = public["commitment"]["beacon"]["date"]
    assert beacon_day > dt.date.today().isoformat()
    # nothing runs before the beacon day, nor without the beacon
    early = client.post(f"/api/v1/draws/{draw_id}/run", headers=headers["coordinator"])
    assert early.status_code == 409 and "随机源日" in early.json()["error"]["message"]
    beacon = client.post(
        f"/api/v1/draws/{draw_id}/beacon", json={"value": "3352.10"}, headers=headers["coordinator"]
    )
    assert beacon.status_code == 409 and "之后录入" in beacon.json()["error"]["message"]
    assert client.get(f"/api/v1/public/draws/{draw_id}/verify").status_code == 404

    # a redraw: requested by the coordinator, decided by the legal reviewer only
    request = client.post(
        f"/api/v1/draws/{draw_id}/redraw",
        json={"reason": "抽查范围有误"},
        headers=headers["coordinator"],
    )
    assert request.status_code == 201, request.text
    request_id = request.json()["id"]
    for who in ("coordinator", "admin", "bureau"):
        refused = client.post(
            f"/api/v1/redraw-requests/{request_id}/approve",
            json={"note": "同意"},
            headers=headers[who],
        )
        assert refused.status_code == 403
    new = client.post(
        f"/api/v1/redraw-requests/{request_id}/approve",
        json={"note": "经核实同意"},
        headers=headers["legal"],
    )
    assert new.status_code == 201, new.text
    assert new.json()["supersedes_id"] == draw_id and new.json()["redraw_reason"] == "抽查范围有误"
    old = client.get(f"/api/v1/public/draws/{draw_id}").json()
    assert old["state"] == "abandoned" and len(old["seed"]) == 64
    assert old["redraws"]["count_by_plan_task"] == {str(task_id): 1}
    assert client.get(f"/api/v1/public/draws/{draw_id}/verify").json()["ok"]
    states = {d["id"]: d["state"] for d in client.get("/api/v1/public/draws").json()["items"]}
    assert states == {draw_id: "abandoned", new.json()["id"]: "committed"}

    published = client.post(
        f"/api/v1/plans/{plan['id']}/publish", json={}, headers=headers["coordinator"]
    )
    assert published.json()["state"] == "published"
    public = client.get("/api/v1/public/plans").json()
    assert plan["id"] in {p["id"] for p in public["items"]}


def test_a_public_plan_names_no_enterprise_and_no_complaint(client, db_session, headers):
    target, complained = f.enterprise(db_session), f.enterprise(db_session)
    plan = f.plan(
        db_session,
        [
            {
                "kind": "key",
                "items": ["SAMR-SP-002"],
                "enterprises": [target.credit_code],
                "window": ["2027-01-04", "2027-03-31"],
            },
            {
                "kind": "triggered",
                "item": "SAMR-SP-002",
                "enterprise": complained.credit_code,
                "reason": "complaint",
                "received_on": "2027-01-06",
            },
        ],
        state="published",
    )
    staff = client.get(f"/api/v1/plans/{plan.id}", headers=headers["coordinator"]).json()
    public = client.get(f"/api/v1/public/plans/{plan.id}").json()
    named = {c for t in staff["task_list"] for c in t["enterprises"]}
    assert named == {target.credit_code, complained.credit_code}
    # The public model has no such fields at all (an allow-list), not emptied ones.
    for task in public["task_list"]:
        assert not {"enterprises", "trigger_reason", "note", "approver"} & set(task)
    assert not {"events", "created_by"} & set(public)
    assert [t["enterprise_count"] for t in public["task_list"]] == [1, 1]
    assert target.credit_code not in str(public) and complained.credit_code not in str(public)


def test_a_draw_runs_over_the_api_after_its_beacon_day(client, headers, db_session):
    for _ in range(6):
        f.enterprise(db_session, risk_class="B")
    plan = f.plan(db_session, [f.random_task(strata={"B": {"count": 2}})], state="approved")
    # committed on Monday 2 November 2026 (Xi'an): its beacon day, Tuesday the 3rd, is past
    draw = draws.commit_draw(
        db_session=db_session,
        plan_task_ids=[plan.tasks[0].id],
        actor=BOSS,
        now=dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC),
    )
    assert draw.beacon_date == dt.date(2026, 11, 3)
    recorded = draw.commitment_sha256
    bad = client.post(
        f"/api/v1/draws/{draw.id}/beacon", json={"value": "三千"}, headers=headers["coordinator"]
    )
    assert bad.status_code == 400 and "不是数字" in bad.json()["error"]["message"]
    beacon = client.post(
        f"/api/v1/draws/{draw.id}/beacon", json={"value": "3976.52"}, headers=headers["coordinator"]
    )
    assert beacon.status_code == 200 and beacon.json()["beacon_value"] == "3976.52"
    ran = client.post(f"/api/v1/draws/{draw.id}/run", headers=headers["coordinator"]).json()
    assert ran["state"] == "revealed" and ran["selected"] == 2 and len(ran["seed"]) == 64
    public = client.get(f"/api/v1/public/draws/{draw.id}").json()
    assert public["beacon"]["value"] == "3976.52" and public["final_seed"] == ran["final_seed"]
    assert public["excluded"] == [] and public["redraws"]["count_by_plan_task"] == {
        str(plan.tasks[0].id): 0
    }
    assert verify_published(public, commitment=recorded).ok
    assert client.get(f"/api/v1/public/draws/{draw.id}/verify").json()["ok"]
