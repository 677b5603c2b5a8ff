"""Generate, number, store, sign and read the visit's documents (行政检查文书).

A document is built from CheckOnce's own records (visit, team, tasks and their approval,
merged checklist, latest results) and rendered to PDF (checkonce.documents.pdf). It is
numbered once, the first time it is generated, from its department's sequence of the year
(文号 such as 市场监管检录〔2027〕12号); later generations are new revisions under the same
number. PDFs are stored like photos: by their SHA-256 under the documents folder
(`CHECKONCE_DOCUMENTS_DIR`, else var/documents), written once and verified on read. Every
generation and signature is a record of the audit trail in the same transaction.

Which documents a visit has:
- 行政检查审批表 (approval): per department holding special (专项) or triggered tasks;
- 行政检查通知书 (notice), 现场检查笔录 (on-site record), 行政检查结果告知书 (result notice):
  one per visit, numbered by the lead department, every department's part marked;
- 责令整改通知书 (rectification order): per department with a 责令整改 result, with its deadline.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.auth.models import Role
from checkonce.documents.models import (
    DocumentKind,
    DocumentSequence,
    DocumentSignature,
    InspectionDocument,
    SignerKind,
)
from checkonce.documents.pdf import (
    ChecklistPart,
    ChecklistRow,
    DocumentContent,
    SignatureLine,
    render_pdf,
)
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.findings.models import ANSWER_NAMES, RESULT_NAMES, TaskResult
from checkonce.plans.models import TASK_KIND_NAMES, TRIGGER_REASON_NAMES, InspectionTask
from checkonce.registry.models import Department, Inspector
from checkonce.visits.checklist import merged_checklist
from checkonce.visits.models import Visit, VisitInspector
from checkonce.visits.notice import ENTERED_STATES
from checkonce.visits.service import visit_tasks

DEFAULT_DOCUMENTS_DIR = Path("var/documents")
PER_DEPARTMENT = (DocumentKind.APPROVAL, DocumentKind.RECTIFICATION_ORDER)
APPROVAL_KINDS = ("special", "triggered")
MAX_SIGNATURE_BYTES = 512 * 1024
ZONE = ZoneInfo("Asia/Shanghai")


# ---------------------------------------------------------------------------- storage


def documents_dir(folder: Path | str | None = None) -> Path:
    """Where PDFs and signature images are kept: `folder`, else CHECKONCE_DOCUMENTS_DIR,
    else var/documents."""
    if folder is not None:
        return Path(folder)
    configured = os.environ.get("CHECKONCE_DOCUMENTS_DIR", "").strip()
    return Path(configured) if configured else DEFAULT_DOCUMENTS_DIR


def _path(sha256: str, suffix: str, folder: Path | None) -> Path:
    return documents_dir(folder) / sha256[:2] / f"{sha256}.{suffix}"


def store_blob(data: bytes, suffix: str, folder: Path | None = None) -> str:
    """Write `data` under its SHA-256 unless already there (atomically); return the hash."""
    digest = hashlib.sha256(data).hexdigest()
    path = _path(digest, suffix, folder)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + f".{os.getpid()}.part")
        partial.write_bytes(data)
        os.replace(partial, path)
    return digest


def read_blob(sha256: str, suffix: str, folder: Path | None = None) -> bytes:
    """Stored bytes, verified against their hash."""
    path = _path(sha256, suffix, folder)
    try:
        data = path.read_bytes()
    except OSError:
        raise CheckOnceError(f"文书文件缺失：{path.name}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise CheckOnceError(f"文书文件 {path.name} 与登记的哈希不符，可能已被改动")
    return data


# ---------------------------------------------------------------------------- numbers


def allocate_number(db_session: Session, *, department_id: int, year: int) -> int:
    """The next number of the department's year sequence. The row is created if missing
    (INSERT … ON CONFLICT DO NOTHING) and incremented by one UPDATE … RETURNING, which the
    database serializes: two concurrent callers never get the same number, and the unique
    (department, year, number) constraint backs that up."""
    dialect = db_session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db_session.execute(
        insert(DocumentSequence)
        .values(department_id=department_id, year=year, last_number=0)
        .on_conflict_do_nothing()
    )
    return db_session.execute(
        update(DocumentSequence)
        .where(DocumentSequence.department_id == department_id, DocumentSequence.year == year)
        .values(last_number=DocumentSequence.last_number + 1)
        .returning(DocumentSequence.last_number)
    ).scalar_one()


def format_doc_no(department: Department, kind: DocumentKind, year: int, number: int) -> str:
    """文号: the department's short name, the kind's word, 〔year〕 and the number."""
    return f"{department.short_name}{kind.abbreviation}〔{year}〕{number}号"


# ---------------------------------------------------------------------------- reading records


@dataclass
class VisitRecords:
    visit: Visit
    tasks: list[InspectionTask]
    results: dict[int, TaskResult]  # latest result by task id


def load_visit(db_session: Session, visit_id: int) -> VisitRecords:
    visit = db_session.scalars(
        select(Visit)
        .where(Visit.id == visit_id)
        .options(
            selectinload(Visit.enterprise),
            selectinload(Visit.lead_department),
            selectinload(Visit.team)
            .selectinload(VisitInspector.inspector)
            .selectinload(Inspector.department),
        )
    ).one_or_none()
    if visit is None:
        raise NotFound(f"检查 {visit_id} 不存在")
    tasks = visit_tasks(db_session, visit)
    results = {
        r.inspection_task_id: r
        for r in db_session.scalars(
            select(TaskResult).where(TaskResult.visit_id == visit.id, TaskResult.latest.is_(True))
        )
    }
    return VisitRecords(visit=visit, tasks=tasks, results=results)


def _cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _local(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


def _departments(records: VisitRecords) -> list[Department]:
    seen: dict[int, Department] = {}
    lead = records.visit.lead_department
    seen[lead.id] = lead
    for task in records.tasks:
        seen.setdefault(task.department_id, task.department)
    return list(seen.values())


def _team_text(visit: Visit) -> str:
    return "；".join(
        f"{m.inspector.name}（{m.inspector.department.name}，执法证号 {m.inspector.certificate_no or '—'}）"
        for m in visit.team
    )


def _base_fields(records: VisitRecords) -> list[tuple[str, str]]:
    visit, firm = records.visit, records.visit.enterprise
    return [
        ("被检查人", firm.name),
        ("统一社会信用代码", firm.credit_code),
        ("地址", firm.address),
        ("检查时间", f"{_cn_date(visit.day)} {visit.start:%H:%M}–{visit.end:%H:%M}"),
        ("检查部门", "、".join(d.name for d in _departments(records))),
        ("牵头部门", visit.lead_department.name),
    ]


def _task_rows(tasks: list[InspectionTask]) -> list[list[str]]:
    rows = [["检查部门", "检查事项", "任务类型", "检查依据"]]
    for t in tasks:
        rows.append([t.department.name, t.item.name, TASK_KIND_NAMES[t.kind], t.item.legal_basis])
    return rows


def _checklist(records: VisitRecords, *, answered: bool) -> list[ChecklistPart]:
    groups = merged_checklist(records.tasks, lead_department=records.visit.lead_department.code)
    answers: dict[str, tuple[str, str]] = {}
    if answered:
        for result in records.results.values():
            for key, value in (result.checklist or {}).items():
                answer = ANSWER_NAMES.get(value.get("answer", ""), "")
                answers.setdefault(key, (answer, value.get("note", "") or ""))
    short = {t.department.code: t.department.short_name for t in records.tasks}
    parts = []
    for group in groups:
        rows = []
        for entry in group.entries:
            answer, note = answers.get(entry.key, ("", ""))
            if group.department is None:
                note = (note + " " if note else "") + "（{}）".format(
                    "、".join(short.get(code, code) for code in entry.departments)
                )
            rows.append(ChecklistRow(text=entry.text, answer=answer, note=note))
        parts.append(ChecklistPart(title=group.title, rows=rows))
    return parts


RIGHTS = (
    "检查人员不少于两人，并出示有效执法证件；未出示的，被检查人有权拒绝检查。"
    "检查人员与被检查人有直接利害关系的，被检查人有权申请回避。"
    "对检查结果有异议的，可依法申请行政复议或提起行政诉讼。"
)


def build_content(
    records: VisitRecords,
    kind: DocumentKind,
    department: Department,
    *,
    doc_no: str,
    verify_url: str,
    signatures: list[DocumentSignature] | None = None,
    signature_images: dict[str, bytes] | None = None,
    today: dt.date | None = None,
    publish_workdays: int = 20,
) -> DocumentContent:
    """The content of one document from the visit's records."""
    visit = records.visit
    issued = _cn_date(today or visit.day)
    common = {
        "title": kind.title,
        "doc_no": doc_no,
        "visit_code": visit.code,
        "verify_url": verify_url,
    }
    issuer_all = "、".join(d.name for d in _departments(records))
    if kind is DocumentKind.APPROVAL:
        own = [t for t in records.tasks if t.department_id == department.id]
        needing = [t for t in own if t.kind in APPROVAL_KINDS]
        basis = []
        for t in needing:
            pt = t.plan_task
            if t.kind == "special":
                basis.append(
                    f"专项检查「{pt.campaign_name or '—'}」：批准人 {pt.approver or '—'}，"
                    f"批准日期 {pt.approval_date.isoformat() if pt.approval_date else '—'}，"
                    f"批准文号 {pt.approval_document or '—'}"
                )
            else:
                reason = TRIGGER_REASON_NAMES.get(pt.trigger_reason or "", "—")
                received = pt.received_on.isoformat() if pt.received_on else "—"
                basis.append(
                    f"触发式检查（{reason}）：受理日期 {received}，{pt.due_workdays or '—'} 个工作日内完成"
                )
        fields = [
            *_base_fields(records)[:3],
            ("拟检查时间", f"{_cn_date(visit.day)} {visit.start:%H:%M}–{visit.end:%H:%M}"),
            ("任务来源", "；".join(basis)),
            ("检查人员", _team_text(visit)),
            (
                "检查方式",
                "现场检查（综合查一次，联合检查）"
                if len(_departments(records)) > 1
                else "现场检查",
            ),
        ]
        return DocumentContent(
            **common,
            issuer=department.name,
            fields=fields,
            table_title="检查事项",
            table=_task_rows(own),
            paragraphs=["承办机构意见：", "负责人审批意见："],
            signatures=[SignatureLine("承办人", ""), SignatureLine("审批负责人", "")],
            closing=[department.name, issued],
        )
    if kind is DocumentKind.NOTICE:
        firm = visit.enterprise
        return DocumentContent(
            **common,
            issuer=issuer_all,
            fields=[
                *_base_fields(records),
                ("检查人员", _team_text(visit)),
            ],
            paragraphs=[
                f"{firm.name}：",
                f"根据工作安排，本机关定于{_cn_date(visit.day)} {visit.start:%H:%M}起对你单位进行"
                f"{'联合' if len(_departments(records)) > 1 else ''}现场检查（综合查一次：各部门一次进门、"
                "一表通查），检查事项及依据见下表。请按所附检查内容准备相关材料，并安排负责人或"
                "委托人员在场配合。",
                RIGHTS,
            ],
            table_title="检查事项及依据",
            table=_task_rows(records.tasks),
            checklist=_checklist(records, answered=False),
            closing=[issuer_all, issued],
        )
    if kind is DocumentKind.ONSITE_RECORD:
        lines = _signature_lines(records, signatures or [], signature_images or {})
        return DocumentContent(
            **common,
            issuer=issuer_all,
            fields=[
                *_base_fields(records),
                ("检查人员", _team_text(visit)),
                ("检查码", visit.code),
            ],
            paragraphs=[
                "检查人员已出示执法证件，告知被检查人依法享有的陈述、申辩和申请回避的权利，"
                "被检查人表示清楚。现场检查情况如下："
            ],
            checklist=_checklist(records, answered=True),
            table_title="各部门检查结论",
            table=_result_rows(records),
            signatures=lines,
            closing=["以上笔录经被检查人核对无误。"],
        )
    if kind is DocumentKind.RESULT_NOTICE:
        return DocumentContent(
            **common,
            issuer=issuer_all,
            fields=_base_fields(records),
            paragraphs=[
                f"{visit.enterprise.name}：",
                f"本机关于{_cn_date(visit.day)}对你单位进行了现场检查，检查结果如下。检查结果将依法"
                f"在{publish_workdays}个工作日内公开。",
                RIGHTS,
            ],
            table_title="检查结果",
            table=_result_rows(records),
            closing=[issuer_all, issued],
        )
    # RECTIFICATION_ORDER
    own = [
        (t, records.results[t.id])
        for t in records.tasks
        if t.department_id == department.id
        and t.id in records.results
        and records.results[t.id].result == "rectify"
    ]
    deadline = min(r.rectify_by for _t, r in own if r.rectify_by)
    table = [["检查事项", "存在的问题", "依据", "整改期限"]]
    for task, result in own:
        table.append(
            [
                task.item.name,
                result.notes or "见现场检查笔录",
                result.legal_basis or "",
                _cn_date(result.rectify_by) if result.rectify_by else "",
            ]
        )
    return DocumentContent(
        **common,
        issuer=department.name,
        fields=[*_base_fields(records)[:4], ("整改期限", f"{_cn_date(deadline)}前")],
        paragraphs=[
            f"{visit.enterprise.name}：",
            f"经{_cn_date(visit.day)}现场检查，发现你单位存在下列问题。依据下列规定，责令你单位于"
            f"{_cn_date(deadline)}前改正，并将整改情况书面报告本机关。逾期不改正的，本机关将依法处理。",
            "如不服本决定，可在收到本通知书之日起六十日内依法申请行政复议，或者在六个月内依法提起行政诉讼。",
        ],
        table_title="责令整改事项",
        table=table,
        signatures=[SignatureLine("被检查人签收", "")],
        closing=[department.name, issued],
    )


def _result_rows(records: VisitRecords) -> list[list[str]]:
    rows = [["检查部门", "检查事项", "检查结果", "说明"]]
    for t in records.tasks:
        result = records.results.get(t.id)
        if result is None:
            rows.append([t.department.name, t.item.name, "待录入", ""])
            continue
        note = result.notes or ""
        if result.result == "rectify" and result.rectify_by:
            note = f"{note} 整改期限：{_cn_date(result.rectify_by)}".strip()
        if result.legal_basis:
            note = f"{note} 依据：{result.legal_basis}".strip()
        rows.append([t.department.name, t.item.name, RESULT_NAMES[result.result], note])
    return rows


def _signature_lines(
    records: VisitRecords, signatures: list[DocumentSignature], images: dict[str, bytes]
) -> list[SignatureLine]:
    by_inspector = {s.inspector_id: s for s in signatures if s.signer == SignerKind.INSPECTOR}
    lines = []
    for member in records.visit.team:
        person = member.inspector
        sig = by_inspector.get(person.id)
        lines.append(
            SignatureLine(
                role=f"执法人员（{person.department.short_name}）",
                name=person.name,
                image=images.get(sig.image_sha256) if sig and sig.image_sha256 else None,
                signed_at=_local(sig.signed_at) if sig else "",
            )
        )
    firm_sig = next((s for s in signatures if s.signer == SignerKind.ENTERPRISE), None)
    if firm_sig is None:
        lines.append(SignatureLine(role="被检查人（负责人或委托人）", name=""))
    else:
        lines.append(
            SignatureLine(
                role=f"被检查人（{firm_sig.role}）",
                name=firm_sig.name,
                image=images.get(firm_sig.image_sha256) if firm_sig.image_sha256 else None,
                refused_reason=firm_sig.refusal_reason if firm_sig.refused else None,
                signed_at=_local(firm_sig.signed_at),
            )
        )
    return lines


# ---------------------------------------------------------------------------- generation


def applicable_departments(records: VisitRecords, kind: DocumentKind) -> list[Department]:
    """The departments that issue `kind` for this visit (empty: the visit has none)."""
    visit = records.visit
    if kind is DocumentKind.APPROVAL:
        return [
            d
            for d in _departments(records)
            if any(t.department_id == d.id and t.kind in APPROVAL_KINDS for t in records.tasks)
        ]
    if kind is DocumentKind.RECTIFICATION_ORDER:
        return [
            d
            for d in _departments(records)
            if any(
                t.department_id == d.id
                and records.results.get(t.id) is not None
                and records.results[t.id].result == "rectify"
                for t in records.tasks
            )
        ]
    if kind is DocumentKind.ONSITE_RECORD and visit.state not in ENTERED_STATES:
        return []
    if kind is DocumentKind.RESULT_NOTICE and any(
        t.id not in records.results for t in records.tasks
    ):
        return []
    if visit.state == "cancelled":
        return []
    return [visit.lead_department]


WHY_NOT = {
    DocumentKind.APPROVAL: "本次检查没有需要审批的专项检查或触发式检查任务",
    DocumentKind.NOTICE: "已取消的检查不出具检查通知书",
    DocumentKind.ONSITE_RECORD: "检查组尚未签到入企，不能制作现场检查笔录",
    DocumentKind.RESULT_NOTICE: "本次检查还有检查事项未录入结果，不能出具结果告知书",
    DocumentKind.RECTIFICATION_ORDER: "本次检查没有责令整改的结果",
}


def verify_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/d/{token}"


def generate(
    *,
    db_session: Session,
    visit_id: int,
    kind: DocumentKind | str,
    actor: Actor,
    base_url: str,
    department_code: str | None = None,
    today: dt.date | None = None,
    folder: Path | None = None,
) -> list[InspectionDocument]:
    """Generate `kind` for the visit (every issuing department, or the one named): number it
    the first time, render, store by hash, record in the audit trail. A bureau's account
    generates only its own department's documents (`department_code` defaults to it)."""
    access.require(actor, AuditAction.DOCUMENT_GENERATE)
    try:
        kind = DocumentKind(kind)
    except ValueError:
        names = "、".join(f"{k.value}（{k.title}）" for k in DocumentKind)
        raise CheckOnceError(f"未知的文书种类「{kind}」：应为 {names}") from None
    records = load_visit(db_session, visit_id)
    departments = applicable_departments(records, kind)
    if actor.role == Role.BUREAU and department_code is None:
        departments = [d for d in departments if d.id == actor.department_id]
        if not departments:
            raise CheckOnceError(f"本部门不出具本次检查的{kind.title}")
    if department_code is not None:
        departments = [d for d in departments if d.code == department_code]
        if not departments:
            raise CheckOnceError(f"部门 {department_code} 不出具本次检查的{kind.title}")
    if not departments:
        raise CheckOnceError(f"不能生成{kind.title}：{WHY_NOT[kind]}")
    documents = []
    for department in departments:
        access.require(actor, AuditAction.DOCUMENT_GENERATE, department_id=department.id)
        documents.append(
            _generate_one(db_session, records, kind, department, actor, base_url, today, folder)
        )
    return documents


def _generate_one(
    db_session: Session,
    records: VisitRecords,
    kind: DocumentKind,
    department: Department,
    actor: Actor,
    base_url: str,
    today: dt.date | None,
    folder: Path | None,
) -> InspectionDocument:
    visit = records.visit
    doc = db_session.scalars(
        select(InspectionDocument)
        .where(
            InspectionDocument.kind == kind.value,
            InspectionDocument.visit_id == visit.id,
            InspectionDocument.department_id == department.id,
        )
        .with_for_update()
    ).one_or_none()
    before = None
    if doc is None:
        year = visit.day.year
        number = allocate_number(db_session, department_id=department.id, year=year)
        doc = InspectionDocument(
            kind=kind.value,
            visit_id=visit.id,
            visit_code=visit.code,
            enterprise_id=visit.enterprise_id,
            department_id=department.id,
            year=year,
            number=number,
            doc_no=format_doc_no(department, kind, year, number),
            verify_token=secrets.token_hex(16),
            revision=1,
            generated_by=actor.label,
        )
    else:
        if doc.signatures:
            raise Conflict(f"{doc.title} {doc.doc_no} 已有签名，不能重新生成")
        before = {"revision": doc.revision, "sha256": doc.sha256}
        doc.revision += 1
        doc.generated_by = actor.label
        doc.generated_at = dt.datetime.now(dt.UTC)
    from checkonce.policy import jurisdiction_policy

    content = build_content(
        records,
        kind,
        department,
        doc_no=doc.doc_no,
        verify_url=verify_url(base_url, doc.verify_token),
        today=today,
        publish_workdays=jurisdiction_policy().publicity.publish_within_workdays,
    )
    data = render_pdf(content)
    doc.sha256 = store_blob(data, "pdf", folder)
    doc.size_bytes = len(data)
    if doc.id is None:
        db_session.add(doc)
    try:
        db_session.flush()
    except IntegrityError as exc:
        # Two people generating the same document for the first time at once: the unique
        # (kind, visit, department) keeps one; the other's whole transaction, number
        # included, is rolled back, so no number is lost or doubled.
        raise Conflict(f"{kind.title}正由他人同时生成，请刷新后重试") from exc
    record(
        db_session,
        actor=actor,
        action=AuditAction.DOCUMENT_GENERATE,
        object_type="document",
        object_id=doc.id,
        enterprise_id=visit.enterprise_id,
        before=before,
        after={
            "kind": kind.value,
            "doc_no": doc.doc_no,
            "visit": visit.code,
            "revision": doc.revision,
            "sha256": doc.sha256,
        },
    )
    return doc


# ---------------------------------------------------------------------------- reading


def get_document(db_session: Session, document_id: int) -> InspectionDocument:
    doc = db_session.get(InspectionDocument, document_id)
    if doc is None:
        raise NotFound(f"文书 {document_id} 不存在")
    return doc


def by_token(db_session: Session, token: str) -> InspectionDocument:
    doc = db_session.scalars(
        select(InspectionDocument).where(InspectionDocument.verify_token == token)
    ).one_or_none()
    if doc is None:
        raise NotFound("没有这份文书：二维码无效，文书可能是伪造的")
    return doc


def visit_documents(db_session: Session, visit_id: int) -> list[InspectionDocument]:
    return list(
        db_session.scalars(
            select(InspectionDocument)
            .where(InspectionDocument.visit_id == visit_id)
            .order_by(InspectionDocument.id)
        )
    )


def pdf_bytes(
    doc: InspectionDocument, *, signed: bool = False, folder: Path | None = None
) -> bytes:
    """The stored PDF (the signed one when asked and there is one), verified by its hash."""
    if signed:
        if doc.signed_sha256 is None:
            raise NotFound(f"{doc.title} {doc.doc_no} 尚未签署完毕")
        return read_blob(doc.signed_sha256, "pdf", folder)
    return read_blob(doc.sha256, "pdf", folder)


# ---------------------------------------------------------------------------- signatures


def decode_signature(data_url: str) -> bytes:
    """A drawn signature from the page (a PNG data URL), checked: a real PNG, not too big,
    not blank. Re-encoded by Pillow so only pixels are stored."""
    from PIL import Image, UnidentifiedImageError

    prefix = "data:image/png;base64,"
    if not data_url or not data_url.startswith(prefix):
        raise CheckOnceError("签名图像无效：应为手机上手写的 PNG 图像")
    try:
        raw = base64.b64decode(data_url[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        raise CheckOnceError("签名图像无效：编码错误") from None
    if len(raw) > MAX_SIGNATURE_BYTES:
        raise CheckOnceError("签名图像过大")
    try:
        image = Image.open(io.BytesIO(raw))
        image.load()
    except (UnidentifiedImageError, OSError):
        raise CheckOnceError("签名图像无效：不是 PNG 图像") from None
    if image.width > 2000 or image.height > 1000:
        raise CheckOnceError("签名图像尺寸过大")
    alpha = image.convert("RGBA")
    # Ink = pixels that are neither transparent nor near-white.
    import numpy as np

    pixels = np.asarray(alpha, dtype=np.int32)
    ink = int(((pixels[..., 3] > 40) & (pixels[..., :3].sum(axis=2) < 600)).sum())
    if ink < 30:
        raise CheckOnceError("签名为空：请在签名框内手写签名")
    flat = Image.new("RGB", alpha.size, "white")
    flat.paste(alpha, mask=alpha.split()[3])
    out = io.BytesIO()
    flat.save(out, format="PNG", optimize=True)
    return out.getvalue()


def sign_record(
    *,
    db_session: Session,
    document_id: int,
    actor: Actor,
    signer: SignerKind | str,
    name: str = "",
    role: str = "",
    image_data_url: str | None = None,
    refused: bool = False,
    refusal_reason: str = "",
    base_url: str,
    folder: Path | None = None,
) -> DocumentSignature:
    """Add a signature to an on-site record. An inspector signs for itself (its login is the
    signer); the enterprise's representative signs on an inspector's phone with name and
    role, or refuses, with a reason. When every team member and the enterprise have signed
    (or the enterprise refused), the signed PDF is rendered and stored by its hash."""
    access.require(
        actor, AuditAction.DOCUMENT_SIGN_REFUSE if refused else AuditAction.DOCUMENT_SIGN
    )
    signer = SignerKind(signer)
    doc = db_session.get(InspectionDocument, document_id, with_for_update=True)
    if doc is None:
        raise NotFound(f"文书 {document_id} 不存在")
    if doc.kind != DocumentKind.ONSITE_RECORD:
        raise CheckOnceError("只有现场检查笔录需要现场签名")
    if doc.signed_sha256:
        raise Conflict(f"{doc.doc_no} 已签署完毕")
    records = load_visit(db_session, doc.visit_id)
    team = {m.inspector_id: m.inspector for m in records.visit.team}
    if actor.inspector_id not in team:
        raise CheckOnceError("只有本次检查组的执法人员可以在现场收集签名")
    name, role, refusal_reason = (
        (name or "").strip(),
        (role or "").strip(),
        (refusal_reason or "").strip(),
    )
    image_sha = None
    if signer is SignerKind.INSPECTOR:
        if refused:
            raise CheckOnceError("执法人员不能拒签自己制作的笔录")
        person = team[actor.inspector_id]
        if any(s.inspector_id == person.id for s in doc.signatures):
            raise Conflict(f"{person.name} 已签名")
        name, role = person.name, "执法人员"
        inspector_id = person.id
    else:
        inspector_id = None
        if any(s.signer == SignerKind.ENTERPRISE for s in doc.signatures):
            raise Conflict("被检查人已签名或已记录拒签")
        if not 1 <= len(name) <= 40:
            raise CheckOnceError("请填写被检查人签名人的姓名（不超过 40 字）")
        if not 1 <= len(role) <= 40:
            raise CheckOnceError("请填写签名人的职务或身份，如“负责人”“委托人”（不超过 40 字）")
        if refused and not 2 <= len(refusal_reason) <= 500:
            raise CheckOnceError("拒绝签字须写明原因（2–500 字）")
    if not refused:
        image_sha = store_blob(decode_signature(image_data_url or ""), "png", folder)
    signature = DocumentSignature(
        document_id=doc.id,
        signer=signer.value,
        inspector_id=inspector_id,
        name=name,
        role=role,
        image_sha256=image_sha,
        refused=refused,
        refusal_reason=refusal_reason if refused else None,
        recorded_by=actor.label,
    )
    doc.signatures.append(signature)
    db_session.flush()
    signed_inspectors = {s.inspector_id for s in doc.signatures if s.signer == SignerKind.INSPECTOR}
    firm_done = any(s.signer == SignerKind.ENTERPRISE for s in doc.signatures)
    if firm_done and set(team) <= signed_inspectors:
        _finish_signed(db_session, doc, records, base_url, folder)
    record(
        db_session,
        actor=actor,
        action=AuditAction.DOCUMENT_SIGN_REFUSE if refused else AuditAction.DOCUMENT_SIGN,
        object_type="document",
        object_id=doc.id,
        enterprise_id=doc.enterprise_id,
        after={
            "doc_no": doc.doc_no,
            "signer": signer.value,
            "name": name,
            "role": role,
            "image_sha256": image_sha,
            "refusal_reason": refusal_reason if refused else None,
            # Set by the last signature: the fingerprint of the signed PDF.
            "signed_sha256": doc.signed_sha256,
        },
    )
    return signature


def missing_signers(doc: InspectionDocument) -> list[str]:
    """Who has yet to sign an on-site record, in words."""
    signed = {s.inspector_id for s in doc.signatures if s.signer == SignerKind.INSPECTOR}
    missing = [m.inspector.name for m in doc.visit.team if m.inspector_id not in signed]
    if not any(s.signer == SignerKind.ENTERPRISE for s in doc.signatures):
        missing.append("被检查人")
    return missing


def _finish_signed(
    db_session: Session,
    doc: InspectionDocument,
    records: VisitRecords,
    base_url: str,
    folder: Path | None,
) -> None:
    images = {
        s.image_sha256: read_blob(s.image_sha256, "png", folder)
        for s in doc.signatures
        if s.image_sha256
    }
    department = db_session.get(Department, doc.department_id)
    content = build_content(
        records,
        DocumentKind.ONSITE_RECORD,
        department,
        doc_no=doc.doc_no,
        verify_url=verify_url(base_url, doc.verify_token),
        signatures=list(doc.signatures),
        signature_images=images,
    )
    data = render_pdf(content)
    doc.signed_sha256 = store_blob(data, "pdf", folder)
    doc.signed_at = dt.datetime.now(dt.UTC)
    db_session.flush()
