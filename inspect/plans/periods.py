"""Plan periods: a year ("2027") or a quarter ("2027Q1")."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from checkonce.errors import CheckOnceError

_PERIOD = re.compile(r"^(\d{4})(?:Q([1-4]))?$")


@dataclass(frozen=True)
class Period:
    """A plan period with its first and last calendar day."""

    code: str
    year: int
    start: dt.date
    end: dt.date

    def contains(self, start: dt.date, end: dt.date) -> bool:
        return self.start <= start and end <= self.end

    def __str__(self) -> str:
        return self.code


def parse_period(text: str) -> Period:
    """Parse "2027" or "2027Q1" (case-insensitive); anything else is a clear error."""
    code = str(text).strip().upper()
    match = _PERIOD.match(code)
    if not match or not 2000 <= int(match.group(1)) <= 2100:
        raise CheckOnceError(f"计划期间 {text!r} 无法识别：应为年份（如 2027）或季度（如 2027Q1）")
    year = int(match.group(1))
    if match.group(2) is None:
        return Period(code, year, dt.date(year, 1, 1), dt.date(year, 12, 31))
    quarter = int(match.group(2))
    start = dt.date(year, 3 * quarter - 2, 1)
    end = (
        dt.date(year, 12, 31)
        if quarter == 4
        else dt.date(year, 3 * quarter + 1, 1) - dt.timedelta(days=1)
    )
    return Period(code, year, start, end)
