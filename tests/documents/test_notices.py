"""The notice goes through the notification channel with its document linked; the default
channel is an outbox table a test can read; unannounced visits are never sent ahead; the CMPP
adapter's pure parts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from checkonce.config import Settings
from checkonce.documents import notices, service, sms
from checkonce.documents.models import OutboxMessage
from checkonce.errors import CheckOnceError
from checkonce.jobs.channels import make_channel
from checkonce.jobs.models import NotifiedVisit
from tests import factories as f
from tests.documents.conftest import BASE_URL, inspector_actor

DAY = dt.date(2026, 11, 18)


@pytest.fixture
def announced(db_session):
    firm = f.enterprise(db_session, name="雁塔小吃店")
    team = [f.inspector(db_session, "SAMR"), f.inspector(db_session, "SAMR")]
    visit = f.visit_with_tasks(db_session, firm, team, day=DAY, state="scheduled")
    visit.announced = True
    db_session.flush()
    doc = service.generate(
        db_session=db_session,
        visit_id=visit.id,
        kind="notice",
        actor=inspector_actor(team[0]),
        base_url=BASE_URL,
    )[0]
    return {"visit": visit, "doc": doc, "team": team}


def send(session, scene, today=dt.date(2026, 11, 13), channel="outbox"):
    return notices.send_notice(
        db_session=session,
        document_id=scene["doc"].id,
        actor=inspector_actor(scene["team"][0]),
        base_url=BASE_URL,
        channel_spec=channel,
        today=today,
        policy=f.policy(),
        calendar=f.calendar(),
    )


def test_default_channel_is_the_outbox():
    assert Settings(env="dev").notification_channel == "outbox"
    assert make_channel("outbox").name == "outbox"


def test_notice_lands_in_the_outbox_with_its_link(db_session, announced):
    notification = send(db_session, announced)
    assert notification.status == "sent" and notification.channel == "outbox"
    message = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.notification_id == notification.id)
    ).one()
    doc = announced["doc"]
    assert message.document_id == doc.id and message.status == "queued"
    assert message.link == f"{BASE_URL}/d/{doc.verify_token}"
    assert doc.doc_no in message.body and "雁塔小吃店" in message.body
    # The nightly notice job will not tell the enterprise of this visit again.
    assert (
        db_session.scalar(
            select(NotifiedVisit.notification_id).where(
                NotifiedVisit.visit_code == announced["visit"].code
            )
        )
        == notification.id
    )


def test_not_before_the_notice_period(db_session, announced):
    with pytest.raises(CheckOnceError, match="尚未进入告知期"):
        send(db_session, announced, today=dt.date(2026, 11, 10))


def test_unannounced_visit_is_never_sent_ahead(db_session, announced):
    announced["visit"].announced = False
    with pytest.raises(CheckOnceError, match="不事先告知"):
        send(db_session, announced)
    assert db_session.scalars(select(OutboxMessage)).all() == []


def test_cmpp_channel_without_a_transport_fails_clearly(db_session, announced):
    notification = send(db_session, announced, channel="cmpp")
    assert notification.status == "failed" and "CmppTransport" in notification.error


def test_cmpp_channel_submits_text_and_link(db_session, announced):
    sent = []

    class Transport:
        def submit(self, mobile, text):
            sent.append((mobile, text))
            return [1]

    channel = sms.CmppSmsChannel(transport=Transport(), recipient_for=lambda _id: "13800000000")
    notification = send(db_session, announced, channel="log")
    channel.deliver(notification)
    assert sent[0][0] == "13800000000" and f"/d/{announced['doc'].verify_token}" in sent[0][1]


def test_cmpp_authenticator_and_segments():
    auth = sms.authenticator_source("901234", "secret", "1204093015")
    assert len(auth) == 16
    assert sms.ucs2_segments("检查通知", 7) == ["检查通知".encode("utf-16-be")]
    long = "检" * 150
    parts = sms.ucs2_segments(long, 7)
    assert len(parts) == 3
    assert parts[0][:6] == bytes([5, 0, 3, 7, 3, 1]) and len(parts[0]) == 6 + 67 * 2
    assert b"".join(p[6:] for p in parts).decode("utf-16-be") == long


def test_nightly_notice_job_links_each_visits_notice(db_session, announced):
    """The evening job that tells enterprises of their announced visits generates each
    visit's 行政检查通知书 and links it; the outbox message carries the link."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from checkonce.jobs.models import Notification
    from checkonce.jobs.registry import JobContext
    from checkonce.visits.scheduled import send_visit_notices

    visit = announced["visit"]
    visit.schedule.state = "published"
    db_session.flush()
    settings = Settings(
        env="test", secret_key="s" * 40, public_url=BASE_URL, notification_channel="outbox"
    )
    day = dt.date(2026, 11, 13)
    ctx = JobContext(
        db_session=db_session,
        now=dt.datetime(2026, 11, 12, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
        today=dt.date(2026, 11, 12),
        settings=settings,
        policy=f.policy(),
        calendar=f.calendar(),
    )
    counts = send_visit_notices(ctx, day)
    assert counts["notices_sent"] >= 1
    notification = db_session.scalars(
        select(Notification).where(Notification.enterprise_id == visit.enterprise_id)
    ).one()
    doc = announced["doc"]  # the notice generated before: same number, a new revision
    assert [d["doc_no"] for d in notification.payload["documents"]] == [doc.doc_no]
    message = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.notification_id == notification.id)
    ).one()
    assert message.link == f"{BASE_URL}/d/{doc.verify_token}" and message.document_id == doc.id
