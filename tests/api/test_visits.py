"""Visits over the API: every role sees only its own, another tenant's visit is a 404, the
enterprise sees announced visits from the notice date and unannounced ones once entered,
and the detail carries the merged checklist."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from checkonce.api.routers.schedules import today as today_dependency
from checkonce.registry.models import Conflict, Enterprise, Inspector
from checkonce.visits import service
from checkonce.visits.notice import notice_date
from tests import factories as f
from tests.visits.scenario import ACTOR, CALENDAR, POLICY, SEED, WEEKS, build, key_plan


def set_today(app, day: dt.date) -> None:
    app.dependency_overrides[today_dependency] = lambda: day


@pytest.fixture
def world(db_session, users, app):
    """The scenario with the enterprise user's firm as firm 0 and the inspector user among
    the SAMR officers (recused from firm 3, so some visit is not theirs), plus a FIRE-only
    visit of another firm; published."""
    s = db_session
    firm = s.scalars(
        select(Enterprise).where(Enterprise.id == users["enterprise"].enterprise_id)
    ).one()
    officer = s.get(Inspector, users["inspector"].inspector_id)
    world = build(s, firms=[firm], samr=[officer], extra_firms=3)
    s.add(
        Conflict(
            inspector_id=officer.id,
            enterprise_id=world.firms[3].id,
            reason="近亲属任职",
            declared_on=dt.date(2026, 12, 1),
        )
    )
    fire_only = f.enterprise(s)
    key_plan(s, "FIRE", [("FIRE-001", WEEKS[2], [fire_only])])
    world.firms.append(fire_only)
    version = service.generate_schedule(
        db_session=s,
        period="2027Q1",
        actor=ACTOR,
        seed=SEED,
        time_limit=5,
        policy=POLICY,
        calendar=CALENDAR,
    )
    assert version.violations == 0 and len(version.visits) == 5
    service.publish_schedule(db_session=s, schedule_id=version.id, actor=ACTOR)
    world.version = version
    world.visit_of = {v.enterprise_id: v for v in version.visits}
    set_today(app, dt.date(2027, 2, 1))
    return world


def listed(client, headers, role, **params) -> set[int]:
    response = client.get("/api/v1/visits", params=params, headers=headers[role])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"]) or body["limit"] < body["total"]
    return {v["id"] for v in body["items"]}


def test_coordinator_and_admin_see_every_visit(client, headers, world):
    every = {v.id for v in world.version.visits}
    assert listed(client, headers, "coordinator") == every
    assert listed(client, headers, "admin") == every


def test_bureau_sees_visits_holding_its_department_tasks(client, headers, world):
    fire_only = world.visit_of[world.firms[4].id]
    expected = {v.id for v in world.version.visits} - {fire_only.id}
    assert listed(client, headers, "bureau") == expected
    response = client.get(f"/api/v1/visits/{fire_only.id}", headers=headers["bureau"])
    assert response.status_code == 404


def test_inspector_sees_only_visits_they_are_on(client, headers, world, users):
    me = users["inspector"].inspector_id
    mine = {v.id for v in world.version.visits if me in {m.inspector_id for m in v.team}}
    assert listed(client, headers, "inspector") == mine
    recused = world.visit_of[world.firms[3].id]
    assert recused.id not in mine
    response = client.get(f"/api/v1/visits/{recused.id}", headers=headers["inspector"])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    for visit_id in mine:
        assert (
            client.get(f"/api/v1/visits/{visit_id}", headers=headers["inspector"]).status_code
            == 200
        )


def test_enterprise_sees_announced_visit_from_the_notice_date(client, headers, world, app):
    own = world.visit_of[world.firms[0].id]
    assert own.announced
    first_day = notice_date(CALENDAR, own.day, POLICY.notice.announce_workdays_ahead)
    # three workdays before a day in the first week of March: back into February's last week
    assert (own.day - first_day).days >= 3

    set_today(app, first_day - dt.timedelta(days=1))
    assert listed(client, headers, "enterprise") == set()
    assert client.get(f"/api/v1/visits/{own.id}", headers=headers["enterprise"]).status_code == 404

    set_today(app, first_day)
    assert listed(client, headers, "enterprise") == {own.id}
    body = client.get(f"/api/v1/visits/{own.id}", headers=headers["enterprise"]).json()
    assert body["notice_from"] == first_day.isoformat()
    assert body["team"] is None  # who comes is shown only once they are inside
    assert body["enterprise"]["credit_code"] == world.firms[0].credit_code

    # never another enterprise's visit, even announced and due
    set_today(app, dt.date(2027, 3, 31))
    other = world.visit_of[world.firms[1].id]
    assert (
        client.get(f"/api/v1/visits/{other.id}", headers=headers["enterprise"]).status_code == 404
    )
    assert listed(client, headers, "enterprise") == {own.id}


def test_enterprise_sees_unannounced_visit_only_once_entered(
    client, headers, world, app, db_session
):
    own = world.visit_of[world.firms[0].id]
    own.announced = False
    db_session.flush()
    set_today(app, own.day)
    assert listed(client, headers, "enterprise") == set()
    own.state = "checked_in"
    db_session.flush()
    assert listed(client, headers, "enterprise") == {own.id}
    body = client.get(f"/api/v1/visits/{own.id}", headers=headers["enterprise"]).json()
    assert body["state"] == "checked_in" and body["state_name"] == "已签到"
    assert len(body["team"]) >= 2


def test_drafts_are_seen_by_coordinators_only(client, headers, world, db_session, app):
    draft = service.generate_schedule(
        db_session=db_session,
        period="2027Q1",
        actor=ACTOR,
        seed="cd" * 32,
        time_limit=5,
        policy=POLICY,
        calendar=CALENDAR,
    )
    set_today(app, dt.date(2027, 3, 31))
    draft_ids = {v.id for v in draft.visits}
    assert listed(client, headers, "coordinator", schedule_id=draft.id) == draft_ids
    assert listed(client, headers, "coordinator") == {v.id for v in world.version.visits}
    for role in ("bureau", "inspector", "enterprise"):
        assert not listed(client, headers, role) & draft_ids
        assert not listed(client, headers, role, schedule_id=draft.id)
        some = next(iter(draft_ids))
        assert client.get(f"/api/v1/visits/{some}", headers=headers[role]).status_code == 404


def test_filters(client, headers, world):
    visits = world.version.visits
    fire = {v.id for v in visits if any(t.task.department.code == "FIRE" for t in v.tasks)}
    assert len(fire) == 3
    assert listed(client, headers, "coordinator", department="FIRE") == fire
    week2 = {v.id for v in visits if "2027-03-08" <= v.day.isoformat() <= "2027-03-12"}
    assert week2 and (
        listed(client, headers, "coordinator", day_from="2027-03-08", day_to="2027-03-12") == week2
    )
    assert listed(client, headers, "coordinator", district="610113") == {v.id for v in visits}
    assert listed(client, headers, "coordinator", district="610104") == set()
    assert listed(client, headers, "coordinator", state="checked_in") == set()
    assert listed(client, headers, "coordinator", period="2027Q1") == {v.id for v in visits}
    page = client.get(
        "/api/v1/visits", params={"limit": 2, "offset": 1}, headers=headers["coordinator"]
    ).json()
    assert page["total"] == 5 and len(page["items"]) == 2
    bad = client.get("/api/v1/visits", params={"state": "bogus"}, headers=headers["coordinator"])
    assert bad.status_code == 422


def test_visit_detail_has_tasks_and_the_merged_checklist(client, headers, world):
    joint = world.visit_of[world.firms[0].id]  # SAMR + FIRE in week 1
    body = client.get(f"/api/v1/visits/{joint.id}", headers=headers["bureau"]).json()
    assert sorted(t["department"] for t in body["task_list"]) == ["FIRE", "SAMR"]
    assert all(t["legal_basis"] for t in body["task_list"])
    assert set(body["departments"]) == {"FIRE", "SAMR"}
    assert body["lead_department"]["code"] in {"FIRE", "SAMR"}
    keys = [e["key"] for g in body["checklist"] for e in g["entries"]]
    assert len(keys) == len(set(keys)) == body["checklist_entries"]
    assert body["checks_asked"] >= body["checklist_entries"]
    by_dept = {g["department"]: g for g in body["checklist"] if g["department"]}
    assert set(by_dept) == {"FIRE", "SAMR"}
    # a joint visit: one officer of each department (policy joint_team_per_department = 1)
    assert sorted(m["department"] for m in body["team"]) == ["FIRE", "SAMR"]
    assert body["code"] == joint.code and body["period"] == "2027Q1"


def test_visits_need_a_login(client):
    assert client.get("/api/v1/visits").status_code == 401
    assert client.get("/api/v1/visits/1").status_code == 401
