"""The pages (enterprise sees only its own documents; the public verification page shows no
enterprise; the coordinator's request list) and the command line (generate, export, errors
without traceback)."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

from sqlalchemy import select

from checkonce.audit.models import AuditRecord
from checkonce.config import packaged_data_dir
from checkonce.db import make_engine, session_scope
from checkonce.documents import service
from checkonce.documents.models import InspectionDocument
from checkonce.migrations import upgrade
from checkonce.registry.models import Enterprise, Inspector
from checkonce.registry.reference import load_reference
from tests import factories as f
from tests.api.conftest import app, client, users  # noqa: F401 (fixtures)
from tests.api.pages.conftest import login  # noqa: F401 (fixture)
from tests.cli_accounts import cli_env, make_account
from tests.documents.conftest import BASE_URL, inspector_actor

DAY = dt.date(2026, 11, 18)


def make_notice(db_session, users):  # noqa: F811
    firm = db_session.get(Enterprise, users["enterprise"].enterprise_id)
    officer = db_session.get(Inspector, users["inspector"].inspector_id)
    visit = f.visit_with_tasks(
        db_session, firm, [officer, f.inspector(db_session, "SAMR")], day=DAY, state="checked_in"
    )
    return service.generate(
        db_session=db_session,
        visit_id=visit.id,
        kind="notice",
        actor=inspector_actor(officer),
        base_url=BASE_URL,
    )[0]


def test_enterprise_pages_show_its_own_documents_only(db_session, users, login):  # noqa: F811
    doc = make_notice(db_session, users)
    stranger = f.enterprise(db_session)
    other = f.visit_with_tasks(
        db_session,
        stranger,
        [f.inspector(db_session), f.inspector(db_session)],
        day=DAY,
    )
    theirs = service.generate(
        db_session=db_session,
        visit_id=other.id,
        kind="notice",
        actor=inspector_actor(other.team[0].inspector),
        base_url=BASE_URL,
    )[0]
    page = login("enterprise").get("/enterprise/documents")
    assert page.status_code == 200
    assert doc.doc_no in page.text and theirs.doc_no not in page.text
    assert login("enterprise").get(f"/api/v1/documents/{theirs.id}/pdf").status_code == 404


def test_public_verification_page_names_no_enterprise(db_session, users, login):  # noqa: F811
    doc = make_notice(db_session, users)
    page = login(None).get(f"/d/{doc.verify_token}")
    assert page.status_code == 200
    assert doc.doc_no in page.text and doc.sha256 in page.text
    assert doc.enterprise.name not in page.text and doc.enterprise.credit_code not in page.text
    assert "/pdf" not in page.text  # the public may check, not open
    assert login(None).get("/d/" + "0" * 32).status_code == 404
    english = login(None).get(f"/d/{doc.verify_token}?lang=en")
    assert "Document verification" in english.text


def test_inspector_page_generates_and_lists(db_session, users, login):  # noqa: F811
    doc = make_notice(db_session, users)
    page = login("inspector").get(f"/inspector/visits/{doc.visit_id}/documents")
    assert page.status_code == 200 and doc.doc_no in page.text
    assert login("enterprise").get(f"/inspector/visits/{doc.visit_id}/documents").status_code == 403


def run(tmp_path, *args, user: str | None = None):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {
        **os.environ,
        **cli_env(tmp_path, url, user),
        "CHECKONCE_DOCUMENTS_DIR": str(tmp_path / "docs"),
        "CHECKONCE_PUBLIC_URL": "https://checkonce.example.gov.cn",
        "COLUMNS": "200",
    }
    if user is None:
        env.pop("CHECKONCE_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "checkonce", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_generates_exports_and_refuses_clearly(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        load_reference(session, packaged_data_dir())
        firm = f.enterprise(session)
        officer, stranger = f.inspector(session), f.inspector(session)
        visit = f.visit_with_tasks(session, firm, [officer, f.inspector(session)], day=DAY)
        visit_id, codes, credit = visit.id, (officer.code, stranger.code), firm.credit_code
    engine.dispose()
    make_account(url, "wang", "inspector", inspector=codes[0])
    make_account(url, "stranger", "inspector", inspector=codes[1])
    make_account(url, "firm", "enterprise", credit_code=credit)

    made = run(
        tmp_path,
        "documents",
        "generate",
        str(visit_id),
        "--kind",
        "onsite_record",
        "--out",
        str(tmp_path),
        user="wang",
    )
    assert made.returncode == 0, made.stderr
    assert re.search(r"现场检查笔录 .+检录〔2026〕1号", made.stdout)
    pdf = next(tmp_path.glob("*-onsite_record-*.pdf"))
    assert pdf.read_bytes().startswith(b"%PDF")
    listed = run(tmp_path, "documents", "list", str(visit_id), user="wang")
    assert "检录〔2026〕1号" in listed.stdout
    engine = make_engine(url)
    with session_scope(engine) as session:
        doc = session.scalars(select(InspectionDocument)).one()
        doc_id, gen = doc.id, session.scalars(select(AuditRecord)).all()[-1]
        assert (gen.action, gen.actor_username, gen.channel) == ("document.generate", "wang", "cli")
    engine.dispose()
    exported = run(
        tmp_path, "documents", "export", str(doc_id), "--out", str(tmp_path / "x.pdf"), user="wang"
    )
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "x.pdf").read_bytes() == pdf.read_bytes()

    bad = run(tmp_path, "documents", "generate", str(visit_id), "--kind", "approval", user="wang")
    assert bad.returncode == 1 and "没有需要审批" in bad.stderr and "Traceback" not in bad.stderr
    # Not on the team: the visit does not exist for it, as on the web.
    hidden = run(tmp_path, "documents", "list", str(visit_id), user="stranger")
    assert hidden.returncode == 1 and f"检查 {visit_id} 不存在" in hidden.stderr
    # An enterprise may read its outward documents but not make them.
    refused = run(tmp_path, "documents", "generate", str(visit_id), "--kind", "notice", user="firm")
    assert refused.returncode == 1 and "无权生成检查文书" in refused.stderr
    nobody = run(tmp_path, "documents", "generate", str(visit_id), "--kind", "notice")
    assert nobody.returncode == 1 and "checkonce login" in nobody.stderr
    assert "--actor" not in run(tmp_path, "documents", "generate", "--help").stdout

    engine = make_engine(url)
    with session_scope(engine) as session:
        rows = session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
        reads = [r for r in rows if r.object_type == "document" and r.action != "document.generate"]
        assert [(r.actor_username, r.channel) for r in reads] == [("wang", "cli")]
        assert sum(r.action == "document.generate" for r in rows) == 1
    engine.dispose()
