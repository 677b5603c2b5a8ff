"""Findings of visits: inspectors record each task's result (and photos), coordinators publish
them (一公开) and watch overdue ones, enterprises rate completed visits.

Who sees what:
- inspector: records results of the tasks of their department on visits whose team they are on;
- bureau: results of its own department's tasks, its own overdue results, and an anonymised
  summary of ratings (never a single rating, never an enterprise);
- coordinator, admin: everything; only the coordinator publishes;
- enterprise: its own rating of its own completed visits.
Another tenant's visit, task or result is a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from checkonce.api.deps import MAX_ID, ActorDep, Allow, ObjectId, SessionDep, TodayDep, jurisdiction
from checkonce.api.reads import ReadLogDep
from checkonce.auth.service import Principal
from checkonce.errors import NotFound
from checkonce.findings import photos, ratings, service
from checkonce.findings.models import ResultPhoto, TaskResult, VisitRating
from checkonce.plans.models import InspectionTask
from checkonce.registry.models import Department
from checkonce.visits.models import Visit, VisitInspector, VisitTask

router = APIRouter(tags=["检查结果"])
Inspector = Annotated[Principal, Depends(Allow("inspector"))]
Coordinator = Annotated[Principal, Depends(Allow("coordinator"))]
Staff = Annotated[Principal, Depends(Allow("admin", "coordinator", "bureau", "inspector"))]
Overseer = Annotated[Principal, Depends(Allow("admin", "coordinator", "bureau"))]
Enterprise = Annotated[Principal, Depends(Allow("enterprise"))]
PeriodQuery = Annotated[
    str | None, Query(pattern=r"^\d{4}([Qq][1-4])?$", description="期间：2027 或 2027Q1")
]
DepartmentQuery = Annotated[
    str | None, Query(min_length=2, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")
]
ResultKind = Literal["passed", "rectify", "case_filed", "not_found", "refused"]


class Answer(BaseModel):
    answer: Literal["ok", "problem", "na"] = Field(description="符合 / 存在问题 / 不适用")
    note: str = Field("", max_length=1000)


class ResultIn(BaseModel):
    result: ResultKind = Field(
        description="合格 passed / 责令整改 rectify / 立案 case_filed / 查无下落 not_found / 拒绝检查 refused"
    )
    checklist: dict[Annotated[str, Field(max_length=64)], Answer] = Field(
        default_factory=dict, max_length=200, description="检查表：检查项 → 答案"
    )
    legal_basis: str | None = Field(None, max_length=2000, description="违法行为的法律依据")
    rectify_by: dt.date | None = Field(None, description="整改期限（责令整改时必填）")
    notes: str = Field("", max_length=4000)
    correction_reason: str | None = Field(None, max_length=1000, description="更正时必填")


class PhotoOut(BaseModel):
    id: int
    sha256: str
    content_type: str
    size_bytes: int
    filename: str


class ResultOut(BaseModel):
    id: int
    visit_id: int
    inspection_task_id: int
    revision: int
    latest: bool
    result: str
    result_name: str
    checklist: dict
    legal_basis: str | None
    rectify_by: dt.date | None
    notes: str
    correction_reason: str | None
    visit_day: dt.date
    publish_by: dt.date
    recorded_by: str
    recorded_at: dt.datetime
    published_at: dt.datetime | None
    photos: list[PhotoOut]


class TaskResultsOut(BaseModel):
    inspection_task_id: int
    department: str
    item: str
    result: ResultOut | None


class PublishIn(BaseModel):
    result_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=1000)


class PublishOut(BaseModel):
    published: list[int]


class OverdueOut(BaseModel):
    department: str
    department_name: str
    inspection_task_id: int
    visit_id: int
    visit_code: str
    visit_day: dt.date
    publish_by: dt.date
    result_id: int | None
    status: str
    status_name: str
    days_overdue: int


class RatingIn(BaseModel):
    score: int = Field(ge=1, le=5, description="1–5 分")
    comment: str = Field("", max_length=1000)


class RatingOut(BaseModel):
    visit_id: int
    score: int
    comment: str
    created_at: dt.datetime
    updated_at: dt.datetime


class RatingFullOut(RatingOut):
    enterprise_id: int
    visit_code: str


class RatingSummaryOut(BaseModel):
    department: str
    count: int
    suppressed: bool
    mean: float | None
    distribution: dict[int, int] | None


def result_out(row: TaskResult) -> ResultOut:
    return ResultOut(
        id=row.id,
        visit_id=row.visit_id,
        inspection_task_id=row.inspection_task_id,
        revision=row.revision,
        latest=row.latest,
        result=row.result,
        result_name=row.result_name,
        checklist=row.checklist,
        legal_basis=row.legal_basis,
        rectify_by=row.rectify_by,
        notes=row.notes,
        correction_reason=row.correction_reason,
        visit_day=row.visit_day,
        publish_by=row.publish_by,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
        published_at=row.published_at,
        photos=[
            PhotoOut(
                id=p.id,
                sha256=p.sha256,
                content_type=p.content_type,
                size_bytes=p.size_bytes,
                filename=p.filename,
            )
            for p in row.photos
        ],
    )


def _on_team(db_session: Session, visit_id: int, inspector_id: int | None) -> bool:
    return bool(
        db_session.scalar(
            select(
                exists().where(
                    VisitInspector.visit_id == visit_id,
                    VisitInspector.inspector_id == inspector_id,
                )
            )
        )
    )


def visible_tasks(db_session: Session, principal: Principal, visit_id: int) -> list[InspectionTask]:
    """The visit's tasks the caller may see; a visit they may not see at all is a 404."""
    visit = db_session.get(Visit, visit_id)
    if visit is None:
        raise NotFound(f"检查 {visit_id} 不存在")
    tasks = list(
        db_session.scalars(
            select(InspectionTask)
            .join(VisitTask, VisitTask.inspection_task_id == InspectionTask.id)
            .where(VisitTask.visit_id == visit_id)
            .order_by(InspectionTask.id)
        )
    )
    if principal.role == "inspector" and not _on_team(db_session, visit_id, principal.inspector_id):
        tasks = []
    if principal.role == "bureau":
        tasks = [t for t in tasks if t.department_id == principal.department_id]
    if not tasks:
        raise NotFound(f"检查 {visit_id} 不存在")
    return tasks


def visible_result(db_session: Session, principal: Principal, result_id: int) -> TaskResult:
    row = db_session.get(TaskResult, result_id)
    if row is None:
        raise NotFound(f"检查结果 {result_id} 不存在")
    tasks = visible_tasks(db_session, principal, row.visit_id)
    if row.inspection_task_id not in {t.id for t in tasks}:
        raise NotFound(f"检查结果 {result_id} 不存在")
    return row


@router.get("/visits/{visit_id}/results", response_model=list[TaskResultsOut])
def visit_results(
    visit_id: ObjectId, db: SessionDep, principal: Staff, reads: ReadLogDep
) -> list[TaskResultsOut]:
    """The latest result of each task of a visit (bureaus: their own department's tasks)."""
    out = []
    tasks = visible_tasks(db, principal, visit_id)
    reads.shown(principal, "result", enterprise_id=tasks[0].enterprise_id, object_id=visit_id)
    for task in tasks:
        latest = service.latest_result(db, task.id)
        out.append(
            TaskResultsOut(
                inspection_task_id=task.id,
                department=task.department.code,
                item=task.item.code,
                result=result_out(latest) if latest is not None else None,
            )
        )
    return out


@router.post("/visits/{visit_id}/tasks/{task_id}/result", response_model=ResultOut, status_code=201)
def record(
    visit_id: ObjectId,
    task_id: ObjectId,
    body: ResultIn,
    request: Request,
    db: SessionDep,
    principal: Inspector,
    actor: ActorDep,
) -> ResultOut:
    """Record a task's result, or correct it (a new revision with `correction_reason`)."""
    policy, calendar = jurisdiction(request)
    row = service.record_result(
        db_session=db,
        visit_id=visit_id,
        inspection_task_id=task_id,
        inspector_id=principal.inspector_id or 0,
        actor=actor,
        data=service.ResultInput(
            result=body.result,
            checklist={k: v.model_dump() for k, v in body.checklist.items()},
            legal_basis=body.legal_basis,
            rectify_by=body.rectify_by,
            notes=body.notes,
            correction_reason=body.correction_reason,
        ),
        policy=policy,
        calendar=calendar,
    )
    return result_out(row)


@router.get("/tasks/{task_id}/results", response_model=list[ResultOut])
def task_history(
    task_id: ObjectId, db: SessionDep, principal: Staff, reads: ReadLogDep
) -> list[ResultOut]:
    """Every revision of a task's result, oldest first."""
    history = service.result_history(db, task_id)
    if not history:
        raise NotFound(f"任务 {task_id} 没有检查结果")
    visible_result(db, principal, history[-1].id)
    task = db.get(InspectionTask, task_id)
    reads.shown(
        principal,
        "result",
        enterprise_id=task.enterprise_id if task else None,
        object_id=f"task:{task_id}",
        revisions=len(history),
    )
    return [result_out(r) for r in history]


@router.post("/results/{result_id}/photos", response_model=PhotoOut, status_code=201)
def upload_photo(
    result_id: ObjectId,
    request: Request,
    db: SessionDep,
    principal: Inspector,
    actor: ActorDep,
    file: Annotated[UploadFile, File(description="JPEG、PNG 或 WebP，不超过 10 MB")],
) -> PhotoOut:
    """Attach a photo to the latest revision of a result the caller's department recorded."""
    row = visible_result(db, principal, result_id)
    task = db.get(InspectionTask, row.inspection_task_id)
    assert task is not None
    service.check_may_record(
        db, visit=row.visit, task=task, inspector_id=principal.inspector_id or 0
    )
    if not row.latest:
        raise NotFound(f"检查结果 {result_id} 已有更新版本，请附在最新版本上")
    settings = request.app.state.settings
    data = file.file.read(settings.photo_max_bytes + 1)
    photo = photos.add_photo(
        db_session=db,
        result=row,
        data=data,
        filename=file.filename or "",
        actor=actor,
        max_bytes=settings.photo_max_bytes,
        max_pixels=settings.photo_max_pixels,
    )
    return PhotoOut(
        id=photo.id,
        sha256=photo.sha256,
        content_type=photo.content_type,
        size_bytes=photo.size_bytes,
        filename=photo.filename,
    )


@router.get(
    "/results/{result_id}/photos/{photo_id}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
def download_photo(
    result_id: ObjectId, photo_id: ObjectId, db: SessionDep, principal: Staff, reads: ReadLogDep
) -> Response:
    """A stored photo, verified against its hash."""
    row = visible_result(db, principal, result_id)
    photo = db.get(ResultPhoto, photo_id)
    if photo is None or photo.result_id != result_id:
        raise NotFound(f"照片 {photo_id} 不存在")
    reads.shown(principal, "result_photo", enterprise_id=row.task.enterprise_id, object_id=photo.id)
    return Response(photos.read_photo(photo), media_type=photo.content_type)


@router.post("/results/publish", response_model=PublishOut)
def publish_batch(
    body: PublishIn, db: SessionDep, principal: Coordinator, actor: ActorDep
) -> PublishOut:
    """Publish several results at once (all or none)."""
    rows = service.publish_results(db_session=db, result_ids=body.result_ids, actor=actor)
    return PublishOut(published=[r.id for r in rows])


@router.post("/results/{result_id}/publish", response_model=PublishOut)
def publish_one(
    result_id: ObjectId, db: SessionDep, principal: Coordinator, actor: ActorDep
) -> PublishOut:
    """Publish one result (一公开)."""
    rows = service.publish_results(db_session=db, result_ids=[result_id], actor=actor)
    return PublishOut(published=[r.id for r in rows])


@router.get("/results/unpublished", response_model=list[ResultOut])
def unpublished(
    db: SessionDep,
    principal: Overseer,
    reads: ReadLogDep,
    period: PeriodQuery = None,
    department: DepartmentQuery = None,
) -> list[ResultOut]:
    """Latest revisions still to publish, earliest deadline first (bureaus: their own)."""
    if principal.role == "bureau":
        own = db.get(Department, principal.department_id)
        department = own.code if own is not None else "-"
    rows = service.unpublished(db, period=period, department=department)[:1000]
    reads.shown(principal, "result", count=len(rows))
    return [result_out(r) for r in rows]


@router.get("/results/overdue", response_model=list[OverdueOut])
def overdue(
    request: Request, db: SessionDep, principal: Overseer, today: TodayDep, reads: ReadLogDep
) -> list[OverdueOut]:
    """Results past their publish-by date, by department (bureaus: their own)."""
    policy, calendar = jurisdiction(request)
    rows = service.overdue_results(db, today, calendar=calendar, policy=policy)
    if principal.role == "bureau":
        own = db.get(Department, principal.department_id)
        rows = [r for r in rows if own is not None and r.department_code == own.code]
    reads.shown(principal, "result", count=len(rows))
    return [
        OverdueOut(
            department=r.department_code,
            department_name=r.department,
            inspection_task_id=r.inspection_task_id,
            visit_id=r.visit_id,
            visit_code=r.visit_code,
            visit_day=r.visit_day,
            publish_by=r.publish_by,
            result_id=r.result_id,
            status=r.status,
            status_name=r.status_name,
            days_overdue=r.days_overdue,
        )
        for r in rows
    ]


# ----------------------------------------------------------------------------------- ratings


def _rating_out(row: VisitRating) -> RatingOut:
    return RatingOut(
        visit_id=row.visit_id,
        score=row.score,
        comment=row.comment,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.put("/visits/{visit_id}/rating", response_model=RatingOut)
def rate(
    visit_id: ObjectId, body: RatingIn, db: SessionDep, principal: Enterprise, actor: ActorDep
) -> RatingOut:
    """Rate a completed visit of one's own enterprise (editable for seven days)."""
    row = ratings.rate_visit(
        db_session=db,
        enterprise_id=principal.enterprise_id or 0,
        visit_id=visit_id,
        score=body.score,
        comment=body.comment,
        actor=actor,
    )
    return _rating_out(row)


@router.get("/visits/{visit_id}/rating", response_model=RatingOut)
def my_rating(visit_id: ObjectId, db: SessionDep, principal: Enterprise) -> RatingOut:
    row = ratings.own_rating(db, enterprise_id=principal.enterprise_id or 0, visit_id=visit_id)
    if row is None:
        raise NotFound(f"检查 {visit_id} 尚无您的评价")
    return _rating_out(row)


@router.get("/ratings", response_model=list[RatingFullOut])
def all_ratings(
    db: SessionDep,
    principal: Annotated[Principal, Depends(Allow("admin", "coordinator"))],
    reads: ReadLogDep,
) -> list[RatingFullOut]:
    """Every rating with its enterprise and visit (coordinators only)."""
    rows = ratings.all_ratings(db)
    reads.shown(principal, "rating", enterprise_ids=[r.enterprise_id for r in rows])
    return [
        RatingFullOut(
            **_rating_out(r).model_dump(), enterprise_id=r.enterprise_id, visit_code=r.visit.code
        )
        for r in rows
    ]


@router.get("/ratings/summary", response_model=RatingSummaryOut)
def rating_summary(
    db: SessionDep, principal: Overseer, department: DepartmentQuery = None
) -> RatingSummaryOut:
    """Anonymised ratings of the visits a department took part in (bureaus: their own)."""
    if principal.role == "bureau":
        dept = db.get(Department, principal.department_id)
    else:
        code = (department or "").upper()
        dept = db.scalars(select(Department).where(Department.code == code)).first()
    if dept is None:
        raise NotFound(f"部门 {department or ''} 不存在")
    summary = ratings.department_summary(db, dept.id)
    return RatingSummaryOut(
        department=dept.code,
        count=summary.count,
        suppressed=summary.suppressed,
        mean=summary.mean,
        distribution=summary.distribution,
    )
