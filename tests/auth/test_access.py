"""The access module: one matrix of who may do what (services enforce it whatever the
channel), and one place that decides which rows each caller sees."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor, Channel
from checkonce.auth import access
from checkonce.auth.access import PERMISSIONS, SYSTEM, PermissionDenied
from checkonce.auth.models import ROLES, Role
from checkonce.plans.models import Plan
from checkonce.visits.models import ScheduleVersion, Visit
from tests import factories as f

ALL_ROLES = [*ROLES, SYSTEM]


def test_roles_are_one_str_enum():
    assert [str(r) for r in Role] == ["admin", "coordinator", "bureau", "inspector", "enterprise"]
    assert Role("bureau") == "bureau" and Role.BUREAU.label == "执法部门"


def test_every_permission_names_known_roles_and_actions():
    for action, roles in PERMISSIONS.items():
        assert isinstance(action, AuditAction)
        assert roles and roles <= set(ALL_ROLES), action
    # The reads of the trail are never the inspected bureau's (ratings name their rater).
    assert not access.may_read_audit(f.actor("bureau"))
    assert access.may_read_audit(f.coordinator()) and access.may_read_audit(f.admin())


@given(
    role=st.sampled_from(ALL_ROLES),
    action=st.sampled_from(sorted(PERMISSIONS)),
    channel=st.sampled_from(list(Channel)),
)
def test_require_refuses_exactly_what_may_forbids(role, action, channel):
    actor = Actor(user_id=1, username="某人", role=role, channel=channel)
    if access.may(role, action):
        access.require(actor, action)
    else:
        with pytest.raises(PermissionDenied, match=f"无权{action.label}"):
            access.require(actor, action)


def test_the_matrix_in_words():
    assert access.may("coordinator", AuditAction.PLAN_APPROVE)
    assert not access.may("bureau", AuditAction.PLAN_APPROVE)
    assert access.may("bureau", AuditAction.PLAN_SUBMIT)
    assert access.may(SYSTEM, AuditAction.SCHEDULE_PUBLISH)  # the missed-visit re-plan
    assert not access.may(SYSTEM, AuditAction.PLAN_APPROVE)
    assert access.roles_for(AuditAction.CHECKIN) == {"inspector"}
    assert not access.may("admin", AuditAction.CHECKIN)
    with pytest.raises(
        PermissionDenied, match="执法部门账号 张三 无权审核通过计划：仅限协调监督人员"
    ):
        access.require(f.actor("bureau", "张三"), AuditAction.PLAN_APPROVE)


def test_owners_are_checked_for_bureaus_inspectors_and_enterprises():
    bureau = f.actor("bureau", "甲", department_id=1)
    access.require(bureau, AuditAction.PLAN_SUBMIT, department_id=1)
    with pytest.raises(PermissionDenied, match="本部门"):
        access.require(bureau, AuditAction.PLAN_SUBMIT, department_id=2)
    # Coordinators act for every department.
    access.require(f.coordinator(), AuditAction.PLAN_SUBMIT, department_id=2)
    officer = f.actor("inspector", inspector_id=7)
    with pytest.raises(PermissionDenied, match="本人"):
        access.require(officer, AuditAction.CHECKIN, inspector_id=8)
    firm = f.actor("enterprise", enterprise_id=3)
    with pytest.raises(PermissionDenied, match="本企业"):
        access.require(firm, AuditAction.RATING_CREATE, enterprise_id=4)


def test_pages_do_not_import_routers():
    from pathlib import Path

    import checkonce.api.pages as pages

    for path in Path(pages.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "checkonce.api.routers" not in text, path.name


# --- rows ------------------------------------------------------------------------------------


def _two_visits(session):
    """A published SAMR visit and a draft FIRE visit, each with its own team."""
    samr = [f.inspector(session, "SAMR"), f.inspector(session, "SAMR")]
    fire = [f.inspector(session, "FIRE"), f.inspector(session, "FIRE")]
    firm, other = f.enterprise(session), f.enterprise(session)
    day = dt.date(2027, 3, 10)
    published = f.visit_with_tasks(session, firm, samr, day=day, state="scheduled")
    draft = f.visit_with_tasks(
        session, other, fire, day=day, items=("FIRE-001",), state="scheduled"
    )
    draft_version = ScheduleVersion(
        period="2027Q2", version=1, state="draft", seed="0" * 64, created_by="test"
    )
    session.add(draft_version)
    session.flush()
    draft.schedule_id = draft_version.id
    session.flush()
    return published, draft, samr, fire, firm, other


def _seen(session, who) -> set[int]:
    stmt = access.visible_visits(
        select(Visit.id),
        who,
        today=dt.date(2027, 3, 1),
        policy=f.policy(),
        calendar=f.calendar(),
    )
    return set(session.scalars(stmt))


def test_visible_visits_per_role(db_session):
    s = db_session
    published, draft, samr, fire, firm, other = _two_visits(s)
    both = {published.id, draft.id}
    assert _seen(s, f.coordinator()) >= both and _seen(s, f.admin()) >= both
    assert published.id in _seen(s, f.bureau(s, "SAMR"))
    assert draft.id not in _seen(s, f.bureau(s, "FIRE"))  # not published yet
    assert published.id not in _seen(s, f.bureau(s, "FIRE"))
    assert published.id in _seen(s, f.as_inspector(samr[0]))
    assert published.id not in _seen(s, f.as_inspector(fire[0]))
    assert _seen(s, f.as_enterprise(other)) == set()
    # The enterprise sees its announced visit only inside the notice period.
    assert published.id not in _seen(s, f.as_enterprise(firm))
    published.state = "checked_in"
    s.flush()
    assert published.id in _seen(s, f.as_enterprise(firm))
    assert access.team_visible_to(f.as_enterprise(firm), "checked_in")
    assert not access.team_visible_to(f.as_enterprise(firm), "scheduled")


def test_plan_visibility(db_session):
    plan = f.plan(db_session, [f.random_task()])
    assert access.plan_visible_to(plan, f.bureau(db_session, "SAMR"))
    assert not access.plan_visible_to(plan, f.bureau(db_session, "FIRE"))
    assert access.plan_visible_to(plan, f.coordinator())
    assert not access.plan_visible_to(plan, None)
    assert not access.plan_visible_to(plan, f.actor("inspector"))
    plan.state = "published"
    assert access.plan_visible_to(plan, None)
    assert access.plan_department_filter(f.bureau(db_session, "SAMR")) == plan.department_id
    assert access.plan_department_filter(f.coordinator()) is None
    assert isinstance(access.visible_plan(db_session, plan.id, None), Plan)


def test_enterprise_records(db_session):
    firm, other = f.enterprise(db_session), f.enterprise(db_session)
    assert access.enterprise_visible_to(firm.id, f.as_enterprise(firm))
    assert not access.enterprise_visible_to(other.id, f.as_enterprise(firm))
    assert access.enterprise_visible_to(other.id, f.bureau(db_session))
