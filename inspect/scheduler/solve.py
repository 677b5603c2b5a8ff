"""The "check once" optimizer: merged visits, calendar, team draw and timelines.

Objective, in this order (DESIGN.md "The optimizer"): schedule every task that can be
scheduled (each left out gets a reason), fewest enterprise visits, fewest inspector-days and
travel, even load. One monolithic model does not scale (a measured 100k-visit CP-SAT found
nothing in 120 s while a min-cost flow was exact in seconds), so the solve is decomposed:

1. **merge** — per enterprise, group tasks into visits by the earliest-deadline stabbing
   greedy, which is exactly the `lb_visits` bound when no side constraint binds;
   enterprises where a yearly or per-department cap binds get a small exact CP-SAT model
   of their own (`solve_enterprise`), which chooses which tasks to keep and their days.
2. **calendar** — a min-cost flow (OR-Tools) sends every visit to one day of its feasible
   range, preferring the district's joint-inspection day of the week (so a department's
   work in a district lands on the same days: fewer inspector-days) under a capacity per
   lead department, district branch and day in inspector-minutes (local inspectors: less
   travel); then weekly/monthly caps and one-visit-a-day are repaired per enterprise
   (locally, else with `solve_enterprise`).
3. **draw** — day by day, each visit's team is drawn (`team.Staffer`): the first inspectors
   in HMAC order whose timelines still fit, all sharing the visit's start and end.
4. **repair** — a visit that cannot be staffed moves to another day of its range; failing
   that, its departments are tried apart; what still fails is left out with its reason.

Same instance and seed → the same schedule: every step is deterministic (CP-SAT runs with
a fixed seed, one worker and a deterministic work limit on each small piece; with
`workers` > 1 the pieces are spread over processes, which does not change their answers).
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from checkonce.scheduler.bounds import lb_visits, workday_range
from checkonce.scheduler.model import Instance, Schedule, Task, Unscheduled, Visit
from checkonce.scheduler.pieces import EnterprisePlan
from checkonce.scheduler.routing import schedule_travel_km
from checkonce.scheduler.team import Staffer

Progress = Callable[[str, float], None]

# Cost units of the calendar flow: a day that is not the district's joint-inspection day
# costs NON_ANCHOR; leaving a visit to the repair stage costs UNPLACED; a visit holding a
# triggered task pays per day of delay, so it goes as early as its merged window allows
# and never past the task's due day (the window's end).
ANCHOR_PERIOD = 5
# Share of a branch's inspector-minutes the calendar may plan for visits it leads. Measured
# on M (seed 1): 0.5 spreads work thin (+14 % inspector-days), 2.0 concentrates it so much
# that remote inspectors are drawn (+6 % travel); 1.0 balances the two.
CAPACITY_SHARE = 1.0
NON_ANCHOR = 10
UNPLACED = 100_000
TRIGGERED_DELAY = 50
MAX_CANDIDATES = 8
# Days tried, nearest first, for a visit that cannot be staffed on its day.
REPAIR_DAYS = 60
# Below this many enterprise pieces a process pool costs more than it saves.
PARALLEL_PIECES = 64
# Minutes kept free in a visit's opening window for getting there: merging stops before
# a department's share of a visit would fill the whole window.
TRAVEL_MARGIN = 40


@dataclass
class Group:
    """A planned visit before staffing: one enterprise, its tasks and its feasible days."""

    enterprise: str
    tasks: list[Task]
    lo: int
    hi: int
    day: int | None = None
    fixed: bool = False
    vid: str = ""
    candidates: list[int] = field(default_factory=list)

    @cached_property
    def routine(self) -> bool:
        return any(t.kind != "triggered" for t in self.tasks)

    @cached_property
    def triggered(self) -> bool:
        return any(t.kind == "triggered" for t in self.tasks)

    def needs(self, min_team: int) -> dict[str, int]:
        """Inspectors required per department (the largest team of its tasks)."""
        need: dict[str, int] = {}
        for task in self.tasks:
            need[task.department] = max(need.get(task.department, 0), task.team)
        short = min_team - sum(need.values())
        if short > 0:
            need[self.lead()] += short
        return need

    @cached_property
    def routine_per_department(self) -> dict[str, int]:
        """Routine tasks per department: what the per-department yearly cap counts."""
        per: dict[str, int] = defaultdict(int)
        for task in self.tasks:
            if task.kind != "triggered":
                per[task.department] += 1
        return dict(per)

    @cached_property
    def _share(self) -> dict[str, int]:
        per: dict[str, int] = defaultdict(int)
        for task in self.tasks:
            per[task.department] += task.minutes
        return per

    def duration(self) -> int:
        """Departments work side by side; the visit lasts as long as the longest share."""
        return max(self._share.values())

    def lead(self) -> str:
        """Lead department: the largest share of minutes, ties by id."""
        per = self._share
        return min(per, key=lambda d: (-per[d], d))


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
    ) -> None:
        self.inst = instance
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
        b.weeks[self.cal.week[group.day]] -= 1
        b.months[self.cal.month[group.day]] -= 1
        b.routine -= group.routine
        for department, count in group.routine_per_department.items():
            b.departments[department] -= count
        group.day = None

    # ---------------------------------------------------------------- 1. merge

    def merge(self) -> None:
        """Stabbing groups per enterprise, or an exact CP-SAT piece where a cap binds."""
        binding: list[tuple[str, list[tuple[Task, int, int]]]] = []
        for enterprise, items in self.admissible().items():
            groups = self._stab(enterprise, items)
            if self._caps_bind(enterprise, items, groups):
                binding.append((enterprise, items))
            else:
                self.groups.extend(groups)
        self._exact_enterprises(binding)

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
        with multiprocessing.get_context("fork").Pool(self.workers) as pool:
            results = pool.map(
                _solve_piece, jobs, chunksize=max(1, len(jobs) // (8 * self.workers))
            )
        for (enterprise, _items), result in zip(pieces, results, strict=True):
            self._apply_piece(enterprise, result)

    def admissible(self) -> dict[str, list[tuple[Task, int, int]]]:
        """Tasks per enterprise with their workday span; the hopeless ones are left out."""
        inspectors_of: dict[str, int] = defaultdict(int)
        for person in self.inst.inspectors:
            inspectors_of[person.department] += 1
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

    def _candidates(self, g: Group, index: int) -> list[int]:
        width = g.hi - g.lo + 1
        if g.fixed:
            return [g.lo]
        if g.triggered or width <= MAX_CANDIDATES:
            return list(range(g.lo, g.hi + 1))
        anchor = self._anchor(self.ents[g.enterprise].district)
        first = g.lo + (anchor - g.lo) % ANCHOR_PERIOD
        anchors = list(range(first, g.hi + 1, ANCHOR_PERIOD))
        if not anchors:
            return list(range(g.lo, g.hi + 1))[:MAX_CANDIDATES]
        if len(anchors) > MAX_CANDIDATES:
            # Evenly spaced, shifted per visit so that visits spread over all anchors.
            step = len(anchors) / MAX_CANDIDATES
            shift = (index * 7919) % len(anchors)
            picks = {anchors[(shift + int(k * step)) % len(anchors)] for k in range(MAX_CANDIDATES)}
            anchors = sorted(picks)
        return anchors

    def _cost(self, g: Group, day: int) -> int:
        cost = 0
        if g.triggered:
            cost += TRIGGERED_DELAY * (day - g.lo)
        anchor = self._anchor(self.ents[g.enterprise].district)
        if (day - anchor) % ANCHOR_PERIOD:
            cost += NON_ANCHOR
        return cost

    def _bucket(self, g: Group) -> tuple[str, str]:
        """Capacity bucket of a visit: its lead department in its district (属地)."""
        return (g.lead(), self.ents[g.enterprise].district)

    def _capacity(self) -> dict[tuple[str, str, int], int]:
        """Visits a lead department's district branch can take a day.

        Local inspector-minutes of that department that day (certified, available) over
        the inspector-minutes a visit led by it uses (its share, a margin for travel, its
        team), times CAPACITY_SHARE for the draw's scatter and the other departments.
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
        min_team = self.policy.min_team
        use: dict[str, list[int]] = defaultdict(list)
        for g in self.groups:
            lead = g.lead()
            use[lead].append((g._share[lead] + 2 * TRAVEL_MARGIN) * g.needs(min_team)[lead])
        per_visit = {d: sum(v) / len(v) for d, v in use.items()}
        out: dict[tuple[str, str, int], int] = {}
        for (department, district), row in minutes.items():
            if department in per_visit:
                scaled = (CAPACITY_SHARE / per_visit[department]) * row
                for t in range(n_days):
                    out[(department, district, t)] = int(scaled[t])
        return out

    def calendar(self) -> None:
        """Min-cost flow from visits to days (OR-Tools), then per-enterprise cap repair."""
        import numpy as np
        from ortools.graph.python import min_cost_flow

        capacity = self._capacity()
        for g in self.groups:
            if g.fixed:
                key = (*self._bucket(g), g.lo)
                capacity[key] = capacity.get(key, 0) - 1
        flow = min_cost_flow.SimpleMinCostFlow()
        bucket: dict[tuple[str, str, int], int] = {}
        n = len(self.groups)
        tails, heads, caps, costs = [], [], [], []
        sink = n
        for index, g in enumerate(self.groups):
            g.candidates = self._candidates(g, index)
            lead_district = self._bucket(g)
            for day in g.candidates:
                key = (*lead_district, day)
                if key not in bucket:
                    bucket[key] = n + 1 + len(bucket)
                tails.append(index)
                heads.append(bucket[key])
                caps.append(1)
                costs.append(self._cost(g, day))
            tails.append(index)
            heads.append(sink)
            caps.append(1)
            costs.append(UNPLACED)
        for key, node in bucket.items():
            tails.append(node)
            heads.append(sink)
            caps.append(max(0, capacity.get(key, 0)))
            costs.append(0)
        if not n:
            return
        tail_array = np.array(tails, dtype=np.int32)
        head_array = np.array(heads, dtype=np.int32)
        arcs = flow.add_arcs_with_capacity_and_unit_cost(
            tail_array, head_array, np.array(caps, dtype=np.int64), np.array(costs, dtype=np.int64)
        )
        supplies = np.ones(n + 1 + len(bucket), dtype=np.int64)
        supplies[n:] = 0
        supplies[sink] = -n
        flow.set_nodes_supplies(np.arange(len(supplies)), supplies)
        status = flow.solve()
        if status != flow.OPTIMAL:
            raise RuntimeError(f"calendar flow failed with status {status}")
        node_day = np.zeros(len(supplies), dtype=np.int64)
        for key, node in bucket.items():
            node_day[node] = key[2]
        used = (flow.flows(arcs) > 0) & (tail_array < n) & (head_array != sink)
        chosen = dict(
            zip(tail_array[used].tolist(), node_day[head_array[used]].tolist(), strict=True)
        )
        self.progress("calendar", 0.5)
        # Book in a fixed order; a visit whose day breaks a cap or is taken moves locally.
        order = sorted(range(n), key=lambda i: (self.groups[i].enterprise, self.groups[i].hi))
        homeless: list[Group] = []
        for index in order:
            g = self.groups[index]
            day = chosen.get(index)
            if day is not None and self.can_book(g, day):
                self.book(g, day)
                continue
            alternatives = sorted(range(g.lo, g.hi + 1), key=lambda t: (abs(t - (day or g.hi)), t))
            for t in alternatives:
                if self.can_book(g, t):
                    self.book(g, t)
                    break
            else:
                homeless.append(g)
        if homeless:
            self._rebuild_enterprises(homeless)

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
        """Staff visits day by day in draw order; move or split what cannot be staffed."""
        placed = [g for g in self.groups if g.day is not None]
        placed.sort(key=lambda g: (g.day, g.enterprise, g.tasks[0].id))
        for number, g in enumerate(placed, start=1):
            g.vid = f"V{number:06d}"
        self.next_id = len(placed) + 1
        visits: list[Visit] = []
        total = max(1, len(placed))
        for k, g in enumerate(placed):
            if k % 2000 == 0:
                self.progress("draw", k / total)
            visit = self._staff_somewhere(g)
            if visit is not None:
                visits.append(visit)
            else:
                visits.extend(self._split(g))
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

    def _try(self, g: Group, day: int) -> Visit | str:
        result = self.staffer.staff(
            g.vid, g.enterprise, self.cal.days[day], g.needs(self.policy.min_team), g.duration()
        )
        if isinstance(result, str):
            return result
        start, inspectors = result
        return Visit(
            id=g.vid,
            enterprise=g.enterprise,
            day=self.cal.days[day],
            start=start,
            end=start + g.duration(),
            lead=g.lead(),
            tasks=tuple(t.id for t in g.tasks),
            inspectors=tuple(inspectors),
        )

    def _staff_somewhere(self, g: Group) -> Visit | None:
        assert g.day is not None
        first = self._try(g, g.day)
        if isinstance(first, Visit):
            return first
        self.last_reason = first
        home = g.day
        self.unbook(g)
        days = sorted(range(g.lo, g.hi + 1), key=lambda t: (abs(t - home), t))
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
        clock = time.perf_counter()
        self.merge()
        stages["merge"], clock = time.perf_counter() - clock, time.perf_counter()
        self.progress("calendar", 0.0)
        self.calendar()
        stages["calendar"], clock = time.perf_counter() - clock, time.perf_counter()
        self.progress("draw", 0.0)
        visits = self.draw()
        stages["draw"], clock = time.perf_counter() - clock, time.perf_counter()
        self.progress("route", 0.0)
        visits = self.route(visits)
        stages["route"] = time.perf_counter() - clock
        self.progress("done", 1.0)
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
            "exact_pieces": self.exact_pieces,
            "routed_crew_days": self.routed_days,
            "seed": self.seed,
        }
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
) -> Schedule:
    """Plan merged visits for `instance` and draw their teams.

    `seed` keys the inspector draw (defaults to the instance's recorded draw seed); the same
    instance and seed give the same schedule. `time_limit` (seconds) sets the wall-clock
    guard of each exact CP-SAT piece (a tenth of it, at most 10 s); `workers` > 1 spreads
    those pieces over processes. `progress(stage, fraction)` is called as stages advance.
    """
    return Solver(
        instance,
        seed=instance.seed if seed is None else seed,
        time_limit=time_limit,
        workers=workers,
        progress=progress,
    ).run()
