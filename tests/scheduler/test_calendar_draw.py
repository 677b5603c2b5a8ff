"""Calendar packing, the two-phase draw and the greedy proof for per-department caps."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from checkonce.scheduler import solve as solve_module
from checkonce.scheduler.generate import generate
from checkonce.scheduler.model import Instance
from checkonce.scheduler.solve import solve
from checkonce.scheduler.verify import verify


def without_measures(schedule) -> dict:
    data = schedule.to_json()
    for key in ("solve_seconds", "stage_seconds", "stage_peak_mb", "worker_peak_mb"):
        data["metrics"].pop(key)
    return data


def four_samr_visits(instance_json: dict[str, Any]) -> Instance:
    """Four enterprises a few hundred metres apart, one 30-minute SAMR task each, all due
    within the same two weeks; SAMR has two inspectors."""
    data = copy.deepcopy(instance_json)
    template = data["enterprises"][0]
    data["enterprises"] = [
        {**template, "id": f"E{k}", "lat": 34.2650 + 0.002 * k, "lon": 108.9300}
        for k in range(1, 5)
    ]
    data["tasks"] = [
        {
            "id": f"T{k}",
            "enterprise": f"E{k}",
            "department": "SAMR",
            "item": f"SAMR-SP-00{k}",
            "kind": "random",
            "window": ["2026-03-02", "2026-03-13"],
            "minutes": 30,
            "team": 2,
            "mergeable": True,
        }
        for k in range(1, 5)
    ]
    return Instance.from_json(data)


def test_a_branch_goes_out_on_one_day_for_visits_that_fit_it(instance_json):
    # Spread over the fortnight (as the calendar did before), each visit cost the SAMR
    # pair a day of its own: 8 inspector-days. Filled in date order, one day does it.
    instance = four_samr_visits(instance_json)
    schedule = solve(instance, seed="x")
    report = verify(instance, schedule)
    assert report.ok, [v.message for v in report.violations]
    assert report.metrics["scheduled"] == 4
    assert len({v.day for v in schedule.visits}) == 1
    assert report.metrics["inspector_days"] == 2


def test_a_joint_visit_goes_where_the_other_department_works_anyway(instance_json):
    # E1 has a SAMR-led joint visit (SAMR 60 min, FIRE 45 min) that may go any day of the
    # fortnight; FIRE must be at E2 on the second Tuesday anyway (a triggered task due
    # that day). The joint visit moves to that day: FIRE's pair works one day, not two.
    data = copy.deepcopy(instance_json)
    data["tasks"][1]["window"] = ["2026-03-02", "2026-03-13"]
    data["tasks"][2] = {
        **data["tasks"][2],
        "department": "FIRE",
        "window": ["2026-03-10", "2026-03-10"],
    }
    instance = Instance.from_json(data)
    schedule = solve(instance, seed="x")
    report = verify(instance, schedule)
    assert report.ok, [v.message for v in report.violations]
    assert report.metrics["scheduled"] == 3
    assert {v.day for v in schedule.visits} == {"2026-03-10"}
    fire_days = {(i, v.day) for v in schedule.visits for i in v.inspectors if i in ("I3", "I4")}
    assert len(fire_days) == 2


def test_only_a_department_cap_binding_needs_no_exact_piece(instance_json):
    # E1 had one SAMR inspection this year: of its two SAMR tasks one may be kept. The
    # one sharing a day with the FIRE task is kept; the other is left out for the cap.
    data = copy.deepcopy(instance_json)
    data["enterprises"][0]["routine_this_year"] = {"SAMR": 1}
    data["tasks"].append(
        {
            **data["tasks"][0],
            "id": "T4",
            "window": ["2026-03-11", "2026-03-13"],
        }
    )
    instance = Instance.from_json(data)
    schedule = solve(instance, seed="x")
    report = verify(instance, schedule)
    assert report.ok, [v.message for v in report.violations]
    assert schedule.metrics["exact_pieces"] == 0
    assert {u.task: u.code for u in schedule.unscheduled} == {"T4": "department_cap"}
    e1 = [v for v in schedule.visits if v.enterprise == "E1"]
    assert len(e1) == 1 and set(e1[0].tasks) == {"T1", "T2"}


@pytest.fixture(scope="module")
def small_instance() -> Instance:
    return generate("S", seed=3)


def test_the_draw_does_not_depend_on_the_number_of_workers(small_instance, monkeypatch):
    monkeypatch.setattr(solve_module, "PARALLEL_DRAW", 0)
    monkeypatch.setattr(solve_module, "PARALLEL_PIECES", 0)
    alone = solve(small_instance, seed="s1", workers=1)
    parallel = solve(small_instance, seed="s1", workers=2)
    assert without_measures(alone) == without_measures(parallel)
    report = verify(small_instance, parallel)
    assert report.ok, report.by_rule()
    assert report.metrics["visits"] <= 1.01 * report.metrics["lb_visits"]


def test_one_routine_visit_left_keeps_the_day_holding_most_tasks(instance_json):
    # E1 may be entered once more this year. T1 (SAMR, the fortnight) and T2 (FIRE,
    # Tue–Fri of the first week) share days; T4 (SAMR, the last three days) shares a day
    # with T1 only. One visit keeps T1 and T2; T4 is left out for the yearly cap.
    data = copy.deepcopy(instance_json)
    data["enterprises"][0]["visits_this_year"] = 3
    data["tasks"].append({**data["tasks"][0], "id": "T4", "window": ["2026-03-11", "2026-03-13"]})
    instance = Instance.from_json(data)
    schedule = solve(instance, seed="x")
    report = verify(instance, schedule)
    assert report.ok, [v.message for v in report.violations]
    assert schedule.metrics["exact_pieces"] == 0
    assert {u.task: u.code for u in schedule.unscheduled} == {"T4": "yearly_cap"}
    e1 = [v for v in schedule.visits if v.enterprise == "E1"]
    assert len(e1) == 1 and set(e1[0].tasks) == {"T1", "T2"}
