"""Fee findings in the database: recording a charge (at a visit or reported by the
enterprise), judging it with the engine, the review queue for uncertain name matches, and
refund tracking (due → confirmed → refunded) with totals per charging unit and district."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record, snapshot
from checkonce.auth import access
from checkonce.db import utcnow
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.findings.fees import engine
from checkonce.findings.fees.models import (
    REFUND_STATE_NAMES,
    REFUND_STATES,
    FeeFinding,
    FeeRefund,
)
from checkonce.registry.models import ChargingUnit, District, Enterprise, FeeCatalogEntry

MAX_AMOUNT = Decimal("999999999999.99")
# Verdicts that tie a charge to a catalog entry it legitimately could be: the duplicate rule
# compares a new charge with these (a refunded duplicate is not itself a first charge).
FIRST_CHARGE_VERDICTS = ("compliant", "over_standard")


def parse_amount(value: object, *, field: str = "金额") -> Decimal:
    """A money amount in yuan: positive (a charge of nothing is no charge), at most two
    decimals."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise CheckOnceError(f"{field}「{value}」不是有效的金额") from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT:
        raise CheckOnceError(
            f"{field}「{value}」应为大于 0、不超过 {MAX_AMOUNT} 的金额（元）", code="invalid_amount"
        )
    if amount != amount.quantize(engine.CENT):
        raise CheckOnceError(f"{field}「{value}」最多两位小数（分）")
    return amount.quantize(engine.CENT)


def parse_quantity(value: object) -> Decimal:
    try:
        quantity = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise CheckOnceError(f"计费数量「{value}」不是有效的数字") from None
    if not quantity.is_finite() or quantity <= 0 or quantity > Decimal("9999999999999"):
        raise CheckOnceError(f"计费数量「{value}」应为正数")
    if quantity != quantity.quantize(Decimal("0.001")):
        raise CheckOnceError(f"计费数量「{value}」最多三位小数")
    return quantity


def _text(value: str, field: str, max_length: int) -> str:
    text = (value or "").strip()
    if not text:
        raise CheckOnceError(f"{field}不能为空")
    if len(text) > max_length:
        raise CheckOnceError(f"{field}不能超过 {max_length} 个字")
    if "\x00" in text:
        raise CheckOnceError(f"{field}含有不允许的字符")
    return text


def resolve_unit(db_session: Session, text: str) -> ChargingUnit | None:
    """The registered charging unit named by its code (any case) or its full name."""
    text = text.strip()
    unit = db_session.get(ChargingUnit, text.upper())
    if unit is not None:
        return unit
    wanted = engine.normalize_name(text)
    for candidate in db_session.scalars(select(ChargingUnit)):
        if engine.normalize_name(candidate.name) == wanted:
            return candidate
    return None


def catalog(db_session: Session) -> list[engine.CatalogEntry]:
    """Every catalog entry, active and abolished (a charge of an abolished item must match it)."""
    return [
        to_engine_entry(row)
        for row in db_session.scalars(select(FeeCatalogEntry).order_by(FeeCatalogEntry.code))
    ]


def to_engine_entry(row: FeeCatalogEntry) -> engine.CatalogEntry:
    return engine.CatalogEntry(
        id=row.id,
        code=row.code,
        charging_unit=row.charging_unit,
        item=row.item,
        aliases=tuple(row.aliases or ()),
        standard_type=row.standard_type,
        amount=Decimal(row.amount),
        unit=row.unit,
        legal_basis=row.legal_basis,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        status=row.status,
    )


def prior_charges(
    db_session: Session, *, enterprise_id: int, exclude_id: int | None = None
) -> list[engine.PriorCharge]:
    """The enterprise's earlier charges matched to an entry (for the duplicate rule)."""
    stmt = select(FeeFinding).where(
        FeeFinding.enterprise_id == enterprise_id,
        FeeFinding.verdict.in_(FIRST_CHARGE_VERDICTS),
        FeeFinding.entry_id.is_not(None),
        FeeFinding.charging_unit.is_not(None),
    )
    if exclude_id is not None:
        stmt = stmt.where(FeeFinding.id != exclude_id)
    return [
        engine.PriorCharge(
            id=row.id,
            unit_code=row.charging_unit or "",
            entry_id=row.entry_id or 0,
            charged_on=row.charged_on,
            amount=Decimal(row.amount),
        )
        for row in db_session.scalars(stmt)
    ]


@dataclass(frozen=True)
class ChargeInput:
    """A charge as a person reports it (text, before checking)."""

    unit: str
    item: str
    amount: object
    charged_on: dt.date
    receipt_no: str
    quantity: object = "1"


def build_charge(
    db_session: Session, data: ChargeInput, *, today: dt.date
) -> tuple[engine.Charge, ChargingUnit | None, str]:
    """Check a reported charge; returns the engine's charge, the resolved unit and the
    receipt number. Any bad field is a CheckOnceError naming it."""
    unit_text = _text(data.unit, "收费单位", 80)
    item = _text(data.item, "收费项目", 120)
    receipt = _text(data.receipt_no, "票据号", 64)
    amount = parse_amount(data.amount)
    quantity = parse_quantity(data.quantity)
    if data.charged_on > today:
        raise CheckOnceError(f"收费日期 {data.charged_on} 晚于今天 {today}")
    if data.charged_on < dt.date(1990, 1, 1):
        raise CheckOnceError(f"收费日期 {data.charged_on} 过早")
    unit = resolve_unit(db_session, unit_text)
    charge = engine.Charge(
        unit_text=unit_text,
        unit_code=unit.code if unit is not None else None,
        item=item,
        amount=amount,
        charged_on=data.charged_on,
        quantity=quantity,
    )
    return charge, unit, receipt


def check_charge(
    db_session: Session, data: ChargeInput, *, today: dt.date, enterprise_id: int | None = None
) -> engine.Verdict:
    """Judge a charge without recording it (`checkonce fees check`)."""
    charge, _unit, _receipt = build_charge(db_session, data, today=today)
    prior = prior_charges(db_session, enterprise_id=enterprise_id) if enterprise_id else []
    return engine.assess(charge, catalog(db_session), prior)


def _apply(finding: FeeFinding, verdict: engine.Verdict, *, today: dt.date) -> None:
    finding.verdict = verdict.verdict
    finding.rule = verdict.rule
    finding.entry_id = verdict.entry.id if verdict.entry is not None else None
    finding.match_score = verdict.match.score if verdict.match is not None else None
    finding.matched_name = verdict.match.name if verdict.match is not None else None
    finding.standard_amount = verdict.standard
    finding.refund_due = verdict.refund_due
    finding.explanation = verdict.explanation
    finding.duplicate_of_id = verdict.duplicate_of
    if verdict.refund_due > 0:
        finding.refund = FeeRefund(amount=verdict.refund_due, state="due", due_on=today)


def record_fee_finding(
    *,
    db_session: Session,
    data: ChargeInput,
    enterprise_id: int,
    source: str,
    actor: Actor,
    today: dt.date,
    visit_id: int | None = None,
) -> FeeFinding:
    """Record a charge and its verdict; a refund is made due when the verdict finds one.
    The same receipt of the same unit and enterprise is recorded once (Conflict)."""
    access.require(actor, AuditAction.FEE_FINDING, enterprise_id=enterprise_id)
    if db_session.get(Enterprise, enterprise_id) is None:
        raise NotFound(f"企业 {enterprise_id} 不存在")
    charge, unit, receipt = build_charge(db_session, data, today=today)
    verdict = engine.assess(
        charge, catalog(db_session), prior_charges(db_session, enterprise_id=enterprise_id)
    )
    finding = FeeFinding(
        source=source,
        visit_id=visit_id,
        enterprise_id=enterprise_id,
        unit_text=charge.unit_text,
        charging_unit=unit.code if unit is not None else None,
        item_charged=charge.item,
        amount=charge.amount,
        quantity=charge.quantity,
        charged_on=charge.charged_on,
        receipt_no=receipt,
        reported_by=actor.label,
    )
    _apply(finding, verdict, today=today)
    try:
        with db_session.begin_nested():
            db_session.add(finding)
            db_session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"票据号 {receipt}（收费单位「{charge.unit_text}」）已登记过，不能重复登记",
            code="receipt_already_recorded",
        ) from exc
    record(
        db_session,
        actor=actor,
        action=AuditAction.FEE_FINDING,
        object_type="fee_finding",
        object_id=finding.id,
        enterprise_id=enterprise_id,
        after=snapshot(finding, VERDICT_FIELDS),
        detail={
            "source": source,
            "visit_id": visit_id,
            "unit": finding.unit_text,
            "item": finding.item_charged,
            "amount": finding.amount,
        },
    )
    return finding


VERDICT_FIELDS = ["verdict", "rule", "standard_amount", "refund_due"]


def get_finding(db_session: Session, finding_id: int) -> FeeFinding:
    finding = db_session.get(FeeFinding, finding_id)
    if finding is None:
        raise NotFound(f"收费发现 {finding_id} 不存在")
    return finding


def review_queue(db_session: Session) -> list[FeeFinding]:
    """Findings whose name match was uncertain, oldest first."""
    return list(
        db_session.scalars(
            select(FeeFinding)
            .where(FeeFinding.verdict == "needs_review")
            .options(selectinload(FeeFinding.entry), selectinload(FeeFinding.enterprise))
            .order_by(FeeFinding.reported_at, FeeFinding.id)
        )
    )


def resolve_review(
    *,
    db_session: Session,
    finding_id: int,
    entry_code: str | None,
    actor: Actor,
    note: str,
    today: dt.date,
) -> FeeFinding:
    """A coordinator decides an uncertain match: the charge is catalog entry `entry_code`
    (then unit, validity, duplicate and standard rules decide), or no catalog item
    (`entry_code` None: off-catalog, refunded whole)."""
    access.require(actor, AuditAction.FEE_REVIEW)
    finding = get_finding(db_session, finding_id)
    if finding.verdict != "needs_review":
        raise Conflict(f"收费发现 {finding_id} 不在复核队列中（当前判定：{finding.verdict_name}）")
    note = _text(note, "复核意见", 1000)
    charge = engine.Charge(
        unit_text=finding.unit_text,
        unit_code=finding.charging_unit,
        item=finding.item_charged,
        amount=Decimal(finding.amount),
        charged_on=finding.charged_on,
        quantity=Decimal(finding.quantity),
    )
    if entry_code is None:
        verdict = engine.off_catalog_by_review(charge, note)
    else:
        row = db_session.scalars(
            select(FeeCatalogEntry).where(FeeCatalogEntry.code == entry_code.strip())
        ).first()
        if row is None:
            raise NotFound(f"收费目录项目 {entry_code} 不存在")
        verdict = engine.assess(
            charge,
            [],
            prior_charges(db_session, enterprise_id=finding.enterprise_id, exclude_id=finding.id),
            reviewed_entry=to_engine_entry(row),
        )
    before = snapshot(finding, VERDICT_FIELDS)
    _apply(finding, verdict, today=today)
    finding.reviewed_by = actor.label
    finding.reviewed_at = utcnow()
    finding.review_note = note
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.FEE_REVIEW,
        object_type="fee_finding",
        object_id=finding.id,
        enterprise_id=finding.enterprise_id,
        before=before,
        after=snapshot(finding, VERDICT_FIELDS),
        detail={"entry": entry_code, "note": note},
    )
    return finding


# ------------------------------------------------------------------------------------ refunds


def get_refund(db_session: Session, refund_id: int) -> FeeRefund:
    refund = db_session.get(FeeRefund, refund_id, with_for_update=True)
    if refund is None:
        raise NotFound(f"退费记录 {refund_id} 不存在")
    return refund


def _record_refund(db_session: Session, refund: FeeRefund, actor: Actor, before: str) -> None:
    record(
        db_session,
        actor=actor,
        action=AuditAction.REFUND_UPDATE,
        object_type="fee_refund",
        object_id=refund.id,
        enterprise_id=refund.finding.enterprise_id,
        before={"state": before},
        after=snapshot(refund, ["state", "amount", "confirmed_on", "refunded_on"]),
        detail={"note": refund.note} if refund.note else None,
    )


def confirm_refund(
    *, db_session: Session, refund_id: int, actor: Actor, on: dt.date, note: str = ""
) -> FeeRefund:
    """The charging unit has acknowledged the refund (应退 → 已确认)."""
    access.require(actor, AuditAction.REFUND_UPDATE)
    refund = get_refund(db_session, refund_id)
    if refund.state != "due":
        raise Conflict(f"退费记录 {refund_id} 状态为「{refund.state_name}」，只有应退的可以确认")
    if on < refund.due_on:
        raise CheckOnceError(f"确认日期 {on} 早于应退日期 {refund.due_on}")
    refund.state, refund.confirmed_on, refund.confirmed_by = "confirmed", on, actor.label
    if note.strip():
        refund.note = note.strip()
    db_session.flush()
    _record_refund(db_session, refund, actor, "due")
    return refund


def mark_refunded(
    *, db_session: Session, refund_id: int, actor: Actor, on: dt.date, note: str = ""
) -> FeeRefund:
    """The money is back with the enterprise (已确认 → 已退还)."""
    access.require(actor, AuditAction.REFUND_UPDATE)
    refund = get_refund(db_session, refund_id)
    if refund.state != "confirmed":
        raise Conflict(f"退费记录 {refund_id} 状态为「{refund.state_name}」，须先确认再登记退还")
    if refund.confirmed_on is not None and on < refund.confirmed_on:
        raise CheckOnceError(f"退还日期 {on} 早于确认日期 {refund.confirmed_on}")
    refund.state, refund.refunded_on, refund.refunded_by = "refunded", on, actor.label
    if note.strip():
        refund.note = note.strip()
    db_session.flush()
    _record_refund(db_session, refund, actor, "confirmed")
    return refund


def list_refunds(
    db_session: Session, *, state: str | None = None, enterprise_id: int | None = None
) -> list[FeeRefund]:
    if state is not None and state not in REFUND_STATES:
        raise CheckOnceError(f"退费状态「{state}」无法识别：应为 {'、'.join(REFUND_STATES)}")
    stmt = (
        select(FeeRefund)
        .join(FeeFinding, FeeRefund.finding_id == FeeFinding.id)
        .options(selectinload(FeeRefund.finding).selectinload(FeeFinding.enterprise))
        .order_by(FeeRefund.due_on, FeeRefund.id)
    )
    if state is not None:
        stmt = stmt.where(FeeRefund.state == state)
    if enterprise_id is not None:
        stmt = stmt.where(FeeFinding.enterprise_id == enterprise_id)
    return list(db_session.scalars(stmt))


@dataclass
class RefundTotal:
    """Refund money of one group (a charging unit or a district), per state."""

    key: str
    name: str
    count: int
    due: Decimal
    confirmed: Decimal
    refunded: Decimal

    @property
    def total(self) -> Decimal:
        return self.due + self.confirmed + self.refunded


def refund_totals(db_session: Session) -> dict[str, list[RefundTotal]]:
    """Totals of refunds by charging unit (每个部门/收费单位) and by the enterprise's district.
    A finding whose unit is not registered is grouped under its name as written."""
    unit_key = func.coalesce(FeeFinding.charging_unit, FeeFinding.unit_text)
    rows = db_session.execute(
        select(unit_key, FeeRefund.state, func.count(), func.sum(FeeRefund.amount))
        .join(FeeFinding, FeeRefund.finding_id == FeeFinding.id)
        .group_by(unit_key, FeeRefund.state)
    ).all()
    names = dict(db_session.execute(select(ChargingUnit.code, ChargingUnit.name)).all())
    by_unit = _fold(rows, lambda key: names.get(key, key))
    district_rows = db_session.execute(
        select(
            Enterprise.district_adcode, FeeRefund.state, func.count(), func.sum(FeeRefund.amount)
        )
        .join(FeeFinding, FeeRefund.finding_id == FeeFinding.id)
        .join(Enterprise, FeeFinding.enterprise_id == Enterprise.id)
        .group_by(Enterprise.district_adcode, FeeRefund.state)
    ).all()
    districts = dict(db_session.execute(select(District.adcode, District.name)).all())
    by_district = _fold(district_rows, lambda key: districts.get(key, key))
    return {"by_unit": by_unit, "by_district": by_district}


def _fold(rows, name_of) -> list[RefundTotal]:
    totals: dict[str, RefundTotal] = {}
    for key, state, count, amount in rows:
        total = totals.setdefault(
            key, RefundTotal(key, name_of(key), 0, Decimal(0), Decimal(0), Decimal(0))
        )
        total.count += count
        value = Decimal(amount or 0).quantize(engine.CENT)
        setattr(total, state, getattr(total, state) + value)
    return sorted(totals.values(), key=lambda t: (-t.total, t.key))


__all__ = [
    "REFUND_STATE_NAMES",
    "ChargeInput",
    "RefundTotal",
    "check_charge",
    "confirm_refund",
    "list_refunds",
    "mark_refunded",
    "record_fee_finding",
    "refund_totals",
    "resolve_review",
    "review_queue",
]


def findings_of_visit(db_session: Session, visit_id: int) -> list[FeeFinding]:
    """The fee findings recorded at a visit, in the order they were recorded."""
    return list(
        db_session.scalars(
            select(FeeFinding)
            .where(FeeFinding.visit_id == visit_id)
            .options(selectinload(FeeFinding.refund))
            .order_by(FeeFinding.id)
        )
    )


def charging_units(db_session: Session) -> list[ChargingUnit]:
    """Every registered charging unit by code (what a fee form offers to pick from)."""
    return list(db_session.scalars(select(ChargingUnit).order_by(ChargingUnit.code)))
