"""Validation of a plan against the jurisdiction's policy (policy.toml), one function per rule.

Every rule takes a PlanContext and returns Findings; each finding names its rule, the ids it
concerns and says what is wrong in a sentence a coordinator understands. A plan with an
error-level finding cannot be submitted or approved; warnings are shown but do not block.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.calendar import WorkCalendar
from checkonce.errors import CheckOnceError
from checkonce.plans.models import TRIGGER_REASON_NAMES, Plan, PlanTask
from checkonce.plans.periods import Period, parse_period
from checkonce.plans.scope import (
    active_enterprise_count,
    describe_scope,
    enterprises_in_scope,
    scope_is_everyone,
)
from checkonce.policy import Policy
from checkonce.registry.models import Enterprise
from checkonce.sampling.selection import sample_size

COUNTED_STATES = ("submitted", "approved", "published")


@dataclass(frozen=True)
class Finding:
    """One problem found in a plan."""

    rule: str
    message: str
    severity: str = "error"
    ids: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "ids": {k: list(v) for k, v in self.ids.items()},
        }


def _label(task: PlanTask) -> str:
    row = (
        f"（文件第 {task.source_row} 行）" if task.source_row and task.plan.source != "json" else ""
    )
    return f"第 {task.position} 条任务{row}"


@dataclass
class PlanContext:
    """What the rules look at: the plan, the database, the policy and the work calendar."""

    plan: Plan
    session: Session
    policy: Policy
    calendar: WorkCalendar

    @cached_property
    def period(self) -> Period:
        return parse_period(self.plan.period)

    def in_scope(self, task: PlanTask) -> list[Enterprise]:
        cache = self.__dict__.setdefault("_scope_cache", {})
        if task.id not in cache:
            cache[task.id] = enterprises_in_scope(self.session, task.scope)
        return cache[task.id]

    @cached_property
    def other_plans(self) -> list[Plan]:
        """Other bureaus' and this bureau's other periods' plans of the same year that count:
        submitted or later, and for each department and period only the latest such version."""
        plans = self.session.scalars(
            select(Plan)
            .where(
                Plan.year == self.plan.year, Plan.state.in_(COUNTED_STATES), Plan.id != self.plan.id
            )
            .order_by(Plan.version.desc())
        )
        latest: dict[tuple[int, str], Plan] = {}
        for plan in plans:
            key = (plan.department_id, plan.period)
            if key == (self.plan.department_id, self.plan.period):
                continue  # an earlier version of this very plan
            latest.setdefault(key, plan)
        return list(latest.values())

    def certain_targets(self, task: PlanTask) -> list[Enterprise]:
        """Enterprises a routine task will surely visit: named ones, a campaign's scope, and
        a random stratum drawn in full (n = N)."""
        if task.kind == "random":
            strata = task.strata or {
                c: {"ratio": str(r)} for c, r in self.policy.sampling.ratios.items()
            }
            by_class: dict[str, list[Enterprise]] = defaultdict(list)
            for enterprise in self.in_scope(task):
                by_class[enterprise.risk_class].append(enterprise)
            out = []
            for cls, members in by_class.items():
                spec = strata.get(cls)
                if not spec:
                    continue
                n = sample_size(
                    len(members),
                    ratio=spec.get("ratio"),
                    count=spec.get("count"),
                    rounding="ceil" if self.policy.sampling.round_up else "floor",
                )
                if n >= len(members):
                    out.extend(members)
            return out
        if task.kind == "special":
            from checkonce.plans.service import task_targets

            return task_targets(self.session, task, self.policy)
        return task.enterprise_list

    def workday_window(self, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
        """The window shrunk to its first and last workday (None when it has none); calendar
        days when the year's calendar is unknown (another rule reports that)."""
        try:
            days = self.calendar.workdays(start, end)
        except CheckOnceError:
            return start, end
        return (days[0], days[-1]) if days else None


def min_visits(windows: list[tuple[dt.date, dt.date]]) -> int:
    """The fewest days that hit every window (interval stabbing, exact by the earliest-deadline
    greedy): no schedule can visit fewer times."""
    count, last = 0, None
    for start, end in sorted(windows, key=lambda w: w[1]):
        if last is None or start > last:
            count, last = count + 1, end
    return count


# ---------------------------------------------------------------------------------- rules


def check_item_on_list(ctx: PlanContext) -> list[Finding]:
    """Only items on the bureau's own published checkable-item list (检查事项清单)."""
    findings = []
    dept = ctx.plan.department
    for task in ctx.plan.tasks:
        for item in task.item_list:
            if item.department_id != dept.id:
                findings.append(
                    Finding(
                        "check_item_on_list",
                        f"{_label(task)}：检查事项 {item.code}（{item.name}）属于{item.department.short_name}，"
                        f"不在{dept.short_name}的检查事项清单中",
                        ids={"plan_task": (task.id,), "item": (item.code,)},
                    )
                )
            elif not item.active:
                findings.append(
                    Finding(
                        "check_item_on_list",
                        f"{_label(task)}：检查事项 {item.code}（{item.name}）已从检查事项清单中停用",
                        ids={"plan_task": (task.id,), "item": (item.code,)},
                    )
                )
    return findings


def check_campaign_approval(ctx: PlanContext) -> list[Finding]:
    """A special campaign (专项检查) needs its approval record: approver, date, document no.,
    approved no later than it starts."""
    findings = []
    for task in ctx.plan.tasks:
        if task.kind != "special":
            continue
        missing = [
            name
            for name, value in (
                ("审批人", task.approver),
                ("审批日期", task.approval_date),
                ("审批文号", task.approval_document),
            )
            if not value
        ]
        if missing:
            findings.append(
                Finding(
                    "check_campaign_approval",
                    f"{_label(task)}：专项检查“{task.campaign_name}”缺少审批记录（{'、'.join(missing)}）",
                    ids={"plan_task": (task.id,)},
                )
            )
        elif task.approval_date > task.window_start:
            findings.append(
                Finding(
                    "check_campaign_approval",
                    f"{_label(task)}：专项检查“{task.campaign_name}”的审批日期 {task.approval_date} "
                    f"晚于检查开始日期 {task.window_start}，须先审批后检查",
                    ids={"plan_task": (task.id,)},
                )
            )
    return findings


def check_campaign_quota(ctx: PlanContext) -> list[Finding]:
    """Special campaigns of a bureau in a year stay within its yearly campaign quota."""
    dept = ctx.plan.department
    quota = ctx.policy.campaigns.quota_for(dept.code)
    mine = [t for t in ctx.plan.tasks if t.kind == "special"]
    if not mine:
        return []
    others = [
        t
        for p in ctx.other_plans
        if p.department_id == dept.id
        for t in p.tasks
        if t.kind == "special"
    ]
    total = len(mine) + len(others)
    if total <= quota:
        return []
    return [
        Finding(
            "check_campaign_quota",
            f"{dept.short_name} {ctx.plan.year} 年专项检查共 {total} 项（本计划 {len(mine)} 项，"
            f"其他已提交计划 {len(others)} 项），超过年度额度 {quota} 项",
            ids={"plan_task": tuple(t.id for t in mine), "department": (dept.code,)},
        )
    ]


def check_campaign_scope_not_everyone(ctx: PlanContext) -> list[Finding]:
    """No special campaign may target all enterprises."""
    findings = []
    total = None
    for task in ctx.plan.tasks:
        if task.kind != "special":
            continue
        if scope_is_everyone(task.scope):
            if task.enterprises:
                continue
            findings.append(
                Finding(
                    "check_campaign_scope_not_everyone",
                    f"{_label(task)}：专项检查“{task.campaign_name}”没有限定行业、区县、场景或企业，"
                    "不得面向全部企业开展",
                    ids={"plan_task": (task.id,)},
                )
            )
            continue
        if total is None:
            total = active_enterprise_count(ctx.session)
        covered = len(ctx.in_scope(task))
        if total and covered >= total:
            findings.append(
                Finding(
                    "check_campaign_scope_not_everyone",
                    f"{_label(task)}：专项检查“{task.campaign_name}”的范围（{describe_scope(task.scope)}）"
                    f"覆盖了全部 {total} 家在册企业，不得面向全部企业开展",
                    ids={"plan_task": (task.id,)},
                )
            )
    return findings


def check_whitelist_routine(ctx: PlanContext) -> list[Finding]:
    """White-listed enterprises (监管白名单) get no proactive routine tasks except the items
    of the categories the policy allows (safety, environment, food, health by default)."""
    allowed = set(ctx.policy.whitelist.allowed_categories)
    findings = []
    for task in ctx.plan.tasks:
        if task.kind in ("triggered", "random"):
            # Triggered checks are not proactive; draws leave white-listed enterprises out.
            continue
        bad_items = [i for i in task.item_list if i.category not in allowed]
        if not bad_items:
            continue
        for enterprise in task.enterprise_list:
            if enterprise.whitelisted:
                findings.append(
                    Finding(
                        "check_whitelist_routine",
                        f"{_label(task)}：{enterprise.name}（{enterprise.credit_code}）在监管白名单中，"
                        f"不得对其主动安排 {'、'.join(i.code for i in bad_items)} 的检查"
                        "（白名单企业仅可检查安全生产、生态环境、食品、卫生健康类事项）",
                        ids={
                            "plan_task": (task.id,),
                            "enterprise": (enterprise.credit_code,),
                            "item": tuple(i.code for i in bad_items),
                        },
                    )
                )
    return findings


def check_window_in_period(ctx: PlanContext) -> list[Finding]:
    """Every task's window lies inside the plan's period."""
    period = ctx.period
    return [
        Finding(
            "check_window_in_period",
            f"{_label(task)}：检查时段 {task.window_start} 至 {task.window_end} "
            f"超出计划期间 {period.code}（{period.start} 至 {period.end}）",
            ids={"plan_task": (task.id,)},
        )
        for task in ctx.plan.tasks
        if not period.contains(task.window_start, task.window_end)
    ]


def check_window_has_workdays(ctx: PlanContext) -> list[Finding]:
    """Every task's window contains at least one workday (holidays and 调休 considered)."""
    findings = []
    for task in ctx.plan.tasks:
        try:
            days = ctx.calendar.workdays(task.window_start, task.window_end)
        except CheckOnceError as exc:
            findings.append(
                Finding(
                    "check_window_has_workdays",
                    f"{_label(task)}：{exc.message}",
                    ids={"plan_task": (task.id,)},
                )
            )
            continue
        if not days:
            findings.append(
                Finding(
                    "check_window_has_workdays",
                    f"{_label(task)}：检查时段 {task.window_start} 至 {task.window_end} 内没有工作日",
                    ids={"plan_task": (task.id,)},
                )
            )
    return findings


def _routine_windows(
    ctx: PlanContext, plans: list[Plan]
) -> dict[int, list[tuple[dt.date, dt.date, PlanTask]]]:
    out: dict[int, list[tuple[dt.date, dt.date, PlanTask]]] = defaultdict(list)
    for plan in plans:
        for task in plan.tasks:
            if not task.routine:
                continue
            window = ctx.workday_window(task.window_start, task.window_end)
            if window is None:
                continue
            for enterprise in ctx.certain_targets(task):
                out[enterprise.id].append((window[0], window[1], task))
    return out


def _cap_findings(
    ctx: PlanContext, rule: str, windows: dict[int, list], cap: int, what: str
) -> list[Finding]:
    findings = []
    mine = {t.id for t in ctx.plan.tasks}
    for enterprise_id, entries in windows.items():
        needed = min_visits([(s, e) for s, e, _ in entries])
        if needed <= cap or not any(t.id in mine for _, _, t in entries):
            continue
        enterprise = ctx.session.get(Enterprise, enterprise_id)
        tasks = sorted({t.id for _, _, t in entries})
        findings.append(
            Finding(
                rule,
                f"{enterprise.name}（{enterprise.credit_code}）{ctx.plan.year} 年{what}至少需要 "
                f"{needed} 次入企（检查时段无法合并），超过上限 {cap} 次",
                ids={"enterprise": (enterprise.credit_code,), "plan_task": tuple(tasks)},
            )
        )
    return findings


def check_department_yearly_cap(ctx: PlanContext) -> list[Finding]:
    """Same bureau ≤ N routine on-site inspections per enterprise a year, counting this plan
    and the bureau's other submitted plans of the year; flagged where the windows alone make
    the cap impossible (triggered checks are exempt)."""
    plans = [ctx.plan] + [p for p in ctx.other_plans if p.department_id == ctx.plan.department_id]
    return _cap_findings(
        ctx,
        "check_department_yearly_cap",
        _routine_windows(ctx, plans),
        ctx.policy.caps.max_routine_per_department_year,
        f"仅{ctx.plan.department.short_name}的例行检查",
    )


def check_enterprise_yearly_cap(ctx: PlanContext) -> list[Finding]:
    """All bureaus together ≤ N visits per enterprise a year (a joint visit counts once),
    counting every bureau's submitted plans of the year and this one."""
    return _cap_findings(
        ctx,
        "check_enterprise_yearly_cap",
        _routine_windows(ctx, [ctx.plan, *ctx.other_plans]),
        ctx.policy.caps.max_visits_per_enterprise_year,
        "各部门例行检查合计",
    )


def check_triggered_due(ctx: PlanContext) -> list[Finding]:
    """A triggered check is due within the policy's workdays for its reason, never later."""
    findings = []
    for task in ctx.plan.tasks:
        if task.kind != "triggered":
            continue
        limit = ctx.policy.triggered.due_for(task.trigger_reason)
        if task.due_workdays > limit:
            findings.append(
                Finding(
                    "check_triggered_due",
                    f"{_label(task)}：{TRIGGER_REASON_NAMES[task.trigger_reason]}的检查应在受理后 {limit} "
                    f"个工作日内完成，计划写的是 {task.due_workdays} 个工作日",
                    ids={"plan_task": (task.id,)},
                )
            )
    return findings


def check_enterprise_active(ctx: PlanContext) -> list[Finding]:
    """Named enterprises are still active in the registry (not deregistered)."""
    return [
        Finding(
            "check_enterprise_active",
            f"{_label(task)}：{e.name}（{e.credit_code}）已注销或停业，不能安排检查",
            ids={"plan_task": (task.id,), "enterprise": (e.credit_code,)},
        )
        for task in ctx.plan.tasks
        for e in task.enterprise_list
        if not e.active
    ]


def check_random_population(ctx: PlanContext) -> list[Finding]:
    """Warn when a random spec's scope holds no enterprise (the draw would select nobody)."""
    return [
        Finding(
            "check_random_population",
            f"{_label(task)}：抽查范围（{describe_scope(task.scope)}）内没有在册企业，抽取将为空",
            severity="warning",
            ids={"plan_task": (task.id,)},
        )
        for task in ctx.plan.tasks
        if task.kind == "random" and not ctx.in_scope(task)
    ]


RULES: list[Callable[[PlanContext], list[Finding]]] = [
    check_item_on_list,
    check_campaign_approval,
    check_campaign_quota,
    check_campaign_scope_not_everyone,
    check_whitelist_routine,
    check_window_in_period,
    check_window_has_workdays,
    check_triggered_due,
    check_enterprise_active,
    check_department_yearly_cap,
    check_enterprise_yearly_cap,
    check_random_population,
]


def validate_plan(
    plan: Plan,
    *,
    db_session: Session,
    policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
) -> list[Finding]:
    """Every finding of every rule, in rule order."""
    from checkonce.policy import jurisdiction_policy

    ctx = PlanContext(
        plan=plan,
        session=db_session,
        policy=policy or jurisdiction_policy(),
        calendar=calendar or WorkCalendar.from_settings(),
    )
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule(ctx))
    return findings


def errors_only(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.is_error]
