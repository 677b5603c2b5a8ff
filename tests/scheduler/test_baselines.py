"""Baselines: verifier-clean, and the optimizer never needs more visits than they do."""

from __future__ import annotations

from checkonce.scheduler import baselines
from checkonce.scheduler.bounds import inspector_minutes_lb, lb_visits, min_stabbing
from checkonce.scheduler.model import Instance
from checkonce.scheduler.solve import solve
from checkonce.scheduler.verify import verify


def test_status_quo_never_merges_and_is_clean(tiny_instance):
    schedule = baselines.status_quo(tiny_instance)
    report = verify(tiny_instance, schedule)
    assert report.ok, [v.message for v in report.violations]
    assert all(len(v.tasks) == 1 for v in schedule.visits)
    assert report.metrics["visits"] == report.metrics["scheduled"]


def test_greedy_merge_is_clean_and_solver_is_no_worse(tiny_instance):
    greedy = baselines.greedy_merge(tiny_instance)
    report = verify(tiny_instance, greedy)
    assert report.ok, [v.message for v in report.violations]
    solved = verify(tiny_instance, solve(tiny_instance)).metrics
    quo = verify(tiny_instance, baselines.status_quo(tiny_instance)).metrics
    assert solved["scheduled"] >= report.metrics["scheduled"]
    assert solved["visits"] / solved["scheduled"] <= quo["visits"] / quo["scheduled"]


def test_baselines_on_hand_made_instance(instance_json):
    instance = Instance.from_json(instance_json)
    quo = baselines.status_quo(instance)
    assert verify(instance, quo).ok
    assert len(quo.visits) == 3  # T1 and T2 of E1 go separately
    greedy = baselines.greedy_merge(instance)
    assert verify(instance, greedy).ok
    assert len(greedy.visits) == 2


def test_stabbing_bound_is_exact_on_a_known_case():
    # [0,2] [1,3] [4,6] [5,5] [7,9]: days 2, 5 and 9 stab everything; two days cannot.
    assert min_stabbing([(0, 2), (1, 3), (4, 6), (5, 5), (7, 9)]) == [2, 5, 9]
    assert min_stabbing([]) == []


def test_instance_bounds(instance_json):
    instance = Instance.from_json(instance_json)
    assert lb_visits(instance) == 2
    assert lb_visits(instance, ["T1"]) == 1
    assert inspector_minutes_lb(instance.tasks) == 60 * 2 + 45 * 2 + 30 * 2
