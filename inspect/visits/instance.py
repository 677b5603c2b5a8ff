"""Build the scheduler's interchange instance (schemas/INTERCHANGE.md) from the database:
approved concrete tasks, the registry, history and policy. The scheduler itself never sees
the database; this is the one place that translates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from checkonce.calendar import WorkCalendar
from checkonce.errors import CheckOnceError
from checkonce.plans.models import InspectionTask
from checkonce.policy import Policy
from checkonce.registry.models import (
    Conflict,
    Department,
    Enterprise,
    Inspector,
    InspectorCertification,
)
from checkonce.scheduler.model import INSTANCE_SCHEMA
from checkonce.visits.history import EnterpriseHistory, load_history


def parse_period(period: str) -> tuple[dt.date, dt.date]:
    """'2027' → the year; '2027Q1' → the quarter; '2027-03' → the month."""
    text = period.strip().upper()
    try:
        if len(text) == 4 and text.isdigit():
            year = int(text)
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        if len(text) == 6 and text[4] == "Q" and text[5] in "1234":
            year, quarter = int(text[:4]), int(text[5])
            start = dt.date(year, 3 * quarter - 2, 1)
            end_month = 3 * quarter
            end = dt.date(year + (end_month == 12), end_month % 12 + 1, 1) - dt.timedelta(days=1)
            return start, end
        if len(text) == 7 and text[4] == "-":
            year, month = int(text[:4]), int(text[5:])
            start = dt.date(year, month, 1)
            end = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
            return start, end
    except ValueError:
        pass
    raise CheckOnceError(f"无法识别的期间「{period}」：应为 2027、2027Q1 或 2027-03")


def _hhmm(value: dt.time) -> str:
    return value.strftime("%H:%M")


def inspector_row(person: Inspector, start: dt.date, end: dt.date) -> dict[str, Any]:
    """An inspector as the interchange spells it, with unavailability inside [start, end],
    its home district and the other departments it is certified for (`also_for`)."""
    return {
        "id": person.code,
        "department": person.department.code,
        "district": person.home_district_adcode,
        "also_for": sorted(c.department.code for c in person.extra_certifications),
        "lat": person.home_lat,
        "lon": person.home_lon,
        "minutes_per_day": person.minutes_per_day,
        "unavailable": [
            u.day.isoformat() for u in person.unavailable_days if start <= u.day <= end
        ],
        "certificate_valid": [
            person.certificate_valid_from.isoformat(),
            person.certificate_valid_to.isoformat(),
        ],
    }


def build_instance(
    *,
    db_session: Session,
    period: str,
    calendar: WorkCalendar,
    policy: Policy,
    seed: str,
    name: str | None = None,
    history: dict[int, EnterpriseHistory] | None = None,
    adjacent_districts: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """The interchange instance for `period`: every active concrete task whose window meets
    the period (windows clipped to it), the enterprises concerned with their history this
    year (`history` by enterprise id; default: read by `load_history`), every assignable
    inspector of the departments concerned, their conflicts, and the policy numbers."""
    start, end = parse_period(period)
    if adjacent_districts is None:
        from checkonce.config import get_settings
        from checkonce.registry.jurisdiction import Jurisdiction

        adjacent_districts = Jurisdiction(get_settings().jurisdiction_dir).adjacent_districts
    workdays = calendar.workdays(start, end)
    if not workdays:
        raise CheckOnceError(f"期间 {period} 内没有工作日")
    tasks = list(
        db_session.scalars(
            select(InspectionTask)
            .where(
                InspectionTask.active.is_(True),
                InspectionTask.window_end >= start,
                InspectionTask.window_start <= end,
            )
            .options(
                selectinload(InspectionTask.enterprise),
                selectinload(InspectionTask.department),
                selectinload(InspectionTask.item),
            )
            .order_by(InspectionTask.id)
        )
    )
    enterprise_ids = {t.enterprise_id for t in tasks}
    department_ids = {t.department_id for t in tasks}

    task_rows = []
    for task in tasks:
        row = task.to_interchange()
        row["window"] = [
            max(task.window_start, start).isoformat(),
            min(task.window_end, end).isoformat(),
        ]
        task_rows.append(row)

    if history is None:
        history = load_history(
            db_session=db_session, period=period, start=start, enterprise_ids=enterprise_ids
        )
    enterprises = []
    for firm in (
        db_session.scalars(
            select(Enterprise).where(Enterprise.id.in_(enterprise_ids)).order_by(Enterprise.id)
        )
        if enterprise_ids
        else []
    ):
        enterprises.append(
            {
                "id": firm.credit_code,
                "name": firm.name,
                "district": firm.district_adcode,
                "lat": firm.lat,
                "lon": firm.lon,
                "risk": firm.risk_class,
                "open": [_hhmm(firm.opens_at), _hhmm(firm.closes_at)],
                # Entries already made or planned this year, and the last team (rotation).
                **history.get(firm.id, EnterpriseHistory()).to_interchange(),
            }
        )

    inspectors = []
    inspector_ids = []
    staff = (
        db_session.scalars(
            select(Inspector)
            .where(
                # Officers of the departments concerned, and those certified for their
                # items (综合执法, `also_for`).
                or_(
                    Inspector.department_id.in_(department_ids),
                    Inspector.id.in_(
                        select(InspectorCertification.inspector_id).where(
                            InspectorCertification.department_id.in_(department_ids)
                        )
                    ),
                ),
                Inspector.role == "enforcement",
                Inspector.status == "active",
            )
            .options(
                selectinload(Inspector.unavailable_days),
                selectinload(Inspector.department),
                selectinload(Inspector.extra_certifications).selectinload(
                    InspectorCertification.department
                ),
            )
            .order_by(Inspector.id)
        )
        if department_ids
        else []
    )
    for person in staff:
        inspector_ids.append(person.id)
        inspectors.append(inspector_row(person, start, end))
        # Their own and certified departments are named in the instance too.
        department_ids.add(person.department_id)
        department_ids.update(c.department_id for c in person.extra_certifications)

    conflicts = []
    if inspector_ids and enterprise_ids:
        rows = db_session.execute(
            select(Inspector.code, Enterprise.credit_code)
            .join(Conflict, Conflict.inspector_id == Inspector.id)
            .join(Enterprise, Conflict.enterprise_id == Enterprise.id)
            .where(
                Conflict.inspector_id.in_(inspector_ids), Conflict.enterprise_id.in_(enterprise_ids)
            )
            .order_by(Inspector.code, Enterprise.credit_code)
        )
        conflicts = [{"inspector": i, "enterprise": e} for i, e in rows]

    departments = (
        [
            {"id": d.code, "name": d.name}
            for d in db_session.scalars(
                select(Department)
                .where(Department.id.in_(department_ids))
                .order_by(Department.code)
            )
        ]
        if department_ids
        else []
    )

    return {
        "schema": INSTANCE_SCHEMA,
        "name": name or f"{policy.jurisdiction.name}-{period}",
        "workdays": [d.isoformat() for d in workdays],
        "day": {"start": policy.day.start, "end": policy.day.end},
        "travel": {"speed_kmh": policy.travel.speed_kmh, "detour": policy.travel.detour},
        "policy": {
            "min_team": policy.team.min_team,
            "max_visits_per_enterprise_year": policy.caps.max_visits_per_enterprise_year,
            "max_routine_per_department_year": policy.caps.max_routine_per_department_year,
            "max_visits_per_enterprise_week": policy.caps.alert_entries_per_week,
            "max_visits_per_enterprise_month": policy.caps.alert_entries_per_month,
            **(
                {"joint_team_per_department": policy.team.joint_team_per_department}
                if policy.team.joint_team_per_department is not None
                else {}
            ),
        },
        "departments": departments,
        "enterprises": enterprises,
        "inspectors": inspectors,
        "conflicts": conflicts,
        "tasks": task_rows,
        "seed": seed,
        "adjacent_districts": {k: list(v) for k, v in adjacent_districts.items()},
    }
