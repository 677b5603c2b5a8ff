"""The audit trail on the pages: the public checkpoints (a section of /public, /public/audit,
and the JSON endpoint built from its own public schema), the daily checkpoint job, and the
coordinator's enterprise finder and timeline, whose views are recorded staff reads."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor, Channel
from checkonce.audit.models import AuditCheckpoint, AuditRecord
from checkonce.audit.scheduled import audit_checkpoint
from checkonce.audit.service import record
from checkonce.jobs.registry import JobContext, JobSkipped, load_jobs
from checkonce.registry.models import Enterprise

CLERK = Actor(user_id=None, username="clerk", role="coordinator", channel=Channel.API)


def _job(db_session, day=dt.date(2027, 3, 3)) -> JobContext:
    now = dt.datetime.combine(day, dt.time(23, 50), tzinfo=dt.UTC)
    return JobContext(
        db_session=db_session, now=now, today=day, settings=None, policy=None, calendar=None
    )


def _last_seq(db) -> int:
    return db.scalar(select(func.max(AuditRecord.seq))) or 0


def test_the_daily_job_publishes_the_head_once_there_is_something_new(db_session):
    spec = load_jobs()["audit_checkpoint"]
    assert not spec.workdays_only and spec.trigger == {"hour": 23, "minute": 50}
    with pytest.raises(JobSkipped):
        audit_checkpoint(_job(db_session))  # an empty trail
    record(db_session, actor=CLERK, action=AuditAction.LOGIN, object_type="user", object_id=1)
    counts = audit_checkpoint(_job(db_session))
    (cp,) = db_session.scalars(select(AuditCheckpoint)).all()
    assert counts == {"seq": cp.seq} and cp.day == dt.date(2027, 3, 3)
    published = db_session.get(AuditRecord, cp.seq + 1)
    assert published.action == "audit.checkpoint" and published.actor_username == "audit_checkpoint"
    with pytest.raises(JobSkipped, match="没有新的"):
        audit_checkpoint(_job(db_session))  # only its own record since
    record(db_session, actor=CLERK, action=AuditAction.LOGOUT, object_type="user", object_id=1)
    audit_checkpoint(_job(db_session, dt.date(2027, 3, 4)))
    assert db_session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 2


def test_checkpoints_are_public(client, db_session):
    record(db_session, actor=CLERK, action=AuditAction.LOGIN, object_type="user", object_id=1)
    audit_checkpoint(_job(db_session))
    cp = db_session.scalars(select(AuditCheckpoint)).one()
    body = client.get("/api/v1/public/audit/checkpoints").json()
    assert body["total"] == 1
    assert body["items"] == [
        {
            "seq": cp.seq,
            "hash": cp.hash,
            "alg": "sha256",
            "day": "2027-03-03",
            "published_at": body["items"][0]["published_at"],
        }
    ]
    home = client.get("/public")
    assert home.status_code == 200 and cp.hash in home.text and 'href="/public/audit"' in home.text
    page = client.get("/public/audit")
    assert page.status_code == 200 and cp.hash in page.text and "chain.py" in page.text
    english = client.get("/public/audit?lang=en")
    assert "Audit trail checkpoints" in english.text


def test_the_coordinator_finds_an_enterprise_and_opens_its_timeline(login, users, db_session):
    firm = db_session.get(Enterprise, users["enterprise"].enterprise_id)
    client = login("coordinator")
    before = _last_seq(db_session)
    found = client.get("/coordinator/enterprises", params={"q": firm.name})
    assert found.status_code == 200
    link = f"/coordinator/enterprises/{firm.credit_code}/timeline"
    assert link in found.text
    (searched,) = db_session.scalars(select(AuditRecord).where(AuditRecord.seq > before)).all()
    assert (searched.action, searched.channel, searched.enterprise_id) == (
        "data.read",
        "web",
        firm.id,
    )
    # what the timeline holds for this firm: only audit records so far (its account's
    # creation, the search above)
    holds = db_session.scalar(
        select(func.count()).select_from(AuditRecord).where(AuditRecord.enterprise_id == firm.id)
    )
    page = client.get(link)
    assert page.status_code == 200 and firm.name in page.text
    # the search above shows on the timeline as a look at its records, by whom
    assert "查阅企业登记信息" in page.text and "coordinator:coord1" in page.text
    viewed = db_session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc())).first()
    assert (viewed.object_type, viewed.enterprise_id) == ("timeline", firm.id)
    assert json.loads(viewed.body)["detail"] == {"events": holds}
    assert "Enterprise timeline" in client.get(link + "?lang=en").text
    missing = client.get("/coordinator/enterprises/91610113XXXXXXXXXX/timeline")
    assert missing.status_code == 404


def test_only_coordinators_and_admins_open_timelines(login, users, db_session):
    firm = db_session.get(Enterprise, users["enterprise"].enterprise_id)
    link = f"/coordinator/enterprises/{firm.credit_code}/timeline"
    assert login("admin").get(link).status_code == 200
    for role in ("bureau", "inspector", "enterprise"):
        assert login(role).get(link).status_code == 403
    assert login(None).get(link, follow_redirects=False).status_code == 303
