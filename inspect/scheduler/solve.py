"""The "check once" optimizer: merged visits, calendar, team draw and timelines.

Objective, in this order (DESIGN.md "The optimizer"): schedule every task that can be
scheduled (each left out gets a reason), fewest enterprise visits, fewest inspector-days and
travel, even load. One monolithic model does not scale (a measured 100k-visit CP-SAT found
nothing in 120 s while a min-cost flow was exact in seconds), so the solve is decomposed:

1. **merge** — per enterprise, group tasks into visits by the earliest-deadline stabbing
   greedy, which is exactly the `lb_visits` bound when no side constraint binds. Where a
   yearly or per-department cap binds, a greedy plan is kept when it provably keeps the
   most tasks in the fewest visits (only a per-department cap binding, or at most one
   routine visit left this year); the other enterprises get a small exact CP-SAT model of
   their own (`solve_enterprise`), spread over `workers` processes.
2. **calendar** — per branch (lead department × district), a min-cost flow (OR-Tools)
   sends every visit to one day of its range: the district's joint-inspection weekdays,
   earliest first, up to the branch's capacity in inspector-minutes. Filling a branch's
   days in date order packs several visits into each drawn inspector's day (fewest
   inspector-days under a random draw); a second pass pulls joint visits onto days their
   other departments work in the district anyway. Branches are independent, so their
   flows run in `workers` processes. Then weekly/monthly caps and one-visit-a-day are
   repaired per enterprise (locally, else with `solve_enterprise`).
3. **draw** — each visit's team is drawn (`team.Staffer`): the first inspectors in HMAC
   order whose timelines still fit. A department needs its task's team alone and
   `policy.joint_team_per_department` in a joint visit (an inspector certified for several
   departments, `also_for`, counts for each); the team arrives together and each member
   leaves when the departments it serves are done (interchange v2, rule 5). First each
   district alone (its own inspectors, in `workers` processes), then, in draw order, the
   visits a district could not staff: first on a nearby day its own inspectors can
   (`LOCAL_REPAIR_DAYS`), then with the whole draw (bordering districts first).
4. **repair** — a visit that cannot be staffed moves to another day of its range; failing
   that, its departments are tried apart; what still fails is left out with its reason.
   With `visit_slack_percent` > 0, `spend_slack` may first split a department off a joint
   visit onto a day it works in the district anyway (measured in benchmarks/README.md).
5. **route** — crews that spend a day together get their tour re-ordered.

Same instance and seed → the same schedule, whatever `workers`: every step is
deterministic (CP-SAT runs with a fixed seed, one worker and a deterministic work limit on
each small piece) and the parallel steps work on pieces that share nothing, their answers
applied in a fixed order.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from checkonce.scheduler.bounds import lb_visits, min_stabbing, workday_range
from checkonce.scheduler.model import Instance, Policy, Schedule, Task, Unscheduled, Visit
from checkonce.scheduler.pieces import EnterprisePlan
from checkonce.scheduler.routing import schedule_travel_km
from checkonce.scheduler.team import Staffer

Progress = Callable[[str, float], None]

# Cost units of the calendar flow: each day costs its index (earlier first, the same order
# for every visit of a branch); a day that is not the district's joint-inspection day
# costs NON_ANCHOR more; leaving a visit to the repair stage costs UNPLACED; a visit holding a
# triggered task pays per day of delay, so it goes as early as its merged window allows
# and never past the task's due day (the window's end).
ANCHOR_PERIOD = 5
# Share of a branch's inspector-minutes (over the estimated minutes per visit, joint
# visits counted) the calendar may plan a day. Days are filled in order, and the draw is
# random, so only a full day packs several visits into one inspector's day; what the
# district's own inspectors cannot staff on its day is then moved by the draw to a nearby
# day they can (LOCAL_REPAIR_DAYS) rather than sent to other districts. Measured with
# interchange version 2 (one officer per department in a joint visit), seed 1: L 1.3 →
# 84.2k inspector-days, 1.349M km, 1.0 % cross-district; 3.0 → 81.9k, 1.341M, 1.2 %.
# Demo 1.3 → 4,766 inspector-days; 3.0 → 4,420. M 1.3 → 19.3k; 3.0 → 18.6k.
CAPACITY_SHARE = 3.0
NON_ANCHOR = 10
UNPLACED = 100_000
TRIGGERED_DELAY = 50
MAX_CANDIDATES = 8
# Later anchor days, evenly spaced, offered besides the first MAX_CANDIDATES.
LATE_CANDIDATES = 4
# Calendar passes, and the cost of sending another department out for one joint visit
# (in days of delay: 100 moves a joint visit up to 20 anchor days to a day the other
# department works in the district anyway). Measured on M: 30 → 25.5k inspector-days,
# 100 → 25.2k; a third pass changes nothing.
CALENDAR_PASSES = 2
JOINT_PENALTY = 100
# Days offered to a joint visit besides its own candidates: the first ones of its range
# on which its other departments work in the district anyway.
JOINT_CANDIDATES = 4
# Days tried, nearest first, for a visit that cannot be staffed on its day.
REPAIR_DAYS = 60
# Days tried first, nearest first, for a visit its district's own inspectors could not staff
# on its day: another day they can beats sending inspectors from other districts.
LOCAL_REPAIR_DAYS = 10
# Below this many enterprise pieces, or placed visits for the draw, a process pool costs
# more than it saves.
PARALLEL_PIECES = 64
PARALLEL_DRAW = 20_000
# Minutes kept free in a visit's opening window for getting there: merging stops before
# a department's share of a visit would fill the whole window.
TRAVEL_MARGIN = 40


@dataclass(slots=True)
class Group:
    """A planned visit before staffing: one enterprise, its tasks and its feasible days.

    What the calendar and the draw ask of a group again and again (routine or triggered,
    each department's share of minutes, the lead) is computed once here: at a million
    tasks, recomputing it per question was a good part of the solve.
    """

    enterprise: str
    tasks: list[Task]
    lo: int
    hi: int
    day: int | None = None
    fixed: bool = False
    vid: str = ""
    candidates: list[int] = field(default_factory=list)
    routine: bool = field(init=False)
    triggered: bool = field(init=False)
    routine_per_department: dict[str, int] = field(init=False)
    share: dict[str, int] = field(init=False)
    _lead: str = field(init=False)
    _needs: dict[str, int] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        share: dict[str, int] = {}
        routine: dict[str, int] = {}
        triggered = False
        for task in self.tasks:
            share[task.department] = share.get(task.department, 0) + task.minutes
            if task.kind == "triggered":
                triggered = True
            else:
                routine[task.department] = routine.get(task.department, 0) + 1
        self.share = share
        self.routine_per_department = routine
        self.routine = bool(routine)
        self.triggered = triggered
        self._lead = min(share, key=lambda d: (-share[d], d))

    def needs(self, policy: Policy) -> dict[str, int]:
        """Inspectors required per department (rule 3): the largest team of its tasks, or
        in a joint visit the policy's `joint_team_per_department` when that is smaller;
        the lead department makes up the visit's `min_team`."""
        if self._needs is None:
            joint = len(self.share) > 1
            need: dict[str, int] = {}
            for task in self.tasks:
                need[task.department] = max(
                    need.get(task.department, 0), policy.need(task.team, joint)
                )
            short = policy.min_team - sum(need.values())
            if short > 0:
                need[self._lead] += short
            self._needs = need
        return self._needs

    def duration(self) -> int:
        """Departments work side by side; the visit lasts as long as the longest share."""
        return max(self.share.values())

    def lead(self) -> str:
        """Lead department: the largest share of minutes, ties by id."""
        return self._lead


def peak_mb(*, children: bool = False) -> int:
    """Peak resident memory in MiB of this process (or of its largest finished child)."""
    import resource
    import sys

    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    # Linux reports KiB, macOS bytes.
    return round(usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024))


# The solver whose first draw phase forked workers run (set only while they run).
_DRAWING: Solver | None = None


def _draw_district(job: tuple[str, list[int]]) -> tuple[str, list[tuple[int, int, tuple]]]:
    """Process-pool entry point for the first draw phase of one district."""
    district, indices = job
    assert _DRAWING is not None
    return district, _DRAWING.draw_local(indices)


# (solver, branches, capacity, previous, busy) while forked workers solve branch flows.
_CALENDAR: tuple | None = None


def _branch_flow_job(branch: tuple[str, str]) -> dict[int, int]:
    """Process-pool entry point for one branch's calendar flow."""
    assert _CALENDAR is not None
    solver, branches, capacity, previous, busy = _CALENDAR
    return solver._branch_flow(branch, branches[branch], capacity, previous, busy)


def _solve_piece(job: tuple) -> EnterprisePlan:
    """Process-pool entry point for one enterprise piece."""
    from checkonce.scheduler.pieces import solve_enterprise

    enterprise, items, options = job
    return solve_enterprise(enterprise, items, **options)


class _Calendar:
    """Workday indices with their ISO week and month, and each enterprise's booked days."""

    def __init__(self, workdays: tuple[str, ...]) -> None:
        self.days = workdays
        self.week: list[int] = []
        self.month: list[int] = []
        for day in workdays:
            d = date.fromisoformat(day)
            iso = d.isocalendar()
            self.week.append(iso[0] * 100 + iso[1])
            self.month.append(d.year * 100 + d.month)


@dataclass
class _Booking:
    """One enterprise's booked days and counts for its caps."""

    days: set[int] = field(default_factory=set)
    weeks: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    months: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    routine: int = 0
    departments: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Solver:
    """One solve of one instance; `solve()` below is the public entry point."""

    def __init__(
        self,
        instance: Instance,
        *,
        seed: str,
        time_limit: float,
        workers: int,
        progress: Progress | None,
        visit_slack_percent: float = 0.0,
    ) -> None:
        self.inst = instance
        self.visit_slack_percent = visit_slack_percent
        self.seed = seed
        self.time_limit = time_limit
        # Wall-clock guard of each exact piece; their deterministic work limit normally
        # ends them first, so results do not depend on the machine's speed.
        self.piece_limit = max(0.1, min(10.0, time_limit / 10))
        self.workers = workers
        self.progress = progress or (lambda stage, fraction: None)
        self.cal = _Calendar(instance.workdays)
        self.policy = instance.policy
        self.ents = {e.id: e for e in instance.enterprises}
        self.unscheduled: list[Unscheduled] = []
        self.exact_pieces = 0
        self.routed_days = 0
        self._anchors: dict[str, int] = {}
        self._busy_days: dict[tuple[str, str], list[int]] = {}
        # What each stage did, for the report of where the time goes.
        self.counts: dict[str, int] = defaultdict(int)
        self.substages: dict[str, float] = {}
        self.groups: list[Group] = []
        self.booking: dict[str, _Booking] = defaultdict(_Booking)

    # ---------------------------------------------------------------- helpers

    def leave_out(self, task: Task, reason: str, code: str) -> None:
        self.unscheduled.append(Unscheduled(task=task.id, reason=reason, code=code))

    def opening_minutes(self, enterprise: str) -> int:
        ent = self.ents[enterprise]
        return min(self.inst.day_end, ent.open[1]) - max(self.inst.day_start, ent.open[0])

    def can_book(self, group: Group, day: int) -> bool:
        """Would a visit of `group` on `day` keep one visit a day and every cap?"""
        b = self.booking[group.enterprise]
        if day in b.days:
            return False
        if not group.routine:
            return True  # triggered alone: no cap counts it or holds it back (rule 7)
        if b.weeks[self.cal.week[day]] >= self.policy.max_visits_per_enterprise_week:
            return False
        if b.months[self.cal.month[day]] >= self.policy.max_visits_per_enterprise_month:
            return False
        if group.routine:
            ent = self.ents[group.enterprise]
            if ent.visits_this_year + b.routine >= self.policy.max_visits_per_enterprise_year:
                return False
            for department, count in group.routine_per_department.items():
                before = ent.routine_this_year.get(department, 0) + b.departments[department]
                if before + count > self.policy.max_routine_per_department_year:
                    return False
        return True

    def book(self, group: Group, day: int) -> None:
        b = self.booking[group.enterprise]
        b.days.add(day)
        if group.routine:
            b.weeks[self.cal.week[day]] += 1
            b.months[self.cal.month[day]] += 1
        b.routine += group.routine
        for department, count in group.routine_per_department.items():
            b.departments[department] += count
        group.day = day

    def unbook(self, group: Group) -> None:
        assert group.day is not None
        b = self.booking[group.enterprise]
        b.days.discard(group.day)
        if group.routine:
            b.weeks[self.cal.week[group.day]] -= 1
            b.months[self.cal.month[group.day]] -= 1
        b.routine -= group.routine
        for department, count in group.routine_per_department.items():
            b.departments[department] -= count
        group.day = None

    # ---------------------------------------------------------------- 1. merge

    def merge(self) -> None:
        """Stabbing groups per enterprise, or an exact CP-SAT piece where a cap binds."""
        started = time.perf_counter()
        binding: list[tuple[str, list[tuple[Task, int, int]]]] = []
        per_enterprise = self.admissible()
        for k, (enterprise, items) in enumerate(per_enterprise.items()):
            if k % 20_000 == 0 and k:
                self.progress("merge", 0.5 * k / len(per_enterprise))
            groups = self._stab(enterprise, items)
            if self._caps_bind(enterprise, items, groups):
                proven = self._drop_over_cap(enterprise, items)
                if proven is None:
                    proven = self._one_routine_visit(enterprise, items)
                if proven is None:
                    binding.append((enterprise, items))
                else:
                    self.counts["merge_proven_without_cp_sat"] += 1
                    self.groups.extend(proven)
            else:
                self.groups.extend(groups)
        self.substages["merge.stab"] = time.perf_counter() - started
        started = time.perf_counter()
        self._exact_enterprises(binding)
        self.substages["merge.pieces"] = time.perf_counter() - started

    def _drop_over_cap(
        self, enterprise: str, items: list[tuple[Task, int, int]]
    ) -> list[Group] | None:
        """Where only a per-department cap binds, drop that department's surplus tasks
        that would need visits of their own; the groups if provably optimal, else None.

        Every plan keeping the most tasks keeps all the tasks of departments under their
        cap, so the stabbing number of those tasks is a lower bound on its visits. When the
        kept tasks meet that bound and the yearly cap holds, no exact model can do better
        (most binding enterprises at a province's scale: the CP-SAT pieces took minutes).
        """
        ent = self.ents[enterprise]
        cap = self.policy.max_routine_per_department_year
        routine: dict[str, list[tuple[Task, int, int]]] = defaultdict(list)
        for item in items:
            if item[0].routine:
                routine[item[0].department].append(item)
        over = {
            d: max(0, cap - ent.routine_this_year.get(d, 0))
            for d, members in routine.items()
            if ent.routine_this_year.get(d, 0) + len(members) > cap
        }
        mandatory = [it for it in items if not (it[0].routine and it[0].department in over)]
        bound = len(min_stabbing((lo, hi) for _t, lo, hi in mandatory))
        points = min_stabbing((lo, hi) for _t, lo, hi in mandatory)
        kept = list(mandatory)
        dropped: list[Task] = []
        for department in sorted(over):
            # Tasks whose window holds a day the mandatory visits need anyway come first.
            ranked = sorted(
                routine[department],
                key=lambda it: (
                    not any(it[1] <= p <= it[2] for p in points),
                    it[2],
                    it[1],
                    it[0].id,
                ),
            )
            kept.extend(ranked[: over[department]])
            dropped.extend(it[0] for it in ranked[over[department] :])
        groups = self._stab(enterprise, kept)
        routine_groups = sum(1 for g in groups if g.routine)
        if (
            len(groups) > bound
            or ent.visits_this_year + routine_groups > self.policy.max_visits_per_enterprise_year
        ):
            return None
        for task in sorted(dropped, key=lambda t: t.id):
            self.leave_out(
                task,
                f"企业本年 {task.department} 常规检查已达部门年度上限 {cap} 次",
                "department_cap",
            )
        return groups

    def _one_routine_visit(
        self, enterprise: str, items: list[tuple[Task, int, int]]
    ) -> list[Group] | None:
        """Where the yearly cap leaves at most one routine visit, the plan keeping the
        most tasks, then the fewest visits; None when it cannot be proven optimal.

        All kept routine tasks then share one day t: each department keeps its shortest
        tasks whose window holds t, up to its cap and the visit's minutes; every triggered
        task is kept, riding along when its window holds t. Trying every window start and
        end as t is exact, so most such enterprises need no CP-SAT piece.
        """
        ent = self.ents[enterprise]
        policy = self.policy
        allowed = max(0, policy.max_visits_per_enterprise_year - ent.visits_this_year)
        routine = [it for it in items if it[0].routine]
        triggered = [it for it in items if not it[0].routine]
        if allowed > 1 or any(not it[0].mergeable for it in items):
            return None
        limit = self.opening_minutes(enterprise) - TRAVEL_MARGIN
        left = {
            d: max(0, policy.max_routine_per_department_year - ent.routine_this_year.get(d, 0))
            for d in {it[0].department for it in routine}
        }

        def keep_on(t: int) -> list[tuple[Task, int, int]]:
            kept: list[tuple[Task, int, int]] = []
            per: dict[str, list[tuple[Task, int, int]]] = defaultdict(list)
            for it in routine:
                if it[1] <= t <= it[2]:
                    per[it[0].department].append(it)
            for department in sorted(per):
                minutes = 0
                ranked = sorted(per[department], key=lambda it: (it[0].minutes, it[0].id))
                for it in ranked[: left[department]]:
                    if minutes + it[0].minutes <= limit:
                        minutes += it[0].minutes
                        kept.append(it)
            return kept

        best: tuple[int, int, int] | None = None
        if allowed == 1 and routine:
            for t in sorted({it[1] for it in routine} | {it[2] for it in routine}):
                kept = keep_on(t)
                if not kept:
                    continue
                alone = [(lo, hi) for _task, lo, hi in triggered if not lo <= t <= hi]
                visits = 1 + len(min_stabbing(alone))
                key = (-len(kept), visits, t)
                if best is None or key < best:
                    best = key
        kept = keep_on(best[2]) if best is not None else []
        bound = best[1] if best is not None else len(min_stabbing(i[1:] for i in triggered))
        groups = self._stab(enterprise, kept + triggered)
        if len(groups) != bound or sum(1 for g in groups if g.routine) > allowed:
            return None
        kept_ids = {it[0].id for it in kept}
        kept_per: dict[str, int] = defaultdict(int)
        for it in kept:
            kept_per[it[0].department] += 1
        for task, _lo, _hi in sorted(routine, key=lambda it: it[0].id):
            if task.id in kept_ids:
                continue
            if kept_per[task.department] >= left[task.department]:
                reason = (
                    f"企业本年 {task.department} 常规检查已达部门年度上限 "
                    f"{policy.max_routine_per_department_year} 次"
                )
                self.leave_out(task, reason, "department_cap")
            else:
                reason = f"企业本年入企次数已达年度上限 {policy.max_visits_per_enterprise_year} 次"
                self.leave_out(task, reason, "yearly_cap")
        return groups

    def _exact_enterprises(self, pieces: list[tuple[str, list[tuple[Task, int, int]]]]) -> None:
        """Solve the enterprise pieces, in `workers` processes when there are many.

        Each piece is deterministic on its own, so the order of completion does not matter:
        results are applied in the order of `pieces`.
        """
        if self.workers <= 1 or len(pieces) < PARALLEL_PIECES:
            for enterprise, items in pieces:
                self._exact_enterprise(enterprise, items)
            return
        import multiprocessing

        jobs = [
            (
                self.ents[enterprise],
                items,
                {
                    "policy": self.policy,
                    "week": self.cal.week,
                    "month": self.cal.month,
                    "max_minutes": self.opening_minutes(enterprise) - TRAVEL_MARGIN,
                    "seed": self.seed,
                    "time_limit": self.piece_limit,
                },
            )
            for enterprise, items in pieces
        ]
        results: list[EnterprisePlan] = []
        with multiprocessing.get_context("fork").Pool(self.workers) as pool:
            chunk = max(1, min(50, len(jobs) // (8 * self.workers)))
            for result in pool.imap(_solve_piece, jobs, chunksize=chunk):
                results.append(result)
                if len(results) % 200 == 0:
                    self.progress("merge", 0.5 + 0.5 * len(results) / len(jobs))
        for (enterprise, _items), result in zip(pieces, results, strict=True):
            self._apply_piece(enterprise, result)

    def admissible(self) -> dict[str, list[tuple[Task, int, int]]]:
        """Tasks per enterprise with their workday span; the hopeless ones are left out."""
        inspectors_of: dict[str, int] = defaultdict(int)
        for person in self.inst.inspectors:
            for department in (person.department, *person.also_for):
                inspectors_of[department] += 1
        per_enterprise: dict[str, list[tuple[Task, int, int]]] = defaultdict(list)
        for task in self.inst.tasks:
            span = workday_range(self.inst.workdays, task.window)
            if span is None:
                self.leave_out(task, "时间窗内没有工作日", "no_workday")
            elif task.minutes > self.opening_minutes(task.enterprise):
                self.leave_out(task, "任务时长超过企业营业时间与工作时间的交集", "too_long")
            elif inspectors_of[task.department] < max(task.team, 1):
                self.leave_out(
                    task, f"{task.department} 执法人员不足 {task.team} 人", "team_too_large"
                )
            else:
                per_enterprise[task.enterprise].append((task, span[0], span[1]))
        return per_enterprise

    def _caps_bind(
        self, enterprise: str, items: list[tuple[Task, int, int]], groups: list[Group]
    ) -> bool:
        """Would the stabbing groups break a yearly cap, or can overlapping ranges collide?"""
        ent = self.ents[enterprise]
        per_department: dict[str, int] = defaultdict(int)
        for task, _lo, _hi in items:
            if task.routine:
                per_department[task.department] += 1
        for department, count in per_department.items():
            if ent.routine_this_year.get(department, 0) + count > (
                self.policy.max_routine_per_department_year
            ):
                return True
        routine_groups = sum(1 for g in groups if g.routine)
        return ent.visits_this_year + routine_groups > self.policy.max_visits_per_enterprise_year

    def _stab(self, enterprise: str, items: list[tuple[Task, int, int]]) -> list[Group]:
        limit = self.opening_minutes(enterprise) - TRAVEL_MARGIN
        groups: list[Group] = []
        remaining = sorted(items, key=lambda it: (it[2], it[1], it[0].id))
        while remaining:
            first, lo, point = remaining[0]
            members = [first]
            minutes: dict[str, int] = defaultdict(int)
            minutes[first.department] += first.minutes
            rest = []
            for item in remaining[1:]:
                task, t_lo, _t_hi = item
                fits = minutes[task.department] + task.minutes <= limit
                if t_lo <= point and first.mergeable and task.mergeable and fits:
                    members.append(task)
                    minutes[task.department] += task.minutes
                    lo = max(lo, t_lo)
                else:
                    rest.append(item)
            groups.append(Group(enterprise=enterprise, tasks=members, lo=lo, hi=point))
            remaining = rest
        return groups

    def _exact_enterprise(self, enterprise: str, items: list[tuple[Task, int, int]]) -> None:
        from checkonce.scheduler.pieces import solve_enterprise

        result = solve_enterprise(
            self.ents[enterprise],
            items,
            policy=self.policy,
            week=self.cal.week,
            month=self.cal.month,
            max_minutes=self.opening_minutes(enterprise) - TRAVEL_MARGIN,
            seed=self.seed,
            time_limit=self.piece_limit,
        )
        self._apply_piece(enterprise, result)

    def _apply_piece(self, enterprise: str, result: EnterprisePlan) -> None:
        self.exact_pieces += 1
        for day, tasks in result.visits:
            group = Group(enterprise=enterprise, tasks=tasks, lo=day, hi=day, fixed=True)
            self.groups.append(group)
        for task, reason, code in result.left_out:
            self.leave_out(task, reason, code)

    # ---------------------------------------------------------------- 2. calendar

    def _anchor(self, district: str) -> int:
        # The district's joint-inspection weekday; a stable function of its code.
        found = self._anchors.get(district)
        if found is None:
            found = self._anchors[district] = sum(ord(c) for c in district) % ANCHOR_PERIOD
        return found

    def _candidates(self, g: Group) -> list[int]:
        """Days the flow may give a visit: the earliest anchor days of its range first.

        Every visit of a district sees the same anchor days in the same order, so the flow
        fills a branch's days one after the other instead of thinning its work over all
        of them (see `_cost`). A few later anchors, evenly spaced, keep a way out when the
        first ones are full.
        """
        if g.fixed:
            return [g.lo]
        if g.triggered or g.hi - g.lo + 1 <= MAX_CANDIDATES:
            return list(range(g.lo, g.hi + 1))
        anchor = self._anchor(self.ents[g.enterprise].district)
        first = g.lo + (anchor - g.lo) % ANCHOR_PERIOD
        anchors = list(range(first, g.hi + 1, ANCHOR_PERIOD))
        if not anchors:
            return list(range(g.lo, g.hi + 1))[:MAX_CANDIDATES]
        if len(anchors) <= MAX_CANDIDATES + LATE_CANDIDATES:
            return anchors
        rest = anchors[MAX_CANDIDATES:]
        step = len(rest) / LATE_CANDIDATES
        late = sorted({rest[int((k + 1) * step) - 1] for k in range(LATE_CANDIDATES)})
        return anchors[:MAX_CANDIDATES] + late

    def _bucket(self, g: Group) -> tuple[str, str]:
        """Capacity bucket of a visit: its lead department in its district (属地)."""
        return (g.lead(), self.ents[g.enterprise].district)

    def _capacity(self) -> dict[tuple[str, str, int], int]:
        """Visits a lead department's district branch can take a day.

        Local inspector-minutes of that department that day (certified, available) over
        the inspector-minutes one visit it leads costs it, counting also its part in the
        joint visits other departments lead (its share, a margin for travel, its team),
        times CAPACITY_SHARE: the draw is random, so a day planned full would send the
        last visits to remote inspectors.
        """
        import numpy as np

        n_days = len(self.cal.days)
        minutes: dict[tuple[str, str], np.ndarray] = {}
        days = self.cal.days
        for person in self.inst.inspectors:
            district = self.staffer.home_district.get(person.id) or ""
            key = (person.department, district)
            row = minutes.setdefault(key, np.zeros(n_days, dtype=np.int64))
            lo = bisect.bisect_left(days, person.certificate_valid[0])
            hi = bisect.bisect_right(days, person.certificate_valid[1])
            row[lo:hi] += person.minutes_per_day
            for day in person.unavailable:
                k = bisect.bisect_left(days, day)
                if lo <= k < hi and days[k] == day:
                    row[k] -= person.minutes_per_day
        use: dict[str, int] = defaultdict(int)
        led: dict[str, int] = defaultdict(int)
        for g in self.groups:
            led[g.lead()] += 1
            for department, need in g.needs(self.policy).items():
                use[department] += (g.share.get(department, 0) + 2 * TRAVEL_MARGIN) * need
        out: dict[tuple[str, str, int], int] = {}
        for (department, district), row in minutes.items():
            if led.get(department):
                scaled = (CAPACITY_SHARE * led[department] / use[department]) * row
                for t, value in enumerate(scaled.astype(np.int64).tolist()):
                    out[(department, district, t)] = value
        return out

    def calendar(self) -> None:
        """Min-cost flow from visits to days per branch (OR-Tools), then cap repair.

        Visits only compete for capacity with visits of the same lead department and
        district, so the flow falls apart into one small flow per branch.
        """
        capacity = self._capacity()
        for g in self.groups:
            if g.fixed:
                key = (*self._bucket(g), g.lo)
                capacity[key] = capacity.get(key, 0) - 1
        branches: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, g in enumerate(self.groups):
            branches[self._bucket(g)].append(index)
        chosen: dict[int, int] = {}
        flows_started = time.perf_counter()
        for calendar_pass in range(CALENDAR_PASSES):
            previous, chosen = chosen, {}
            busy = self._busy(previous)
            for k, found in enumerate(self._branch_flows(branches, capacity, previous, busy)):
                chosen.update(found)
                if k % 50 == 0:
                    done = (calendar_pass + k / len(branches)) / CALENDAR_PASSES
                    self.progress("calendar", 0.5 * done)
        self.progress("calendar", 0.5)
        self.substages["calendar.flows"] = time.perf_counter() - flows_started
        booking_started = time.perf_counter()
        self.counts["calendar_unplaced"] = len(self.groups) - len(chosen)
        # Book in a fixed order; a visit whose day breaks a cap or is taken moves locally.
        n = len(self.groups)
        order = sorted(range(n), key=lambda i: (self.groups[i].enterprise, self.groups[i].hi))
        homeless: list[Group] = []
        for index in order:
            g = self.groups[index]
            day = chosen.get(index)
            if day is not None and self.can_book(g, day):
                self.book(g, day)
                continue
            self.counts["calendar_moved"] += 1
            home = g.hi if day is None else day
            alternatives = sorted(range(g.lo, g.hi + 1), key=lambda t: (abs(t - home), t))
            for t in alternatives:
                if self.can_book(g, t):
                    self.book(g, t)
                    break
            else:
                homeless.append(g)
        self.counts["calendar_homeless"] = len(homeless)
        self.substages["calendar.book"] = time.perf_counter() - booking_started
        if homeless:
            rebuild_started = time.perf_counter()
            self._rebuild_enterprises(homeless)
            self.substages["calendar.rebuild"] = time.perf_counter() - rebuild_started

    def spend_slack(self) -> None:
        """Trade a few enterprise entries for inspector time (policy `visit_slack_percent`).

        A department whose only work in the district on a joint visit's day is that visit
        sends an officer out for it alone. Where its tasks there could instead go on a day
        it works in the district anyway, they get a visit of their own that day: one more
        entry, one inspector-day fewer. Only visits of three departments or more are split
        (what stays is still joint), most-worked days first, up to the slack: percent of
        the proven minimum LB_visits.
        """
        budget = int(self.visit_slack_percent / 100 * lb_visits(self.inst))
        if budget <= 0:
            return
        busy: dict[tuple[str, str, int], int] = defaultdict(int)
        days_of: dict[tuple[str, str], list[int]] = defaultdict(list)
        for g in self.groups:
            if g.day is not None:
                district = self.ents[g.enterprise].district
                for department in g.share:
                    busy[(department, district, g.day)] += 1
        for (department, district, day), _n in busy.items():
            days_of[(department, district)].append(day)
        for found in days_of.values():
            found.sort()
        offers: list[tuple[int, int, int, str]] = []
        for index, g in enumerate(self.groups):
            if g.day is None or g.fixed or len(g.share) < 3:
                continue
            if any(not t.mergeable for t in g.tasks):
                continue
            district = self.ents[g.enterprise].district
            for department in sorted(g.share):
                if busy[(department, district, g.day)] != 1:
                    continue
                spans = [
                    workday_range(self.inst.workdays, t.window)
                    for t in g.tasks
                    if t.department == department
                ]
                lo = max(span[0] for span in spans if span)
                hi = min(span[1] for span in spans if span)
                work = days_of[(department, district)]
                best = None
                for t in work[bisect.bisect_left(work, lo) : bisect.bisect_right(work, hi)]:
                    if t != g.day and (best is None or busy[(department, district, t)] > best[0]):
                        best = (busy[(department, district, t)], t)
                if best is not None:
                    offers.append((-best[0], index, best[1], department))
        offers.sort()
        split: set[int] = set()
        for _score, index, day, department in offers:
            if budget <= 0:
                break
            g = self.groups[index]
            if index in split or g.day is None:
                continue
            home = g.day
            part = Group(
                enterprise=g.enterprise,
                tasks=[t for t in g.tasks if t.department == department],
                lo=day,
                hi=day,
            )
            rest = Group(
                enterprise=g.enterprise,
                tasks=[t for t in g.tasks if t.department != department],
                lo=g.lo,
                hi=g.hi,
            )
            self.unbook(g)
            if self.can_book(rest, home):
                self.book(rest, home)
                if self.can_book(part, day):
                    self.book(part, day)
                    self.groups[index] = rest
                    self.groups.append(part)
                    split.add(index)
                    budget -= 1
                    self.counts["slack_splits"] += 1
                    continue
                self.unbook(rest)
            self.book(g, home)

    def _branch_flows(
        self,
        branches: dict[tuple[str, str], list[int]],
        capacity: dict[tuple[str, str, int], int],
        previous: dict[int, int],
        busy: dict[tuple[str, str, int], int],
    ) -> Iterator[dict[int, int]]:
        """Each branch's flow (independent of the others), in `workers` processes when
        there are many visits; yields the answers in branch order."""
        order = sorted(branches)
        if self.workers <= 1 or len(self.groups) < PARALLEL_DRAW:
            for branch in order:
                yield self._branch_flow(branch, branches[branch], capacity, previous, busy)
            return
        import multiprocessing

        global _CALENDAR
        _CALENDAR = (self, branches, capacity, previous, busy)
        try:
            with multiprocessing.get_context("fork").Pool(self.workers) as pool:
                yield from pool.imap(_branch_flow_job, order, chunksize=4)
        finally:
            _CALENDAR = None

    def _joint_days(
        self,
        g: Group,
        candidates: list[int],
        others: list[str],
        district: str,
        busy: dict[tuple[str, str, int], int],
        was: int | None,
    ) -> list[int]:
        """A joint visit's candidates plus the first days of its range on which every
        other department of it works in the district anyway (after the first pass)."""
        days_of = self._busy_days.get((others[0], district), [])
        offered = set(candidates)
        extra: list[int] = []
        for t in days_of[bisect.bisect_left(days_of, g.lo) :]:
            if t > g.hi or len(extra) >= JOINT_CANDIDATES:
                break
            if t not in offered and all(
                busy.get((d, district, t), 0) - (was == t) > 0 for d in others
            ):
                extra.append(t)
        return sorted(candidates + extra) if extra else candidates

    def _busy(self, chosen: dict[int, int]) -> dict[tuple[str, str, int], int]:
        """Visits each department takes part in, per district and day, in a calendar."""
        busy: dict[tuple[str, str, int], int] = defaultdict(int)
        for index, day in chosen.items():
            g = self.groups[index]
            district = self.ents[g.enterprise].district
            for department in g.share:
                busy[(department, district, day)] += 1
        days: dict[tuple[str, str], list[int]] = defaultdict(list)
        for department, district, day in busy:
            days[(department, district)].append(day)
        self._busy_days = {key: sorted(found) for key, found in days.items()}
        return busy

    def _branch_flow(
        self,
        branch: tuple[str, str],
        members: list[int],
        capacity: dict[tuple[str, str, int], int],
        previous: dict[int, int],
        busy: dict[tuple[str, str, int], int],
    ) -> dict[int, int]:
        """Min-cost flow of one branch's visits to its days; returns group index → day.

        After the first pass, a joint visit pays JOINT_PENALTY for each other department
        that the previous pass did not send out in the district that day: its inspectors
        would spend a day on this visit alone.
        """
        district = branch[1]
        import numpy as np
        from ortools.graph.python import min_cost_flow

        n = len(members)
        sink = n
        day_node: dict[int, int] = {}
        tails: list[int] = []
        heads: list[int] = []
        costs: list[int] = []
        groups = self.groups
        for local, index in enumerate(members):
            g = groups[index]
            candidates = self._candidates(g)
            others = [d for d in g.share if d != branch[0]] if busy else []
            was = previous.get(index)
            if others and not g.fixed:
                candidates = self._joint_days(g, candidates, others, district, busy, was)
            # Earlier days cost less, the same for every visit of a branch: the flow fills
            # a branch's days to capacity in date order, so the drawn inspectors go out
            # on fewer days with fuller timelines (fewest inspector-days under a random
            # draw). Inlined: this loop runs for every arc of the flow.
            anchor = self._anchor(district)
            delay = TRIGGERED_DELAY if g.triggered else 0
            for day in candidates:
                node = day_node.get(day)
                if node is None:
                    node = day_node[day] = n + 1 + len(day_node)
                heads.append(node)
                cost = day + delay * (day - g.lo)
                if (day - anchor) % ANCHOR_PERIOD:
                    cost += NON_ANCHOR
                for department in others:
                    if busy.get((department, district, day), 0) - (was == day) <= 0:
                        cost += JOINT_PENALTY
                costs.append(cost)
            tails.extend([local] * (len(candidates) + 1))
            heads.append(sink)
            costs.append(UNPLACED)
        n_visit_arcs = len(tails)
        caps = [1] * n_visit_arcs
        for day, node in day_node.items():
            tails.append(node)
            heads.append(sink)
            caps.append(max(0, capacity.get((*branch, day), 0)))
            costs.append(0)
        flow = min_cost_flow.SimpleMinCostFlow()
        tail_array = np.array(tails, dtype=np.int32)
        head_array = np.array(heads, dtype=np.int32)
        arcs = flow.add_arcs_with_capacity_and_unit_cost(
            tail_array, head_array, np.array(caps, dtype=np.int64), np.array(costs, dtype=np.int64)
        )
        supplies = np.zeros(n + 1 + len(day_node), dtype=np.int64)
        supplies[:n] = 1
        supplies[sink] = -n
        flow.set_nodes_supplies(np.arange(len(supplies)), supplies)
        status = flow.solve()
        if status != flow.OPTIMAL:
            raise RuntimeError(f"calendar flow of {branch} failed with status {status}")
        node_day = np.zeros(len(supplies), dtype=np.int64)
        for day, node in day_node.items():
            node_day[node] = day
        flows = flow.flows(arcs)[:n_visit_arcs]
        used = (flows > 0) & (head_array[:n_visit_arcs] != sink)
        locals_ = tail_array[:n_visit_arcs][used].tolist()
        days = node_day[head_array[:n_visit_arcs][used]].tolist()
        return {members[j]: day for j, day in zip(locals_, days, strict=True)}

    def _rebuild_enterprises(self, homeless: list[Group]) -> None:
        """Enterprises whose visits do not all fit the caps: re-plan each exactly."""
        enterprises = sorted({g.enterprise for g in homeless})
        affected = set(enterprises)
        by_enterprise: dict[str, list[Group]] = defaultdict(list)
        for g in self.groups:
            if g.enterprise in affected:
                by_enterprise[g.enterprise].append(g)
        self.groups = [g for g in self.groups if g.enterprise not in affected]
        for enterprise in enterprises:
            mine = by_enterprise[enterprise]
            for g in mine:
                if g.day is not None:
                    self.unbook(g)
            items = []
            for g in mine:
                for task in g.tasks:
                    span = workday_range(self.inst.workdays, task.window)
                    assert span is not None
                    items.append((task, span[0], span[1]))
            before = len(self.groups)
            self._exact_enterprise(enterprise, items)
            for g in self.groups[before:]:
                self.book(g, g.lo)

    # ---------------------------------------------------------------- 3. draw and 4. repair

    def draw(self) -> list[Visit]:
        """Staff every visit by the draw; move or split what cannot be staffed.

        Two phases. First each district on its own: a visit takes the first inspectors in
        draw order among its district's own (属地) who are not on the enterprise's last
        visit. Districts share no inspector, enterprise or cap there, so they are drawn in
        `workers` processes and the answer does not depend on how many. Then, in draw
        order, the visits a district could not staff alone get the whole draw (inspectors
        of other districts, then the last visit's), another day, or a split.
        """
        self._draw_started = time.perf_counter()
        placed = [g for g in self.groups if g.day is not None]
        placed.sort(key=lambda g: (g.day, g.enterprise, g.tasks[0].id))
        for number, g in enumerate(placed, start=1):
            g.vid = f"V{number:06d}"
        self.next_id = len(placed) + 1
        self.placed = placed
        by_district: dict[str, list[int]] = defaultdict(list)
        for k, g in enumerate(placed):
            by_district[self.ents[g.enterprise].district].append(k)
        staffed: dict[str, list[tuple[int, int, tuple[str, ...]]]] = {}
        if self.workers > 1 and len(placed) >= PARALLEL_DRAW and len(by_district) > 1:
            import multiprocessing

            global _DRAWING
            _DRAWING = self
            # Largest districts first, so the last one to finish is a small one.
            jobs = sorted(by_district.items(), key=lambda item: (-len(item[1]), item[0]))
            try:
                with multiprocessing.get_context("fork").Pool(self.workers) as pool:
                    for done, (district, found) in enumerate(
                        pool.imap_unordered(_draw_district, jobs), start=1
                    ):
                        staffed[district] = found
                        self.progress("draw", 0.8 * done / len(jobs))
            finally:
                _DRAWING = None
            self.staffer.add_pending(
                (
                    iid,
                    self.cal.days[placed[k].day],
                    start,
                    start + self.staffer.stay(iid, placed[k].share),
                    self.staffer.places[placed[k].enterprise],
                )
                for found in staffed.values()
                for k, start, team in found
                for iid in team
            )
        else:
            for n, district in enumerate(sorted(by_district)):
                staffed[district] = self.draw_local(by_district[district])
                self.progress("draw", 0.8 * (n + 1) / len(by_district))
        return self._draw_rest(placed, staffed)

    def draw_local(self, indices: list[int]) -> list[tuple[int, int, tuple[str, ...]]]:
        """First phase for one district: (placed index, start, team) of the visits staffed."""
        out: list[tuple[int, int, tuple[str, ...]]] = []
        for k in indices:
            g = self.placed[k]
            assert g.day is not None
            result = self.staffer.staff(
                g.vid,
                g.enterprise,
                self.cal.days[g.day],
                g.needs(self.policy),
                g.share,
                local_only=True,
            )
            if not isinstance(result, str):
                out.append((k, result[0], tuple(result[1])))
        return out

    def _draw_rest(
        self, placed: list[Group], staffed: dict[str, list[tuple[int, int, tuple[str, ...]]]]
    ) -> list[Visit]:
        """Second phase: visits of the first phase as found, the rest with the whole draw."""
        done: dict[int, tuple[int, tuple[str, ...]]] = {}
        for district in sorted(staffed):
            for k, start, team in staffed[district]:
                done[k] = (start, team)
        self.counts["draw_local"] = len(done)
        self.counts["draw_rest"] = len(placed) - len(done)
        self.substages["draw.local"] = time.perf_counter() - self._draw_started
        rest_started = time.perf_counter()
        # Each enterprise's visits by day, for the rotation rule of the second phase.
        history: dict[str, list[tuple[int, tuple[str, ...]]]] = defaultdict(list)
        for k in sorted(done):
            g = placed[k]
            assert g.day is not None
            history[g.enterprise].append((g.day, done[k][1]))
        visits: list[Visit] = []
        day_index = {day: t for t, day in enumerate(self.cal.days)}
        for k, g in enumerate(placed):
            assert g.day is not None
            if k in done:
                start, team = done[k]
                visits.append(self._visit(g, g.day, start, team))
                continue
            if k % 100 == 0:
                self.progress("draw", 0.8 + 0.2 * (k / len(placed)))
            # Rotation: not the team of the enterprise's visit before this one, nor of the
            # one after it (the first phase staffed that one without knowing this one).
            mine = history[g.enterprise]
            before = bisect.bisect_left(mine, (g.day,))
            last = set(mine[before - 1][1] if before else self.ents[g.enterprise].last_inspectors)
            if before < len(mine):
                last.update(mine[before][1])
            self.staffer.last[g.enterprise] = last
            made = self._staff_somewhere(g)
            new = [made] if made is not None else self._split(g)
            for visit in new:
                bisect.insort(mine, (day_index[visit.day], visit.inspectors))
            visits.extend(new)
        self.substages["draw.rest"] = time.perf_counter() - rest_started
        return visits

    def route(self, visits: list[Visit]) -> list[Visit]:
        """Crews that spend a day together get their tour re-ordered by OR-Tools routing."""
        from checkonce.scheduler.routing import resequence_crews

        routed, self.routed_days = resequence_crews(
            visits,
            homes=self.staffer.homes,
            places=self.staffer.places,
            windows={e.id: e.open for e in self.inst.enterprises},
            budgets={i.id: i.minutes_per_day for i in self.inst.inspectors},
            day_start=self.inst.day_start,
            day_end=self.inst.day_end,
            travel=self.staffer.travel,
        )
        return routed

    def _try(self, g: Group, day: int, *, local_only: bool = False) -> Visit | str:
        result = self.staffer.staff(
            g.vid,
            g.enterprise,
            self.cal.days[day],
            g.needs(self.policy),
            g.share,
            local_only=local_only,
        )
        if isinstance(result, str):
            return result
        start, inspectors = result
        return self._visit(g, day, start, tuple(inspectors))

    def _visit(self, g: Group, day: int, start: int, inspectors: tuple[str, ...]) -> Visit:
        return Visit(
            id=g.vid,
            enterprise=g.enterprise,
            day=self.cal.days[day],
            start=start,
            end=start + g.duration(),
            lead=g.lead(),
            tasks=tuple(t.id for t in g.tasks),
            inspectors=inspectors,
        )

    def _staff_somewhere(self, g: Group) -> Visit | None:
        """A visit its district could not staff on its day: first the nearest days of its
        range on which its district's own inspectors (属地) can, then the whole draw on
        its day, then on the nearest other days."""
        assert g.day is not None
        home = g.day
        days = sorted(range(g.lo, g.hi + 1), key=lambda t: (abs(t - home), t))
        if not g.fixed and not g.triggered:
            self.unbook(g)
            for t in days[1 : LOCAL_REPAIR_DAYS + 1]:
                if not self.can_book(g, t):
                    continue
                result = self._try(g, t, local_only=True)
                if isinstance(result, Visit):
                    self.book(g, t)
                    self.counts["draw_moved_local"] += 1
                    return result
            self.book(g, home)
        first = self._try(g, g.day)
        if isinstance(first, Visit):
            return first
        self.last_reason = first
        self.unbook(g)
        for t in days[:REPAIR_DAYS]:
            if t == home or not self.can_book(g, t):
                continue
            result = self._try(g, t)
            if isinstance(result, Visit):
                self.book(g, t)
                return result
            self.last_reason = result
        return None

    def _split(self, g: Group) -> list[Visit]:
        """Last resort: each department's tasks on their own visit, else left out."""
        departments = sorted({t.department for t in g.tasks})
        visits: list[Visit] = []
        if len(departments) > 1:
            for department in departments:
                tasks = [t for t in g.tasks if t.department == department]
                spans = [workday_range(self.inst.workdays, t.window) for t in tasks]
                lo = max(s[0] for s in spans if s)
                hi = min(s[1] for s in spans if s)
                part = Group(enterprise=g.enterprise, tasks=tasks, lo=lo, hi=hi)
                part.vid = f"V{self.next_id:06d}"
                self.next_id += 1
                for t in sorted(range(lo, hi + 1), key=lambda t: (abs(t - (g.lo + g.hi) // 2), t)):
                    if not self.can_book(part, t):
                        continue
                    result = self._try(part, t)
                    if isinstance(result, Visit):
                        self.book(part, t)
                        visits.append(result)
                        break
                    self.last_reason = result
                else:
                    for task in tasks:
                        self.leave_out(
                            task, f"时间窗内无法组队：{self.last_reason}", "no_inspector"
                        )
            return visits
        for task in g.tasks:
            self.leave_out(task, f"时间窗内无法组队：{self.last_reason}", "no_inspector")
        return visits

    # ---------------------------------------------------------------- driver

    def run(self) -> Schedule:
        started = time.perf_counter()
        self.progress("merge", 0.0)
        self.staffer = Staffer(self.inst)
        self.staffer.reseed(self.seed)
        self.last_reason = ""
        stages: dict[str, float] = {}
        peaks: dict[str, int] = {}

        def finish(stage: str, since: float) -> float:
            # Seconds and peak memory of each stage, reported as the solve goes so that
            # a long run shows where its time goes before it ends.
            now = time.perf_counter()
            stages[stage] = now - since
            peaks[stage] = peak_mb()
            self.progress(stage, 1.0)
            return now

        clock = time.perf_counter()
        self.merge()
        clock = finish("merge", clock)
        self.progress("calendar", 0.0)
        self.calendar()
        self.spend_slack()
        clock = finish("calendar", clock)
        self.progress("draw", 0.0)
        visits = self.draw()
        clock = finish("draw", clock)
        self.progress("route", 0.0)
        visits = self.route(visits)
        clock = finish("route", clock)
        self.progress("metrics", 0.0)
        visits.sort(key=lambda v: v.id)
        scheduled = [t for v in visits for t in v.tasks]
        inspector_days = len({(i, v.day) for v in visits for i in v.inspectors})
        metrics = {
            "tasks": len(self.inst.tasks),
            "scheduled": len(scheduled),
            "visits": len(visits),
            "lb_visits": lb_visits(self.inst, scheduled),
            "lb_visits_all": lb_visits(self.inst),
            "inspector_days": inspector_days,
            "travel_km": round(
                schedule_travel_km(
                    visits,
                    homes=self.staffer.homes,
                    places=self.staffer.places,
                    travel=self.staffer.travel,
                ),
                1,
            ),
            "solve_seconds": round(time.perf_counter() - started, 3),
            "stage_seconds": {k: round(v, 3) for k, v in stages.items()},
            "stage_peak_mb": peaks,
            "worker_peak_mb": peak_mb(children=True),
            "exact_pieces": self.exact_pieces,
            "stage_counts": dict(self.counts),
            "routed_crew_days": self.routed_days,
            "seed": self.seed,
        }
        finish("metrics", clock)
        stages.update(self.substages)
        metrics["stage_seconds"] = {k: round(v, 3) for k, v in stages.items()}
        self.progress("done", 1.0)
        unscheduled = sorted(self.unscheduled, key=lambda u: u.task)
        return Schedule(
            instance=self.inst.name,
            visits=tuple(visits),
            unscheduled=tuple(unscheduled),
            metrics=metrics,
        )


def solve(
    instance: Instance,
    *,
    seed: str | None = None,
    time_limit: float = 60.0,
    workers: int = 1,
    progress: Progress | None = None,
    visit_slack_percent: float = 0.0,
) -> Schedule:
    """Plan merged visits for `instance` and draw their teams.

    `seed` keys the inspector draw (defaults to the instance's recorded draw seed); the same
    instance and seed give the same schedule. `time_limit` (seconds) sets the wall-clock
    guard of each exact CP-SAT piece (a tenth of it, at most 10 s); `workers` > 1 spreads
    those pieces, the calendar's branch flows and the first draw phase over processes
    (same answer). `progress(stage, fraction)` is called as stages advance.
    `visit_slack_percent` lets the schedule make up to that percent of LB_visits more
    enterprise entries where each saves an officer's day (`Solver.spend_slack`).
    """
    return Solver(
        instance,
        seed=instance.seed if seed is None else seed,
        time_limit=time_limit,
        workers=workers,
        progress=progress,
        visit_slack_percent=visit_slack_percent,
    ).run()
