"""The verifier: the hand-made schedule is valid; each hand-broken copy breaks one rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkonce.scheduler.model import Instance, Schedule
from checkonce.scheduler.verify import verify
from tests.scheduler.conftest import BASE_INSTANCE, BASE_SCHEDULE


def run(instance_json: dict[str, Any], schedule_json: dict[str, Any]):
    return verify(Instance.from_json(instance_json), Schedule.from_json(schedule_json))


def rules(report) -> set[str]:
    return {v.rule for v in report.violations}


def test_hand_made_schedule_is_valid_and_measured(instance_json, schedule_json):
    report = run(instance_json, schedule_json)
    assert report.ok, report.violations
    m = report.metrics
    assert (m["tasks"], m["scheduled"], m["visits"], m["lb_visits"]) == (3, 3, 2, 2)
    assert m["gap"] == 0.0
    # I1 and I2 work one day with two visits; I3 and I4 one visit: 4 inspector-days.
    assert m["inspector_days"] == 4
    assert m["inspector_minutes_lb"] == 60 * 2 + 45 * 2 + 30 * 2
    assert m["travel_km"] > 0


def test_task_coverage_missing_and_duplicate(instance_json, schedule_json):
    schedule_json["visits"][1]["tasks"] = []
    schedule_json["visits"][0]["tasks"].append("T1")
    report = run(instance_json, schedule_json)
    ids = {v.ids for v in report.violations if v.rule == "task_coverage"}
    assert ("T3",) in ids and ("T1",) in ids


def test_task_coverage_unknown_task(instance_json, schedule_json):
    schedule_json["unscheduled"].append({"task": "T999", "reason": "x"})
    assert "task_coverage" in rules(run(instance_json, schedule_json))


def test_visit_enterprise(instance_json, schedule_json):
    schedule_json["visits"][0]["tasks"] = ["T1", "T2", "T3"]
    schedule_json["visits"][1]["tasks"] = []
    report = run(instance_json, schedule_json)
    broken = [v for v in report.violations if v.rule == "visit_enterprise"]
    assert any(v.ids == ("V1", "T3") for v in broken)


def test_visit_windows_outside_window(instance_json, schedule_json):
    schedule_json["visits"][0]["day"] = "2026-03-09"  # T2's window ends on the 6th
    report = run(instance_json, schedule_json)
    assert [v.ids for v in report.violations if v.rule == "visit_windows"] == [("V1", "T2")]


def test_visit_windows_not_a_workday(instance_json, schedule_json):
    schedule_json["visits"][1]["day"] = "2026-03-01"  # a Sunday
    assert "visit_windows" in rules(run(instance_json, schedule_json))


def test_one_visit_per_day(instance_json, schedule_json):
    schedule_json["visits"][0]["tasks"] = ["T1"]
    schedule_json["visits"].append(
        {
            "id": "V3",
            "enterprise": "E1",
            "day": "2026-03-03",
            "start": "15:00",
            "end": "15:45",
            "lead": "FIRE",
            "tasks": ["T2"],
            "inspectors": ["I3", "I4"],
        }
    )
    report = run(instance_json, schedule_json)
    assert rules(report) == {"one_visit_per_day"}


def test_team_size_department_short(instance_json, schedule_json):
    schedule_json["visits"][0]["inspectors"] = ["I1", "I2", "I3"]
    report = run(instance_json, schedule_json)
    assert [v.ids for v in report.violations] == [("V1", "T2")]
    assert report.violations[0].rule == "team_size"


def test_team_size_below_min_team(instance_json, schedule_json):
    instance_json["tasks"][2]["team"] = 1
    schedule_json["visits"][1]["inspectors"] = ["I1"]
    report = run(instance_json, schedule_json)
    assert rules(report) == {"team_size"}


def test_visit_duration_too_short(instance_json, schedule_json):
    schedule_json["visits"][0]["end"] = "10:50"  # SAMR needs 60 minutes
    report = run(instance_json, schedule_json)
    assert [(v.rule, v.ids) for v in report.violations] == [("visit_duration", ("V1", "SAMR"))]


def test_visit_duration_outside_opening_hours(instance_json, schedule_json):
    instance_json["enterprises"][1]["open"] = ["08:30", "14:15"]
    report = run(instance_json, schedule_json)
    assert [(v.rule, v.ids) for v in report.violations] == [("visit_duration", ("V2",))]


def test_inspector_timeline_overlap(instance_json, schedule_json):
    schedule_json["visits"][1]["start"], schedule_json["visits"][1]["end"] = "10:30", "11:00"
    report = run(instance_json, schedule_json)
    assert rules(report) == {"inspector_timeline"}
    assert {v.ids for v in report.violations} == {("I1", "V1", "V2"), ("I2", "V1", "V2")}


def test_inspector_timeline_travel_between_visits(instance_json, schedule_json):
    # E2 moved 20 km away: 11:00 → 11:05 leaves no time to drive there.
    instance_json["enterprises"][1]["lat"] = 34.45
    schedule_json["visits"][1]["start"], schedule_json["visits"][1]["end"] = "11:05", "11:35"
    report = run(instance_json, schedule_json)
    assert rules(report) == {"inspector_timeline"}
    assert all("路程" in v.message for v in report.violations)


def test_inspector_timeline_unavailable_and_certificate(instance_json, schedule_json):
    instance_json["inspectors"][2]["unavailable"] = ["2026-03-03"]
    instance_json["inspectors"][3]["certificate_valid"] = ["2024-01-01", "2026-03-02"]
    report = run(instance_json, schedule_json)
    assert rules(report) == {"inspector_timeline"}
    assert {v.ids[0] for v in report.violations} == {"I3", "I4"}


def test_inspector_timeline_day_bounds_and_budget(instance_json, schedule_json):
    schedule_json["visits"][0]["start"] = "09:00"  # no time to travel from the office
    instance_json["inspectors"][0]["minutes_per_day"] = 60
    report = run(instance_json, schedule_json)
    messages = [v.message for v in report.violations if v.rule == "inspector_timeline"]
    assert any("上班时间" in m for m in messages)
    assert any("超过每日 60 分钟" in m for m in messages)


def test_conflicts(instance_json, schedule_json):
    instance_json["conflicts"] = [{"inspector": "I3", "enterprise": "E1"}]
    report = run(instance_json, schedule_json)
    assert [(v.rule, v.ids) for v in report.violations] == [("conflicts", ("V1", "I3", "E1"))]


def test_caps_yearly(instance_json, schedule_json):
    instance_json["enterprises"][0]["visits_this_year"] = 4
    report = run(instance_json, schedule_json)
    assert [(v.rule, v.ids) for v in report.violations] == [("caps", ("E1",))]


def test_caps_yearly_ignores_triggered_only_visits(instance_json, schedule_json):
    instance_json["enterprises"][1]["visits_this_year"] = 4  # V2 holds a triggered task only
    assert run(instance_json, schedule_json).ok


def test_caps_per_department(instance_json, schedule_json):
    instance_json["enterprises"][0]["routine_this_year"] = {"SAMR": 2}
    report = run(instance_json, schedule_json)
    assert [(v.rule, v.ids) for v in report.violations] == [("caps", ("E1", "SAMR"))]


@pytest.mark.parametrize(
    ("days", "cap_key", "cap"),
    [
        (["2026-03-02", "2026-03-03", "2026-03-04"], "max_visits_per_enterprise_week", 2),
        (["2026-03-02", "2026-03-09", "2026-03-10"], "max_visits_per_enterprise_month", 2),
    ],
)
def test_caps_weekly_and_monthly(instance_json, schedule_json, days, cap_key, cap):
    instance_json["policy"][cap_key] = cap
    instance_json["policy"]["max_routine_per_department_year"] = 10
    instance_json["policy"]["max_visits_per_enterprise_year"] = 10
    instance_json["tasks"] = [
        {
            "id": f"T{k}",
            "enterprise": "E1",
            "department": "SAMR",
            "kind": "random",
            "window": ["2026-03-02", "2026-03-13"],
            "minutes": 30,
            "team": 2,
        }
        for k in range(3)
    ]
    schedule_json["visits"] = [
        {
            "id": f"V{k}",
            "enterprise": "E1",
            "day": day,
            "start": "10:00",
            "end": "10:30",
            "lead": "SAMR",
            "tasks": [f"T{k}"],
            "inspectors": ["I1", "I2"],
        }
        for k, day in enumerate(days)
    ]
    report = run(instance_json, schedule_json)
    assert rules(report) == {"caps"}
    assert len(report.violations) == 1


def test_rotation_is_counted_not_a_violation(instance_json, schedule_json):
    instance_json["enterprises"][0]["last_inspectors"] = ["I1", "I3"]
    report = run(instance_json, schedule_json)
    assert report.ok
    assert report.metrics["rotation_repeats"] == 2


def test_unmergeable_task_merged_is_a_warning(instance_json, schedule_json):
    instance_json["tasks"][1]["mergeable"] = False
    report = run(instance_json, schedule_json)
    assert report.ok
    assert [w.ids for w in report.warnings] == [("V1", "T2")]


# ---------------------------------------------------------------- version 2 rules


def _burst(instance_json, schedule_json, kinds):
    """Three visits to E1 on three days of one ISO week, one task each of the given kinds."""
    instance_json["policy"].update(
        max_visits_per_enterprise_week=2,
        max_routine_per_department_year=10,
        max_visits_per_enterprise_year=10,
    )
    instance_json["tasks"] = [
        {
            "id": f"T{k}",
            "enterprise": "E1",
            "department": "SAMR",
            "kind": kind,
            "window": ["2026-03-02", "2026-03-13"],
            "minutes": 30,
            "team": 2,
        }
        for k, kind in enumerate(kinds)
    ]
    schedule_json["visits"] = [
        {
            "id": f"V{k}",
            "enterprise": "E1",
            "day": day,
            "start": "10:00",
            "end": "10:30",
            "lead": "SAMR",
            "tasks": [f"T{k}"],
            "inspectors": ["I1", "I2"],
        }
        for k, day in enumerate(["2026-03-02", "2026-03-04", "2026-03-06"])
    ]
    return run(instance_json, schedule_json)


def test_complaint_burst_counts_against_no_cap(instance_json, schedule_json):
    # Three complaints in one week: triggered-only visits count against no cap (rule 7).
    report = _burst(instance_json, schedule_json, ["triggered"] * 3)
    assert report.ok, report.violations


def test_weekly_cap_counts_only_visits_holding_a_routine_task(instance_json, schedule_json):
    report = _burst(instance_json, schedule_json, ["random", "triggered", "random"])
    assert report.ok, report.violations
    report = _burst(instance_json, schedule_json, ["random", "key", "random"])
    assert rules(report) == {"caps"}


def _one_officer_each(instance_json, schedule_json, joint_rule):
    instance_json["policy"].pop("joint_team_per_department", None)
    if joint_rule is not None:
        instance_json["policy"]["joint_team_per_department"] = joint_rule
    schedule_json["visits"][0]["inspectors"] = ["I1", "I3"]
    return run(instance_json, schedule_json)


def test_joint_visit_needs_joint_team_per_department(instance_json, schedule_json):
    # V1 is joint (SAMR + FIRE): with the Xi'an rule one officer each is enough.
    assert _one_officer_each(instance_json, schedule_json, 1).ok
    # Without the policy field a task needs its own team (version 1 meaning).
    report = _one_officer_each(instance_json, schedule_json, None)
    assert {v.ids for v in report.violations} == {("V1", "T1"), ("V1", "T2")}
    # The rule never raises a need above the task's team.
    instance_json["tasks"][0]["team"] = 1
    instance_json["tasks"][1]["team"] = 1
    assert _one_officer_each(instance_json, schedule_json, 3).ok


def test_department_alone_still_sends_its_team(instance_json, schedule_json):
    instance_json["policy"]["joint_team_per_department"] = 1
    schedule_json["visits"][1]["inspectors"] = ["I1", "I3"]  # V2 is SAMR alone, team 2
    report = run(instance_json, schedule_json)
    assert [(v.rule, v.ids) for v in report.violations] == [("team_size", ("V2", "T3"))]


def test_joint_visit_still_needs_min_team(instance_json, schedule_json):
    instance_json["policy"]["joint_team_per_department"] = 1
    instance_json["inspectors"][0]["also_for"] = ["FIRE"]
    schedule_json["visits"][0]["inspectors"] = ["I1"]  # serves both, but alone
    report = run(instance_json, schedule_json)
    assert [(v.rule, v.ids) for v in report.violations] == [("team_size", ("V1",))]


def test_also_for_counts_for_the_other_department(instance_json, schedule_json):
    # I1 (SAMR) is also certified for FIRE items (综合执法).
    instance_json["inspectors"][0]["also_for"] = ["FIRE"]
    schedule_json["visits"][0]["inspectors"] = ["I1", "I2", "I3"]
    assert run(instance_json, schedule_json).ok
    instance_json["inspectors"][0]["also_for"] = []
    assert rules(run(instance_json, schedule_json)) == {"team_size"}


def test_also_for_unknown_department_is_refused(instance_json):
    instance_json["inspectors"][0]["also_for"] = ["NOPE"]
    with pytest.raises(ValueError, match="also_for"):
        Instance.from_json(instance_json)


def test_inspector_leaves_when_its_departments_are_done(instance_json, schedule_json):
    # V1 10:00–11:00: SAMR needs 60 minutes, FIRE 45. The FIRE officers leave at 10:45 and
    # may start a visit next door (E2, a few hundred metres away) at 10:50.
    instance_json["tasks"][2]["department"] = "FIRE"
    schedule_json["visits"][1].update(start="10:50", end="11:20", inspectors=["I3", "I4"])
    report = run(instance_json, schedule_json)
    assert report.ok, report.violations
    # The SAMR officers stay until 11:00: the same move for them overlaps.
    schedule_json["visits"][1]["inspectors"] = ["I1", "I2"]
    instance_json["tasks"][2]["department"] = "SAMR"
    report = run(instance_json, schedule_json)
    assert rules(report) == {"inspector_timeline"}
    assert all("重叠" in v.message for v in report.violations)


def test_on_site_minutes_use_the_on_site_interval(instance_json, schedule_json):
    report = run(instance_json, schedule_json)
    # V1: I1, I2 60 min, I3, I4 45 min; V2: I1, I2 30 min.
    assert report.metrics["inspector_minutes_on_site"] == 2 * 60 + 2 * 45 + 2 * 30
    assert report.metrics["inspector_minutes_travel"] > 0


def test_cross_district_inspector_visits(instance_json, schedule_json):
    for person in instance_json["inspectors"]:
        person["district"] = "610104"
    instance_json["inspectors"][3]["district"] = "610113"
    report = run(instance_json, schedule_json)
    assert report.metrics["cross_district_inspector_visits"] == 1
    assert report.metrics["inspector_visits"] == 6


def test_version_1_files_read_as_version_2(instance_json, schedule_json):
    assert instance_json["schema"] == "checkonce.instance/1"
    instance = Instance.from_json(instance_json)
    assert instance.policy.joint_team_per_department is None
    assert all(i.also_for == () for i in instance.inspectors)
    out = instance.to_json()
    assert out["schema"] == "checkonce.instance/2"
    assert "joint_team_per_department" not in out["policy"]
    assert Instance.from_json(out) == instance
    schedule = Schedule.from_json(schedule_json)
    assert Schedule.from_json(schedule.to_json()).to_json()["schema"] == "checkonce.schedule/2"


def test_unknown_schema_is_refused(instance_json):
    instance_json["schema"] = "checkonce.instance/3"
    with pytest.raises(ValueError, match="schema"):
        Instance.from_json(instance_json)


def test_department_district_days(instance_json, schedule_json):
    # V1 (SAMR + FIRE) and V2 (SAMR) on 3 March, both in 610104: SAMR and FIRE work there
    # that day — two department-district-days.
    assert run(instance_json, schedule_json).metrics["department_district_days"] == 2
    schedule_json["visits"][1]["day"] = "2026-03-04"
    assert run(instance_json, schedule_json).metrics["department_district_days"] == 3


# ---------------------------------------------------------------- properties of the v2 rules

PEOPLE = {"I1": "SAMR", "I2": "SAMR", "I3": "FIRE", "I4": "FIRE"}


@settings(max_examples=80, deadline=None)
@given(
    team=st.sets(st.sampled_from(sorted(PEOPLE)), min_size=1),
    also_fire=st.sets(st.sampled_from(["I1", "I2"])),
    joint_rule=st.sampled_from([None, 1, 2]),
    teams=st.tuples(st.integers(1, 3), st.integers(1, 3)),
)
def test_team_size_property(team, also_fire, joint_rule, teams):
    """Rule 3 on the joint visit V1 (T1 SAMR, T2 FIRE): a violation exactly when a task has
    fewer serving inspectors than its need, or the team is below min_team."""
    instance_json, schedule_json = copy.deepcopy(BASE_INSTANCE), copy.deepcopy(BASE_SCHEDULE)
    for person in instance_json["inspectors"]:
        person["also_for"] = ["FIRE"] if person["id"] in also_fire else []
    if joint_rule is not None:
        instance_json["policy"]["joint_team_per_department"] = joint_rule
    instance_json["tasks"][0]["team"], instance_json["tasks"][1]["team"] = teams
    schedule_json["visits"][0]["inspectors"] = sorted(team)
    report = run(instance_json, schedule_json)
    v1 = [v for v in report.violations if v.rule == "team_size" and v.ids[0] == "V1"]

    def need(t: int) -> int:
        return t if joint_rule is None else min(t, joint_rule)

    samr = sum(1 for i in team if PEOPLE[i] == "SAMR")
    fire = sum(1 for i in team if PEOPLE[i] == "FIRE" or i in also_fire)
    expected = {
        *({("V1", "T1")} if samr < need(teams[0]) else set()),
        *({("V1", "T2")} if fire < need(teams[1]) else set()),
        *({("V1",)} if len(team) < 2 else set()),
    }
    assert {v.ids for v in v1} == expected


@settings(max_examples=60, deadline=None)
@given(gap=st.integers(-20, 40), fire_minutes=st.sampled_from([15, 30, 45, 60]))
def test_leaving_early_property(gap, fire_minutes):
    """Rule 5: a FIRE officer of V1 (10:00, SAMR 60 min) may start the next visit next door
    once FIRE is done plus the travel time, whatever the visit's end."""
    instance_json, schedule_json = copy.deepcopy(BASE_INSTANCE), copy.deepcopy(BASE_SCHEDULE)
    instance_json["tasks"][1]["minutes"] = fire_minutes
    instance_json["tasks"][2]["department"] = "FIRE"
    start = 10 * 60 + fire_minutes + gap
    schedule_json["visits"][1].update(
        start=f"{start // 60:02d}:{start % 60:02d}",
        end=f"{(start + 30) // 60:02d}:{(start + 30) % 60:02d}",
        inspectors=["I3", "I4"],
    )
    instance = Instance.from_json(instance_json)
    e1, e2 = instance.enterprises[0], instance.enterprises[1]
    from checkonce.scheduler.verify import great_circle_km

    travel = great_circle_km(e1.lat, e1.lon, e2.lat, e2.lon) * 1.3 / 25 * 60
    report = verify(instance, Schedule.from_json(schedule_json))
    broken = any(v.rule == "inspector_timeline" for v in report.violations)
    assert broken == (gap < travel - 1e-6)


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(st.sampled_from(["random", "key", "triggered"]), min_size=3, max_size=3))
def test_weekly_cap_property(kinds):
    """Rule 7: three visits in one week break the weekly cap of 2 exactly when all three
    hold a routine task."""
    instance_json, schedule_json = copy.deepcopy(BASE_INSTANCE), copy.deepcopy(BASE_SCHEDULE)
    report = _burst(instance_json, schedule_json, kinds)
    routine = sum(1 for k in kinds if k != "triggered")
    assert ("caps" in rules(report)) == (routine > 2)
