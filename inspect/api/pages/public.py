"""Public pages, no login (公开信息): published inspection plans, published double-random
draws with their verification data, published results (一公开), and the page an inspection
code opens (`/v/<token>`: who is inspecting and what they may check, or "you may refuse").

A logged-in enterprise that opens `/v/<token>` is told when the inspection is not for it, and
the visit's own enterprise confirms the inspector's presence there with one tap (到场确认).

Every page here renders the public models of checkonce.public (an allow-list, field by field),
never an ORM row. Only what has been published is ever read here: plans in state `published`,
draws in state `published`, results through `findings.service.public_results` (the latest
published revision of each task). Plan tasks that name enterprises show how many, never
which: a complaint or a key-supervision target is not announced to the world by a plan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from checkonce.api.deps import PUBLIC, ObjectId, SessionDep, jurisdiction
from checkonce.api.pages.web import CsrfChecked, PageAllow, redirect, render, session_principal
from checkonce.audit.actor import Actor, Channel
from checkonce.audit.service import latest_checkpoints
from checkonce.auth.models import User
from checkonce.auth.service import Principal
from checkonce.errors import NotFound
from checkonce.findings import service as findings
from checkonce.jobs.logs import REQUEST_ID
from checkonce.plans.models import Plan, PlanTask, PlanTaskItem
from checkonce.plans.scope import SCOPE_NAMES, normalize_scope
from checkonce.public import (
    PublicDrawRow,
    PublicPlanOut,
    PublicResultOut,
    public_plan_detail,
    public_plan_out,
)
from checkonce.registry.models import Department, District, Industry, Scene
from checkonce.sampling.models import Draw, DrawMember
from checkonce.visits import presence

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
) -> tuple[list[PublicPlanOut], int]:
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
    return [public_plan_out(plan, n) for plan, n in rows], total


def published_draws(
    db: Session, *, limit: int, offset: int
) -> tuple[list[tuple[PublicDrawRow, int]], int]:
    """Every draw (newest first), each public from its commit on with its state (committed,
    run, published, abandoned, superseded) and reason, with how many enterprises it selected."""
    selected = (
        select(DrawMember.draw_id, func.count().label("n"))
        .where(DrawMember.selected.is_(True))
        .group_by(DrawMember.draw_id)
        .subquery()
    )
    stmt = select(Draw, func.coalesce(selected.c.n, 0)).outerjoin(
        selected, selected.c.draw_id == Draw.id
    )
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.execute(stmt.order_by(Draw.id.desc()).limit(limit).offset(offset)).all()
    redraws = _redraw_counts(db, [draw for draw, _ in rows])
    return [(PublicDrawRow.of(draw, redraws[draw.id]), n) for draw, n in rows], total


def _results(rows) -> list[PublicResultOut]:
    return [PublicResultOut.of(r) for r in rows]


def _redraw_counts(db: Session, draws: list[Draw]) -> dict[int, int]:
    """Approved redraws so far of each draw's plan tasks (the most of any of them)."""
    from checkonce.sampling.service import redraw_counts

    ids = sorted({link.plan_task_id for d in draws for link in d.specs})
    counts = redraw_counts(db_session=db, plan_task_ids=ids)
    return {d.id: max((counts[s.plan_task_id] for s in d.specs), default=0) for d in draws}


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
    results = _results(results)
    checkpoints, checkpoint_total = latest_checkpoints(db, limit=PREVIEW)
    context = {
        "checkpoints": checkpoints,
        "checkpoint_total": checkpoint_total,
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
    shown = public_plan_detail(plan)
    tasks = [{"task": task, "scope": scope_in_words(db, task.scope)} for task in shown.task_list]
    return render(request, "pages/public/plan.html", {"plan": shown, "tasks": tasks})


@router.get("/public/draws", response_class=HTMLResponse, dependencies=[PUBLIC])
def public_draws(request: Request, db: SessionDep, page: PageNumber = 1) -> HTMLResponse:
    """Every double-random draw with its state, reason and redraw count, with links to its
    public JSON and (once its seed is public) its verification."""
    draws, total = published_draws(db, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    context = {
        "draws": draws,
        "paging": Pager(page, PER_PAGE, total),
    }
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
        "results": _results(rows),
        "paging": Pager(page, PER_PAGE, total),
        "period": (period or "").upper(),
        "department": (department or "").upper(),
        "departments": _departments(db),
    }
    return render(request, "pages/public/results.html", context)


Token = Annotated[str, Path(max_length=600)]
EnterpriseUser = Annotated[Principal, Depends(PageAllow("enterprise"))]


def page_actor(principal: Principal) -> Actor:
    """The audit trail's actor for a page request."""
    return Actor.from_principal(principal, channel=Channel.WEB, request_id=REQUEST_ID.get(None))


def _viewer(request: Request, db: Session) -> Principal | None:
    """The logged-in user of an active account, if any (the page is public)."""
    principal = session_principal(request)
    if principal is None:
        return None
    user = db.get(User, principal.user_id)
    return principal if user is not None and user.active else None


def _today(request: Request) -> dt.date:
    zone = ZoneInfo(jurisdiction(request)[0].jurisdiction.timezone)
    return dt.datetime.now(zone).date()


def _code_page(
    request: Request, db: Session, token: str, principal: Principal | None, error: str = ""
) -> HTMLResponse:
    actor = page_actor(principal) if principal is not None else None
    view = presence.verify_code(
        db,
        secret_key=request.app.state.settings.secret_key,
        scanned=token,
        today=_today(request),
        actor=actor,
    )
    own = principal is not None and principal.role == "enterprise" and view.valid
    checkin = presence.checkin_of_code(db, view) if own else None
    status = 200 if view.valid else 403 if view.other_enterprise else 404
    context = {
        "view": view,
        "own": own,
        "checkin": checkin,
        "token": token,
        "confirm_error": error,
    }
    return render(
        request,
        "pages/public/inspection_code.html",
        context,
        status_code=409 if error else status,
        headers=CODE_PAGE_HEADERS,
        principal=principal,
    )


@router.get("/v/{token}", response_class=HTMLResponse, dependencies=[PUBLIC])
def inspection_code_page(token: Token, request: Request, db: SessionDep) -> HTMLResponse:
    """The page an inspector's code (检查码) opens on the enterprise's phone: inspector,
    department, certificate, tasks and legal basis; or "未登记的检查：您有权拒绝" (404).
    A logged-in enterprise that is not the visit's is told so (403); the visit's own enterprise
    sees whether the inspector has checked in and confirms the presence with one tap."""
    return _code_page(request, db, token, _viewer(request, db))


@router.post("/v/{token}/confirm", dependencies=[CsrfChecked])
def confirm_presence(
    token: Token, request: Request, db: SessionDep, principal: EnterpriseUser
) -> Response:
    """到场确认: the visit's enterprise confirms the presence of the inspector whose code it
    scanned; a refusal brings the page back with the reason and changes nothing."""
    try:
        done = presence.confirm_by_code(
            db,
            secret_key=request.app.state.settings.secret_key,
            scanned=token,
            today=_today(request),
            actor=page_actor(principal),
        )
    except presence.PresenceRefused as exc:
        db.rollback()
        return _code_page(request, db, token, principal, error=exc.message)
    name = done.checkin.inspector.name
    message = f"{name} 的到场此前已确认" if done.already else f"已确认 {name} 到场检查"
    return redirect(f"/v/{quote(token, safe='')}", message)
