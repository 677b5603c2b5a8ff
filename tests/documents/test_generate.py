"""Documents from the records: which a visit has, their numbers, their storage by hash, the
audit record of each generation, and the embedded font."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from sqlalchemy import func, select

from checkonce.audit.models import AuditRecord
from checkonce.documents import service
from checkonce.documents.models import DocumentKind, DocumentSequence, InspectionDocument
from checkonce.errors import CheckOnceError, Conflict
from tests import factories as f
from tests.documents.conftest import BASE_URL, inspector_actor
from tests.findings.conftest import VISIT_DAY


def generate(session, visit, kind, person, **kw):
    return service.generate(
        db_session=session,
        visit_id=visit.id,
        kind=kind,
        actor=inspector_actor(person),
        base_url=BASE_URL,
        **kw,
    )


def test_completed_joint_visit_has_its_documents(db_session, completed, documents_folder):
    visit, officer = completed["visit"], completed["samr"][0]
    notice = generate(db_session, visit, "notice", officer)
    record = generate(db_session, visit, "onsite_record", officer)
    result = generate(db_session, visit, "result_notice", officer)
    order = generate(db_session, visit, "rectification_order", officer)
    # One per visit for the three visit-level documents, numbered by the lead (SAMR);
    # the rectification order only by the department whose result was 责令整改.
    assert [len(x) for x in (notice, record, result, order)] == [1, 1, 1, 1]
    samr = f.department(db_session, "SAMR")
    assert {d.department_id for d in notice + record + result + order} == {samr.id}
    numbers = sorted(d.number for d in notice + record + result + order)
    assert numbers == [1, 2, 3, 4]
    assert order[0].doc_no == f"{samr.short_name}责改〔{VISIT_DAY.year}〕4号"
    # Stored by hash, verified on read.
    data = service.pdf_bytes(order[0])
    assert hashlib.sha256(data).hexdigest() == order[0].sha256
    assert data.startswith(b"%PDF")
    assert (documents_folder / order[0].sha256[:2] / f"{order[0].sha256}.pdf").exists()


def test_a_visit_without_special_or_triggered_tasks_has_no_approval(db_session, completed):
    with pytest.raises(CheckOnceError, match="没有需要审批"):
        generate(db_session, completed["visit"], "approval", completed["samr"][0])


def test_special_task_gets_an_approval_form_of_its_department(db_session, completed):
    visit = completed["visit"]
    completed["food"].kind = "special"
    pt = completed["food"].plan_task
    pt.kind, pt.campaign_name, pt.approver = "special", "夏季食品安全专项", "张局长"
    pt.approval_document = "市监发〔2026〕12号"
    db_session.flush()
    docs = generate(db_session, visit, DocumentKind.APPROVAL, completed["samr"][0])
    assert len(docs) == 1 and docs[0].doc_no.endswith("检审〔2026〕1号")


def test_record_needs_a_check_in_and_result_notice_needs_every_result(db_session):
    firm = f.enterprise(db_session)
    team = [f.inspector(db_session, "SAMR"), f.inspector(db_session, "SAMR")]
    visit = f.visit_with_tasks(db_session, firm, team, day=VISIT_DAY, state="scheduled")
    with pytest.raises(CheckOnceError, match="尚未签到"):
        generate(db_session, visit, "onsite_record", team[0])
    visit.state = "checked_in"
    db_session.flush()
    assert generate(db_session, visit, "onsite_record", team[0])
    with pytest.raises(CheckOnceError, match="未录入结果"):
        generate(db_session, visit, "result_notice", team[0])


def test_regeneration_keeps_the_number_and_adds_a_revision(db_session, completed):
    visit, officer = completed["visit"], completed["samr"][0]
    first = generate(db_session, visit, "notice", officer)[0]
    number, sha = first.number, first.sha256
    again = generate(db_session, visit, "notice", officer)[0]
    assert again.id == first.id and again.number == number and again.revision == 2
    # Same records, same bytes: the rendering is reproducible.
    assert again.sha256 == sha
    assert db_session.scalar(select(DocumentSequence.last_number)) == 1


def test_every_generation_is_in_the_audit_trail(db_session, completed):
    visit, officer = completed["visit"], completed["samr"][0]
    before = db_session.scalar(
        select(func.count())
        .select_from(AuditRecord)
        .where(AuditRecord.action == "document.generate")
    )
    generate(db_session, visit, "notice", officer)
    generate(db_session, visit, "notice", officer)
    rows = db_session.scalars(
        select(AuditRecord)
        .where(AuditRecord.action == "document.generate")
        .order_by(AuditRecord.seq)
    ).all()
    assert len(rows) == before + 2
    body = json.loads(rows[-1].body)
    assert body["after"]["revision"] == 2 and body["before"]["revision"] == 1
    assert rows[-1].actor_username == f"i{officer.id}" and rows[-1].object_type == "document"


def test_unknown_kind_is_a_clear_error(db_session, completed):
    with pytest.raises(CheckOnceError, match="未知的文书种类"):
        generate(db_session, completed["visit"], "receipt", completed["samr"][0])


def test_numbers_never_repeat_per_department_and_year(db_session):
    samr = f.department(db_session, "SAMR")
    fire = f.department(db_session, "FIRE")
    got = [service.allocate_number(db_session, department_id=samr.id, year=2027) for _ in range(5)]
    got_fire = service.allocate_number(db_session, department_id=fire.id, year=2027)
    got_next_year = service.allocate_number(db_session, department_id=samr.id, year=2028)
    assert got == [1, 2, 3, 4, 5] and got_fire == 1 and got_next_year == 1


def test_the_schema_refuses_a_repeated_number(db_session, completed):
    from sqlalchemy.exc import IntegrityError

    visit, officer = completed["visit"], completed["samr"][0]
    doc = generate(db_session, visit, "notice", officer)[0]
    clone = InspectionDocument(
        kind="result_notice",
        visit_id=doc.visit_id,
        visit_code=doc.visit_code,
        enterprise_id=doc.enterprise_id,
        department_id=doc.department_id,
        year=doc.year,
        number=doc.number,
        doc_no="another text",
        verify_token="0" * 32,
        sha256=doc.sha256,
        size_bytes=1,
        generated_by="x:y",
    )
    db_session.add(clone)
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()


def test_pdf_embeds_its_cjk_font_and_carries_the_codes(db_session, completed):
    visit, officer = completed["visit"], completed["samr"][0]
    doc = generate(db_session, visit, "onsite_record", officer)[0]
    data = service.pdf_bytes(doc)
    # A TrueType subset (name prefix ABCDEF+), embedded as FontFile2; no base-14 font named.
    assert re.search(rb"/BaseFont /[A-Z]{6}\+", data)
    assert b"/FontFile2" in data
    assert b"/Helvetica" not in data and b"STSong" not in data


def test_missing_font_is_a_clear_error(monkeypatch, completed, db_session):
    from checkonce.documents import fonts

    monkeypatch.setenv("CHECKONCE_PDF_FONT", "/nonexistent/font.ttc")
    with pytest.raises(fonts.FontMissing, match="找不到可嵌入 PDF 的中文字体"):
        generate(db_session, completed["visit"], "notice", completed["samr"][0])


def test_signed_record_refuses_regeneration(db_session, completed):
    visit, officer = completed["visit"], completed["samr"][0]
    doc = generate(db_session, visit, "onsite_record", officer)[0]
    from tests.documents.test_signatures import ink

    service.sign_record(
        db_session=db_session,
        document_id=doc.id,
        actor=inspector_actor(officer),
        signer="inspector",
        image_data_url=ink(),
        base_url=BASE_URL,
    )
    with pytest.raises(Conflict, match="已有签名"):
        generate(db_session, visit, "onsite_record", officer)


def test_who_sees_which_documents_and_who_may_make_them(db_session, completed):
    """The access module's row scopes: staff see the documents of the visits they see (a
    bureau those holding its task, an inspector those of its team, none of a draft schedule),
    the enterprise only its own outward documents; a bureau makes only its own department's."""
    from checkonce.auth import access
    from checkonce.auth.access import PermissionDenied

    s, visit = db_session, completed["visit"]
    completed["food"].kind = "special"
    pt = completed["food"].plan_task
    pt.kind, pt.campaign_name, pt.approver = "special", "夏季食品安全专项", "张局长"
    pt.approval_document = "市监发〔2026〕12号"
    s.flush()
    officer = completed["samr"][0]
    approval = generate(s, visit, "approval", officer)[0]
    notice = generate(s, visit, "notice", officer)[0]
    both = {approval.id, notice.id}

    def seen(who) -> set[int]:
        stmt = access.visible_documents(
            select(InspectionDocument),
            who,
            today=VISIT_DAY,
            policy=f.policy(),
            calendar=f.calendar(),
        )
        return set(s.scalars(stmt.with_only_columns(InspectionDocument.id)))

    other_firm = f.enterprise(s)
    assert seen(f.coordinator()) >= both
    assert seen(f.as_inspector(completed["fire"][1])) >= both  # on the team
    assert not seen(f.as_inspector(f.inspector(s, "SAMR"))) & both  # not on it
    assert seen(f.bureau(s, "FIRE")) >= both  # its task is on the joint visit
    assert not seen(f.bureau(s, "HEALTH")) & both
    assert seen(f.as_enterprise(completed["firm"])) & both == {notice.id}  # no approval
    assert not seen(f.as_enterprise(other_firm)) & both
    visit.schedule.state = "draft"
    s.flush()
    assert not seen(f.as_inspector(officer)) & both
    visit.schedule.state = "published"
    s.flush()
    with pytest.raises(CheckOnceError, match=r"文书 \d+ 不存在"):
        access.visible_document(
            s,
            approval.id,
            f.as_enterprise(completed["firm"]),
            today=VISIT_DAY,
            policy=f.policy(),
            calendar=f.calendar(),
        )
    # Making: a bureau its own department's only; an enterprise not at all.
    fire_bureau = f.bureau(s, "FIRE")
    with pytest.raises(CheckOnceError, match="本部门不出具"):
        service.generate(
            db_session=s, visit_id=visit.id, kind="notice", actor=fire_bureau, base_url=BASE_URL
        )
    with pytest.raises(PermissionDenied, match="限本部门"):
        service.generate(
            db_session=s,
            visit_id=visit.id,
            kind="notice",
            actor=fire_bureau,
            base_url=BASE_URL,
            department_code="SAMR",
        )
    with pytest.raises(PermissionDenied, match="无权生成检查文书"):
        service.generate(
            db_session=s,
            visit_id=visit.id,
            kind="notice",
            actor=f.as_enterprise(completed["firm"]),
            base_url=BASE_URL,
        )
