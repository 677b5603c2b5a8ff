"""The visit's documents and the enterprise's requests for another day.

Who sees what:
- inspector: documents of visits whose team it is on; generates them, collects signatures
  of the on-site record, sends the notice;
- bureau: documents of visits holding a task of its department; generates and sends;
- coordinator, admin: everything; the coordinator sees reschedule requests, rejects them and
  runs the re-plan that honours them;
- enterprise: its own documents of visits it may see, never the internal approval form; asks
  once to move an announced visit to a feasible day.
A document or visit the caller may not see is a 404. Which rows each role sees and what it
may do are decided in checkonce.auth.access (visits of published schedules only, for all but
coordinators and administrators); the services refuse the same deeds to a CLI login.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from checkonce.api.deps import (
    ActorDep,
    Allow,
    ObjectId,
    SessionDep,
    TodayDep,
    base_url,
    jurisdiction,
    visible_document,
    visible_visit,
)
from checkonce.audit.actions import AuditAction
from checkonce.audit.service import record_read
from checkonce.auth import access
from checkonce.auth.models import Role
from checkonce.auth.service import Principal
from checkonce.documents import notices, reschedule, service
from checkonce.documents.models import (
    ENTERPRISE_KINDS,
    DocumentKind,
    InspectionDocument,
    RescheduleRequest,
)

router = APIRouter(tags=["检查文书"])
Reader = Annotated[
    Principal, Depends(Allow("admin", "coordinator", "bureau", "inspector", "enterprise"))
]
Maker = Annotated[Principal, Depends(Allow.to(AuditAction.DOCUMENT_GENERATE))]
Sender = Annotated[Principal, Depends(Allow.to(AuditAction.DOCUMENT_SEND))]
Signer = Annotated[Principal, Depends(Allow.to(AuditAction.DOCUMENT_SIGN))]
Requester = Annotated[Principal, Depends(Allow.to(AuditAction.RESCHEDULE_REQUEST))]
Rejecter = Annotated[Principal, Depends(Allow.to(AuditAction.RESCHEDULE_REJECT))]
Replanner = Annotated[Principal, Depends(Allow.to(AuditAction.RESCHEDULE_REPLAN))]
Overseer = Annotated[Principal, Depends(Allow(*sorted(access.OVERSEERS)))]
KindName = Literal["approval", "notice", "onsite_record", "result_notice", "rectification_order"]


class DocumentOut(BaseModel):
    id: int
    kind: KindName
    title: str
    doc_no: str
    visit_code: str
    department: str
    revision: int
    sha256: str
    signed: bool
    signed_sha256: str | None
    missing_signers: list[str]
    pdf_url: str
    signed_pdf_url: str | None
    verify_url: str


def document_out(doc: InspectionDocument, request: Request) -> DocumentOut:
    return DocumentOut(
        id=doc.id,
        kind=doc.kind,
        title=doc.title,
        doc_no=doc.doc_no,
        visit_code=doc.visit_code,
        department=doc.department.code,
        revision=doc.revision,
        sha256=doc.sha256,
        signed=doc.signed_sha256 is not None,
        signed_sha256=doc.signed_sha256,
        missing_signers=service.missing_signers(doc)
        if doc.kind == DocumentKind.ONSITE_RECORD
        else [],
        pdf_url=f"/api/v1/documents/{doc.id}/pdf",
        signed_pdf_url=f"/api/v1/documents/{doc.id}/pdf?signed=true" if doc.signed_sha256 else None,
        verify_url=service.verify_url(base_url(request), doc.verify_token),
    )


@router.get("/visits/{visit_id}/documents", response_model=list[DocumentOut])
def list_documents(
    visit_id: ObjectId, request: Request, db: SessionDep, principal: Reader, today: TodayDep
) -> list[DocumentOut]:
    """一次检查的文书（企业只见本企业、可见检查的对外文书，不含内部审批表）。"""
    visit = visible_visit(db, principal, visit_id, request, today)
    docs = service.visit_documents(db, visit.id)
    if principal.role == Role.ENTERPRISE:
        docs = [d for d in docs if d.kind in ENTERPRISE_KINDS]
    return [document_out(d, request) for d in docs]


class GenerateIn(BaseModel):
    kind: KindName = Field(
        description="approval 审批表 / notice 通知书 / onsite_record 现场检查笔录 / "
        "result_notice 结果告知书 / rectification_order 责令整改通知书"
    )
    department: str | None = Field(
        None, min_length=2, max_length=16, pattern=r"^[A-Za-z0-9_-]+$", description="只生成该部门的"
    )


@router.post("/visits/{visit_id}/documents", response_model=list[DocumentOut], status_code=201)
def generate_documents(
    visit_id: ObjectId,
    body: GenerateIn,
    request: Request,
    db: SessionDep,
    principal: Maker,
    actor: ActorDep,
    today: TodayDep,
) -> list[DocumentOut]:
    """根据检查记录生成文书（首次生成时编文号；再次生成为同一文号的新版本），记入审计日志。
    业务部门只生成本部门的。"""
    visit = visible_visit(db, principal, visit_id, request, today)
    docs = service.generate(
        db_session=db,
        visit_id=visit.id,
        kind=body.kind,
        actor=actor,
        base_url=base_url(request),
        department_code=body.department,
        today=today,
    )
    return [document_out(d, request) for d in docs]


@router.get(
    "/documents/{document_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def document_pdf(
    document_id: ObjectId,
    request: Request,
    db: SessionDep,
    principal: Reader,
    actor: ActorDep,
    today: TodayDep,
    signed: Annotated[bool, Query(description="签署完毕的版本")] = False,
) -> Response:
    """文书 PDF（内嵌中文字体，按 SHA-256 校验后返回）。"""
    doc = visible_document(db, principal, document_id, request, today)
    data = service.pdf_bytes(doc, signed=signed)
    if principal.role != Role.ENTERPRISE:
        # A document holds the enterprise's non-public records: a staff read is audited.
        record_read(
            db,
            actor=actor,
            object_type="document",
            object_id=doc.id,
            enterprise_id=doc.enterprise_id,
            detail={"doc_no": doc.doc_no, "signed": signed},
        )
    name = f"{doc.visit_code}-{doc.kind}{'-signed' if signed else ''}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "ETag": f'"{doc.signed_sha256 if signed else doc.sha256}"',
            "Cache-Control": "private, no-store",
        },
    )


class SignatureIn(BaseModel):
    signer: Literal["inspector", "enterprise"] = Field(description="执法人员本人 / 被检查人")
    name: str = Field("", max_length=40, description="被检查人签名人姓名")
    role: str = Field("", max_length=40, description="职务或身份，如负责人、委托人")
    image: str | None = Field(None, max_length=800_000, description="手写签名：PNG 的 data URL")
    refused: bool = Field(False, description="被检查人拒绝签字")
    reason: str = Field("", max_length=500, description="拒签理由")


class SignatureOut(BaseModel):
    id: int
    signer: str
    name: str
    role: str
    refused: bool
    document: DocumentOut


@router.post("/documents/{document_id}/signatures", response_model=SignatureOut, status_code=201)
def add_signature(
    document_id: ObjectId,
    body: SignatureIn,
    request: Request,
    db: SessionDep,
    principal: Signer,
    actor: ActorDep,
    today: TodayDep,
) -> SignatureOut:
    """现场检查笔录签名：执法人员本人签名，或在执法人员手机上由被检查人签名/记录拒签及理由。"""
    doc = visible_document(db, principal, document_id, request, today)
    signature = service.sign_record(
        db_session=db,
        document_id=doc.id,
        actor=actor,
        signer=body.signer,
        name=body.name,
        role=body.role,
        image_data_url=body.image,
        refused=body.refused,
        refusal_reason=body.reason,
        base_url=base_url(request),
    )
    return SignatureOut(
        id=signature.id,
        signer=signature.signer,
        name=signature.name,
        role=signature.role,
        refused=signature.refused,
        document=document_out(doc, request),
    )


class SendOut(BaseModel):
    notification_id: int
    channel: str
    status: str


@router.post("/documents/{document_id}/send", response_model=SendOut)
def send_document(
    document_id: ObjectId,
    request: Request,
    db: SessionDep,
    principal: Sender,
    actor: ActorDep,
    today: TodayDep,
) -> SendOut:
    """通过通知渠道向企业发送行政检查通知书（附文书链接）。"""
    doc = visible_document(db, principal, document_id, request, today)
    policy, calendar = jurisdiction(request)
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
    return SendOut(
        notification_id=notification.id, channel=notification.channel, status=notification.status
    )


# ---------------------------------------------------------------------------- reschedule


class DayOption(BaseModel):
    day: dt.date
    start: str
    end: str


class OptionsOut(BaseModel):
    allowed: bool
    reason: str | None
    days: list[DayOption]


@router.get("/visits/{visit_id}/reschedule-options", response_model=OptionsOut)
def reschedule_options(
    visit_id: ObjectId,
    request: Request,
    db: SessionDep,
    principal: Requester,
    today: TodayDep,
) -> OptionsOut:
    """企业可改到的日期（同一检查组，其余安排不动，经排程校验器逐日校验）。"""
    visit = visible_visit(db, principal, visit_id, request, today)
    policy, calendar = jurisdiction(request)
    why = reschedule.why_no_request(db, visit, today=today, policy=policy, calendar=calendar)
    if why:
        return OptionsOut(allowed=False, reason=why, days=[])
    days = reschedule.feasible_days(db, visit, today=today, policy=policy, calendar=calendar)
    return OptionsOut(
        allowed=True,
        reason=None,
        days=[DayOption(day=d.day, start=f"{d.start:%H:%M}", end=f"{d.end:%H:%M}") for d in days],
    )


class RequestIn(BaseModel):
    day: dt.date = Field(description="申请改到的日期（须为可选日期之一）")
    reason: str = Field("", max_length=500, description="改期理由")


class RequestOut(BaseModel):
    id: int
    period: str
    visit_code: str
    enterprise: str
    from_day: dt.date
    to_day: dt.date
    start: str
    end: str
    reason: str
    state: str
    state_label: str
    note: str
    schedule_id: int | None


def request_out(row: RescheduleRequest) -> RequestOut:
    return RequestOut(
        id=row.id,
        period=row.period,
        visit_code=row.visit_code,
        enterprise=row.enterprise.name,
        from_day=row.from_day,
        to_day=row.to_day,
        start=f"{row.start:%H:%M}",
        end=f"{row.end:%H:%M}",
        reason=row.reason,
        state=row.state,
        state_label=row.state_label,
        note=row.note,
        schedule_id=row.schedule_id,
    )


@router.post("/visits/{visit_id}/reschedule-requests", response_model=RequestOut, status_code=201)
def request_reschedule(
    visit_id: ObjectId,
    body: RequestIn,
    request: Request,
    db: SessionDep,
    principal: Requester,
    actor: ActorDep,
    today: TodayDep,
) -> RequestOut:
    """企业申请改期（每次检查一次，最迟于检查日前 N 个工作日；双随机抽查不适用）。"""
    visit = visible_visit(db, principal, visit_id, request, today)
    policy, calendar = jurisdiction(request)
    row = reschedule.submit_request(
        db_session=db,
        visit_id=visit.id,
        to_day=body.day,
        reason=body.reason,
        actor=actor,
        today=today,
        policy=policy,
        calendar=calendar,
    )
    return request_out(row)


@router.get("/reschedule-requests", response_model=list[RequestOut])
def list_reschedule_requests(
    db: SessionDep,
    principal: Overseer,
    period: Annotated[str | None, Query(pattern=r"^\d{4}([Qq][1-4]|-\d{2})?$")] = None,
    state: Annotated[Literal["pending", "planned", "lapsed", "rejected"] | None, Query()] = None,
) -> list[RequestOut]:
    """企业改期申请（协调人员）。"""
    return [
        request_out(r)
        for r in reschedule.list_requests(
            db, period=period.upper() if period else None, state=state
        )
    ]


class RejectIn(BaseModel):
    note: str = Field(min_length=2, max_length=500, description="驳回理由")


@router.post("/reschedule-requests/{request_id}/reject", response_model=RequestOut)
def reject_reschedule_request(
    request_id: ObjectId, body: RejectIn, db: SessionDep, principal: Rejecter, actor: ActorDep
) -> RequestOut:
    """驳回企业改期申请（写明理由）。"""
    row = reschedule.reject_request(
        db_session=db, request_id=request_id, note=body.note, actor=actor
    )
    return request_out(row)


class ReplanIn(BaseModel):
    period: str = Field(pattern=r"^\d{4}([Qq][1-4]|-\d{2})?$", description="期间")


class ReplanOut(BaseModel):
    schedule_id: int
    version: int
    violations: int
    moved: int


@router.post("/reschedule-requests/replan", response_model=ReplanOut, status_code=201)
def replan_with_requests(
    body: ReplanIn,
    request: Request,
    db: SessionDep,
    principal: Replanner,
    actor: ActorDep,
    today: TodayDep,
) -> ReplanOut:
    """按企业改期申请重排：其余检查全部不动，生成经独立校验的排程草稿，发布后生效。"""
    policy, calendar = jurisdiction(request)
    version = reschedule.replan_with_requests(
        db_session=db,
        period=body.period.upper(),
        actor=actor,
        today=today,
        policy=policy,
        calendar=calendar,
    )
    return ReplanOut(
        schedule_id=version.id,
        version=version.version,
        violations=version.violations,
        moved=int(version.metrics.get("moved_on_request", 0)),
    )
