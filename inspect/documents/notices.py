"""Send the notice to the enterprise (行政检查通知书) through the notification channel, with
the document linked: the verification page behind the QR, which also offers the PDF to the
enterprise's own account.

Only an announced visit that the notice rules already let the enterprise see may be sent
(检查必通知 for announced visits; an unannounced random check is never tipped off, its notice
is handed over on entry). The notification row and, for an announced visit not yet notified,
its NotifiedVisit mark are written in the same transaction, so the nightly notice job does
not tell the enterprise twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.calendar import WorkCalendar
from checkonce.documents.models import DocumentKind, InspectionDocument
from checkonce.documents.service import get_document, verify_url
from checkonce.errors import CheckOnceError
from checkonce.jobs.channels import make_channel
from checkonce.jobs.models import Notification, NotifiedVisit
from checkonce.policy import Policy
from checkonce.visits.models import Visit
from checkonce.visits.notice import visible_to_enterprise


def send_notice(
    *,
    db_session,
    document_id: int,
    actor: Actor,
    base_url: str,
    channel_spec: str,
    today: dt.date,
    policy: Policy,
    calendar: WorkCalendar,
) -> Notification:
    access.require(actor, AuditAction.DOCUMENT_SEND)
    doc: InspectionDocument = get_document(db_session, document_id)
    if doc.kind != DocumentKind.NOTICE:
        raise CheckOnceError("只有行政检查通知书通过通知渠道发送给企业")
    visit = db_session.get(Visit, doc.visit_id)
    if not visit.announced:
        raise CheckOnceError("双随机抽查依法不事先告知：通知书在入企时当场送达，不提前发送")
    if not visible_to_enterprise(
        announced=visit.announced,
        state=visit.state,
        day=visit.day,
        today=today,
        calendar=calendar,
        workdays_ahead=policy.notice.announce_workdays_ahead,
    ):
        raise CheckOnceError(
            f"检查日 {visit.day.isoformat()} 尚未进入告知期（提前 "
            f"{policy.notice.announce_workdays_ahead} 个工作日），暂不能发送"
        )
    channel = make_channel(channel_spec)
    url = verify_url(base_url, doc.verify_token)
    notification = Notification(
        kind="visit_notice",
        enterprise_id=doc.enterprise_id,
        for_day=today,
        title=f"行政检查通知书 {doc.doc_no}",
        body=(
            f"{visit.enterprise.name}：{visit.day:%Y年%m月%d日} {visit.start:%H:%M} 起将对贵单位进行"
            f"“综合查一次”检查（检查编号 {visit.code}），请按通知书所列事项准备。"
        ),
        payload={
            "credit_code": visit.enterprise.credit_code,
            "visits": [
                {"code": visit.code, "day": visit.day.isoformat(), "start": f"{visit.start:%H:%M}"}
            ],
            "document": {"id": doc.id, "doc_no": doc.doc_no, "url": url, "sha256": doc.sha256},
        },
        channel=channel.name,
        status="pending",
    )
    db_session.add(notification)
    db_session.flush()
    told = db_session.scalar(
        select(NotifiedVisit.notification_id).where(
            NotifiedVisit.enterprise_id == visit.enterprise_id,
            NotifiedVisit.visit_code == visit.code,
            NotifiedVisit.visit_day == visit.day,
        )
    )
    if told is None:
        db_session.add(
            NotifiedVisit(
                enterprise_id=visit.enterprise_id,
                visit_code=visit.code,
                visit_day=visit.day,
                notification_id=notification.id,
            )
        )
    try:
        channel.deliver(notification)
    except Exception as exc:
        notification.status, notification.error = "failed", repr(exc)[:2000]
    else:
        notification.status, notification.sent_at = "sent", dt.datetime.now(dt.UTC)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.DOCUMENT_SEND,
        object_type="document",
        object_id=doc.id,
        enterprise_id=doc.enterprise_id,
        after={
            "doc_no": doc.doc_no,
            "channel": channel.name,
            "notification": notification.id,
            "status": notification.status,
        },
    )
    return notification


def notice_documents(db_session, *, visits, base_url: str, day: dt.date) -> list[dict]:
    """The 行政检查通知书 of each announced visit the nightly notice job tells an enterprise
    of, generated (numbered once) as the system, for the notification's payload. Without a
    public address or an embeddable font the notice goes without documents (logged), never
    not at all: telling the enterprise matters more than the attachment."""
    import logging

    from checkonce.audit.actor import Actor, Channel
    from checkonce.documents.fonts import FontMissing
    from checkonce.documents.service import generate

    log = logging.getLogger("checkonce.documents")
    if not base_url:
        log.warning("CHECKONCE_PUBLIC_URL not set: visit notices go without their documents")
        return []
    actor = Actor.system("visit_notices", channel=Channel.JOB)
    out = []
    for visit in visits:
        try:
            doc = generate(
                db_session=db_session,
                visit_id=visit.id,
                kind=DocumentKind.NOTICE,
                actor=actor,
                base_url=base_url,
                today=day,
            )[0]
        except (FontMissing, CheckOnceError) as exc:
            log.warning("no notice document for visit %s: %s", visit.code, exc)
            continue
        out.append(
            {
                "id": doc.id,
                "doc_no": doc.doc_no,
                "visit": visit.code,
                "url": verify_url(base_url, doc.verify_token),
                "sha256": doc.sha256,
            }
        )
    return out
