"""The enterprise's say in the time of an announced visit (双向预约).

Once per visit, up to `reschedule.request_workdays_before` workdays before it, the enterprise
may ask for another day among those the planner finds feasible for that visit: the same team
on the same visit, nothing else moved, and the whole of what it touches still passes the
scheduler's own verifier (checkonce.scheduler.verify: task windows and workdays, one visit per
enterprise a day, team rules and certificates, inspectors' availability and timelines with
travel, opening hours and the working day, recusal, yearly/weekly/monthly caps). The new day
must itself lie at least that many workdays ahead, so the team is told in time. Unannounced
random checks offer nothing of the kind: the enterprise does not know of them.

A feasible day is found by moving the visit in the published schedule and verifying the part
of the schedule it can affect (every visit of the enterprise, and the visits of its team's
inspectors on the old and the new day, with their tasks): a day is offered only when the move
adds no violation. The coordinator
sees the requests; `replan_with_requests` (CLI `schedule generate --replan --requests`)
writes a draft version where every other visit is frozen as published and each pending
request is applied if it is still feasible, the whole version verified against the period's
full instance before anyone may publish it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.calendar import WorkCalendar
from checkonce.documents.models import RequestState, RescheduleRequest
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.plans.models import InspectionTask
from checkonce.policy import Policy
from checkonce.registry.models import Enterprise, Inspector
from checkonce.scheduler.model import Instance, Schedule
from checkonce.scheduler.verify import verify
from checkonce.visits.instance import build_instance, parse_period, to_inspector, to_task
from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector
from checkonce.visits.notice import notice_date
from checkonce.visits.service import (
    FrozenVisit,
    Outcome,
    Preparation,
    published_schedule,
    store_generation,
)

START_STEP_MINUTES = 30
KEPT_STATES = ("scheduled", "checked_in", "completed", "missed")


@dataclass(frozen=True)
class FeasibleDay:
    day: dt.date
    start: dt.time
    end: dt.time


def _hhmm(value: dt.time) -> str:
    return value.strftime("%H:%M")


def _minutes(value: dt.time) -> int:
    return value.hour * 60 + value.minute


def _clock(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)


def why_no_request(
    db_session: Session,
    visit: Visit,
    *,
    today: dt.date,
    policy: Policy,
    calendar: WorkCalendar,
) -> str | None:
    """Why the enterprise may not ask to move this visit now (None: it may)."""
    if not policy.reschedule.enabled:
        return "本辖区未开放预约改期"
    if not visit.announced:
        return "双随机抽查依法不事先告知，不能预约改期"
    if visit.state != "scheduled":
        return "检查已开始或已结束，不能改期"
    if visit.schedule.state != "published":
        return "该检查不在在用排程中"
    if _existing(db_session, visit) is not None:
        return "每次检查只能申请改期一次，已提交过申请"
    n = policy.reschedule.request_workdays_before
    if today > notice_date(calendar, visit.day, n):
        return f"最迟须在检查日前 {n} 个工作日提出改期申请"
    return None


def _existing(db_session: Session, visit: Visit) -> RescheduleRequest | None:
    return db_session.scalars(
        select(RescheduleRequest).where(
            RescheduleRequest.period == visit.schedule.period,
            RescheduleRequest.visit_code == visit.code,
        )
    ).one_or_none()


def request_for(db_session: Session, visit: Visit) -> RescheduleRequest | None:
    """The enterprise's request for this visit (of its period and code), if any."""
    return _existing(db_session, visit)


# ---------------------------------------------------------------------------- feasibility


def _visit_json(visit: Visit) -> dict[str, Any]:
    return {
        "id": visit.code,
        "enterprise": visit.enterprise.credit_code,
        "day": visit.day.isoformat(),
        "start": _hhmm(visit.start),
        "end": _hhmm(visit.end),
        "lead": visit.lead_department.code,
        "tasks": [f"T{t.inspection_task_id:06d}" for t in visit.tasks],
        "inspectors": [m.inspector.code for m in visit.team],
    }


def _version_visits(db_session: Session, version: ScheduleVersion) -> list[Visit]:
    return list(
        db_session.scalars(
            select(Visit)
            .where(Visit.schedule_id == version.id, Visit.state.in_(KEPT_STATES))
            .options(
                selectinload(Visit.tasks),
                selectinload(Visit.team).selectinload(VisitInspector.inspector),
                selectinload(Visit.enterprise),
                selectinload(Visit.lead_department),
            )
            .order_by(Visit.day, Visit.start, Visit.id)
        )
    )


def _full_instance(
    db_session: Session,
    version: ScheduleVersion,
    visits: list[dict[str, Any]],
    *,
    policy: Policy,
    calendar: WorkCalendar,
) -> dict[str, Any]:
    """The period's instance, completed with what the version's visits hold that it no
    longer offers (a task no longer active, an inspector since retired), as a re-plan does."""
    data = build_instance(
        db_session=db_session,
        period=version.period,
        calendar=calendar,
        policy=policy,
        seed=version.seed,
    ).instance.to_json()
    start, end = parse_period(version.period)
    have_tasks = {t["id"] for t in data["tasks"]}
    missing = sorted(
        {int(t[1:]) for v in visits for t in v["tasks"]} - {int(t[1:]) for t in have_tasks}
    )
    for task in db_session.scalars(
        select(InspectionTask)
        .where(InspectionTask.id.in_(missing))
        .options(
            selectinload(InspectionTask.enterprise),
            selectinload(InspectionTask.department),
            selectinload(InspectionTask.item),
        )
    ):
        data["tasks"].append(to_task(task).to_json())
    have_people = {i["id"] for i in data["inspectors"]}
    codes = sorted({i for v in visits for i in v["inspectors"]} - have_people)
    for person in db_session.scalars(
        select(Inspector)
        .where(Inspector.code.in_(codes))
        .options(selectinload(Inspector.unavailable_days), selectinload(Inspector.department))
    ):
        if person.certificate_valid_from is not None:
            data["inspectors"].append(to_inspector(person, start, end).to_json())
    have_depts = {d["id"] for d in data["departments"]}
    for row in data["inspectors"]:
        if row["department"] not in have_depts:
            data["departments"].append({"id": row["department"], "name": row["department"]})
            have_depts.add(row["department"])
    have_firms = {e["id"] for e in data["enterprises"]}
    for firm in db_session.scalars(
        select(Enterprise).where(
            Enterprise.credit_code.in_(sorted({v["enterprise"] for v in visits} - have_firms))
        )
    ):
        data["enterprises"].append(
            {
                "id": firm.credit_code,
                "name": firm.name,
                "district": firm.district_adcode,
                "lat": firm.lat,
                "lon": firm.lon,
                "risk": firm.risk_class,
                "open": [_hhmm(firm.opens_at), _hhmm(firm.closes_at)],
            }
        )
    return data


def _part(full: dict[str, Any], touched: list[dict[str, Any]]) -> dict[str, Any]:
    """The sub-instance of `touched` visits: their tasks, enterprises and inspectors."""
    task_ids = {t for v in touched for t in v["tasks"]}
    firms = {v["enterprise"] for v in touched}
    staff = {i for v in touched for i in v["inspectors"]}
    part = dict(full)
    part["tasks"] = [t for t in full["tasks"] if t["id"] in task_ids]
    part["enterprises"] = [e for e in full["enterprises"] if e["id"] in firms]
    part["inspectors"] = [i for i in full["inspectors"] if i["id"] in staff]
    part["conflicts"] = [
        c for c in full["conflicts"] if c["inspector"] in staff and c["enterprise"] in firms
    ]
    return part


def _touched(
    visits: list[dict[str, Any]], moving: dict[str, Any], day: str
) -> list[dict[str, Any]]:
    """What moving `moving` to `day` can affect, for the verifier: every visit of its
    enterprise (one visit a day, weekly/monthly/yearly caps) and the visits its inspectors
    make on the old and the new day (timelines are per inspector and day)."""
    people = set(moving["inspectors"])
    days = {day, moving["day"]}
    return [
        v
        for v in visits
        if v["enterprise"] == moving["enterprise"]
        or (v["day"] in days and people & set(v["inspectors"]))
    ]


def _violations(instance: Instance, visits: list[dict[str, Any]]) -> set[tuple[str, tuple, str]]:
    """The violations of `visits` as comparable keys. The message is part of the key: the ids
    of a rule do not always name the day (an inspector unavailable on the visit's old day and
    on its new day share rule and ids), so ids alone would mask a new violation."""
    schedule = Schedule.from_json(
        {
            "schema": "checkonce.schedule/1",
            "instance": instance.name,
            "visits": sorted(visits, key=lambda v: (v["day"], v["start"], v["id"])),
            "unscheduled": [],
            "metrics": {},
        }
    )
    return {(v.rule, v.ids, v.message) for v in verify(instance, schedule).violations}


# Rules whose violation does not depend on the time of day (window, one visit a day, team,
# recusal, caps), and the timeline's "not available" / "certificate invalid" that day.
WHOLE_DAY_RULES = frozenset(
    {"visit_windows", "one_visit_per_day", "team_size", "conflicts", "caps", "task_coverage"}
)


def _whole_day(violation: tuple[str, tuple, str]) -> bool:
    rule, _ids, message = violation
    return rule in WHOLE_DAY_RULES or (
        rule == "inspector_timeline" and ("不可出勤" in message or "执法证" in message)
    )


def _candidate_starts(
    moving: dict[str, Any], firm: dict[str, Any], policy: Policy
) -> list[tuple[str, str]]:
    start, end = (_minutes(dt.time.fromisoformat(moving[k])) for k in ("start", "end"))
    length = end - start
    opens = max(
        _minutes(dt.time.fromisoformat(firm["open"][0])),
        _minutes(dt.time.fromisoformat(policy.day.start)),
    )
    closes_at = firm["open"][1]
    closes = 24 * 60 if closes_at == "24:00" else _minutes(dt.time.fromisoformat(closes_at))
    closes = min(closes, _minutes(dt.time.fromisoformat(policy.day.end)))
    starts = [start] + [
        m
        for m in range(opens - opens % START_STEP_MINUTES, closes - length + 1, START_STEP_MINUTES)
        if m >= opens and m != start
    ]
    return [
        (_hhmm(_clock(s)), _hhmm(_clock(s + length))) for s in starts if s + length <= 24 * 60 - 1
    ]


def _earliest_new_day(today: dt.date, policy: Policy, calendar: WorkCalendar) -> dt.date:
    return calendar.add_workdays(today, policy.reschedule.request_workdays_before)


def _search(
    full: dict[str, Any],
    visits: list[dict[str, Any]],
    moving: dict[str, Any],
    days: list[dt.date],
    policy: Policy,
    stop_at_first: bool = False,
) -> list[FeasibleDay]:
    """The days of `days` the visit can move to (with the first start time that works):
    those where the move adds no violation to what it can affect."""
    firm = next(e for e in full["enterprises"] if e["id"] == moving["enterprise"])
    starts = _candidate_starts(moving, firm, policy)
    found = []
    for day in days:
        touched = _touched(visits, moving, day.isoformat())
        instance = Instance.from_json(_part(full, touched))
        baseline = _violations(instance, touched)
        others = [v for v in touched if v["id"] != moving["id"]]
        for start, end in starts:
            moved = {**moving, "day": day.isoformat(), "start": start, "end": end}
            added = _violations(instance, [*others, moved]) - baseline
            if not added:
                found.append(
                    FeasibleDay(day, dt.time.fromisoformat(start), dt.time.fromisoformat(end))
                )
                break
            if all(_whole_day(v) for v in added):
                break  # no other start time can help on this day
        if stop_at_first and found:
            break
    return found


def _task_window(full: dict[str, Any], moving: dict[str, Any]) -> tuple[str, str]:
    windows = [t["window"] for t in full["tasks"] if t["id"] in set(moving["tasks"])]
    return max(w[0] for w in windows), min(w[1] for w in windows)


def feasible_days(
    db_session: Session,
    visit: Visit,
    *,
    today: dt.date,
    policy: Policy,
    calendar: WorkCalendar,
) -> list[FeasibleDay]:
    """The days (with a start time) this visit could move to, nothing else moved."""
    version = visit.schedule
    rows = _version_visits(db_session, version)
    visits = [_visit_json(v) for v in rows]
    moving = next(v for v in visits if v["id"] == visit.code)
    full = _full_instance(db_session, version, visits, policy=policy, calendar=calendar)
    first, last = _task_window(full, moving)
    earliest = max(dt.date.fromisoformat(first), _earliest_new_day(today, policy, calendar))
    days = [
        dt.date.fromisoformat(d)
        for d in full["workdays"]
        if earliest.isoformat() <= d <= last and d != moving["day"]
    ]
    return _search(full, visits, moving, days, policy)


def submit_request(
    *,
    db_session: Session,
    visit_id: int,
    to_day: dt.date,
    reason: str,
    actor: Actor,
    today: dt.date,
    policy: Policy,
    calendar: WorkCalendar,
) -> RescheduleRequest:
    """The enterprise asks to move its visit to `to_day` (one of the feasible days)."""
    access.require(actor, AuditAction.RESCHEDULE_REQUEST)
    visit = db_session.get(Visit, visit_id)
    if visit is None or visit.enterprise_id != actor.enterprise_id:
        raise NotFound(f"检查 {visit_id} 不存在")
    why = why_no_request(db_session, visit, today=today, policy=policy, calendar=calendar)
    if why:
        raise CheckOnceError(why)
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise CheckOnceError("改期理由不超过 500 字")
    options = {
        f.day: f
        for f in feasible_days(db_session, visit, today=today, policy=policy, calendar=calendar)
    }
    chosen = options.get(to_day)
    if chosen is None:
        raise CheckOnceError(
            f"{to_day.isoformat()} 不是这次检查可改到的日期：请在列出的可选日期中选择"
        )
    request = RescheduleRequest(
        period=visit.schedule.period,
        visit_code=visit.code,
        visit_id=visit.id,
        enterprise_id=visit.enterprise_id,
        from_day=visit.day,
        to_day=chosen.day,
        start=chosen.start,
        end=chosen.end,
        reason=reason,
        requested_by=actor.label,
    )
    db_session.add(request)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.RESCHEDULE_REQUEST,
        object_type="reschedule_request",
        object_id=request.id,
        enterprise_id=visit.enterprise_id,
        after={
            "visit": visit.code,
            "period": request.period,
            "from_day": request.from_day.isoformat(),
            "to_day": request.to_day.isoformat(),
            "start": _hhmm(request.start),
            "reason": reason,
        },
    )
    return request


def list_requests(
    db_session: Session, *, period: str | None = None, state: str | None = None
) -> list[RescheduleRequest]:
    stmt = select(RescheduleRequest).options(selectinload(RescheduleRequest.enterprise))
    if period:
        stmt = stmt.where(RescheduleRequest.period == period)
    if state:
        stmt = stmt.where(RescheduleRequest.state == state)
    return list(db_session.scalars(stmt.order_by(RescheduleRequest.id.desc())))


def reject_request(
    *, db_session: Session, request_id: int, note: str, actor: Actor
) -> RescheduleRequest:
    access.require(actor, AuditAction.RESCHEDULE_REJECT)
    request = db_session.get(RescheduleRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound(f"改期申请 {request_id} 不存在")
    if request.state != RequestState.PENDING:
        raise Conflict(f"改期申请 {request_id} 已{request.state_label}，不能驳回")
    note = (note or "").strip()
    if not 2 <= len(note) <= 500:
        raise CheckOnceError("驳回须写明理由（2–500 字）")
    request.state = RequestState.REJECTED.value
    request.note = note
    request.decided_by = actor.label
    request.decided_at = dt.datetime.now(dt.UTC)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.RESCHEDULE_REJECT,
        object_type="reschedule_request",
        object_id=request.id,
        enterprise_id=request.enterprise_id,
        after={"state": request.state, "note": note},
    )
    return request


def verify_version(
    db_session: Session, version: ScheduleVersion, *, policy: Policy, calendar: WorkCalendar
):
    """Verify a stored version again, from the database, against its period's full
    instance (every task placed or left out, every hard rule): the verifier's Report."""
    visits = [_visit_json(v) for v in _version_visits(db_session, version)]
    full = _full_instance(db_session, version, visits, policy=policy, calendar=calendar)
    placed = {t for v in visits for t in v["tasks"]}
    reasons = {f"T{u.inspection_task_id:06d}": u.reason for u in version.unscheduled}
    instance = Instance.from_json(full)
    schedule = Schedule.from_json(
        {
            "schema": "checkonce.schedule/1",
            "instance": instance.name,
            "visits": sorted(visits, key=lambda v: (v["day"], v["start"], v["id"])),
            "unscheduled": [
                {"task": t["id"], "reason": reasons.get(t["id"], "未排入")}
                for t in full["tasks"]
                if t["id"] not in placed
            ],
            "metrics": {},
        }
    )
    return verify(instance, schedule)


# ---------------------------------------------------------------------------- re-plan


def replan_with_requests(
    *,
    db_session: Session,
    period: str,
    actor: Actor,
    today: dt.date,
    policy: Policy,
    calendar: WorkCalendar,
) -> ScheduleVersion:
    """A draft version of `period` that honours the pending requests with everything else
    frozen: every visit of the published version is kept as it is, each requested visit
    moves to its requested day if that is still feasible (else the request lapses, with the
    reason), and the whole version is verified against the period's full instance."""
    access.require(actor, AuditAction.RESCHEDULE_REPLAN)
    base = published_schedule(db_session=db_session, period=period)
    if base is None:
        raise CheckOnceError(f"期间 {period} 没有已发布的排程")
    pending = [
        r for r in list_requests(db_session, period=base.period, state=RequestState.PENDING.value)
    ]
    if not pending:
        raise CheckOnceError(f"期间 {base.period} 没有待重排的改期申请")
    rows = _version_visits(db_session, base)
    visits = [_visit_json(v) for v in rows]
    by_code = {v["id"]: v for v in visits}
    full = _full_instance(db_session, base, visits, policy=policy, calendar=calendar)
    earliest = _earliest_new_day(today, policy, calendar)
    moved: list[RescheduleRequest] = []
    for request in sorted(pending, key=lambda r: r.id):
        current = by_code.get(request.visit_code)
        row = next((v for v in rows if v.code == request.visit_code), None)
        problem = None
        if current is None or row is None or row.state != "scheduled":
            problem = "检查已不在在用排程中，或已开始"
        elif request.to_day < earliest:
            problem = "申请的日期已临近，来不及通知检查组"
        else:
            found = _search(
                full, list(by_code.values()), current, [request.to_day], policy, stop_at_first=True
            )
            if not found:
                problem = "申请的日期已不再可行（检查组或企业当天已有其他安排）"
            else:
                by_code[request.visit_code] = {
                    **current,
                    "day": found[0].day.isoformat(),
                    "start": _hhmm(found[0].start),
                    "end": _hhmm(found[0].end),
                }
                request.start, request.end = found[0].start, found[0].end
                moved.append(request)
        if problem:
            request.state = RequestState.LAPSED.value
            request.note = problem
            request.decided_by = actor.label
            request.decided_at = dt.datetime.now(dt.UTC)
    if not moved:
        db_session.flush()
        raise CheckOnceError(
            "没有仍然可行的改期申请：" + "；".join(f"{r.visit_code} {r.note}" for r in pending)
        )

    frozen = []
    for row in rows:
        now = by_code[row.code]
        frozen.append(
            FrozenVisit(
                code=row.code,
                enterprise_id=row.enterprise_id,
                enterprise=row.enterprise.credit_code,
                day=dt.date.fromisoformat(now["day"]),
                start=dt.time.fromisoformat(now["start"]),
                end=dt.time.fromisoformat(now["end"]),
                lead_department_id=row.lead_department_id,
                lead=row.lead_department.code,
                announced=row.announced,
                state=row.state,
                travel_km=row.travel_km,
                task_ids=[t.inspection_task_id for t in row.tasks],
                inspector_ids=[m.inspector_id for m in row.team],
                inspector_codes=[m.inspector.code for m in row.team],
            )
        )
    placed = {t for v in by_code.values() for t in v["tasks"]}
    left_out = {f"T{u.inspection_task_id:06d}": u.reason for u in base.unscheduled}
    unscheduled = [
        {
            "task": t["id"],
            "reason": left_out.get(t["id"], "未排入在用版本（按改期申请重排，其余不变）"),
        }
        for t in full["tasks"]
        if t["id"] not in placed
    ]
    instance = Instance.from_json(full)
    combined = Schedule.from_json(
        {
            "schema": "checkonce.schedule/1",
            "instance": instance.name,
            "visits": sorted(by_code.values(), key=lambda v: (v["day"], v["start"], v["id"])),
            "unscheduled": sorted(unscheduled, key=lambda u: u["task"]),
            "metrics": {},
        }
    )
    report = verify(instance, combined)
    metrics = {
        **report.metrics,
        "frozen_visits": len(frozen) - len(moved),
        "new_visits": 0,
        "moved_on_request": len(moved),
        "seed": base.seed,
    }
    prep = Preparation(
        period=base.period,
        actor=actor,
        seed=base.seed,
        full=instance,
        to_solve=instance,
        # the instance's task ids are task_interchange_id(database id), as in _full_instance
        task_ids={t["id"]: int(t["id"][1:]) for t in full["tasks"]},
        base_id=base.id,
        # the moved version keeps the period's key and the draws it came from
        seed_source=base.seed_source,
        seed_draws=list(base.seed_draws or []),
        frozen=frozen,
        calendar_years=list((base.calendar or {}).get("years", [])),
    )
    outcome = Outcome(
        instance=instance,
        schedule=combined,
        new_codes=set(),
        report=report.to_json(),
        violations=len(report.violations),
        metrics=metrics,
    )
    version = store_generation(db_session=db_session, prep=prep, outcome=outcome)
    for request in moved:
        request.state = RequestState.PLANNED.value
        request.schedule_id = version.id
        request.note = f"已纳入第 {version.version} 版排程草稿，发布后生效"
        request.decided_by = actor.label
        request.decided_at = dt.datetime.now(dt.UTC)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.RESCHEDULE_REPLAN,
        object_type="schedule",
        object_id=version.id,
        after={
            "period": version.period,
            "version": version.version,
            "moved": [
                {"visit": r.visit_code, "from": r.from_day.isoformat(), "to": r.to_day.isoformat()}
                for r in moved
            ],
            "lapsed": [r.visit_code for r in pending if r.state == RequestState.LAPSED],
            "violations": version.violations,
        },
    )
    return version
