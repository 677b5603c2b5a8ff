"""One enterprise's timeline across departments (企业检查全程记录): the plans that named it,
the draws that drew it, its visits, who entered (check-ins), results, fee findings, what it
reported, and every audit record that concerns it — among them who looked at its records.

Shared by `checkonce audit show --enterprise` and the coordinator's timeline page. Times are
moments in the jurisdiction's time zone; a visit without a check-in is placed at its planned
start."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import CHANNEL_LABELS, Channel
from checkonce.audit.models import AuditRecord
from checkonce.audit.service import local_moment
from checkonce.errors import NotFound
from checkonce.findings.fees.models import FeeFinding
from checkonce.findings.models import TaskResult
from checkonce.plans.models import (
    PLAN_STATE_NAMES,
    TASK_KIND_NAMES,
    InspectionTask,
    Plan,
    PlanTask,
    PlanTaskEnterprise,
)
from checkonce.registry.models import Department, Enterprise
from checkonce.sampling.models import Draw, DrawMember
from checkonce.visits.checkin_models import CheckIn
from checkonce.visits.models import EnterpriseReport, ScheduleVersion, Visit, VisitTask
from checkonce.visits.reports import REPORT_KIND_NAMES

# Schedule versions whose visits belong to the enterprise's history (a draft is a proposal).
HISTORY_SCHEDULE_STATES = ("published", "superseded")
OUTCOME_NAMES = {"planned": "计划内", "unplanned": "计划外"}
# How the trail names the objects a staff member looked at.
OBJECT_NAMES = {
    "enterprise": "企业登记信息",
    "enterprise_code": "企业码",
    "visit": "检查",
    "checkin": "入企签到",
    "result": "检查结果",
    "result_photo": "现场照片",
    "fee_finding": "收费核查",
    "fee_refund": "退费",
    "enterprise_report": "企业反映",
    "entry_alert": "入企预警",
    "rating": "企业评价",
    "plan": "检查计划",
    "draw": "双随机抽取",
    "schedule": "排程",
    "task": "检查任务",
    "timeline": "全程记录",
}


class EventKind(StrEnum):
    PLAN = "plan"
    DRAW = "draw"
    VISIT = "visit"
    CHECKIN = "checkin"
    RESULT = "result"
    FEE = "fee"
    REPORT = "report"
    ACTION = "action"
    READ = "read"

    @property
    def label(self) -> str:
        return EVENT_KIND_LABELS[self]


EVENT_KIND_LABELS = {
    EventKind.PLAN: "计划",
    EventKind.DRAW: "抽取",
    EventKind.VISIT: "检查",
    EventKind.CHECKIN: "入企",
    EventKind.RESULT: "结果",
    EventKind.FEE: "收费",
    EventKind.REPORT: "企业反映",
    EventKind.ACTION: "操作记录",
    EventKind.READ: "查阅",
}


@dataclass(frozen=True)
class TimelineEvent:
    """One thing that happened to or about the enterprise."""

    at: dt.datetime  # aware, in the jurisdiction's time zone
    kind: EventKind
    department: str  # the department concerned, "" when none or several
    what: str  # in words, Chinese
    who: str  # the person or account, "" when not recorded


@dataclass(frozen=True)
class Timeline:
    enterprise: Enterprise
    events: list[TimelineEvent]

    def count(self, kind: EventKind) -> int:
        return sum(1 for e in self.events if e.kind is kind)


def enterprise_timeline(db_session: Session, *, credit_code: str) -> Timeline:
    """Every recorded event of the enterprise with `credit_code`, oldest first."""
    code = credit_code.strip().upper()
    firm = db_session.scalars(select(Enterprise).where(Enterprise.credit_code == code)).first()
    if firm is None:
        raise NotFound(f"企业 {credit_code} 不在登记库中")
    departments = {d.id: d.short_name for d in db_session.scalars(select(Department))}
    zone = local_moment(dt.datetime.now(dt.UTC)).tzinfo
    assert isinstance(zone, ZoneInfo)
    events: list[TimelineEvent] = []
    for part in (_plans, _draws, _visits, _checkins, _results, _fees, _reports, _trail):
        events.extend(part(db_session, firm.id, departments, zone))
    order = list(EventKind)
    events.sort(key=lambda e: (e.at, order.index(e.kind)))
    return Timeline(firm, events)


def _plans(s: Session, firm: int, departments: dict, _zone) -> list[TimelineEvent]:
    rows = s.execute(
        select(Plan, PlanTask)
        .join(PlanTask, PlanTask.plan_id == Plan.id)
        .join(PlanTaskEnterprise, PlanTaskEnterprise.task_id == PlanTask.id)
        .where(PlanTaskEnterprise.enterprise_id == firm)
        .order_by(Plan.id, PlanTask.position)
    ).all()
    return [
        TimelineEvent(
            at=local_moment(plan.created_at),
            kind=EventKind.PLAN,
            department=departments.get(plan.department_id, ""),
            what=(
                f"计划 {plan.id}《{plan.title or plan.period}》（{plan.period}，"
                f"{PLAN_STATE_NAMES.get(plan.state, plan.state)}）第 {task.position} 项"
                f"{TASK_KIND_NAMES.get(task.kind, task.kind)}点名该企业，"
                f"时间窗 {task.window_start}–{task.window_end}"
            ),
            who=plan.created_by,
        )
        for plan, task in rows
    ]


def _draws(s: Session, firm: int, _departments: dict, _zone) -> list[TimelineEvent]:
    rows = s.execute(
        select(Draw, DrawMember)
        .join(DrawMember, DrawMember.draw_id == Draw.id)
        .where(DrawMember.enterprise_id == firm, DrawMember.selected.is_(True))
        .order_by(Draw.id)
    ).all()
    return [
        TimelineEvent(
            at=local_moment(draw.drawn_at or draw.committed_at),
            kind=EventKind.DRAW,
            department="",
            what=(
                f"双随机抽取 {draw.id}《{draw.title or draw.year}》抽中（{member.stratum} 类，"
                f"第 {member.rank} 位；{draw.state_name}）"
            ),
            who=draw.drawn_by or draw.committed_by,
        )
        for draw, member in rows
    ]


def _visits(s: Session, firm: int, departments: dict, zone: ZoneInfo) -> list[TimelineEvent]:
    from checkonce.visits.service import VISIT_STATE_NAMES

    visits = s.scalars(
        select(Visit)
        .join(ScheduleVersion, ScheduleVersion.id == Visit.schedule_id)
        .where(Visit.enterprise_id == firm, ScheduleVersion.state.in_(HISTORY_SCHEDULE_STATES))
        .options(selectinload(Visit.tasks).selectinload(VisitTask.task))
        .order_by(Visit.day, Visit.id)
    ).all()
    out = []
    for visit in visits:
        names = sorted({departments.get(t.task.department_id, "") for t in visit.tasks})
        state = VISIT_STATE_NAMES.get(visit.state, visit.state)
        out.append(
            TimelineEvent(
                at=dt.datetime.combine(visit.day, visit.start, tzinfo=zone),
                kind=EventKind.VISIT,
                department="、".join(names) if len(names) > 1 else (names[0] if names else ""),
                what=(
                    f"检查 {visit.code}：{len(visit.tasks)} 项任务，"
                    f"{'联合检查' if len(names) > 1 else '单部门检查'}，"
                    f"{'预先告知' if visit.announced else '不预先告知'}，{state}"
                ),
                who="",
            )
        )
    return out


def _checkins(s: Session, firm: int, departments: dict, _zone) -> list[TimelineEvent]:
    rows = s.scalars(
        select(CheckIn)
        .where(CheckIn.enterprise_id == firm)
        .options(selectinload(CheckIn.inspector), selectinload(CheckIn.visit))
        .order_by(CheckIn.checked_in_at, CheckIn.id)
    ).all()
    out = []
    for c in rows:
        notes = [OUTCOME_NAMES.get(c.outcome, c.outcome)]
        if c.visit is not None:
            notes.append(f"检查 {c.visit.code}")
        if c.backfill:
            notes.append(f"补录：{c.backfill_reason}")
        if c.outside_geofence:
            notes.append(f"定位距企业 {c.distance_m:.0f} 米")
        out.append(
            TimelineEvent(
                at=local_moment(c.checked_in_at),
                kind=EventKind.CHECKIN,
                department=departments.get(c.inspector.department_id, ""),
                what=f"{c.inspector.name}（{c.inspector.code}）签到入企：" + "，".join(notes),
                who=c.inspector.name,
            )
        )
    return out


def _results(s: Session, firm: int, departments: dict, _zone) -> list[TimelineEvent]:
    rows = s.scalars(
        select(TaskResult)
        .join(InspectionTask, InspectionTask.id == TaskResult.inspection_task_id)
        .where(InspectionTask.enterprise_id == firm)
        .options(selectinload(TaskResult.task).selectinload(InspectionTask.item))
        .order_by(TaskResult.recorded_at, TaskResult.id)
    ).all()
    out = []
    for r in rows:
        state = "已公开" if r.published_at is not None else f"未公开（应于 {r.publish_by} 前公开）"
        revision = f"第 {r.revision} 版，" if r.revision > 1 else ""
        out.append(
            TimelineEvent(
                at=local_moment(r.recorded_at),
                kind=EventKind.RESULT,
                department=departments.get(r.task.department_id, ""),
                what=f"{r.task.item.name}：{r.result_name}（{revision}{state}）",
                who=r.recorded_by,
            )
        )
    return out


def _fees(s: Session, firm: int, _departments: dict, _zone) -> list[TimelineEvent]:
    rows = s.scalars(
        select(FeeFinding).where(FeeFinding.enterprise_id == firm).order_by(FeeFinding.id)
    ).all()
    return [
        TimelineEvent(
            at=local_moment(f.reported_at),
            kind=EventKind.FEE,
            department=f.charging_unit or "",
            what=(
                f"{f.unit_text} 收取「{f.item_charged}」{f.amount} 元（{f.charged_on}）："
                f"{f.verdict_name}" + (f"，应退 {f.refund_due} 元" if f.refund_due else "")
            ),
            who=f.reported_by,
        )
        for f in rows
    ]


def _reports(s: Session, firm: int, _departments: dict, _zone) -> list[TimelineEvent]:
    rows = s.scalars(
        select(EnterpriseReport)
        .where(EnterpriseReport.enterprise_id == firm)
        .order_by(EnterpriseReport.id)
    ).all()
    return [
        TimelineEvent(
            at=local_moment(r.created_at),
            kind=EventKind.REPORT,
            department=r.department_said,
            what=f"企业反映{REPORT_KIND_NAMES.get(r.kind, r.kind)}（发生于 {r.happened_on}）",
            who=r.reported_by,
        )
        for r in rows
    ]


def _trail(s: Session, firm: int, _departments: dict, _zone) -> list[TimelineEvent]:
    rows = s.scalars(
        select(AuditRecord).where(AuditRecord.enterprise_id == firm).order_by(AuditRecord.seq)
    ).all()
    out = []
    for rec in rows:
        channel = CHANNEL_LABELS.get(Channel(rec.channel), rec.channel)
        who = f"{rec.actor_role}:{rec.actor_username}（{channel}）"
        if rec.action == AuditAction.READ:
            thing = OBJECT_NAMES.get(rec.object_type, rec.object_type)
            what = f"查阅{thing}（记录 #{rec.seq}）"
            kind = EventKind.READ
        else:
            try:
                label = AuditAction(rec.action).label
            except ValueError:
                label = rec.action
            what = f"{label}：{rec.object_type} {rec.object_id}（记录 #{rec.seq}）"
            kind = EventKind.ACTION
        out.append(TimelineEvent(local_moment(rec.at), kind, "", what, who))
    return out


def by_kind(timeline: Timeline) -> dict[EventKind, int]:
    """How many events of each kind."""
    counts: dict[EventKind, int] = defaultdict(int)
    for event in timeline.events:
        counts[event.kind] += 1
    return dict(counts)
