"""The weekly certificate watch finds exactly the officers whose certificate ends within
30 days, raises one alert per certificate end date, and runs on holidays too."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from checkonce.jobs.models import CertificateAlert
from tests import factories as f
from tests.jobs.conftest import CALENDAR, at

MONDAY = dt.date(2026, 11, 23)


def officer(session, valid_to: dt.date, **overrides):
    return f.inspector(
        session,
        "SAMR",
        certificate_valid_from=dt.date(2021, 1, 1),
        certificate_valid_to=valid_to,
        **overrides,
    )


def test_certificate_expiry_finds_the_right_inspectors(db_session, run):
    s = db_session
    soon = officer(s, MONDAY + dt.timedelta(days=10))
    today = officer(s, MONDAY)
    edge = officer(s, MONDAY + dt.timedelta(days=30))
    officer(s, MONDAY + dt.timedelta(days=31))  # outside the window
    officer(s, MONDAY - dt.timedelta(days=1))  # already expired: not "expiring"
    officer(s, MONDAY + dt.timedelta(days=5), status="suspended")  # never assigned
    f.inspector(
        s,
        "SAMR",
        role="auxiliary",
        certificate_no=None,
        certificate_valid_from=None,
        certificate_valid_to=None,
    )

    result = run("certificate_expiry", at(f"{MONDAY}T08:00"))

    assert result.status == "ok", result.error
    alerts = {a.inspector_id: a for a in s.scalars(select(CertificateAlert))}
    assert set(alerts) == {soon.id, today.id, edge.id}
    assert {i: a.days_left for i, a in alerts.items()} == {soon.id: 10, today.id: 0, edge.id: 30}
    assert all(
        a.department_id == soon.department_id and a.raised_on == MONDAY for a in alerts.values()
    )
    assert result.counts == {"expiring": 3, "alerts_raised": 3}

    # A week later: the same certificates raise nothing new; a renewed one raises again
    # when its new end date comes into the window.
    soon.certificate_valid_to = MONDAY + dt.timedelta(days=35)
    s.flush()
    later = run("certificate_expiry", at(f"{MONDAY + dt.timedelta(days=7)}T08:00"))
    # Window of Nov 30: edge (Dec 23), the 31-day one (Dec 24) and the renewed one (Dec 28).
    assert later.counts == {"expiring": 3, "alerts_raised": 2}
    renewed = s.scalars(
        select(CertificateAlert)
        .where(CertificateAlert.inspector_id == soon.id)
        .order_by(CertificateAlert.id)
    ).all()
    assert [a.certificate_valid_to for a in renewed] == [
        MONDAY + dt.timedelta(days=10),
        MONDAY + dt.timedelta(days=35),
    ]


def test_certificate_expiry_runs_on_a_holiday(db_session, run):
    # 2026-10-05 is a Monday of the National Day holiday: certificates end on calendar days.
    assert not CALENDAR.is_workday(dt.date(2026, 10, 5))
    officer(db_session, dt.date(2026, 10, 20))
    result = run("certificate_expiry", at("2026-10-05T08:00"))
    assert result.status == "ok" and result.counts["alerts_raised"] == 1
