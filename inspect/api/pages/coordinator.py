"""The coordinator's pages (协调监督, desktop first): the dashboard of a period's KPIs, plan
review, double-random draws, schedule generation with live progress, the calendar of visits
and the maps.

Coordinators act; administrators may look at every page but the actions (approve, draw,
publish) are the coordinator's, as in the JSON API. Handlers are thin: they call the domain
services and render; a refused action rolls back and shows the service's message.
"""

from __future__ import annotations

import calendar as month_calendar
import datetime as dt
from collections import defaultdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, selectinload

from checkonce.api.deps import MAX_ID, ActorDep, ObjectId, SessionDep
from checkonce.api.pages.web import CsrfChecked, PageAllow, redirect, render
from checkonce.auth.service import Principal
from checkonce.errors import CheckOnceError, NotFound
from checkonce.findings.service import overdue_results
from checkonce.plans import service as plans
from checkonce.plans.models import (
    PLAN_STATE_NAMES,
    PLAN_STATES,
    TASK_KIND_NAMES,
    InspectionTask,
    Plan,
    PlanTask,
)
from checkonce.plans.periods import parse_period
from checkonce.plans.validation import validate_plan
from checkonce.registry.models import Department, District, Enterprise
from checkonce.sampling import service as draws
from checkonce.sampling.models import Draw, DrawSpec
from checkonce.visits import service as schedules
from checkonce.visits.checkin_models import ALERT_KIND_NAMES, EntryAlert
from checkonce.visits.models import (
    ScheduleJob,
    ScheduleVersion,
    UnscheduledTask,
    Visit,
    VisitInspector,
    VisitTask,
)
from checkonce.visits.reports import REPORT_KIND_NAMES, count_reports, list_reports

router = APIRouter(include_in_schema=False)
# The dashboard counts enterprises' reports of the last 30 days.
REPORT_KPI_DAYS = 30


READERS = PageAllow("coordinator", "admin")
ACTORS = PageAllow("coordinator")
Reader = Annotated[Principal, Depends(READERS)]
Actor = Annotated[Principal, Depends(ACTORS)]
PeriodQuery = Annotated[str | None, Query(max_length=8)]
PAGE_SIZE = 30
# Versions of a year or quarter (what a coordinator schedules); other period codes are
# stand-alone versions of tests and imports.
PLAN_PERIOD = ScheduleVersion.period.regexp_match(r"^[0-9]{4}(Q[1-4])?$")
Note = Annotated[str, Form(max_length=500)]


def _overdue(request: Request, db: Session) -> list:
    """Results past their publish-by date today, by the app's jurisdiction."""
    from checkonce.api.deps import jurisdiction

    policy, calendar = jurisdiction(request)
    return overdue_results(db, schedules.today_in(policy), calendar=calendar, policy=policy)


def _period_or_none(text: str | None) -> str | None:
    """A valid period code, None for a missing or malformed one (the page shows the default)."""
    if not text:
        return None
    try:
        return parse_period(text).code
    except CheckOnceError:
        return None


def _schedule_periods(db: Session) -> list[str]:
    return list(
        db.scalars(
            select(ScheduleVersion.period)
            .distinct()
            .where(PLAN_PERIOD)
            .order_by(ScheduleVersion.period.desc())
        )
    )


def _version_of(db: Session, period: str | None) -> ScheduleVersion | None:
    """The version a page shows for `period`: the published one, else the latest; without a
    period, the latest published version of any period (else the latest version)."""
    stmt = select(ScheduleVersion).order_by(ScheduleVersion.id.desc())
    stmt = stmt.where(ScheduleVersion.period == period if period else PLAN_PERIOD)
    published = db.scalars(stmt.where(ScheduleVersion.state == "published").limit(1)).first()
    return published or db.scalars(stmt.limit(1)).first()


def _joint_visits(db: Session, schedule_id: int) -> int:
    """Visits of the version holding tasks of two or more departments (联合检查)."""
    per_visit = (
        select(VisitTask.visit_id)
        .join(Visit, Visit.id == VisitTask.visit_id)
        .join(InspectionTask, InspectionTask.id == VisitTask.inspection_task_id)
        .where(Visit.schedule_id == schedule_id)
        .group_by(VisitTask.visit_id)
        .having(func.count(distinct(InspectionTask.department_id)) >= 2)
    )
    return db.scalar(select(func.count()).select_from(per_visit.subquery())) or 0


# ------------------------------------------------------------------------------ dashboard


@router.get("/coordinator", response_class=HTMLResponse)
def dashboard(
    request: Request, db: SessionDep, principal: Reader, period: PeriodQuery = None
) -> HTMLResponse:
    """KPIs of a period: tasks, visits against the lower bound, joint visits, entries
    avoided, overdue publications, alerts and plans waiting for review."""
    chosen = _period_or_none(period)
    version = _version_of(db, chosen)
    shown = chosen or (version.period if version else None)
    kpi: dict[str, Any] = {"version": version}
    if version is not None:
        metrics = version.metrics or {}
        visits = db.scalar(select(func.count()).where(Visit.schedule_id == version.id)) or 0
        lb = metrics.get("lb_visits")
        joint = _joint_visits(db, version.id)
        status_quo = metrics.get("status_quo_visits")
        kpi.update(
            tasks=metrics.get("tasks"),
            scheduled=metrics.get("scheduled"),
            unscheduled=db.scalar(
                select(func.count()).where(UnscheduledTask.schedule_id == version.id)
            )
            or 0,
            visits=visits,
            lb_visits=lb,
            vs_lb=(visits / lb) if lb else None,
            merge_ratio=metrics.get("merge_ratio"),
            joint=joint,
            joint_rate=(joint / visits) if visits else None,
            status_quo=status_quo,
            avoided=(status_quo - visits) if isinstance(status_quo, int) else None,
        )
    overdue = _overdue(request, db)
    kpi["overdue"] = len(overdue)
    alerts = select(EntryAlert.kind, func.count()).group_by(EntryAlert.kind)
    if shown:
        dates = parse_period(shown)
        alerts = alerts.where(
            EntryAlert.window_end >= dates.start, EntryAlert.window_start <= dates.end
        )
    kpi["alerts_by_kind"] = dict(db.execute(alerts).all())
    kpi["alerts"] = sum(kpi["alerts_by_kind"].values())
    kpi["awaiting"] = db.scalar(select(func.count()).where(Plan.state == "submitted")) or 0
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=REPORT_KPI_DAYS)
    kpi["reports"] = count_reports(db_session=db, since=since)
    kpi["unregistered"] = count_reports(db_session=db, since=since, kind="unregistered_inspection")
    context = {
        "periods": _schedule_periods(db),
        "period": shown,
        "kpi": kpi,
        "overdue": overdue[:10],
        "ALERT_KIND_NAMES": ALERT_KIND_NAMES,
        "state_names": schedules.SCHEDULE_STATE_NAMES,
    }
    return render(request, "pages/coordinator/dashboard.html", context, principal=principal)


# ------------------------------------------------------------------------------ plans


@router.get("/coordinator/plans", response_class=HTMLResponse)
def plan_list(
    request: Request,
    db: SessionDep,
    principal: Reader,
    state: Annotated[Literal["draft", "submitted", "approved", "published"], Query()] = "submitted",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """Plans of one state (default: waiting for review), newest first, with their tasks."""
    counts = dict(db.execute(select(Plan.state, func.count()).group_by(Plan.state)).all())
    tasks = select(PlanTask.plan_id, func.count().label("n")).group_by(PlanTask.plan_id).subquery()
    rows = db.execute(
        select(Plan, func.coalesce(tasks.c.n, 0))
        .outerjoin(tasks, tasks.c.plan_id == Plan.id)
        .where(Plan.state == state)
        .options(selectinload(Plan.department))
        .order_by(Plan.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    context = {
        "state": state,
        "states": PLAN_STATES,
        "state_names": PLAN_STATE_NAMES,
        "counts": counts,
        "rows": rows,
        "page": page,
        "pages": max(1, -(-counts.get(state, 0) // PAGE_SIZE)),
    }
    return render(request, "pages/coordinator/plans.html", context, principal=principal)


def _plan_page(
    request: Request,
    db: Session,
    principal: Principal,
    plan_id: int,
    *,
    error: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    plan = plans.get_plan(db_session=db, plan_id=plan_id)
    findings = validate_plan(plan, db_session=db)
    concrete = db.scalar(select(func.count()).where(InspectionTask.plan_id == plan.id)) or 0
    context = {
        "plan": plan,
        "findings": findings,
        "errors": sum(1 for f in findings if f.is_error),
        "concrete": concrete,
        "kind_names": TASK_KIND_NAMES,
        "state_names": PLAN_STATE_NAMES,
        "error": error,
    }
    return render(
        request,
        "pages/coordinator/plan.html",
        context,
        principal=principal,
        status_code=status_code,
    )


@router.get("/coordinator/plans/{plan_id}", response_class=HTMLResponse)
def plan_detail(
    request: Request, plan_id: ObjectId, db: SessionDep, principal: Reader
) -> HTMLResponse:
    """A plan with its validation against the 12 policy rules, its tasks and its history."""
    return _plan_page(request, db, principal, plan_id)


def _plan_action(
    request: Request, db: Session, principal: Principal, plan_id: int, action, done: str
) -> Response:
    try:
        action()
    except NotFound:
        raise
    except CheckOnceError as exc:
        db.rollback()
        return _plan_page(
            request, db, principal, plan_id, error=exc.message, status_code=exc.status
        )
    return redirect(f"/coordinator/plans/{plan_id}", done)


@router.post("/coordinator/plans/{plan_id}/approve", dependencies=[CsrfChecked])
def plan_approve(
    request: Request,
    plan_id: ObjectId,
    db: SessionDep,
    principal: Actor,
    actor: ActorDep,
    note: Note = "",
) -> Response:
    """Approve a submitted plan (validation runs again; same rules as the API)."""
    return _plan_action(
        request,
        db,
        principal,
        plan_id,
        lambda: plans.approve_plan(db_session=db, plan_id=plan_id, actor=actor, note=note.strip()),
        "计划已审核通过",
    )


@router.post("/coordinator/plans/{plan_id}/return", dependencies=[CsrfChecked])
def plan_return(
    request: Request,
    plan_id: ObjectId,
    db: SessionDep,
    principal: Actor,
    actor: ActorDep,
    note: Note = "",
) -> Response:
    """Return a submitted plan to its bureau as a draft, with the reason."""
    return _plan_action(
        request,
        db,
        principal,
        plan_id,
        lambda: plans.return_to_draft(db_session=db, plan_id=plan_id, actor=actor, note=note),
        "计划已退回修改",
    )


@router.post("/coordinator/plans/{plan_id}/publish", dependencies=[CsrfChecked])
def plan_publish(
    request: Request,
    plan_id: ObjectId,
    db: SessionDep,
    principal: Actor,
    actor: ActorDep,
    note: Note = "",
) -> Response:
    """Publish an approved plan (一公开)."""
    return _plan_action(
        request,
        db,
        principal,
        plan_id,
        lambda: plans.publish_plan(db_session=db, plan_id=plan_id, actor=actor, note=note.strip()),
        "计划已公开",
    )


# ------------------------------------------------------------------------------ draws


def _drawable_specs(db: Session) -> list[PlanTask]:
    """Random lines of approved or published plans that no live draw serves yet."""
    drawn = select(DrawSpec.plan_task_id)
    return list(
        db.scalars(
            select(PlanTask)
            .join(Plan, Plan.id == PlanTask.plan_id)
            .where(
                PlanTask.kind == "random",
                Plan.state.in_(("approved", "published")),
                PlanTask.id.not_in(drawn),
            )
            .options(selectinload(PlanTask.plan).selectinload(Plan.department))
            .order_by(Plan.year.desc(), PlanTask.id)
            .limit(200)
        )
    )


def _draws_page(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    error: str = "",
    status_code: int = 200,
    page: int = 1,
) -> HTMLResponse:
    total = db.scalar(select(func.count()).select_from(Draw)) or 0
    rows = list(
        db.scalars(
            select(Draw).order_by(Draw.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
        )
    )
    context = {
        "draws": rows,
        "specs": _drawable_specs(db),
        "error": error,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
    }
    return render(
        request,
        "pages/coordinator/draws.html",
        context,
        principal=principal,
        status_code=status_code,
    )


@router.get("/coordinator/draws", response_class=HTMLResponse)
def draw_list(
    request: Request,
    db: SessionDep,
    principal: Reader,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """The draws and the form to commit a new one over random plan lines."""
    return _draws_page(request, db, principal, page=page)


@router.post("/coordinator/draws", dependencies=[CsrfChecked])
def draw_commit(
    request: Request,
    db: SessionDep,
    principal: Actor,
    actor: ActorDep,
    plan_task: Annotated[list[int] | None, Form()] = None,
    title: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Commit a draw: its commitment (seed hash, population hash, strata) is fixed first."""
    try:
        ids = [i for i in (plan_task or []) if 0 < i <= MAX_ID]
        if not ids:
            raise CheckOnceError("请至少选择一条双随机抽查任务")
        draw = draws.commit_draw(db_session=db, plan_task_ids=ids, actor=actor, title=title.strip())
    except CheckOnceError as exc:
        db.rollback()
        return _draws_page(request, db, principal, error=exc.message, status_code=exc.status)
    return redirect(f"/coordinator/draws/{draw.id}", "抽取承诺已登记：请先公布承诺哈希，再执行抽取")


def _draw_page(
    request: Request,
    db: Session,
    principal: Principal,
    draw_id: int,
    *,
    error: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    import json

    draw = draws.get_draw(db_session=db, draw_id=draw_id)
    published = draws.published_json(draw) if draw.state in ("revealed", "published") else None
    verification = (
        draws.verify_draw(db_session=db, draw_id=draw.id) if published is not None else None
    )
    selected = sum(1 for m in draw.members if m.selected)
    context = {
        "draw": draw,
        "commitment_json": json.dumps(draws.publish_commitment(draw), ensure_ascii=False, indent=2),
        "published_json": json.dumps(published, ensure_ascii=False, indent=2) if published else "",
        "verification": verification,
        "selected": selected,
        "error": error,
    }
    return render(
        request,
        "pages/coordinator/draw.html",
        context,
        principal=principal,
        status_code=status_code,
    )


@router.get("/coordinator/draws/{draw_id}", response_class=HTMLResponse)
def draw_detail(
    request: Request, draw_id: ObjectId, db: SessionDep, principal: Reader
) -> HTMLResponse:
    """A draw: the commitment first, then the selection, the seed, the published JSON and
    its verification."""
    return _draw_page(request, db, principal, draw_id)


DRAW_STEPS = {
    "run": (draws.run_draw, "抽取已执行：种子尚未公开"),
    "reveal": (draws.reveal_draw, "种子已公开"),
    "publish": (draws.publish_draw, "抽取结果已公示"),
}


@router.post("/coordinator/draws/{draw_id}/{step}", dependencies=[CsrfChecked])
def draw_step(
    request: Request,
    draw_id: ObjectId,
    step: Literal["run", "reveal", "publish"],
    db: SessionDep,
    principal: Actor,
    actor: ActorDep,
) -> Response:
    """Run, reveal or publish a draw (each only in its turn)."""
    action, done = DRAW_STEPS[step]
    try:
        action(db_session=db, draw_id=draw_id, actor=actor)
    except NotFound:
        raise
    except CheckOnceError as exc:
        db.rollback()
        return _draw_page(
            request, db, principal, draw_id, error=exc.message, status_code=exc.status
        )
    return redirect(f"/coordinator/draws/{draw_id}", done)


# ------------------------------------------------------------------------------ schedules


@router.get("/coordinator/schedules", response_class=HTMLResponse)
def schedule_list(
    request: Request, db: SessionDep, principal: Reader, period: PeriodQuery = None
) -> HTMLResponse:
    """Generate a period's schedule (progress polled from the page) and the versions so far."""
    chosen = _period_or_none(period)
    stmt = select(ScheduleVersion).where(PLAN_PERIOD)
    if chosen:
        stmt = stmt.where(ScheduleVersion.period == chosen)
    versions = list(db.scalars(stmt.order_by(ScheduleVersion.id.desc()).limit(PAGE_SIZE)))
    visit_counts = dict(
        db.execute(
            select(Visit.schedule_id, func.count())
            .where(Visit.schedule_id.in_([v.id for v in versions]))
            .group_by(Visit.schedule_id)
        ).all()
    )
    running = list(
        db.scalars(
            select(ScheduleJob)
            .where(ScheduleJob.state.in_(("queued", "running")))
            .order_by(ScheduleJob.id.desc())
            .limit(5)
        )
    )
    suggested = chosen or _next_period(db)
    context = {
        "versions": versions,
        "visit_counts": visit_counts,
        "running": running,
        "period": suggested,
        "state_names": schedules.SCHEDULE_STATE_NAMES,
    }
    return render(request, "pages/coordinator/schedules.html", context, principal=principal)


def _next_period(db: Session) -> str:
    """The period of the newest approved plan (what a coordinator most likely schedules)."""
    latest = db.scalar(
        select(Plan.period)
        .where(Plan.state.in_(("approved", "published")))
        .order_by(Plan.id.desc())
        .limit(1)
    )
    return latest or ""


def _schedule_page(
    request: Request,
    db: Session,
    principal: Principal,
    schedule_id: int,
    *,
    error: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    version = schedules.get_schedule(db_session=db, schedule_id=schedule_id)
    visits = db.scalar(select(func.count()).where(Visit.schedule_id == version.id)) or 0
    unscheduled = db.execute(
        select(UnscheduledTask, InspectionTask, Enterprise, Department)
        .join(InspectionTask, InspectionTask.id == UnscheduledTask.inspection_task_id)
        .join(Enterprise, Enterprise.id == InspectionTask.enterprise_id)
        .join(Department, Department.id == InspectionTask.department_id)
        .where(UnscheduledTask.schedule_id == version.id)
        .order_by(UnscheduledTask.inspection_task_id)
        .limit(200)
    ).all()
    unscheduled_total = (
        db.scalar(select(func.count()).where(UnscheduledTask.schedule_id == version.id)) or 0
    )
    metrics = version.metrics or {}
    context = {
        "version": version,
        "visits": visits,
        "joint": _joint_visits(db, version.id),
        "metrics": metrics,
        "report": version.verifier_report or {},
        "unscheduled": unscheduled,
        "unscheduled_total": unscheduled_total,
        "state_names": schedules.SCHEDULE_STATE_NAMES,
        "error": error,
    }
    return render(
        request,
        "pages/coordinator/schedule.html",
        context,
        principal=principal,
        status_code=status_code,
    )


@router.get("/coordinator/schedules/{schedule_id}", response_class=HTMLResponse)
def schedule_detail(
    request: Request, schedule_id: ObjectId, db: SessionDep, principal: Reader
) -> HTMLResponse:
    """A version's metrics, verifier report and tasks left out, with the publish button."""
    return _schedule_page(request, db, principal, schedule_id)


@router.post("/coordinator/schedules/{schedule_id}/publish", dependencies=[CsrfChecked])
def schedule_publish(
    request: Request, schedule_id: ObjectId, db: SessionDep, principal: Actor, actor: ActorDep
) -> Response:
    """Publish a clean draft version; the version in force is superseded in the same step."""
    try:
        version = schedules.publish_schedule(db_session=db, schedule_id=schedule_id, actor=actor)
    except NotFound:
        raise
    except CheckOnceError as exc:
        db.rollback()
        return _schedule_page(
            request, db, principal, schedule_id, error=exc.message, status_code=exc.status
        )
    return redirect(
        f"/coordinator/calendar?schedule={version.id}",
        "排程已发布，执法人员和企业现在可以看到这些检查",
    )


# ------------------------------------------------------------------------------ calendar


def _month_of(text: str | None, version: ScheduleVersion | None, db: Session) -> dt.date:
    if text:
        try:
            return dt.datetime.strptime(text, "%Y-%m").date()
        except ValueError:
            pass
    if version is not None:
        first = db.scalar(select(func.min(Visit.day)).where(Visit.schedule_id == version.id))
        if first is not None:
            return first.replace(day=1)
        try:
            return parse_period(version.period).start
        except CheckOnceError:
            pass
    return dt.date.today().replace(day=1)


@router.get("/coordinator/calendar", response_class=HTMLResponse)
def visit_calendar(
    request: Request,
    db: SessionDep,
    principal: Reader,
    schedule: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    period: PeriodQuery = None,
    month: Annotated[str | None, Query(max_length=7)] = None,
    day: Annotated[dt.date | None, Query(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31))] = None,
    district: Annotated[str | None, Query(max_length=6)] = None,
    department: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    """A month of the chosen version's visits with counts per day; a day lists its visits
    (enterprise, departments, team). Filters: district and department."""
    version = None
    if schedule is not None:
        version = db.get(ScheduleVersion, schedule)
        if version is None:
            raise NotFound(f"排程版本 {schedule} 不存在")
    else:
        version = _version_of(db, _period_or_none(period))
    first = _month_of(month, version, db) if day is None else day.replace(day=1)
    last = first.replace(day=month_calendar.monthrange(first.year, first.month)[1])
    districts = list(db.scalars(select(District).order_by(District.adcode)))
    departments = list(db.scalars(select(Department).order_by(Department.id)))
    district = district if district in {d.adcode for d in districts} else None
    dept = next((d for d in departments if d.code == department), None)

    per_day: dict[dt.date, int] = {}
    visits: list[dict[str, Any]] = []
    if version is not None:
        stmt = select(Visit.day, func.count()).where(
            Visit.schedule_id == version.id, Visit.day >= first, Visit.day <= last
        )
        stmt = _visit_filters(stmt, district, dept)
        per_day = dict(db.execute(stmt.group_by(Visit.day)).all())
        if day is not None:
            visits = _day_visits(db, version.id, day, district, dept)
    weeks = month_calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    prev_month = (first - dt.timedelta(days=1)).replace(day=1)
    next_month = last + dt.timedelta(days=1)
    context = {
        "version": version,
        "versions": list(
            db.scalars(
                select(ScheduleVersion)
                .where(PLAN_PERIOD)
                .order_by(ScheduleVersion.id.desc())
                .limit(20)
            )
        ),
        "first": first,
        "weeks": weeks,
        "per_day": per_day,
        "month_total": sum(per_day.values()),
        "day": day,
        "visits": visits,
        "districts": districts,
        "departments": departments,
        "district": district or "",
        "department": dept.code if dept else "",
        "prev_month": prev_month.strftime("%Y-%m"),
        "next_month": next_month.strftime("%Y-%m"),
        "state_names": schedules.VISIT_STATE_NAMES,
    }
    return render(request, "pages/coordinator/calendar.html", context, principal=principal)


def _visit_filters(stmt, district: str | None, dept: Department | None):
    if district:
        stmt = stmt.join(Enterprise, Enterprise.id == Visit.enterprise_id).where(
            Enterprise.district_adcode == district
        )
    if dept is not None:
        holds = (
            select(VisitTask.visit_id)
            .join(InspectionTask, InspectionTask.id == VisitTask.inspection_task_id)
            .where(InspectionTask.department_id == dept.id)
        )
        stmt = stmt.where(Visit.id.in_(holds))
    return stmt


def _day_visits(
    db: Session, schedule_id: int, day: dt.date, district: str | None, dept: Department | None
) -> list[dict[str, Any]]:
    stmt = select(Visit).where(Visit.schedule_id == schedule_id, Visit.day == day)
    stmt = _visit_filters(stmt, district, dept).options(
        selectinload(Visit.enterprise).selectinload(Enterprise.district),
        selectinload(Visit.team).selectinload(VisitInspector.inspector),
        selectinload(Visit.tasks),
    )
    rows = list(db.scalars(stmt.order_by(Visit.start, Visit.code).limit(500)))
    task_ids = [t.inspection_task_id for v in rows for t in v.tasks]
    departments: dict[int, set[str]] = defaultdict(set)
    items: dict[int, int] = defaultdict(int)
    if task_ids:
        task_visit = {t.inspection_task_id: v.id for v in rows for t in v.tasks}
        for task_id, name in db.execute(
            select(InspectionTask.id, Department.short_name)
            .join(Department, Department.id == InspectionTask.department_id)
            .where(InspectionTask.id.in_(task_ids))
        ):
            departments[task_visit[task_id]].add(name)
            items[task_visit[task_id]] += 1
    return [
        {
            "visit": v,
            "departments": sorted(departments[v.id]),
            "tasks": items[v.id],
            "team": [m.inspector for m in v.team],
        }
        for v in rows
    ]


# ------------------------------------------------------------------------------ maps

MAPS = {"coverage": "检查覆盖", "fees": "涉企收费", "alerts": "入企预警"}


@router.get("/coordinator/maps", response_class=HTMLResponse)
def maps(
    request: Request,
    db: SessionDep,
    principal: Reader,
    kind: Annotated[Literal["coverage", "fees", "alerts"], Query(alias="map")] = "coverage",
    period: PeriodQuery = None,
) -> HTMLResponse:
    """The coverage, fee and alert maps (the API's map pages, framed with their layer
    control), for a period."""
    chosen = _period_or_none(period)
    source = f"/api/v1/maps/{kind}" + (f"?period={chosen}" if chosen else "")
    context = {
        "map": kind,
        "maps": MAPS,
        "source": source,
        "period": chosen or "",
        "periods": _schedule_periods(db),
    }
    return render(request, "pages/coordinator/maps.html", context, principal=principal)


# ------------------------------------------------------------------------------ reports


@router.get("/coordinator/reports", response_class=HTMLResponse)
def reports(
    request: Request,
    db: SessionDep,
    principal: Reader,
    kind: Annotated[Literal["unregistered_inspection", "other"] | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """What enterprises reported (企业反映): unregistered inspections first of all, newest
    first, with the enterprise and the enterprise's own words."""
    rows, total = list_reports(
        db_session=db, kind=kind, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    context = {
        "rows": rows,
        "kind": kind,
        "kind_names": REPORT_KIND_NAMES,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
    }
    return render(request, "pages/coordinator/reports.html", context, principal=principal)
