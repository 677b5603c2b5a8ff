"""Small exact CP-SAT models for the pieces where side constraints bind.

`solve_enterprise` plans one enterprise alone, exactly: which of its tasks to keep when a
yearly or per-department cap (频次上限) cannot hold them all, on which days, with the
weekly/monthly caps, one visit a day, non-mergeable tasks alone and the opening-hours
limit on each department's share of a visit. It maximises the tasks kept, then minimises
visits. The models are tiny (one enterprise), so they run with one worker and a fixed seed
and a deterministic work limit, and are reproducible.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from checkonce.scheduler.model import Enterprise, Policy, Task


@dataclass
class EnterprisePlan:
    """Days with their tasks, and the tasks left out with (reason, code)."""

    visits: list[tuple[int, list[Task]]] = field(default_factory=list)
    left_out: list[tuple[Task, str, str]] = field(default_factory=list)


CANDIDATE_BACKOFF = 3


def _seed_int(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big") & 0x7FFFFFFF


def solve_enterprise(
    enterprise: Enterprise,
    items: Sequence[tuple[Task, int, int]],
    *,
    policy: Policy,
    week: Sequence[int],
    month: Sequence[int],
    max_minutes: int,
    seed: str,
    time_limit: float = 10.0,
    deterministic_limit: float = 0.1,
) -> EnterprisePlan:
    """Exact plan of one enterprise's tasks (task, first workday index, last index)."""
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    n = len(items)
    assign: dict[tuple[int, int], cp_model.IntVar] = {}
    by_day: dict[int, list[int]] = defaultdict(list)
    # Candidate days: a few workdays before each window's end, and each window's start.
    # Any plan can be shifted onto these days unless a weekly cap blocks every one of them,
    # which keeps long (yearly) windows from making the model large.
    candidate_days: set[int] = set()
    for _task, lo, hi in items:
        candidate_days.add(lo)
        candidate_days.update(t for t in range(hi - CANDIDATE_BACKOFF, hi + 1) if t >= lo)
    for i, (_task, lo, hi) in enumerate(items):
        for t in sorted(d for d in candidate_days if lo <= d <= hi):
            assign[(i, t)] = model.new_bool_var(f"a{i}_{t}")
            by_day[t].append(i)
    visit = {t: model.new_bool_var(f"y{t}") for t in by_day}
    routine_visit = {t: model.new_bool_var(f"r{t}") for t in by_day}
    per_task: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for (i, _t), var in assign.items():
        per_task[i].append(var)
    for i in range(n):
        model.add(cp_model.LinearExpr.sum(per_task[i]) <= 1)
    for t, members in by_day.items():
        routine = [i for i in members if items[i][0].routine]
        for i in members:
            model.add_implication(assign[(i, t)], visit[t])
        for i in routine:
            model.add_implication(assign[(i, t)], routine_visit[t])
        model.add(visit[t] <= cp_model.LinearExpr.sum([assign[(i, t)] for i in members]))
        if routine:
            model.add(
                routine_visit[t] <= cp_model.LinearExpr.sum([assign[(i, t)] for i in routine])
            )
        else:
            model.add(routine_visit[t] == 0)
        model.add_implication(routine_visit[t], visit[t])
        for i in members:
            if not items[i][0].mergeable:
                others = [assign[(j, t)] for j in members if j != i]
                if others:
                    model.add(sum(others) == 0).only_enforce_if(assign[(i, t)])
        minutes: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i in members:
            minutes[items[i][0].department].append((i, items[i][0].minutes))
        for parts in minutes.values():
            if sum(m for _i, m in parts) > max_minutes:
                model.add(sum(m * assign[(i, t)] for i, m in parts) <= max_minutes)
    yearly_left = max(0, policy.max_visits_per_enterprise_year - enterprise.visits_this_year)
    model.add(cp_model.LinearExpr.sum(list(routine_visit.values())) <= yearly_left)
    weeks: dict[int, list[int]] = defaultdict(list)
    months: dict[int, list[int]] = defaultdict(list)
    for t in by_day:
        weeks[week[t]].append(t)
        months[month[t]].append(t)
    # Only visits holding a routine task count against the weekly and monthly caps.
    for days in weeks.values():
        if len(days) > policy.max_visits_per_enterprise_week:
            model.add(sum(routine_visit[t] for t in days) <= policy.max_visits_per_enterprise_week)
    for days in months.values():
        if len(days) > policy.max_visits_per_enterprise_month:
            model.add(sum(routine_visit[t] for t in days) <= policy.max_visits_per_enterprise_month)
    department_left: dict[str, int] = {}
    per_department: dict[str, list[int]] = defaultdict(list)
    for i, (task, _lo, _hi) in enumerate(items):
        if task.routine:
            per_department[task.department].append(i)
    for department, members in per_department.items():
        left = max(
            0,
            policy.max_routine_per_department_year
            - enterprise.routine_this_year.get(department, 0),
        )
        department_left[department] = left
        model.add(sum(v for i in members for v in per_task[i]) <= left)
    # Every kept task outweighs every visit saved.
    model.maximize(
        (n + 1) * cp_model.LinearExpr.sum(list(assign.values()))
        - cp_model.LinearExpr.sum(list(visit.values()))
    )
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = _seed_int(seed)
    # A deterministic budget keeps the result reproducible (a wall-clock limit would not);
    # a few of these models find their optimum at once but take minutes to prove it.
    solver.parameters.max_deterministic_time = deterministic_limit
    solver.parameters.max_time_in_seconds = time_limit
    status = solver.solve(model)
    plan = EnterprisePlan()
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for task, _lo, _hi in items:
            plan.left_out.append((task, "频次上限约束下无可行日期", "caps"))
        return plan
    kept: dict[int, list[Task]] = defaultdict(list)
    kept_per_department: dict[str, int] = defaultdict(int)
    kept_ids: set[str] = set()
    for (i, t), var in assign.items():
        if solver.value(var):
            kept[t].append(items[i][0])
            kept_ids.add(items[i][0].id)
            if items[i][0].routine:
                kept_per_department[items[i][0].department] += 1
    plan.visits = [(t, sorted(tasks, key=lambda x: x.id)) for t, tasks in sorted(kept.items())]
    routine_visits = sum(solver.value(v) for v in routine_visit.values())
    for task, _lo, _hi in items:
        if task.id in kept_ids:
            continue
        if task.routine and kept_per_department[task.department] >= department_left.get(
            task.department, 0
        ):
            plan.left_out.append(
                (
                    task,
                    f"企业本年 {task.department} 常规检查已达部门年度上限 "
                    f"{policy.max_routine_per_department_year} 次",
                    "department_cap",
                )
            )
        elif task.routine and routine_visits >= yearly_left:
            plan.left_out.append(
                (
                    task,
                    f"企业本年入企次数已达年度上限 {policy.max_visits_per_enterprise_year} 次",
                    "yearly_cap",
                )
            )
        else:
            plan.left_out.append((task, "时间窗内每周/每月入企上限已满", "weekly_monthly_cap"))
    return plan
