"""The inspector's pages (执法人员, phone first): today's route, my visits, one visit with its
merged checklist (一表通查), results and fee findings to record and the inspection code to
show (亮码检查); and the page an enterprise's poster opens, `/e/<token>`, where a logged-in
inspector checks in with one tap (扫码入企).

Check-ins go from the phone to the JSON API (POST /api/v1/checkins with the session cookie);
`static/inspector.js` queues them on the phone while it is offline and sends each exactly
once (same idempotency key on every retry) when it is back online. A check-in that could not
be made at the door (no network until the next day, no location) is back-filled (补录) on the
visit's page: the time of entry on the visit day and a reason, within the policy's days.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from checkonce.api.deps import PUBLIC, ActorDep, SessionDep, TodayDep, jurisdiction, public_base_url
from checkonce.api.pages.web import CsrfChecked, PageAllow, redirect, render, session_principal
from checkonce.api.schemas import checkin_out
from checkonce.auth.service import Principal
from checkonce.errors import CheckOnceError, NotFound
from checkonce.findings import service as findings
from checkonce.findings.fees import service as fees
from checkonce.findings.models import ANSWER_NAMES, RESULT_NAMES, UNINSPECTED_RESULTS
from checkonce.policy import Policy
from checkonce.registry.models import Inspector
from checkonce.visits import codes, posters, service
from checkonce.visits.checkin import (
    BACKFILL_STATES,
    CheckinRefused,
    CheckinRequest,
    check_backfill_window,
    check_in,
)
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
BACKFILL_REASON_MAX = 500  # as the check-in API's backfill_reason
_CLOCK_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")


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
    backfill_error: tuple[str, dict] | None = None,
    tapped: dict | None = None,
) -> HTMLResponse:
    me = _me(db, principal)
    visit = own_visit(db, inspector_id=me.id, visit_id=visit_id)
    tasks = service.visit_tasks(db, visit)
    groups = merged_checklist(tasks, lead_department=visit.lead_department.code)
    merged, asked = checklist_counts(groups)
    zone = _zone(request)
    checkins = [{"row": c, "at": _local(c.checked_in_at, zone)} for c in team_checkins(db, visit)]
    mine = next((c["row"] for c in checkins if c["row"].inspector_id == me.id), None)
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
        "i_checked_in": mine is not None,
        # The phone's queue forgets a tap waiting for a back-fill once the visit has mine.
        "checked_in_visit_id": visit.id if mine else "",
        "backfill": None if mine else _backfill_form(request, visit, today, backfill_error, tapped),
        "recordable": visit.state in findings.RECORDABLE_STATES,
        "code": _inspection_code(request, db, visit, me),
        "fee_findings": fees.findings_of_visit(db, visit.id),
        "units": fees.charging_units(db),
        "state_names": service.VISIT_STATE_NAMES,
        "result_names": RESULT_NAMES,
        "answer_names": ANSWER_NAMES,
        "uninspected": UNINSPECTED_RESULTS,
        "task_error": task_error,
        # Shown even without a form (a second back-fill after checking in says why).
        "backfill_error": backfill_error[0] if backfill_error else "",
        "fee_error": fee_error,
    }
    status = 422 if task_error or fee_error or backfill_error else 200
    return render(
        request, "pages/inspector/visit.html", context, principal=principal, status_code=status
    )


@router.get("/inspector/visits/{visit_id}", response_class=HTMLResponse)
def visit_page(
    visit_id: VisitId,
    request: Request,
    db: SessionDep,
    principal: InspectorDep,
    today: TodayDep,
    backfill_at: Annotated[str | None, Query(max_length=40)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
) -> HTMLResponse:
    """One visit: check-ins, the merged checklist, results, fee findings, my inspection code.

    The phone's queue links here when a check-in it held arrived too late to count as made
    at the door: `backfill_at` (when it was tapped, ISO 8601) and `lat`/`lon` (where) fill
    in the back-fill form."""
    tapped = None
    if backfill_at or (lat is not None and lon is not None):
        tapped = {"backfill_at": backfill_at or "", "lat": lat, "lon": lon}
    return _visit_page(request, db, principal, visit_id, today=today, tapped=tapped)


# ------------------------------------------------------------------------- back-fill (补录)


def backfill_refusal(visit: Visit, *, today: dt.date, policy: Policy) -> str | None:
    """Why the inspector's check-in at `visit` cannot be back-filled, or None when it can:
    the visit must still be one a back-fill matches, and its day within the policy's days."""
    if visit.state not in BACKFILL_STATES:
        return f"本次检查{service.VISIT_STATE_NAMES[visit.state]}，不能补录签到"
    try:
        check_backfill_window(day=visit.day, today=today, policy=policy)
    except CheckinRefused as exc:
        return exc.message
    return None


def _tapped_values(tapped: dict, visit: Visit, zone: ZoneInfo) -> tuple[dict, str]:
    """The back-fill form's values from what the phone kept of a tap (time and place), and a
    note when the tapped time cannot be used (unreadable, or not on the visit's day)."""
    values = {"time": "", "lat": "", "lon": ""}
    if tapped["lat"] is not None and tapped["lon"] is not None:
        values["lat"], values["lon"] = repr(tapped["lat"]), repr(tapped["lon"])
    text = tapped["backfill_at"].strip()
    if not text:
        return values, ""
    try:
        moment = dt.datetime.fromisoformat(text)
        local = moment.astimezone(zone) if moment.tzinfo else moment
    except (ValueError, OverflowError):
        return values, f"手机记录的点击时间「{text}」无法识别，请手动填写入企时间"
    if local.date() != visit.day:
        note = (
            f"手机记录的点击时间 {local:%Y-%m-%d %H:%M} 不在本次检查当日，请核对后手动填写入企时间"
        )
        return values, note
    values["time"] = f"{local:%H:%M}"
    return values, ""


def _backfill_form(
    request: Request,
    visit: Visit,
    today: dt.date,
    error: tuple[str, dict] | None,
    tapped: dict | None,
) -> dict:
    """The back-fill form of a visit I have not checked in to, or why there is none. Each
    render carries a new idempotency key: submitting one form twice records it once."""
    policy, _calendar = jurisdiction(request)
    values, note = ({}, "")
    if error:
        values = error[1]
    elif tapped:
        values, note = _tapped_values(tapped, visit, ZoneInfo(policy.jurisdiction.timezone))
    return {
        "refusal": backfill_refusal(visit, today=today, policy=policy),
        "key": f"bf-{secrets.token_hex(16)}",
        "values": values,
        "note": note,
        "open": bool(error or tapped),
        "days": policy.checkin.backfill_calendar_days,
        "reason_max": BACKFILL_REASON_MAX,
    }


def _backfill_time(form: FormData, visit: Visit, zone: ZoneInfo) -> dt.datetime:
    """The time of entry the form names: a clock time on the visit's day. The day is fixed
    by the form; any other (a stale or altered page) is refused."""
    day = str(form.get("day") or "").strip()
    if day != visit.day.isoformat():
        raise CheckOnceError(
            f"补录的入企时间须在本次检查当日 {visit.day}，提交的日期为「{day[:20]}」"
        )
    text = str(form.get("time") or "").strip()
    if not text:
        raise CheckOnceError("请填写入企时间（时:分）")
    try:
        if not _CLOCK_TIME.match(text):
            raise ValueError(text)
        clock = dt.time.fromisoformat(text)
    except ValueError:
        raise CheckOnceError(f"入企时间「{text[:20]}」不是有效时间，应为 时:分，如 09:30") from None
    return dt.datetime.combine(visit.day, clock, tzinfo=zone)


def _backfill_reason(form: FormData) -> str:
    reason = str(form.get("reason") or "").strip()
    if not reason:
        raise CheckOnceError("请填写补录原因：为什么没能在现场扫码签到")
    if len(reason) > BACKFILL_REASON_MAX:
        raise CheckOnceError(
            f"补录原因最多 {BACKFILL_REASON_MAX} 字，现为 {len(reason)} 字，请精简"
        )
    return reason


def _tapped_place(form: FormData) -> tuple[float | None, float | None]:
    """Where the phone was when the check-in was tapped, if the form carries it."""
    lat_text = str(form.get("lat") or "").strip()
    lon_text = str(form.get("lon") or "").strip()
    if not lat_text and not lon_text:
        return None, None
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        lat = lon = float("nan")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # also refuses NaN
        raise CheckOnceError("签到时的定位无效：请从手机上的签到记录重新打开补录，或不带定位补录")
    return lat, lon


@router.post("/inspector/visits/{visit_id}/backfill", dependencies=[CsrfChecked])
def backfill_checkin(
    visit_id: VisitId,
    request: Request,
    db: SessionDep,
    principal: InspectorDep,
    actor: ActorDep,
    today: TodayDep,
    form: FormDep,
) -> Response:
    """Back-fill (补录) my check-in at the visit: the time of entry on the visit's day and a
    reason, within the policy's calendar days; recorded as a back-fill through check_in. The
    same form submitted again (same idempotency key) answers with the check-in already
    stored; bad input brings the page back with the error and stores nothing."""
    me = _me(db, principal)
    visit = own_visit(db, inspector_id=me.id, visit_id=visit_id)
    policy, _calendar = jurisdiction(request)
    zone = ZoneInfo(policy.jurisdiction.timezone)
    secret_key = request.app.state.settings.secret_key
    key = str(form.get("idempotency_key") or "")
    try:
        mine = own_checkin(db, inspector_id=me.id, enterprise_id=visit.enterprise_id, day=visit.day)
        if mine is not None and mine.idempotency_key != key:
            at = _local(mine.checked_in_at, zone)
            raise CheckOnceError(f"您已于 {at:%Y-%m-%d %H:%M} 在此企业签到，无需补录")
        refusal = None if mine else backfill_refusal(visit, today=today, policy=policy)
        if refusal:
            raise CheckinRefused(refusal)
        at = _backfill_time(form, visit, zone)
        if at > dt.datetime.now(dt.UTC):
            raise CheckOnceError(f"入企时间 {at:%H:%M} 还没到：补录只能登记已经发生的入企")
        lat, lon = _tapped_place(form)
        reason = _backfill_reason(form)
        credit_code = visit.enterprise.credit_code
        result = check_in(
            db_session=db,
            secret_key=secret_key,
            policy=policy,
            inspector_id=me.id,
            actor=actor,
            request=CheckinRequest(
                # What a scan of the enterprise's poster would have sent.
                scanned=codes.enterprise_token(
                    db_session=db, secret_key=secret_key, credit_code=credit_code
                ),
                client_time=at,
                idempotency_key=key,
                lat=lat,
                lon=lon,
                credit_code=credit_code,
                backfill_reason=reason,
            ),
        )
    except CheckOnceError as exc:
        db.rollback()
        entered = {name: str(form.get(name) or "") for name in ("time", "reason", "lat", "lon")}
        return _visit_page(
            request, db, principal, visit_id, today=today, backfill_error=(exc.message, entered)
        )
    return redirect(f"/inspector/visits/{visit_id}#checkins", checkin_out(result.checkin).message)


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
    actor: ActorDep,
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
            actor=actor,
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
    actor: ActorDep,
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
            actor=actor,
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
