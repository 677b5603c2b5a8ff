"""Plans: bureaus file and submit their own department's plans; coordinators approve,
publish or return them; published plans are public (一公开)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from checkonce.api.deps import PUBLIC, ActorDep, Allow, ObjectId, PageDep, SessionDep, YearQuery
from checkonce.api.reads import ReadLogDep
from checkonce.api.schemas import Page
from checkonce.audit.actions import AuditAction
from checkonce.auth import access
from checkonce.auth.service import Principal
from checkonce.errors import CheckOnceError
from checkonce.plans import service
from checkonce.plans.models import Plan, PlanTask
from checkonce.public import (
    PublicPlanDetail,
    PublicPlanOut,
    public_plan_detail,
    public_plan_out,
)
from checkonce.registry.models import Department
from checkonce.tabular import read_upload

router = APIRouter(tags=["检查计划"])
PlanStaff = Annotated[Principal, Depends(Allow("admin", "coordinator", "bureau"))]
Filer = Annotated[Principal, Depends(Allow.to(AuditAction.PLAN_CREATE))]
Coordinator = Annotated[Principal, Depends(Allow.to(AuditAction.PLAN_APPROVE))]


class PlanTaskOut(BaseModel):
    id: int
    position: int
    kind: str
    items: list[str]
    window: tuple[dt.date, dt.date]
    scope: dict[str, Any]
    strata: dict[str, Any] | None
    enterprises: list[str]  # credit codes
    enterprise_count: int
    campaign_name: str | None
    approver: str | None
    approval_date: dt.date | None
    approval_document: str | None
    trigger_reason: str | None
    due_workdays: int | None
    note: str


class PlanEventOut(BaseModel):
    actor: str
    at: dt.datetime
    from_state: str | None
    to_state: str
    note: str


class PlanOut(BaseModel):
    id: int
    department: str
    period: str
    version: int
    title: str
    state: str
    created_by: str
    created_at: dt.datetime
    tasks: int


class PlanDetail(PlanOut):
    task_list: list[PlanTaskOut]
    events: list[PlanEventOut]


class FindingOut(BaseModel):
    rule: str
    severity: str
    message: str
    ids: dict[str, list[Any]]


class Validation(BaseModel):
    plan_id: ObjectId
    submittable: bool
    findings: list[FindingOut]


class PlanIn(BaseModel):
    department: str = Field(min_length=2, max_length=16)
    period: str = Field(min_length=4, max_length=6)
    title: str = Field("", max_length=200)
    tasks: list[dict[str, Any]] = Field(min_length=1, max_length=5000)


class Note(BaseModel):
    note: str = Field("", max_length=500)


def _summary(plan: Plan, tasks: int) -> PlanOut:
    return PlanOut(
        id=plan.id,
        department=plan.department.code,
        period=plan.period,
        version=plan.version,
        title=plan.title,
        state=plan.state,
        created_by=plan.created_by,
        created_at=plan.created_at,
        tasks=tasks,
    )


def _detail(plan: Plan) -> PlanDetail:
    """A plan with its tasks, as staff see it. The public see another model, built field by
    field (checkonce.public), never this one with fields removed."""
    tasks = [
        PlanTaskOut(
            id=t.id,
            position=t.position,
            kind=t.kind,
            items=[i.item.code for i in t.items],
            window=(t.window_start, t.window_end),
            scope=t.scope or {},
            strata=t.strata,
            enterprises=[e.enterprise.credit_code for e in t.enterprises],
            enterprise_count=len(t.enterprises),
            campaign_name=t.campaign_name,
            approver=t.approver,
            approval_date=t.approval_date,
            approval_document=t.approval_document,
            trigger_reason=t.trigger_reason,
            due_workdays=t.due_workdays,
            note=t.note,
        )
        for t in plan.tasks
    ]
    events = [
        PlanEventOut(
            actor=e.actor, at=e.at, from_state=e.from_state, to_state=e.to_state, note=e.note
        )
        for e in plan.events
    ]
    return PlanDetail(**_summary(plan, len(tasks)).model_dump(), task_list=tasks, events=events)


def _list(
    db: Session,
    page,
    *,
    department_id: int | None = None,
    states=None,
    year=None,
    department: str | None = None,
    summary=None,
) -> Page:
    summary = summary or _summary
    counts = select(PlanTask.plan_id, func.count().label("n")).group_by(PlanTask.plan_id).subquery()
    stmt = (
        select(Plan, func.coalesce(counts.c.n, 0))
        .join(Department)
        .outerjoin(counts, counts.c.plan_id == Plan.id)
    )
    if department_id is not None:
        stmt = stmt.where(Plan.department_id == department_id)
    if department:
        stmt = stmt.where(Department.code == department)
    if states:
        stmt = stmt.where(Plan.state.in_(states))
    if year:
        stmt = stmt.where(Plan.year == year)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.execute(
        stmt.options(selectinload(Plan.department))
        .order_by(Plan.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    return Page(
        items=[summary(plan, n) for plan, n in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/plans", response_model=Page[PlanOut])
def list_plans(
    db: SessionDep,
    principal: PlanStaff,
    page: PageDep,
    year: YearQuery = None,
    state: str | None = None,
    department: str | None = None,
) -> Page[PlanOut]:
    """计划列表；执法部门只看到本部门的计划。"""
    own = access.plan_department_filter(principal)
    return _list(
        db,
        page,
        department_id=own,
        states=[state] if state else None,
        year=year,
        department=department,
    )


@router.get("/plans/{plan_id}", response_model=PlanDetail)
def get_plan(
    plan_id: ObjectId, db: SessionDep, principal: PlanStaff, reads: ReadLogDep
) -> PlanDetail:
    """一份计划及其任务与流转记录。"""
    plan = access.visible_plan(db, plan_id, principal)
    # the enterprises a plan names are not public (a named target told in advance is warned)
    named = [e.enterprise_id for t in plan.tasks for e in t.enterprises]
    reads.shown(principal, "plan", enterprise_ids=named, object_id=plan.id)
    return _detail(plan)


@router.post("/plans", response_model=PlanDetail, status_code=201)
def create_plan(body: PlanIn, db: SessionDep, _: Filer, actor: ActorDep) -> PlanDetail:
    """以 JSON 提交计划草稿（全部任务正确才写入，错误逐条列出）。"""
    plan = service.create_plan(db_session=db, data=body.model_dump(), actor=actor)
    return _detail(service.get_plan(db_session=db, plan_id=plan.id))


@router.post("/plans/upload", response_model=PlanDetail, status_code=201)
def upload_plan(
    file: UploadFile,
    request: Request,
    db: SessionDep,
    _: Filer,
    actor: ActorDep,
    department: Annotated[str, Form(min_length=2, max_length=16)],
    period: Annotated[str, Form(min_length=4, max_length=6)],
    title: Annotated[str, Form(max_length=200)] = "",
) -> PlanDetail:
    """上传计划表（CSV 或 Excel，一行一条任务）。"""
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise CheckOnceError(f"不支持的文件类型 {suffix or '（无扩展名）'}，请上传 .csv 或 .xlsx")
    data = read_upload(file.file, request.app.state.settings.upload_max_bytes, file.filename or "")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"plan{suffix}"
        path.write_bytes(data)
        plan = service.import_plan_file(
            db_session=db,
            path=path,
            department=department,
            period=period,
            actor=actor,
            title=title,
        )
    return _detail(service.get_plan(db_session=db, plan_id=plan.id))


@router.post("/plans/{plan_id}/validate", response_model=Validation)
def validate(
    plan_id: ObjectId, db: SessionDep, principal: PlanStaff, actor: ActorDep
) -> Validation:
    """按政策校验计划，列出每条问题及其规则名。"""
    access.visible_plan(db, plan_id, principal)
    plan, findings = service.check_plan(db_session=db, plan_id=plan_id, actor=actor)
    return Validation(
        plan_id=plan.id,
        submittable=not any(f.is_error for f in findings),
        findings=[FindingOut(**f.as_dict()) for f in findings],
    )


@router.post("/plans/{plan_id}/submit", response_model=PlanDetail)
def submit(plan_id: ObjectId, db: SessionDep, principal: Filer, actor: ActorDep) -> PlanDetail:
    """提交审核（校验不通过则不能提交）。"""
    access.visible_plan(db, plan_id, principal)
    service.submit_plan(db_session=db, plan_id=plan_id, actor=actor)
    return _detail(service.get_plan(db_session=db, plan_id=plan_id))


@router.post("/plans/{plan_id}/approve", response_model=PlanDetail)
def approve(
    plan_id: ObjectId, body: Note, db: SessionDep, _: Coordinator, actor: ActorDep
) -> PlanDetail:
    """协调机构审核通过。"""
    service.approve_plan(db_session=db, plan_id=plan_id, actor=actor, note=body.note)
    return _detail(service.get_plan(db_session=db, plan_id=plan_id))


@router.post("/plans/{plan_id}/publish", response_model=PlanDetail)
def publish(
    plan_id: ObjectId, body: Note, db: SessionDep, _: Coordinator, actor: ActorDep
) -> PlanDetail:
    """向社会公开计划。"""
    service.publish_plan(db_session=db, plan_id=plan_id, actor=actor, note=body.note)
    return _detail(service.get_plan(db_session=db, plan_id=plan_id))


@router.post("/plans/{plan_id}/return", response_model=PlanDetail)
def return_plan(
    plan_id: ObjectId, body: Note, db: SessionDep, _: Coordinator, actor: ActorDep
) -> PlanDetail:
    """退回修改（须说明理由）。"""
    if not body.note.strip():
        raise CheckOnceError("退回计划须说明理由")
    service.return_to_draft(db_session=db, plan_id=plan_id, actor=actor, note=body.note)
    return _detail(service.get_plan(db_session=db, plan_id=plan_id))


@router.get("/public/plans", response_model=Page[PublicPlanOut], dependencies=[PUBLIC])
def public_plans(
    db: SessionDep, page: PageDep, year: YearQuery = None, department: str | None = None
) -> Page[PublicPlanOut]:
    """已公开的检查计划（无需登录）。"""
    return _list(
        db, page, states=["published"], year=year, department=department, summary=public_plan_out
    )


@router.get("/public/plans/{plan_id}", response_model=PublicPlanDetail, dependencies=[PUBLIC])
def public_plan_detail_out(plan_id: ObjectId, db: SessionDep) -> PublicPlanDetail:
    """一份已公开的计划（未公开的计划一律 404）：只含公开字段，不含指定企业、投诉举报内容和备注。"""
    return public_plan_detail(access.visible_plan(db, plan_id, None))
