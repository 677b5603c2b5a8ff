"""Independent verifier: every rule of INTERCHANGE.md "What a valid schedule satisfies".

`verify(instance, schedule)` runs one function per rule and returns a `Report` with each
violation (rule name, ids concerned, a sentence a coordinator understands) plus the metrics
every solve reports. It shares no code with the solver — travel time, timelines and caps
are recomputed here from the contract alone — so a solver bug cannot hide itself.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from checkonce.scheduler.bounds import inspector_minutes_lb, lb_visits
from checkonce.scheduler.model import Instance, Schedule, Visit, format_clock

# Travel times are real numbers, clock times whole minutes: allow rounding noise only.
EPS = 1e-6
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Violation:
    """One broken rule: the rule's name, the ids concerned, and a sentence for people."""

    rule: str
    ids: tuple[str, ...]
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "ids": list(self.ids), "message": self.message}


@dataclass
class Report:
    """Verifier result: violations (empty = valid), warnings and metrics."""

    violations: list[Violation] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return not self.violations

    def by_rule(self) -> dict[str, int]:
        """Number of violations per rule name."""
        counts: dict[str, int] = defaultdict(int)
        for v in self.violations:
            counts[v.rule] += 1
        return dict(counts)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "violations": [v.to_json() for v in self.violations],
            "warnings": [w.to_json() for w in self.warnings],
            "metrics": self.metrics,
        }


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class _Context:
    """Lookups shared by the rule checks, built once per verification."""

    def __init__(self, instance: Instance, schedule: Schedule) -> None:
        self.instance = instance
        self.schedule = schedule
        self.tasks = {t.id: t for t in instance.tasks}
        self.enterprises = {e.id: e for e in instance.enterprises}
        self.inspectors = {i.id: i for i in instance.inspectors}
        self.workdays = set(instance.workdays)
        self.conflicts = {(c.inspector, c.enterprise) for c in instance.conflicts}
        # Visits referring to unknown tasks/inspectors are reported by the coverage and
        # team rules; the other rules skip the unknown ids instead of crashing.
        self._days: dict[tuple[str, str], list[tuple[int, int, Visit]]] | None = None
        self.visit_tasks = {
            v.id: [self.tasks[t] for t in v.tasks if t in self.tasks] for v in schedule.visits
        }

    def km(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        return great_circle_km(a[0], a[1], b[0], b[1]) * self.instance.detour

    def minutes(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        return self.km(a, b) / self.instance.speed_kmh * 60.0

    def place(self, visit: Visit) -> tuple[float, float] | None:
        ent = self.enterprises.get(visit.enterprise)
        return None if ent is None else (ent.lat, ent.lon)

    def on_site(self, visit: Visit, iid: str) -> tuple[int, int]:
        """Rule 5: the inspector's on-site interval on a visit — from `start` until the
        departments it serves there are done (`dept_minutes`, the sum of each department's
        task minutes), or until `end` when it serves none of them."""
        person = self.inspectors.get(iid)
        minutes: dict[str, int] = defaultdict(int)
        for task in self.visit_tasks[visit.id]:
            minutes[task.department] += task.minutes
        served = [
            m
            for department, m in minutes.items()
            if person is not None
            and (department == person.department or department in person.also_for)
        ]
        if not served:
            return visit.start, visit.end
        return visit.start, visit.start + max(served)

    def inspector_days(self) -> dict[tuple[str, str], list[tuple[int, int, Visit]]]:
        """Each inspector's on-site intervals per day, by arrival (computed once)."""
        if self._days is not None:
            return self._days
        days: dict[tuple[str, str], list[tuple[int, int, Visit]]] = defaultdict(list)
        for visit in self.schedule.visits:
            for iid in visit.inspectors:
                start, leave = self.on_site(visit, iid)
                days[(iid, visit.day)].append((start, leave, visit))
        for stays in days.values():
            stays.sort(key=lambda s: (s[0], s[1], s[2].id))
        self._days = dict(days)
        return self._days


def check_task_coverage(ctx: _Context) -> list[Violation]:
    """Rule 1: every task appears exactly once, in a visit or in `unscheduled`."""
    out: list[Violation] = []
    seen: dict[str, str] = {}
    places = [(t, v.id) for v in ctx.schedule.visits for t in v.tasks]
    places += [(u.task, "unscheduled") for u in ctx.schedule.unscheduled]
    for task_id, where in places:
        if task_id not in ctx.tasks:
            out.append(
                Violation(
                    "task_coverage", (task_id,), f"任务 {task_id} 不在实例中（出现在 {where}）"
                )
            )
        elif task_id in seen:
            out.append(
                Violation(
                    "task_coverage",
                    (task_id,),
                    f"任务 {task_id} 出现不止一次（{seen[task_id]} 与 {where}）",
                )
            )
        else:
            seen[task_id] = where
    for task_id in ctx.tasks:
        if task_id not in seen:
            out.append(
                Violation("task_coverage", (task_id,), f"任务 {task_id} 既未排入检查也未列为未排")
            )
    return out


def check_visit_enterprise(ctx: _Context) -> list[Violation]:
    """Rule 2a: a visit holds only tasks of its own enterprise."""
    out: list[Violation] = []
    for visit in ctx.schedule.visits:
        if visit.enterprise not in ctx.enterprises:
            out.append(
                Violation(
                    "visit_enterprise",
                    (visit.id, visit.enterprise),
                    f"检查 {visit.id} 的企业 {visit.enterprise} 不在实例中",
                )
            )
        if not visit.tasks:
            out.append(Violation("visit_enterprise", (visit.id,), f"检查 {visit.id} 不含任何任务"))
        for task in ctx.visit_tasks[visit.id]:
            if task.enterprise != visit.enterprise:
                out.append(
                    Violation(
                        "visit_enterprise",
                        (visit.id, task.id),
                        f"检查 {visit.id} 进入 {visit.enterprise}，但任务 {task.id} "
                        f"属于企业 {task.enterprise}",
                    )
                )
    return out


def check_visit_windows(ctx: _Context) -> list[Violation]:
    """Rule 2b: a visit's day is a workday inside every one of its tasks' windows."""
    out: list[Violation] = []
    for visit in ctx.schedule.visits:
        if visit.day not in ctx.workdays:
            out.append(
                Violation(
                    "visit_windows", (visit.id,), f"检查 {visit.id} 的日期 {visit.day} 不是工作日"
                )
            )
        for task in ctx.visit_tasks[visit.id]:
            if not task.window[0] <= visit.day <= task.window[1]:
                out.append(
                    Violation(
                        "visit_windows",
                        (visit.id, task.id),
                        f"检查 {visit.id} 在 {visit.day}，超出任务 {task.id} 的时间窗 "
                        f"{task.window[0]}～{task.window[1]}",
                    )
                )
    return out


def check_one_visit_per_day(ctx: _Context) -> list[Violation]:
    """Rule 2c: an enterprise has at most one visit a day."""
    out: list[Violation] = []
    per_day: dict[tuple[str, str], list[str]] = defaultdict(list)
    for visit in ctx.schedule.visits:
        per_day[(visit.enterprise, visit.day)].append(visit.id)
    for (enterprise, day), ids in sorted(per_day.items()):
        if len(ids) > 1:
            out.append(
                Violation(
                    "one_visit_per_day",
                    (enterprise, *ids),
                    f"企业 {enterprise} 在 {day} 被进入 {len(ids)} 次（{', '.join(ids)}）",
                )
            )
    return out


def check_team_size(ctx: _Context) -> list[Violation]:
    """Rule 3: each task has ≥ `need` inspectors serving its department; a visit ≥ min_team.

    An inspector serves its own department and those in its `also_for`. `need` is the
    task's `team` in a visit of one department, min(team, joint_team_per_department) in a
    joint visit (the task's team when the policy gives no joint rule).
    """
    out: list[Violation] = []
    min_team = ctx.instance.policy.min_team
    joint_rule = ctx.instance.policy.joint_team_per_department
    for visit in ctx.schedule.visits:
        unknown = [i for i in visit.inspectors if i not in ctx.inspectors]
        if unknown:
            out.append(
                Violation(
                    "team_size",
                    (visit.id, *unknown),
                    f"检查 {visit.id} 的人员 {', '.join(unknown)} 不在实例中",
                )
            )
        if len(set(visit.inspectors)) != len(visit.inspectors):
            out.append(Violation("team_size", (visit.id,), f"检查 {visit.id} 的人员名单有重复"))
        per_department: dict[str, int] = defaultdict(int)
        for iid in set(visit.inspectors):
            if iid in ctx.inspectors:
                person = ctx.inspectors[iid]
                for department in {person.department, *person.also_for}:
                    per_department[department] += 1
        joint = len({t.department for t in ctx.visit_tasks[visit.id]}) > 1
        if len(set(visit.inspectors)) < min_team:
            out.append(
                Violation(
                    "team_size",
                    (visit.id,),
                    f"检查 {visit.id} 只有 {len(set(visit.inspectors))} 名执法人员，"
                    f"少于最少 {min_team} 人",
                )
            )
        for task in ctx.visit_tasks[visit.id]:
            have = per_department.get(task.department, 0)
            need = task.team
            if joint and joint_rule is not None:
                need = min(task.team, joint_rule)
            if have < need:
                out.append(
                    Violation(
                        "team_size",
                        (visit.id, task.id),
                        f"检查 {visit.id} 中任务 {task.id} 需要可执行 {task.department} 事项的 "
                        f"{need} 名执法人员，实际 {have} 名",
                    )
                )
    return out


def check_visit_duration(ctx: _Context) -> list[Violation]:
    """Rule 4: long enough for each department's tasks; inside opening hours and the day."""
    out: list[Violation] = []
    inst = ctx.instance
    for visit in ctx.schedule.visits:
        need: dict[str, int] = defaultdict(int)
        for task in ctx.visit_tasks[visit.id]:
            need[task.department] += task.minutes
        length = visit.end - visit.start
        for department, minutes in sorted(need.items()):
            if length < minutes:
                out.append(
                    Violation(
                        "visit_duration",
                        (visit.id, department),
                        f"检查 {visit.id} 历时 {length} 分钟，少于 {department} 任务所需 "
                        f"{minutes} 分钟",
                    )
                )
        ent = ctx.enterprises.get(visit.enterprise)
        lo = max(inst.day_start, ent.open[0] if ent else 0)
        hi = min(inst.day_end, ent.open[1] if ent else 24 * 60)
        if visit.start < lo or visit.end > hi:
            out.append(
                Violation(
                    "visit_duration",
                    (visit.id,),
                    f"检查 {visit.id}（{format_clock(visit.start)}–{format_clock(visit.end)}）"
                    f"超出营业时间与工作时间 {format_clock(lo)}–{format_clock(hi)}",
                )
            )
    return out


def check_inspector_timeline(ctx: _Context) -> list[Violation]:
    """Rule 5: per inspector and day — available, certified, no overlap, travel, day length.

    Each inspector's time on a visit is its on-site interval (`_Context.on_site`): the team
    arrives together at `start`, and each member leaves once the departments it serves are
    done. The day's total is time on site plus every travel leg, home legs included.
    """
    out: list[Violation] = []
    inst = ctx.instance
    for (iid, day), stays in sorted(ctx.inspector_days().items()):
        person = ctx.inspectors.get(iid)
        if person is None:
            continue  # reported by check_team_size
        visits = [v for _s, _l, v in stays]
        ids = tuple(v.id for v in visits)
        if day in person.unavailable:
            out.append(Violation("inspector_timeline", (iid, *ids), f"{iid} 在 {day} 不可出勤"))
        if not person.certificate_valid[0] <= day <= person.certificate_valid[1]:
            out.append(
                Violation(
                    "inspector_timeline",
                    (iid, *ids),
                    f"{iid} 的执法证在 {day} 无效（有效期 {person.certificate_valid[0]}～"
                    f"{person.certificate_valid[1]}）",
                )
            )
        places = [ctx.place(v) for v in visits]
        if any(p is None for p in places):
            continue  # unknown enterprise, reported by check_visit_enterprise
        home = (person.lat, person.lon)
        total = 0.0
        first_leg = ctx.minutes(home, places[0])  # type: ignore[arg-type]
        last_leg = ctx.minutes(places[-1], home)  # type: ignore[arg-type]
        if stays[0][0] - first_leg < inst.day_start - EPS:
            out.append(
                Violation(
                    "inspector_timeline",
                    (iid, visits[0].id),
                    f"{iid} 在 {day} 需 {first_leg:.0f} 分钟赶到 {visits[0].id}，"
                    f"早于上班时间 {format_clock(inst.day_start)} 出发",
                )
            )
        if stays[-1][1] + last_leg > inst.day_end + EPS:
            out.append(
                Violation(
                    "inspector_timeline",
                    (iid, visits[-1].id),
                    f"{iid} 在 {day} 离开 {visits[-1].id} 后需 {last_leg:.0f} 分钟返回，"
                    f"晚于下班时间 {format_clock(inst.day_end)}",
                )
            )
        total += first_leg + last_leg
        for prev, nxt, p_prev, p_next in zip(stays, stays[1:], places, places[1:], strict=False):
            leg = ctx.minutes(p_prev, p_next)  # type: ignore[arg-type]
            total += leg
            if nxt[0] < prev[1]:
                out.append(
                    Violation(
                        "inspector_timeline",
                        (iid, prev[2].id, nxt[2].id),
                        f"{iid} 在 {day} 的检查 {prev[2].id} 与 {nxt[2].id} 在场时间重叠",
                    )
                )
            elif nxt[0] < prev[1] + leg - EPS:
                out.append(
                    Violation(
                        "inspector_timeline",
                        (iid, prev[2].id, nxt[2].id),
                        f"{iid} 在 {day} 从 {prev[2].id} 到 {nxt[2].id} 需路程 {leg:.0f} 分钟，"
                        f"离开后只有 {nxt[0] - prev[1]} 分钟",
                    )
                )
        total += sum(leave - start for start, leave, _v in stays)
        if total > person.minutes_per_day + EPS:
            out.append(
                Violation(
                    "inspector_timeline",
                    (iid, *ids),
                    f"{iid} 在 {day} 工作 {total:.0f} 分钟（含路程），超过每日 "
                    f"{person.minutes_per_day} 分钟",
                )
            )
    return out


def check_conflicts(ctx: _Context) -> list[Violation]:
    """Rule 6: no inspector enters an enterprise it declared a conflict with (回避)."""
    out: list[Violation] = []
    for visit in ctx.schedule.visits:
        for iid in visit.inspectors:
            if (iid, visit.enterprise) in ctx.conflicts:
                out.append(
                    Violation(
                        "conflicts",
                        (visit.id, iid, visit.enterprise),
                        f"{iid} 与企业 {visit.enterprise} 有回避关系，却被派往检查 {visit.id}",
                    )
                )
    return out


def check_caps(ctx: _Context) -> list[Violation]:
    """Rule 7: yearly, per-department, weekly and monthly frequency caps per enterprise.

    Only visits holding a routine task count: a visit of triggered tasks alone (complaints,
    referrals, follow-ups) counts against no cap.
    """
    out: list[Violation] = []
    policy = ctx.instance.policy
    routine_visits: dict[str, int] = defaultdict(int)
    routine_tasks: dict[tuple[str, str], int] = defaultdict(int)
    weeks: dict[tuple[str, int, int], list[str]] = defaultdict(list)
    months: dict[tuple[str, str], list[str]] = defaultdict(list)
    for visit in ctx.schedule.visits:
        tasks = ctx.visit_tasks[visit.id]
        for task in tasks:
            if task.kind != "triggered":
                routine_tasks[(visit.enterprise, task.department)] += 1
        if not any(t.kind != "triggered" for t in tasks):
            continue
        routine_visits[visit.enterprise] += 1
        try:
            iso = date.fromisoformat(visit.day).isocalendar()
        except ValueError:
            continue
        weeks[(visit.enterprise, iso[0], iso[1])].append(visit.id)
        months[(visit.enterprise, visit.day[:7])].append(visit.id)
    for eid, count in sorted(routine_visits.items()):
        before = ctx.enterprises[eid].visits_this_year if eid in ctx.enterprises else 0
        if before + count > policy.max_visits_per_enterprise_year:
            out.append(
                Violation(
                    "caps",
                    (eid,),
                    f"企业 {eid} 本年已入企 {before} 次，再排 {count} 次常规检查，"
                    f"超过年度上限 {policy.max_visits_per_enterprise_year} 次",
                )
            )
    for (eid, department), count in sorted(routine_tasks.items()):
        ent = ctx.enterprises.get(eid)
        before = ent.routine_this_year.get(department, 0) if ent else 0
        if before + count > policy.max_routine_per_department_year:
            out.append(
                Violation(
                    "caps",
                    (eid, department),
                    f"企业 {eid} 本年已接受 {department} 常规检查 {before} 次，再排 {count} 项，"
                    f"超过部门年度上限 {policy.max_routine_per_department_year} 次",
                )
            )
    for (eid, year, week), ids in sorted(weeks.items()):
        if len(ids) > policy.max_visits_per_enterprise_week:
            out.append(
                Violation(
                    "caps",
                    (eid, *ids),
                    f"企业 {eid} 在 {year} 年第 {week} 周有 {len(ids)} 次含常规任务的入企，"
                    f"超过每周上限 {policy.max_visits_per_enterprise_week} 次",
                )
            )
    for (eid, month), ids in sorted(months.items()):
        if len(ids) > policy.max_visits_per_enterprise_month:
            out.append(
                Violation(
                    "caps",
                    (eid, *ids),
                    f"企业 {eid} 在 {month} 有 {len(ids)} 次含常规任务的入企，"
                    f"超过每月上限 {policy.max_visits_per_enterprise_month} 次",
                )
            )
    return out


RULES: tuple[Callable[[_Context], list[Violation]], ...] = (
    check_task_coverage,
    check_visit_enterprise,
    check_visit_windows,
    check_one_visit_per_day,
    check_team_size,
    check_visit_duration,
    check_inspector_timeline,
    check_conflicts,
    check_caps,
)


def _warnings(ctx: _Context) -> list[Violation]:
    """Not rules of the contract, but worth a coordinator's eye: a non-mergeable task merged."""
    out: list[Violation] = []
    for visit in ctx.schedule.visits:
        tasks = ctx.visit_tasks[visit.id]
        if len(tasks) > 1:
            for task in tasks:
                if not task.mergeable:
                    out.append(
                        Violation(
                            "mergeable",
                            (visit.id, task.id),
                            f"任务 {task.id} 标为不可合并，却与其他任务同在检查 {visit.id}",
                        )
                    )
    return out


def rotation_repeats(ctx: _Context) -> int:
    """Inspectors sent again to the enterprise they inspected last time (not a violation)."""
    last = {e.id: set(e.last_inspectors) for e in ctx.instance.enterprises}
    repeats = 0
    for visit in sorted(ctx.schedule.visits, key=lambda v: (v.day, v.start, v.id)):
        previous = last.get(visit.enterprise, set())
        repeats += sum(1 for iid in visit.inspectors if iid in previous)
        last[visit.enterprise] = set(visit.inspectors)
    return repeats


def compute_metrics(ctx: _Context) -> dict[str, Any]:
    """Counts, bounds, inspector-days, travel and workload spread of a schedule."""
    scheduled_ids = [t for v in ctx.schedule.visits for t in v.tasks if t in ctx.tasks]
    lb = lb_visits(ctx.instance, scheduled_ids)
    visits = len(ctx.schedule.visits)
    travel_km = 0.0
    on_site = 0
    travel_minutes = 0.0
    minutes: dict[str, float] = defaultdict(float)
    for (iid, _day), stays in ctx.inspector_days().items():
        person = ctx.inspectors.get(iid)
        places = [ctx.place(v) for _s, _l, v in stays]
        if person is None or any(p is None for p in places):
            continue
        route = [(person.lat, person.lon), *places, (person.lat, person.lon)]
        km = sum(ctx.km(a, b) for a, b in itertools.pairwise(route))  # type: ignore[arg-type]
        travel_km += km
        here = sum(leave - start for start, leave, _v in stays)
        on_site += here
        travel_minutes += km / ctx.instance.speed_kmh * 60.0
        minutes[iid] += km / ctx.instance.speed_kmh * 60.0 + here
    # Inspector-visits outside the inspector's home district (when the instance says it),
    # and the days each department works in each district (how packed its calendar is).
    inspector_visits = cross_district = 0
    department_district_days: set[tuple[str, str, str]] = set()
    for visit in ctx.schedule.visits:
        ent = ctx.enterprises.get(visit.enterprise)
        if ent is not None:
            for task in ctx.visit_tasks[visit.id]:
                department_district_days.add((task.department, ent.district, visit.day))
        for iid in visit.inspectors:
            person = ctx.inspectors.get(iid)
            inspector_visits += 1
            if ent and person and person.district and person.district != ent.district:
                cross_district += 1
    # Spread over everyone of a department that has work, idle inspectors included.
    busy_departments = {ctx.tasks[t].department for t in scheduled_ids}
    loads = [
        minutes.get(i.id, 0.0) for i in ctx.instance.inspectors if i.department in busy_departments
    ]
    mean = statistics.fmean(loads) if loads else 0.0
    return {
        "tasks": len(ctx.tasks),
        "scheduled": len(set(scheduled_ids)),
        "unscheduled": len(ctx.schedule.unscheduled),
        "unscheduled_by_code": dict(
            sorted(Counter(u.code or "unknown" for u in ctx.schedule.unscheduled).items())
        ),
        "visits": visits,
        "lb_visits": lb,
        "gap": (visits / lb - 1.0) if lb else 0.0,
        "merge_ratio": visits / len(scheduled_ids) if scheduled_ids else 0.0,
        "inspector_days": len(ctx.inspector_days()),
        "inspector_minutes_lb": inspector_minutes_lb(ctx.tasks[t] for t in set(scheduled_ids)),
        "travel_km": round(travel_km, 1),
        "inspector_minutes_on_site": on_site,
        "inspector_minutes_travel": round(travel_minutes),
        "inspector_visits": inspector_visits,
        "cross_district_inspector_visits": cross_district,
        "department_district_days": len(department_district_days),
        "cross_district_share": round(cross_district / inspector_visits, 4)
        if inspector_visits
        else 0.0,
        "rotation_repeats": rotation_repeats(ctx),
        "workload_mean_minutes": round(mean, 1),
        "workload_max_minutes": round(max(loads), 1) if loads else 0.0,
        "workload_cv": round(statistics.pstdev(loads) / mean, 4) if mean else 0.0,
    }


def verify(instance: Instance, schedule: Schedule) -> Report:
    """Check every rule of the contract and compute the metrics of `schedule`."""
    ctx = _Context(instance, schedule)
    report = Report()
    for rule in RULES:
        report.violations.extend(rule(ctx))
    report.warnings.extend(_warnings(ctx))
    report.metrics = compute_metrics(ctx)
    return report
