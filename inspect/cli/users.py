"""`checkonce users create`: accounts (the first admin, coordinators, bureaus, inspectors,
enterprises).

Accounts are created by a logged-in administrator. Only while the database has no active
administrator yet may the first one be created without a login (recorded as CheckOnce's own
set-up through the command line)."""

from __future__ import annotations

import sys

import typer

from checkonce.cli.account import UserOption


def register(app: typer.Typer) -> None:
    users_app = typer.Typer(help="用户账号。", no_args_is_help=True)

    @users_app.command("create")
    def create(
        username: str = typer.Option(..., help="登录名"),
        role: str = typer.Option(..., help="admin / coordinator / bureau / inspector / enterprise"),
        display_name: str = typer.Option("", help="显示名称"),
        department: str | None = typer.Option(None, help="执法部门账号所属部门代码"),
        inspector: str | None = typer.Option(None, help="执法人员账号对应的工号"),
        credit_code: str | None = typer.Option(None, help="企业账号的统一社会信用代码"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="从标准输入读取密码"),
        user: UserOption = None,
    ) -> None:
        """创建账号（密码以 argon2 存储；系统管理员登录后执行，首个管理员除外）。"""
        from sqlalchemy import select

        from checkonce.audit.actor import Actor, Channel
        from checkonce.auth.models import Role, User
        from checkonce.auth.service import create_user
        from checkonce.cli import console
        from checkonce.cli.account import login_actor
        from checkonce.cli.plans import open_session
        from checkonce.config import get_settings
        from checkonce.migrations import upgrade

        upgrade(get_settings().database_url)
        with open_session() as session:
            has_admin = session.scalar(
                select(User.id).where(User.role == Role.ADMIN, User.active.is_(True)).limit(1)
            )
            if has_admin is None and role == Role.ADMIN and not user:
                actor = Actor.system("first-admin", channel=Channel.CLI)
            else:
                actor = login_actor(session, user)
            if password_stdin:
                password = sys.stdin.readline().rstrip("\n")
            else:
                password = typer.prompt(
                    "新账号的密码", hide_input=True, confirmation_prompt="再次输入密码"
                )
            account = create_user(
                db_session=session,
                actor=actor,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                department=department,
                inspector=inspector,
                credit_code=credit_code,
            )
            console.print(f"已创建账号 {account.username}（{role}）")

    @users_app.command("update")
    def update(
        username: str = typer.Argument(..., help="要修改的账号"),
        active: bool = typer.Option(None, "--active/--inactive", help="启用或停用账号"),
        role: str = typer.Option(None, help="改为此角色（须同时给出该角色的归属）"),
        display_name: str = typer.Option(None, help="显示名称"),
        department: str | None = typer.Option(None, help="执法部门账号所属部门代码"),
        inspector: str | None = typer.Option(None, help="执法人员账号对应的工号"),
        credit_code: str | None = typer.Option(None, help="企业账号的统一社会信用代码"),
        user: UserOption = None,
    ) -> None:
        """修改账号：启用/停用、更换角色及其归属、显示名称（系统管理员；留痕）。"""
        from checkonce.auth.models import ROLE_NAMES
        from checkonce.auth.service import update_user
        from checkonce.cli import console
        from checkonce.cli.account import acting_session
        from checkonce.errors import CheckOnceError

        if active is None and role is None and display_name is None:
            raise CheckOnceError(
                "请给出要修改的内容：--active/--inactive、--role 或 --display-name"
            )
        with acting_session(user) as (session, actor):
            account = update_user(
                db_session=session,
                actor=actor,
                username=username,
                active=active,
                role=role,
                display_name=display_name,
                department=department,
                inspector=inspector,
                credit_code=credit_code,
            )
            state = "启用" if account.active else "停用"
            console.print(f"账号 {account.username}：{ROLE_NAMES[account.role]}，{state}")

    app.add_typer(users_app, name="users")
