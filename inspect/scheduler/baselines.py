"""Baselines solved in the same run as the optimizer (DESIGN.md "Bounds and measures").

- `status_quo`: every department schedules its own tasks alone, earliest deadline first,
  no merging — each task is its own visit on the earliest day that keeps the enterprise's
  caps and one visit a day (what happens without "check once").
- `greedy_merge`: per enterprise, tasks sorted by window start join the current visit while
  the windows still share a day (first fit), each visit on the earliest day it can take.

Both reuse the optimizer's team draw and timelines, so their schedules obey the same hard
rules and pass the verifier; only grouping and calendar differ.
"""

from __future__ import annotations

from checkonce.scheduler.model import Instance, Schedule, Task
from checkonce.scheduler.solve import TRAVEL_MARGIN, Group, Solver


class _Baseline(Solver):
    """Earliest-day calendar instead of the flow; grouping decided by subclasses.

    A department planning alone does not book more visits on a day than its district
    branch can staff, so each visit takes the first day of its range that keeps the caps
    and still has branch capacity (the same estimate the optimizer's flow uses), else the
    first day that keeps the caps.
    """

    order_by_deadline = True

    def calendar(self) -> None:
        """First fit in the baseline's order."""
        if self.order_by_deadline:
            self.groups.sort(key=lambda g: (g.hi, g.lo, g.tasks[0].id))
        capacity = self._capacity()
        kept: list[Group] = []
        for g in self.groups:
            bucket = self._bucket(g)
            days = [d for d in range(g.lo, g.hi + 1) if self.can_book(g, d)]
            free = [d for d in days if capacity.get((*bucket, d), 0) > 0]
            if free or days:
                day = (free or days)[0]
                capacity[(*bucket, day)] = capacity.get((*bucket, day), 0) - 1
                self.book(g, day)
                kept.append(g)
                continue
            for task in g.tasks:
                self.leave_out(
                    task,
                    "时间窗内每个工作日都已达入企频次上限（年/周/月或部门年度）",
                    "caps",
                )
        self.groups = kept


class _StatusQuo(_Baseline):
    # Departments take turns (the order of `merge`), not one deadline order across them.
    order_by_deadline = False

    def merge(self) -> None:
        """One visit per task; departments take turns in id order, each deadline first."""
        items = [item for per in self.admissible().values() for item in per]
        items.sort(key=lambda it: (it[0].department, it[2], it[1], it[0].id))
        self.groups = [
            Group(enterprise=task.enterprise, tasks=[task], lo=lo, hi=hi) for task, lo, hi in items
        ]


class _GreedyMerge(_Baseline):
    def merge(self) -> None:
        """First fit by window start: join the open visit while a common day remains."""
        for enterprise, items in self.admissible().items():
            limit = self.opening_minutes(enterprise) - TRAVEL_MARGIN
            current: list[Task] = []
            lo = hi = 0
            minutes: dict[str, int] = {}
            for task, t_lo, t_hi in sorted(items, key=lambda it: (it[1], it[2], it[0].id)):
                joinable = (
                    current
                    and task.mergeable
                    and all(t.mergeable for t in current)
                    and max(lo, t_lo) <= min(hi, t_hi)
                    and minutes.get(task.department, 0) + task.minutes <= limit
                )
                if joinable:
                    current.append(task)
                    lo, hi = max(lo, t_lo), min(hi, t_hi)
                    minutes[task.department] = minutes.get(task.department, 0) + task.minutes
                    continue
                if current:
                    self.groups.append(Group(enterprise=enterprise, tasks=current, lo=lo, hi=hi))
                current, lo, hi = [task], t_lo, t_hi
                minutes = {task.department: task.minutes}
            if current:
                self.groups.append(Group(enterprise=enterprise, tasks=current, lo=lo, hi=hi))


def status_quo(instance: Instance, *, seed: str | None = None) -> Schedule:
    """Each department alone, earliest deadline first, no merging; verifier-clean."""
    return _StatusQuo(
        instance,
        seed=instance.seed if seed is None else seed,
        time_limit=60,
        workers=1,
        progress=None,
    ).run()


def greedy_merge(instance: Instance, *, seed: str | None = None) -> Schedule:
    """First-fit merge per enterprise on the earliest feasible day; verifier-clean."""
    return _GreedyMerge(
        instance,
        seed=instance.seed if seed is None else seed,
        time_limit=60,
        workers=1,
        progress=None,
    ).run()
