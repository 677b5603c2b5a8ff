"""Public pages, no login (公开信息): published inspection plans, published double-random
draws with their verification data, published results (一公开), and the page an inspection
code opens (`/v/<token>`: who is inspecting and what they may check, or "you may refuse").

Only what has been published is ever read here: plans in state `published`, draws in state
`published`, results through `findings.service.public_results` (the latest published revision
of each task). Plan tasks that name enterprises show how many, never which: a complaint or a
key-supervision target is not announced to the world by a plan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from checkonce.api.deps import PUBLIC, ObjectId, SessionDep, jurisdiction
from checkonce.api.pages.web import render
from checkonce.errors import NotFound
from checkonce.findings import service as findings
from checkonce.plans.models import Plan, PlanTask, PlanTaskItem
from checkonce.plans.scope import SCOPE_NAMES, normalize_scope
from checkonce.registry.models import Department, District, Industry, Scene
from checkonce.sampling.models import Draw, DrawMember
from checkonce.visits.inspection_codes import resolve_inspection_code

router = APIRouter(include_in_schema=False)

# Pages people open from a camera app: no caching (a revoked code must stop working at once)
# and no referrer (the token is the credential and must not leak to other sites).
CODE_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
PER_PAGE = 20
PREVIEW = 5
PageNumber = Annotated[int, Query(ge=1, le=10_000, description="页码")]
YearFilter = Annotated[int | None, Query(ge=2000, le=2100, description="年度")]
DepartmentFilter = Annotated[
    str | None, Query(max_length=16, pattern=r"^[A-Za-z0-9_-]*$", description="部门代码")
]
PeriodFilter = Annotated[
    str | None, Query(max_length=6, pattern=r"^(\d{4}([Qq][1-4])?)?$", description="期间")
]


@dataclass(frozen=True)
class Pager:
    """Where a paged list stands: page `number` of `pages`, `total` rows."""

    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page


def _departments(db: Session) -> list[Department]:
    return list(
        db.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.code))
    )


def published_plans(
    db: Session, *, year: int | None, department: str | None, limit: int, offset: int
) -> tuple[list[tuple[Plan, int]], int]:
    """Published plans (newest first) with their task counts, and how many there are."""
    counts = select(PlanTask.plan_id, func.count().label("n")).group_by(PlanTask.plan_id).subquery()
    stmt = (
        select(Plan, func.coalesce(counts.c.n, 0))
        .join(Department, Plan.department_id == Department.id)
        .outerjoin(counts, counts.c.plan_id == Plan.id)
        .where(Plan.state == "published")
    )
    if year:
        stmt = stmt.where(Plan.year == year)
    if department:
        stmt = stmt.where(Department.code == department.upper())
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.execute(
        stmt.options(selectinload(Plan.department))
        .order_by(Plan.year.desc(), Plan.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [(plan, n) for plan, n in rows], total


def published_draws(db: Session, *, limit: int, offset: int) -> tuple[list[tuple[Draw, int]], int]:
    """Published draws (newest first) with how many enterprises each selected."""
    selected = (
        select(DrawMember.draw_id, func.count().label("n"))
        .where(DrawMember.selected.is_(True))
        .group_by(DrawMember.draw_id)
        .subquery()
    )
    stmt = (
        select(Draw, func.coalesce(selected.c.n, 0))
        .outerjoin(selected, selected.c.draw_id == Draw.id)
        .where(Draw.state == "published")
    )
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.execute(
        stmt.order_by(Draw.published_at.desc(), Draw.id.desc()).limit(limit).offset(offset)
    ).all()
    return [(draw, n) for draw, n in rows], total


def scope_in_words(db: Session, scope: dict | None) -> str:
    """A plan task's scope with the names people know (industries, districts, scenes), not
    their codes; "全部企业" when it restricts nothing."""
    names = {
        "industries": dict(db.execute(select(Industry.code, Industry.name)).all()),
        "districts": dict(db.execute(select(District.adcode, District.name)).all()),
        "scenes": dict(db.execute(select(Scene.code, Scene.name)).all()),
    }
    parts = [
        f"{SCOPE_NAMES[key]}：{'、'.join(names[key].get(v, v) for v in values)}"
        for key, values in normalize_scope(scope).items()
        if values
    ]
    return "；".join(parts) if parts else "全部企业"


@router.get("/public", response_class=HTMLResponse, dependencies=[PUBLIC])
def public_home(request: Request, db: SessionDep) -> HTMLResponse:
    """The newest published plans, draws and results, each with a link to its full list."""
    plans, plan_total = published_plans(db, year=None, department=None, limit=PREVIEW, offset=0)
    draws, draw_total = published_draws(db, limit=PREVIEW, offset=0)
    results, result_total = findings.public_results(db, limit=PREVIEW, offset=0)
    context = {
        "plans": plans,
        "plan_total": plan_total,
        "draws": draws,
        "draw_total": draw_total,
        "results": results,
        "result_total": result_total,
    }
    return render(request, "pages/public/home.html", context)


@router.get("/public/plans", response_class=HTMLResponse, dependencies=[PUBLIC])
def public_plans(
    request: Request,
    db: SessionDep,
    page: PageNumber = 1,
    year: YearFilter = None,
    department: DepartmentFilter = None,
) -> HTMLResponse:
    """公开的检查计划, paged, by year and department."""
    pager = Pager(page, PER_PAGE, 0)
    plans, total = published_plans(
        db, year=year, department=department or None, limit=PER_PAGE, offset=pager.offset
    )
    context = {
        "plans": plans,
        "paging": Pager(page, PER_PAGE, total),
        "year": year,
        "department": (department or "").upper(),
        "departments": _departments(db),
    }
    return render(request, "pages/public/plans.html", context)


@router.get("/public/plans/{plan_id}", response_class=HTMLResponse, dependencies=[PUBLIC])
def public_plan(plan_id: ObjectId, request: Request, db: SessionDep) -> HTMLResponse:
    """One published plan and its tasks; an unpublished plan is not found, like a missing one."""
    plan = db.scalars(
        select(Plan)
        .where(Plan.id == plan_id, Plan.state == "published")
        .options(
            selectinload(Plan.department),
            selectinload(Plan.tasks).selectinload(PlanTask.items).selectinload(PlanTaskItem.item),
            selectinload(Plan.tasks).selectinload(PlanTask.enterprises),
        )
    ).first()
    if plan is None:
        raise NotFound(f"计划 {plan_id} 不存在或尚未公开")
    tasks = [
        {"task": task, "scope": scope_in_words(db, task.scope), "named": len(task.enterprises)}
        for task in plan.tasks
    ]
    return render(request, "pages/public/plan.html", {"plan": plan, "tasks": tasks})


@router.get("/public/draws", response_class=HTMLResponse, dependencies=[PUBLIC])
def public_draws(request: Request, db: SessionDep, page: PageNumber = 1) -> HTMLResponse:
    """Published double-random draws with links to their public JSON and its verification."""
    draws, total = published_draws(db, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    context = {"draws": draws, "paging": Pager(page, PER_PAGE, total)}
    return render(request, "pages/public/draws.html", context)


@router.get("/public/results", response_class=HTMLResponse, dependencies=[PUBLIC])
def public_results(
    request: Request,
    db: SessionDep,
    page: PageNumber = 1,
    period: PeriodFilter = None,
    department: DepartmentFilter = None,
) -> HTMLResponse:
    """公开结果 (一公开): the latest published revision of each task's result, paged."""
    rows, total = findings.public_results(
        db,
        period=period.upper() if period else None,
        department=department or None,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    context = {
        "results": rows,
        "paging": Pager(page, PER_PAGE, total),
        "period": (period or "").upper(),
        "department": (department or "").upper(),
        "departments": _departments(db),
    }
    return render(request, "pages/public/results.html", context)


@router.get("/v/{token}", response_class=HTMLResponse, dependencies=[PUBLIC])
def inspection_code_page(token: str, request: Request, db: SessionDep) -> HTMLResponse:
    """The page an inspector's code (检查码) opens on the enterprise's phone: inspector,
    department, certificate, tasks and legal basis; or "未登记的检查：您有权拒绝" (404)."""
    zone = ZoneInfo(jurisdiction(request)[0].jurisdiction.timezone)
    view = resolve_inspection_code(
        db_session=db,
        secret_key=request.app.state.settings.secret_key,
        scanned=token,
        today=dt.datetime.now(zone).date(),
    )
    return render(
        request,
        "pages/public/inspection_code.html",
        {"view": view},
        status_code=200 if view.valid else 404,
        headers=CODE_PAGE_HEADERS,
    )
