"""Working calendar: 调休 make-up days from chinesecalendar, override files, unknown years."""

import datetime as dt
from pathlib import Path

import pytest

from checkonce.calendar import WorkCalendar
from checkonce.config import packaged_data_dir
from checkonce.errors import CalendarUnknownYear, CheckOnceError

D = dt.date.fromisoformat


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar(None)


@pytest.mark.parametrize(
    "day",
    [
        "2025-01-26",
        "2025-02-08",
        "2025-04-27",
        "2025-09-28",
        "2025-10-11",
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ],
)
def test_makeup_weekend_days_are_workdays(calendar, day):
    assert D(day).weekday() >= 5
    assert calendar.is_workday(D(day))


@pytest.mark.parametrize("day", ["2025-01-29", "2025-10-01", "2026-02-17", "2026-10-05"])
def test_holidays_on_weekdays_are_not_workdays(calendar, day):
    assert D(day).weekday() < 5
    assert not calendar.is_workday(D(day))


def test_spring_festival_2026_workday_count(calendar):
    # Feb 2026: 20 weekdays; the holiday 15–23 Feb takes 6 of them (16–20, 23);
    # the make-up Saturdays 14 and 28 Feb add 2.
    assert len(calendar.workdays(D("2026-02-01"), D("2026-02-28"))) == 20 - 6 + 2


def test_add_workdays_crosses_national_day(calendar):
    # 30 Sep 2026 (Wed) + 1 workday: 1–7 Oct are holidays, 8 Oct (Thu) is the next workday.
    assert calendar.add_workdays(D("2026-09-30"), 1) == D("2026-10-08")


def test_unknown_year_names_the_year(calendar):
    with pytest.raises(CalendarUnknownYear) as err:
        calendar.is_workday(D("2031-03-03"))
    assert "2031" in err.value.message
    with pytest.raises(CalendarUnknownYear):
        calendar.workdays(D("2030-12-30"), D("2031-01-02"))


def write_override(folder: Path, text: str, year: int = 2031) -> Path:
    path = folder / f"{year}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_override_year_with_holidays_and_makeup_days(tmp_path):
    write_override(
        tmp_path,
        """year = 2031
status = "official"
source = "test"
holidays = [{date = "2031-01-01", name = "元旦"}, {date = "2031-01-02", name = "元旦"}]
workdays = [{date = "2031-01-04", name = "元旦调休"}]
""",
    )
    cal = WorkCalendar(tmp_path)
    assert cal.source(2031) == "override:official"
    assert not cal.is_workday(D("2031-01-01"))  # Wed, holiday
    assert not cal.is_workday(D("2031-01-02"))
    assert cal.is_workday(D("2031-01-03"))  # Fri
    assert cal.is_workday(D("2031-01-04"))  # Sat, make-up
    assert not cal.is_workday(D("2031-01-05"))  # Sun
    assert cal.is_workday(D("2031-01-06"))  # Mon
    # the override knows nothing of 2032: still an error, not a guess
    with pytest.raises(CalendarUnknownYear):
        cal.is_workday(D("2032-01-05"))


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("year = 2030\n", "year 应为 2031"),
        ('year = 2031\nworkdays = ["2031-01-06"]\n', "只应列出周末"),
        ('year = 2031\nholidays = ["2030-12-31"]\n', "不在 2031 年内"),
        ('year = 2031\nholidays = ["2031-13-01"]\n', "无法识别"),
        ('year = 2031\nholidays = ["2031-01-04"]\nworkdays = ["2031-01-04"]\n', "同时"),
        ('year = 2031\nstatus = "maybe"\n', "status"),
        ("year = \n", "无法读取"),
    ],
)
def test_bad_override_files_are_refused_clearly(tmp_path, body, fragment):
    write_override(tmp_path, body)
    with pytest.raises(CheckOnceError) as err:
        WorkCalendar(tmp_path)
    assert fragment in err.value.message


def test_shipped_2027_override_is_loaded_and_marked():
    cal = WorkCalendar(packaged_data_dir() / "calendar")
    assert cal.source(2027).startswith("override:")
    assert not cal.is_workday(D("2027-01-01"))
    assert not cal.is_workday(D("2027-10-01"))
    assert cal.is_workday(D("2027-01-04"))
