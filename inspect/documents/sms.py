"""SMS gateway adapter interface for CMPP (中国移动点对点协议, China Mobile Peer to Peer), the
protocol government SMS platforms (政务短信平台) and the operators' SP gateways commonly speak.

CheckOnce ships the interface, its configuration and the protocol's pure parts (the login
authenticator and splitting a long Chinese message into UCS-2 segments); it opens no network
connection. A jurisdiction that connects to its platform implements `CmppTransport` (or uses a
maintained CMPP client) and sets CHECKONCE_NOTIFICATION_CHANNEL=cmpp with the settings below.

Configuration (environment, all required for "cmpp"):

=============================  ===============================================================
CHECKONCE_CMPP_HOST / _PORT    the gateway (ISMG) address; usually port 7890 (long connection)
CHECKONCE_CMPP_SP_ID           企业代码 (Source_Addr), 6 digits, given by the platform
CHECKONCE_CMPP_SECRET          shared secret for CMPP_CONNECT
CHECKONCE_CMPP_SERVICE_ID      业务代码 (Service_Id), up to 10 characters
CHECKONCE_CMPP_SRC_ID          接入号 / 短信端口号 shown to the receiver (Src_Id)
CHECKONCE_CMPP_VERSION         0x30 (CMPP 3.0, default) or 0x20 (CMPP 2.0)
CHECKONCE_CMPP_WINDOW          messages in flight before waiting for SUBMIT_RESP (default 16)
=============================  ===============================================================

The adapter's methods, in the order a session uses them:

- ``connect()``: TCP connect, send CMPP_CONNECT (Source_Addr = SP id, AuthenticatorSource =
  MD5(Source_Addr + 9 zero bytes + secret + timestamp MMDDHHMMSS), Version, Timestamp); fail
  on a non-zero Status of CMPP_CONNECT_RESP.
- ``submit(mobile, text) -> list[msg_id]``: one CMPP_SUBMIT per segment (Msg_Fmt 8 = UCS-2,
  TP_udhi = 1 with a 6-byte concatenation header when the text exceeds 70 characters,
  Registered_Delivery = 1 to get a status report); returns the gateway's Msg_Ids.
- ``poll_reports() -> list[DeliveryReport]``: CMPP_DELIVER messages with Registered_Delivery =
  1 are status reports (Stat "DELIVRD" = delivered); each is acknowledged by CMPP_DELIVER_RESP.
- ``active_test()``: CMPP_ACTIVE_TEST heartbeat when the link is idle (every 60 s typically).
- ``close()``: CMPP_TERMINATE.

The channel (`CmppSmsChannel.deliver`) sends the notification's text and the document's link
to the enterprise's registered mobile number. CheckOnce's registry holds no contact numbers
yet: a deployment supplies `recipient_for(enterprise_id) -> str` (its 企业联系人 register).
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from typing import Protocol

from checkonce.errors import CheckOnceError
from checkonce.jobs.models import Notification

SINGLE_SEGMENT_CHARS = 70  # UCS-2, 140 bytes
MULTI_SEGMENT_CHARS = 67  # 140 bytes less the 6-byte concatenation header


@dataclass(frozen=True)
class CmppConfig:
    host: str
    port: int
    sp_id: str
    secret: str
    service_id: str
    src_id: str
    version: int = 0x30
    window: int = 16

    @classmethod
    def from_env(cls) -> CmppConfig:
        def need(name: str) -> str:
            value = os.environ.get(f"CHECKONCE_CMPP_{name}", "").strip()
            if not value:
                raise CheckOnceError(f"短信网关未配置：缺少 CHECKONCE_CMPP_{name}")
            return value

        sp_id = need("SP_ID")
        if not (len(sp_id) == 6 and sp_id.isdigit()):
            raise CheckOnceError("CHECKONCE_CMPP_SP_ID 应为 6 位数字的企业代码")
        return cls(
            host=need("HOST"),
            port=int(need("PORT")),
            sp_id=sp_id,
            secret=need("SECRET"),
            service_id=need("SERVICE_ID")[:10],
            src_id=need("SRC_ID")[:21],
            version=int(os.environ.get("CHECKONCE_CMPP_VERSION", "0x30"), 0),
            window=int(os.environ.get("CHECKONCE_CMPP_WINDOW", "16")),
        )


@dataclass(frozen=True)
class DeliveryReport:
    msg_id: int
    mobile: str
    stat: str  # "DELIVRD" when delivered

    @property
    def delivered(self) -> bool:
        return self.stat == "DELIVRD"


class CmppTransport(Protocol):
    """What a deployment implements (or wraps a maintained CMPP client in)."""

    def connect(self) -> None: ...

    def submit(self, mobile: str, text: str) -> list[int]: ...

    def poll_reports(self) -> list[DeliveryReport]: ...

    def active_test(self) -> None: ...

    def close(self) -> None: ...


def authenticator_source(sp_id: str, secret: str, timestamp: str) -> bytes:
    """AuthenticatorSource of CMPP_CONNECT: MD5(Source_Addr + 9 zero bytes + secret +
    timestamp "MMDDHHMMSS")."""
    return hashlib.md5(
        sp_id.encode("ascii") + b"\0" * 9 + secret.encode("utf-8") + timestamp.encode("ascii")
    ).digest()


def ucs2_segments(text: str, reference: int) -> list[bytes]:
    """The Msg_Content of each CMPP_SUBMIT for `text` (UCS-2 big-endian): one segment up to
    70 characters, else 67-character segments each with the header 05 00 03 ref total n."""
    if len(text) <= SINGLE_SEGMENT_CHARS:
        return [text.encode("utf-16-be")]
    parts = [text[i : i + MULTI_SEGMENT_CHARS] for i in range(0, len(text), MULTI_SEGMENT_CHARS)]
    if len(parts) > 255:
        raise CheckOnceError("短信过长")
    return [
        struct.pack("BBBBBB", 5, 0, 3, reference & 0xFF, len(parts), n) + part.encode("utf-16-be")
        for n, part in enumerate(parts, start=1)
    ]


class CmppSmsChannel:
    """A notification channel sending through a CMPP transport. Without a transport given
    (`transport=`) and a recipient register (`recipient_for=`) it refuses to deliver, with a
    message saying what to configure; the notification row keeps the error."""

    name = "cmpp"

    def __init__(self, transport: CmppTransport | None = None, recipient_for=None) -> None:
        self.transport = transport
        self.recipient_for = recipient_for

    def deliver(self, notification: Notification) -> None:
        if self.transport is None or self.recipient_for is None:
            raise CheckOnceError(
                "短信网关适配器未接入：请实现 CmppTransport 并提供企业联系人手机号查询"
            )
        mobile = self.recipient_for(notification.enterprise_id)
        document = notification.payload.get("document") or {}
        text = notification.title
        if document.get("url"):
            text += f"。{document.get('doc_no', '')}：{document['url']}"
        self.transport.submit(mobile, text)
