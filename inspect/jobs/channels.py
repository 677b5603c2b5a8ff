"""Delivery channels for notifications to enterprises (检查告知).

The notification row is always written first and is the record that matters; a channel only
carries it further (SMS gateway, 政务服务 app, e-mail). The default channels need nothing
outside the process: "outbox" (the default) adds an outbox_message row a gateway picks up
(checkonce.documents.outbox), "log" writes one structured log line per notification,
"database" leaves the row as the enterprise's inbox (its pages read it). "cmpp" is the
interface of an SMS gateway adapter speaking CMPP (checkonce.documents.sms). A jurisdiction plugs in its
own gateway with CHECKONCE_NOTIFICATION_CHANNEL="package.module:ClassName".
"""

from __future__ import annotations

import importlib
import logging
from typing import Protocol, runtime_checkable

from checkonce.errors import CheckOnceError
from checkonce.jobs.models import Notification

log = logging.getLogger("checkonce.notifications")


@runtime_checkable
class NotificationChannel(Protocol):
    """Carries a stored notification to the enterprise; raises when delivery failed."""

    name: str

    def deliver(self, notification: Notification) -> None: ...


class DatabaseChannel:
    """The row is the delivery: the enterprise reads it on its own pages."""

    name = "database"

    def deliver(self, notification: Notification) -> None:
        return None


class LogChannel:
    """One structured log line per notification (what an operator's log shipper forwards)."""

    name = "log"

    def deliver(self, notification: Notification) -> None:
        log.info(
            "notification",
            extra={
                "fields": {
                    "event": "notification.deliver",
                    "notification_id": notification.id,
                    "kind": notification.kind,
                    "enterprise_id": notification.enterprise_id,
                    "title": notification.title,
                    "visits": notification.payload.get("visits", []),
                }
            },
        )


BUILT_IN = {"log": LogChannel, "database": DatabaseChannel}
# Built-in channels living with the tables they write (the default is "outbox").
NAMED = {
    "outbox": "checkonce.documents.outbox:OutboxChannel",
    "cmpp": "checkonce.documents.sms:CmppSmsChannel",
}


def make_channel(spec: str) -> NotificationChannel:
    """The channel named by a setting: a built-in name or "module:Class"."""
    if spec in BUILT_IN:
        return BUILT_IN[spec]()
    spec = NAMED.get(spec, spec)
    module_name, _, class_name = spec.partition(":")
    try:
        channel = getattr(importlib.import_module(module_name), class_name)()
    except (ImportError, AttributeError, ValueError) as exc:
        raise CheckOnceError(f"通知渠道 {spec} 无法加载：{exc}") from exc
    if not isinstance(channel, NotificationChannel):
        raise CheckOnceError(f"通知渠道 {spec} 缺少 name 属性或 deliver 方法")
    return channel
