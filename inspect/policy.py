"""The jurisdiction's policy (data/policy.toml): every number of the rules is a setting here.

Defaults are the published rules quoted in DESIGN.md; a jurisdiction's policy.toml overrides
them. Unknown keys are refused so a misspelt setting cannot silently fall back to a default.
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from checkonce.errors import CheckOnceError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JurisdictionPolicy(_Section):
    name: str = "西安市"
    adcode: str = "610100"
    timezone: str = "Asia/Shanghai"


class TeamPolicy(_Section):
    min_team: int = Field(2, ge=1)
    # Inspectors each department sends to a joint visit; None: each task's own team.
    joint_team_per_department: int | None = Field(None, ge=1)


class SchedulePolicy(_Section):
    """How the merged schedule trades enterprise entries for inspector time."""

    # Enterprise visits the schedule may make above the proven bound LB_visits, in percent
    # of it, where that saves inspector-days or kilometres (0 = fewest visits at any price).
    visit_slack_percent: float = Field(0.0, ge=0, le=10)


class CapsPolicy(_Section):
    max_routine_per_department_year: int = Field(2, ge=0)
    max_visits_per_enterprise_year: int = Field(4, ge=0)
    alert_entries_per_day: int = Field(1, ge=1)
    alert_entries_per_week: int = Field(2, ge=1)
    alert_entries_per_month: int = Field(3, ge=1)


class BeaconPolicy(_Section):
    """The public beacon (公开随机源) mixed into every draw's seed: a number nobody knows at
    commit time and anybody can check later. Default: the Shanghai Composite Index
    (上证综合指数, 000001) close of the first trading day after the commitment, as Chinese
    public lotteries use."""

    source: str = Field("sse-composite-close", pattern=r"^[a-z0-9][a-z0-9-]{1,38}$")
    name: str = Field("上证综合指数（000001）收盘点位", min_length=2, max_length=120)
    # Where anyone looks the value up (shown beside it).
    where: str = Field("上海证券交易所官网每日行情；各大财经媒体收盘报道", max_length=200)
    # Decimal places of the value: the entered number is written with exactly these many.
    decimals: int = Field(2, ge=0, le=8)
    # Which days the source publishes on: "trading" = workdays that are Monday–Friday (the
    # exchanges close on holidays and on the make-up 调休 weekends); "workday"; "every_day".
    days: Literal["trading", "workday", "every_day"] = "trading"
    # The value may be entered from this local time of its day on (the close is final then).
    available_after: str = Field("15:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class SamplingPolicy(_Section):
    """Double-random sampling (双随机): ratios per credit risk class (信用风险分类)."""

    beacon: BeaconPolicy = BeaconPolicy()
    # Approved redraws per plan task, at most; beyond, nobody can draw it again.
    max_redraws_per_task: int = Field(2, ge=0)

    ratios: dict[str, float] = {"A": 0.03, "B": 0.10, "C": 0.30, "D": 0.70}
    exclude_drawn_same_item_year: bool = True
    class_a_handling: Literal["ratio", "exempt"] = "ratio"
    # White-listed enterprises stay in random draws whose items are all of the allowed
    # categories (safety, environment, food, health), as the white-list rule allows.
    include_whitelisted: bool = True
    round_up: bool = True

    @model_validator(mode="after")
    def _ratios(self) -> SamplingPolicy:
        if set(self.ratios) != {"A", "B", "C", "D"}:
            raise ValueError("sampling.ratios must give A, B, C and D")
        if any(not 0 <= r <= 1 for r in self.ratios.values()):
            raise ValueError("sampling.ratios must lie between 0 and 1")
        return self


class WhitelistPolicy(_Section):
    allowed_categories: list[str] = ["safety", "environment", "food", "health"]


class CampaignPolicy(_Section):
    default_quota_per_department_year: int = Field(2, ge=0)
    quota_overrides: dict[str, int] = {}

    def quota_for(self, department: str) -> int:
        """Special campaigns (专项检查) the department may run in a year."""
        return self.quota_overrides.get(department, self.default_quota_per_department_year)


class PublicityPolicy(_Section):
    publish_within_workdays: int = Field(20, ge=1)


class NoticePolicy(_Section):
    announce_workdays_ahead: int = Field(3, ge=0)


class ReschedulePolicy(_Section):
    """The enterprise's say in the time of an announced visit (双向预约): once per visit, up to
    `request_workdays_before` workdays before it, to another day the planner finds feasible
    that is itself at least that many workdays away."""

    enabled: bool = True
    request_workdays_before: int = Field(2, ge=1)


class CheckinPolicy(_Section):
    geofence_radius_m: float = Field(300.0, gt=0)
    backfill_calendar_days: int = Field(10, ge=0)


class TriggeredPolicy(_Section):
    due_within_workdays: int = Field(5, ge=1)
    due_by_reason: dict[str, int] = {}

    def due_for(self, reason: str) -> int:
        """Workdays within which a triggered task of this reason must be done."""
        return self.due_by_reason.get(reason, self.due_within_workdays)


class DayPolicy(_Section):
    start: str = "09:00"
    end: str = "17:30"


class TravelPolicy(_Section):
    speed_kmh: float = Field(25.0, gt=0)
    detour: float = Field(1.3, ge=1)


class AuditPolicy(_Section):
    """The audit trail's chain hash: SHA-256, or SM3 (GB/T 32905, 国密) where a deployment's
    密评 requires it and OpenSSL provides it."""

    hash: Literal["sha256", "sm3"] = "sha256"

    @model_validator(mode="after")
    def _available(self) -> AuditPolicy:
        if self.hash not in hashlib.algorithms_available:
            raise ValueError(f"本机 OpenSSL 不提供 {self.hash} 算法，无法用于审计链")
        return self


class Policy(_Section):
    jurisdiction: JurisdictionPolicy = JurisdictionPolicy()
    team: TeamPolicy = TeamPolicy()
    caps: CapsPolicy = CapsPolicy()
    sampling: SamplingPolicy = SamplingPolicy()
    whitelist: WhitelistPolicy = WhitelistPolicy()
    campaigns: CampaignPolicy = CampaignPolicy()
    publicity: PublicityPolicy = PublicityPolicy()
    notice: NoticePolicy = NoticePolicy()
    reschedule: ReschedulePolicy = ReschedulePolicy()
    checkin: CheckinPolicy = CheckinPolicy()
    triggered: TriggeredPolicy = TriggeredPolicy()
    day: DayPolicy = DayPolicy()
    travel: TravelPolicy = TravelPolicy()
    schedule: SchedulePolicy = SchedulePolicy()
    audit: AuditPolicy = AuditPolicy()


def load_policy(path: Path) -> Policy:
    """Read a policy file; a bad file is a clear error naming the setting."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckOnceError(f"政策文件不存在：{path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CheckOnceError(f"政策文件 {path} 格式错误：{exc}") from exc
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise CheckOnceError(f"政策文件 {path} 设置有误：{problems}") from exc


@lru_cache
def jurisdiction_policy() -> Policy:
    """The policy of the configured jurisdiction."""
    from checkonce.config import get_settings

    return load_policy(get_settings().jurisdiction_dir / "policy.toml")
