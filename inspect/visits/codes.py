"""Signed codes: the enterprise code (企业码, static, on the poster at the door: `/e/<token>`)
and the inspection code (检查码, per visit and inspector, valid on the visit day: `/v/<token>`).

A token is `<kind>.<kid>.<fields…>.<signature>`: the signature is HMAC-SHA256 over everything
before it, truncated to 128 bits and base64url-encoded, under the secret of the key `kid`.
Key secrets are derived from the server's secret key and the key's stored salt, so neither the
database nor the configuration alone can forge a code. Keys rotate: new codes are signed with
the newest unrevoked key, older codes keep working until their key is revoked.

Keys are read on every scan, so each process keeps them in memory for KEY_CACHE_SECONDS
(30 s). A key id it has not seen is always read from the database, so a key rotated in by
another process or server worker works at once. A revocation takes effect at once in the
process that revoked it, and within KEY_CACHE_SECONDS in every other process (other
`serve` workers, a server when the CLI revoked): posters signed by a leaked key may still be
accepted there for up to that long.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor, Channel
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.db import utcnow
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.registry.models import Enterprise
from checkonce.visits.checkin_models import CodeSigningKey

ENTERPRISE_KIND = "E1"
INSPECTION_KIND = "V1"
SIGNATURE_BYTES = 16
_CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
_KID = re.compile(r"^[0-9a-z]{4,16}$")
# How long a process trusts its copy of a signing key (see the module docstring).
KEY_CACHE_SECONDS = 30.0


class InvalidCode(CheckOnceError):
    """A code that is not ours, altered, signed by a revoked key or for someone else.
    Nothing is stored when a code is refused."""

    code = "invalid_code"
    status = 400


@dataclass(frozen=True)
class EnterpriseCode:
    """What a valid enterprise code says: the enterprise and the key that signed it."""

    credit_code: str
    kid: str


@dataclass(frozen=True)
class InspectionCode:
    """What a valid inspection code says: visit, inspector and the one day it is valid on."""

    visit_id: int
    inspector_id: int
    day: dt.date
    kid: str


# --- keys ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownKey:
    """A signing key as this process last read it: enough to check a signature."""

    kid: str
    salt: str
    revoked: bool


class KeyCache:
    """Signing keys per database and key id, trusted for `ttl` seconds.

    Only keys found are kept (an unknown key id is read again on the next scan), and a key
    this process revoked stays revoked here for `ttl` even if a concurrent scan read it back
    before the revocation committed: a revocation that then rolls back fails closed.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._keys: dict[tuple[str, str], tuple[KnownKey, float]] = {}
        self._lock = threading.Lock()

    def get(self, database: str, kid: str) -> KnownKey | None:
        held = self._keys.get((database, kid))
        if held is None or held[1] <= self.clock():
            return None
        return held[0]

    def put(self, database: str, key: KnownKey) -> None:
        with self._lock:
            held = self._keys.get((database, key.kid))
            now = self.clock()
            if held is not None and held[0].revoked and held[1] > now and not key.revoked:
                return
            self._keys[(database, key.kid)] = (key, now + self.ttl)

    def revoke(self, database: str, key: KnownKey) -> None:
        with self._lock:
            self._keys[(database, key.kid)] = (key, self.clock() + self.ttl)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


KEY_CACHE = KeyCache(KEY_CACHE_SECONDS)


def _database_of(db_session: Session) -> str:
    """Names the database (and schema) a session reads, so two databases in one process never
    share cached keys."""
    return str(db_session.get_bind().engine.url)


def _known(key: CodeSigningKey) -> KnownKey:
    return KnownKey(kid=key.kid, salt=key.salt, revoked=key.revoked_at is not None)


def signing_key(*, db_session: Session, kid: str) -> KnownKey | None:
    """The key `kid` from this process's cache, or from the database (then cached)."""
    database = _database_of(db_session)
    known = KEY_CACHE.get(database, kid)
    if known is not None:
        return known
    key = db_session.scalars(select(CodeSigningKey).where(CodeSigningKey.kid == kid)).first()
    if key is None:
        return None
    known = _known(key)
    KEY_CACHE.put(database, known)
    return KEY_CACHE.get(database, kid) or known


def derive_secret(secret_key: str, key: CodeSigningKey | KnownKey) -> bytes:
    """The signing secret of `key`: HMAC of the server secret over the key id and salt."""
    message = f"checkonce/code-signing/{key.kid}/{key.salt}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).digest()


def create_key(*, db_session: Session, actor: Actor) -> CodeSigningKey:
    """A new signing key; from now on new posters and inspection codes are signed with it."""
    access.require(actor, AuditAction.SIGNING_KEY_CREATE)
    key = CodeSigningKey(
        kid=secrets.token_hex(4), salt=secrets.token_hex(32), created_by=actor.label
    )
    db_session.add(key)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.SIGNING_KEY_CREATE,
        object_type="code_signing_key",
        object_id=key.kid,
        after={"kid": key.kid},  # never the salt: with the server secret it is the key
    )
    return key


def current_key(*, db_session: Session, actor: Actor | None = None) -> CodeSigningKey:
    """The newest unrevoked key, created on first use so a fresh installation can print
    posters without a set-up step (then by CheckOnce itself)."""
    key = db_session.scalars(
        select(CodeSigningKey)
        .where(CodeSigningKey.revoked_at.is_(None))
        .order_by(CodeSigningKey.id.desc())
        .limit(1)
    ).first()
    if key is not None:
        return key
    return create_key(
        db_session=db_session, actor=actor or Actor.system("code_keys", channel=Channel.SYSTEM)
    )


def list_keys(*, db_session: Session) -> list[CodeSigningKey]:
    return list(db_session.scalars(select(CodeSigningKey).order_by(CodeSigningKey.id)))


def revoke_key(*, db_session: Session, kid: str, actor: Actor, reason: str) -> CodeSigningKey:
    """Revoke a key: every code it signed is refused from now on (posters must be reprinted)."""
    access.require(actor, AuditAction.SIGNING_KEY_REVOKE)
    if not reason.strip():
        raise CheckOnceError("作废签名密钥必须说明原因")
    key = db_session.scalars(select(CodeSigningKey).where(CodeSigningKey.kid == kid)).first()
    if key is None:
        raise NotFound(f"签名密钥 {kid} 不存在")
    if key.revoked_at is not None:
        raise Conflict(f"签名密钥 {kid} 已于 {key.revoked_at:%Y-%m-%d} 作废")
    key.revoked_at = utcnow()
    key.revoked_by = actor.label
    key.revoke_reason = reason.strip()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.SIGNING_KEY_REVOKE,
        object_type="code_signing_key",
        object_id=key.kid,
        before={"revoked": False},
        after={"revoked": True},
        detail={"reason": key.revoke_reason},
    )
    # Immediate in this process; other processes drop their copy within KEY_CACHE_SECONDS.
    KEY_CACHE.revoke(_database_of(db_session), _known(key))
    return key


# --- signing -------------------------------------------------------------------------------


def _signature(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, payload.encode(), hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _sign(secret_key: str, key: CodeSigningKey, fields: list[str]) -> str:
    payload = ".".join(fields)
    return f"{payload}.{_signature(derive_secret(secret_key, key), payload)}"


def enterprise_token(*, db_session: Session, secret_key: str, credit_code: str) -> str:
    """The enterprise code of `credit_code`, signed with the current key."""
    key = current_key(db_session=db_session)
    return _sign(secret_key, key, [ENTERPRISE_KIND, key.kid, credit_code])


def inspection_token(
    *, db_session: Session, secret_key: str, visit_id: int, inspector_id: int, day: dt.date
) -> str:
    """The inspection code of one inspector on one visit, valid on `day` only."""
    key = current_key(db_session=db_session)
    fields = [INSPECTION_KIND, key.kid, str(visit_id), str(inspector_id), f"{day:%Y%m%d}"]
    return _sign(secret_key, key, fields)


def token_from_scan(scanned: str, marker: str) -> str:
    """The token in what a camera read: the bare token or a URL ending in `/<marker>/<token>`
    (scheme, host, query and fragment ignored)."""
    text = scanned.strip()
    if "/" in text:
        path = urlsplit(text).path if "://" in text else text.split("?")[0].split("#")[0]
        prefix = f"/{marker}/"
        if prefix not in path:
            raise InvalidCode("二维码不是本系统的企业码或检查码", code="code_not_ours")
        text = path.rsplit(prefix, 1)[1].strip("/")
    return unquote(text)


def _verify(db_session: Session, secret_key: str, token: str, kind: str, what: str) -> list[str]:
    """The fields of a token whose kind, key and signature are valid; otherwise InvalidCode."""
    parts = token.split(".")
    if len(parts) < 4 or parts[0] != kind or not _KID.match(parts[1]):
        raise InvalidCode(f"{what}格式不正确：不是本系统签发的{what}", code="code_malformed")
    key = signing_key(db_session=db_session, kid=parts[1])
    expected = _signature(derive_secret(secret_key, key), ".".join(parts[:-1])) if key else ""
    # Compare even when the key is unknown so the answer's timing does not reveal key ids.
    if not hmac.compare_digest(expected.encode(), parts[-1].encode()) or key is None:
        raise InvalidCode(f"{what}校验失败：二维码被篡改或伪造", code="code_forged")
    if key.revoked:
        raise InvalidCode(
            f"{what}已作废（签名密钥 {key.kid} 已停用），请使用新打印的二维码", code="code_revoked"
        )
    return parts[1:-1]


def verify_enterprise_token(*, db_session: Session, secret_key: str, token: str) -> EnterpriseCode:
    """Check an enterprise code's signature and key; the credit code it names."""
    kid, *rest = _verify(db_session, secret_key, token, ENTERPRISE_KIND, "企业码")
    if len(rest) != 1 or not _CREDIT_CODE.match(rest[0]):
        raise InvalidCode("企业码内容不正确", code="code_malformed")
    return EnterpriseCode(credit_code=rest[0], kid=kid)


def verify_inspection_token(*, db_session: Session, secret_key: str, token: str) -> InspectionCode:
    """Check an inspection code's signature and key; the visit, inspector and day it names.
    Whether that day is today, and whether the visit is in force, is the caller's question."""
    kid, *rest = _verify(db_session, secret_key, token, INSPECTION_KIND, "检查码")
    try:
        visit_id, inspector_id, day = int(rest[0]), int(rest[1]), rest[2]
        valid_on = dt.datetime.strptime(day, "%Y%m%d").date()
    except (ValueError, IndexError):
        raise InvalidCode("检查码内容不正确", code="code_malformed") from None
    if len(rest) != 3:
        raise InvalidCode("检查码内容不正确", code="code_malformed")
    return InspectionCode(visit_id=visit_id, inspector_id=inspector_id, day=valid_on, kid=kid)


def scanned_enterprise_code(
    *, db_session: Session, secret_key: str, scanned: str, expected_credit_code: str | None = None
) -> EnterpriseCode:
    """The enterprise code in what a camera read, its signature and key checked.

    `expected_credit_code` is the enterprise the caller says it is at: a valid code of another
    enterprise is refused (a poster carried elsewhere, or a photo of someone else's poster).
    """
    code = verify_enterprise_token(
        db_session=db_session, secret_key=secret_key, token=token_from_scan(scanned, "e")
    )
    if (
        expected_credit_code is not None
        and expected_credit_code.strip().upper() != code.credit_code
    ):
        raise InvalidCode(
            f"企业码属于另一家企业（{code.credit_code}），与所报企业 {expected_credit_code} 不符",
            code="code_other_enterprise",
        )
    return code


def check_registered(firm: Enterprise | None, code: EnterpriseCode) -> Enterprise:
    """`firm` if it is the code's enterprise and still registered, else InvalidCode."""
    if firm is None or not firm.active or firm.credit_code != code.credit_code:
        raise InvalidCode(
            f"企业码对应的企业 {code.credit_code} 不在登记库中或已注销",
            code="code_unknown_enterprise",
        )
    return firm


def registered_enterprise(
    *, db_session: Session, code: EnterpriseCode, lock: bool = False
) -> Enterprise:
    """The registered, active enterprise a valid code names. `lock` also locks its row
    (PostgreSQL) for the rest of the transaction, in the same round trip."""
    stmt = select(Enterprise).where(Enterprise.credit_code == code.credit_code)
    if lock:
        stmt = stmt.with_for_update()
    return check_registered(db_session.scalars(stmt).first(), code)


def enterprise_of_code(
    *, db_session: Session, secret_key: str, scanned: str, expected_credit_code: str | None = None
) -> tuple[Enterprise, EnterpriseCode]:
    """The registered enterprise a scanned enterprise code belongs to (see
    `scanned_enterprise_code` for `expected_credit_code`)."""
    code = scanned_enterprise_code(
        db_session=db_session,
        secret_key=secret_key,
        scanned=scanned,
        expected_credit_code=expected_credit_code,
    )
    return registered_enterprise(db_session=db_session, code=code), code


def enterprise_url(base_url: str, token: str) -> str:
    """The URL printed in an enterprise's QR code."""
    return f"{base_url.rstrip('/')}/e/{token}"


def inspection_url(base_url: str, token: str) -> str:
    """The URL an inspector shows as a QR code for the enterprise to check."""
    return f"{base_url.rstrip('/')}/v/{token}"
