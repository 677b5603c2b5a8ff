"""Inspector check-in (扫码入企): the inspector scans the enterprise's code at the door.

A check-in matches the inspector's visit in force (a visit of a published schedule version)
at that enterprise on that day → the visit is checked in; otherwise it is an unplanned entry
(计划外入企) and raises an alert. Forged, altered, revoked-key or other-enterprise codes are
refused and nothing is stored. The distance to the enterprise is stored and flagged beyond
the policy's geofence. A back-fill (补录) names the past time of the entry and a reason; it
is accepted within the policy's calendar days and flagged.

Phones retry when offline, so each check-in carries an idempotency key: the same key from
the same inspector gives back the stored check-in, never a second one. The unique constraint
in the schema decides races (the insert does nothing on a conflict and the stored check-in is
the answer); the enterprise's row is locked (PostgreSQL) while an entry is recorded so
concurrent entries are counted exactly once for the repeat-entry alerts.

Every scan at every door runs this, so it keeps its round trips few: a team member joining
an entry is 4 statements (inspector and replay in one, the enterprise with its lock, the visit
with its entry, the insert), the first of a team 7 (the entry, the visit's state, the window
counts), a replay 1; alerts add their own. Signing keys come from a per-process cache
(`codes.KEY_CACHE`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.db import utcnow
from checkonce.errors import CheckOnceError, Conflict
from checkonce.jobs.metrics import record_checkin
from checkonce.policy import Policy
from checkonce.registry.models import Inspector
from checkonce.visits import alerts
from checkonce.visits.checkin_models import CheckIn, Entry
from checkonce.visits.codes import check_registered, registered_enterprise, scanned_enterprise_code
from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector

EARTH_RADIUS_M = 6_371_008.8
# Phone clocks drift; a client time this far ahead of the server is still believed.
CLOCK_SKEW = dt.timedelta(minutes=5)
# Inspectors of one department checking in unplanned at one enterprise within this span are
# one team arriving together: one entry.
UNPLANNED_ENTRY_SPAN = dt.timedelta(hours=2)
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{8,64}$")
# Made once: a fresh alias per call costs the ORM a new compiled form of the query.
_EARLIER_VISIT = aliased(Visit, name="earlier_visit")


class CheckinRefused(CheckOnceError):
    """A check-in that cannot be accepted as sent (time, location, back-fill rules)."""

    code = "checkin_refused"
    status = 422


@dataclass(frozen=True)
class CheckinRequest:
    """What the inspector's phone sends."""

    scanned: str
    client_time: dt.datetime
    idempotency_key: str
    lat: float | None = None
    lon: float | None = None
    credit_code: str | None = None
    backfill_reason: str | None = None

    def fingerprint(self) -> str:
        """SHA-256 of the request's content: a replay must carry the same content."""
        body = {
            "scanned": self.scanned.strip(),
            "client_time": as_utc(self.client_time, dt.UTC).isoformat(),
            "lat": self.lat,
            "lon": self.lon,
            "credit_code": (self.credit_code or "").strip().upper() or None,
            "backfill_reason": (self.backfill_reason or "").strip() or None,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class CheckinResult:
    """The stored check-in and whether this call only replayed it."""

    checkin: CheckIn
    replayed: bool


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def as_utc(moment: dt.datetime, naive_zone: dt.tzinfo) -> dt.datetime:
    """`moment` in UTC; a naive time is read in `naive_zone` (the phone's local time)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=naive_zone)
    return moment.astimezone(dt.UTC)


def stored_as_utc(moment: dt.datetime) -> dt.datetime:
    """A time read back from the database in UTC (SQLite returns it naive)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def check_backfill_window(*, day: dt.date, today: dt.date, policy: Policy) -> None:
    """补录: only entries of the last N calendar days (policy) may be back-filled."""
    days = policy.checkin.backfill_calendar_days
    if day > today:
        raise CheckinRefused(f"补录日期 {day} 晚于今天 {today}，不能补录未来的入企")
    if (today - day).days > days:
        raise CheckinRefused(
            f"入企日期 {day} 距今已 {(today - day).days} 天，超过 {days} 个自然日的补录期限，不予补录",
            code="backfill_too_late",
        )


# Visit states a check-in is matched to: a back-fill may also reach a visit the sweep marked
# missed (the inspector was there, the phone was not).
ON_SITE_STATES = ("scheduled", "checked_in")
BACKFILL_STATES = (*ON_SITE_STATES, "missed")


def _in_force(*, inspector_id: int, enterprise_id: int, day: dt.date, backfill: bool):
    states = BACKFILL_STATES if backfill else ON_SITE_STATES
    return (
        select(Visit)
        .join(ScheduleVersion, Visit.schedule_id == ScheduleVersion.id)
        .join(VisitInspector, VisitInspector.visit_id == Visit.id)
        .where(
            ScheduleVersion.state == "published",
            Visit.enterprise_id == enterprise_id,
            Visit.day == day,
            Visit.state.in_(states),
            VisitInspector.inspector_id == inspector_id,
        )
        .order_by(Visit.id)
        .limit(1)
    )


def match_visit(
    *, db_session: Session, inspector_id: int, enterprise_id: int, day: dt.date, backfill: bool
) -> Visit | None:
    """The inspector's visit in force at the enterprise on `day` (published version, the
    inspector on its team, not cancelled or done). A back-fill may also match a visit the
    missed-visit sweep marked missed: the check-in shows it happened."""
    return db_session.scalars(
        _in_force(
            inspector_id=inspector_id, enterprise_id=enterprise_id, day=day, backfill=backfill
        )
    ).first()


def _visit_and_entry(
    db_session: Session, *, inspector_id: int, enterprise_id: int, day: dt.date, backfill: bool
) -> tuple[Visit | None, Entry | None]:
    """`match_visit` and the entry already made for that visit, in one round trip.

    A re-plan publishes frozen visits again as new rows under the same code: a team member
    checking in after it joins the entry already made for that code."""
    earlier = _EARLIER_VISIT
    entry_of_code = (
        select(Entry.id)
        .join(earlier, Entry.visit_id == earlier.id)
        .where(
            Entry.enterprise_id == Visit.enterprise_id,
            Entry.day == Visit.day,
            earlier.code == Visit.code,
        )
        .order_by(Entry.id)
        .limit(1)
        .correlate(Visit)
        .scalar_subquery()
    )
    stmt = _in_force(
        inspector_id=inspector_id, enterprise_id=enterprise_id, day=day, backfill=backfill
    )
    row = db_session.execute(
        stmt.add_columns(Entry)
        .outerjoin(Entry, Entry.id == entry_of_code)
        # Read under the enterprise's lock: the visit's state decides whether to update it.
        .execution_options(populate_existing=True)
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


def _unplanned_entry(
    db_session: Session, *, enterprise_id: int, day: dt.date, department_id: int, at: dt.datetime
) -> Entry | None:
    """The unplanned entry of the inspector's department colleagues arriving together."""
    return db_session.scalars(
        select(Entry)
        .where(
            Entry.enterprise_id == enterprise_id,
            Entry.day == day,
            Entry.visit_id.is_(None),
            Entry.department_id == department_id,
            Entry.started_at >= at - UNPLANNED_ENTRY_SPAN,
            Entry.started_at <= at + UNPLANNED_ENTRY_SPAN,
        )
        .order_by(Entry.started_at)
        .limit(1)
    ).first()


def _inspector_and_stored(
    db_session: Session, inspector_id: int, key: str
) -> tuple[Inspector | None, CheckIn | None]:
    """The inspector and the check-in already stored under `key`, in one round trip; the
    stored one comes with what its answer shows (enterprise, visit)."""
    row = db_session.execute(
        select(Inspector, CheckIn)
        .outerjoin(
            CheckIn,
            and_(CheckIn.inspector_id == Inspector.id, CheckIn.idempotency_key == key),
        )
        .where(Inspector.id == inspector_id)
        .options(joinedload(CheckIn.enterprise), joinedload(CheckIn.visit))
    ).first()
    if row is None:
        return None, None
    inspector, stored = row
    if stored is not None:
        set_committed_value(stored, "inspector", inspector)
    return inspector, stored


def _stored(db_session: Session, inspector_id: int, key: str) -> CheckIn | None:
    return db_session.scalars(
        select(CheckIn).where(CheckIn.inspector_id == inspector_id, CheckIn.idempotency_key == key)
    ).first()


def _replay(stored: CheckIn, request: CheckinRequest) -> CheckinResult:
    if stored.request_hash != request.fingerprint():
        raise Conflict(
            f"幂等键 {request.idempotency_key} 已用于另一次内容不同的签到；重新签到请使用新的幂等键",
            code="idempotency_key_reused",
        )
    return CheckinResult(checkin=stored, replayed=True)


def _insert_unless_stored(db_session: Session, values: dict) -> CheckIn | None:
    """Insert the check-in; None when the (inspector, idempotency key) pair is already
    stored. The schema's unique constraint decides, without a savepoint round trip."""
    dialect = postgresql if db_session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(CheckIn)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["inspector_id", "idempotency_key"])
        .returning(CheckIn)
    )
    return db_session.scalars(stmt).first()


def check_in(
    *,
    db_session: Session,
    secret_key: str,
    policy: Policy,
    inspector_id: int,
    actor: Actor,
    request: CheckinRequest,
    now: dt.datetime | None = None,
) -> CheckinResult:
    """Record one inspector's check-in (or return the one stored under the same key).

    A new check-in leaves one audit record (planned or unplanned, back-fill or not); a
    replay answering with the stored check-in adds nothing."""
    access.require(actor, AuditAction.CHECKIN, inspector_id=inspector_id)
    if not IDEMPOTENCY_KEY.match(request.idempotency_key):
        raise CheckinRefused(
            "幂等键应为 8–64 位字母、数字或 _ . : -", code="invalid_idempotency_key"
        )
    # The code is checked first: a forged or foreign code stores nothing, not even a replay.
    code = scanned_enterprise_code(
        db_session=db_session,
        secret_key=secret_key,
        scanned=request.scanned,
        expected_credit_code=request.credit_code,
    )
    inspector, stored = _inspector_and_stored(db_session, inspector_id, request.idempotency_key)
    if stored is not None:
        replay = _replay(stored, request)  # the same content, so the same enterprise code
        check_registered(stored.enterprise, code)
        return replay
    if inspector is None:
        raise CheckinRefused("账号未关联执法人员，不能签到", code="not_an_inspector")

    zone = ZoneInfo(policy.jurisdiction.timezone)
    now = as_utc(now or utcnow(), dt.UTC)
    today = now.astimezone(zone).date()
    try:
        client_time = as_utc(request.client_time, zone)
        client_time.astimezone(zone)
    except OverflowError:
        raise CheckinRefused("签到时间不合理，请校准手机时间") from None
    if client_time > now + CLOCK_SKEW:
        raise CheckinRefused(
            f"签到时间 {client_time.astimezone(zone):%Y-%m-%d %H:%M} 晚于服务器时间，请校准手机时间"
        )
    reason = (request.backfill_reason or "").strip() or None
    if reason is not None:
        day = client_time.astimezone(zone).date()
        check_backfill_window(day=day, today=today, policy=policy)
        at = client_time
    else:
        if request.lat is None or request.lon is None:
            raise CheckinRefused("现场签到需要手机定位（经纬度）；无法定位时请事后补录并说明原因")
        if client_time.astimezone(zone).date() != today:
            raise CheckinRefused(
                f"签到时间 {client_time.astimezone(zone):%Y-%m-%d} 不是今天；"
                "事后登记请以补录方式提交并填写原因",
                code="backfill_required",
            )
        day, at = today, now
    if (request.lat is None) != (request.lon is None):
        raise CheckinRefused("定位信息不完整：经度和纬度须同时提供")

    # Serialise entries into one enterprise so the entry counts behind the alerts are exact
    # (the row is read and locked in one statement). A concurrent retry of the same key waits
    # here; its insert below then does nothing and it answers with the stored check-in.
    firm = registered_enterprise(db_session=db_session, code=code, lock=True)
    distance = None
    if request.lat is not None and request.lon is not None:
        distance = round(distance_m(request.lat, request.lon, firm.lat, firm.lon), 1)

    visit, entry = _visit_and_entry(
        db_session,
        inspector_id=inspector_id,
        enterprise_id=firm.id,
        day=day,
        backfill=reason is not None,
    )
    if visit is None:
        entry = _unplanned_entry(
            db_session,
            enterprise_id=firm.id,
            day=day,
            department_id=inspector.department_id,
            at=at,
        )
    new_entry = entry is None
    if entry is None:
        entry = Entry(
            enterprise_id=firm.id,
            day=day,
            visit_id=visit.id if visit is not None else None,
            department_id=visit.lead_department_id
            if visit is not None
            else inspector.department_id,
            started_at=at,
        )
        db_session.add(entry)
        db_session.flush()
    checkin = _insert_unless_stored(
        db_session,
        {
            "inspector_id": inspector_id,
            "idempotency_key": request.idempotency_key,
            "request_hash": request.fingerprint(),
            "enterprise_id": firm.id,
            "entry_id": entry.id,
            "visit_id": visit.id if visit is not None else None,
            "outcome": "planned" if visit is not None else "unplanned",
            "code_kid": code.kid,
            "day": day,
            "checked_in_at": at,
            "client_time": client_time,
            "recorded_at": now,
            "lat": request.lat,
            "lon": request.lon,
            "distance_m": distance,
            "outside_geofence": distance is not None
            and distance > policy.checkin.geofence_radius_m,
            "backfill": reason is not None,
            "backfill_reason": reason,
        },
    )
    if checkin is None:
        # Another request with the same key won the race (a retry that waited for the lock,
        # or the same key sent with another enterprise's code): its row is the answer, and the
        # entry this call made for it is undone.
        if new_entry:
            db_session.delete(entry)
            db_session.flush()
        stored = _stored(db_session, inspector_id, request.idempotency_key)
        if stored is None:
            raise RuntimeError("check-in insert conflicted but no stored check-in was found")
        return _replay(stored, request)
    # The answer is built from these; held here so they are not loaded again.
    held = {"inspector": inspector, "enterprise": firm, "visit": visit, "entry": entry}
    for name, value in held.items():
        set_committed_value(checkin, name, value)

    if visit is not None and visit.state != "checked_in":
        db_session.execute(
            update(Visit)
            .where(Visit.id == visit.id, Visit.state.in_(("scheduled", "missed")))
            .values(state="checked_in")
        )
    elif visit is None:
        alerts.raise_unplanned_entry(
            db_session=db_session, entry=entry, checkin_id=checkin.id, new_entry=new_entry
        )
    # Entry counts change only when an entry is made: a team member joining one changes none.
    if new_entry:
        alerts.check_repeat_entries(
            db_session=db_session,
            enterprise_id=firm.id,
            day=day,
            policy=policy,
            checkin_id=checkin.id,
        )
    record(
        db_session,
        actor=actor,
        action=AuditAction.CHECKIN_BACKFILL if reason is not None else AuditAction.CHECKIN,
        object_type="checkin",
        object_id=checkin.id,
        enterprise_id=firm.id,
        after={
            "outcome": checkin.outcome,
            "visit": visit.code if visit is not None else None,
            "day": day,
            "checked_in_at": at,
            "distance_m": distance,
            "outside_geofence": checkin.outside_geofence,
        },
        detail={"backfill_reason": reason} if reason is not None else None,
    )
    record_checkin(checkin.outcome)
    return CheckinResult(checkin=checkin, replayed=False)
