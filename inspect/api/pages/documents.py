"""Pages of the visit's paperwork and of the enterprise's say in its time.

- inspector (phone): a visit's documents — generate, open, send the notice — and the signing
  page of the on-site record (signatures drawn on a <canvas>, static/signature.js);
- enterprise (phone): its own documents, and asking once to move an announced visit to one of
  the days the planner finds feasible;
- coordinator: the enterprises' requests, rejecting one, and the re-plan that honours them
  with everything else frozen;
- everyone: /d/<token>, the verification page behind each document's QR (number, issuer,
  fingerprint; the enterprise's name is not shown to the public).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from checkonce.api.deps import (
    PUBLIC,
    ActorDep,
    ObjectId,
    SessionDep,
    TodayDep,
    base_url,
    jurisdiction,
    visible_document,
    visible_visit,
)
from checkonce.api.pages.web import CsrfChecked, PageAllow, redirect, render, session_principal
from checkonce.auth import access
from checkonce.auth.service import Principal
from checkonce.documents import notices, reschedule, service
from checkonce.documents.models import (
    ENTERPRISE_KINDS,
    DocumentKind,
    InspectionDocument,
    RequestState,
)
from checkonce.errors import CheckOnceError
from checkonce.visits.models import Visit

router = APIRouter(include_in_schema=False)
InspectorUser = Annotated[Principal, Depends(PageAllow("inspector"))]
EnterpriseUser = Annotated[Principal, Depends(PageAllow("enterprise"))]
CoordinatorUser = Annotated[Principal, Depends(PageAllow("coordinator"))]
Text500 = Annotated[str, Form(max_length=500)]
KIND_ORDER = list(DocumentKind)


def _docs_context(db, visit: Visit, request: Request, enterprise: bool = False) -> list[dict]:
    rows = []
    for doc in service.visit_documents(db, visit.id):
        if enterprise and doc.kind not in ENTERPRISE_KINDS:
            continue
        rows.append(
            {
                "doc": doc,
                "missing": service.missing_signers(doc)
                if doc.kind == DocumentKind.ONSITE_RECORD
                else [],
                "verify": service.verify_url(base_url(request), doc.verify_token),
            }
        )
    return rows


# ---------------------------------------------------------------------------- inspector


@router.get("/inspector/visits/{visit_id}/documents", response_class=HTMLResponse)
def inspector_documents(
    visit_id: ObjectId, request: Request, db: SessionDep, principal: InspectorUser, today: TodayDep
) -> HTMLResponse:
    """检查文书：生成、打开、发送通知书、现场签名。"""
    visit = visible_visit(db, principal, visit_id, request, today)
    context = {"visit": visit, "rows": _docs_context(db, visit, request), "kinds": KIND_ORDER}
    return render(request, "pages/documents/inspector.html", context, principal=principal)


@router.post("/inspector/visits/{visit_id}/documents", dependencies=[CsrfChecked])
def inspector_generate(
    visit_id: ObjectId,
    request: Request,
    db: SessionDep,
    principal: InspectorUser,
    actor: ActorDep,
    today: TodayDep,
    kind: Annotated[str, Form(max_length=24)],
) -> Response:
    visit = visible_visit(db, principal, visit_id, request, today)
    try:
        docs = service.generate(
            db_session=db,
            visit_id=visit.id,
            kind=kind,
            actor=actor,
            base_url=base_url(request),
            today=today,
        )
    except CheckOnceError as exc:
        return redirect(f"/inspector/visits/{visit.id}/documents", exc.message)
    names = "、".join(d.doc_no for d in docs)
    return redirect(f"/inspector/visits/{visit.id}/documents", f"已生成 {names}")


@router.post("/inspector/documents/{document_id}/send", dependencies=[CsrfChecked])
def inspector_send(
    document_id: ObjectId,
    request: Request,
    db: SessionDep,
    principal: InspectorUser,
    actor: ActorDep,
    today: TodayDep,
) -> Response:
    doc = visible_document(db, principal, document_id, request, today)
    policy, calendar = jurisdiction(request)
    target = f"/inspector/visits/{doc.visit_id}/documents"
    try:
        notification = notices.send_notice(
            db_session=db,
            document_id=doc.id,
            actor=actor,
            base_url=base_url(request),
            channel_spec=request.app.state.settings.notification_channel,
            today=today,
            policy=policy,
            calendar=calendar,
        )
    except CheckOnceError as exc:
        return redirect(target, exc.message)
    return redirect(target, f"通知书已交通知渠道（{notification.channel}）：{notification.status}")


@router.get("/inspector/documents/{document_id}/sign", response_class=HTMLResponse)
def sign_page(
    document_id: ObjectId,
    request: Request,
    db: SessionDep,
    principal: InspectorUser,
    today: TodayDep,
) -> HTMLResponse:
    """现场检查笔录签名（手机）：执法人员本人签名；被检查人在此手机上签名或记录拒签。"""
    doc = visible_document(db, principal, document_id, request, today)
    if doc.kind != DocumentKind.ONSITE_RECORD:
        raise CheckOnceError("只有现场检查笔录需要现场签名")
    signed_me = any(s.inspector_id == principal.inspector_id for s in doc.signatures)
    firm_done = any(s.signer == "enterprise" for s in doc.signatures)
    context = {
        "doc": doc,
        "visit": doc.visit,
        "missing": service.missing_signers(doc),
        "signed_me": signed_me,
        "firm_done": firm_done,
    }
    return render(request, "pages/documents/sign.html", context, principal=principal)


# ---------------------------------------------------------------------------- enterprise


@router.get("/enterprise/documents", response_class=HTMLResponse)
def enterprise_documents(
    request: Request, db: SessionDep, principal: EnterpriseUser, today: TodayDep
) -> HTMLResponse:
    """本企业的检查文书（通知书、现场检查笔录及签署版、结果告知书、责令整改通知书）。"""
    from sqlalchemy import select

    policy, calendar = jurisdiction(request)
    stmt = access.visible_documents(
        select(InspectionDocument), principal, today=today, policy=policy, calendar=calendar
    )
    docs = db.scalars(
        stmt.order_by(InspectionDocument.generated_at.desc(), InspectionDocument.id.desc()).limit(
            200
        )
    )
    rows = [
        {"doc": d, "verify": service.verify_url(base_url(request), d.verify_token)} for d in docs
    ]
    return render(request, "pages/documents/enterprise.html", {"rows": rows}, principal=principal)


@router.get("/enterprise/visits/{visit_id}/reschedule", response_class=HTMLResponse)
def reschedule_page(
    visit_id: ObjectId, request: Request, db: SessionDep, principal: EnterpriseUser, today: TodayDep
) -> HTMLResponse:
    """申请改期：本次检查可改到的日期（同一检查组，其余安排不变）。"""
    visit = visible_visit(db, principal, visit_id, request, today)
    policy, calendar = jurisdiction(request)
    existing = reschedule.request_for(db, visit)
    why = reschedule.why_no_request(db, visit, today=today, policy=policy, calendar=calendar)
    days = (
        []
        if why
        else reschedule.feasible_days(db, visit, today=today, policy=policy, calendar=calendar)
    )
    context = {
        "visit": visit,
        "existing": existing,
        "why": why,
        "days": days,
        "limit": policy.reschedule.request_workdays_before,
    }
    return render(request, "pages/documents/reschedule.html", context, principal=principal)


@router.post("/enterprise/visits/{visit_id}/reschedule", dependencies=[CsrfChecked])
def reschedule_submit(
    visit_id: ObjectId,
    request: Request,
    db: SessionDep,
    principal: EnterpriseUser,
    actor: ActorDep,
    today: TodayDep,
    day: Annotated[str, Form(max_length=10)],
    reason: Text500 = "",
) -> Response:
    import datetime as dt

    visit = visible_visit(db, principal, visit_id, request, today)
    policy, calendar = jurisdiction(request)
    target = f"/enterprise/visits/{visit.id}/reschedule"
    try:
        chosen = dt.date.fromisoformat(day)
    except ValueError:
        return redirect(target, "请选择一个可改到的日期")
    try:
        row = reschedule.submit_request(
            db_session=db,
            visit_id=visit.id,
            to_day=chosen,
            reason=reason,
            actor=actor,
            today=today,
            policy=policy,
            calendar=calendar,
        )
    except CheckOnceError as exc:
        return redirect(target, exc.message)
    return redirect(
        target, f"已提交改期申请：{row.to_day.isoformat()} {row.start:%H:%M}，待协调部门重排后生效"
    )


# ---------------------------------------------------------------------------- coordinator


@router.get("/coordinator/reschedule-requests", response_class=HTMLResponse)
def requests_page(
    request: Request,
    db: SessionDep,
    principal: CoordinatorUser,
    state: Annotated[str | None, Query(max_length=12)] = None,
) -> HTMLResponse:
    """企业改期申请：查看、驳回，按申请重排（其余检查不动）。"""
    if state not in (None, "", *[s.value for s in RequestState]):
        state = None
    rows = reschedule.list_requests(db, state=state or None)
    pending_periods = sorted({r.period for r in rows if r.state == RequestState.PENDING})
    context = {
        "rows": rows,
        "state": state or "",
        "states": list(RequestState),
        "pending_periods": pending_periods,
    }
    return render(request, "pages/documents/requests.html", context, principal=principal)


@router.post("/coordinator/reschedule-requests/replan", dependencies=[CsrfChecked])
def requests_replan(
    request: Request,
    db: SessionDep,
    principal: CoordinatorUser,
    actor: ActorDep,
    today: TodayDep,
    period: Annotated[str, Form(max_length=8, pattern=r"^\d{4}([Qq][1-4]|-\d{2})?$")],
) -> Response:
    policy, calendar = jurisdiction(request)
    try:
        version = reschedule.replan_with_requests(
            db_session=db,
            period=period.upper(),
            actor=actor,
            today=today,
            policy=policy,
            calendar=calendar,
        )
    except CheckOnceError as exc:
        return redirect("/coordinator/reschedule-requests", exc.message)
    verdict = "独立校验通过" if not version.violations else f"校验发现 {version.violations} 处违规"
    return redirect(
        f"/coordinator/schedules/{version.id}",
        f"已按企业申请生成第 {version.version} 版草稿（其余检查不变，{verdict}），请核对后发布",
    )


@router.post("/coordinator/reschedule-requests/{request_id}/reject", dependencies=[CsrfChecked])
def requests_reject(
    request_id: ObjectId,
    request: Request,
    db: SessionDep,
    principal: CoordinatorUser,
    actor: ActorDep,
    note: Text500 = "",
) -> Response:
    try:
        reschedule.reject_request(db_session=db, request_id=request_id, note=note, actor=actor)
    except CheckOnceError as exc:
        return redirect("/coordinator/reschedule-requests", exc.message)
    return redirect("/coordinator/reschedule-requests", "已驳回")


# ---------------------------------------------------------------------------- public


@router.get("/d/{token}", response_class=HTMLResponse, dependencies=[PUBLIC])
def verify_document(
    request: Request,
    db: SessionDep,
    today: TodayDep,
    token: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
) -> HTMLResponse:
    """文书核验：文号、出具部门、检查码、版本与指纹（SHA-256）。"""
    try:
        doc = service.by_token(db, token)
    except CheckOnceError as exc:
        return render(
            request, "pages/documents/verify.html", {"error": exc.message}, status_code=404
        )
    viewer = session_principal(request)
    may_open = False
    if viewer is not None:
        try:
            visible_document(db, viewer, doc.id, request, today)
            may_open = True
        except CheckOnceError:
            may_open = False
    context = {"doc": doc, "may_open": may_open, "error": None}
    return render(request, "pages/documents/verify.html", context)
