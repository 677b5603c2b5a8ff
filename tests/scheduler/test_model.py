"""Interchange dataclasses: JSON round trip and clear refusals of bad input."""

from __future__ import annotations

import pytest

from checkonce.scheduler.model import Instance, Schedule, format_clock, parse_clock


def test_instance_round_trip(instance_json):
    instance = Instance.from_json(instance_json)
    again = Instance.from_json(instance.to_json())
    assert again == instance
    assert instance.day_start == 9 * 60 and instance.day_end == 17 * 60 + 30
    assert instance.enterprises[0].open == (8 * 60 + 30, 18 * 60)


def test_schedule_round_trip(schedule_json):
    schedule = Schedule.from_json(schedule_json)
    assert Schedule.from_json(schedule.to_json()) == schedule
    assert schedule.to_json()["visits"][0]["start"] == "10:00"


def test_generated_instance_round_trip(tiny_instance):
    assert Instance.from_json(tiny_instance.to_json()) == tiny_instance


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.update(schema="other/1"), "schema"),
        (lambda d: d["tasks"][0].update(kind="surprise"), "T1"),
        (lambda d: d["tasks"][0].update(window=["2026-03-09", "2026-03-02"]), "时间窗"),
        (lambda d: d["tasks"][0].update(enterprise="NOPE"), "NOPE"),
        (lambda d: d["tasks"][1].update(id="T1"), "重复"),
        (lambda d: d["enterprises"][0].update(open=["8:30", "18:00"]), "HH:MM"),
        (lambda d: d["enterprises"][0].update(risk="E"), "A/B/C/D"),
        (
            lambda d: d["inspectors"][0].update(certificate_valid=["2025-13-01", "2026-01-01"]),
            "日期",
        ),
        (lambda d: d["tasks"][0].pop("minutes"), "minutes"),
        (lambda d: d.update(workdays=["2026-03-03", "2026-03-02"]), "升序"),
        (lambda d: d["conflicts"].append({"inspector": "I9", "enterprise": "E1"}), "回避"),
    ],
)
def test_bad_instance_is_refused_with_a_clear_message(instance_json, mutate, fragment):
    mutate(instance_json)
    with pytest.raises(ValueError, match=fragment):
        Instance.from_json(instance_json)


def test_clock_helpers():
    assert parse_clock("17:30", "x") == 1050
    assert format_clock(1050) == "17:30"
    with pytest.raises(ValueError):
        parse_clock("25:00", "x")
