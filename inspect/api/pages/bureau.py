"""A law-enforcement bureau's pages (执法部门): its plans and their states, uploading a plan
file (all or nothing: every bad row is listed and nothing is written), submitting it, its
tasks and the visits they were merged into, its results with their publication and the
anonymous rating aggregates.

A bureau sees only its own department: every query here is filtered by the session's
department, and another department's plan is a 404.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from checkonce.api.deps import ActorDep, ObjectId, SessionDep
from checkonce.api.pages.web import CsrfChecked, PageAllow, redirect, render
from checkonce.api.reads import ReadLog, ReadLogDep
from checkonce.auth.service import Principal
from checkonce.errors import CheckOnceError, ImportRejected, NotFound, RowError
from checkonce.findings.models import RESULT_NAMES, TaskResult
from checkonce.findings.ratings import MIN_GROUP, department_summary
from checkonce.findings.service import overdue_results
from checkonce.plans import service as plans
from checkonce.plans.intake import PLAN_COLUMNS
from checkonce.plans.models import (
    PLAN_STATE_NAMES,
    TASK_KIND_NAMES,
    InspectionTask,
    Plan,
    PlanTask,
)
from checkonce.plans.periods import parse_period
from checkonce.plans.validation import validate_plan
from checkonce.registry.models import CheckItem, Department, Enterprise
from checkonce.tabular import read_upload, size_text
from checkonce.visits.models import ScheduleVersion, Visit, VisitTask
from checkonce.visits.service import VISIT_STATE_NAMES, today_in

router = APIRouter(include_in_schema=False)
Bureau = Annotated[Principal, Depends(PageAllow("bureau"))]
PAGE_SIZE = 30
SUFFIXES = (".csv", ".xlsx", ".xlsm")
PageQuery = Annotated[int, Query(ge=1, le=10_000)]


def _department(db: Session, principal: Principal) -> Department:
    department = db.get(Department, principal.department_id)
    if department is None:  # the schema ties every bureau account to a department
        raise NotFound("本账号没有所属部门")
    return department


def _pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


# ------------------------------------------------------------------------------ plans


@router.get("/bureau", response_class=HTMLResponse)
def home(request: Request, db: SessionDep, principal: Bureau, page: PageQuery = 1) -> HTMLResponse:
    """The department's plans, newest first, with their states."""
    department = _department(db, principal)
    own = Plan.department_id == department.id
    total = db.scalar(select(func.count()).where(own)) or 0
    tasks = select(PlanTask.plan_id, func.count().label("n")).group_by(PlanTask.plan_id).subquery()
    rows = db.execute(
        select(Plan, func.coalesce(tasks.c.n, 0))
        .outerjoin(tasks, tasks.c.plan_id == Plan.id)
        .where(own)
        .order_by(Plan.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    states = dict(
        db.execute(select(Plan.state, func.count()).where(own).group_by(Plan.state)).all()
    )
    context = {
        "department": department,
        "rows": rows,
        "states": states,
        "state_names": PLAN_STATE_NAMES,
        "page": page,
        "pages": _pages(total),
    }
    return render(request, "pages/bureau/home.html", context, principal=principal)


def _own_plan(db: Session, principal: Principal, plan_id: int) -> Plan:
    plan = plans.get_plan(db_session=db, plan_id=plan_id)
    if plan.department_id != principal.department_id:
        raise NotFound(f"计划 {plan_id} 不存在")
    return plan


def _plan_page(
    request: Request,
    db: Session,
    principal: Principal,
    plan_id: int,
    *,
    error: str = "",
    status_code: int = 200,
    reads: ReadLog | None = None,
) -> HTMLResponse:
    plan = _own_plan(db, principal, plan_id)
    if reads is not None:
        named = [e.enterprise_id for t in plan.tasks for e in t.enterprises]
        reads.shown(principal, "plan", enterprise_ids=named, object_id=plan.id)
    findings = validate_plan(plan, db_session=db)
    context = {
        "plan": plan,
        "findings": findings,
        "errors": sum(1 for f in findings if f.is_error),
        "kind_names": TASK_KIND_NAMES,
        "state_names": PLAN_STATE_NAMES,
        "error": error,
    }
    return render(
        request, "pages/bureau/plan.html", context, principal=principal, status_code=status_code
    )


@router.get("/bureau/plans/{plan_id}", response_class=HTMLResponse)
def plan_detail(
    request: Request, plan_id: ObjectId, db: SessionDep, principal: Bureau, reads: ReadLogDep
) -> HTMLResponse:
    """One of the department's plans: validation, tasks, history, and the submit button."""
    return _plan_page(request, db, principal, plan_id, reads=reads)


@router.post("/bureau/plans/{plan_id}/submit", dependencies=[CsrfChecked])
def plan_submit(
    request: Request, plan_id: ObjectId, db: SessionDep, principal: Bureau, actor: ActorDep
) -> Response:
    """Submit a draft for review (refused, with the rules it breaks, when it is not valid)."""
    _own_plan(db, principal, plan_id)
    try:
        plans.submit_plan(db_session=db, plan_id=plan_id, actor=actor)
    except CheckOnceError as exc:
        db.rollback()
        return _plan_page(
            request, db, principal, plan_id, error=exc.message, status_code=exc.status
        )
    return redirect(f"/bureau/plans/{plan_id}", "计划已提交，等待协调机构审核")


# ------------------------------------------------------------------------------ upload


def _upload_page(
    request: Request,
    principal: Principal,
    department: Department,
    *,
    form: dict[str, str] | None = None,
    error: str = "",
    rows: list[RowError] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "department": department,
        "form": form or {"period": "", "title": ""},
        "error": error,
        "rows": rows or [],
        "columns": PLAN_COLUMNS,
        "max_size": size_text(request.app.state.settings.upload_max_bytes),
    }
    return render(
        request, "pages/bureau/upload.html", context, principal=principal, status_code=status_code
    )


@router.get("/bureau/upload", response_class=HTMLResponse)
def upload_page(request: Request, db: SessionDep, principal: Bureau) -> HTMLResponse:
    """The plan upload form, with the columns a plan file has."""
    return _upload_page(request, principal, _department(db, principal))


@router.post("/bureau/upload", dependencies=[CsrfChecked])
def upload(
    request: Request,
    db: SessionDep,
    principal: Bureau,
    actor: ActorDep,
    file: UploadFile | None = None,
    period: Annotated[str, Form(max_length=16)] = "",
    title: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create a draft plan from a CSV or Excel file: all rows or none. On errors the page
    lists every bad row (row number, field, reason) and the database is unchanged."""
    department = _department(db, principal)
    form = {"period": period.strip(), "title": title.strip()}
    try:
        parse_period(form["period"])
        name = (file.filename or "") if file is not None else ""
        if not name:
            raise CheckOnceError("请选择要上传的计划文件（.csv 或 .xlsx）")
        suffix = Path(name).suffix.lower()
        if suffix not in SUFFIXES:
            raise CheckOnceError(
                f"不支持的文件类型 {suffix or '（无扩展名）'}，请上传 .csv 或 .xlsx 文件"
            )
        data = read_upload(file.file, request.app.state.settings.upload_max_bytes, name)
        if not data:
            raise CheckOnceError(f"文件 {name} 是空的")
        with tempfile.TemporaryDirectory() as folder:
            # The service reports the file by its name, so keep the name the bureau chose.
            path = Path(folder) / (Path(name).name or f"plan{suffix}")
            path.write_bytes(data)
            plan = plans.import_plan_file(
                db_session=db,
                path=path,
                department=department.code,
                period=form["period"],
                actor=actor,
                title=form["title"],
            )
    except ImportRejected as exc:
        db.rollback()
        return _upload_page(
            request,
            principal,
            department,
            form=form,
            error=(
                f"导入被拒绝，共 {exc.total} 处错误，没有创建任何计划。请修改文件后重新上传。"
                + (f"（下面列出前 {len(exc.errors)} 处）" if exc.total > len(exc.errors) else "")
            ),
            rows=exc.errors,
            status_code=exc.status,
        )
    except CheckOnceError as exc:
        db.rollback()
        return _upload_page(
            request, principal, department, form=form, error=exc.message, status_code=exc.status
        )
    return redirect(
        f"/bureau/plans/{plan.id}",
        "计划已上传为草稿，请核对校验结果后提交审核",
    )


# ------------------------------------------------------------------------------ tasks


@router.get("/bureau/tasks", response_class=HTMLResponse)
def tasks(
    request: Request, db: SessionDep, principal: Bureau, reads: ReadLogDep, page: PageQuery = 1
) -> HTMLResponse:
    """The department's concrete tasks and the visit each was merged into (in the schedule
    in force): date, the departments inspecting together, state."""
    department = _department(db, principal)
    own = (InspectionTask.department_id == department.id) & InspectionTask.active.is_(True)
    total = db.scalar(select(func.count()).select_from(InspectionTask).where(own)) or 0
    rows = list(
        db.execute(
            select(InspectionTask, Enterprise, CheckItem)
            .join(Enterprise, Enterprise.id == InspectionTask.enterprise_id)
            .join(CheckItem, CheckItem.id == InspectionTask.item_id)
            .where(own)
            .order_by(InspectionTask.window_start.desc(), InspectionTask.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        ).all()
    )
    visits = _visits_of(db, [task.id for task, _, _ in rows])
    reads.shown(principal, "task", enterprise_ids=[firm.id for _, firm, _ in rows], total=total)
    context = {
        "department": department,
        "rows": [
            {"task": task, "enterprise": firm, "item": item, "visit": visits.get(task.id)}
            for task, firm, item in rows
        ],
        "total": total,
        "page": page,
        "pages": _pages(total),
        "kind_names": TASK_KIND_NAMES,
        "visit_states": VISIT_STATE_NAMES,
    }
    return render(request, "pages/bureau/tasks.html", context, principal=principal)


def _visits_of(db: Session, task_ids: list[int]) -> dict[int, dict[str, Any]]:
    """task id → its visit in a published schedule, with the departments of that visit."""
    if not task_ids:
        return {}
    found = db.execute(
        select(VisitTask.inspection_task_id, Visit)
        .join(Visit, Visit.id == VisitTask.visit_id)
        .join(ScheduleVersion, ScheduleVersion.id == Visit.schedule_id)
        .where(VisitTask.inspection_task_id.in_(task_ids), ScheduleVersion.state == "published")
    ).all()
    visit_ids = {visit.id for _, visit in found}
    names: dict[int, set[str]] = {}
    if visit_ids:
        for visit_id, name in db.execute(
            select(VisitTask.visit_id, Department.short_name)
            .join(InspectionTask, InspectionTask.id == VisitTask.inspection_task_id)
            .join(Department, Department.id == InspectionTask.department_id)
            .where(VisitTask.visit_id.in_(visit_ids))
        ):
            names.setdefault(visit_id, set()).add(name)
    return {
        task_id: {"visit": visit, "departments": sorted(names.get(visit.id, ()))}
        for task_id, visit in found
    }


# ------------------------------------------------------------------------------ results


@router.get("/bureau/results", response_class=HTMLResponse)
def results(
    request: Request, db: SessionDep, principal: Bureau, reads: ReadLogDep, page: PageQuery = 1
) -> HTMLResponse:
    """The department's results (latest revisions) with their publication state, the overdue
    ones, and the anonymous ratings of its visits (only as aggregates of at least 3)."""
    from checkonce.api.deps import jurisdiction

    department = _department(db, principal)
    policy, calendar = jurisdiction(request)
    today = today_in(policy)
    own = (InspectionTask.department_id == department.id) & TaskResult.latest.is_(True)
    base = select(TaskResult).join(
        InspectionTask, InspectionTask.id == TaskResult.inspection_task_id
    )
    total = db.scalar(select(func.count()).select_from(base.where(own).subquery())) or 0
    unpublished = (
        db.scalar(
            select(func.count()).select_from(
                base.where(own, TaskResult.published_at.is_(None)).subquery()
            )
        )
        or 0
    )
    rows = list(
        db.scalars(
            base.where(own)
            .options(
                selectinload(TaskResult.task).selectinload(InspectionTask.enterprise),
                selectinload(TaskResult.task).selectinload(InspectionTask.item),
                selectinload(TaskResult.visit),
            )
            .order_by(TaskResult.visit_day.desc(), TaskResult.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        )
    )
    overdue = [
        o
        for o in overdue_results(db, today, calendar=calendar, policy=policy)
        if o.department_code == department.code
    ]
    reads.shown(
        principal, "result", enterprise_ids=[r.task.enterprise_id for r in rows], total=total
    )
    context = {
        "department": department,
        "rows": rows,
        "total": total,
        "unpublished": unpublished,
        "overdue": overdue[:50],
        "overdue_total": len(overdue),
        "overdue_ids": {o.result_id for o in overdue if o.result_id is not None},
        "ratings": department_summary(db, department.id),
        "min_group": MIN_GROUP,
        "today": today,
        "result_names": RESULT_NAMES,
        "page": page,
        "pages": _pages(total),
    }
    return render(request, "pages/bureau/results.html", context, principal=principal)
