"""A small world for map tests, built directly (no solver): published 2027Q1 and 2027Q2
schedules with joint and single-department visits in 雁塔区 and 新城区, two SAMR officers and
one FIRE officer whose days are known stop by stop."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.plans.models import InspectionTask, Plan, PlanTask
from checkonce.registry.models import CheckItem, Enterprise, Inspector
from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector, VisitTask
from tests import factories as f
from tests.api.conftest import app, client, headers, users  # noqa: F401  (HTTP fixtures)

YANTA, XINCHENG = "610113", "610102"
_plan_version = itertools.count(7000)


@dataclass
class World:
    firms: dict[str, Enterprise]
    people: dict[str, Inspector]
    visits: dict[str, Visit] = field(default_factory=dict)


def published(session: Session, period: str) -> ScheduleVersion:
    version = ScheduleVersion(
        period=period, version=1, state="published", seed="0" * 64, created_by="test"
    )
    session.add(version)
    session.flush()
    return version


def add_visit(
    session: Session,
    version: ScheduleVersion,
    code: str,
    firm: Enterprise,
    day: str,
    start: str,
    end: str,
    items: tuple[str, ...],
    team: list[Inspector],
    state: str = "scheduled",
) -> Visit:
    """A visit with one key task per item (each in its own approved plan line)."""
    when = dt.date.fromisoformat(day)
    tasks = []
    for code_ in items:
        item = session.scalars(select(CheckItem).where(CheckItem.code == code_)).one()
        plan = Plan(
            department_id=item.department_id,
            period=str(when.year),
            year=when.year,
            version=next(_plan_version),
            state="approved",
            created_by="department:test",
        )
        session.add(plan)
        session.flush()
        line = PlanTask(plan_id=plan.id, position=0, kind="key", window_start=when, window_end=when)
        session.add(line)
        session.flush()
        task = InspectionTask(
            plan_id=plan.id,
            plan_task_id=line.id,
            enterprise_id=firm.id,
            department_id=item.department_id,
            item_id=item.id,
            kind="key",
            year=when.year,
            window_start=when,
            window_end=when,
            minutes=60,
            team=len(team),
        )
        session.add(task)
        session.flush()
        tasks.append(task)
    visit = Visit(
        schedule_id=version.id,
        code=code,
        enterprise_id=firm.id,
        day=when,
        start=dt.time.fromisoformat(start),
        end=dt.time.fromisoformat(end),
        lead_department_id=tasks[0].department_id,
        state=state,
    )
    session.add(visit)
    session.flush()
    for task in tasks:
        session.add(VisitTask(visit_id=visit.id, inspection_task_id=task.id))
    for position, person in enumerate(team):
        session.add(VisitInspector(visit_id=visit.id, inspector_id=person.id, position=position))
    session.flush()
    return visit


@pytest.fixture
def world(db_session) -> World:
    return build_world(db_session)


def build_world(db_session: Session) -> World:
    """Q1: V2 (SAMR) and V1 (SAMR+FIRE joint, already checked in) at 13:00 and 09:00 on 2027-01-05 for samr1 (V2
    created first, so only the start orders them); V3 SAMR at firm2 again in February; V4 FIRE
    in 新城区; V5 cancelled; V6 SAMR at a risk-A firm. Q2: V7 SAMR at firm3."""
    lat, lon = 34.2197, 108.9640
    firms = {
        "firm1": f.enterprise(db_session, lat=lat, lon=lon),
        "firm2": f.enterprise(db_session, lat=lat + 0.02, lon=lon + 0.03),
        "firm3": f.enterprise(db_session, district_adcode=XINCHENG, lat=34.2658, lon=108.9850),
        "firm4": f.enterprise(db_session, lat=lat - 0.01, lon=lon),
        "firm5": f.enterprise(db_session, risk_class="A", lat=lat + 0.01, lon=lon - 0.02),
        "idle": f.enterprise(db_session, district_adcode=XINCHENG, lat=34.27, lon=108.99),
    }
    people = {
        "samr1": f.inspector(db_session, "SAMR", home_lat=34.20, home_lon=108.95),
        "samr2": f.inspector(db_session, "SAMR"),
        "fire1": f.inspector(db_session, "FIRE"),
    }
    q1, q2 = published(db_session, "2027Q1"), published(db_session, "2027Q2")
    w = World(firms, people)
    s1, s2, fire = people["samr1"], people["samr2"], people["fire1"]
    w.visits["V2"] = add_visit(
        db_session,
        q1,
        "MV2",
        firms["firm2"],
        "2027-01-05",
        "13:00",
        "14:00",
        ("SAMR-SP-001",),
        [s1],
    )
    w.visits["V1"] = add_visit(
        db_session,
        q1,
        "MV1",
        firms["firm1"],
        "2027-01-05",
        "09:00",
        "10:30",
        ("SAMR-SP-001", "FIRE-001"),
        [s1, fire],
        state="checked_in",
    )
    w.visits["V3"] = add_visit(
        db_session,
        q1,
        "MV3",
        firms["firm2"],
        "2027-02-10",
        "09:00",
        "10:00",
        ("SAMR-SP-001",),
        [s2],
    )
    w.visits["V4"] = add_visit(
        db_session, q1, "MV4", firms["firm3"], "2027-01-05", "11:00", "12:00", ("FIRE-001",), [fire]
    )
    w.visits["V5"] = add_visit(
        db_session,
        q1,
        "MV5",
        firms["firm4"],
        "2027-01-06",
        "09:00",
        "10:00",
        ("SAMR-SP-001",),
        [s2],
        state="cancelled",
    )
    w.visits["V6"] = add_visit(
        db_session,
        q1,
        "MV6",
        firms["firm5"],
        "2027-03-01",
        "09:00",
        "10:00",
        ("SAMR-SP-001",),
        [s2],
    )
    w.visits["V7"] = add_visit(
        db_session,
        q2,
        "MV7",
        firms["firm3"],
        "2027-04-06",
        "09:00",
        "10:00",
        ("SAMR-SP-001",),
        [s2],
    )
    return w
