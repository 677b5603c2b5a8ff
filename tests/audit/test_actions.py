"""Each kind of action leaves exactly its audit record, in the same transaction: the right
actor, role and channel, the object, and before/after where something changed. (Plans:
tests/plans/test_states.py; check-ins through the API: tests/api/test_checkin_api.py; the
command line: the CLI tests.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from checkonce.audit.actions import ACTION_LABELS, AuditAction
from checkonce.auth.access import PermissionDenied
from checkonce.auth.models import User
from checkonce.auth.service import change_password, create_user, update_user
from checkonce.errors import CheckOnceError
from checkonce.findings import ratings
from checkonce.findings import service as results
from checkonce.findings.fees import service as fees
from checkonce.jobs.registry import JOBS, JobContext, scheduled_job
from checkonce.plans import service as plans
from checkonce.registry import edits
from checkonce.registry.imports import import_enterprises
from checkonce.visits import codes, reports
from tests import factories as f
from tests.findings.conftest import passed, tasks_of
from tests.jobs.conftest import at

PASSWORD = "correct horse battery"
TODAY = dt.date(2026, 11, 18)


def only(session, seq: int) -> dict:
    """The one record written since `seq`."""
    [record] = f.audit_since(session, seq)
    return record


def who(record: dict) -> tuple:
    return record["actor"]["username"], record["actor"]["role"], record["channel"]


def test_every_action_has_a_chinese_label():
    assert set(ACTION_LABELS) == set(AuditAction)


# --- accounts and keys -----------------------------------------------------------------------


def test_account_creation_and_password_change(db_session):
    s = db_session
    seq = f.audit_seq(s)
    admin = f.admin("root")
    user = create_user(
        db_session=s, actor=admin, username="coord9", password=PASSWORD, role="coordinator"
    )
    record = only(s, seq)
    assert record["action"] == "auth.user_create" and who(record) == ("root", "admin", "api")
    assert record["object"] == {"type": "user", "id": str(user.id)}
    assert record["after"]["username"] == "coord9" and record["after"]["role"] == "coordinator"
    assert "password_hash" not in record["after"] and PASSWORD not in str(record)

    with pytest.raises(PermissionDenied):
        create_user(
            db_session=s, actor=f.coordinator(), username="x" * 5, password=PASSWORD, role="admin"
        )
    seq = f.audit_seq(s)
    me = f.actor("coordinator", "coord9")
    change_password(
        db_session=s,
        user_id=user.id,
        current=PASSWORD,
        new=PASSWORD + "!",
        repeated=PASSWORD + "!",
        actor=me,
    )
    record = only(s, seq)
    assert record["action"] == "auth.password_change" and PASSWORD not in str(record)
    with pytest.raises(CheckOnceError):
        change_password(
            db_session=s, user_id=user.id, current="wrong", new="x", repeated="x", actor=me
        )
    assert f.audit_since(s, f.audit_seq(s)) == []


def test_account_changes_record_before_and_after(db_session):
    s = db_session
    root = create_user(
        db_session=s, actor=f.SETUP, username="root9", password=PASSWORD, role="admin"
    )
    user = create_user(
        db_session=s, actor=f.SETUP, username="li9", password=PASSWORD, role="coordinator"
    )
    admin = dataclasses.replace(f.actor("admin", "root9"), user_id=root.id)
    seq = f.audit_seq(s)
    update_user(db_session=s, actor=admin, username="li9", role="bureau", department="SAMR")
    update_user(db_session=s, actor=admin, username="li9", active=False)
    demoted, stopped = f.audit_since(s, seq)
    assert demoted["action"] == stopped["action"] == "auth.user_update"
    assert demoted["before"] == {"role": "coordinator", "department_id": None}
    assert demoted["after"] == {"role": "bureau", "department_id": f.department(s, "SAMR").id}
    assert (stopped["before"], stopped["after"]) == ({"active": True}, {"active": False})
    assert not user.active
    seq = f.audit_seq(s)
    update_user(db_session=s, actor=admin, username="li9", active=False)  # no change
    with pytest.raises(CheckOnceError, match="自己的管理员账号"):
        update_user(db_session=s, actor=admin, username="root9", active=False)
    with pytest.raises(PermissionDenied):
        update_user(db_session=s, actor=f.coordinator(), username="li9", active=True)
    assert f.audit_since(s, seq) == []


def test_signing_keys_are_recorded_without_their_secret(db_session):
    s = db_session
    seq = f.audit_seq(s)
    key = codes.create_key(db_session=s, actor=f.admin("root"))
    created = only(s, seq)
    assert created["action"] == "auth.key_create" and created["object"]["id"] == key.kid
    assert key.salt not in str(created)
    seq = f.audit_seq(s)
    codes.revoke_key(db_session=s, kid=key.kid, actor=f.admin("root"), reason="海报外泄")
    revoked = only(s, seq)
    assert (revoked["before"], revoked["after"]) == ({"revoked": False}, {"revoked": True})
    assert revoked["detail"] == {"reason": "海报外泄"}
    with pytest.raises(PermissionDenied):
        codes.create_key(db_session=s, actor=f.coordinator())


# --- registry --------------------------------------------------------------------------------


def test_enterprise_edits_record_only_what_changed(db_session):
    s = db_session
    firm = f.enterprise(s, risk_class="B", whitelisted=False)
    seq = f.audit_seq(s)
    edits.update_enterprise(
        db_session=s,
        actor=f.admin("root"),
        credit_code=firm.credit_code,
        changes={"risk_class": "D", "whitelisted": True, "active": False, "name": firm.name},
    )
    record = only(s, seq)
    assert record["action"] == "registry.enterprise_update"
    assert record["enterprise_id"] == firm.id and record["object"]["id"] == firm.credit_code
    assert record["before"] == {"risk_class": "B", "whitelisted": False, "active": True}
    assert record["after"] == {"risk_class": "D", "whitelisted": True, "active": False}
    # Saving the same values again changes nothing and records nothing.
    seq = f.audit_seq(s)
    edits.update_enterprise(
        db_session=s, actor=f.admin(), credit_code=firm.credit_code, changes={"risk_class": "D"}
    )
    assert f.audit_since(s, seq) == []
    edits.update_enterprise(
        db_session=s,
        actor=f.admin(),
        credit_code=firm.credit_code,
        changes={"industry_code": "retail", "district_adcode": "610113"},
    )
    assert only(s, seq)["after"] == {"industry_code": "retail"}
    with pytest.raises(CheckOnceError, match="未知行业"):
        edits.update_enterprise(
            db_session=s,
            actor=f.admin(),
            credit_code=firm.credit_code,
            changes={"industry_code": "spaceport"},
        )
    with pytest.raises(PermissionDenied):
        edits.update_enterprise(
            db_session=s,
            actor=f.bureau(s),
            credit_code=firm.credit_code,
            changes={"risk_class": "A"},
        )


def test_enterprise_edit_through_the_api(client, headers, db_session):
    firm = f.enterprise(db_session, risk_class="B")
    seq = f.audit_seq(db_session)
    answer = client.patch(
        f"/api/v1/enterprises/{firm.credit_code}",
        json={"risk_class": "C"},
        headers={**headers["admin"], "X-Request-ID": "req-registry-0001"},
    )
    assert answer.status_code == 200, answer.text
    record = only(db_session, seq)
    assert who(record) == ("admin1", "admin", "api")
    assert record["request_id"] == "req-registry-0001"
    assert (record["before"], record["after"]) == ({"risk_class": "B"}, {"risk_class": "C"})
    refused = client.patch(
        f"/api/v1/enterprises/{firm.credit_code}",
        json={"risk_class": "A"},
        headers=headers["coordinator"],
    )
    assert refused.status_code == 403 and f.audit_since(db_session, seq + 1) == []


def test_inspector_certificate_and_conflicts(db_session):
    s = db_session
    person = f.inspector(s, "SAMR")
    firm = f.enterprise(s)
    seq = f.audit_seq(s)
    edits.update_inspector(
        db_session=s,
        actor=f.admin("root"),
        code=person.code,
        changes={"certificate_valid_to": dt.date(2030, 6, 30)},
    )
    record = only(s, seq)
    assert record["action"] == "registry.certificate_update"
    assert record["before"] == {"certificate_valid_to": "2029-12-31"}
    assert record["after"] == {"certificate_valid_to": "2030-06-30"}
    seq = f.audit_seq(s)
    edits.update_inspector(
        db_session=s, actor=f.admin(), code=person.code, changes={"status": "suspended"}
    )
    assert only(s, seq)["action"] == "registry.inspector_update"

    seq = f.audit_seq(s)
    row = edits.declare_conflict(
        db_session=s,
        actor=f.admin("root"),
        inspector_code=person.code,
        credit_code=firm.credit_code,
        reason="近亲属任职",
        declared_on=TODAY,
    )
    declared = only(s, seq)
    assert declared["action"] == "registry.conflict_create"
    assert declared["enterprise_id"] == firm.id and declared["after"]["reason"] == "近亲属任职"
    seq = f.audit_seq(s)
    edits.withdraw_conflict(
        db_session=s, actor=f.admin("root"), conflict_id=row.id, reason="已离职"
    )
    withdrawn = only(s, seq)
    assert withdrawn["action"] == "registry.conflict_delete"
    assert withdrawn["before"]["inspector"] == person.code and withdrawn["after"] is None


def test_an_import_is_one_record_with_its_row_count_and_file_hash(db_session, tmp_path):
    from tests.registry.test_imports import DATA, firm_row, write_csv

    path = write_csv(tmp_path / "firms.csv", [firm_row(901), firm_row(902), firm_row(903)])
    seq = f.audit_seq(db_session)
    added = import_enterprises(
        db_session=db_session, path=path, data_dir=DATA, actor=f.admin("root")
    )
    record = only(db_session, seq)
    assert added == 3 and record["action"] == "registry.enterprise_import"
    assert record["after"] == {"rows": 3}
    assert record["detail"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["detail"]["file"] == "firms.csv"


# --- plans -----------------------------------------------------------------------------------


def test_plan_intake_and_validation(db_session, tmp_path):
    s = db_session
    seq = f.audit_seq(s)
    plan = f.plan(s, [f.random_task()])
    created = only(s, seq)
    assert created["action"] == "plan.create" and who(created) == ("测试员", "bureau", "api")
    assert created["after"]["state"] == "draft" and created["after"]["tasks"] == 1
    seq = f.audit_seq(s)
    _plan, findings = plans.check_plan(db_session=s, plan_id=plan.id, actor=f.coordinator())
    validated = only(s, seq)
    assert validated["action"] == "plan.validate"
    assert validated["detail"]["errors"] == sum(x.is_error for x in findings)
    with pytest.raises(PermissionDenied):
        plans.check_plan(db_session=s, plan_id=plan.id, actor=f.bureau(s, "FIRE"))


# --- results, fees, the enterprise's voice ---------------------------------------------------


def _checked_in_visit(s):
    firm = f.enterprise(s)
    team = [f.inspector(s, "SAMR"), f.inspector(s, "SAMR")]
    visit = f.visit_with_tasks(s, firm, team, day=TODAY)
    (task,) = tasks_of(s, visit)
    return firm, team, visit, task


def test_results_their_correction_and_publication(db_session):
    s = db_session
    firm, team, visit, task = _checked_in_visit(s)
    seq = f.audit_seq(s)
    kw = {"visit_id": visit.id, "inspection_task_id": task.id, "inspector_id": team[0].id}
    first = results.record_result(
        db_session=s,
        actor=f.as_inspector(team[0]),
        data=passed(s, task),
        policy=f.policy(),
        calendar=f.calendar(),
        **kw,
    )
    recorded = only(s, seq)
    assert recorded["action"] == "finding.result_record" and recorded["before"] is None
    assert recorded["after"]["result"] == "passed" and recorded["enterprise_id"] == firm.id
    seq = f.audit_seq(s)
    fixed = results.record_result(
        db_session=s,
        actor=f.as_inspector(team[0]),
        data=passed(
            s,
            task,
            result="rectify",
            legal_basis="《食品安全法》第五十五条",
            rectify_by=TODAY + dt.timedelta(days=10),
            correction_reason="复核发现问题",
        ),
        policy=f.policy(),
        calendar=f.calendar(),
        **kw,
    )
    corrected = only(s, seq)
    assert corrected["before"]["result"] == "passed" and corrected["before"]["revision"] == 1
    assert corrected["after"]["result"] == "rectify" and corrected["after"]["revision"] == 2
    assert corrected["detail"]["correction_reason"] == "复核发现问题"
    # Someone else may not record as this inspector.
    with pytest.raises(PermissionDenied):
        results.record_result(
            db_session=s,
            actor=f.as_inspector(team[1]),
            data=passed(s, task),
            policy=f.policy(),
            calendar=f.calendar(),
            **kw,
        )
    seq = f.audit_seq(s)
    results.publish_results(db_session=s, result_ids=[fixed.id], actor=f.coordinator("王"))
    published = only(s, seq)
    assert published["action"] == "finding.result_publish" and who(published)[:2] == (
        "王",
        "coordinator",
    )
    assert published["object"]["id"] == str(fixed.id) and published["enterprise_id"] == firm.id
    assert published["before"] == {"published_at": None} and first.id != fixed.id


def test_fee_verdicts_reviews_and_refunds(db_session):
    s = db_session
    firm = f.enterprise(s)
    seq = f.audit_seq(s)
    finding = fees.record_fee_finding(
        db_session=s,
        data=fees.ChargeInput(
            unit="SEII",
            item="特种设备检测费",
            amount="520",
            charged_on=dt.date(2026, 5, 6),
            receipt_no="R-1",
        ),
        enterprise_id=firm.id,
        source="enterprise",
        actor=f.as_enterprise(firm),
        today=TODAY,
    )
    reported = only(s, seq)
    assert reported["action"] == "finding.fee_finding" and who(reported)[1] == "enterprise"
    assert reported["after"]["verdict"] == "needs_review" and reported["enterprise_id"] == firm.id
    seq = f.audit_seq(s)
    fees.resolve_review(
        db_session=s,
        finding_id=finding.id,
        entry_code="FEE-AF-001",
        actor=f.coordinator(),
        note="定期检验",
        today=TODAY,
    )
    reviewed = only(s, seq)
    assert reviewed["before"]["verdict"] == "needs_review"
    assert reviewed["after"]["verdict"] == "over_standard"
    assert reviewed["after"]["refund_due"] == "120.00"
    seq = f.audit_seq(s)
    fees.confirm_refund(db_session=s, refund_id=finding.refund.id, actor=f.coordinator(), on=TODAY)
    fees.mark_refunded(db_session=s, refund_id=finding.refund.id, actor=f.coordinator(), on=TODAY)
    steps = f.audit_since(s, seq)
    assert [(r["before"]["state"], r["after"]["state"]) for r in steps] == [
        ("due", "confirmed"),
        ("confirmed", "refunded"),
    ]
    with pytest.raises(PermissionDenied):
        fees.record_fee_finding(
            db_session=s,
            data=fees.ChargeInput(
                unit="SEII", item="x", amount="1", charged_on=TODAY, receipt_no="R-2"
            ),
            enterprise_id=f.enterprise(s).id,
            source="enterprise",
            actor=f.as_enterprise(firm),  # not that enterprise
            today=TODAY,
        )


def test_reports_and_ratings_name_the_enterprise_account(db_session):
    s = db_session
    firm = f.enterprise(s)
    seq = f.audit_seq(s)
    report = reports.file_report(
        db_session=s,
        enterprise_id=firm.id,
        data=reports.ReportInput(
            kind="unregistered_inspection",
            happened_on=TODAY,
            department_said="自称市场监管",
            description="两人未出示证件即进入后厨检查",
        ),
        actor=f.as_enterprise(firm),
        today=TODAY,
    )
    filed = only(s, seq)
    assert filed["action"] == "enterprise.report_create" and filed["object"]["id"] == str(report.id)
    assert who(filed)[1] == "enterprise" and filed["enterprise_id"] == firm.id

    team = [f.inspector(s, "SAMR"), f.inspector(s, "SAMR")]
    visit = f.visit_with_tasks(s, firm, team, day=TODAY, state="completed")
    now = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
    seq = f.audit_seq(s)
    kw = {"db_session": s, "enterprise_id": firm.id, "visit_id": visit.id}
    ratings.rate_visit(**kw, score=2, comment="态度生硬", actor=f.as_enterprise(firm), now=now)
    ratings.rate_visit(**kw, score=4, comment="", actor=f.as_enterprise(firm), now=now)
    rated, changed = f.audit_since(s, seq)
    assert rated["action"] == "enterprise.rating_create" and rated["after"]["score"] == 2
    # The trail keeps the score and the comment's length, not its words.
    assert "态度生硬" not in str(rated) and rated["after"]["comment_chars"] == 4
    assert changed["action"] == "enterprise.rating_update"
    assert (changed["before"]["score"], changed["after"]["score"]) == (2, 4)
    with pytest.raises(PermissionDenied):
        ratings.rate_visit(**kw, score=5, actor=f.bureau(s), now=now)


# --- jobs ------------------------------------------------------------------------------------


@pytest.fixture
def writing_job():
    state = {"write": True}

    @scheduled_job("test_audit_job", trigger={"hour": 4}, description="test")
    def job(ctx: JobContext):
        if state["write"]:
            f.enterprise(ctx.db_session)
            return {"added": 1}
        ctx.db_session.scalars(select(User)).all()
        return {"added": 0}

    yield state
    JOBS.pop("test_audit_job", None)


def test_a_job_run_that_changed_data_is_one_record_as_the_system(db_session, run, writing_job):
    seq = f.audit_seq(db_session)
    ran = run("test_audit_job", at("2026-11-23T04:00"))
    record = only(db_session, seq)
    assert record["action"] == "job.run" and who(record) == ("test_audit_job", "system", "job")
    assert record["detail"]["counts"] == {"added": 1} and record["detail"]["run_id"] == ran.id
    writing_job["write"] = False
    seq = f.audit_seq(db_session)
    run("test_audit_job", at("2026-11-24T04:00"))
    assert f.audit_since(db_session, seq) == []  # read only: nothing to record
