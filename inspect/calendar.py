"""Chinese working days: statutory holidays and 调休 make-up working days.

`chinesecalendar` knows the published arrangements up to the year of its release. Each year
the State Council publishes the next year's arrangement around November; until a library
release carries it, coordinators put it in an override file `data/calendar/YYYY.toml`
(format in data/calendar/README.md). An override file wins over the library for its year.
A year that neither source knows raises CalendarUnknownYear — never a guess.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import chinese_calendar

from checkonce.errors import CalendarUnknownYear, CheckOnceError


@dataclass(frozen=True)
class YearOverride:
    """One year's arrangement as published (or provisional, statutory holidays only)."""

    year: int
    status: str
    source: str
    holidays: dict[dt.date, str] = field(default_factory=dict)
    workdays: frozenset[dt.date] = frozenset()

    def is_workday(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


def load_override(path: Path) -> YearOverride:
    """Read and check one override file; any problem is a clear error naming the file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CheckOnceError(f"工作日历覆盖文件 {path} 无法读取：{exc}") from exc
    year = raw.get("year")
    if not isinstance(year, int) or path.stem != str(year):
        raise CheckOnceError(f"工作日历覆盖文件 {path}：year 应为 {path.stem}，实际 {year!r}")
    status = raw.get("status", "official")
    if status not in ("official", "provisional"):
        raise CheckOnceError(f"工作日历覆盖文件 {path}：status 只能是 official 或 provisional")

    def parse_day(value: object, what: str) -> dt.date:
        try:
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise CheckOnceError(
                f"工作日历覆盖文件 {path}：{what} 日期 {value!r} 无法识别"
            ) from exc
        if day.year != year:
            raise CheckOnceError(f"工作日历覆盖文件 {path}：{what} 日期 {day} 不在 {year} 年内")
        return day

    holidays: dict[dt.date, str] = {}
    for entry in raw.get("holidays", []):
        day = parse_day(entry.get("date") if isinstance(entry, dict) else entry, "节假日")
        holidays[day] = str(entry.get("name", "")) if isinstance(entry, dict) else ""
    workdays = set()
    for entry in raw.get("workdays", []):
        day = parse_day(entry.get("date") if isinstance(entry, dict) else entry, "调休上班日")
        if day.weekday() < 5:
            raise CheckOnceError(
                f"工作日历覆盖文件 {path}：调休上班日 {day} 是工作日（周一至周五），"
                "只应列出周末上班的日期"
            )
        workdays.add(day)
    both = sorted(set(holidays) & workdays)
    if both:
        raise CheckOnceError(f"工作日历覆盖文件 {path}：{both[0]} 同时被列为节假日和调休上班日")
    return YearOverride(year, status, str(raw.get("source", "")), holidays, frozenset(workdays))


class WorkCalendar:
    """Workdays of mainland China, from chinesecalendar and the override files in `override_dir`."""

    def __init__(self, override_dir: Path | None = None) -> None:
        self._overrides: dict[int, YearOverride] = {}
        self._digests: dict[int, str] = {}
        if override_dir is not None and override_dir.is_dir():
            for path in sorted(override_dir.glob("[0-9][0-9][0-9][0-9].toml")):
                override = load_override(path)
                self._overrides[override.year] = override
                self._digests[override.year] = hashlib.sha256(path.read_bytes()).hexdigest()

    def year_record(self, year: int) -> dict[str, str | int | None]:
        """What a schedule records of the calendar year it used: the source, its status
        (official, or provisional until the State Council notice is loaded), and which file
        (name and SHA-256) or library release — so that replacing the file shows."""
        source = self.source(year)
        if year in self._overrides:
            return {
                "year": year,
                "source": "override",
                "status": self._overrides[year].status,
                "file": f"{year}.toml",
                "sha256": self._digests[year],
            }
        return {
            "year": year,
            "source": source,
            "status": "official",
            "file": None,
            "sha256": None,
            "library": getattr(chinese_calendar, "__version__", ""),
        }

    def years_record(self, start: dt.date, end: dt.date) -> list[dict[str, str | int | None]]:
        """`year_record` of every year from `start` to `end`."""
        return [self.year_record(year) for year in range(start.year, end.year + 1)]

    @classmethod
    def from_settings(cls) -> WorkCalendar:
        from checkonce.config import get_settings

        return cls(get_settings().jurisdiction_dir / "calendar")

    def source(self, year: int) -> str:
        """Where the year's arrangement comes from: 'override:official',
        'override:provisional' or 'chinesecalendar'. Raises for an unknown year."""
        if year in self._overrides:
            return f"override:{self._overrides[year].status}"
        try:
            chinese_calendar.is_workday(dt.date(year, 6, 1))
        except NotImplementedError:
            raise CalendarUnknownYear(
                f"不知道 {year} 年的节假日和调休安排：chinesecalendar 未收录该年，"
                f"也没有覆盖文件 calendar/{year}.toml。请按国务院办公厅当年的放假通知添加覆盖文件。"
            ) from None
        return "chinesecalendar"

    def is_provisional(self, year: int) -> bool:
        return self.source(year) == "override:provisional"

    def is_workday(self, day: dt.date) -> bool:
        """Whether `day` is a working day (make-up 调休 Saturdays and Sundays included)."""
        override = self._overrides.get(day.year)
        if override is not None:
            return override.is_workday(day)
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            self.source(day.year)  # raises the clear error
            raise

    def workdays(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """All workdays from `start` to `end`, both inclusive."""
        days = []
        day = start
        while day <= end:
            if self.is_workday(day):
                days.append(day)
            day += dt.timedelta(days=1)
        return days

    def add_workdays(self, day: dt.date, n: int) -> dt.date:
        """The n-th workday after `day` (n ≥ 1); `day` itself is not counted."""
        if n < 1:
            raise ValueError("n must be at least 1")
        count = 0
        while count < n:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return day

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """How many workdays lie after `start` up to and including `end`."""
        return len(self.workdays(start + dt.timedelta(days=1), end)) if end > start else 0
