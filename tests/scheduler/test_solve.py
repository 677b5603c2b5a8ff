"""The optimizer: always verifier-clean, complete on planted instances, reproducible."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkonce.scheduler.bounds import lb_visits
from checkonce.scheduler.model import (
    Conflict,
    Department,
    Enterprise,
    Inspector,
    Instance,
    Policy,
    Task,
)
from checkonce.scheduler.solve import solve
from checkonce.scheduler.verify import verify

DAYS = [(date(2026, 3, 2) + timedelta(days=k)) for k in range(26)]
WORKDAYS = tuple(d.isoformat() for d in DAYS if d.weekday() < 5)


def without_timing(schedule) -> dict:
    data = schedule.to_json()
    data["metrics"].pop("solve_seconds")
    data["metrics"].pop("stage_seconds")
    data["metrics"].pop("stage_peak_mb")
    data["metrics"].pop("worker_peak_mb")
    return data


@st.composite
def small_instances(draw) -> Instance:
    """Random little problems: caps, conflicts, days off, short staff, odd hours."""
    n_days = draw(st.integers(3, len(WORKDAYS)))
    workdays = WORKDAYS[:n_days]
    departments = [f"D{k}" for k in range(draw(st.integers(1, 3)))]
    enterprises = []
    for k in range(draw(st.integers(1, 4))):
        open_from = draw(st.sampled_from([0, 8 * 60, 10 * 60]))
        enterprises.append(
            Enterprise(
                id=f"E{k}",
                district=draw(st.sampled_from(["610102", "610113"])),
                lat=34.25 + draw(st.floats(-0.05, 0.05)),
                lon=108.95 + draw(st.floats(-0.05, 0.05)),
                open=(open_from, draw(st.sampled_from([15 * 60, 18 * 60, 24 * 60]))),
                visits_this_year=draw(st.integers(0, 4)),
                routine_this_year={departments[0]: draw(st.integers(0, 2))},
                last_inspectors=("I0",) if draw(st.booleans()) else (),
            )
        )
    inspectors = []
    for department in departments:
        for _ in range(draw(st.integers(0, 4))):
            n = len(inspectors)
            inspectors.append(
                Inspector(
                    id=f"I{n}",
                    department=department,
                    lat=34.25 + draw(st.floats(-0.1, 0.1)),
                    lon=108.95 + draw(st.floats(-0.1, 0.1)),
                    minutes_per_day=draw(st.sampled_from([120, 480])),
                    unavailable=frozenset(draw(st.lists(st.sampled_from(workdays), max_size=3))),
                    certificate_valid=(
                        "2025-01-01",
                        draw(st.sampled_from(["2026-03-05", "2027-01-01"])),
                    ),
                    district=draw(st.sampled_from([None, "610102", "610113"])),
                    # 综合执法 officers certified for other departments' items (v2).
                    also_for=tuple(
                        draw(
                            st.lists(st.sampled_from(departments), max_size=2, unique=True).map(
                                lambda ds, own=department: [d for d in ds if d != own]
                            )
                        )
                    ),
                )
            )
    tasks = []
    for k in range(draw(st.integers(1, 10))):
        lo = draw(st.integers(0, n_days - 1))
        hi = draw(st.integers(lo, n_days - 1))
        tasks.append(
            Task(
                id=f"T{k}",
                enterprise=draw(st.sampled_from(enterprises)).id,
                department=draw(st.sampled_from(departments)),
                window=(workdays[lo], workdays[hi]),
                minutes=draw(st.sampled_from([15, 60, 120, 300])),
                kind=draw(st.sampled_from(["random", "special", "key", "triggered"])),
                team=draw(st.integers(1, 3)),
                mergeable=draw(st.booleans()) or draw(st.booleans()),
            )
        )
    conflicts = []
    if inspectors and draw(st.booleans()):
        conflicts.append(Conflict(inspectors[0].id, enterprises[0].id))
    return Instance(
        name="hypothesis",
        workdays=workdays,
        departments=tuple(Department(d) for d in departments),
        enterprises=tuple(enterprises),
        inspectors=tuple(inspectors),
        tasks=tuple(tasks),
        conflicts=tuple(conflicts),
        policy=Policy(
            max_visits_per_enterprise_week=draw(st.integers(1, 2)),
            joint_team_per_department=draw(st.sampled_from([None, 1, 2])),
        ),
        seed="abc",
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_instances())
def test_random_small_instances_are_always_verifier_clean(instance):
    schedule = solve(instance, seed="s1", time_limit=5)
    report = verify(instance, schedule)
    assert report.ok, [v.message for v in report.violations]
    assert not report.warnings  # non-mergeable tasks are never merged
    assert all(u.reason and u.code for u in schedule.unscheduled)
    assert report.metrics["visits"] >= report.metrics["lb_visits"]


@st.composite
def planted_instances(draw) -> tuple[Instance, int]:
    """Instances built around a known feasible schedule of `planted` visits."""
    departments = ["D0", "D1", "D2"]
    inspectors = tuple(
        Inspector(
            id=f"I{d}{k}",
            department=dept,
            lat=34.26,
            lon=108.94,
            certificate_valid=("2025-01-01", "2027-12-31"),
        )
        for d, dept in enumerate(departments)
        for k in range(6)
    )
    enterprises, tasks, planted = [], [], 0
    n_days = len(WORKDAYS)
    for e in range(draw(st.integers(1, 5))):
        enterprises.append(
            Enterprise(
                id=f"E{e}", district="610104", lat=34.26 + 0.002 * e, lon=108.94, open=(480, 1080)
            )
        )
        # One planted visit per week at most, so weekly and monthly caps never bind.
        weeks = draw(st.lists(st.integers(0, 3), min_size=1, max_size=2, unique=True))
        for week in sorted(weeks):
            day = week * 5 + draw(st.integers(0, 4))
            planted += 1
            for dept in draw(
                st.lists(st.sampled_from(departments), min_size=1, max_size=3, unique=True)
            ):
                lo = max(0, day - draw(st.integers(0, 6)))
                hi = min(n_days - 1, day + draw(st.integers(0, 6)))
                tasks.append(
                    Task(
                        id=f"T{len(tasks)}",
                        enterprise=f"E{e}",
                        department=dept,
                        window=(WORKDAYS[lo], WORKDAYS[hi]),
                        minutes=draw(st.sampled_from([30, 60])),
                        kind="random",
                        team=2,
                    )
                )
    instance = Instance(
        name="planted",
        workdays=WORKDAYS,
        departments=tuple(Department(d) for d in departments),
        enterprises=tuple(enterprises),
        inspectors=inspectors,
        tasks=tuple(tasks),
        seed="p",
    )
    return instance, planted


@settings(max_examples=40, deadline=None)
@given(planted_instances())
def test_planted_instances_are_solved_completely(case):
    instance, planted = case
    schedule = solve(instance, seed="p")
    report = verify(instance, schedule)
    assert report.ok, [v.message for v in report.violations]
    assert not schedule.unscheduled
    assert len(schedule.visits) <= planted
    assert len(schedule.visits) == lb_visits(instance)


def test_generated_instance_is_clean_and_at_the_bound(tiny_instance):
    schedule = solve(tiny_instance, seed=tiny_instance.seed)
    report = verify(tiny_instance, schedule)
    assert report.ok, [v.message for v in report.violations]
    # T is tiny and rural teams are thin: one split visit is already 3 %.
    assert report.metrics["visits"] <= 1.05 * report.metrics["lb_visits"]
    assert schedule.metrics["visits"] == report.metrics["visits"]
    assert schedule.metrics["scheduled"] + len(schedule.unscheduled) == len(tiny_instance.tasks)


def test_same_seed_same_schedule_other_seed_other_teams(tiny_instance):
    first = without_timing(solve(tiny_instance, seed="a1"))
    assert first == without_timing(solve(tiny_instance, seed="a1"))
    other = without_timing(solve(tiny_instance, seed="b2"))
    assert [v["tasks"] for v in other["visits"]] == [v["tasks"] for v in first["visits"]]
    assert [v["inspectors"] for v in other["visits"]] != [v["inspectors"] for v in first["visits"]]


def test_unschedulable_tasks_carry_reasons(instance_json):
    instance_json["tasks"][0]["window"] = ["2026-03-07", "2026-03-08"]  # a weekend
    instance_json["tasks"][1]["team"] = 3  # FIRE has two inspectors
    instance = Instance.from_json(instance_json)
    schedule = solve(instance, seed="x")
    assert verify(instance, schedule).ok
    codes = {u.task: u.code for u in schedule.unscheduled}
    assert codes == {"T1": "no_workday", "T2": "team_too_large"}


def test_caps_choose_the_most_tasks(instance_json):
    # E1 may be entered once more this year: both routine tasks must share that one visit.
    instance_json["enterprises"][0]["visits_this_year"] = 3
    instance = Instance.from_json(instance_json)
    schedule = solve(instance, seed="x")
    assert verify(instance, schedule).ok
    e1 = [v for v in schedule.visits if v.enterprise == "E1"]
    assert len(e1) == 1 and set(e1[0].tasks) == {"T1", "T2"}


def test_complaint_burst_is_all_scheduled(instance_json):
    # Three complaints at E2 on three days of one week, each due the same day: the weekly
    # cap (2) and the monthly cap (1 here) count only visits holding a routine task.
    instance_json["policy"]["max_visits_per_enterprise_month"] = 1
    instance_json["tasks"] = [
        {
            "id": f"C{k}",
            "enterprise": "E2",
            "department": "SAMR",
            "kind": "triggered",
            "window": [day, day],
            "minutes": 30,
            "team": 2,
        }
        for k, day in enumerate(["2026-03-02", "2026-03-04", "2026-03-06"])
    ] + [
        {
            "id": "R1",
            "enterprise": "E2",
            "department": "FIRE",
            "kind": "random",
            "window": ["2026-03-09", "2026-03-13"],
            "minutes": 30,
            "team": 2,
        }
    ]
    instance = Instance.from_json(instance_json)
    schedule = solve(instance, seed="x")
    assert verify(instance, schedule).ok
    assert not schedule.unscheduled
    assert sorted(v.day for v in schedule.visits) == [
        "2026-03-02",
        "2026-03-04",
        "2026-03-06",
        schedule.visits[-1].day,
    ]


def _joint_instance(instance_json, joint_rule):
    instance_json["policy"]["joint_team_per_department"] = joint_rule
    instance_json["tasks"] = instance_json["tasks"][:2]  # T1 SAMR 60 min + T2 FIRE 45 min
    return Instance.from_json(instance_json)


def test_joint_visit_sends_one_officer_per_department(instance_json):
    instance = _joint_instance(instance_json, 1)
    schedule = solve(instance, seed="x")
    report = verify(instance, schedule)
    assert report.ok, report.violations
    (visit,) = schedule.visits
    assert set(visit.tasks) == {"T1", "T2"}
    people = {i.id: i.department for i in instance.inspectors}
    assert sorted(people[i] for i in visit.inspectors) == ["FIRE", "SAMR"]
    # One SAMR officer 60 min + one FIRE officer 45 min on site.
    assert report.metrics["inspector_minutes_on_site"] == 105


def test_joint_visit_without_the_rule_sends_full_teams(instance_json):
    instance = _joint_instance(instance_json, None)
    (visit,) = solve(instance, seed="x").visits
    assert len(visit.inspectors) == 4


def test_also_for_officer_serves_both_departments(instance_json):
    # Only one FIRE officer, but a SAMR officer certified for FIRE items (综合执法):
    # FIRE's task alone (team 2) is staffed with them both.
    instance_json["inspectors"] = instance_json["inspectors"][:3]
    instance_json["inspectors"][0]["also_for"] = ["FIRE"]
    instance_json["tasks"] = [instance_json["tasks"][1]]
    instance = Instance.from_json(instance_json)
    schedule = solve(instance, seed="x")
    assert verify(instance, schedule).ok
    (visit,) = schedule.visits
    assert sorted(visit.inspectors) == ["I1", "I3"]
