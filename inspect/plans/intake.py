"""Reading plan tasks from JSON or from spreadsheet rows into checked drafts.

Intake checks form and references (known item codes, valid and registered credit codes, dates,
what each kind needs); it collects every problem of every row before anything is written.
Policy rules (is the item on this bureau's list, campaign quota, caps …) are the job of
validation.py and are checked before submission, not here.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.calendar import WorkCalendar
from checkonce.errors import CheckOnceError, RowError
from checkonce.plans.models import RISK_STRATA, TRIGGER_REASON_NAMES
from checkonce.plans.scope import SCOPE_KEYS
from checkonce.policy import Policy
from checkonce.registry.creditcode import credit_code_problem
from checkonce.registry.models import CheckItem, District, Enterprise, Industry, Scene
from checkonce.sampling.selection import parse_ratio
from checkonce.tabular import Column, Row, parse_date

KIND_ALIASES = {
    "random": "random",
    "双随机": "random",
    "双随机抽查": "random",
    "随机抽查": "random",
    "special": "special",
    "专项": "special",
    "专项检查": "special",
    "key": "key",
    "重点": "key",
    "重点监管": "key",
    "triggered": "triggered",
    "触发": "triggered",
    "触发式检查": "triggered",
}
REASON_ALIASES = {
    "complaint": "complaint",
    "投诉": "complaint",
    "举报": "complaint",
    "投诉举报": "complaint",
    "handover": "handover",
    "转办": "handover",
    "交办": "handover",
    "转办交办": "handover",
    "enterprise_request": "enterprise_request",
    "request": "enterprise_request",
    "申请": "enterprise_request",
    "企业申请": "enterprise_request",
    "recheck": "recheck",
    "复查": "recheck",
    "整改复查": "recheck",
}

# Columns of a plan upload (one row per plan task). Lists are separated by ; ， 、 or spaces.
PLAN_COLUMNS = [
    Column("kind", "任务类型", aliases=("类型", "type")),
    Column("items", "检查事项", aliases=("事项", "事项编码", "item", "item_codes")),
    Column("window_start", "开始日期", required=False, aliases=("start", "起始日期")),
    Column("window_end", "结束日期", required=False, aliases=("end", "截止日期")),
    Column("industries", "行业", required=False, aliases=("industry",)),
    Column("districts", "区县", required=False, aliases=("district", "区县代码")),
    Column("scenes", "场景", required=False, aliases=("scene",)),
    *(
        Column(f"ratio_{c.lower()}", f"{c}类比例", required=False, aliases=(f"ratio{c}",))
        for c in RISK_STRATA
    ),
    *(
        Column(f"count_{c.lower()}", f"{c}类数量", required=False, aliases=(f"count{c}",))
        for c in RISK_STRATA
    ),
    Column("enterprises", "企业信用代码", required=False, aliases=("enterprise", "信用代码")),
    Column("campaign_name", "专项名称", required=False, aliases=("campaign",)),
    Column("approver", "审批人", required=False),
    Column("approval_date", "审批日期", required=False),
    Column("approval_document", "审批文号", required=False, aliases=("document",)),
    Column("reason", "触发原因", required=False, aliases=("trigger_reason",)),
    Column("received_on", "受理日期", required=False),
    Column("due_workdays", "办结时限", required=False, aliases=("办结工作日", "due")),
    Column("note", "备注", required=False),
]
_LABEL = {c.name: c.label for c in PLAN_COLUMNS} | {
    "window": "检查时段",
    "strata": "抽查比例/数量",
    "scope": "抽查范围",
}
_SPLIT = re.compile(r"[;；,，、\s]+")


@dataclass
class TaskDraft:
    """One checked plan task, ready to be written."""

    row: int
    kind: str
    items: list[CheckItem]
    window_start: dt.date
    window_end: dt.date
    scope: dict[str, list[str]] = field(default_factory=dict)
    strata: dict[str, dict[str, Any]] | None = None
    enterprises: list[Enterprise] = field(default_factory=list)
    campaign_name: str | None = None
    approver: str | None = None
    approval_date: dt.date | None = None
    approval_document: str | None = None
    trigger_reason: str | None = None
    received_on: dt.date | None = None
    due_workdays: int | None = None
    note: str = ""


def split_list(value: Any) -> list[str]:
    """A list cell or JSON value as a list of non-empty strings."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return [part for part in _SPLIT.split(str(value).strip()) if part]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def row_to_raw(row: Row) -> dict[str, Any]:
    """A spreadsheet row as the same dict a JSON task would be."""
    raw: dict[str, Any] = {name: row.values.get(name) for name in row.values}
    strata: dict[str, dict[str, Any]] = {}
    for cls in RISK_STRATA:
        ratio = _text(raw.pop(f"ratio_{cls.lower()}", None))
        count = _text(raw.pop(f"count_{cls.lower()}", None))
        if ratio or count:
            strata[cls] = {}
            if ratio:
                strata[cls]["ratio"] = ratio
            if count:
                strata[cls]["count"] = count
    raw["strata"] = strata or None
    return raw


class _References:
    """Looks up every code a set of raw tasks mentions with one query per table."""

    def __init__(self, session: Session, raws: list[dict[str, Any]]) -> None:
        items, codes, industries, districts, scenes = set(), set(), set(), set(), set()
        for raw in raws:
            items.update(split_list(raw.get("items") or raw.get("item")))
            codes.update(
                c.upper() for c in split_list(raw.get("enterprises") or raw.get("enterprise"))
            )
            scope = raw.get("scope") if isinstance(raw.get("scope"), dict) else raw
            industries.update(split_list(scope.get("industries")))
            districts.update(split_list(scope.get("districts")))
            scenes.update(split_list(scope.get("scenes")))
        self.items = {
            i.code: i for i in session.scalars(select(CheckItem).where(CheckItem.code.in_(items)))
        }
        self.enterprises = {
            e.credit_code: e
            for e in session.scalars(select(Enterprise).where(Enterprise.credit_code.in_(codes)))
        }
        self.industries = set(
            session.scalars(select(Industry.code).where(Industry.code.in_(industries)))
        )
        self.districts = set(
            session.scalars(select(District.adcode).where(District.adcode.in_(districts)))
        )
        self.scenes = set(session.scalars(select(Scene.code).where(Scene.code.in_(scenes))))


def parse_tasks(
    session: Session,
    raws: list[tuple[int, dict[str, Any]]],
    *,
    policy: Policy,
    calendar: WorkCalendar,
) -> tuple[list[TaskDraft], list[RowError]]:
    """Check raw tasks (row number, dict); returns the drafts and every problem found."""
    refs = _References(session, [raw for _, raw in raws])
    drafts: list[TaskDraft] = []
    errors: list[RowError] = []
    for row, raw in raws:
        problems: list[tuple[str, str]] = []
        draft = _parse_one(row, raw, refs, policy, calendar, problems)
        errors.extend(RowError(row, _LABEL.get(f, f), reason) for f, reason in problems)
        if draft is not None and not problems:
            drafts.append(draft)
    return drafts, errors


def _parse_one(
    row: int,
    raw: dict[str, Any],
    refs: _References,
    policy: Policy,
    calendar: WorkCalendar,
    problems: list[tuple[str, str]],
) -> TaskDraft | None:
    if not isinstance(raw, dict):
        problems.append(("kind", "每条任务应是一个对象（字典）"))
        return None

    kind_text = _text(raw.get("kind"))
    kind = KIND_ALIASES.get(kind_text.lower()) or KIND_ALIASES.get(kind_text)
    if kind is None:
        problems.append(
            (
                "kind",
                f"任务类型 {kind_text!r} 无法识别：应为 双随机、专项、重点 或 触发（random/special/key/triggered）",
            )
        )
        return None

    # Items: every code must be a known checkable item.
    item_codes = split_list(raw.get("items") or raw.get("item"))
    items = []
    if not item_codes:
        problems.append(("items", "缺少检查事项编码"))
    for code in item_codes:
        item = refs.items.get(code)
        if item is None:
            problems.append(("items", f"检查事项 {code} 不在任何部门的检查事项清单中"))
        else:
            items.append(item)
    if len(set(item_codes)) != len(item_codes):
        problems.append(("items", "检查事项重复"))
    if kind in ("random", "triggered") and len(item_codes) > 1:
        problems.append(("items", f"{_kind_name(kind)}每条任务只能有一个检查事项，请分行填写"))

    # Enterprises: valid credit codes of registered enterprises.
    codes = [c.upper() for c in split_list(raw.get("enterprises") or raw.get("enterprise"))]
    enterprises = []
    for code in codes:
        problem = credit_code_problem(code)
        if problem:
            problems.append(("enterprises", f"{code}：{problem}"))
        elif code not in refs.enterprises:
            problems.append(("enterprises", f"信用代码 {code} 的企业未在企业库中登记"))
        else:
            enterprises.append(refs.enterprises[code])
    if len(set(codes)) != len(codes):
        problems.append(("enterprises", "企业信用代码重复"))
    if kind == "random" and codes:
        problems.append(("enterprises", "双随机抽查由抽取产生检查对象，不能指定企业"))
    if kind == "key" and not codes:
        problems.append(("enterprises", "重点监管任务须列明企业信用代码"))
    if kind == "triggered" and len(codes) != 1:
        problems.append(("enterprises", "触发式检查须且只能指定一家企业"))

    # Scope filter.
    scope_raw = raw.get("scope") if isinstance(raw.get("scope"), dict) else raw
    scope = {key: sorted(set(split_list(scope_raw.get(key)))) for key in SCOPE_KEYS}
    for code in scope["industries"]:
        if code not in refs.industries:
            problems.append(("industries", f"行业 {code} 不存在"))
    for code in scope["districts"]:
        if code not in refs.districts:
            problems.append(("districts", f"区县代码 {code} 不存在"))
    for code in scope["scenes"]:
        if code not in refs.scenes:
            problems.append(("scenes", f"场景 {code} 不存在"))
    if kind in ("key", "triggered") and any(scope.values()):
        problems.append(("scope", f"{_kind_name(kind)}针对列明的企业，不能填写抽查范围"))

    strata = _parse_strata(raw.get("strata"), problems)
    if strata is not None and kind != "random":
        problems.append(("strata", "只有双随机抽查才填写抽查比例或数量"))

    window_start, window_end = _parse_window(raw, problems, required=kind != "triggered")

    draft = TaskDraft(
        row=row,
        kind=kind,
        items=items,
        window_start=window_start or dt.date.min,
        window_end=window_end or dt.date.min,
        scope=scope,
        strata=strata,
        enterprises=enterprises,
        note=_text(raw.get("note")),
    )

    if kind == "special":
        draft.campaign_name = _text(raw.get("campaign_name") or raw.get("campaign")) or None
        if not draft.campaign_name:
            problems.append(("campaign_name", "专项检查须填写专项名称"))
        draft.approver = _text(raw.get("approver")) or None
        draft.approval_document = _text(raw.get("approval_document")) or None
        if _text(raw.get("approval_date")):
            draft.approval_date = _date(raw.get("approval_date"), "approval_date", problems)
    else:
        for name in ("campaign_name", "approver", "approval_date", "approval_document"):
            if _text(raw.get(name)):
                problems.append((name, "只有专项检查才填写专项名称和审批信息"))

    if kind == "triggered":
        reason_text = _text(raw.get("reason") or raw.get("trigger_reason"))
        reason = REASON_ALIASES.get(reason_text.lower()) or REASON_ALIASES.get(reason_text)
        if reason is None:
            names = "、".join(TRIGGER_REASON_NAMES.values())
            problems.append(("reason", f"触发原因 {reason_text!r} 无法识别：应为 {names}"))
        draft.trigger_reason = reason
        draft.received_on = _date(raw.get("received_on"), "received_on", problems, required=True)
        due_text = _text(raw.get("due_workdays"))
        if due_text:
            try:
                draft.due_workdays = int(due_text)
                if draft.due_workdays < 1:
                    raise ValueError
            except ValueError:
                problems.append(("due_workdays", f"办结时限 {due_text!r} 应为正整数（工作日）"))
        elif reason is not None:
            draft.due_workdays = policy.triggered.due_for(reason)
        if draft.received_on and draft.due_workdays and reason:
            try:
                due = calendar.add_workdays(draft.received_on, draft.due_workdays)
            except CheckOnceError as exc:
                problems.append(("received_on", exc.message))
            else:
                # Start the day it was received: a triggered task never waits for a merge.
                draft.window_start = window_start or draft.received_on
                draft.window_end = due
                if window_end is not None and window_end != due:
                    problems.append(
                        (
                            "window_end",
                            f"触发式检查的截止日期由受理日期和办结时限算出为 {due}，与填写的 {window_end} 不一致",
                        )
                    )
    else:
        for name in ("reason", "received_on", "due_workdays"):
            if _text(raw.get(name)):
                problems.append((name, "只有触发式检查才填写触发原因、受理日期和办结时限"))

    if draft.window_start > draft.window_end:
        problems.append(
            ("window_end", f"结束日期 {draft.window_end} 早于开始日期 {draft.window_start}")
        )
    return draft


def _kind_name(kind: str) -> str:
    from checkonce.plans.models import TASK_KIND_NAMES

    return TASK_KIND_NAMES[kind]


def _date(
    value: Any, field_name: str, problems: list[tuple[str, str]], *, required: bool = False
) -> dt.date | None:
    if value is None or _text(value) == "":
        if required:
            problems.append((field_name, "缺少日期"))
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        problems.append((field_name, str(exc)))
        return None


def _parse_window(
    raw: dict[str, Any], problems: list[tuple[str, str]], *, required: bool
) -> tuple[dt.date | None, dt.date | None]:
    window = raw.get("window")
    start_raw, end_raw = raw.get("window_start"), raw.get("window_end")
    if isinstance(window, list | tuple):
        if len(window) != 2:
            problems.append(("window", "检查时段应为 [开始日期, 结束日期]"))
            return None, None
        start_raw, end_raw = window
    start = _date(start_raw, "window_start", problems, required=required)
    end = _date(end_raw, "window_end", problems, required=required)
    return start, end


def _parse_strata(value: Any, problems: list[tuple[str, str]]) -> dict[str, dict[str, Any]] | None:
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        problems.append(("strata", '抽查比例/数量应写成 {"A": {"ratio": 0.03}, "B": {"count": 5}}'))
        return None
    strata: dict[str, dict[str, Any]] = {}
    for cls, spec in value.items():
        if cls not in RISK_STRATA:
            problems.append(("strata", f"风险等级 {cls!r} 无法识别：应为 A、B、C、D"))
            continue
        if not isinstance(spec, dict):
            spec = {"ratio": spec}
        ratio, count = spec.get("ratio"), spec.get("count")
        has_ratio = ratio is not None and _text(ratio) != ""
        has_count = count is not None and _text(count) != ""
        if has_ratio == has_count:
            problems.append(("strata", f"{cls} 类须且只能填写比例或数量之一"))
            continue
        if has_ratio:
            try:
                strata[cls] = {"ratio": str(parse_ratio(_text(ratio)))}
            except ValueError as exc:
                problems.append((f"ratio_{cls.lower()}", f"{cls} 类：{exc}"))
        else:
            try:
                number = int(_text(count))
                if number < 0:
                    raise ValueError
                strata[cls] = {"count": number}
            except ValueError:
                problems.append(
                    (f"count_{cls.lower()}", f"{cls} 类抽查数量 {count!r} 应为非负整数")
                )
    return strata
