"""Visits of the schedules in force, each caller seeing only its own:

- coordinator, admin: every visit (of any version with `schedule_id`, else of published ones);
- bureau: visits holding a task of its department;
- inspector: visits whose team they are on;
- enterprise: its own visits that are announced and inside the notice period
  (≥ `notice.announce_workdays_ahead` workdays ahead), or already entered (checked in or
  completed). The team is shown to the enterprise only once it has entered, so nobody can
  be approached before a visit; the inspection code (亮码) identifies them on the day.

Another tenant's visit is a 404, never a 403.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from checkonce.api.deps import Allow, PageDep, RowId, SessionDep, TodayDep, jurisdiction
from checkonce.api.schemas import Page
from checkonce.auth import access
from checkonce.auth.service import Principal
from checkonce.calendar import WorkCalendar
from checkonce.plans.models import InspectionTask
from checkonce.registry.models import Department
from checkonce.visits import service
from checkonce.visits.checklist import checklist_counts, merged_checklist
from checkonce.visits.models import (
    VISIT_STATES,
    ScheduleVersion,
    Visit,
    VisitTask,
)
from checkonce.visits.notice import notice_date

router = APIRouter(tags=["入企检查"])
Anyone = Annotated[
    Principal, Depends(Allow("admin", "coordinator", "bureau", "inspector", "enterprise"))
]
PERIOD = r"^\d{4}([Qq][1-4]|-\d{2})?$"


class EnterpriseRef(BaseModel):
    credit_code: str
    name: str
    address: str
    district: str


class DepartmentRef(BaseModel):
    code: str
    name: str


class TeamMember(BaseModel):
    code: str
    name: str
    department: str
    position: int


class VisitOut(BaseModel):
    id: int
    code: str
    schedule_id: int
    period: str
    enterprise: EnterpriseRef
    day: dt.date
    start: dt.time
    end: dt.time
    lead_department: DepartmentRef
    departments: list[str]
    tasks: int
    announced: bool
    notice_from: dt.date | None
    state: str
    state_name: str
    frozen: bool
    travel_km: float
    team: list[TeamMember] | None


class VisitTaskOut(BaseModel):
    id: int
    department: str
    department_name: str
    item: str
    item_name: str
    kind: str
    legal_basis: str
    minutes: int


class ChecklistEntryOut(BaseModel):
    key: str
    text: str
    departments: list[str]
    items: list[str]


class ChecklistGroupOut(BaseModel):
    title: str
    department: str | None
    entries: list[ChecklistEntryOut]


class VisitDetail(VisitOut):
    task_list: list[VisitTaskOut]
    checklist: list[ChecklistGroupOut]
    checklist_entries: int
    checks_asked: int


def scope(stmt: Select, principal: Principal, *, request: Request, today: dt.date) -> Select:
    """Restrict a select of visits to what `principal` may see (checkonce.auth.access)."""
    policy, calendar = jurisdiction(request)
    return access.visible_visits(stmt, principal, today=today, policy=policy, calendar=calendar)


def _visit_out(
    visit: Visit, principal: Principal, calendar: WorkCalendar, workdays_ahead: int
) -> dict:
    departments = list(dict.fromkeys(t.task.department.code for t in visit.tasks))
    show_team = access.team_visible_to(principal, visit.state)
    return {
        "id": visit.id,
        "code": visit.code,
        "schedule_id": visit.schedule_id,
        "period": visit.schedule.period,
        "enterprise": EnterpriseRef(
            credit_code=visit.enterprise.credit_code,
            name=visit.enterprise.name,
            address=visit.enterprise.address,
            district=visit.enterprise.district_adcode,
        ),
        "day": visit.day,
        "start": visit.start,
        "end": visit.end,
        "lead_department": DepartmentRef(
            code=visit.lead_department.code, name=visit.lead_department.name
        ),
        "departments": departments,
        "tasks": len(visit.tasks),
        "announced": visit.announced,
        "notice_from": notice_date(calendar, visit.day, workdays_ahead)
        if visit.announced
        else None,
        "state": visit.state,
        "state_name": service.VISIT_STATE_NAMES[visit.state],
        "frozen": visit.frozen,
        "travel_km": visit.travel_km,
        "team": [
            TeamMember(
                code=m.inspector.code,
                name=m.inspector.name,
                department=m.inspector.department.code,
                position=m.position,
            )
            for m in visit.team
        ]
        if show_team
        else None,
    }


@router.get("/visits", response_model=Page[VisitOut])
def list_visits(
    request: Request,
    db: SessionDep,
    principal: Anyone,
    page: PageDep,
    today: TodayDep,
    day_from: Annotated[dt.date | None, Query(description="起始日期（含）")] = None,
    day_to: Annotated[dt.date | None, Query(description="截止日期（含）")] = None,
    district: Annotated[
        str | None, Query(min_length=6, max_length=6, description="区县代码")
    ] = None,
    department: Annotated[str | None, Query(max_length=16, description="部门代码")] = None,
    state: Annotated[str | None, Query(pattern="^(" + "|".join(VISIT_STATES) + ")$")] = None,
    period: Annotated[str | None, Query(max_length=7, pattern=PERIOD)] = None,
    schedule_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="排程版本（默认：在用版本）")
    ] = None,
) -> Page[VisitOut]:
    """检查（入企）列表，按调用者的身份只列出其可见的检查，可按日期、区县、部门、状态筛选。"""
    stmt = select(Visit)
    if schedule_id is not None and access.sees_everything(principal):
        stmt = stmt.where(Visit.schedule_id == schedule_id)
    else:
        stmt = stmt.where(
            Visit.schedule_id.in_(
                select(ScheduleVersion.id).where(ScheduleVersion.state == "published")
            )
        )
        if schedule_id is not None:
            stmt = stmt.where(Visit.schedule_id == schedule_id)
    stmt = scope(stmt, principal, request=request, today=today)
    if day_from:
        stmt = stmt.where(Visit.day >= day_from)
    if day_to:
        stmt = stmt.where(Visit.day <= day_to)
    if district:
        stmt = stmt.where(
            Visit.enterprise.has(district_adcode=district)  # type: ignore[arg-type]
        )
    if department:
        stmt = stmt.where(
            exists().where(
                VisitTask.visit_id == Visit.id,
                InspectionTask.id == VisitTask.inspection_task_id,
                InspectionTask.department_id == Department.id,
                Department.code == department.upper(),
            )
        )
    if state:
        stmt = stmt.where(Visit.state == state)
    if period:
        stmt = stmt.where(
            Visit.schedule.has(ScheduleVersion.period == service.normalize_period(period))
        )
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    visits = db.scalars(
        access.with_visit_details(stmt)
        .order_by(Visit.day, Visit.start, Visit.id)
        .limit(page.limit)
        .offset(page.offset)
    )
    policy, calendar = jurisdiction(request)
    ahead = policy.notice.announce_workdays_ahead
    return Page(
        items=[VisitOut(**_visit_out(v, principal, calendar, ahead)) for v in visits],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


def visible_visit(
    db: Session, visit_id: int, principal: Principal, *, request: Request, today: dt.date
) -> Visit:
    """The visit if `principal` may see it, else NotFound (whether or not it exists)."""
    policy, calendar = jurisdiction(request)
    return access.visible_visit(
        db, visit_id, principal, today=today, policy=policy, calendar=calendar
    )


@router.get("/visits/{visit_id}", response_model=VisitDetail)
def get_visit(
    visit_id: RowId, request: Request, db: SessionDep, principal: Anyone, today: TodayDep
) -> VisitDetail:
    """一次检查：任务、法律依据和一表通查合并清单（相同检查内容只列一次，注明由哪些部门提出）。"""
    visit = visible_visit(db, visit_id, principal, request=request, today=today)
    tasks = service.visit_tasks(db, visit)
    groups = merged_checklist(tasks, lead_department=visit.lead_department.code)
    merged, asked = checklist_counts(groups)
    policy, calendar = jurisdiction(request)
    return VisitDetail(
        **_visit_out(visit, principal, calendar, policy.notice.announce_workdays_ahead),
        task_list=[
            VisitTaskOut(
                id=t.id,
                department=t.department.code,
                department_name=t.department.name,
                item=t.item.code,
                item_name=t.item.name,
                kind=t.kind,
                legal_basis=t.item.legal_basis,
                minutes=t.minutes,
            )
            for t in tasks
        ],
        checklist=[
            ChecklistGroupOut(
                title=g.title,
                department=g.department,
                entries=[
                    ChecklistEntryOut(
                        key=e.key, text=e.text, departments=e.departments, items=e.items
                    )
                    for e in g.entries
                ],
            )
            for g in groups
        ],
        checklist_entries=merged,
        checks_asked=asked,
    )
