"""Jobs of the registry: the weekly watch on enforcement certificates (执法证) that expire
soon, so departments renew them before their officers can no longer be assigned."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import exists, select

from checkonce.jobs.models import CertificateAlert
from checkonce.jobs.registry import JobContext, scheduled_job
from checkonce.registry.models import Inspector


@scheduled_job(
    "certificate_expiry",
    trigger={"day_of_week": "mon", "hour": 8, "minute": 0},
    description="每周一：执法证 30 日内到期的执法人员，生成到期提醒",
    # Certificates end on calendar days, holidays included: the watch runs every Monday,
    # holiday or not. A run missed by up to a day still runs; a later one waits a week.
    workdays_only=False,
    misfire_grace_time=24 * 3600,
)
def certificate_expiry(ctx: JobContext) -> dict[str, Any]:
    """Active enforcement officers whose certificate ends within the warning window (from
    today) get one alert per certificate end date."""
    s = ctx.db_session
    until = ctx.today + dt.timedelta(days=ctx.settings.certificate_warning_days)
    already = exists().where(
        CertificateAlert.inspector_id == Inspector.id,
        CertificateAlert.certificate_valid_to == Inspector.certificate_valid_to,
    )
    expiring = list(
        s.scalars(
            select(Inspector)
            .where(
                Inspector.role == "enforcement",
                Inspector.status == "active",
                Inspector.certificate_valid_to >= ctx.today,
                Inspector.certificate_valid_to <= until,
            )
            .order_by(Inspector.certificate_valid_to, Inspector.code)
        )
    )
    raised = 0
    for person in expiring:
        if s.scalar(select(already.where(Inspector.id == person.id))):
            continue
        s.add(
            CertificateAlert(
                inspector_id=person.id,
                department_id=person.department_id,
                certificate_valid_to=person.certificate_valid_to,
                raised_on=ctx.today,
                days_left=(person.certificate_valid_to - ctx.today).days,
            )
        )
        raised += 1
    s.flush()
    return {"expiring": len(expiring), "alerts_raised": raised}
