"""Jobs of the findings domain: the daily publicity watch (一公开). Every result must be
published within the policy's workdays of the visit (谁检查、谁录入、谁公开); each morning the
results past that date become one alert per department, listing what is overdue."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import delete, select

from checkonce.findings.service import OverdueResult, overdue_results
from checkonce.jobs.models import PublicityAlert
from checkonce.jobs.registry import JobContext, scheduled_job
from checkonce.registry.models import Department


@scheduled_job(
    "publicity_watch",
    trigger={"hour": 8, "minute": 30},
    description="每个工作日早上：超过公开期限的检查结果，按部门生成逾期提醒",
    # Deadlines are counted in workdays and bureaus act on them at work: no alerts on
    # holidays. A start missed by up to twelve hours still raises the day's alerts.
    workdays_only=True,
    misfire_grace_time=12 * 3600,
)
def publicity_watch(ctx: JobContext) -> dict[str, Any]:
    """Overdue results of today → one PublicityAlert per department (re-running the same
    day replaces the day's alerts with the current state)."""
    s = ctx.db_session
    overdue = overdue_results(s, ctx.today, calendar=ctx.calendar, policy=ctx.policy)
    by_department: dict[str, list[OverdueResult]] = defaultdict(list)
    for item in overdue:
        by_department[item.department_code].append(item)
    ids = dict(
        s.execute(
            select(Department.code, Department.id).where(Department.code.in_(sorted(by_department)))
        ).all()
    )
    s.execute(delete(PublicityAlert).where(PublicityAlert.day == ctx.today))
    for code, items in sorted(by_department.items()):
        unpublished = sum(1 for i in items if i.status == "unpublished")
        s.add(
            PublicityAlert(
                department_id=ids[code],
                day=ctx.today,
                overdue=len(items),
                unpublished=unpublished,
                unrecorded=len(items) - unpublished,
                oldest_due=min(i.publish_by for i in items),
                items=[
                    {
                        "task": i.inspection_task_id,
                        "visit_code": i.visit_code,
                        "visit_day": i.visit_day.isoformat(),
                        "publish_by": i.publish_by.isoformat(),
                        "status": i.status,
                        "result_id": i.result_id,
                        "days_overdue": i.days_overdue,
                    }
                    for i in items
                ],
            )
        )
    s.flush()
    return {"overdue": len(overdue), "departments": len(by_department)}
