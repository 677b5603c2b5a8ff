"""One enterprise's timeline across departments, shared by `checkonce audit show` and the
coordinator's page: every kind of event appears, in time order, and nothing of another
enterprise; showing it is itself a recorded staff read."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import select

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor, Channel
from checkonce.audit.models import AuditRecord
from checkonce.audit.service import record, record_read
from checkonce.audit.timeline import EventKind, enterprise_timeline
from checkonce.errors import NotFound
from checkonce.findings import service as findings
from checkonce.findings.fees import service as fees
from checkonce.plans.models import PlanTaskEnterprise
from checkonce.visits.checkin_models import CheckIn, Entry
from tests import factories as f
from tests.findings.conftest import passed, tasks_of

DAY = dt.date(2026, 11, 18)
BUREAU = Actor(user_id=3, username="samr1", role="bureau", channel=Channel.WEB)


def history(s):
    """A firm named by a plan, visited jointly (SAMR + FIRE), entered by a SAMR officer,
    with a recorded result, a fee finding, a registry edit and a bureau's look at it; and
    another firm with a visit of its own."""
    firm = f.enterprise(s)
    other = f.enterprise(s)
    samr = [f.inspector(s, "SAMR") for _ in range(2)]
    fire = [f.inspector(s, "FIRE") for _ in range(2)]
    visit = f.visit_with_tasks(s, firm, samr + fire, day=DAY, items=("SAMR-SP-001", "FIRE-001"))
    f.visit_with_tasks(s, other, samr, day=DAY + dt.timedelta(days=1))
    food, _fire_task = tasks_of(s, visit)
    officer = Actor(
        user_id=None,
        username=samr[0].code,
        role="inspector",
        channel=Channel.API,
        inspector_id=samr[0].id,
    )
    s.add(PlanTaskEnterprise(task_id=food.plan_task_id, enterprise_id=firm.id))
    at = dt.datetime(2026, 11, 18, 1, 35, tzinfo=dt.UTC)  # 09:35 in Xi'an
    entry = Entry(
        enterprise_id=firm.id,
        day=DAY,
        visit_id=visit.id,
        department_id=samr[0].department_id,
        started_at=at,
    )
    s.add(entry)
    s.flush()
    s.add(
        CheckIn(
            inspector_id=samr[0].id,
            idempotency_key="tap-00000001",
            request_hash="0" * 64,
            enterprise_id=firm.id,
            entry_id=entry.id,
            visit_id=visit.id,
            outcome="planned",
            code_kid="k1",
            day=DAY,
            checked_in_at=at,
            client_time=at,
        )
    )
    s.flush()
    findings.record_result(
        db_session=s,
        visit_id=visit.id,
        inspection_task_id=food.id,
        inspector_id=samr[0].id,
        actor=officer,
        data=passed(s, food),
        policy=f.policy(),
        calendar=f.calendar(),
    )
    fees.record_fee_finding(
        db_session=s,
        data=fees.ChargeInput(
            unit="SEII",
            item="特种设备检验费",
            amount="400",
            charged_on=dt.date(2026, 11, 2),
            receipt_no="R-1",
        ),
        enterprise_id=firm.id,
        source="visit",
        visit_id=visit.id,
        actor=officer,
        today=DAY,
    )
    record(
        s,
        actor=Actor.system("admin-import", channel=Channel.CLI),
        action=AuditAction.ENTERPRISE_UPDATE,
        object_type="enterprise",
        object_id=firm.id,
        enterprise_id=firm.id,
        before={"risk_class": "B"},
        after={"risk_class": "C"},
    )
    record_read(s, actor=BUREAU, object_type="visit", object_id=visit.id, enterprise_id=firm.id)
    record_read(s, actor=BUREAU, object_type="visit", object_id=0, enterprise_id=other.id)
    s.flush()
    return firm, other, visit


def test_the_timeline_has_every_kind_in_order_and_only_its_enterprise(db_session):
    firm, other, visit = history(db_session)
    timeline = enterprise_timeline(db_session, credit_code=firm.credit_code.lower())
    assert timeline.enterprise.id == firm.id
    kinds = {e.kind for e in timeline.events}
    assert {
        EventKind.PLAN,
        EventKind.VISIT,
        EventKind.CHECKIN,
        EventKind.RESULT,
        EventKind.FEE,
        EventKind.ACTION,
        EventKind.READ,
    } <= kinds
    moments = [e.at for e in timeline.events]
    assert moments == sorted(moments)
    (seen,) = [e for e in timeline.events if e.kind is EventKind.VISIT]
    assert visit.code in seen.what and "联合检查" in seen.what and "、" in seen.department
    (entered,) = [e for e in timeline.events if e.kind is EventKind.CHECKIN]
    assert "计划内" in entered.what and entered.at.strftime("%H:%M") == "09:35"
    (looked,) = [e for e in timeline.events if e.kind is EventKind.READ]
    assert looked.who.startswith("bureau:samr1") and "查阅检查" in looked.what
    (fee,) = [e for e in timeline.events if e.kind is EventKind.FEE]
    assert "400" in fee.what
    assert timeline.count(EventKind.VISIT) == 1  # not the other firm's visit
    other_line = enterprise_timeline(db_session, credit_code=other.credit_code)
    assert other_line.count(EventKind.READ) == 1 and other_line.count(EventKind.CHECKIN) == 0
    with pytest.raises(NotFound):
        enterprise_timeline(db_session, credit_code="91610113XXXXXXXXXX")


def test_audit_show_prints_the_timeline_and_records_the_look(fresh_engine):
    from typer.testing import CliRunner

    from checkonce.cli import build_app
    from checkonce.config import get_settings, packaged_data_dir
    from checkonce.db import session_scope
    from checkonce.registry.reference import load_reference

    with session_scope(fresh_engine) as s:
        load_reference(s, packaged_data_dir())
        firm, _other, visit = history(s)
        code, visit_code = firm.credit_code, visit.code
    from tests.cli_accounts import cli_token, make_account

    url = fresh_engine.url.render_as_string(hide_password=False)
    old = os.environ.get("CHECKONCE_DATABASE_URL")
    os.environ["CHECKONCE_DATABASE_URL"] = url
    get_settings.cache_clear()
    make_account(url, "coord-cli", "coordinator")
    make_account(url, "samr-cli", "bureau", department="SAMR")
    show = ["audit", "show", "--enterprise", code]
    try:
        result = CliRunner().invoke(
            build_app(),
            show,
            env={"COLUMNS": "250", "CHECKONCE_TOKEN": cli_token(url, "coord-cli")},
        )
        refused = CliRunner().invoke(
            build_app(), show, env={"COLUMNS": "250", "CHECKONCE_TOKEN": cli_token(url, "samr-cli")}
        )
    finally:
        if old is None:
            os.environ.pop("CHECKONCE_DATABASE_URL", None)
        else:
            os.environ["CHECKONCE_DATABASE_URL"] = old
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "无权查看企业全程记录" in getattr(refused.exception, "message", ""), refused.output
    assert visit_code in result.output and "全程记录" in result.output
    assert "入企 1" in result.output and "查阅 1" in result.output
    with session_scope(fresh_engine) as s:
        last = s.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).one()
        assert (last.action, last.object_type, last.channel) == ("data.read", "timeline", "cli")
        assert last.actor_username == "coord-cli"
        assert last.object_id == code
