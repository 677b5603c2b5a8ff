"""Notice to the enterprise (检查告知): when an enterprise may see a visit.

DESIGN "Rules": announced visits appear to the enterprise at least
`notice.announce_workdays_ahead` workdays ahead; unannounced random checks (双随机抽查不事先
告知) appear only once the team has checked in. A visit is announced only when every one
of its tasks is: one unannounced task keeps the whole joint visit unannounced, otherwise
the notice would tip off the random check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from checkonce.calendar import WorkCalendar

# Visit states in which the team has been inside the enterprise.
ENTERED_STATES = ("checked_in", "completed")


def visit_is_announced(task_announced: Iterable[bool]) -> bool:
    """A joint visit is announced only if all of its tasks are (and it has some)."""
    flags = list(task_announced)
    return bool(flags) and all(flags)


def notice_date(calendar: WorkCalendar, day: dt.date, workdays_ahead: int) -> dt.date:
    """The first date on which a visit on `day` may be shown: the `workdays_ahead`-th
    workday before `day`, so that at least that many workdays lie after it up to the visit
    (weekends, holidays and 调休 make-up days as the calendar says)."""
    if workdays_ahead <= 0:
        return day
    date, counted = day, 0
    while counted < workdays_ahead:
        date -= dt.timedelta(days=1)
        if calendar.is_workday(date):
            counted += 1
    return date


def visible_to_enterprise(
    *,
    announced: bool,
    state: str,
    day: dt.date,
    today: dt.date,
    calendar: WorkCalendar,
    workdays_ahead: int,
) -> bool:
    """Whether the inspected enterprise may see the visit on `today`."""
    if state in ENTERED_STATES:
        return True
    return announced and today >= notice_date(calendar, day, workdays_ahead)


def visible_until(calendar: WorkCalendar, today: dt.date, workdays_ahead: int) -> dt.date:
    """The last visit day an enterprise may already see today (notice dates only grow
    with the visit day, so the visible days are exactly those up to this one)."""
    day = today
    while notice_date(calendar, day + dt.timedelta(days=1), workdays_ahead) <= today:
        day += dt.timedelta(days=1)
    return day
