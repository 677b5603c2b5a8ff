"""Scope filters over the enterprise registry (by industry, district and "check once" scene).

Within a dimension the listed values are alternatives; across dimensions they all apply.
An empty dimension does not restrict. Only active enterprises are ever in scope.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkonce.registry.models import Enterprise, Scene, SceneIndustry

SCOPE_KEYS = ("industries", "districts", "scenes")
SCOPE_NAMES = {"industries": "行业", "districts": "区县", "scenes": "场景"}


def normalize_scope(scope: dict[str, Any] | None) -> dict[str, list[str]]:
    """Every key present, values sorted and de-duplicated (so equal scopes compare equal)."""
    scope = scope or {}
    return {key: sorted({str(v) for v in scope.get(key) or []}) for key in SCOPE_KEYS}


def scope_is_everyone(scope: dict[str, Any] | None) -> bool:
    """Whether the filter restricts nothing."""
    return not any(normalize_scope(scope).values())


def describe_scope(scope: dict[str, Any] | None) -> str:
    """The scope in words for people."""
    scope = normalize_scope(scope)
    parts = [f"{SCOPE_NAMES[k]}：{'、'.join(v)}" for k, v in scope.items() if v]
    return "；".join(parts) if parts else "全部企业"


def scope_statement(scope: dict[str, Any] | None, *, include_inactive: bool = False):
    """A select() of the active enterprises in scope (with the inactive ones too when asked:
    a draw lists them among its exclusions)."""
    scope = normalize_scope(scope)
    stmt = select(Enterprise)
    if not include_inactive:
        stmt = stmt.where(Enterprise.active.is_(True))
    if scope["industries"]:
        stmt = stmt.where(Enterprise.industry_code.in_(scope["industries"]))
    if scope["districts"]:
        stmt = stmt.where(Enterprise.district_adcode.in_(scope["districts"]))
    if scope["scenes"]:
        scene_industries = (
            select(SceneIndustry.industry_code)
            .join(Scene, Scene.id == SceneIndustry.scene_id)
            .where(Scene.code.in_(scope["scenes"]))
        )
        stmt = stmt.where(Enterprise.industry_code.in_(scene_industries))
    return stmt


def enterprises_in_scope(
    session: Session, scope: dict[str, Any] | None, *, include_inactive: bool = False
) -> list[Enterprise]:
    """The active enterprises a scope covers (and the inactive ones when asked), by credit
    code."""
    stmt = scope_statement(scope, include_inactive=include_inactive).order_by(
        Enterprise.credit_code
    )
    return list(session.scalars(stmt))


def active_enterprise_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Enterprise).where(Enterprise.active.is_(True))
        )
        or 0
    )
