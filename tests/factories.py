"""Small factories for registry rows; each returns a flushed object. Reference data
(districts, departments, items, industries) comes from the `engine` fixture."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.audit.actor import Actor, Channel
from checkonce.plans.models import InspectionTask, Plan, PlanTask
from checkonce.registry.creditcode import make_credit_code
from checkonce.registry.models import CheckItem, Department, Enterprise, Inspector

_serial = itertools.count(1)
# A point inside 雁塔区 (610113), near the Big Wild Goose Pagoda.
YANTA = ("610113", 34.2197, 108.9640)


# --- actors: who performs a service call in a test (no account row needed) -------------------

SETUP = Actor.system("tests", channel=Channel.SYSTEM)


def actor(
    role: str = "coordinator",
    name: str | None = None,
    *,
    department_id: int | None = None,
    inspector_id: int | None = None,
    enterprise_id: int | None = None,
    channel: Channel = Channel.API,
) -> Actor:
    return Actor(
        user_id=None,
        username=name or f"测试{role}",
        role=role,
        channel=channel,
        department_id=department_id,
        inspector_id=inspector_id,
        enterprise_id=enterprise_id,
    )


def coordinator(name: str = "协调员") -> Actor:
    return actor("coordinator", name)


def admin(name: str = "管理员") -> Actor:
    return actor("admin", name)


def bureau(session: Session, dept: str = "SAMR", name: str | None = None) -> Actor:
    return actor("bureau", name or f"{dept}计划科", department_id=department(session, dept).id)


def as_inspector(person: Inspector) -> Actor:
    return actor(
        "inspector", person.code, inspector_id=person.id, department_id=person.department_id
    )


def as_enterprise(firm: Enterprise) -> Actor:
    return actor("enterprise", firm.credit_code, enterprise_id=firm.id)


def credit_code(n: int | None = None, division: str = "610113") -> str:
    n = next(_serial) if n is None else n
    return make_credit_code("91", division, f"{n:08d}")


def department(session: Session, code: str = "SAMR") -> Department:
    return session.scalars(select(Department).where(Department.code == code)).one()


def enterprise(session: Session, **overrides) -> Enterprise:
    n = next(_serial)
    adcode, lat, lon = YANTA
    values = {
        "credit_code": credit_code(n, adcode),
        "name": f"测试企业{n}有限公司",
        "address": f"陕西省西安市雁塔区雁塔南路{n}号",
        "district_adcode": adcode,
        "lat": lat,
        "lon": lon,
        "industry_code": "restaurant",
        "risk_class": "B",
        "whitelisted": False,
        "opens_at": dt.time(9, 0),
        "closes_at": dt.time(21, 0),
    }
    values.update(overrides)
    row = Enterprise(**values)
    session.add(row)
    session.flush()
    return row


def inspector(session: Session, dept: str = "SAMR", **overrides) -> Inspector:
    n = next(_serial)
    adcode, lat, lon = YANTA
    values = {
        "code": f"T{n:05d}",
        "name": f"测试{n}",
        "department_id": department(session, dept).id,
        "role": "enforcement",
        "status": "active",
        "certificate_no": f"陕执TEST{n:06d}",
        "certificate_valid_from": dt.date(2024, 1, 1),
        "certificate_valid_to": dt.date(2029, 12, 31),
        "home_district_adcode": adcode,
        "home_lat": lat,
        "home_lon": lon,
    }
    values.update(overrides)
    row = Inspector(**values)
    session.add(row)
    session.flush()
    return row


# --- plans and draws (tests/plans, tests/sampling) -------------------------------------------


def policy():
    """The demo jurisdiction's policy (data/policy.toml)."""
    from checkonce.config import packaged_data_dir
    from checkonce.policy import load_policy

    return load_policy(packaged_data_dir() / "policy.toml")


def calendar():
    """The work calendar with the demo jurisdiction's override files (2027)."""
    from checkonce.calendar import WorkCalendar
    from checkonce.config import packaged_data_dir

    return WorkCalendar(packaged_data_dir() / "calendar")


def plan(
    session: Session,
    tasks: list[dict],
    *,
    dept: str = "SAMR",
    period: str = "2027Q1",
    actor: Actor | None = None,
    state: str = "draft",
    **policy_overrides,
):
    """A plan created through the service from JSON-shaped tasks, moved to `state`
    (submitted/approved/published go through validation like any plan)."""
    from checkonce.plans import service

    pol = policy_overrides.pop("policy", None) or policy()
    cal = calendar()
    actor = actor or bureau(session, dept, "测试员")
    row = service.create_plan(
        db_session=session,
        data={"department": dept, "period": period, "tasks": tasks},
        actor=actor,
        policy=pol,
        calendar=cal,
    )
    steps = ["submitted", "approved", "published"]
    for step in steps[: steps.index(state) + 1] if state in steps else []:
        if step == "submitted":
            service.submit_plan(
                db_session=session, plan_id=row.id, actor=actor, policy=pol, calendar=cal
            )
        elif step == "approved":
            service.approve_plan(
                db_session=session,
                plan_id=row.id,
                actor=coordinator("审核员"),
                policy=pol,
                calendar=cal,
            )
        else:
            service.publish_plan(db_session=session, plan_id=row.id, actor=coordinator("审核员"))
    return row


def random_task(item: str = "SAMR-SP-001", **overrides) -> dict:
    """A random (双随机) plan task in 2027Q1 over restaurants unless overridden."""
    task = {
        "kind": "random",
        "item": item,
        "window": ["2027-01-04", "2027-03-31"],
        "scope": {"industries": ["restaurant"]},
    }
    task.update(overrides)
    return task


# --- visits for findings (tests/findings, tests/api/test_findings*) ---------------------------

_visit_serial = itertools.count(1)


def visit_with_tasks(
    session: Session,
    firm: Enterprise,
    team: list[Inspector],
    *,
    day: dt.date,
    items: tuple[str, ...] = ("SAMR-SP-001",),
    state: str = "checked_in",
):
    """A visit of `firm` on `day` by `team`, one key task per item, in a published schedule
    version of its own period (built directly, no solver)."""
    from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector, VisitTask

    n = next(_visit_serial)
    version = ScheduleVersion(
        period=f"F{n:07d}", version=1, state="published", seed="0" * 64, created_by="test"
    )
    session.add(version)
    session.flush()
    tasks = []
    for code in items:
        tasks.append(inspection_task(session, firm, code, day))
    row = Visit(
        schedule_id=version.id,
        code=f"F{n:05d}",
        enterprise_id=firm.id,
        day=day,
        start=dt.time(9, 30),
        end=dt.time(11, 0),
        lead_department_id=tasks[0].department_id,
        state=state,
    )
    session.add(row)
    session.flush()
    for task in tasks:
        session.add(VisitTask(visit_id=row.id, inspection_task_id=task.id))
    for position, person in enumerate(team):
        session.add(VisitInspector(visit_id=row.id, inspector_id=person.id, position=position))
    session.flush()
    return row


def inspection_task(session: Session, firm: Enterprise, item_code: str, day: dt.date):
    """An approved key task of `item_code` at `firm` (its own plan), window day ± 30 days."""
    item = session.scalars(select(CheckItem).where(CheckItem.code == item_code)).one()
    plan = Plan(
        department_id=item.department_id,
        period=str(day.year),
        year=day.year,
        version=5000 + next(_visit_serial),
        state="approved",
        created_by="department:test",
    )
    session.add(plan)
    session.flush()
    plan_task = PlanTask(
        plan_id=plan.id,
        position=0,
        kind="key",
        window_start=day - dt.timedelta(days=30),
        window_end=day + dt.timedelta(days=30),
    )
    session.add(plan_task)
    session.flush()
    task = InspectionTask(
        plan_id=plan.id,
        plan_task_id=plan_task.id,
        enterprise_id=firm.id,
        department_id=item.department_id,
        item_id=item.id,
        kind="key",
        year=day.year,
        window_start=plan_task.window_start,
        window_end=plan_task.window_end,
        minutes=60,
        team=2,
    )
    session.add(task)
    session.flush()
    return task


# --- the audit trail ---------------------------------------------------------------------------


def audit_seq(session: Session) -> int:
    """The trail's head: pass it to `audit_since` to see what an action added."""
    from sqlalchemy import func

    from checkonce.audit.models import AuditRecord

    return session.scalar(select(func.max(AuditRecord.seq))) or 0


def audit_since(session: Session, seq: int, action: str | None = None) -> list[dict]:
    """The audit records after `seq` (optionally of one action) as their hashed bodies, with
    the query columns the body mirrors checked on the way."""
    import json

    from checkonce.audit.models import AuditRecord

    session.flush()
    stmt = select(AuditRecord).where(AuditRecord.seq > seq).order_by(AuditRecord.seq)
    if action is not None:
        stmt = stmt.where(AuditRecord.action == str(action))
    out = []
    for rec in session.scalars(stmt):
        body = json.loads(rec.body)
        assert (rec.action, rec.actor_role, rec.channel) == (
            body["action"],
            body["actor"]["role"],
            body["channel"],
        )
        out.append(body)
    return out
