"""The draw ceremony on a fixed clock, for tests: commit on a Monday morning in Xi'an, enter
the beacon (the next trading day's close) after 15:30 that day, run."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from checkonce.sampling import service as draws
from tests import factories as f

XIAN = ZoneInfo("Asia/Shanghai")
BOSS = f.coordinator("张三")
DEPUTY = f.coordinator("赵六")
LEGAL = f.actor("legal", "王五")
# Monday 4 January 2027, 10:00 in Xi'an; the beacon day is Tuesday 5 January.
COMMIT_AT = dt.datetime(2027, 1, 4, 10, 0, tzinfo=XIAN)
BEACON_DAY = dt.date(2027, 1, 5)
AFTER_CLOSE = dt.datetime(2027, 1, 5, 16, 0, tzinfo=XIAN)
CLOSE = "3352.10"


def at(day: dt.date, hour: int = 16) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, 0), tzinfo=XIAN)


def commit(session, task_ids, *, now=COMMIT_AT, actor=BOSS, **kw):
    return draws.commit_draw(
        db_session=session,
        plan_task_ids=task_ids,
        actor=actor,
        policy=kw.pop("policy", None) or f.policy(),
        calendar=f.calendar(),
        now=now,
        **kw,
    )


def run(session, draw, *, value=CLOSE, now=None, actor=BOSS):
    """Enter the beacon after its day's close and run the draw."""
    now = now or at(draw.beacon_date)
    draws.record_beacon(
        db_session=session, draw_id=draw.id, value=value, actor=actor, policy=f.policy(), now=now
    )
    return draws.run_draw(
        db_session=session, draw_id=draw.id, actor=actor, policy=f.policy(), now=now
    )


def full_draw(session, task_ids, **kw):
    """Commit, beacon, run and publish; returns (draw, published JSON)."""
    draw = commit(session, task_ids, **kw)
    run(session, draw)
    return draw, draws.publish_draw(db_session=session, draw_id=draw.id, actor=BOSS)


def approve(session, draw, reason="总体漏登 3 家企业", *, now=None, requester=BOSS, approver=LEGAL):
    """Request a redraw of `draw` and approve it; returns the new draw."""
    request = draws.request_redraw(
        db_session=session, draw_id=draw.id, reason=reason, actor=requester, policy=f.policy()
    )
    return draws.approve_redraw(
        db_session=session,
        request_id=request.id,
        note="理由属实，同意重新抽取",
        actor=approver,
        policy=f.policy(),
        calendar=f.calendar(),
        now=now or at(draw.beacon_date, 17),
    )
