"""Recording results of a visit's tasks and publishing them (一公开).

谁检查、谁录入、谁公开: an inspector of the task's department on the visit's team records the
result once the visit is checked in (live or back-filled); a correction is a new revision
with its reason, never an overwrite. The visit completes when every task has a result. Each
result must be published within `publicity.publish_within_workdays` workdays (20) after the
visit day on the Chinese workday calendar; the coordinator publishes, the public sees the
latest published revision of each task, and results past their date are overdue.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, selectinload

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record, snapshot
from checkonce.auth import access
from checkonce.calendar import WorkCalendar
from checkonce.db import utcnow
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.findings.models import (
    ANSWER_NAMES,
    ANSWERS,
    RESULT_NAMES,
    RESULTS,
    UNINSPECTED_RESULTS,
    TaskResult,
)
from checkonce.plans.models import InspectionTask
from checkonce.plans.periods import Period, parse_period
from checkonce.policy import Policy
from checkonce.registry.models import CheckItem, Department, Enterprise, Inspector
from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector, VisitTask

# A visit's results may be recorded once the team has entered (签到, live or back-filled).
RECORDABLE_STATES = ("checked_in", "completed")
CSV_COLUMNS = ("统一社会信用代码", "企业名称", "检查事项", "检查部门", "检查日期", "检查结果")


def publish_by(calendar: WorkCalendar, visit_day: dt.date, policy: Policy) -> dt.date:
    """The last day to publish a result of a visit on `visit_day`: the N-th workday after it
    (N = publicity.publish_within_workdays), counting 调休 make-up Saturdays as workdays and
    skipping statutory holidays."""
    return calendar.add_workdays(visit_day, policy.publicity.publish_within_workdays)


@dataclass(frozen=True)
class ResultInput:
    """What the inspector enters for one task."""

    result: str
    checklist: dict[str, Any]
    legal_basis: str | None = None
    rectify_by: dt.date | None = None
    notes: str = ""
    correction_reason: str | None = None


def _clean(text: str | None, field: str, max_length: int) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if "\x00" in text:
        raise CheckOnceError(f"{field}含有不允许的字符")
    if len(text) > max_length:
        raise CheckOnceError(f"{field}不能超过 {max_length} 个字")
    return text or None


def check_result_input(data: ResultInput, *, keys: Sequence[str], visit_day: dt.date) -> dict:
    """Check a result against the task's checklist; returns the checklist answers as stored.

    Rules: a known result; every checklist key of the task's item answered (ok / problem /
    n.a.) unless nothing could be inspected (查无下落, 拒绝检查); no unknown keys; a passed
    result with no problem answered; a legal basis for any other result; a rectification
    deadline after the visit for 责令整改 and only for it."""
    if data.result not in RESULTS:
        raise CheckOnceError(
            f"检查结果「{data.result}」无法识别：应为 "
            + "、".join(f"{k}（{v}）" for k, v in RESULT_NAMES.items())
        )
    if not isinstance(data.checklist, dict):
        raise CheckOnceError("检查表答案应为「检查项 → 答案」的对应表")
    unknown = sorted(set(data.checklist) - set(keys))
    if unknown:
        raise CheckOnceError(f"检查表中没有这些检查项：{'、'.join(map(str, unknown[:5]))}")
    answers: dict[str, dict[str, str]] = {}
    for key, raw in data.checklist.items():
        value = raw if isinstance(raw, dict) else {"answer": raw}
        answer = value.get("answer")
        if answer not in ANSWERS:
            raise CheckOnceError(
                f"检查项 {key} 的答案「{answer}」无法识别：应为 "
                + "、".join(f"{k}（{v}）" for k, v in ANSWER_NAMES.items())
            )
        note = _clean(str(value.get("note") or ""), f"检查项 {key} 的说明", 1000) or ""
        if answer == "problem" and not note:
            raise CheckOnceError(f"检查项 {key} 存在问题，请填写问题说明")
        answers[key] = {"answer": answer, "note": note}
    if data.result not in UNINSPECTED_RESULTS:
        missing = [k for k in keys if k not in answers]
        if missing:
            raise CheckOnceError(
                f"检查表还有 {len(missing)} 项未填写：{'、'.join(missing[:5])}"
                + ("等" if len(missing) > 5 else "")
            )
    problems = [k for k, v in answers.items() if v["answer"] == "problem"]
    if data.result == "passed" and problems:
        raise CheckOnceError(f"检查项 {'、'.join(problems[:5])} 存在问题，结果不能为「合格」")
    if data.result != "passed" and not _clean(data.legal_basis, "违法依据", 2000):
        raise CheckOnceError(f"结果为「{RESULT_NAMES[data.result]}」时须填写违法行为的法律依据")
    if data.result == "rectify":
        if data.rectify_by is None:
            raise CheckOnceError("责令整改须填写整改期限")
        if data.rectify_by <= visit_day:
            raise CheckOnceError(f"整改期限 {data.rectify_by} 应晚于检查日期 {visit_day}")
    elif data.rectify_by is not None:
        raise CheckOnceError("只有「责令整改」才填写整改期限")
    return answers


def _visit_for_update(db_session: Session, visit_id: int) -> Visit:
    visit = db_session.get(Visit, visit_id, with_for_update=True)
    if visit is None:
        raise NotFound(f"检查 {visit_id} 不存在")
    return visit


def check_may_record(
    db_session: Session, *, visit: Visit, task: InspectionTask, inspector_id: int
) -> Inspector:
    """Only an inspector on the visit's team, of the task's department, on a visit in force
    that has been checked in, may record its results."""
    inspector = db_session.get(Inspector, inspector_id)
    if inspector is None:
        raise CheckOnceError("账号未关联执法人员，不能录入检查结果", code="not_an_inspector")
    on_team = db_session.scalar(
        select(
            exists().where(
                VisitInspector.visit_id == visit.id, VisitInspector.inspector_id == inspector_id
            )
        )
    )
    if not on_team:
        raise NotFound(f"检查 {visit.id} 不存在或您不在该检查组中")
    if inspector.department_id != task.department_id:
        raise CheckOnceError(
            f"任务 {task.id} 属于{task.department.name}，由该部门的检查人员录入（谁检查、谁录入）",
            code="other_department_task",
        )
    if visit.schedule.state != "published":
        raise Conflict(f"检查 {visit.code} 所在排程版本不在执行中，请在现行版本中录入")
    if visit.state not in RECORDABLE_STATES:
        raise Conflict(
            f"检查 {visit.code} 尚未签到入企（扫码或补录）后才能录入结果",
            code="visit_not_checked_in",
        )
    return inspector


def latest_result(db_session: Session, inspection_task_id: int) -> TaskResult | None:
    return db_session.scalars(
        select(TaskResult).where(
            TaskResult.inspection_task_id == inspection_task_id, TaskResult.latest.is_(True)
        )
    ).first()


def record_result(
    *,
    db_session: Session,
    visit_id: int,
    inspection_task_id: int,
    inspector_id: int,
    actor: Actor,
    data: ResultInput,
    policy: Policy,
    calendar: WorkCalendar,
) -> TaskResult:
    """Record (revision 1) or correct (revision n + 1, with a reason) a task's result, then
    complete the visit when every task has one."""
    access.require(actor, AuditAction.RESULT_RECORD, inspector_id=inspector_id)
    visit = _visit_for_update(db_session, visit_id)
    task = db_session.scalars(
        select(InspectionTask)
        .join(VisitTask, VisitTask.inspection_task_id == InspectionTask.id)
        .where(VisitTask.visit_id == visit.id, InspectionTask.id == inspection_task_id)
        .options(
            selectinload(InspectionTask.item).selectinload(CheckItem.checklist),
            selectinload(InspectionTask.department),
        )
    ).first()
    if task is None:
        raise NotFound(f"检查 {visit_id} 中没有任务 {inspection_task_id}")
    check_may_record(db_session, visit=visit, task=task, inspector_id=inspector_id)
    keys = [line.key for line in task.item.checklist]
    answers = check_result_input(data, keys=keys, visit_day=visit.day)
    previous = latest_result(db_session, task.id)
    reason = _clean(data.correction_reason, "更正原因", 1000)
    if previous is not None and not reason:
        raise Conflict(
            f"任务 {task.id} 已有结果（第 {previous.revision} 版）；更正须填写更正原因",
            code="correction_needs_reason",
        )
    if previous is None and reason:
        raise CheckOnceError("首次录入不需要更正原因")
    row = TaskResult(
        visit_id=visit.id,
        inspection_task_id=task.id,
        revision=previous.revision + 1 if previous is not None else 1,
        latest=True,
        result=data.result,
        checklist=answers,
        legal_basis=_clean(data.legal_basis, "违法依据", 2000) if data.result != "passed" else None,
        rectify_by=data.rectify_by,
        notes=_clean(data.notes, "备注", 4000) or "",
        correction_reason=reason,
        visit_day=visit.day,
        publish_by=publish_by(calendar, visit.day, policy),
        inspector_id=inspector_id,
        recorded_by=actor.label,
        recorded_at=utcnow(),
    )
    try:
        with db_session.begin_nested():
            if previous is not None:
                previous.latest = False
                db_session.flush()  # the one-latest index must see the old row go first
            db_session.add(row)
            db_session.flush()
    except IntegrityError as exc:
        raise Conflict(f"任务 {task.id} 的结果正被同时录入，请刷新后重试") from exc
    fields = ["revision", "result", "legal_basis", "rectify_by"]
    record(
        db_session,
        actor=actor,
        action=AuditAction.RESULT_RECORD,
        object_type="task_result",
        object_id=row.id,
        enterprise_id=visit.enterprise_id,
        before=snapshot(previous, fields) if previous is not None else None,
        after=snapshot(row, fields),
        detail={
            "visit": visit.code,
            "task": task.id,
            **({"correction_reason": reason} if reason else {}),
        },
    )
    complete_if_done(db_session, visit)
    return row


def visit_task_ids(db_session: Session, visit_id: int) -> list[int]:
    return list(
        db_session.scalars(
            select(VisitTask.inspection_task_id).where(VisitTask.visit_id == visit_id)
        )
    )


def complete_if_done(db_session: Session, visit: Visit) -> bool:
    """Mark the visit completed when every one of its tasks has a result (whichever row of
    the visit's code the result was recorded on: a re-plan republishes a visit as a new row)."""
    task_ids = visit_task_ids(db_session, visit.id)
    done = db_session.scalar(
        select(func.count(func.distinct(TaskResult.inspection_task_id))).where(
            TaskResult.inspection_task_id.in_(task_ids), TaskResult.latest.is_(True)
        )
    )
    if task_ids and done == len(task_ids) and visit.state == "checked_in":
        visit.state = "completed"
        db_session.flush()
        return True
    return False


def result_history(db_session: Session, inspection_task_id: int) -> list[TaskResult]:
    """Every revision of a task's result, oldest first."""
    return list(
        db_session.scalars(
            select(TaskResult)
            .where(TaskResult.inspection_task_id == inspection_task_id)
            .order_by(TaskResult.revision)
        )
    )


def get_result(db_session: Session, result_id: int) -> TaskResult:
    row = db_session.get(TaskResult, result_id)
    if row is None:
        raise NotFound(f"检查结果 {result_id} 不存在")
    return row


# ------------------------------------------------------------------------------ publicity


def _in_period(stmt: Select, period: Period | None) -> Select:
    if period is None:
        return stmt
    return stmt.where(TaskResult.visit_day >= period.start, TaskResult.visit_day <= period.end)


def unpublished(
    db_session: Session, *, period: str | None = None, department: str | None = None
) -> list[TaskResult]:
    """Latest revisions not yet published, of visits in `period`, of one department."""
    stmt = (
        select(TaskResult)
        .join(InspectionTask, TaskResult.inspection_task_id == InspectionTask.id)
        .where(TaskResult.latest.is_(True), TaskResult.published_at.is_(None))
        .order_by(TaskResult.publish_by, TaskResult.id)
    )
    stmt = _in_period(stmt, parse_period(period) if period else None)
    if department is not None:
        stmt = stmt.join(Department, InspectionTask.department_id == Department.id).where(
            Department.code == department.strip().upper()
        )
    return list(db_session.scalars(stmt))


def publish_results(
    *, db_session: Session, result_ids: Iterable[int], actor: Actor
) -> list[TaskResult]:
    """Publish result revisions (一公开), all or none: each must exist, be the latest revision
    of its task, and not be published yet. One audit record per result (each belongs to one
    enterprise's timeline)."""
    access.require(actor, AuditAction.RESULT_PUBLISH)
    ids = list(dict.fromkeys(result_ids))
    if not ids:
        raise CheckOnceError("没有要公开的检查结果")
    rows = {
        r.id: r
        for r in db_session.scalars(
            select(TaskResult).where(TaskResult.id.in_(ids)).with_for_update()
        )
    }
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound(f"检查结果不存在：{'、'.join(map(str, missing[:10]))}")
    for result_id in ids:
        row = rows[result_id]
        if not row.latest:
            raise Conflict(
                f"检查结果 {result_id} 是任务 {row.inspection_task_id} 的旧版本（第 {row.revision} 版），"
                "只能公开最新版本"
            )
        if row.published_at is not None:
            raise Conflict(f"检查结果 {result_id} 已于 {row.published_at:%Y-%m-%d} 公开")
    now = utcnow()
    firms = dict(
        db_session.execute(
            select(Visit.id, Visit.enterprise_id).where(
                Visit.id.in_({r.visit_id for r in rows.values()})
            )
        ).all()
    )
    for result_id in ids:
        row = rows[result_id]
        row.published_at, row.published_by = now, actor.label
        record(
            db_session,
            actor=actor,
            action=AuditAction.RESULT_PUBLISH,
            object_type="task_result",
            object_id=row.id,
            enterprise_id=firms.get(row.visit_id),
            before={"published_at": None},
            after={"published_at": now.isoformat(), "result": row.result},
        )
    db_session.flush()
    return [rows[i] for i in ids]


@dataclass(frozen=True)
class PublicResult:
    """One line of the public results list and of the credit-disclosure export."""

    result_id: int
    credit_code: str
    enterprise: str
    item: str
    department: str
    department_code: str
    visit_day: dt.date
    result: str
    result_name: str
    rectify_by: dt.date | None
    published_at: dt.datetime
    revision: int

    def csv_row(self) -> list[str]:
        return [
            self.credit_code,
            self.enterprise,
            self.item,
            self.department,
            self.visit_day.isoformat(),
            self.result_name,
        ]


def _public_select(period: Period | None, department: str | None) -> Select:
    """The latest published revision per task, with what the public list shows."""
    newer = aliased(TaskResult)
    stmt = (
        select(TaskResult, Enterprise, CheckItem, Department)
        .join(InspectionTask, TaskResult.inspection_task_id == InspectionTask.id)
        .join(Enterprise, InspectionTask.enterprise_id == Enterprise.id)
        .join(CheckItem, InspectionTask.item_id == CheckItem.id)
        .join(Department, InspectionTask.department_id == Department.id)
        .where(
            TaskResult.published_at.is_not(None),
            ~exists().where(
                and_(
                    newer.inspection_task_id == TaskResult.inspection_task_id,
                    newer.published_at.is_not(None),
                    newer.revision > TaskResult.revision,
                )
            ),
        )
    )
    stmt = _in_period(stmt, period)
    if department:
        stmt = stmt.where(Department.code == department.strip().upper())
    return stmt


def public_results(
    db_session: Session,
    *,
    period: str | None = None,
    department: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[PublicResult], int]:
    """The published results (一公开), newest visit first, and how many there are."""
    stmt = _public_select(parse_period(period) if period else None, department)
    total = db_session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db_session.execute(
        stmt.order_by(TaskResult.visit_day.desc(), TaskResult.id.desc()).limit(limit).offset(offset)
    ).all()
    return [_public(r, e, i, d) for r, e, i, d in rows], total


def _public(row: TaskResult, firm: Enterprise, item: CheckItem, dept: Department) -> PublicResult:
    assert row.published_at is not None
    return PublicResult(
        result_id=row.id,
        credit_code=firm.credit_code,
        enterprise=firm.name,
        item=item.name,
        department=dept.name,
        department_code=dept.code,
        visit_day=row.visit_day,
        result=row.result,
        result_name=RESULT_NAMES[row.result],
        rectify_by=row.rectify_by,
        published_at=row.published_at,
        revision=row.revision,
    )


def export_csv(db_session: Session, *, period: str, department: str | None = None) -> str:
    """The published results of `period` in the columns a credit-disclosure upload
    (信用信息公示) takes: 统一社会信用代码, 企业名称, 检查事项, 检查部门, 检查日期, 检查结果.
    UTF-8 with a byte-order mark so spreadsheet programs read the Chinese correctly."""
    stmt = _public_select(parse_period(period), department).order_by(
        TaskResult.visit_day, Enterprise.credit_code, TaskResult.id
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r, e, i, d in db_session.execute(stmt).all():
        writer.writerow(_public(r, e, i, d).csv_row())
    return "\ufeff" + out.getvalue()


@dataclass(frozen=True)
class OverdueResult:
    """A task whose result is past its publish-by date: recorded but not published, or not
    even recorded although the visit took place."""

    department_code: str
    department: str
    inspection_task_id: int
    visit_id: int
    visit_code: str
    visit_day: dt.date
    publish_by: dt.date
    result_id: int | None
    status: str  # "unpublished" or "unrecorded"
    days_overdue: int

    @property
    def status_name(self) -> str:
        return {"unpublished": "已录入未公开", "unrecorded": "未录入"}[self.status]


def overdue_results(
    db_session: Session,
    today: dt.date,
    *,
    calendar: WorkCalendar | None = None,
    policy: Policy | None = None,
) -> list[OverdueResult]:
    """Results past their publish-by date on `today`, by department then date: latest
    revisions not published, and tasks of entered visits in force with no result at all
    (their date computed with `calendar` and `policy`, the jurisdiction's by default)."""
    out: list[OverdueResult] = []
    rows = db_session.execute(
        select(TaskResult, Department, Visit)
        .join(InspectionTask, TaskResult.inspection_task_id == InspectionTask.id)
        .join(Department, InspectionTask.department_id == Department.id)
        .join(Visit, TaskResult.visit_id == Visit.id)
        .where(
            TaskResult.latest.is_(True),
            TaskResult.published_at.is_(None),
            TaskResult.publish_by < today,
        )
    ).all()
    for result, dept, visit in rows:
        out.append(
            OverdueResult(
                department_code=dept.code,
                department=dept.name,
                inspection_task_id=result.inspection_task_id,
                visit_id=visit.id,
                visit_code=visit.code,
                visit_day=result.visit_day,
                publish_by=result.publish_by,
                result_id=result.id,
                status="unpublished",
                days_overdue=(today - result.publish_by).days,
            )
        )
    unrecorded = db_session.execute(
        select(VisitTask.inspection_task_id, Department, Visit)
        .join(Visit, VisitTask.visit_id == Visit.id)
        .join(ScheduleVersion, Visit.schedule_id == ScheduleVersion.id)
        .join(InspectionTask, VisitTask.inspection_task_id == InspectionTask.id)
        .join(Department, InspectionTask.department_id == Department.id)
        .where(
            ScheduleVersion.state == "published",
            Visit.state.in_(RECORDABLE_STATES),
            Visit.day < today,
            ~exists().where(TaskResult.inspection_task_id == VisitTask.inspection_task_id),
        )
    ).all()
    if unrecorded:
        if calendar is None or policy is None:
            from checkonce.config import get_settings
            from checkonce.policy import load_policy

            folder = get_settings().jurisdiction_dir
            calendar = calendar or WorkCalendar(folder / "calendar")
            policy = policy or load_policy(folder / "policy.toml")
        for task_id, dept, visit in unrecorded:
            due = publish_by(calendar, visit.day, policy)
            if due < today:
                out.append(
                    OverdueResult(
                        department_code=dept.code,
                        department=dept.name,
                        inspection_task_id=task_id,
                        visit_id=visit.id,
                        visit_code=visit.code,
                        visit_day=visit.day,
                        publish_by=due,
                        result_id=None,
                        status="unrecorded",
                        days_overdue=(today - due).days,
                    )
                )
    return sorted(out, key=lambda o: (o.department_code, o.publish_by, o.inspection_task_id))


def overdue_by_department(overdue: Iterable[OverdueResult]) -> dict[str, list[OverdueResult]]:
    """Overdue results grouped per department code, departments in code order."""
    grouped: dict[str, list[OverdueResult]] = {}
    for row in sorted(overdue, key=lambda o: o.department_code):
        grouped.setdefault(row.department_code, []).append(row)
    return grouped
