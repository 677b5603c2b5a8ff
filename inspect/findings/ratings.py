"""Enterprise ratings of visits (企业评价): 1–5 and a comment, once per completed visit,
editable for RATING_EDIT_DAYS days.

Anonymity: an inspected department never sees a rating with the enterprise's identity.
Bureaus get aggregates of the visits their department took part in (count, mean, spread of
scores) and only when at least MIN_GROUP ratings make up the group, so a single rating
cannot be traced back; comments, visits and enterprises are for coordinators only."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.db import utcnow
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.findings.models import VisitRating
from checkonce.plans.models import InspectionTask
from checkonce.visits.models import Visit, VisitTask

RATING_EDIT_DAYS = 7
MIN_GROUP = 3


def _as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def rate_visit(
    *,
    db_session: Session,
    enterprise_id: int,
    visit_id: int,
    score: int,
    actor: Actor,
    comment: str = "",
    now: dt.datetime | None = None,
) -> VisitRating:
    """Rate a completed visit of one's own enterprise, or edit the rating within the window.

    The audit record names the enterprise's account as the actor (the trail is read by
    coordinators and administrators only, never by the inspected bureau) and keeps the
    score, not the comment's text."""
    access.require(actor, AuditAction.RATING_CREATE, enterprise_id=enterprise_id)
    now = _as_utc(now or utcnow())
    visit = db_session.get(Visit, visit_id)
    if visit is None or visit.enterprise_id != enterprise_id:
        raise NotFound(f"检查 {visit_id} 不存在")
    if visit.state != "completed":
        raise Conflict("检查完成（各项结果录入完毕）后才能评价", code="visit_not_completed")
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise CheckOnceError("评分应为 1 至 5 的整数")
    comment = (comment or "").strip()
    if len(comment) > 1000 or "\x00" in comment:
        raise CheckOnceError("评价内容不能超过 1000 字，且不能含有控制字符")
    # A re-plan republishes a visit under the same code: the rating belongs to the code.
    existing = db_session.scalars(
        select(VisitRating)
        .join(Visit, VisitRating.visit_id == Visit.id)
        .where(Visit.code == visit.code, VisitRating.enterprise_id == enterprise_id)
        .with_for_update()
    ).first()
    if existing is not None:
        if now - _as_utc(existing.created_at) > dt.timedelta(days=RATING_EDIT_DAYS):
            raise Conflict(
                f"评价提交已超过 {RATING_EDIT_DAYS} 天，不能再修改", code="rating_locked"
            )
        before = {"score": existing.score, "comment_chars": len(existing.comment or "")}
        existing.score, existing.comment, existing.updated_at = score, comment, now
        db_session.flush()
        _record(db_session, actor, existing, AuditAction.RATING_UPDATE, before)
        return existing
    rating = VisitRating(
        visit_id=visit.id,
        enterprise_id=enterprise_id,
        score=score,
        comment=comment,
        created_at=now,
        updated_at=now,
    )
    db_session.add(rating)
    db_session.flush()
    _record(db_session, actor, rating, AuditAction.RATING_CREATE, None)
    return rating


def _record(
    db_session: Session,
    actor: Actor,
    rating: VisitRating,
    action: AuditAction,
    before: dict | None,
) -> None:
    record(
        db_session,
        actor=actor,
        action=action,
        object_type="visit_rating",
        object_id=rating.id,
        enterprise_id=rating.enterprise_id,
        before=before,
        after={"score": rating.score, "comment_chars": len(rating.comment or "")},
    )


def own_rating(db_session: Session, *, enterprise_id: int, visit_id: int) -> VisitRating | None:
    return db_session.scalars(
        select(VisitRating).where(
            VisitRating.visit_id == visit_id, VisitRating.enterprise_id == enterprise_id
        )
    ).first()


def all_ratings(db_session: Session) -> list[VisitRating]:
    """Every rating with its visit (coordinators)."""
    return list(db_session.scalars(select(VisitRating).order_by(VisitRating.id)))


@dataclass(frozen=True)
class RatingSummary:
    """Anonymised ratings of the visits a department took part in. `suppressed` when fewer
    than MIN_GROUP ratings exist: then no numbers are given at all."""

    department_id: int
    count: int
    suppressed: bool
    mean: float | None
    distribution: dict[int, int] | None


def department_summary(db_session: Session, department_id: int) -> RatingSummary:
    """Aggregates of ratings of visits holding a task of `department_id`."""
    scores = list(
        db_session.scalars(
            select(VisitRating.score).where(
                exists().where(
                    VisitTask.visit_id == VisitRating.visit_id,
                    InspectionTask.id == VisitTask.inspection_task_id,
                    InspectionTask.department_id == department_id,
                )
            )
        )
    )
    if len(scores) < MIN_GROUP:
        return RatingSummary(department_id, len(scores), True, None, None)
    counts = Counter(scores)
    return RatingSummary(
        department_id=department_id,
        count=len(scores),
        suppressed=False,
        mean=round(sum(scores) / len(scores), 2),
        distribution={s: counts.get(s, 0) for s in range(1, 6)},
    )
