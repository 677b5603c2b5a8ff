"""Plans and draws over the API: bureaus only touch their own department's plans, the
coordinator approves and draws, the public sees only what is published."""

from __future__ import annotations

from sqlalchemy import func, select

from checkonce.plans.models import Plan
from tests import factories as f

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
    public = client.get(f"/api/v1/public/draws/{draw_id}").json()
    assert public["commitment"]["seed_sha256"] == draw.json()["seed_sha256"]
    assert "seed" not in public and "seed" not in public["commitment"]  # not before the run
    for step in ("run", "reveal"):
        assert (
            client.post(
                f"/api/v1/draws/{draw_id}/{step}", headers=headers["coordinator"]
            ).status_code
            == 200
        )
    assert client.get(f"/api/v1/public/draws/{draw_id}/verify").status_code == 404
    client.post(f"/api/v1/draws/{draw_id}/publish", headers=headers["coordinator"])
    verified = client.get(f"/api/v1/public/draws/{draw_id}/verify").json()
    assert verified["ok"] and verified["problems"] == []

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
