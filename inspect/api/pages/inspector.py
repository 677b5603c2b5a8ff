"""The inspector's pages (执法人员, phone first): today's route, my visits, one visit with its
merged checklist (一表通查), results and fee findings to record and the inspection code to
show (亮码检查); and the page an enterprise's poster opens, `/e/<token>`, where a logged-in
inspector checks in with one tap (扫码入企).

Check-ins go from the phone to the JSON API (POST /api/v1/checkins with the session cookie);
`static/inspector.js` queues them on the phone while it is offline and sends each exactly
once (same idempotency key on every retry) when it is back online.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from checkonce.api.deps import PUBLIC, SessionDep
from checkonce.api.pages.web import CsrfChecked, PageAllow, redirect, render, session_principal
from checkonce.api.routers.codes import public_base_url
from checkonce.api.routers.schedules import TodayDep, jurisdiction
from checkonce.auth.service import Principal
from checkonce.errors import CheckOnceError, NotFound
from checkonce.findings import service as findings
from checkonce.findings.fees import service as fees
from checkonce.findings.models import ANSWER_NAMES, RESULT_NAMES, UNINSPECTED_RESULTS
from checkonce.registry.models import Inspector
from checkonce.visits import codes, posters, service
from checkonce.visits.checklist import checklist_counts, merged_checklist
from checkonce.visits.codes import InvalidCode, enterprise_of_code
from checkonce.visits.inspection_codes import LIVE_VISIT_STATES, issue_inspection_code
from checkonce.visits.inspector_visits import (
    day_route,
    list_own_visits,
    own_checkin,
    own_visit,
    team_checkins,
)
from checkonce.visits.models import Visit

router = APIRouter(include_in_schema=False)
InspectorDep = Annotated[Principal, Depends(PageAllow("inspector"))]
VisitId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PAGE_SIZE = 20
# Pages people open from a camera app: no caching (a revoked code must stop working at once)
# and no referrer (the token is the credential and must not leak to other sites).
CODE_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def form_data(request: Request) -> FormData:
    """The posted form (read once; Starlette keeps it for the CSRF check too)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(form_data)]


def _zone(request: Request) -> ZoneInfo:
    policy, _calendar = jurisdiction(request)
    return ZoneInfo(policy.jurisdiction.timezone)


def _me(db: Session, principal: Principal) -> Inspector:
    inspector = db.get(Inspector, principal.inspector_id or -1)
    if inspector is None:
        raise NotFound("该账号未关联执法人员")
    return inspector


def _local(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A stored time (UTC; naive from SQLite) in the jurisdiction's time zone."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(zone)


def _parse_date(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise CheckOnceError(
            f"{field}「{text}」不是有效日期，应为 年-月-日，如 2027-03-15"
        ) from None


# ---------------------------------------------------------------------------- today's route


@router.get("/inspector", response_class=HTMLResponse)
def route_page(
    request: Request,
    db: SessionDep,
    principal: InspectorDep,
    today: TodayDep,
    day: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """The day's visits in route order, with the team, the tasks and the route map."""
    me = _me(db, principal)
    error, status, chosen = "", 200, today
    if day:
        try:
            chosen = _parse_date(day, "日期")
            if not dt.date(2000, 1, 1) <= chosen <= dt.date(2100, 12, 31):
                raise CheckOnceError(f"日期「{day}」超出范围")
        except CheckOnceError as exc:
            error, status, chosen = exc.message, 422, today
    visits = day_route(db, inspector_id=me.id, day=chosen)
    context = {
        "me": me,
        "day": chosen,
        "today": today,
        "previous_day": chosen - dt.timedelta(days=1),
        "next_day": chosen + dt.timedelta(days=1),
        "visits": visits,
        "error": error,
        "state_names": service.VISIT_STATE_NAMES,
    }
    return render(
        request, "pages/inspector/route.html", context, principal=principal, status_code=status
    )


@router.get("/inspector/visits", response_class=HTMLResponse)
def visits_page(
    request: Request,
    db: SessionDep,
    principal: InspectorDep,
    today: TodayDep,
    when: Annotated[str, Query(pattern="^(upcoming|recent)$")] = "upcoming",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """My visits, upcoming (soonest first) or recent (latest first), a page at a time."""
    me = _me(db, principal)
    rows, total = list_own_visits(
        db,
        inspector_id=me.id,
        today=today,
        upcoming=when == "upcoming",
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    context = {
        "me": me,
        "when": when,
        "visits": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "today": today,
        "state_names": service.VISIT_STATE_NAMES,
    }
    return render(request, "pages/inspector/visits.html", context, principal=principal)


# -------------------------------------------------------------------------------- one visit


def _inspection_code(request: Request, db: Session, visit: Visit, me: Inspector) -> dict | None:
    """My inspection code of the visit: its URL and the QR as inline SVG (no extra request)."""
    if visit.state not in LIVE_VISIT_STATES:
        return None
    token, _in_force = issue_inspection_code(
        db_session=db,
        secret_key=request.app.state.settings.secret_key,
        visit_id=visit.id,
        inspector_id=me.id,
    )
    url = codes.inspection_url(public_base_url(request), token)
    svg = posters.qr_code(url).svg_inline(scale=5, border=4, omitsize=True)
    return {"url": url, "svg": Markup(svg)}


def _visit_page(
    request: Request,
    db: Session,
    principal: Principal,
    visit_id: int,
    *,
    today: dt.date,
    task_error: tuple[int, str, dict] | None = None,
    fee_error: tuple[str, dict] | None = None,
) -> HTMLResponse:
    me = _me(db, principal)
    visit = own_visit(db, inspector_id=me.id, visit_id=visit_id)
    tasks = service.visit_tasks(db, visit)
    groups = merged_checklist(tasks, lead_department=visit.lead_department.code)
    merged, asked = checklist_counts(groups)
    zone = _zone(request)
    checkins = [{"row": c, "at": _local(c.checked_in_at, zone)} for c in team_checkins(db, visit)]
    context = {
        "me": me,
        "visit": visit,
        "today": today,
        "tasks": tasks,
        "results": {t.id: findings.latest_result(db, t.id) for t in tasks},
        "groups": groups,
        "merged": merged,
        "asked": asked,
        "checkins": checkins,
        "i_checked_in": any(c["row"].inspector_id == me.id for c in checkins),
        "recordable": visit.state in findings.RECORDABLE_STATES,
        "code": _inspection_code(request, db, visit, me),
        "fee_findings": fees.findings_of_visit(db, visit.id),
        "units": fees.charging_units(db),
        "state_names": service.VISIT_STATE_NAMES,
        "result_names": RESULT_NAMES,
        "answer_names": ANSWER_NAMES,
        "uninspected": UNINSPECTED_RESULTS,
        "task_error": task_error,
        "fee_error": fee_error,
    }
    status = 422 if task_error or fee_error else 200
    return render(
        request, "pages/inspector/visit.html", context, principal=principal, status_code=status
    )


@router.get("/inspector/visits/{visit_id}", response_class=HTMLResponse)
def visit_page(
    visit_id: VisitId, request: Request, db: SessionDep, principal: InspectorDep, today: TodayDep
) -> HTMLResponse:
    """One visit: check-ins, the merged checklist, results, fee findings, my inspection code."""
    return _visit_page(request, db, principal, visit_id, today=today)


def _result_input(form: FormData, keys: list[str]) -> findings.ResultInput:
    """The result form as the service takes it; a malformed date is a CheckOnceError."""
    checklist = {}
    for key in keys:
        answer = str(form.get(f"answer.{key}") or "")
        if answer:
            checklist[key] = {"answer": answer, "note": str(form.get(f"note.{key}") or "")}
    result = str(form.get("result") or "")
    if not result:
        raise CheckOnceError("请选择检查结果（合格、责令整改、立案、查无下落或拒绝检查）")
    rectify = str(form.get("rectify_by") or "").strip()
    return findings.ResultInput(
        result=result,
        checklist=checklist,
        legal_basis=str(form.get("legal_basis") or "") or None,
        rectify_by=_parse_date(rectify, "整改期限") if rectify else None,
        notes=str(form.get("notes") or ""),
        correction_reason=str(form.get("correction_reason") or "") or None,
    )


@router.post("/inspector/visits/{visit_id}/tasks/{task_id}/result", dependencies=[CsrfChecked])
def record_result(
    visit_id: VisitId,
    task_id: VisitId,
    request: Request,
    db: SessionDep,
    principal: InspectorDep,
    today: TodayDep,
    form: FormDep,
) -> Response:
    """Record (or correct) a task's result; on bad input the page comes back with the error
    beside the task's form, the entries kept, and nothing saved."""
    me = _me(db, principal)
    visit = own_visit(db, inspector_id=me.id, visit_id=visit_id)
    task = next((t for t in service.visit_tasks(db, visit) if t.id == task_id), None)
    if task is None:
        raise NotFound(f"检查 {visit_id} 中没有任务 {task_id}")
    policy, calendar = jurisdiction(request)
    try:
        row = findings.record_result(
            db_session=db,
            visit_id=visit.id,
            inspection_task_id=task.id,
            inspector_id=me.id,
            actor=principal.actor,
            data=_result_input(form, [line.key for line in task.item.checklist]),
            policy=policy,
            calendar=calendar,
        )
    except CheckOnceError as exc:
        db.rollback()
        entered = {k: str(v) for k, v in form.items() if k != "csrf"}
        return _visit_page(
            request,
            db,
            principal,
            visit_id,
            today=today,
            task_error=(task_id, exc.message, entered),
        )
    message = f"已保存：{task.item.name} — {row.result_name}（第 {row.revision} 版）"
    return redirect(f"/inspector/visits/{visit_id}#task-{task_id}", message)


@router.post("/inspector/visits/{visit_id}/fees", dependencies=[CsrfChecked])
def record_fee(
    visit_id: VisitId,
    request: Request,
    db: SessionDep,
    principal: InspectorDep,
    today: TodayDep,
    form: FormDep,
) -> Response:
    """Record a charge found at the visit; the fee engine's verdict is shown at once."""
    me = _me(db, principal)
    visit = own_visit(db, inspector_id=me.id, visit_id=visit_id)
    try:
        if visit.state not in findings.RECORDABLE_STATES:
            raise CheckOnceError(f"检查 {visit.code} 尚未签到入企，不能登记现场发现的收费")
        charged_on = str(form.get("charged_on") or "").strip()
        if not charged_on:
            raise CheckOnceError("请填写收费日期")
        row = fees.record_fee_finding(
            db_session=db,
            data=fees.ChargeInput(
                unit=str(form.get("unit") or ""),
                item=str(form.get("item") or ""),
                amount=str(form.get("amount") or "").strip() or "-",
                charged_on=_parse_date(charged_on, "收费日期"),
                receipt_no=str(form.get("receipt_no") or ""),
                quantity=str(form.get("quantity") or "").strip() or "1",
            ),
            enterprise_id=visit.enterprise_id,
            source="visit",
            visit_id=visit.id,
            actor=principal.actor,
            today=today,
        )
    except CheckOnceError as exc:
        db.rollback()
        entered = {k: str(v) for k, v in form.items() if k != "csrf"}
        return _visit_page(
            request, db, principal, visit_id, today=today, fee_error=(exc.message, entered)
        )
    message = f"收费已登记，判定：{row.verdict_name}"
    if row.refund_due:
        message += f"，应退 {row.refund_due} 元"
    return redirect(f"/inspector/visits/{visit_id}#fee-{row.id}", message)


# ------------------------------------------------------------------ the enterprise's poster


@router.get("/e/{token}", response_class=HTMLResponse, dependencies=[PUBLIC])
def enterprise_code_page(
    token: Annotated[str, Path(max_length=600)], request: Request, db: SessionDep, today: TodayDep
) -> HTMLResponse:
    """The page an enterprise's poster opens: who the enterprise is and, for a logged-in
    inspector, one-tap check-in; an invalid code says so and why."""
    principal = session_principal(request)
    try:
        firm, _code = enterprise_of_code(
            db_session=db, secret_key=request.app.state.settings.secret_key, scanned=token
        )
    except InvalidCode as exc:
        return render(
            request,
            "pages/inspector/enterprise_code.html",
            {"firm": None, "reason": exc.message},
            status_code=404,
            headers=CODE_PAGE_HEADERS,
            principal=principal,
        )
    planned = done = None
    if principal is not None and principal.role == "inspector" and principal.inspector_id:
        done = own_checkin(
            db, inspector_id=principal.inspector_id, enterprise_id=firm.id, day=today
        )
        planned = next(
            (
                v
                for v in day_route(db, inspector_id=principal.inspector_id, day=today)
                if v.enterprise_id == firm.id
            ),
            None,
        )
    context = {
        "firm": firm,
        "token": token,
        "planned": planned,
        "done": done,
        "done_at": _local(done.checked_in_at, _zone(request)) if done else None,
    }
    return render(
        request,
        "pages/inspector/enterprise_code.html",
        context,
        headers=CODE_PAGE_HEADERS,
        principal=principal,
    )
