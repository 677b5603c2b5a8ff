"""Jobs of the visits domain: the missed-visit sweep at the end of each workday, the
evening preparation of the next workday (routes fixed, inspection codes issued, notices to
enterprises of their announced visits), and the morning re-check of published visits
against the calendar (a replaced year file can turn a planned day into a holiday).

Both concern only the schedule versions in force (published) and are safe to run again:
a second run the same evening finds nothing left to do.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import selectinload

from checkonce.errors import CheckOnceError
from checkonce.jobs.channels import make_channel
from checkonce.jobs.models import DayRoute, Notification, NotifiedVisit
from checkonce.jobs.registry import JobContext, scheduled_job
from checkonce.visits import service
from checkonce.visits.checkin_models import CheckIn
from checkonce.visits.codes import inspection_token
from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector, VisitTask
from checkonce.visits.notice import notice_date, visible_until

log = logging.getLogger("checkonce.visits.scheduled")


def _replan_and_publish(ctx: JobContext, s, period: str) -> ScheduleVersion:
    """Re-plan `period` with its visits frozen under the usual rules and put it in force.

    generate_schedule(replan=True) in its three steps, so that no transaction stays open
    while the solver works (the API keeps writing meanwhile; on SQLite a read snapshot held
    across another writer's commit could not be turned into a write)."""
    prep = service.prepare_generation(
        db_session=s,
        period=period,
        actor=ctx.actor,
        seed=None,  # the period's key, from its published draws
        replan=True,
        today=ctx.today,
        policy=ctx.policy,
        calendar=ctx.calendar,
    )
    s.commit()
    outcome = service.solve_prepared(prep, time_limit=ctx.settings.jobs_replan_seconds, workers=1)
    with s.begin_nested():
        draft = service.store_generation(db_session=s, prep=prep, outcome=outcome)
        # A check-in or publish that came in during the solve makes publish refuse the draft
        # (not based on the version then in force): the attempt is rolled back whole, the
        # run fails, and the next run re-plans afresh.
        service.publish_schedule(db_session=s, schedule_id=draft.id, actor=ctx.actor)
    s.commit()
    return draft


@scheduled_job(
    "missed_visit_sweep",
    trigger={"hour": 19, "minute": 0},
    description="收工后：当日未签到的检查标记为未执行，其任务重排到剩余时间窗并发布",
    workdays_only=True,
    # Visits only happen on workdays; if the server was down at 19:00 a run up to six hours
    # later still belongs to the same evening. Later than that the next evening's run
    # catches up (it sweeps every past day, not only today).
    misfire_grace_time=6 * 3600,
)
def missed_visit_sweep(ctx: JobContext) -> dict[str, Any]:
    """Visits in force on or before today still `scheduled` with no check-in → `missed`;
    then each period whose version in force holds missed visits is re-planned (their tasks
    go into the rest of their windows; frozen and executed visits are kept as they are) and
    the re-plan is published."""
    s = ctx.db_session
    checked_in = exists().where(CheckIn.visit_id == Visit.id)
    in_force = select(ScheduleVersion.id).where(ScheduleVersion.state == "published")
    missed = list(
        s.scalars(
            select(Visit.id).where(
                Visit.schedule_id.in_(in_force),
                Visit.state == "scheduled",
                Visit.day <= ctx.today,
                ~checked_in,
            )
        )
    )
    if missed:
        s.execute(update(Visit).where(Visit.id.in_(missed)).values(state="missed"))
    # The misses are facts of the day: kept even if a re-plan below fails (then the run is
    # recorded as failed and the next run retries the re-plan, which still finds them).
    s.commit()

    periods = list(
        s.scalars(
            select(ScheduleVersion.period)
            .where(
                ScheduleVersion.state == "published",
                ScheduleVersion.id.in_(select(Visit.schedule_id).where(Visit.state == "missed")),
            )
            .order_by(ScheduleVersion.period)
        )
    )
    replanned: list[str] = []
    failures: list[str] = []
    moved = left_out = 0
    for period in periods:
        try:
            draft = _replan_and_publish(ctx, s, period)
        except CheckOnceError as exc:
            failures.append(f"{period}: {exc.message}")
            continue
        replanned.append(f"{period} v{draft.version}")
        moved += int(draft.metrics.get("new_visits") or 0)
        left_out += len(draft.unscheduled)
    if failures:
        raise CheckOnceError("重排失败：" + "；".join(failures))
    return {
        "missed": len(missed),
        "replanned_periods": len(replanned),
        "versions": replanned,
        "new_visits": moved,
        "unscheduled_tasks": left_out,
    }


def visits_on_non_workdays(
    ctx: JobContext, version: ScheduleVersion, *, from_day: dt.date
) -> list[Visit]:
    """Visits of `version` still to happen (state `scheduled`, from `from_day` on) whose day
    the current calendar says is not a workday."""
    return [
        visit
        for visit in ctx.db_session.scalars(
            select(Visit)
            .where(
                Visit.schedule_id == version.id,
                Visit.state == "scheduled",
                Visit.day >= from_day,
            )
            .order_by(Visit.day, Visit.start, Visit.id)
        )
        if not ctx.calendar.is_workday(visit.day)
    ]


@scheduled_job(
    "calendar_recheck",
    trigger={"hour": 6, "minute": 30},
    description="工作日历更新后：列出已发布排程中落在非工作日的检查，按冻结规则重排并发布",
    misfire_grace_time=12 * 3600,
)
def calendar_recheck(ctx: JobContext) -> dict[str, Any]:
    """When a calendar year file is replaced (the State Council notice replacing a
    provisional year), published visits may now fall on a holiday. For each version in
    force: the calendar years it was planned on are compared with today's files, the visits
    from today on that now fall on a non-workday are listed, and if there are any the period
    is re-planned under the usual re-plan rules (executed visits and the next few workdays
    frozen; everything else re-solved on the new workdays) and the re-plan published. A
    frozen visit on a new holiday cannot move by those rules: it is reported for the
    coordinator to handle."""
    s = ctx.db_session
    versions = list(
        s.scalars(
            select(ScheduleVersion)
            .where(ScheduleVersion.state == "published")
            .order_by(ScheduleVersion.period)
        )
    )
    changed: list[str] = []
    listed: list[str] = []
    replanned: list[str] = []
    stuck: list[str] = []
    failures: list[str] = []
    for version in versions:
        start, end = service.parse_period(version.period)
        recorded = {y["year"]: y for y in (version.calendar or {}).get("years", [])}
        now = {y["year"]: y for y in ctx.calendar.years_record(start, end)}
        if recorded and recorded != now:
            changed.append(version.period)
        off = visits_on_non_workdays(ctx, version, from_day=ctx.today)
        if not off:
            continue
        codes = [f"{version.period} {v.code} {v.day.isoformat()}" for v in off]
        listed.extend(codes)
        log.warning("published visits on non-workdays: %s", ", ".join(codes))
        period = version.period
        try:
            draft = _replan_and_publish(ctx, s, period)
        except CheckOnceError as exc:
            failures.append(f"{period}: {exc.message}")
            continue
        replanned.append(f"{period} v{draft.version}")
        stuck.extend(
            f"{period} {v.code} {v.day.isoformat()}"
            for v in visits_on_non_workdays(ctx, draft, from_day=ctx.today)
        )
    if stuck:
        log.warning("frozen visits left on non-workdays: %s", ", ".join(stuck))
    if failures:
        raise CheckOnceError("按新日历重排失败：" + "；".join(failures))
    return {
        "versions_checked": len(versions),
        "calendar_changed": changed,
        "visits_on_non_workdays": listed,
        "replanned": replanned,
        "frozen_on_non_workdays": stuck,
    }


def _visits_in_force(ctx: JobContext, *conditions) -> list[Visit]:
    return list(
        ctx.db_session.scalars(
            select(Visit)
            .join(ScheduleVersion, Visit.schedule_id == ScheduleVersion.id)
            .where(ScheduleVersion.state == "published", Visit.state == "scheduled", *conditions)
            .options(
                selectinload(Visit.team).selectinload(VisitInspector.inspector),
                selectinload(Visit.enterprise),
                selectinload(Visit.lead_department),
                selectinload(Visit.tasks).selectinload(VisitTask.task),
            )
            .order_by(Visit.day, Visit.start, Visit.id)
        )
    )


def fix_routes(ctx: JobContext, day: dt.date) -> tuple[int, int]:
    """Each inspector's stops on `day` in order, with the inspection code of each stop;
    re-running replaces the day's routes. Returns (routes, codes issued)."""
    s = ctx.db_session
    stops: dict[int, list[dict[str, Any]]] = defaultdict(list)
    schedule_of: dict[int, int] = {}
    codes = 0
    for visit in _visits_in_force(ctx, Visit.day == day):
        for member in visit.team:
            token = inspection_token(
                db_session=s,
                secret_key=ctx.settings.secret_key,
                visit_id=visit.id,
                inspector_id=member.inspector_id,
                day=day,
            )
            codes += 1
            schedule_of[member.inspector_id] = visit.schedule_id
            stops[member.inspector_id].append(
                {
                    "visit_id": visit.id,
                    "visit_code": visit.code,
                    "enterprise": visit.enterprise.name,
                    "credit_code": visit.enterprise.credit_code,
                    "address": visit.enterprise.address,
                    "start": visit.start.strftime("%H:%M"),
                    "end": visit.end.strftime("%H:%M"),
                    "lead": visit.lead_department.name,
                    "inspection_code": token,
                }
            )
    s.execute(delete(DayRoute).where(DayRoute.day == day))
    for inspector_id, route in sorted(stops.items()):
        s.add(
            DayRoute(
                day=day,
                inspector_id=inspector_id,
                schedule_id=schedule_of[inspector_id],
                stops=sorted(route, key=lambda stop: (stop["start"], stop["visit_code"])),
                fixed_at=ctx.now.astimezone(dt.UTC),
            )
        )
    s.flush()
    return len(stops), codes


def send_visit_notices(ctx: JobContext, day: dt.date) -> dict[str, int]:
    """Notify each enterprise, once, of its announced visits that may be shown on `day`
    (notice rule: at least `announce_workdays_ahead` workdays ahead). One notification per
    enterprise and run, listing its visits; unannounced visits are never notified."""
    s = ctx.db_session
    ahead = ctx.policy.notice.announce_workdays_ahead
    last = visible_until(ctx.calendar, day, ahead)
    told = exists().where(
        NotifiedVisit.enterprise_id == Visit.enterprise_id,
        NotifiedVisit.visit_code == Visit.code,
        NotifiedVisit.visit_day == Visit.day,
    )
    by_firm: dict[int, list[Visit]] = defaultdict(list)
    for visit in _visits_in_force(
        ctx, Visit.announced.is_(True), Visit.day >= day, Visit.day <= last, ~told
    ):
        if notice_date(ctx.calendar, visit.day, ahead) <= day:
            by_firm[visit.enterprise_id].append(visit)

    channel = make_channel(ctx.settings.notification_channel)
    sent = failed = 0
    for firm_id, visits in sorted(by_firm.items()):
        firm = visits[0].enterprise
        lines = [
            f"{v.day:%Y年%m月%d日} {v.start:%H:%M}–{v.end:%H:%M}，{v.lead_department.name}牵头，"
            f"联合检查 {len(v.tasks)} 项（检查编号 {v.code}）"
            for v in visits
        ]
        # The 行政检查通知书 of each visit, linked (checkonce.documents.notices).
        from checkonce.documents.notices import notice_documents

        documents = notice_documents(s, visits=visits, base_url=ctx.settings.public_url, day=day)
        notification = Notification(
            kind="visit_notice",
            enterprise_id=firm_id,
            for_day=day,
            title=f"检查告知：{firm.name}",
            body="贵单位将接受以下“综合查一次”联合检查：\n" + "\n".join(lines),
            payload={
                "credit_code": firm.credit_code,
                "visits": [
                    {"code": v.code, "day": v.day.isoformat(), "start": v.start.strftime("%H:%M")}
                    for v in visits
                ],
                "documents": documents,
                # The first visit's notice is the message's link (one per message on SMS).
                **({"document": documents[0]} if documents else {}),
            },
            channel=channel.name,
            status="pending",
        )
        s.add(notification)
        s.flush()
        for v in visits:
            s.add(
                NotifiedVisit(
                    enterprise_id=firm_id,
                    visit_code=v.code,
                    visit_day=v.day,
                    notification_id=notification.id,
                )
            )
        try:
            channel.deliver(notification)
        except Exception as exc:
            # One enterprise's gateway failure must not hold back the others' notices; the
            # row keeps the error and the notice stays recorded as given to the channel.
            log.warning("notice %s not delivered: %s", notification.id, exc)
            notification.status, notification.error = "failed", repr(exc)[:2000]
            failed += 1
        else:
            notification.status, notification.sent_at = "sent", ctx.now.astimezone(dt.UTC)
            sent += 1
    s.flush()
    return {"notices": len(by_firm), "notices_sent": sent, "notices_failed": failed}


@scheduled_job(
    "next_workday",
    trigger={"hour": 20, "minute": 0},
    description="傍晚：固定下一工作日的检查路线，签发检查码，向企业发送告知检查通知",
    workdays_only=True,
    # Teams read their routes in the morning: a run up to three hours late (by 23:00) is
    # still useful; after midnight "the next workday" would be computed from the wrong day.
    misfire_grace_time=3 * 3600,
)
def next_workday(ctx: JobContext) -> dict[str, Any]:
    """Prepare the next workday: routes fixed, inspection codes issued, announced visits
    notified to their enterprises."""
    day = ctx.calendar.add_workdays(ctx.today, 1)
    routes, codes = fix_routes(ctx, day)
    counts: dict[str, Any] = {"day": day.isoformat(), "routes": routes, "codes": codes}
    counts.update(send_visit_notices(ctx, day))
    return counts
