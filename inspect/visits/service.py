"""Schedules in the database: generate a version of a period's merged schedule, publish it,
re-plan around what has already happened, and read visits with their merged checklist.

Generation runs in three steps so a background job can hold no transaction open while the
solver works (on SQLite a read snapshot held across another writer's commit cannot be
turned into a write): `prepare_generation` reads the database into interchange instances,
`solve_prepared` is pure, `store_generation` writes the draft version. `generate_schedule`
chains them on one session for the CLI and tests.

Re-planning (重排) keeps the visits of the published version that are checked in, completed
or due within the next N workdays, or already shown to the enterprise under the notice rule
("frozen": copied unchanged, their tasks taken out of the solve) and solves the rest from the first workday after that horizon, so new visits can
never collide with frozen ones on a day or in an inspector's timeline. The combined schedule
is verified against the whole period's instance.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import zoneinfo
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.calendar import WorkCalendar
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.jobs.metrics import observe_solve
from checkonce.plans.models import InspectionTask
from checkonce.policy import Policy, jurisdiction_policy
from checkonce.registry.models import (
    CheckItem,
    Department,
    Enterprise,
    Inspector,
    InspectorCertification,
)
from checkonce.scheduler.bounds import status_quo_visits
from checkonce.scheduler.model import Department as SchedulerDepartment
from checkonce.scheduler.model import Instance, Schedule, Task, Unscheduled
from checkonce.scheduler.model import Visit as SchedulerVisit
from checkonce.scheduler.solve import solve
from checkonce.scheduler.verify import great_circle_km, verify
from checkonce.visits.comparison import ALONE_KEY, departments_alone
from checkonce.visits.history import EnterpriseHistory, load_history
from checkonce.visits.instance import (
    build_instance,
    parse_period,
    task_interchange_id,
    to_enterprise,
    to_inspector,
    to_task,
)
from checkonce.visits.models import (
    ScheduleVersion,
    UnscheduledTask,
    Visit,
    VisitInspector,
    VisitTask,
)
from checkonce.visits.notice import visible_until, visit_is_announced

log = logging.getLogger("checkonce.visits")

Progress = Callable[[str, float], None]

SCHEDULE_STATE_NAMES = {
    "draft": "草稿",
    "published": "已发布",
    "superseded": "已被取代",
    "discarded": "已废弃",
}
VISIT_STATE_NAMES = {
    "scheduled": "待检查",
    "checked_in": "已签到",
    "completed": "已完成",
    "missed": "未执行",
    "cancelled": "已取消",
}
STAGE_NAMES = {
    "instance": "读取任务与历史",
    "merge": "合并任务",
    "calendar": "安排日期",
    "draw": "抽取检查组",
    "verify": "独立校验",
    "store": "保存版本",
    "done": "完成",
}
# Overall progress at the start of each stage; solver stages are scaled in between.
STAGE_START = {
    "instance": 0.0,
    "merge": 0.10,
    "calendar": 0.30,
    "draw": 0.50,
    "verify": 0.85,
    "store": 0.95,
    "done": 1.0,
}
# Visits in these states have happened and are always carried into a re-plan.
EXECUTED_STATES = ("checked_in", "completed")
# Without a policy setting, a re-plan leaves the next two workdays alone: teams and
# enterprises have been told (and announced notices sent) for them.
DEFAULT_FREEZE_WORKDAYS = 2
SEED_PATTERN = re.compile(r"^[0-9a-f]{1,64}$")


def stage_fraction(stage: str, fraction: float) -> float:
    """Overall progress in [0, 1] for `fraction` done of `stage`."""
    order = list(STAGE_START)
    start = STAGE_START.get(stage)
    if start is None:
        return 0.0
    index = order.index(stage)
    end = STAGE_START[order[index + 1]] if index + 1 < len(order) else 1.0
    return min(1.0, max(0.0, start + (end - start) * max(0.0, min(1.0, fraction))))


def today_in(policy: Policy) -> dt.date:
    """Today in the jurisdiction's time zone (a server in UTC is 8 hours behind Xi'an)."""
    return dt.datetime.now(zoneinfo.ZoneInfo(policy.jurisdiction.timezone)).date()


def check_seed(seed: str | None) -> str:
    """A fresh 256-bit seed when none is given; otherwise a 1–64 digit hex string."""
    if seed is None:
        return secrets.token_hex(32)
    text = seed.strip().lower()
    if not SEED_PATTERN.match(text):
        raise CheckOnceError(f"种子「{seed}」无效：应为 1–64 位十六进制数字", code="bad_seed")
    return text


def provisional_calendar_warning(years: list[int]) -> str | None:
    """The warning shown on generating or publishing a schedule planned on provisional
    calendar years (statutory holidays only, before the State Council notice)."""
    if not years:
        return None
    named = "、".join(str(y) for y in years)
    return (
        f"{named} 年的工作日历是暂定的：只含法定节假日，没有国务院办公厅通知才确定的补假和调休，"
        f"排在这些日子的检查可能落在假日。通知发布后请替换 calendar/{years[0]}.toml，"
        "系统会列出落在非工作日的已发布检查并按冻结规则重新安排。"
    )


def _minutes(value: dt.time) -> int:
    return value.hour * 60 + value.minute


def _clock(minutes: int) -> dt.time:
    minutes = min(minutes, 24 * 60 - 1)
    return dt.time(minutes // 60, minutes % 60)


def _hhmm(value: dt.time) -> str:
    return value.strftime("%H:%M")


# ---------------------------------------------------------------------------- reading


def get_schedule(*, db_session: Session, schedule_id: int) -> ScheduleVersion:
    """A schedule version or NotFound."""
    version = db_session.get(ScheduleVersion, schedule_id)
    if version is None:
        raise NotFound(f"排程版本 {schedule_id} 不存在")
    return version


def published_schedule(*, db_session: Session, period: str) -> ScheduleVersion | None:
    """The version in force for `period`, if any."""
    return db_session.scalars(
        select(ScheduleVersion).where(
            ScheduleVersion.period == period, ScheduleVersion.state == "published"
        )
    ).one_or_none()


def list_schedules(
    *, db_session: Session, period: str | None = None, state: str | None = None
) -> list[ScheduleVersion]:
    """Versions, newest first, optionally of one period and/or state."""
    query = select(ScheduleVersion).order_by(
        ScheduleVersion.period.desc(), ScheduleVersion.version.desc()
    )
    if period:
        query = query.where(ScheduleVersion.period == normalize_period(period))
    if state:
        query = query.where(ScheduleVersion.state == state)
    return list(db_session.scalars(query))


def normalize_period(period: str) -> str:
    """Check and canonicalize a period ('2027q1' → '2027Q1')."""
    parse_period(period)
    return period.strip().upper()


# ---------------------------------------------------------------------------- generation


@dataclass
class FrozenVisit:
    """A visit of the published version carried unchanged into a re-plan."""

    code: str
    enterprise_id: int
    enterprise: str
    day: dt.date
    start: dt.time
    end: dt.time
    lead_department_id: int
    lead: str
    announced: bool
    state: str
    travel_km: float
    task_ids: list[int]
    inspector_ids: list[int]
    inspector_codes: list[str]

    def to_visit(self) -> SchedulerVisit:
        """The visit as the scheduler's `Visit` (kept unchanged in the re-plan)."""
        return SchedulerVisit(
            id=self.code,
            enterprise=self.enterprise,
            day=self.day.isoformat(),
            start=_minutes(self.start),
            end=_minutes(self.end),
            lead=self.lead,
            tasks=tuple(task_interchange_id(t) for t in self.task_ids),
            inspectors=tuple(self.inspector_codes),
        )


@dataclass
class Preparation:
    """Everything a solve needs, read from the database; no session is held."""

    period: str
    actor: Actor
    seed: str
    full: Instance  # the period's whole instance: verifies the combined schedule
    to_solve: Instance  # what the solver places (frozen tasks removed on a re-plan)
    # Database id of every task of `full` by its scheduler id (no parsing ids back).
    task_ids: dict[str, int] = field(default_factory=dict)
    # Re-plan: tasks whose window ended before `free_from` (left out with that reason).
    closed: list[Task] = field(default_factory=list)
    base_id: int | None = None
    # "draws": the key derived from the period's published draws (their ids in seed_draws);
    # "experiment": a hand-given --seed, whose version can never be published.
    seed_source: str = "draws"
    seed_draws: list[int] = field(default_factory=list)
    frozen: list[FrozenVisit] = field(default_factory=list)
    free_from: dt.date | None = None  # re-plan: first day new visits may use
    next_code: int = 1
    # Entries the schedule may add above LB_visits to save inspector time (policy).
    visit_slack_percent: float = 0.0
    # The calendar year files used (WorkCalendar.year_record), recorded on the version.
    calendar_years: list[dict[str, Any]] = field(default_factory=list)

    @property
    def provisional_years(self) -> list[int]:
        return [y["year"] for y in self.calendar_years if y.get("status") == "provisional"]


@dataclass
class Outcome:
    """A solved and verified preparation, ready to store."""

    instance: Instance  # the period's whole instance
    schedule: Schedule  # frozen + new visits, every task placed or left out
    new_codes: set[str]
    report: dict[str, Any]
    violations: int
    metrics: dict[str, Any]


def _freeze(
    *,
    db_session: Session,
    base: ScheduleVersion,
    today: dt.date,
    frozen_until: dt.date,
) -> list[FrozenVisit]:
    """Visits of `base` that a re-plan must keep: executed ones, and scheduled ones due
    from today up to `frozen_until`."""
    visits = db_session.scalars(
        select(Visit)
        .where(Visit.schedule_id == base.id)
        .options(
            selectinload(Visit.tasks),
            selectinload(Visit.team).selectinload(VisitInspector.inspector),
            selectinload(Visit.enterprise),
            selectinload(Visit.lead_department),
        )
        .order_by(Visit.day, Visit.start, Visit.id)
    )
    frozen = []
    for visit in visits:
        keep = visit.state in EXECUTED_STATES or (
            visit.state == "scheduled" and today <= visit.day <= frozen_until
        )
        if not keep:
            continue
        frozen.append(
            FrozenVisit(
                code=visit.code,
                enterprise_id=visit.enterprise_id,
                enterprise=visit.enterprise.credit_code,
                day=visit.day,
                start=visit.start,
                end=visit.end,
                lead_department_id=visit.lead_department_id,
                lead=visit.lead_department.code,
                announced=visit.announced,
                state=visit.state,
                travel_km=visit.travel_km,
                task_ids=[t.inspection_task_id for t in visit.tasks],
                inspector_ids=[m.inspector_id for m in visit.team],
                inspector_codes=[m.inspector.code for m in visit.team],
            )
        )
    return frozen


def _complete_for_frozen(
    db_session: Session,
    full: Instance,
    task_ids: dict[str, int],
    frozen: list[FrozenVisit],
    period: str,
) -> Instance:
    """Frozen visits may hold tasks or inspectors the instance no longer offers (a draw
    superseded, an inspector retired since): add them so the combined schedule verifies."""
    start, end = parse_period(period)
    have_tasks = set(task_ids.values())
    missing_tasks = sorted({t for v in frozen for t in v.task_ids if t not in have_tasks})
    tasks = list(full.tasks)
    for task in db_session.scalars(
        select(InspectionTask)
        .where(InspectionTask.id.in_(missing_tasks))
        .options(
            selectinload(InspectionTask.enterprise),
            selectinload(InspectionTask.department),
            selectinload(InspectionTask.item),
        )
        .order_by(InspectionTask.id)
    ):
        tasks.append(to_task(task))
        task_ids[task_interchange_id(task.id)] = task.id
    have_people = {i.id for i in full.inspectors}
    people = list(full.inspectors)
    missing_people = sorted({i for v in frozen for i in v.inspector_ids})
    for person in db_session.scalars(
        select(Inspector)
        .where(Inspector.id.in_(missing_people))
        .options(
            selectinload(Inspector.unavailable_days),
            selectinload(Inspector.department),
            selectinload(Inspector.extra_certifications).selectinload(
                InspectorCertification.department
            ),
        )
        .order_by(Inspector.id)
    ):
        if person.code not in have_people and person.certificate_valid_from is not None:
            people.append(to_inspector(person, start, end))
    have_depts = {d.id for d in full.departments}
    needed = {t.department for t in tasks} | {
        d for i in people for d in (i.department, *i.also_for)
    }
    departments = list(full.departments)
    for dept in db_session.scalars(
        select(Department)
        .where(Department.code.in_(sorted(needed - have_depts)))
        .order_by(Department.code)
    ):
        departments.append(SchedulerDepartment(id=dept.code, name=dept.name))
    have_firms = {e.id for e in full.enterprises}
    enterprises = list(full.enterprises)
    for firm in db_session.scalars(
        select(Enterprise)
        .where(Enterprise.credit_code.in_(sorted({t.enterprise for t in tasks} - have_firms)))
        .order_by(Enterprise.id)
    ):
        enterprises.append(to_enterprise(firm))
    return replace(
        full,
        tasks=tuple(tasks),
        inspectors=tuple(people),
        departments=tuple(departments),
        enterprises=tuple(enterprises),
    )


def prepare_generation(
    *,
    db_session: Session,
    period: str,
    actor: Actor,
    seed: str | None = None,
    replan: bool = False,
    freeze_workdays: int | None = None,
    today: dt.date | None = None,
    policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
) -> Preparation:
    """Read the period's tasks, registry, history and (re-plan) frozen visits.

    The inspector-ranking key (the instance's `seed`) is derived from the period's published
    draws unless `seed` is given, which makes an experiment that can never be published."""
    from checkonce.sampling.service import team_key_for_period

    policy = policy or jurisdiction_policy()
    calendar = calendar or WorkCalendar.from_settings()
    period = normalize_period(period)
    access.require(actor, AuditAction.SCHEDULE_GENERATE)
    start, end = parse_period(period)
    if seed is None:
        seed, sources = team_key_for_period(
            db_session=db_session, period=period, start=start, end=end
        )
        seed_source, seed_draws = "draws", [s["draw"] for s in sources]
    else:
        seed, seed_source, seed_draws = check_seed(seed), "experiment", []

    base = published_schedule(db_session=db_session, period=period)
    frozen: list[FrozenVisit] = []
    free_from = None
    next_code = 1
    if replan:
        if base is None:
            raise CheckOnceError(f"期间 {period} 没有已发布的排程，无需重排：请直接生成")
        today = today or today_in(policy)
        n = DEFAULT_FREEZE_WORKDAYS if freeze_workdays is None else freeze_workdays
        if n < 0:
            raise CheckOnceError("冻结工作日数不能为负")
        frozen_until = calendar.add_workdays(today, n) if n else today
        # An announced visit the enterprise has already been told about is never moved.
        frozen_until = max(
            frozen_until,
            visible_until(calendar, today, policy.notice.announce_workdays_ahead),
        )
        frozen = _freeze(db_session=db_session, base=base, today=today, frozen_until=frozen_until)
        free_from = frozen_until + dt.timedelta(days=1)
        codes = db_session.scalars(select(Visit.code).where(Visit.schedule_id == base.id))
        numbers = [int(c[1:]) for c in codes if c[1:].isdigit()]
        next_code = max(numbers, default=0) + 1
    elif base is not None:
        executed = db_session.scalar(
            select(func.count())
            .select_from(Visit)
            .where(Visit.schedule_id == base.id, Visit.state.in_(EXECUTED_STATES))
        )
        if executed:
            raise Conflict(
                f"期间 {period} 的在用排程（第 {base.version} 版）已有 {executed} 次检查签到或完成，"
                "重新生成会丢失这些记录：请使用重排（--replan）"
            )

    # History: other periods' published visits, plus the frozen ones for the solve only.
    enterprise_ids = set(
        db_session.scalars(
            select(InspectionTask.enterprise_id).where(
                InspectionTask.active.is_(True),
                InspectionTask.window_end >= start,
                InspectionTask.window_start <= end,
            )
        )
    ) | {v.enterprise_id for v in frozen}
    history = load_history(
        db_session=db_session, period=period, start=start, enterprise_ids=enterprise_ids
    )
    built = build_instance(
        db_session=db_session,
        period=period,
        calendar=calendar,
        policy=policy,
        seed=seed,
        history=history,
    )
    full, task_ids = built.instance, dict(built.task_ids)
    if frozen:
        try:
            full = _complete_for_frozen(db_session, full, task_ids, frozen, period)
        except ValueError as exc:
            raise CheckOnceError(f"排程实例无效：{exc}") from exc
    if not full.tasks:
        raise CheckOnceError(f"期间 {period} 没有已批准的检查任务，无法生成排程")

    to_solve, closed = full, []
    if replan:
        to_solve, closed = _replan_instance(db_session, full, frozen, history, free_from)
    return Preparation(
        period=period,
        actor=actor,
        seed=seed,
        full=full,
        to_solve=to_solve,
        task_ids=task_ids,
        closed=closed,
        base_id=base.id if replan and base is not None else None,
        seed_source=seed_source,
        seed_draws=seed_draws,
        frozen=frozen,
        free_from=free_from,
        next_code=next_code,
        visit_slack_percent=policy.schedule.visit_slack_percent,
        calendar_years=calendar.years_record(start, end),
    )


def _replan_instance(
    db_session: Session,
    full: Instance,
    frozen: list[FrozenVisit],
    history: dict[int, EnterpriseHistory],
    free_from: dt.date | None,
) -> tuple[Instance, list[Task]]:
    """The instance of what is left to place — frozen tasks removed, windows starting no
    earlier than `free_from`, frozen visits counted as this year's history — and the tasks
    whose window ended before `free_from` (left out with that reason)."""
    frozen_tasks = {task_interchange_id(t) for v in frozen for t in v.task_ids}
    kinds = {t.id: (t.department, t.kind) for t in full.tasks}
    credit_of = dict(
        db_session.execute(
            select(Enterprise.id, Enterprise.credit_code).where(
                Enterprise.id.in_(sorted({v.enterprise_id for v in frozen}))
            )
        ).all()
    )
    extra: dict[str, EnterpriseHistory] = {}
    for firm_id, entry in history.items():
        if firm_id in credit_of:
            extra[credit_of[firm_id]] = EnterpriseHistory(
                visits=entry.visits,
                routine=dict(entry.routine),
                last_day=entry.last_day,
                last_inspectors=list(entry.last_inspectors),
            )
    for visit in sorted(frozen, key=lambda v: (v.day, v.start)):
        entry = extra.setdefault(visit.enterprise, EnterpriseHistory())
        ids = [task_interchange_id(t) for t in visit.task_ids]
        entry.add_visit(visit.day, [kinds[t] for t in ids if t in kinds], visit.inspector_codes)
    tasks: list[Task] = []
    closed: list[Task] = []
    for task in full.tasks:
        if task.id in frozen_tasks:
            continue
        first = dt.date.fromisoformat(task.window[0])
        last = dt.date.fromisoformat(task.window[1])
        if free_from is not None and first < free_from:
            if last < free_from:
                closed.append(task)  # past its window
                continue
            task = replace(task, window=(free_from.isoformat(), task.window[1]))
        tasks.append(task)
    enterprises = []
    for firm in full.enterprises:
        entry = extra.get(firm.id)
        if entry is not None:
            firm = replace(
                firm,
                visits_this_year=entry.visits,
                routine_this_year=dict(sorted(entry.routine.items())),
                last_inspectors=tuple(entry.last_inspectors),
            )
        enterprises.append(firm)
    workdays = tuple(
        d for d in full.workdays if free_from is None or dt.date.fromisoformat(d) >= free_from
    )
    return (
        replace(full, tasks=tuple(tasks), enterprises=tuple(enterprises), workdays=workdays),
        closed,
    )


def solve_prepared(
    prep: Preparation,
    *,
    time_limit: float = 60.0,
    workers: int = 1,
    progress: Progress | None = None,
) -> Outcome:
    """Solve what is left to place, merge with the frozen visits and verify the whole."""
    report_progress = progress or (lambda stage, fraction: None)
    full, part = prep.full, prep.to_solve

    def solver_progress(stage: str, fraction: float) -> None:
        if stage in ("merge", "calendar", "draw"):
            report_progress(stage, fraction)

    if time_limit <= 0 or workers < 1:
        raise CheckOnceError("求解时限须为正数，线程数至少为 1")
    solved = solve(
        part,
        seed=prep.seed,
        time_limit=time_limit,
        workers=workers,
        progress=solver_progress,
        visit_slack_percent=prep.visit_slack_percent,
    )
    observe_solve(solved.metrics.get("solve_seconds"))
    report_progress("verify", 0.0)

    new_visits: list[SchedulerVisit] = []
    for index, visit in enumerate(sorted(solved.visits, key=lambda v: (v.day, v.start, v.id))):
        # A re-plan numbers its new visits after every code of the version it replaces, so
        # a code never names two different visits of one period.
        code = f"V{prep.next_code + index:06d}" if prep.base_id else visit.id
        new_visits.append(replace(visit, id=code))
    unscheduled = list(solved.unscheduled)
    if prep.free_from is not None:
        for task in prep.closed:
            unscheduled.append(
                Unscheduled(
                    task=task.id,
                    reason=f"时间窗已过：重排只能安排在 {prep.free_from.isoformat()} 及以后",
                    code="window_passed",
                )
            )
    frozen_visits = [v.to_visit() for v in prep.frozen]
    if frozen_visits:
        new_visits, dropped = _respect_caps_with_frozen(full, frozen_visits, new_visits)
        unscheduled.extend(dropped)
    combined = Schedule(
        instance=full.name,
        visits=tuple(sorted(frozen_visits + new_visits, key=lambda v: (v.day, v.start, v.id))),
        unscheduled=tuple(sorted(unscheduled, key=lambda u: u.task)),
        metrics=dict(solved.metrics),
    )
    report = verify(full, combined)
    report_progress("verify", 1.0)
    tasks_by_id = {t.id: t for t in full.tasks}
    scheduled = [tasks_by_id[t] for v in combined.visits for t in v.tasks if t in tasks_by_id]
    by_code: dict[str, int] = defaultdict(int)
    for item in combined.unscheduled:
        by_code[item.code or "other"] += 1
    # What departments planning alone would cost on the same instance (shown beside it).
    alone = departments_alone(full, seed=prep.seed)
    metrics = {
        **report.metrics,
        ALONE_KEY: alone,
        "status_quo_visits": status_quo_visits(scheduled),
        "lb_visits_all": solved.metrics.get("lb_visits_all"),
        "solve_seconds": solved.metrics.get("solve_seconds"),
        "frozen_visits": len(frozen_visits),
        "new_visits": len(new_visits),
        "unscheduled_by_code": dict(sorted(by_code.items())),
        "seed": prep.seed,
    }
    return Outcome(
        instance=full,
        schedule=combined,
        new_codes={v.id for v in new_visits},
        report=report.to_json(),
        violations=len(report.violations),
        metrics=metrics,
    )


def _respect_caps_with_frozen(
    full: Instance, frozen: list[SchedulerVisit], new: list[SchedulerVisit]
) -> tuple[list[SchedulerVisit], list[Unscheduled]]:
    """The solver did not see the frozen visits' weeks and months: drop new visits that
    would take an enterprise over the weekly or monthly entry cap together with them. Only
    visits holding a routine task count (a visit of triggered tasks alone is never held
    back, interchange rule 7)."""
    policy = full.policy
    routine_tasks = {t.id for t in full.tasks if t.routine}

    def routine(visit: SchedulerVisit) -> bool:
        return any(t in routine_tasks for t in visit.tasks)

    def week_and_month(visit: SchedulerVisit) -> tuple[tuple[str, int, int], tuple[str, int, int]]:
        day = dt.date.fromisoformat(visit.day)
        iso = day.isocalendar()
        return (visit.enterprise, iso[0], iso[1]), (visit.enterprise, day.year, day.month)

    weeks: dict[tuple[str, int, int], int] = defaultdict(int)
    months: dict[tuple[str, int, int], int] = defaultdict(int)
    for visit in frozen:
        if routine(visit):
            week, month = week_and_month(visit)
            weeks[week] += 1
            months[month] += 1
    kept: list[SchedulerVisit] = []
    dropped: list[Unscheduled] = []
    for visit in sorted(new, key=lambda v: (v.day, v.start, v.id)):
        if not routine(visit):
            kept.append(visit)
            continue
        week, month = week_and_month(visit)
        if (
            weeks[week] + 1 > policy.max_visits_per_enterprise_week
            or months[month] + 1 > policy.max_visits_per_enterprise_month
        ):
            for task in visit.tasks:
                dropped.append(
                    Unscheduled(
                        task=task,
                        reason="与保留不变的检查同周或同月，再入企将超过每周/每月入企上限",
                        code="cap_with_frozen",
                    )
                )
            continue
        weeks[week] += 1
        months[month] += 1
        kept.append(visit)
    return kept, dropped


def _visit_travel_km(instance: Instance, schedule: Schedule) -> dict[str, float]:
    """Each visit's share of the team's driving: every member's leg into the visit (from
    home or the previous visit of the day), plus the way home after their last visit. The
    shares add up to the schedule's travel_km."""
    people = {i.id: i for i in instance.inspectors}
    places = {e.id: (e.lat, e.lon) for e in instance.enterprises}
    days: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for visit in schedule.visits:
        for iid in visit.inspectors:
            days[(iid, visit.day)].append(visit)
    share: dict[str, float] = defaultdict(float)
    for (iid, _day), visits in days.items():
        person = people.get(iid)
        if person is None:
            continue
        visits.sort(key=lambda v: (v.start, v.end, v.id))
        here = (person.lat, person.lon)
        for visit in visits:
            there = places.get(visit.enterprise, here)
            share[visit.id] += great_circle_km(*here, *there) * instance.detour
            here = there
        share[visits[-1].id] += great_circle_km(*here, person.lat, person.lon) * instance.detour
    return {k: round(v, 2) for k, v in share.items()}


VERSION_ATTEMPTS = 20


def _new_version(db_session: Session, period: str, **values: Any) -> ScheduleVersion:
    """A draft version numbered next for `period`, safe under concurrent generations: on
    PostgreSQL a transaction lock per period serialises the numbering; anywhere, a number
    taken meanwhile (the unique (period, version) constraint) is retried with the next."""
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('schedule_version:' || :period))"),
            {"period": period},
        )
    for _attempt in range(VERSION_ATTEMPTS):
        number = (
            db_session.scalar(
                select(func.max(ScheduleVersion.version)).where(ScheduleVersion.period == period)
            )
            or 0
        ) + 1
        version = ScheduleVersion(period=period, version=number, state="draft", **values)
        try:
            with db_session.begin_nested():
                db_session.add(version)
                db_session.flush()
        except IntegrityError:
            continue  # the savepoint's rollback took the unsaved version with it
        return version
    raise Conflict(f"{period} 的排程版本号分配冲突过多，请稍后再试")


def store_generation(
    *, db_session: Session, prep: Preparation, outcome: Outcome
) -> ScheduleVersion:
    """Write the draft version: visits, teams, tasks left out, metrics and verifier report."""
    schedule = outcome.schedule
    full = outcome.instance
    version = _new_version(
        db_session,
        prep.period,
        seed=prep.seed,
        seed_source=prep.seed_source,
        seed_draws=list(prep.seed_draws),
        instance_name=full.name[:120],
        metrics=outcome.metrics,
        verifier_report=outcome.report,
        violations=outcome.violations,
        based_on_id=prep.base_id,
        created_by=prep.actor.label,
        calendar={"years": prep.calendar_years},
    )

    task_ids = sorted(
        {prep.task_ids[t] for v in schedule.visits for t in v.tasks}
        | {prep.task_ids[u.task] for u in schedule.unscheduled}
    )
    tasks = {
        t.id: t
        for t in db_session.scalars(select(InspectionTask).where(InspectionTask.id.in_(task_ids)))
    }
    firm_ids = dict(
        db_session.execute(
            select(Enterprise.credit_code, Enterprise.id).where(
                Enterprise.credit_code.in_(sorted({v.enterprise for v in schedule.visits}))
            )
        ).all()
    )
    dept_ids = dict(db_session.execute(select(Department.code, Department.id)).all())
    people = dict(
        db_session.execute(
            select(Inspector.code, Inspector.id).where(
                Inspector.code.in_(sorted({i for v in schedule.visits for i in v.inspectors}))
            )
        ).all()
    )
    frozen = {v.code: v for v in prep.frozen}
    travel = _visit_travel_km(full, schedule)
    for visit in schedule.visits:
        kept = frozen.get(visit.id)
        row = Visit(
            code=visit.id,
            enterprise_id=firm_ids[visit.enterprise],
            day=dt.date.fromisoformat(visit.day),
            start=_clock(visit.start),
            end=_clock(visit.end),
            lead_department_id=(
                dept_ids[visit.lead]
                if visit.lead
                else tasks[prep.task_ids[visit.tasks[0]]].department_id
            ),
            announced=kept.announced
            if kept
            else visit_is_announced(tasks[prep.task_ids[t]].announced for t in visit.tasks),
            state=kept.state if kept else "scheduled",
            frozen=kept is not None,
            travel_km=kept.travel_km if kept else travel.get(visit.id, 0.0),
        )
        row.tasks = [VisitTask(inspection_task_id=prep.task_ids[t]) for t in visit.tasks]
        row.team = [
            VisitInspector(inspector_id=people[code], position=position)
            for position, code in enumerate(visit.inspectors)
        ]
        version.visits.append(row)
    version.unscheduled = [
        UnscheduledTask(inspection_task_id=prep.task_ids[u.task], reason=u.reason or "未能安排")
        for u in schedule.unscheduled
    ]
    try:
        db_session.flush()
    except IntegrityError as exc:
        raise Conflict(f"期间 {prep.period} 正在同时生成另一个版本，请稍后重试") from exc
    record(
        db_session,
        actor=prep.actor,
        action=AuditAction.SCHEDULE_GENERATE,
        object_type="schedule",
        object_id=version.id,
        after={
            "period": version.period,
            "version": version.version,
            "state": version.state,
            "visits": len(version.visits),
            "unscheduled": len(version.unscheduled),
            "violations": version.violations,
            "seed": version.seed,
        },
        detail={"replan_of": prep.base_id, "frozen": len(prep.frozen)} if prep.base_id else None,
    )
    return version


def generate_schedule(
    *,
    db_session: Session,
    period: str,
    actor: Actor,
    seed: str | None = None,
    time_limit: float = 60.0,
    workers: int = 1,
    progress: Progress | None = None,
    replan: bool = False,
    freeze_workdays: int | None = None,
    today: dt.date | None = None,
    policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
) -> ScheduleVersion:
    """Generate a new draft version of `period`'s merged schedule (综合查一次).

    Builds the instance from approved tasks, the registry, this year's history and the
    policy; solves it with `seed` (a fresh 256-bit seed when None, recorded either way);
    verifies the result independently; stores visits, teams, tasks left out with their
    reasons, metrics and the verifier report. `replan=True` keeps the published version's
    checked-in, completed and next-`freeze_workdays` visits as they are and re-solves only
    the rest. `progress(stage, fraction)` receives the overall fraction done."""
    report = progress or (lambda stage, fraction: None)

    def overall(stage: str, fraction: float) -> None:
        report(stage, stage_fraction(stage, fraction))

    overall("instance", 0.0)
    prep = prepare_generation(
        db_session=db_session,
        period=period,
        actor=actor,
        seed=seed,
        replan=replan,
        freeze_workdays=freeze_workdays,
        today=today,
        policy=policy,
        calendar=calendar,
    )
    outcome = solve_prepared(prep, time_limit=time_limit, workers=workers, progress=overall)
    overall("store", 0.0)
    version = store_generation(db_session=db_session, prep=prep, outcome=outcome)
    overall("done", 1.0)
    log.info(
        "schedule %s v%s generated by %s: %s visits, %s violations",
        version.period,
        version.version,
        actor.label,
        outcome.metrics.get("visits"),
        outcome.violations,
    )
    return version


# ---------------------------------------------------------------------------- publishing


def _supersede(db_session: Session, current: ScheduleVersion) -> None:
    current.state = "superseded"
    # Flushed on its own: the one-published-per-period index must see the old version go
    # before the new one arrives, whatever order the unit of work would choose.
    db_session.flush()


def _carry_executed_states(
    db_session: Session, version: ScheduleVersion, current: ScheduleVersion
) -> None:
    """Visits checked in on the version in force since the draft was generated keep their
    state; a draft that would lose an executed visit is refused."""
    executed = dict(
        db_session.execute(
            select(Visit.code, Visit.state).where(
                Visit.schedule_id == current.id, Visit.state.in_(EXECUTED_STATES)
            )
        ).all()
    )
    if not executed:
        return
    carried = {v.code: v for v in version.visits if v.frozen}
    lost = sorted(code for code in executed if code not in carried)
    if lost or version.based_on_id != current.id:
        shown = "、".join(lost[:5]) + ("等" if len(lost) > 5 else "")
        raise Conflict(
            f"在用版本已有检查签到或完成（{shown or '另一版本'}），而此草稿不是基于在用版本的重排："
            "请重新执行重排后再发布"
        )
    for code, state in executed.items():
        carried[code].state = state


def _mark_published(version: ScheduleVersion, actor: Actor) -> None:
    version.state = "published"
    version.published_by = actor.label
    version.published_at = dt.datetime.now(dt.UTC)


def publish_schedule(*, db_session: Session, schedule_id: int, actor: Actor) -> ScheduleVersion:
    """Put a draft version in force, atomically.

    Refuses a version with verifier violations. The version in force for the period is
    superseded in the same transaction (inside a savepoint here too), so on any failure
    the previous version stays in force and nothing of the attempt remains."""
    access.require(actor, AuditAction.SCHEDULE_PUBLISH)
    version = db_session.get(ScheduleVersion, schedule_id, with_for_update=True)
    if version is None:
        raise NotFound(f"排程版本 {schedule_id} 不存在")
    if version.state != "draft":
        raise Conflict(
            f"排程版本 {schedule_id} 状态为「{SCHEDULE_STATE_NAMES[version.state]}」，只有草稿可以发布"
        )
    if version.violations:
        raise Conflict(
            f"排程版本 {schedule_id} 有 {version.violations} 处违反硬约束，不能发布",
            code="schedule_has_violations",
        )
    key_problems = check_version_key(db_session=db_session, version=version)
    if key_problems:
        raise Conflict("；".join(key_problems), code="schedule_key_not_derived")
    try:
        with db_session.begin_nested():
            current = db_session.scalars(
                select(ScheduleVersion)
                .where(
                    ScheduleVersion.period == version.period,
                    ScheduleVersion.state == "published",
                )
                .with_for_update()
            ).one_or_none()
            if current is not None:
                _carry_executed_states(db_session, version, current)
                _supersede(db_session, current)
            _mark_published(version, actor)
            db_session.flush()
            record(
                db_session,
                actor=actor,
                action=AuditAction.SCHEDULE_PUBLISH,
                object_type="schedule",
                object_id=version.id,
                before={"state": "draft", "in_force": current.id if current else None},
                after={"state": "published", "in_force": version.id},
                detail={"period": version.period, "version": version.version},
            )
    except IntegrityError as exc:
        raise Conflict(f"期间 {version.period} 的排程正被同时发布，请刷新后重试") from exc
    log.info("schedule %s v%s published by %s", version.period, version.version, actor.label)
    return version


def check_version_key(*, db_session: Session, version: ScheduleVersion) -> list[str]:
    """Why a version's inspector-ranking key cannot stand (Chinese), or nothing: it must be
    the key recomputed from the period's published draws it names."""
    from checkonce.sampling.service import check_team_key

    name = f"排程版本 {version.id}（{version.period} 第 {version.version} 版）"
    if version.seed_source == "experiment":
        return [
            f"{name}是用指定种子（--seed）生成的试验版本，不能发布：执法人员的排序密钥"
            "须由本期已公开的抽取结果推导。请不指定种子重新生成"
        ]
    if version.seed_source != "draws":
        return [f"{name}生成于排序密钥由抽取结果推导之前，不能发布：请重新生成"]
    return [
        f"{name}：{problem}"
        for problem in check_team_key(
            db_session=db_session,
            period=version.period,
            key=version.seed,
            draw_ids=list(version.seed_draws or []),
        )
    ]


# ---------------------------------------------------------------------------- visit details


def visit_tasks(db_session: Session, visit: Visit) -> list[InspectionTask]:
    """A visit's tasks with department, item and checklist loaded."""
    return list(
        db_session.scalars(
            select(InspectionTask)
            .join(VisitTask, VisitTask.inspection_task_id == InspectionTask.id)
            .where(VisitTask.visit_id == visit.id)
            .options(
                selectinload(InspectionTask.department),
                selectinload(InspectionTask.item).selectinload(CheckItem.checklist),
            )
            .order_by(InspectionTask.id)
        )
    )
