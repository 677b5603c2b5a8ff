"""Staff reads of non-public enterprise data (查阅留痕): one audit record per request.

A handler that shows staff an enterprise's record, visits, check-ins, results, fees or
reports takes `reads: ReadLogDep` and, once it knows what it shows, calls `reads.shown(...)`
once, with the principal (or the typed actor) it already has:

    reads.shown(principal, "enterprise", enterprise_id=firm.id, object_id=firm.credit_code)
    reads.shown(principal, "visit", enterprise_ids=[v.enterprise_id for v in visits])

Rows that all concern one enterprise name it; rows of several enterprises are recorded as
the object, the count of rows and of enterprises, and the query that chose them. Enterprises
reading their own data and the public are not recorded (their reads are not the oversight
the trail exists for); an empty answer showed nothing and is not recorded either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import update
from sqlalchemy.orm import Session

from checkonce.api.deps import STAFF, SessionDep
from checkonce.audit.actor import Actor, Channel
from checkonce.audit.models import AuditHead
from checkonce.audit.service import record_read
from checkonce.auth.service import Principal
from checkonce.jobs.logs import REQUEST_ID

STAFF_ROLES = frozenset(STAFF)
# The query that chose a list is kept, bounded: a read record is one small row.
MAX_QUERY_KEYS = 12
MAX_QUERY_VALUE = 80


def request_actor(request: Request, principal: Principal) -> Actor:
    """The actor of this request: the principal, through the API or a page, with the
    request id the app assigned (X-Request-ID). One function, so that the typed actor
    dependency of checkonce.api.deps can take its place in one edit."""
    channel = Channel.API if request.url.path.startswith("/api/") else Channel.WEB
    return Actor.from_principal(principal, channel=channel, request_id=REQUEST_ID.get())


def _query(request: Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in request.query_params.items():
        if value and key not in ("lang",) and len(out) < MAX_QUERY_KEYS:
            out[key[:40]] = value[:MAX_QUERY_VALUE]
    return out


class ReadLog:
    """What one request showed a staff member; at most one record per request."""

    def __init__(self, request: Request, db_session: Session) -> None:
        self.request = request
        self.db_session = db_session
        self.seq: int | None = None

    def shown(
        self,
        who: Principal | Actor,
        object_type: str,
        *,
        enterprise_id: int | None = None,
        object_id: Any = None,
        enterprise_ids: Iterable[int | None] | None = None,
        count: int | None = None,
        **detail: Any,
    ) -> int | None:
        """Record that `who` (the request's principal, or its typed actor) was shown
        `object_type` rows: of the one enterprise
        `enterprise_id` (with the object's id), or the rows whose enterprises are
        `enterprise_ids` (one entry per row shown; `count` when it differs). Returns the
        record's sequence number, None when nothing is recorded."""
        if who.role not in STAFF_ROLES:
            return None
        if self.seq is not None:
            raise RuntimeError("a request records its staff read once")
        if enterprise_id is None:
            ids = list(enterprise_ids or ())
            rows = len(ids) if count is None else count
            if rows == 0:
                return None
            distinct = {i for i in ids if i is not None}
            if len(distinct) == 1:
                enterprise_id = distinct.pop()
            elif enterprise_ids is not None:
                detail = {**detail, "enterprises": len(distinct)}
            detail = {**detail, "rows": rows}
            query = _query(self.request)
            if query:
                detail["query"] = query
        self.seq = record_read(
            self.db_session,
            actor=who if isinstance(who, Actor) else request_actor(self.request, who),
            object_type=object_type,
            object_id=object_id if object_id is not None else (enterprise_id or "list"),
            enterprise_id=enterprise_id,
            detail=detail or None,
        )
        return self.seq


def read_log(request: Request, db: SessionDep) -> ReadLog:
    """Dependency: the request's ReadLog, on the request's own session (same transaction).

    On SQLite the request takes the write lock now, before it reads: a transaction that has
    read cannot start writing once another connection has committed (SQLITE_BUSY_SNAPSHOT,
    no waiting), and its read record is written at the end. PostgreSQL needs nothing."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    return ReadLog(request, db)


ReadLogDep = Annotated[ReadLog, Depends(read_log)]
