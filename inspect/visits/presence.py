"""Presence (到场确认): the enterprise, not the inspector's phone, proves an inspection happened.

An inspector's check-in is a claim: the enterprise code at the door is static (a photo of the
poster scans as well as the poster) and the phone reports whatever location it is given. A
check-in becomes *confirmed* only when the enterprise confirms it from its own account, the
two-way model of Shanghai and Beijing:

- it scans the inspector's inspection code (亮码, `/v/<token>`) while logged in as the visit's
  enterprise and taps "确认到场" there, or
- it taps confirm beside the check-in on its own visit page.

A GET never confirms: a link sent over chat and opened by the enterprise must not confirm a
presence nobody looked at. Confirmations and the enterprise's verifications of inspection codes
go into the audit trail (CHECKIN_CONFIRM, INSPECTION_CODE_VERIFY). A visit's presence is
`confirmed` when any check-in of its team was confirmed, `unconfirmed` when it was checked in
but none was, `no_checkin` otherwise; results recorded on a visit that is not `confirmed`
carry that flag into the audit trail, and coordinators see unconfirmed check-ins on their
dashboard and on the alert map.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.db import utcnow
from checkonce.errors import CheckOnceError, NotFound
from checkonce.visits.checkin_models import CheckIn
from checkonce.visits.inspection_codes import InspectionCodeView, resolve_inspection_code
from checkonce.visits.models import Visit


class Presence(StrEnum):
    """Whether the enterprise confirmed that a visit's team was there."""

    CONFIRMED = "confirmed"
    UNCONFIRMED = "unconfirmed"
    NO_CHECKIN = "no_checkin"

    @property
    def label(self) -> str:
        return PRESENCE_LABELS[self]


PRESENCE_LABELS = {
    Presence.CONFIRMED: "企业已确认到场",
    Presence.UNCONFIRMED: "签到未经企业确认",
    Presence.NO_CHECKIN: "无签到",
}


class PresenceRefused(CheckOnceError):
    """A confirmation that cannot be accepted (wrong account, wrong enterprise, no check-in)."""

    code = "presence_refused"
    status = 409


@dataclass(frozen=True)
class Confirmation:
    """The confirmed check-in, and whether it had already been confirmed before this call."""

    checkin: CheckIn
    already: bool


def _same_visit(visit: Visit) -> Select:
    """Ids of the visit's rows: a re-plan publishes a frozen visit again under the same code,
    and a check-in made before it names the earlier row."""
    return select(Visit.id).where(
        Visit.code == visit.code,
        Visit.enterprise_id == visit.enterprise_id,
        Visit.day == visit.day,
    )


def visit_checkins(db_session: Session, visit: Visit) -> list[CheckIn]:
    """The planned check-ins of the visit's team, first first, with their inspectors."""
    return list(
        db_session.scalars(
            select(CheckIn)
            .where(CheckIn.visit_id.in_(_same_visit(visit)))
            .options(selectinload(CheckIn.inspector))
            .order_by(CheckIn.checked_in_at, CheckIn.id)
        )
    )


def presence_status(db_session: Session, visit_id: int) -> Presence:
    """The presence of visit `visit_id`: confirmed by the enterprise, checked in without a
    confirmation, or not checked in at all."""
    visit = db_session.get(Visit, visit_id)
    if visit is None:
        raise NotFound(f"检查 {visit_id} 不存在")
    total, confirmed = db_session.execute(
        select(func.count(CheckIn.id), func.count(CheckIn.confirmed_at)).where(
            CheckIn.visit_id.in_(_same_visit(visit))
        )
    ).one()
    if not total:
        return Presence.NO_CHECKIN
    return Presence.CONFIRMED if confirmed else Presence.UNCONFIRMED


def _check_enterprise_actor(actor: Actor) -> int:
    if not access.may(actor.role, AuditAction.CHECKIN_CONFIRM) or actor.enterprise_id is None:
        raise PresenceRefused(
            "只有被检查企业本身的账号才能确认执法人员到场", code="not_the_enterprise"
        )
    return actor.enterprise_id


def confirm_checkin(
    db_session: Session,
    *,
    checkin_id: int,
    actor: Actor,
    method: str,
    now: dt.datetime | None = None,
) -> Confirmation:
    """The enterprise confirms one inspector's check-in at it. Confirming twice keeps the first
    confirmation (and writes nothing); a check-in at another enterprise is not found."""
    enterprise_id = _check_enterprise_actor(actor)
    row = db_session.scalars(
        select(CheckIn)
        .where(CheckIn.id == checkin_id)
        .options(selectinload(CheckIn.inspector), selectinload(CheckIn.visit))
        .with_for_update()
    ).first()
    if row is None or row.enterprise_id != enterprise_id:
        raise NotFound(f"签到记录 {checkin_id} 不存在或不是在贵企业的签到")
    if row.visit_id is None:
        raise PresenceRefused(
            "这是计划外入企，已作为预警交协调部门核查，不能确认到场", code="unplanned_entry"
        )
    if row.confirmed_at is not None:
        return Confirmation(checkin=row, already=True)
    now = (now or utcnow()).astimezone(dt.UTC)
    recorded = row.recorded_at if row.recorded_at.tzinfo else row.recorded_at.replace(tzinfo=dt.UTC)
    now = max(now, recorded)  # never before the check-in was recorded (schema rule)
    row.confirmed_at = now
    row.confirmed_by_user_id = actor.user_id
    row.confirmed_by = actor.label[:80]
    row.confirm_method = method
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.CHECKIN_CONFIRM,
        object_type="checkin",
        object_id=row.id,
        enterprise_id=row.enterprise_id,
        before={"confirmed": False},
        after={"confirmed": True, "confirmed_at": now, "method": method},
        detail={
            "visit_id": row.visit_id,
            "visit_code": row.visit.code if row.visit else None,
            "inspector_id": row.inspector_id,
            "day": row.day,
            "backfill": row.backfill,
            "distance_m": row.distance_m,
        },
    )
    return Confirmation(checkin=row, already=False)


def checkin_of_code(db_session: Session, view: InspectionCodeView) -> CheckIn | None:
    """The check-in of the inspector who shows a valid inspection code, on that visit."""
    if not view.valid or view.visit_id is None:
        return None
    visit = db_session.get(Visit, view.visit_id)
    if visit is None:
        return None
    return db_session.scalars(
        select(CheckIn)
        .where(CheckIn.visit_id.in_(_same_visit(visit)), CheckIn.inspector_id == view.inspector_id)
        .order_by(CheckIn.checked_in_at, CheckIn.id)
        .limit(1)
    ).first()


def verify_code(
    db_session: Session,
    *,
    secret_key: str,
    scanned: str,
    today: dt.date,
    actor: Actor | None,
) -> InspectionCodeView:
    """What an inspection code proves to whoever scanned it. A logged-in enterprise is told
    when the inspection is not for it, and its verification is recorded in the audit trail
    (anonymous scans are not: the page is public and its visitors unknown)."""
    viewer = actor.enterprise_id if actor is not None and actor.role == "enterprise" else None
    view = resolve_inspection_code(
        db_session=db_session,
        secret_key=secret_key,
        scanned=scanned,
        today=today,
        viewer_enterprise_id=viewer,
    )
    if actor is not None and viewer is not None:
        outcome = (
            "registered"
            if view.valid
            else "other_enterprise"
            if view.other_enterprise
            else "refused"
        )
        record(
            db_session,
            actor=actor,
            action=AuditAction.INSPECTION_CODE_VERIFY,
            object_type="visit",
            object_id=view.visit_id if view.visit_id is not None else "-",
            enterprise_id=viewer,
            detail={
                "outcome": outcome,
                "reason": view.reason or None,
                "visit_enterprise_id": view.enterprise_id,
                "inspector_id": view.inspector_id,
                "day": today,
            },
        )
    return view


def confirm_by_code(
    db_session: Session,
    *,
    secret_key: str,
    scanned: str,
    today: dt.date,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Confirmation:
    """The enterprise confirms the presence of the inspector whose inspection code it scanned:
    the code must be valid today, for a visit at this enterprise, and the inspector must have
    checked in there."""
    enterprise_id = _check_enterprise_actor(actor)
    view = resolve_inspection_code(
        db_session=db_session,
        secret_key=secret_key,
        scanned=scanned,
        today=today,
        viewer_enterprise_id=enterprise_id,
    )
    if not view.valid:
        raise PresenceRefused(f"不能确认到场：{view.reason}", code="code_not_valid")
    checkin = checkin_of_code(db_session, view)
    if checkin is None:
        raise PresenceRefused(
            f"执法人员 {view.inspector} 尚未扫描贵企业的企业码签到：请其先签到，再确认到场",
            code="not_checked_in",
        )
    return confirm_checkin(
        db_session, checkin_id=checkin.id, actor=actor, method="inspection_code", now=now
    )


@dataclass(frozen=True)
class UnconfirmedVisit:
    """A checked-in visit no check-in of which the enterprise has confirmed."""

    entry_id: int
    visit_id: int
    visit_code: str
    day: dt.date
    enterprise: str
    credit_code: str
    district: str
    lat: float
    lon: float
    inspectors: tuple[str, ...]
    backfill: bool
    outside_geofence: bool
    distance_m: float | None

    @property
    def flags(self) -> str:
        """What else makes the claim doubtful, in words."""
        words = []
        if self.backfill:
            words.append("补录")
        if self.outside_geofence and self.distance_m is not None:
            words.append(f"定位距企业 {self.distance_m:.0f} 米")
        return "、".join(words)


def _unconfirmed_rows(start: dt.date | None, end: dt.date | None) -> Select:
    """Planned check-ins of entries (one per visit) none of whose check-ins is confirmed."""
    confirmed_entries = select(CheckIn.entry_id).where(CheckIn.confirmed_at.is_not(None))
    stmt = select(CheckIn).where(
        CheckIn.visit_id.is_not(None), CheckIn.entry_id.not_in(confirmed_entries)
    )
    if start is not None:
        stmt = stmt.where(CheckIn.day >= start)
    if end is not None:
        stmt = stmt.where(CheckIn.day <= end)
    return stmt


def count_unconfirmed(
    db_session: Session, *, start: dt.date | None = None, end: dt.date | None = None
) -> int:
    """How many checked-in visits (entries) on `start`–`end` have no confirmed check-in."""
    sub = _unconfirmed_rows(start, end).subquery()
    return db_session.scalar(select(func.count(func.distinct(sub.c.entry_id)))) or 0


def unconfirmed_visits(
    db_session: Session,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    limit: int | None = None,
) -> list[UnconfirmedVisit]:
    """Checked-in visits without a confirmed check-in, latest first (`limit` visits)."""
    entries = (
        _unconfirmed_rows(start, end)
        .with_only_columns(CheckIn.entry_id, func.max(CheckIn.day).label("day"))
        .group_by(CheckIn.entry_id)
        .order_by(func.max(CheckIn.day).desc(), CheckIn.entry_id.desc())
    )
    if limit is not None:
        entries = entries.limit(limit)
    ids = [row.entry_id for row in db_session.execute(entries)]
    if not ids:
        return []
    rows = db_session.scalars(
        select(CheckIn)
        .where(CheckIn.entry_id.in_(ids), CheckIn.visit_id.is_not(None))
        .options(
            selectinload(CheckIn.inspector),
            selectinload(CheckIn.visit),
            selectinload(CheckIn.enterprise),
        )
        .order_by(CheckIn.checked_in_at, CheckIn.id)
    ).all()
    by_entry: dict[int, list[CheckIn]] = {}
    for row in rows:
        by_entry.setdefault(row.entry_id, []).append(row)
    out = []
    for entry_id in ids:
        group = by_entry.get(entry_id, [])
        if not group:
            continue
        first, firm = group[0], group[0].enterprise
        distances = [c.distance_m for c in group if c.distance_m is not None]
        out.append(
            UnconfirmedVisit(
                entry_id=entry_id,
                visit_id=first.visit_id or 0,
                visit_code=first.visit.code if first.visit else "",
                day=first.day,
                enterprise=firm.name,
                credit_code=firm.credit_code,
                district=firm.district_adcode,
                lat=firm.lat,
                lon=firm.lon,
                inspectors=tuple(c.inspector.name for c in group),
                backfill=any(c.backfill for c in group),
                outside_geofence=any(c.outside_geofence for c in group),
                distance_m=max(distances) if distances else None,
            )
        )
    return out
