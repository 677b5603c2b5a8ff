"""Plan services: intake (JSON, CSV, Excel), the state machine draft → submitted → approved →
published with its audit trail, and the concrete tasks an approved plan yields.

Plain functions with a keyword-only `db_session`; they flush but never commit, so the caller
decides the transaction (an upload is one transaction: all rows or none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.calendar import WorkCalendar
from checkonce.errors import CheckOnceError, Conflict, ImportRejected, NotFound, RowError
from checkonce.plans.intake import PLAN_COLUMNS, TaskDraft, parse_tasks, row_to_raw
from checkonce.plans.models import (
    PLAN_STATE_NAMES,
    InspectionTask,
    Plan,
    PlanEvent,
    PlanTask,
    PlanTaskEnterprise,
    PlanTaskItem,
)
from checkonce.plans.periods import parse_period
from checkonce.plans.scope import enterprises_in_scope
from checkonce.policy import Policy, jurisdiction_policy
from checkonce.registry.models import Department
from checkonce.tabular import read_table


class PlanNotSubmittable(CheckOnceError):
    """A plan with validation errors cannot be submitted or approved."""

    code = "plan_invalid"
    status = 422

    def __init__(self, plan: Plan, findings: list) -> None:
        self.findings = findings
        lines = "\n".join(f"  [{f.rule}] {f.message}" for f in findings)
        super().__init__(f"计划 {plan.id} 未通过校验，共 {len(findings)} 个问题：\n{lines}")


def _defaults(policy: Policy | None, calendar: WorkCalendar | None) -> tuple[Policy, WorkCalendar]:
    return policy or jurisdiction_policy(), calendar or WorkCalendar.from_settings()


MAX_ID = 2**63 - 1  # larger ids cannot exist, and SQLite refuses to even compare them


def get_plan(*, db_session: Session, plan_id: int) -> Plan:
    """The plan with its tasks and events, or NotFound."""
    if not 0 < plan_id <= MAX_ID:
        raise NotFound(f"计划 {plan_id} 不存在")
    plan = db_session.scalar(
        select(Plan)
        .where(Plan.id == plan_id)
        .options(
            selectinload(Plan.tasks).selectinload(PlanTask.items),
            selectinload(Plan.tasks).selectinload(PlanTask.enterprises),
            selectinload(Plan.events),
        )
    )
    if plan is None:
        raise NotFound(f"计划 {plan_id} 不存在")
    return plan


def list_plans(
    *,
    db_session: Session,
    department: str | None = None,
    year: int | None = None,
    state: str | None = None,
) -> list[Plan]:
    """Plans, newest first, optionally filtered by department code, year and state."""
    stmt = select(Plan).join(Department).order_by(Plan.id.desc())
    if department:
        stmt = stmt.where(Department.code == department)
    if year:
        stmt = stmt.where(Plan.year == year)
    if state:
        stmt = stmt.where(Plan.state == state)
    return list(db_session.scalars(stmt))


def _department(db_session: Session, code: str) -> Department:
    dept = db_session.scalar(select(Department).where(Department.code == str(code).strip()))
    if dept is None:
        raise NotFound(f"部门 {code!r} 不存在")
    return dept


def _write_plan(
    db_session: Session,
    *,
    department: Department,
    period_code: str,
    title: str,
    actor: Actor,
    source: str,
    drafts: list[TaskDraft],
    action: AuditAction = AuditAction.PLAN_CREATE,
    detail: dict[str, Any] | None = None,
) -> Plan:
    period = parse_period(period_code)
    # A new plan for a department and period that already has one is the next version; the
    # earlier versions stay as they were (nothing is overwritten).
    latest = db_session.scalar(
        select(func.max(Plan.version)).where(
            Plan.department_id == department.id, Plan.period == period.code
        )
    )
    plan = Plan(
        department=department,
        period=period.code,
        year=period.year,
        version=(latest or 0) + 1,
        title=title or f"{department.short_name} {period.code} 检查计划",
        state="draft",
        created_by=actor.label,
        source=source,
    )
    for position, draft in enumerate(drafts, start=1):
        task = PlanTask(
            position=position,
            source_row=draft.row,
            kind=draft.kind,
            window_start=draft.window_start,
            window_end=draft.window_end,
            scope=draft.scope,
            strata=draft.strata,
            campaign_name=draft.campaign_name,
            approver=draft.approver,
            approval_date=draft.approval_date,
            approval_document=draft.approval_document,
            trigger_reason=draft.trigger_reason,
            received_on=draft.received_on,
            due_workdays=draft.due_workdays,
            note=draft.note,
        )
        task.items = [PlanTaskItem(item=item, position=i) for i, item in enumerate(draft.items)]
        task.enterprises = [
            PlanTaskEnterprise(enterprise=e, position=i) for i, e in enumerate(draft.enterprises)
        ]
        plan.tasks.append(task)
    plan.events.append(PlanEvent(actor=actor.label, from_state=None, to_state="draft", note=source))
    db_session.add(plan)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=action,
        object_type="plan",
        object_id=plan.id,
        after={
            "department": department.code,
            "period": plan.period,
            "version": plan.version,
            "state": plan.state,
            "tasks": len(plan.tasks),
            "title": plan.title,
        },
        detail={"source": source, **(detail or {})},
    )
    return plan


def create_plan(
    *,
    db_session: Session,
    data: dict[str, Any],
    actor: Actor,
    policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
) -> Plan:
    """Create a draft plan from JSON-shaped data::

        {"department": "SAMR", "period": "2027Q1", "title": "…", "tasks": [
          {"kind": "random", "item": "SAMR-SP-001", "window": ["2027-01-04", "2027-03-31"],
           "scope": {"industries": ["restaurant"]}, "strata": {"C": {"ratio": 0.3}}}, …]}

    All or nothing: every bad task is reported (row = task number, 1-based) in one
    ImportRejected and nothing is written. A bureau files only its own department's plans.
    """
    access.require(actor, AuditAction.PLAN_CREATE)
    policy, calendar = _defaults(policy, calendar)
    if not isinstance(data, dict):
        raise CheckOnceError("计划数据应为 JSON 对象")
    errors: list[RowError] = []
    department = None
    try:
        department = _department(db_session, data.get("department", ""))
    except NotFound as exc:
        errors.append(RowError(0, "department", exc.message))
    if department is not None:
        access.require(actor, AuditAction.PLAN_CREATE, department_id=department.id)
    try:
        parse_period(data.get("period", ""))
    except CheckOnceError as exc:
        errors.append(RowError(0, "period", exc.message))
    tasks = data.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        errors.append(RowError(0, "tasks", "计划至少要有一条任务（tasks 列表）"))
        tasks = []
    drafts, task_errors = parse_tasks(
        db_session, list(enumerate(tasks, start=1)), policy=policy, calendar=calendar
    )
    errors.extend(task_errors)
    if errors:
        raise ImportRejected(errors, source="计划 JSON（行号为任务序号，0 为计划本身）")
    assert department is not None
    return _write_plan(
        db_session,
        department=department,
        period_code=data["period"],
        title=str(data.get("title") or ""),
        actor=actor,
        source="json",
        drafts=drafts,
    )


def import_plan_file(
    *,
    db_session: Session,
    path: Path,
    department: str,
    period: str,
    actor: Actor,
    title: str = "",
    policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
) -> Plan:
    """Create a draft plan from a CSV or Excel file (one row per task, columns in
    intake.PLAN_COLUMNS, Chinese or English headers). All or nothing; the audit record
    names the file and its SHA-256."""
    import hashlib

    access.require(actor, AuditAction.PLAN_IMPORT)
    policy, calendar = _defaults(policy, calendar)
    dept = _department(db_session, department)
    access.require(actor, AuditAction.PLAN_IMPORT, department_id=dept.id)
    parse_period(period)
    path = Path(path)
    rows = read_table(path, PLAN_COLUMNS)
    if not rows:
        raise ImportRejected([RowError(2, "任务类型", "文件中没有任何任务行")], source=path.name)
    drafts, errors = parse_tasks(
        db_session,
        [(row.number, row_to_raw(row)) for row in rows],
        policy=policy,
        calendar=calendar,
    )
    if errors:
        raise ImportRejected(errors, source=path.name)
    return _write_plan(
        db_session,
        department=dept,
        period_code=period,
        title=title,
        actor=actor,
        source=path.name,
        drafts=drafts,
        action=AuditAction.PLAN_IMPORT,
        detail={"rows": len(rows), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
    )


def _transition(
    db_session: Session,
    plan: Plan,
    *,
    actor: Actor,
    action: AuditAction,
    to_state: str,
    allowed_from: tuple[str, ...],
    note: str,
    detail: dict[str, Any] | None = None,
) -> Plan:
    if plan.state not in allowed_from:
        wanted = "、".join(PLAN_STATE_NAMES[s] for s in allowed_from)
        raise Conflict(
            f"计划 {plan.id} 当前为“{plan.state_name}”，只有“{wanted}”的计划才能改为“{PLAN_STATE_NAMES[to_state]}”"
        )
    before = plan.state
    plan.events.append(
        PlanEvent(actor=actor.label, from_state=plan.state, to_state=to_state, note=note)
    )
    plan.state = to_state
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=action,
        object_type="plan",
        object_id=plan.id,
        before={"state": before},
        after={"state": to_state},
        detail={"note": note, **(detail or {})} if note or detail else None,
    )
    return plan


def _require_valid(db_session: Session, plan: Plan, policy: Policy, calendar: WorkCalendar) -> None:
    from checkonce.plans.validation import errors_only, validate_plan

    errors = errors_only(
        validate_plan(plan, db_session=db_session, policy=policy, calendar=calendar)
    )
    if errors:
        raise PlanNotSubmittable(plan, errors)


def check_plan(
    *,
    db_session: Session,
    plan_id: int,
    actor: Actor,
    policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
) -> tuple[Plan, list]:
    """Validate a plan on request (校验) and record that it was checked and what was found;
    returns the plan and its findings."""
    from checkonce.plans.validation import validate_plan

    access.require(actor, AuditAction.PLAN_VALIDATE)
    policy, calendar = _defaults(policy, calendar)
    plan = get_plan(db_session=db_session, plan_id=plan_id)
    access.require(actor, AuditAction.PLAN_VALIDATE, department_id=plan.department_id)
    findings = validate_plan(plan, db_session=db_session, policy=policy, calendar=calendar)
    errors = [f for f in findings if f.is_error]
    record(
        db_session,
        actor=actor,
        action=AuditAction.PLAN_VALIDATE,
        object_type="plan",
        object_id=plan.id,
        detail={
            "errors": len(errors),
            "warnings": len(findings) - len(errors),
            "rules": sorted({f.rule for f in findings}),
        },
    )
    return plan, findings


def submit_plan(
    *,
    db_session: Session,
    plan_id: int,
    actor: Actor,
    note: str = "",
    policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
) -> Plan:
    """draft → submitted, only when validation finds no error."""
    access.require(actor, AuditAction.PLAN_SUBMIT)
    policy, calendar = _defaults(policy, calendar)
    plan = get_plan(db_session=db_session, plan_id=plan_id)
    access.require(actor, AuditAction.PLAN_SUBMIT, department_id=plan.department_id)
    # The state is checked before validation so a wrong move gets the clearer message.
    if plan.state == "draft":
        _require_valid(db_session, plan, policy, calendar)
    return _transition(
        db_session,
        plan,
        actor=actor,
        action=AuditAction.PLAN_SUBMIT,
        to_state="submitted",
        allowed_from=("draft",),
        note=note,
    )


def approve_plan(
    *,
    db_session: Session,
    plan_id: int,
    actor: Actor,
    note: str = "",
    policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
) -> Plan:
    """submitted → approved by a coordinator. Validation runs again (other plans may have
    been approved since), then key, special and triggered tasks become concrete tasks."""
    access.require(actor, AuditAction.PLAN_APPROVE)
    policy, calendar = _defaults(policy, calendar)
    plan = get_plan(db_session=db_session, plan_id=plan_id)
    if plan.state == "submitted":
        _require_valid(db_session, plan, policy, calendar)
    _transition(
        db_session,
        plan,
        actor=actor,
        action=AuditAction.PLAN_APPROVE,
        to_state="approved",
        allowed_from=("submitted",),
        note=note,
    )
    materialize_named_tasks(db_session=db_session, plan=plan, policy=policy)
    return plan


def publish_plan(*, db_session: Session, plan_id: int, actor: Actor, note: str = "") -> Plan:
    """approved → published (plans are public, 一公开)."""
    access.require(actor, AuditAction.PLAN_PUBLISH)
    plan = get_plan(db_session=db_session, plan_id=plan_id)
    return _transition(
        db_session,
        plan,
        actor=actor,
        action=AuditAction.PLAN_PUBLISH,
        to_state="published",
        allowed_from=("approved",),
        note=note,
    )


def return_to_draft(*, db_session: Session, plan_id: int, actor: Actor, note: str) -> Plan:
    """submitted → draft, by a coordinator, with the reason recorded."""
    access.require(actor, AuditAction.PLAN_RETURN)
    if not note or not note.strip():
        raise CheckOnceError("退回计划须写明退回理由")
    plan = get_plan(db_session=db_session, plan_id=plan_id)
    return _transition(
        db_session,
        plan,
        actor=actor,
        action=AuditAction.PLAN_RETURN,
        to_state="draft",
        allowed_from=("submitted",),
        note=note.strip(),
    )


def task_targets(db_session: Session, task: PlanTask, policy: Policy) -> list:
    """The enterprises a key, special or triggered task will certainly visit.

    A campaign's scope skips white-listed enterprises for items outside the categories the
    policy still allows for them; named enterprises are taken as named (validation has
    already refused a named white-listed enterprise for such items).
    """
    named = task.enterprise_list
    if task.kind != "special":
        return named
    seen = {e.id for e in named}
    out = list(named)
    if any(task.scope.get(k) for k in ("industries", "districts", "scenes")):
        allowed = set(policy.whitelist.allowed_categories)
        whitelist_ok = all(item.category in allowed for item in task.item_list)
        for enterprise in enterprises_in_scope(db_session, task.scope):
            if enterprise.id in seen or (enterprise.whitelisted and not whitelist_ok):
                continue
            seen.add(enterprise.id)
            out.append(enterprise)
    return out


def materialize_named_tasks(
    *, db_session: Session, plan: Plan, policy: Policy | None = None
) -> int:
    """Create the concrete tasks of the plan's key, special and triggered lines (once).

    Random lines get theirs from their draw. Returns how many tasks were created.
    """
    policy = policy or jurisdiction_policy()
    created = 0
    for task in plan.tasks:
        if task.kind == "random":
            continue
        exists = db_session.scalar(
            select(func.count())
            .select_from(InspectionTask)
            .where(InspectionTask.plan_task_id == task.id)
        )
        if exists:
            continue
        for enterprise in task_targets(db_session, task, policy):
            for item in task.item_list:
                db_session.add(
                    InspectionTask(
                        plan_id=plan.id,
                        plan_task_id=task.id,
                        enterprise_id=enterprise.id,
                        department_id=plan.department_id,
                        item_id=item.id,
                        kind=task.kind,
                        year=plan.year,
                        window_start=task.window_start,
                        window_end=task.window_end,
                        minutes=item.default_minutes,
                        team=max(item.default_team, policy.team.min_team),
                        mergeable=True,
                        # Campaigns and key supervision are announced ahead; complaint-driven
                        # checks are not (the enterprise sees them at check-in).
                        announced=task.kind in ("special", "key"),
                    )
                )
                created += 1
    db_session.flush()
    return created


def concrete_tasks(
    *, db_session: Session, plan_id: int | None = None, year: int | None = None
) -> list[InspectionTask]:
    """Active concrete tasks (what the scheduler gets), optionally of one plan or year."""
    stmt = select(InspectionTask).where(InspectionTask.active.is_(True)).order_by(InspectionTask.id)
    if plan_id is not None:
        stmt = stmt.where(InspectionTask.plan_id == plan_id)
    if year is not None:
        stmt = stmt.where(InspectionTask.year == year)
    return list(db_session.scalars(stmt))
