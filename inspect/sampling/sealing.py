"""The secret seed at rest: sealed until the draw runs or is abandoned.

Why sealed rather than only hidden: a seed in clear in the database is readable by anyone
with a database dump, a backup or read access (a DBA, a reporting account), and with the
seed and the beacon such a reader knows the selection before it is run and published. The
seed is therefore kept as AES-256-GCM ciphertext under a key derived from the server
secret (`CHECKONCE_SECRET_KEY`, which the database does not hold), bound to the draw's
committed seed hash as associated data so a sealed seed cannot be moved to another draw.
No API or page ever shows `seed_sealed`; the clear seed is written only when it becomes
public (the run, or an approved redraw ending the draw).

If the server secret changes while a draw is committed, its seed can no longer be opened:
that draw cannot run and needs an approved redraw (the error says so).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from checkonce.errors import CheckOnceError

VERSION = "v1"
_CONTEXT = b"checkonce/draw-seed/v1"


class SeedUnavailable(CheckOnceError):
    code = "seed_unavailable"
    status = 409


def _key(server_secret: str) -> bytes:
    return hmac.new(server_secret.encode("utf-8"), _CONTEXT, hashlib.sha256).digest()


def _server_secret(server_secret: str | None) -> str:
    if server_secret is not None:
        return server_secret
    from checkonce.config import get_settings

    return get_settings().secret_key


def seal(seed_hex: str, seed_sha256: str, *, server_secret: str | None = None) -> str:
    """The seed encrypted for storage: "v1:" + hex(nonce ‖ ciphertext ‖ tag)."""
    nonce = os.urandom(12)
    box = AESGCM(_key(_server_secret(server_secret)))
    sealed = box.encrypt(nonce, bytes.fromhex(seed_hex), seed_sha256.encode("ascii"))
    return f"{VERSION}:{(nonce + sealed).hex()}"


def unseal(sealed: str, seed_sha256: str, *, server_secret: str | None = None) -> str:
    """The seed back, checked against its committed hash."""
    version, _, body = sealed.partition(":")
    try:
        if version != VERSION:
            raise ValueError(version)
        raw = bytes.fromhex(body)
        box = AESGCM(_key(_server_secret(server_secret)))
        seed = box.decrypt(raw[:12], raw[12:], seed_sha256.encode("ascii"))
    except (ValueError, InvalidTag):
        raise SeedUnavailable(
            "无法取出该抽取的密封种子（服务器密钥已更换或数据被改动）：此抽取无法执行，"
            "请申请重新抽取"
        ) from None
    if hashlib.sha256(seed).hexdigest() != seed_sha256:
        raise SeedUnavailable("密封种子与承诺的种子哈希不符：此抽取无法执行，请申请重新抽取")
    return seed.hex()
