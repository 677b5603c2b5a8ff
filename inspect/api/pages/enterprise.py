"""The enterprise's pages (phone first): upcoming announced visits with the merged checklist to
prepare (一表通查), past visits with their published results and the visit's rating, checking
an inspector's code, reporting an unregistered inspection, and the enterprise's QR poster.

An enterprise account sees only its own enterprise. Upcoming visits are those the notice rules
(checkonce.visits.notice) already show: announced, within the notice period; an unannounced
random check never appears before the team has checked in. Ratings are anonymous towards the
inspected departments (checkonce.findings.ratings).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkonce.api.deps import ActorDep, ObjectId, SessionDep, TodayDep, jurisdiction
from checkonce.api.pages.web import CsrfChecked, PageAllow, redirect, render
from checkonce.auth import access
from checkonce.auth.service import Principal
from checkonce.errors import CheckOnceError
from checkonce.findings import ratings
from checkonce.findings.models import TaskResult, VisitRating
from checkonce.plans.models import TASK_KIND_NAMES
from checkonce.registry.models import Enterprise
from checkonce.visits import reports
from checkonce.visits.checklist import checklist_counts, merged_checklist
from checkonce.visits.codes import InvalidCode, token_from_scan
from checkonce.visits.models import REPORT_KINDS, ScheduleVersion, Visit
from checkonce.visits.notice import ENTERED_STATES
from checkonce.visits.service import VISIT_STATE_NAMES, visit_tasks

router = APIRouter(include_in_schema=False)
EnterpriseUser = Annotated[Principal, Depends(PageAllow("enterprise"))]

UPCOMING_LIMIT = 20
HISTORY_PER_PAGE = 10
REPORTS_SHOWN = 10
PageNumber = Annotated[int, Query(ge=1, le=10_000, description="页码")]


@dataclass(frozen=True)
class Pager:
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page


def _firm(db: Session, principal: Principal) -> Enterprise:
    firm = db.get(Enterprise, principal.enterprise_id) if principal.enterprise_id else None
    if firm is None:
        raise CheckOnceError("此账号未关联企业，请联系管理员")
    return firm


def _published_visits(request: Request, principal: Principal, today: dt.date):
    """The visits of schedules in force that the notice rules let this enterprise see."""
    stmt = select(Visit).where(
        Visit.schedule_id.in_(
            select(ScheduleVersion.id).where(ScheduleVersion.state == "published")
        )
    )
    policy, calendar = jurisdiction(request)
    return access.visible_visits(stmt, principal, today=today, policy=policy, calendar=calendar)


def _visit_card(db: Session, visit: Visit) -> dict:
    """What the enterprise is shown of one visit: departments, tasks and the merged checklist."""
    tasks = visit_tasks(db, visit)
    groups = merged_checklist(tasks, lead_department=visit.lead_department.code)
    merged, asked = checklist_counts(groups)
    return {
        "visit": visit,
        "task_rows": {t.id: t for t in tasks},
        "state_name": VISIT_STATE_NAMES[visit.state],
        "departments": list(dict.fromkeys(t.department.name for t in tasks)),
        "tasks": [
            {
                "item": t.item.name,
                "department": t.department.name,
                "kind": TASK_KIND_NAMES[t.kind],
                "legal_basis": t.item.legal_basis,
            }
            for t in tasks
        ],
        "checklist": groups,
        "merged": merged,
        "asked": asked,
    }


@router.get("/enterprise", response_class=HTMLResponse)
def upcoming(
    request: Request, db: SessionDep, principal: EnterpriseUser, today: TodayDep
) -> HTMLResponse:
    """即将到来的检查: announced visits from today on, each with its merged checklist."""
    firm = _firm(db, principal)
    stmt = _published_visits(request, principal, today).where(
        Visit.announced.is_(True),
        Visit.day >= today,
        Visit.state.in_(("scheduled", "checked_in")),
    )
    visits = db.scalars(
        access.with_visit_details(stmt)
        .order_by(Visit.day, Visit.start, Visit.id)
        .limit(UPCOMING_LIMIT)
    )
    cards = [_visit_card(db, v) for v in visits]
    policy, _calendar = jurisdiction(request)
    context = {
        "firm": firm,
        "cards": cards,
        "today": today,
        "notice_workdays": policy.notice.announce_workdays_ahead,
    }
    return render(request, "pages/enterprise/upcoming.html", context, principal=principal)


def _published_results(db: Session, visit_ids: list[int]) -> dict[int, list[TaskResult]]:
    """Per visit, the latest published revision of each task's result."""
    latest: dict[int, TaskResult] = {}
    for row in db.scalars(
        select(TaskResult)
        .where(TaskResult.visit_id.in_(visit_ids), TaskResult.published_at.is_not(None))
        .order_by(TaskResult.revision)
    ):
        latest[row.inspection_task_id] = row
    by_visit: dict[int, list[TaskResult]] = {}
    for row in latest.values():
        by_visit.setdefault(row.visit_id, []).append(row)
    return by_visit


def _history_context(
    request: Request, db: Session, principal: Principal, today: dt.date, page: int
) -> dict:
    stmt = _published_visits(request, principal, today).where(Visit.state.in_(ENTERED_STATES))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pager = Pager(page, HISTORY_PER_PAGE, total)
    visits = list(
        db.scalars(
            access.with_visit_details(stmt)
            .order_by(Visit.day.desc(), Visit.id.desc())
            .limit(HISTORY_PER_PAGE)
            .offset(pager.offset)
        )
    )
    ids = [v.id for v in visits]
    results = _published_results(db, ids)
    own = {
        r.visit_id: r
        for r in db.scalars(
            select(VisitRating).where(
                VisitRating.visit_id.in_(ids),
                VisitRating.enterprise_id == principal.enterprise_id,
            )
        )
    }
    rows = []
    for visit in visits:
        card = _visit_card(db, visit)
        card["results"] = [
            (row, card["task_rows"][row.inspection_task_id])
            for row in sorted(results.get(visit.id, []), key=lambda r: r.inspection_task_id)
            if row.inspection_task_id in card["task_rows"]
        ]
        card["rating"] = own.get(visit.id)
        card["rateable"] = visit.state == "completed"
        rows.append(card)
    return {
        "firm": _firm(db, principal),
        "rows": rows,
        "paging": pager,
        "edit_days": ratings.RATING_EDIT_DAYS,
        "publish_workdays": jurisdiction(request)[0].publicity.publish_within_workdays,
        "error": "",
        "errors": {},
        "values": {},
    }


@router.get("/enterprise/history", response_class=HTMLResponse)
def history(
    request: Request,
    db: SessionDep,
    principal: EnterpriseUser,
    today: TodayDep,
    page: PageNumber = 1,
) -> HTMLResponse:
    """检查记录: visits the team has made, newest first, with published results and rating."""
    context = _history_context(request, db, principal, today, page)
    return render(request, "pages/enterprise/history.html", context, principal=principal)


@router.post("/enterprise/history/{visit_id}/rating", dependencies=[CsrfChecked])
def rate(
    visit_id: ObjectId,
    request: Request,
    db: SessionDep,
    principal: EnterpriseUser,
    actor: ActorDep,
    today: TodayDep,
    score: Annotated[str, Form(max_length=8)] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
    page: Annotated[int, Form(ge=1, le=10_000)] = 1,
) -> Response:
    """Rate a completed visit (1–5 and a comment), or change the rating within the window."""
    try:
        if not score.strip().isdigit():
            raise CheckOnceError("请选择 1 至 5 分的评分")
        ratings.rate_visit(
            db_session=db,
            enterprise_id=principal.enterprise_id or 0,
            visit_id=visit_id,
            score=int(score),
            comment=comment,
            actor=actor,
        )
    except CheckOnceError as exc:
        db.rollback()
        context = _history_context(request, db, principal, today, page)
        context["errors"] = {visit_id: exc.message}
        if visit_id not in {card["visit"].id for card in context["rows"]}:
            context["error"] = exc.message  # not on this page: say it at the top
        context["values"] = {visit_id: {"score": score, "comment": comment}}
        return render(
            request,
            "pages/enterprise/history.html",
            context,
            status_code=exc.status,
            principal=principal,
        )
    return redirect(f"/enterprise/history?page={page}#visit-{visit_id}", "评价已提交，谢谢")


@router.get("/enterprise/verify", response_class=HTMLResponse)
def verify_page(request: Request, principal: EnterpriseUser) -> HTMLResponse:
    """核验检查码: paste or type the code the inspector shows."""
    return render(
        request, "pages/enterprise/verify.html", {"error": "", "code": ""}, principal=principal
    )


@router.post("/enterprise/verify", dependencies=[CsrfChecked])
def verify(
    request: Request,
    principal: EnterpriseUser,
    code: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Open the /v/<token> page of what was entered; a wrong kind of code is explained here."""
    error = ""
    text = code.strip()
    if not text:
        error = "请输入或粘贴执法人员出示的检查码"
    elif "/e/" in text or text.startswith("E1."):
        error = "这是企业码（张贴在您门口的二维码），不是检查码；请扫描执法人员手机上出示的检查码"
    else:
        try:
            token = token_from_scan(text, "v")
        except InvalidCode as exc:
            error = exc.message
        else:
            if not token or "/" in token:
                error = "检查码格式不正确"
            else:
                return redirect(f"/v/{quote(token, safe='')}")
    return render(
        request,
        "pages/enterprise/verify.html",
        {"error": error, "code": code},
        status_code=400,
        principal=principal,
    )


def _report_context(db: Session, principal: Principal, values: dict, error: str = "") -> dict:
    mine, total = reports.list_reports(
        db_session=db, enterprise_id=principal.enterprise_id, limit=REPORTS_SHOWN
    )
    return {
        "firm": _firm(db, principal),
        "kinds": [(k, reports.REPORT_KIND_NAMES[k]) for k in REPORT_KINDS],
        "values": values,
        "error": error,
        "mine": mine,
        "mine_total": total,
        "kind_names": reports.REPORT_KIND_NAMES,
    }


@router.get("/enterprise/report", response_class=HTMLResponse)
def report_page(
    request: Request,
    db: SessionDep,
    principal: EnterpriseUser,
    today: TodayDep,
    kind: Annotated[str, Query(max_length=32)] = "unregistered_inspection",
) -> HTMLResponse:
    """反映问题: the form, and the enterprise's own earlier reports."""
    values = {
        "kind": kind if kind in REPORT_KINDS else "unregistered_inspection",
        "happened_on": today.isoformat(),
    }
    context = _report_context(db, principal, values) | {"today": today}
    return render(request, "pages/enterprise/report.html", context, principal=principal)


@router.post("/enterprise/report", dependencies=[CsrfChecked])
def report(
    request: Request,
    db: SessionDep,
    principal: EnterpriseUser,
    actor: ActorDep,
    today: TodayDep,
    kind: Annotated[str, Form(max_length=32)] = "",
    happened_on: Annotated[str, Form(max_length=20)] = "",
    happened_at: Annotated[str, Form(max_length=20)] = "",
    department_said: Annotated[str, Form(max_length=4000)] = "",
    people: Annotated[str, Form(max_length=4000)] = "",
    description: Annotated[str, Form(max_length=20000)] = "",
    contact: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Store the report (nothing is stored when a field is wrong: the form comes back)."""
    values = {
        "kind": kind,
        "happened_on": happened_on,
        "happened_at": happened_at,
        "department_said": department_said,
        "people": people,
        "description": description,
        "contact": contact,
    }
    try:
        try:
            day = dt.date.fromisoformat(happened_on.strip()) if happened_on.strip() else None
        except ValueError:
            raise CheckOnceError("发生日期格式不正确，应为 年-月-日") from None
        try:
            moment = dt.time.fromisoformat(happened_at.strip()) if happened_at.strip() else None
        except ValueError:
            raise CheckOnceError("发生时间格式不正确，应为 时:分") from None
        filed = reports.file_report(
            db_session=db,
            enterprise_id=_firm(db, principal).id,
            data=reports.ReportInput(
                kind=kind,
                happened_on=day,
                happened_at=moment,
                department_said=department_said,
                people=people,
                description=description,
                contact=contact,
            ),
            actor=actor,
            today=today,
        )
    except CheckOnceError as exc:
        db.rollback()
        context = _report_context(db, principal, values, exc.message) | {"today": today}
        return render(
            request,
            "pages/enterprise/report.html",
            context,
            status_code=400,
            principal=principal,
        )
    return redirect(f"/enterprise/report#report-{filed.id}", "已提交，协调部门将核实处理")


@router.get("/enterprise/poster", response_class=HTMLResponse)
def poster(request: Request, db: SessionDep, principal: EnterpriseUser) -> HTMLResponse:
    """企业码: the enterprise's own QR poster to print and post at the entrance."""
    firm = _firm(db, principal)
    base = f"/api/v1/enterprises/{quote(firm.credit_code)}/poster"
    context = {"firm": firm, "svg_url": f"{base}.svg", "png_url": f"{base}.png"}
    return render(request, "pages/enterprise/poster.html", context, principal=principal)
