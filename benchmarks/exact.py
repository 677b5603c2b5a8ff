"""An exact CP-SAT model of a whole (small) instance, to measure the optimizer's gap.

The model keeps every calendar rule of INTERCHANGE.md — windows on workdays, one visit per
enterprise a day, the yearly / per-department / weekly / monthly caps, non-mergeable tasks
alone — and replaces the inspectors' timelines by their day capacity per department
(inspector-minutes and head count of those available and certified that day). It is
therefore a relaxation: its optimum (most tasks, then fewest visits) bounds what any valid
schedule can reach. Used for S in benchmarks/run.py; far too big for M and above — which
is the point of the decomposition.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from checkonce.scheduler.bounds import workday_range
from checkonce.scheduler.model import Instance, Schedule


@dataclass
class ExactResult:
    """Phase 1: most tasks (and its proven upper bound); phase 2: fewest visits for them."""

    status: str
    scheduled: int
    visits: int
    tasks_bound: int | None
    visits_bound: int | None
    seconds: float


def solve_exact(
    instance: Instance,
    *,
    time_limit: float = 120.0,
    workers: int = 2,
    hint: Schedule | None = None,
) -> ExactResult:
    """Solve the relaxation of `instance` with CP-SAT (fixed seed), optionally hinted with a
    schedule (the optimizer's answer, as the issue's measurement suggests)."""
    started = time.perf_counter()
    days = instance.workdays
    policy = instance.policy
    ents = {e.id: e for e in instance.enterprises}
    # Day capacity per department: minutes and head count of inspectors able to work.
    minutes = defaultdict(int)
    heads = defaultdict(int)
    for person in instance.inspectors:
        lo = bisect.bisect_left(days, person.certificate_valid[0])
        hi = bisect.bisect_right(days, person.certificate_valid[1])
        for t in range(lo, hi):
            if days[t] not in person.unavailable:
                minutes[(person.department, t)] += person.minutes_per_day
                heads[(person.department, t)] += 1
    model = cp_model.CpModel()
    assign = {}
    per_task = defaultdict(list)
    per_ent_day = defaultdict(list)
    for k, task in enumerate(instance.tasks):
        span = workday_range(days, task.window)
        if span is None:
            continue
        ent = ents[task.enterprise]
        opening = min(instance.day_end, ent.open[1]) - max(instance.day_start, ent.open[0])
        if task.minutes > opening:
            continue
        for t in range(span[0], span[1] + 1):
            if heads[(task.department, t)] < task.team:
                continue
            var = model.new_bool_var(f"a{k}_{t}")
            assign[(k, t)] = var
            per_task[k].append(var)
            per_ent_day[(task.enterprise, t)].append(k)
    for vars_ in per_task.values():
        model.add(cp_model.LinearExpr.sum(vars_) <= 1)
    visit = {}
    routine_visit = {}
    by_ent = defaultdict(list)
    for (eid, t), members in per_ent_day.items():
        y = model.new_bool_var(f"y{eid}_{t}")
        visit[(eid, t)] = y
        by_ent[eid].append(t)
        routine = [k for k in members if instance.tasks[k].kind != "triggered"]
        r = model.new_bool_var(f"r{eid}_{t}")
        routine_visit[(eid, t)] = r
        for k in members:
            model.add_implication(assign[(k, t)], y)
        for k in routine:
            model.add_implication(assign[(k, t)], r)
        share = defaultdict(list)
        for k in members:
            task = instance.tasks[k]
            share[task.department].append((k, task.minutes))
            if not task.mergeable:
                others = [assign[(j, t)] for j in members if j != k]
                if others:
                    model.add(cp_model.LinearExpr.sum(others) == 0).only_enforce_if(assign[(k, t)])
        ent = ents[eid]
        opening = min(instance.day_end, ent.open[1]) - max(instance.day_start, ent.open[0])
        for parts in share.values():
            if sum(m for _k, m in parts) > opening:
                model.add(sum(m * assign[(k, t)] for k, m in parts) <= opening)
    week = [0] * len(days)
    month = [0] * len(days)
    from datetime import date

    for t, day in enumerate(days):
        d = date.fromisoformat(day)
        week[t] = d.isocalendar()[0] * 100 + d.isocalendar()[1]
        month[t] = d.year * 100 + d.month
    for eid, ts in by_ent.items():
        ent = ents[eid]
        model.add(
            cp_model.LinearExpr.sum([routine_visit[(eid, t)] for t in ts])
            <= max(0, policy.max_visits_per_enterprise_year - ent.visits_this_year)
        )
        weeks = defaultdict(list)
        months = defaultdict(list)
        for t in ts:
            weeks[week[t]].append(visit[(eid, t)])
            months[month[t]].append(visit[(eid, t)])
        for vs in weeks.values():
            if len(vs) > policy.max_visits_per_enterprise_week:
                model.add(cp_model.LinearExpr.sum(vs) <= policy.max_visits_per_enterprise_week)
        for vs in months.values():
            if len(vs) > policy.max_visits_per_enterprise_month:
                model.add(cp_model.LinearExpr.sum(vs) <= policy.max_visits_per_enterprise_month)
    routine_by = defaultdict(list)
    load = defaultdict(list)
    for (k, t), var in assign.items():
        task = instance.tasks[k]
        if task.kind != "triggered":
            routine_by[(task.enterprise, task.department)].append(var)
        load[(task.department, t)].append((var, task.minutes * task.team))
    for (eid, dept), vars_ in routine_by.items():
        left = policy.max_routine_per_department_year - ents[eid].routine_this_year.get(dept, 0)
        model.add(cp_model.LinearExpr.sum(vars_) <= max(0, left))
    for key, parts in load.items():
        model.add(sum(c * v for v, c in parts) <= minutes[key])
    # Lexicographic: first the most tasks, then — with that many fixed — the fewest visits.
    model.maximize(cp_model.LinearExpr.sum(list(assign.values())))
    if hint is not None:
        hinted = {(v.enterprise, days.index(v.day)): v for v in hint.visits}
        index = {task.id: k for k, task in enumerate(instance.tasks)}
        placed = {(index[t], days.index(v.day)) for v in hint.visits for t in v.tasks}
        for key, var in assign.items():
            model.add_hint(var, key in placed)
        for key, var in visit.items():
            model.add_hint(var, key in hinted)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit / 2
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = 1
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult(
            solver.status_name(status), 0, 0, None, None, time.perf_counter() - started
        )
    most = round(solver.objective_value)
    tasks_bound = int(solver.best_objective_bound)
    model.add(cp_model.LinearExpr.sum(list(assign.values())) >= most)
    model.minimize(cp_model.LinearExpr.sum(list(visit.values())))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit / 2
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = 1
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult(
            solver.status_name(status), most, 0, tasks_bound, None, time.perf_counter() - started
        )
    visits = sum(solver.value(v) for v in visit.values())
    return ExactResult(
        solver.status_name(status),
        most,
        visits,
        tasks_bound,
        int(solver.best_objective_bound),
        time.perf_counter() - started,
    )
