"""Lower bounds and reference counts every solve reports (DESIGN.md "Bounds and measures").

- `lb_visits`: Σ over enterprises of the minimum number of workdays stabbing every window of
  that enterprise's tasks — exact per enterprise by the earliest-deadline greedy over
  workday indices. No schedule of those tasks can have fewer visits.
- `inspector_minutes_lb`: Σ task minutes × team size (travel and joint-visit waiting ignored).
- `status_quo_visits`: one visit per task — what departments acting alone would make.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence

from checkonce.scheduler.model import Instance, Task


def workday_range(workdays: Sequence[str], window: tuple[str, str]) -> tuple[int, int] | None:
    """Indices (first, last) of the workdays inside an inclusive date window, or None."""
    lo = bisect.bisect_left(workdays, window[0])
    hi = bisect.bisect_right(workdays, window[1]) - 1
    return (lo, hi) if lo <= hi else None


def min_stabbing(intervals: Iterable[tuple[int, int]]) -> list[int]:
    """Fewest points hitting every closed interval, by the earliest-deadline greedy (exact)."""
    points: list[int] = []
    last = None
    for lo, hi in sorted(intervals, key=lambda iv: (iv[1], iv[0])):
        if last is None or lo > last:
            last = hi
            points.append(hi)
    return points


def lb_visits(instance: Instance, task_ids: Iterable[str] | None = None) -> int:
    """Exact interval-stabbing bound on the number of visits for the given tasks.

    `task_ids=None` means every task of the instance. Tasks whose window holds no workday
    cannot be scheduled at all and do not count.
    """
    chosen = set(task_ids) if task_ids is not None else None
    by_enterprise: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for task in instance.tasks:
        if chosen is not None and task.id not in chosen:
            continue
        span = workday_range(instance.workdays, task.window)
        if span is not None:
            by_enterprise[task.enterprise].append(span)
    return sum(len(min_stabbing(spans)) for spans in by_enterprise.values())


def inspector_minutes_lb(tasks: Iterable[Task]) -> int:
    """Σ minutes × team: inspector time on site no schedule of these tasks can avoid."""
    return sum(task.minutes * task.team for task in tasks)


def status_quo_visits(tasks: Iterable[Task]) -> int:
    """Visits when every department enters alone: one visit per task (no merging)."""
    return sum(1 for _ in tasks)
