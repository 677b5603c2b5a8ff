"""Fee compliance (涉企收费): fee findings recorded at a visit or reported by an enterprise,
checked against the fee catalog; the coordinator's review queue for uncertain name matches;
refunds due → confirmed → refunded, and their totals.

Who sees what: coordinators and admins everything (only coordinators act); a bureau the
findings and refunds of charges its own department collected (it is the unit that refunds);
an inspector the findings of visits whose team they are on; an enterprise its own.
Another tenant's finding or refund is a 404.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from checkonce.api.deps import MAX_ID, ActorDep, Allow, ObjectId, PageDep, SessionDep, TodayDep
from checkonce.api.reads import ReadLogDep
from checkonce.api.schemas import Page
from checkonce.auth import access
from checkonce.auth.service import Principal
from checkonce.errors import CheckOnceError, NotFound
from checkonce.findings.fees import service
from checkonce.findings.fees.engine import Verdict
from checkonce.findings.fees.models import FeeFinding, FeeRefund
from checkonce.findings.service import RECORDABLE_STATES
from checkonce.registry.models import Department
from checkonce.visits.models import Visit, VisitInspector

router = APIRouter(prefix="/fees", tags=["涉企收费"])
Coordinator = Annotated[Principal, Depends(Allow("coordinator"))]
Reporter = Annotated[Principal, Depends(Allow("inspector", "enterprise"))]
Reader = Annotated[
    Principal, Depends(Allow("admin", "coordinator", "bureau", "inspector", "enterprise"))
]
Money = Annotated[Decimal, Field(gt=0, le=Decimal("999999999999.99"), decimal_places=2)]
Quantity = Annotated[Decimal, Field(gt=0, le=Decimal("9999999999999"), decimal_places=3)]


class ChargeIn(BaseModel):
    unit: str = Field(min_length=1, max_length=80, description="收费单位（代码或全称）")
    item: str = Field(min_length=1, max_length=120, description="收费项目（票据上的名称）")
    amount: Money = Field(description="金额（元）")
    quantity: Quantity = Field(Decimal("1"), description="计费数量；百分比标准时为计费基数（元）")
    charged_on: dt.date = Field(description="收费日期")


class FindingIn(ChargeIn):
    receipt_no: str = Field(min_length=1, max_length=64, description="票据号")
    visit_id: int | None = Field(None, ge=1, le=MAX_ID, description="现场检查时必填")


class VerdictOut(BaseModel):
    verdict: str
    rule: str
    refund_due: Decimal
    standard: Decimal | None
    entry_code: str | None
    matched_name: str | None
    match_score: float | None
    explanation: str


class RefundOut(BaseModel):
    id: int
    finding_id: int
    amount: Decimal
    state: str
    state_name: str
    due_on: dt.date
    confirmed_on: dt.date | None
    confirmed_by: str | None
    refunded_on: dt.date | None
    refunded_by: str | None
    unit: str
    enterprise: str
    district: str


class FindingOut(BaseModel):
    id: int
    source: str
    visit_id: int | None
    enterprise_id: int
    enterprise: str
    unit_text: str
    charging_unit: str | None
    item_charged: str
    amount: Decimal
    quantity: Decimal
    charged_on: dt.date
    receipt_no: str
    verdict: str
    verdict_name: str
    rule: str
    entry_code: str | None
    matched_name: str | None
    match_score: float | None
    standard_amount: Decimal | None
    refund_due: Decimal
    explanation: str
    duplicate_of_id: int | None
    reviewed_by: str | None
    review_note: str | None
    refund_id: int | None
    refund_state: str | None


class ReviewIn(BaseModel):
    entry_code: str | None = Field(
        None, max_length=32, description="认定的目录项目代码；不填即认定为清单之外收费"
    )
    note: str = Field(min_length=1, max_length=1000, description="复核意见")


class RefundStepIn(BaseModel):
    on: dt.date = Field(description="日期")
    note: str = Field("", max_length=1000)


class TotalOut(BaseModel):
    key: str
    name: str
    count: int
    due: Decimal
    confirmed: Decimal
    refunded: Decimal
    total: Decimal


class TotalsOut(BaseModel):
    by_unit: list[TotalOut]
    by_district: list[TotalOut]


def _verdict_out(v: Verdict) -> VerdictOut:
    return VerdictOut(
        verdict=v.verdict,
        rule=v.rule,
        refund_due=v.refund_due,
        standard=v.standard,
        entry_code=v.entry.code if v.entry is not None else None,
        matched_name=v.match.name if v.match is not None else None,
        match_score=v.match.score if v.match is not None else None,
        explanation=v.explanation,
    )


def finding_out(row: FeeFinding) -> FindingOut:
    return FindingOut(
        id=row.id,
        source=row.source,
        visit_id=row.visit_id,
        enterprise_id=row.enterprise_id,
        enterprise=row.enterprise.name,
        unit_text=row.unit_text,
        charging_unit=row.charging_unit,
        item_charged=row.item_charged,
        amount=row.amount,
        quantity=row.quantity,
        charged_on=row.charged_on,
        receipt_no=row.receipt_no,
        verdict=row.verdict,
        verdict_name=row.verdict_name,
        rule=row.rule,
        entry_code=row.entry.code if row.entry is not None else None,
        matched_name=row.matched_name,
        match_score=row.match_score,
        standard_amount=row.standard_amount,
        refund_due=row.refund_due,
        explanation=row.explanation,
        duplicate_of_id=row.duplicate_of_id,
        reviewed_by=row.reviewed_by,
        review_note=row.review_note,
        refund_id=row.refund.id if row.refund is not None else None,
        refund_state=row.refund.state if row.refund is not None else None,
    )


def refund_out(row: FeeRefund) -> RefundOut:
    finding = row.finding
    return RefundOut(
        id=row.id,
        finding_id=row.finding_id,
        amount=row.amount,
        state=row.state,
        state_name=row.state_name,
        due_on=row.due_on,
        confirmed_on=row.confirmed_on,
        confirmed_by=row.confirmed_by,
        refunded_on=row.refunded_on,
        refunded_by=row.refunded_by,
        unit=finding.charging_unit or finding.unit_text,
        enterprise=finding.enterprise.name,
        district=finding.enterprise.district_adcode,
    )


def _department_code(db: Session, principal: Principal) -> str:
    dept = db.get(Department, principal.department_id)
    return dept.code if dept is not None else "-"


def scoped_findings(db: Session, principal: Principal):
    """A select of the findings the caller may see (checkonce.auth.access)."""
    return access.visible_fee_findings(db, principal)


def visible_finding(db: Session, principal: Principal, finding_id: int) -> FeeFinding:
    row = db.scalars(scoped_findings(db, principal).where(FeeFinding.id == finding_id)).first()
    if row is None:
        raise NotFound(f"收费发现 {finding_id} 不存在")
    return row


@router.post("/check", response_model=VerdictOut)
def check(body: ChargeIn, db: SessionDep, principal: Reader, today: TodayDep) -> VerdictOut:
    """Judge a charge without recording it (the verdict and its explanation)."""
    verdict = service.check_charge(
        db,
        service.ChargeInput(
            unit=body.unit,
            item=body.item,
            amount=body.amount,
            charged_on=body.charged_on,
            receipt_no="-",
            quantity=body.quantity,
        ),
        today=today,
        enterprise_id=principal.enterprise_id if principal.role == "enterprise" else None,
    )
    return _verdict_out(verdict)


@router.post("/findings", response_model=FindingOut, status_code=201)
def report(
    body: FindingIn, db: SessionDep, principal: Reporter, actor: ActorDep, today: TodayDep
) -> FindingOut:
    """Record a charge: an inspector at a checked-in visit of their team, or an enterprise
    for itself."""
    data = service.ChargeInput(
        unit=body.unit,
        item=body.item,
        amount=body.amount,
        charged_on=body.charged_on,
        receipt_no=body.receipt_no,
        quantity=body.quantity,
    )
    if principal.role == "inspector":
        if body.visit_id is None:
            raise CheckOnceError("现场检查发现的收费须注明检查编号 visit_id")
        visit = db.get(Visit, body.visit_id)
        on_team = visit is not None and db.scalar(
            select(
                exists().where(
                    VisitInspector.visit_id == visit.id,
                    VisitInspector.inspector_id == principal.inspector_id,
                )
            )
        )
        if visit is None or not on_team:
            raise NotFound(f"检查 {body.visit_id} 不存在或您不在该检查组中")
        if visit.state not in RECORDABLE_STATES:
            raise CheckOnceError(f"检查 {visit.code} 尚未签到入企，不能登记现场发现")
        row = service.record_fee_finding(
            db_session=db,
            data=data,
            enterprise_id=visit.enterprise_id,
            source="visit",
            visit_id=visit.id,
            actor=actor,
            today=today,
        )
    else:
        if body.visit_id is not None:
            raise CheckOnceError("企业反映收费问题不需要填写检查编号")
        row = service.record_fee_finding(
            db_session=db,
            data=data,
            enterprise_id=principal.enterprise_id or 0,
            source="enterprise",
            actor=actor,
            today=today,
        )
    return finding_out(row)


@router.get("/findings", response_model=Page[FindingOut])
def list_findings(
    db: SessionDep,
    principal: Reader,
    page: PageDep,
    reads: ReadLogDep,
    verdict: Annotated[
        Literal[
            "compliant",
            "off_catalog",
            "over_standard",
            "abolished_or_expired",
            "unauthorized_unit",
            "duplicate",
            "needs_review",
        ]
        | None,
        Query(description="判定"),
    ] = None,
) -> Page[FindingOut]:
    stmt = scoped_findings(db, principal)
    if verdict is not None:
        stmt = stmt.where(FeeFinding.verdict == verdict)
    rows = list(db.scalars(stmt.order_by(FeeFinding.id)))
    chosen = rows[page.offset : page.offset + page.limit]
    reads.shown(
        principal, "fee_finding", enterprise_ids=[r.enterprise_id for r in chosen], total=len(rows)
    )
    return Page(
        items=[finding_out(r) for r in chosen],
        total=len(rows),
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/findings/{finding_id}", response_model=FindingOut)
def get_finding(
    finding_id: ObjectId, db: SessionDep, principal: Reader, reads: ReadLogDep
) -> FindingOut:
    row = visible_finding(db, principal, finding_id)
    reads.shown(principal, "fee_finding", enterprise_id=row.enterprise_id, object_id=row.id)
    return finding_out(row)


@router.get("/review", response_model=list[FindingOut])
def review_queue(
    db: SessionDep,
    principal: Annotated[Principal, Depends(Allow("admin", "coordinator"))],
    reads: ReadLogDep,
) -> list[FindingOut]:
    """Findings whose name match was uncertain, waiting for a coordinator."""
    rows = service.review_queue(db)
    reads.shown(principal, "fee_finding", enterprise_ids=[r.enterprise_id for r in rows])
    return [finding_out(r) for r in rows]


@router.post("/findings/{finding_id}/review", response_model=FindingOut)
def resolve(
    finding_id: ObjectId,
    body: ReviewIn,
    db: SessionDep,
    principal: Coordinator,
    actor: ActorDep,
    today: TodayDep,
) -> FindingOut:
    """Decide an uncertain match: the catalog entry it is, or none (off-catalog)."""
    row = service.resolve_review(
        db_session=db,
        finding_id=finding_id,
        entry_code=body.entry_code,
        actor=actor,
        note=body.note,
        today=today,
    )
    return finding_out(row)


@router.get("/refunds", response_model=list[RefundOut])
def refunds(
    db: SessionDep,
    principal: Annotated[Principal, Depends(Allow("admin", "coordinator", "bureau", "enterprise"))],
    reads: ReadLogDep,
    state: Annotated[Literal["due", "confirmed", "refunded"] | None, Query()] = None,
) -> list[RefundOut]:
    """Refunds (bureaus: of charges their department collected; enterprises: their own)."""
    rows = service.list_refunds(
        db,
        state=state,
        enterprise_id=principal.enterprise_id if principal.role == "enterprise" else None,
    )
    if principal.role == "bureau":
        code = _department_code(db, principal)
        rows = [r for r in rows if r.finding.charging_unit == code]
    reads.shown(principal, "fee_refund", enterprise_ids=[r.finding.enterprise_id for r in rows])
    return [refund_out(r) for r in rows]


@router.post("/refunds/{refund_id}/confirm", response_model=RefundOut)
def confirm(
    refund_id: ObjectId, body: RefundStepIn, db: SessionDep, principal: Coordinator, actor: ActorDep
) -> RefundOut:
    """The charging unit acknowledged the refund (应退 → 已确认)."""
    row = service.confirm_refund(
        db_session=db, refund_id=refund_id, actor=actor, on=body.on, note=body.note
    )
    return refund_out(row)


@router.post("/refunds/{refund_id}/refunded", response_model=RefundOut)
def refunded(
    refund_id: ObjectId, body: RefundStepIn, db: SessionDep, principal: Coordinator, actor: ActorDep
) -> RefundOut:
    """The money is back with the enterprise (已确认 → 已退还)."""
    row = service.mark_refunded(
        db_session=db, refund_id=refund_id, actor=actor, on=body.on, note=body.note
    )
    return refund_out(row)


@router.get("/refunds/totals", response_model=TotalsOut)
def totals(
    db: SessionDep, principal: Annotated[Principal, Depends(Allow("admin", "coordinator"))]
) -> TotalsOut:
    """Refund money per charging unit (department) and per district, by state."""
    result = service.refund_totals(db)
    return TotalsOut(
        **{
            key: [
                TotalOut(
                    key=t.key,
                    name=t.name,
                    count=t.count,
                    due=t.due,
                    confirmed=t.confirmed,
                    refunded=t.refunded,
                    total=t.total,
                )
                for t in rows
            ]
            for key, rows in result.items()
        }
    )
