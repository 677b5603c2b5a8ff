"""The default notification channel: an outbox table (发件箱).

The channel writes what would go to the enterprise — subject, text and the link to the
attached document — as an `outbox_message` row in the same transaction as the notification,
with status "queued". A gateway process of the jurisdiction (SMS over CMPP, the 政务服务 app)
picks queued rows up and marks them sent or failed; without one, the rows are the exact record
of what was to be sent, and tests read them.
"""

from __future__ import annotations

from sqlalchemy.orm import object_session

from checkonce.documents.models import OutboxMessage
from checkonce.jobs.models import Notification


class OutboxChannel:
    name = "outbox"

    def deliver(self, notification: Notification) -> None:
        session = object_session(notification)
        if session is None:
            raise RuntimeError("outbox channel needs a notification bound to a session")
        document = notification.payload.get("document") or {}
        link = document.get("url", "")
        body = notification.body + (f"\n文书：{document.get('doc_no', '')} {link}" if link else "")
        session.add(
            OutboxMessage(
                notification_id=notification.id,
                enterprise_id=notification.enterprise_id,
                document_id=document.get("id"),
                channel=self.name,
                subject=notification.title[:200],
                body=body,
                link=link[:300],
                status="queued",
            )
        )
        session.flush()
