"""Jobs of the audit trail: the daily checkpoint. Each evening the chain head (sequence number
and hash) is published at /api/v1/public/audit/checkpoints and on /public/audit; anyone who
keeps one can later show that no earlier record was changed, removed or slipped in."""

from __future__ import annotations

from typing import Any

from checkonce.audit.actor import Actor, Channel
from checkonce.audit.service import checkpoint_is_due, publish_checkpoint
from checkonce.jobs.registry import JobContext, JobSkipped, scheduled_job

JOB_NAME = "audit_checkpoint"


@scheduled_job(
    JOB_NAME,
    trigger={"hour": 23, "minute": 50},
    description="每天晚上：公布审计链检查点（记录序号与链头哈希）",
    # Every day, holidays too: the trail records whatever happened. A start missed by up to
    # twelve hours still publishes (for the day the job runs).
    misfire_grace_time=12 * 3600,
)
def audit_checkpoint(ctx: JobContext) -> dict[str, Any]:
    """Publish the chain head as today's checkpoint, unless nothing was recorded since the
    last one."""
    s = ctx.db_session
    if not checkpoint_is_due(s):
        raise JobSkipped("上次检查点之后没有新的审计记录")
    checkpoint = publish_checkpoint(
        s, actor=Actor.system(JOB_NAME, channel=Channel.JOB), day=ctx.today
    )
    return {"seq": checkpoint.seq}
