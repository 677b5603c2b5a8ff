"""Schedules: the coordinator generates a period's merged schedule as a background job,
watches its progress, reviews the draft (metrics, verifier report, tasks left out) and
publishes it. Administrators may read them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkonce.api.deps import (  # noqa: F401 (today: tests override it from here)
    ActorDep,
    Allow,
    PageDep,
    RowId,
    SessionDep,
    TodayDep,
    jurisdiction,
    today,
)
from checkonce.api.reads import ReadLogDep
from checkonce.api.schemas import Page
from checkonce.auth.service import Principal
from checkonce.plans.models import InspectionTask
from checkonce.registry.models import CheckItem, Department, Enterprise
from checkonce.visits import jobs, service
from checkonce.visits.models import (
    SCHEDULE_STATES,
    ScheduleJob,
    ScheduleVersion,
    UnscheduledTask,
    Visit,
)

router = APIRouter(tags=["合并排程"])
Coordinator = Annotated[Principal, Depends(Allow("coordinator"))]
Reader = Annotated[Principal, Depends(Allow("admin", "coordinator"))]
PeriodText = Annotated[
    str, Field(min_length=4, max_length=7, pattern=r"^\d{4}([Qq][1-4]|-\d{2})?$")
]


class JobIn(BaseModel):
    period: PeriodText = Field(description="期间：2027、2027Q1 或 2027-03")
    seed: str | None = Field(
        None,
        max_length=64,
        pattern=r"^[0-9a-fA-F]{1,64}$",
        description="仅供试验：指定执法人员排序密钥，这样生成的版本不能发布；"
        "不填则由本期已公开的抽取结果推导",
    )
    time_limit: float = Field(60.0, gt=0, le=3600, description="求解时限（秒）")
    workers: int = Field(1, ge=1, le=8, description="求解线程数；需要可复现时用 1")
    replan: bool = Field(False, description="重排：保留已签到、已完成和近期检查，只重排其余")
    freeze_workdays: int | None = Field(
        None, ge=0, le=30, description="重排时保留今后几个工作日内的检查（默认 2）"
    )


class JobOut(BaseModel):
    id: int
    period: str
    state: str
    stage: str
    progress: float
    message: str
    requested_by: str
    schedule_id: int | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


class ScheduleOut(BaseModel):
    id: int
    period: str
    version: int
    state: str
    state_name: str
    seed: str
    seed_source: str
    seed_draws: list[int]
    based_on_id: int | None
    violations: int
    visits: int
    unscheduled: int
    metrics: dict[str, Any]
    created_by: str
    created_at: dt.datetime
    published_by: str | None
    published_at: dt.datetime | None


class UnscheduledOut(BaseModel):
    task_id: int
    enterprise: str
    enterprise_name: str
    department: str
    item: str
    kind: str
    reason: str


class ScheduleDetail(ScheduleOut):
    instance_name: str
    verifier_report: dict[str, Any]
    unscheduled_tasks: list[UnscheduledOut]


def _job_out(job: ScheduleJob) -> JobOut:
    return JobOut(
        id=job.id,
        period=job.period,
        state=job.state,
        stage=job.stage,
        progress=job.progress,
        message=job.message,
        requested_by=job.requested_by,
        schedule_id=job.schedule_id,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


def _counts(db: Session, ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    if not ids:
        return {}, {}
    visits = dict(
        db.execute(
            select(Visit.schedule_id, func.count())
            .where(Visit.schedule_id.in_(ids))
            .group_by(Visit.schedule_id)
        ).all()
    )
    unscheduled = dict(
        db.execute(
            select(UnscheduledTask.schedule_id, func.count())
            .where(UnscheduledTask.schedule_id.in_(ids))
            .group_by(UnscheduledTask.schedule_id)
        ).all()
    )
    return visits, unscheduled


def _schedule_out(version: ScheduleVersion, visits: int, unscheduled: int) -> ScheduleOut:
    return ScheduleOut(
        id=version.id,
        period=version.period,
        version=version.version,
        state=version.state,
        state_name=service.SCHEDULE_STATE_NAMES[version.state],
        seed=version.seed,
        seed_source=version.seed_source,
        seed_draws=list(version.seed_draws or []),
        based_on_id=version.based_on_id,
        violations=version.violations,
        visits=visits,
        unscheduled=unscheduled,
        metrics=version.metrics or {},
        created_by=version.created_by,
        created_at=version.created_at,
        published_by=version.published_by,
        published_at=version.published_at,
    )


def _detail(db: Session, version: ScheduleVersion) -> ScheduleDetail:
    visits, unscheduled = _counts(db, [version.id])
    rows = db.execute(
        select(
            UnscheduledTask.inspection_task_id,
            Enterprise.credit_code,
            Enterprise.name,
            Department.code,
            CheckItem.code,
            InspectionTask.kind,
            UnscheduledTask.reason,
        )
        .join(InspectionTask, InspectionTask.id == UnscheduledTask.inspection_task_id)
        .join(Enterprise, Enterprise.id == InspectionTask.enterprise_id)
        .join(Department, Department.id == InspectionTask.department_id)
        .join(CheckItem, CheckItem.id == InspectionTask.item_id)
        .where(UnscheduledTask.schedule_id == version.id)
        .order_by(UnscheduledTask.inspection_task_id)
    )
    return ScheduleDetail(
        **_schedule_out(
            version, visits.get(version.id, 0), unscheduled.get(version.id, 0)
        ).model_dump(),
        instance_name=version.instance_name,
        verifier_report=version.verifier_report or {},
        unscheduled_tasks=[
            UnscheduledOut(
                task_id=task_id,
                enterprise=credit,
                enterprise_name=name,
                department=dept,
                item=item,
                kind=kind,
                reason=reason,
            )
            for task_id, credit, name, dept, item, kind, reason in rows
        ],
    )


@router.post("/schedules/jobs", response_model=JobOut, status_code=202)
def start_job(
    body: JobIn,
    request: Request,
    background: BackgroundTasks,
    db: SessionDep,
    principal: Coordinator,
    actor: ActorDep,
    day: TodayDep,
) -> JobOut:
    """生成排程（后台任务）：读取已批准任务、登记库与本年历史，求解、独立校验后存为草稿版本。"""
    job_request = jobs.JobRequest(
        period=body.period,
        seed=body.seed,
        time_limit=body.time_limit,
        workers=body.workers,
        replan=body.replan,
        freeze_workdays=body.freeze_workdays,
    )
    job = jobs.create_job(db_session=db, request=job_request, actor=actor)
    out = _job_out(job)
    # Committed now: the job runs after the response, on sessions of its own.
    db.commit()
    policy, calendar = jurisdiction(request)
    background.add_task(
        jobs.run_job,
        sessions=request.app.state.sessions,
        job_id=job.id,
        request=job_request,
        actor=actor,
        policy=policy,
        calendar=calendar,
        today=day,
    )
    return out


@router.post("/schedules/jobs/{job_id}/retry", response_model=JobOut, status_code=202)
def retry_job(
    job_id: RowId,
    request: Request,
    background: BackgroundTasks,
    db: SessionDep,
    principal: Coordinator,
    actor: ActorDep,
    day: TodayDep,
) -> JobOut:
    """重试失败（含中断）的生成任务：以原参数重新生成。"""
    job = jobs.retry_job(db_session=db, job_id=job_id, actor=actor)
    out = _job_out(job)
    db.commit()
    policy, calendar = jurisdiction(request)
    background.add_task(
        jobs.run_job,
        sessions=request.app.state.sessions,
        job_id=job.id,
        request=jobs.request_of(job),
        actor=actor,
        policy=policy,
        calendar=calendar,
        today=day,
    )
    return out


@router.get("/schedules/jobs/{job_id}", response_model=JobOut)
def job_progress(job_id: RowId, db: SessionDep, principal: Coordinator) -> JobOut:
    """生成任务的进度：阶段、完成比例、结果版本。"""
    return _job_out(jobs.get_job(db_session=db, job_id=job_id))


@router.get("/schedules", response_model=Page[ScheduleOut])
def list_schedules(
    db: SessionDep,
    principal: Reader,
    page: PageDep,
    period: Annotated[
        str | None, Query(max_length=7, pattern=r"^\d{4}([Qq][1-4]|-\d{2})?$")
    ] = None,
    state: Annotated[str | None, Query(pattern="^(" + "|".join(SCHEDULE_STATES) + ")$")] = None,
) -> Page[ScheduleOut]:
    """排程版本列表（最新在前），可按期间与状态筛选。"""
    stmt = select(ScheduleVersion)
    if period:
        stmt = stmt.where(ScheduleVersion.period == service.normalize_period(period))
    if state:
        stmt = stmt.where(ScheduleVersion.state == state)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    versions = list(
        db.scalars(stmt.order_by(ScheduleVersion.id.desc()).limit(page.limit).offset(page.offset))
    )
    visits, unscheduled = _counts(db, [v.id for v in versions])
    return Page(
        items=[_schedule_out(v, visits.get(v.id, 0), unscheduled.get(v.id, 0)) for v in versions],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/schedules/{schedule_id}", response_model=ScheduleDetail)
def get_schedule(
    schedule_id: RowId, db: SessionDep, principal: Reader, reads: ReadLogDep
) -> ScheduleDetail:
    """一个排程版本：指标、独立校验报告、未排任务及原因。"""
    detail = _detail(db, service.get_schedule(db_session=db, schedule_id=schedule_id))
    # the tasks left out name their enterprises
    reads.shown(principal, "schedule", count=len(detail.unscheduled_tasks), object_id=schedule_id)
    return detail


@router.post("/schedules/{schedule_id}/publish", response_model=ScheduleDetail)
def publish_schedule(
    schedule_id: RowId, db: SessionDep, principal: Coordinator, actor: ActorDep
) -> ScheduleDetail:
    """发布草稿版本：原在用版本在同一事务中被取代；有违规的版本不能发布。"""
    version = service.publish_schedule(db_session=db, schedule_id=schedule_id, actor=actor)
    return _detail(db, version)
