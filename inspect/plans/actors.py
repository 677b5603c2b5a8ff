"""Who may do what to a plan or a draw.

Users arrive in a later issue; until then an actor is a string "role:name", for example
"coordinator:张三" or "department:李四", and this module is the single hook where a role is
checked. Keep it simple and keep every caller going through `authorize`.
"""

from __future__ import annotations

from checkonce.errors import CheckOnceError

ROLES = ("department", "coordinator", "system")
ROLE_NAMES = {"department": "执法部门", "coordinator": "统筹协调部门", "system": "系统"}

# action -> roles allowed to perform it
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "plan.create": ("department", "coordinator", "system"),
    "plan.submit": ("department", "coordinator"),
    "plan.approve": ("coordinator",),
    "plan.publish": ("coordinator",),
    "plan.return": ("coordinator",),
    "draw.commit": ("coordinator",),
    "draw.run": ("coordinator",),
    "draw.reveal": ("coordinator",),
    "draw.publish": ("coordinator",),
}

ACTION_NAMES = {
    "plan.create": "创建计划",
    "plan.submit": "提交计划",
    "plan.approve": "审核通过计划",
    "plan.publish": "公开计划",
    "plan.return": "退回计划",
    "draw.commit": "发起抽取",
    "draw.run": "执行抽取",
    "draw.reveal": "公开种子",
    "draw.publish": "公示抽取结果",
}


class PermissionDenied(CheckOnceError):
    code = "permission_denied"
    status = 403


def parse_actor(actor: str) -> tuple[str, str]:
    """Split "role:name"; refuses an actor without a known role or a name."""
    text = (actor or "").strip()
    role, sep, name = text.partition(":")
    if not sep or role not in ROLES or not name.strip():
        raise CheckOnceError(
            f"操作人 {actor!r} 格式不对：应写成“角色:姓名”，角色为 "
            + "、".join(f"{r}（{ROLE_NAMES[r]}）" for r in ROLES)
            + "，例如 coordinator:张三"
        )
    if len(text) > 80:
        raise CheckOnceError("操作人名称过长（最多 80 个字符）")
    return role, name.strip()


def authorize(actor: str, action: str) -> str:
    """Return the normalised actor when its role may perform `action`, else raise."""
    role, name = parse_actor(actor)
    if role not in PERMISSIONS[action]:
        allowed = "、".join(ROLE_NAMES[r] for r in PERMISSIONS[action])
        raise PermissionDenied(
            f"{ROLE_NAMES[role]}人员 {name} 无权{ACTION_NAMES[action]}：仅限{allowed}"
        )
    return f"{role}:{name}"
