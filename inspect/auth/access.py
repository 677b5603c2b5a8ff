"""Who may do what, and which rows each caller may see: the one place both are decided.

- `may(role, action)` / `require(actor, action, ...)`: the permission matrix, keyed by the
  audited action (`AuditAction`, "domain.verb"), over the account roles of `Role` plus the
  system itself (jobs). Services call `require` with the typed actor, whichever channel it
  came through (page, API, CLI, job), so a CLI login cannot do what its web login could not.
- `visible_*` / `*_visible_to`: row visibility. Routers and pages both call these; neither
  decides visibility on its own.

A "who" below is anything with `role`, `department_id`, `inspector_id` and `enterprise_id`:
a `Principal` (a request's token) or an `Actor` (an action's author).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import SYSTEM_ROLE
from checkonce.auth.models import ROLE_NAMES, Role
from checkonce.errors import CheckOnceError, NotFound

if TYPE_CHECKING:
    from checkonce.audit.actor import Actor
    from checkonce.calendar import WorkCalendar
    from checkonce.plans.models import Plan
    from checkonce.policy import Policy


class Who(Protocol):
    role: str
    department_id: int | None
    inspector_id: int | None
    enterprise_id: int | None


class PermissionDenied(CheckOnceError):
    code = "permission_denied"
    status = 403


A = AuditAction
SYSTEM = SYSTEM_ROLE
STAFF = frozenset({Role.ADMIN, Role.COORDINATOR, Role.BUREAU, Role.INSPECTOR})
OVERSEERS = frozenset({Role.ADMIN, Role.COORDINATOR})

# action -> the roles that may perform it ("system": CheckOnce's own jobs)
PERMISSIONS: dict[AuditAction, frozenset[str]] = {
    # accounts and keys
    A.USER_CREATE: frozenset({Role.ADMIN, SYSTEM}),  # system: the first admin, the demo
    A.USER_UPDATE: frozenset({Role.ADMIN}),
    A.SIGNING_KEY_CREATE: frozenset({Role.ADMIN, SYSTEM}),
    A.SIGNING_KEY_REVOKE: frozenset({Role.ADMIN}),
    # registry
    A.ENTERPRISE_CREATE: frozenset({Role.ADMIN}),
    A.ENTERPRISE_UPDATE: frozenset({Role.ADMIN}),
    A.ENTERPRISE_IMPORT: frozenset({Role.ADMIN}),
    A.INSPECTOR_UPDATE: frozenset({Role.ADMIN}),
    A.INSPECTOR_IMPORT: frozenset({Role.ADMIN}),
    A.CERTIFICATE_UPDATE: frozenset({Role.ADMIN}),
    A.CONFLICT_CREATE: frozenset({Role.ADMIN}),
    A.CONFLICT_DELETE: frozenset({Role.ADMIN}),
    # plans
    A.PLAN_CREATE: frozenset({Role.BUREAU, Role.COORDINATOR, SYSTEM}),
    A.PLAN_IMPORT: frozenset({Role.BUREAU, Role.COORDINATOR, SYSTEM}),
    A.PLAN_VALIDATE: frozenset({Role.ADMIN, Role.BUREAU, Role.COORDINATOR}),
    A.PLAN_SUBMIT: frozenset({Role.BUREAU, Role.COORDINATOR}),
    A.PLAN_APPROVE: frozenset({Role.COORDINATOR}),
    A.PLAN_RETURN: frozenset({Role.COORDINATOR}),
    A.PLAN_PUBLISH: frozenset({Role.COORDINATOR}),
    # draws
    A.DRAW_COMMIT: frozenset({Role.COORDINATOR}),
    A.DRAW_BEACON: frozenset({Role.COORDINATOR}),
    A.DRAW_RUN: frozenset({Role.COORDINATOR}),
    A.DRAW_REVEAL: frozenset({Role.COORDINATOR}),
    A.DRAW_PUBLISH: frozenset({Role.COORDINATOR}),
    A.DRAW_ABANDON: frozenset({Role.COORDINATOR}),
    A.REDRAW_REQUEST: frozenset({Role.COORDINATOR}),
    # The legal-review role (法制审核) decides redraw requests and does nothing else to a
    # draw: the second person of the redraw rule.
    A.REDRAW_APPROVE: frozenset({Role.LEGAL}),
    A.REDRAW_REJECT: frozenset({Role.LEGAL}),
    # schedules (the missed-visit job re-plans and publishes on its own)
    A.SCHEDULE_GENERATE: frozenset({Role.COORDINATOR, SYSTEM}),
    A.SCHEDULE_PUBLISH: frozenset({Role.COORDINATOR, SYSTEM}),
    # visits
    A.CHECKIN: frozenset({Role.INSPECTOR}),
    A.CHECKIN_BACKFILL: frozenset({Role.INSPECTOR}),
    # presence: only the inspected enterprise confirms, and its verifications are recorded
    A.CHECKIN_CONFIRM: frozenset({Role.ENTERPRISE}),
    A.INSPECTION_CODE_VERIFY: frozenset({Role.ENTERPRISE}),
    # findings
    A.RESULT_RECORD: frozenset({Role.INSPECTOR}),
    A.RESULT_PUBLISH: frozenset({Role.COORDINATOR}),
    A.FEE_FINDING: frozenset({Role.INSPECTOR, Role.ENTERPRISE}),
    A.FEE_REVIEW: frozenset({Role.COORDINATOR}),
    A.REFUND_UPDATE: frozenset({Role.COORDINATOR}),
    A.PHOTO_UPLOAD: frozenset({Role.INSPECTOR}),
    # the visit's paperwork (the evening notice job generates the notice as the system)
    A.DOCUMENT_GENERATE: frozenset({Role.COORDINATOR, Role.BUREAU, Role.INSPECTOR, SYSTEM}),
    A.DOCUMENT_SIGN: frozenset({Role.INSPECTOR}),
    A.DOCUMENT_SIGN_REFUSE: frozenset({Role.INSPECTOR}),
    A.DOCUMENT_SEND: frozenset({Role.COORDINATOR, Role.BUREAU, Role.INSPECTOR}),
    # the enterprise's say in the time of its visit, and the re-plan that honours it
    A.RESCHEDULE_REQUEST: frozenset({Role.ENTERPRISE}),
    A.RESCHEDULE_REJECT: frozenset({Role.COORDINATOR}),
    A.RESCHEDULE_REPLAN: frozenset({Role.COORDINATOR}),
    # the enterprise's voice
    A.REPORT_CREATE: frozenset({Role.ENTERPRISE}),
    A.RATING_CREATE: frozenset({Role.ENTERPRISE}),
    A.RATING_UPDATE: frozenset({Role.ENTERPRISE}),
}

# Who reads the audit trail: it names raters and reporters, so never the inspected bureau.
AUDIT_READERS = frozenset({Role.ADMIN, Role.COORDINATOR})


def may_read_audit(who: Who) -> bool:
    return who.role in AUDIT_READERS


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, "系统" if role == SYSTEM else role)


def roles_for(action: AuditAction) -> frozenset[str]:
    """The account roles that may perform `action` (the system left out): what a route's
    `Allow` declares."""
    return frozenset(r for r in PERMISSIONS[action] if r != SYSTEM)


def may(role: str, action: AuditAction) -> bool:
    """May an account of `role` perform `action` at all?"""
    return role in PERMISSIONS.get(action, frozenset())


def require(
    actor: Actor,
    action: AuditAction,
    *,
    department_id: int | None = None,
    inspector_id: int | None = None,
    enterprise_id: int | None = None,
) -> None:
    """Refuse (PermissionDenied, in words) unless `actor` may perform `action`; with an
    owner given, a bureau acts only for its department, an inspector only as themself and
    an enterprise only for itself."""
    if not may(actor.role, action):
        allowed = "、".join(role_name(r) for r in sorted(roles_for(action)))
        raise PermissionDenied(
            f"{role_name(actor.role)}账号 {actor.username} 无权{action.label}：仅限{allowed}"
        )
    owner = (
        (Role.BUREAU, department_id, actor.department_id, "本部门的"),
        (Role.INSPECTOR, inspector_id, actor.inspector_id, "本人的"),
        (Role.ENTERPRISE, enterprise_id, actor.enterprise_id, "本企业的"),
    )
    for role, wanted, own, whose in owner:
        if actor.role == role and wanted is not None and wanted != own:
            raise PermissionDenied(
                f"{role_name(role)}账号 {actor.username} 只能{action.label}（限{whose}）"
            )


def require_role(actor: Actor, roles: frozenset[str], what: str) -> None:
    """Refuse unless the actor holds one of `roles` (`what`: the deed, in words)."""
    if actor.role not in roles:
        allowed = "、".join(role_name(r) for r in sorted(roles))
        raise PermissionDenied(
            f"{role_name(actor.role)}账号 {actor.username} 无权{what}：仅限{allowed}"
        )


# --- which rows each caller may see ---------------------------------------------------


def sees_everything(who: Who) -> bool:
    return who.role in OVERSEERS or who.role == SYSTEM


def visible_visits(
    stmt: Select, who: Who, *, today: dt.date, policy: Policy, calendar: WorkCalendar
) -> Select:
    """Restrict a select of visits to what `who` may see:

    - coordinator, admin: every visit;
    - everyone else only visits of published schedules, and of those: a bureau the visits
      holding a task of its department, an inspector those whose team they are on, an
      enterprise its own visits that are announced and inside the notice period or already
      entered (the team is shown to it only once it has entered)."""
    from checkonce.plans.models import InspectionTask
    from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector, VisitTask
    from checkonce.visits.notice import ENTERED_STATES, visible_until

    if sees_everything(who):
        return stmt
    stmt = stmt.where(
        Visit.schedule_id.in_(
            select(ScheduleVersion.id).where(ScheduleVersion.state == "published")
        )
    )
    if who.role == Role.BUREAU:
        return stmt.where(
            exists().where(
                VisitTask.visit_id == Visit.id,
                InspectionTask.id == VisitTask.inspection_task_id,
                InspectionTask.department_id == who.department_id,
            )
        )
    if who.role == Role.INSPECTOR:
        return stmt.where(
            exists().where(
                VisitInspector.visit_id == Visit.id,
                VisitInspector.inspector_id == who.inspector_id,
            )
        )
    if who.role == Role.ENTERPRISE:
        horizon = visible_until(calendar, today, policy.notice.announce_workdays_ahead)
        return stmt.where(
            Visit.enterprise_id == who.enterprise_id,
            or_(
                Visit.state.in_(ENTERED_STATES),
                Visit.announced.is_(True) & (Visit.day <= horizon),
            ),
        )
    return stmt.where(Visit.id.is_(None))


def team_visible_to(who: Who, visit_state: str) -> bool:
    """Staff always see a visit's team; the enterprise only once it has been entered."""
    from checkonce.visits.notice import ENTERED_STATES

    return who.role != Role.ENTERPRISE or visit_state in ENTERED_STATES


def with_visit_details(stmt: Select) -> Select:
    """Load what a visit's page or answer shows (schedule, enterprise, tasks, team) in a few
    queries instead of one per row."""
    from checkonce.plans.models import InspectionTask
    from checkonce.registry.models import Inspector
    from checkonce.visits.models import Visit, VisitInspector, VisitTask

    return stmt.options(
        selectinload(Visit.schedule),
        selectinload(Visit.enterprise),
        selectinload(Visit.lead_department),
        selectinload(Visit.tasks)
        .selectinload(VisitTask.task)
        .selectinload(InspectionTask.department),
        selectinload(Visit.team)
        .selectinload(VisitInspector.inspector)
        .selectinload(Inspector.department),
    )


def visible_visit(
    db_session: Session,
    visit_id: int,
    who: Who,
    *,
    today: dt.date,
    policy: Policy,
    calendar: WorkCalendar,
):
    """The visit if `who` may see it, else NotFound (whether or not it exists)."""
    from checkonce.visits.models import Visit

    stmt = visible_visits(
        select(Visit).where(Visit.id == visit_id),
        who,
        today=today,
        policy=policy,
        calendar=calendar,
    )
    visit = db_session.scalars(with_visit_details(stmt)).one_or_none()
    if visit is None:
        raise NotFound(f"检查 {visit_id} 不存在")
    return visit


def visible_documents(
    stmt: Select, who: Who, *, today: dt.date, policy: Policy, calendar: WorkCalendar
) -> Select:
    """Restrict a select of inspection documents to those of visits `who` may see
    (`visible_visits`); an enterprise, moreover, only its own outward documents, never the
    internal approval form."""
    from checkonce.documents.models import ENTERPRISE_KINDS, InspectionDocument
    from checkonce.visits.models import Visit

    if sees_everything(who):
        return stmt
    visits = visible_visits(select(Visit.id), who, today=today, policy=policy, calendar=calendar)
    stmt = stmt.where(InspectionDocument.visit_id.in_(visits))
    if who.role == Role.ENTERPRISE:
        stmt = stmt.where(
            InspectionDocument.enterprise_id == who.enterprise_id,
            InspectionDocument.kind.in_([k.value for k in ENTERPRISE_KINDS]),
        )
    return stmt


def visible_document(
    db_session: Session,
    document_id: int,
    who: Who,
    *,
    today: dt.date,
    policy: Policy,
    calendar: WorkCalendar,
):
    """The document if `who` may see it, else NotFound (whether or not it exists)."""
    from checkonce.documents.models import InspectionDocument

    stmt = visible_documents(
        select(InspectionDocument).where(InspectionDocument.id == document_id),
        who,
        today=today,
        policy=policy,
        calendar=calendar,
    )
    doc = db_session.scalars(stmt).one_or_none()
    if doc is None:
        raise NotFound(f"文书 {document_id} 不存在")
    return doc


def plan_visible_to(plan: Plan, who: Who | None) -> bool:
    """Published plans are public; staff who handle plans see the rest, a bureau only its
    own department's."""
    if plan.state == "published":
        return True
    if who is None or who.role not in (Role.ADMIN, Role.COORDINATOR, Role.BUREAU, SYSTEM):
        return False
    return who.role != Role.BUREAU or plan.department_id == who.department_id


def visible_plan(db_session: Session, plan_id: int, who: Who | None) -> Plan:
    """The plan if `who` (None: the public) may see it, else NotFound."""
    from checkonce.plans import service

    plan = service.get_plan(db_session=db_session, plan_id=plan_id)
    if not plan_visible_to(plan, who):
        raise NotFound(f"计划 {plan_id} 不存在")
    return plan


def plan_department_filter(who: Who) -> int | None:
    """The department a plan list is limited to (a bureau's own), or None for all."""
    return who.department_id if who.role == Role.BUREAU else None


def visible_fee_findings(db_session: Session, who: Who) -> Select:
    """A select of the fee findings `who` may see: an enterprise its own, a bureau those
    naming it as the charging unit, an inspector those of visits they were on."""
    from checkonce.findings.fees.models import FeeFinding
    from checkonce.registry.models import Department
    from checkonce.visits.models import VisitInspector

    stmt = select(FeeFinding)
    if who.role == Role.ENTERPRISE:
        return stmt.where(FeeFinding.enterprise_id == who.enterprise_id)
    if who.role == Role.BUREAU:
        dept = db_session.get(Department, who.department_id) if who.department_id else None
        return stmt.where(FeeFinding.charging_unit == (dept.code if dept is not None else "-"))
    if who.role == Role.INSPECTOR:
        return stmt.where(
            exists().where(
                VisitInspector.visit_id == FeeFinding.visit_id,
                VisitInspector.inspector_id == who.inspector_id,
            )
        )
    return stmt


def visible_checkins(stmt: Select, who: Who) -> Select:
    """Restrict a select of check-ins: an inspector their own, a bureau its officers', an
    enterprise those at its door; coordinators and admins all."""
    from checkonce.registry.models import Inspector
    from checkonce.visits.checkin_models import CheckIn

    if who.role == Role.INSPECTOR:
        return stmt.where(CheckIn.inspector_id == (who.inspector_id or -1))
    if who.role == Role.BUREAU:
        return stmt.where(
            CheckIn.inspector_id.in_(
                select(Inspector.id).where(Inspector.department_id == (who.department_id or -1))
            )
        )
    if who.role == Role.ENTERPRISE:
        return stmt.where(CheckIn.enterprise_id == (who.enterprise_id or -1))
    return stmt


def enterprise_visible_to(enterprise_id: int, who: Who) -> bool:
    """Staff read the registry; an enterprise reads only its own record."""
    if who.role == Role.ENTERPRISE:
        return enterprise_id == who.enterprise_id
    return who.role in STAFF or who.role == SYSTEM
