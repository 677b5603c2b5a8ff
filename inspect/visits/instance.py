"""Build the scheduler's instance (schemas/INTERCHANGE.md) from the database: approved
concrete tasks, the registry, history and policy, straight into the scheduler's typed
dataclasses (`checkonce.scheduler.model`). The scheduler itself never sees the database;
this is the one place that translates, and JSON appears only at the file boundary."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

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
from checkonce.scheduler.model import Conflict as SchedulerConflict
from checkonce.scheduler.model import Department as SchedulerDepartment
from checkonce.scheduler.model import Enterprise as SchedulerEnterprise
from checkonce.scheduler.model import Inspector as SchedulerInspector
from checkonce.scheduler.model import Instance, Task
from checkonce.scheduler.model import Policy as SchedulerPolicy
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


def _minutes(value: dt.time) -> int:
    """A clock time as minutes after midnight (the scheduler's unit)."""
    return value.hour * 60 + value.minute


def task_interchange_id(task_id: int) -> str:
    """The scheduler's id of an inspection task: 'T' and the database id, six digits."""
    return f"T{task_id:06d}"


def to_task(task: InspectionTask, start: dt.date | None = None, end: dt.date | None = None) -> Task:
    """An approved task as the scheduler's `Task`, its window clipped to [start, end]."""
    first = task.window_start if start is None else max(task.window_start, start)
    last = task.window_end if end is None else min(task.window_end, end)
    return Task(
        id=task_interchange_id(task.id),
        enterprise=task.enterprise.credit_code,
        department=task.department.code,
        item=task.item.code,
        kind=task.kind,
        window=(first.isoformat(), last.isoformat()),
        minutes=task.minutes,
        team=task.team,
        mergeable=task.mergeable,
    )


def to_enterprise(
    firm: Enterprise, history: EnterpriseHistory | None = None
) -> SchedulerEnterprise:
    """An enterprise with its entries this year and last team (rotation) from `history`."""
    past = history or EnterpriseHistory()
    return SchedulerEnterprise(
        id=firm.credit_code,
        name=firm.name,
        district=firm.district_adcode,
        lat=firm.lat,
        lon=firm.lon,
        risk=firm.risk_class,
        open=(_minutes(firm.opens_at), _minutes(firm.closes_at)),
        visits_this_year=past.visits,
        routine_this_year=dict(sorted(past.routine.items())),
        last_inspectors=tuple(past.last_inspectors),
    )


def to_inspector(person: Inspector, start: dt.date, end: dt.date) -> SchedulerInspector:
    """An inspector with its days off inside [start, end], home district and the other
    departments it is certified for (`also_for`, 综合执法)."""
    if person.certificate_valid_from is None or person.certificate_valid_to is None:
        raise CheckOnceError(f"执法人员 {person.code} 没有执法证有效期，不能参与排程")
    return SchedulerInspector(
        id=person.code,
        department=person.department.code,
        lat=person.home_lat,
        lon=person.home_lon,
        minutes_per_day=person.minutes_per_day,
        unavailable=frozenset(
            u.day.isoformat() for u in person.unavailable_days if start <= u.day <= end
        ),
        certificate_valid=(
            person.certificate_valid_from.isoformat(),
            person.certificate_valid_to.isoformat(),
        ),
        district=person.home_district_adcode,
        also_for=tuple(sorted(c.department.code for c in person.extra_certifications)),
    )


def scheduler_policy(policy: Policy) -> SchedulerPolicy:
    """The policy numbers the scheduler enforces."""
    return SchedulerPolicy(
        min_team=policy.team.min_team,
        max_visits_per_enterprise_year=policy.caps.max_visits_per_enterprise_year,
        max_routine_per_department_year=policy.caps.max_routine_per_department_year,
        max_visits_per_enterprise_week=policy.caps.alert_entries_per_week,
        max_visits_per_enterprise_month=policy.caps.alert_entries_per_month,
        joint_team_per_department=policy.team.joint_team_per_department,
    )


@dataclass(frozen=True)
class DatabaseInstance:
    """The scheduler's instance built from the database, with the database id of each of
    its tasks (the scheduler names tasks by `task_interchange_id`)."""

    instance: Instance
    task_ids: dict[str, int] = field(default_factory=dict)


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
) -> DatabaseInstance:
    """The scheduler's instance for `period`, built from the database: every active
    concrete task whose window meets the period (windows clipped to it), the enterprises
    concerned with their history this year (`history` by enterprise id; default: read by
    `load_history`), every assignable inspector of the departments concerned (and those
    certified for their items), their conflicts, the policy numbers and which districts
    border which (for the team draw; default: from the jurisdiction's district boundaries).
    JSON appears only when the instance is written to a file (`Instance.to_json`)."""
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
    if history is None:
        history = load_history(
            db_session=db_session, period=period, start=start, enterprise_ids=enterprise_ids
        )
    firms = (
        list(
            db_session.scalars(
                select(Enterprise).where(Enterprise.id.in_(enterprise_ids)).order_by(Enterprise.id)
            )
        )
        if enterprise_ids
        else []
    )
    staff = (
        list(
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
        )
        if department_ids
        else []
    )
    inspector_ids = [person.id for person in staff]
    for person in staff:
        # Their own and certified departments are named in the instance too.
        department_ids.add(person.department_id)
        department_ids.update(c.department_id for c in person.extra_certifications)
    conflicts: list[SchedulerConflict] = []
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
        conflicts = [SchedulerConflict(inspector=i, enterprise=e) for i, e in rows]
    departments = (
        [
            SchedulerDepartment(id=d.code, name=d.name)
            for d in db_session.scalars(
                select(Department)
                .where(Department.id.in_(department_ids))
                .order_by(Department.code)
            )
        ]
        if department_ids
        else []
    )
    try:
        instance = Instance(
            name=name or f"{policy.jurisdiction.name}-{period}",
            workdays=tuple(d.isoformat() for d in workdays),
            day_start=_minutes(dt.time.fromisoformat(policy.day.start)),
            day_end=_minutes(dt.time.fromisoformat(policy.day.end)),
            speed_kmh=policy.travel.speed_kmh,
            detour=policy.travel.detour,
            policy=scheduler_policy(policy),
            departments=tuple(departments),
            enterprises=tuple(to_enterprise(firm, history.get(firm.id)) for firm in firms),
            inspectors=tuple(to_inspector(person, start, end) for person in staff),
            conflicts=tuple(conflicts),
            tasks=tuple(to_task(task, start, end) for task in tasks),
            seed=seed,
            adjacent_districts=dict(adjacent_districts),
        )
    except ValueError as exc:
        raise CheckOnceError(f"排程实例无效：{exc}") from exc
    return DatabaseInstance(
        instance=instance, task_ids={task_interchange_id(t.id): t.id for t in tasks}
    )
