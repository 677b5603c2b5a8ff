"""Who acts: one typed actor for every channel (web page, JSON API, CLI, scheduled job).

The actor always comes from authentication (a logged-in account, a CLI login, or the job
runner itself), never from a free-text flag."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from checkonce.auth.service import Principal


class Channel(StrEnum):
    """How an action reached CheckOnce."""

    WEB = "web"  # a server-rendered page
    API = "api"  # the JSON API
    CLI = "cli"  # the command line, as a logged-in account
    JOB = "job"  # a scheduled job
    SYSTEM = "system"  # migrations, reference loading, the demo builder's set-up

    @property
    def label(self) -> str:
        return CHANNEL_LABELS[self]


CHANNEL_LABELS = {
    Channel.WEB: "网页",
    Channel.API: "接口",
    Channel.CLI: "命令行",
    Channel.JOB: "定时任务",
    Channel.SYSTEM: "系统",
}

SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class Actor:
    """An authenticated account (or the system itself) acting through one channel."""

    user_id: int | None
    username: str
    role: str
    channel: Channel
    department_id: int | None = None
    inspector_id: int | None = None
    enterprise_id: int | None = None
    request_id: str | None = None

    @classmethod
    def system(cls, name: str, *, channel: Channel = Channel.JOB) -> Actor:
        """CheckOnce itself: a job, a migration or the demo's set-up (no account)."""
        return cls(user_id=None, username=name, role=SYSTEM_ROLE, channel=channel)

    @classmethod
    def from_principal(
        cls, principal: Principal, *, channel: Channel, request_id: str | None = None
    ) -> Actor:
        """The actor of an authenticated request or CLI login."""
        return cls(
            user_id=principal.user_id,
            username=principal.username,
            role=principal.role,
            channel=channel,
            department_id=principal.department_id,
            inspector_id=principal.inspector_id,
            enterprise_id=principal.enterprise_id,
            request_id=request_id,
        )

    @property
    def label(self) -> str:
        """ "role:username", the form older history columns (plan events, draws) store."""
        role = {"bureau": "department"}.get(self.role, self.role)
        return f"{role}:{self.username}"

    @property
    def is_system(self) -> bool:
        return self.role == SYSTEM_ROLE
