"""`checkonce users create`: accounts (the first admin, coordinators, bureaus, inspectors,
enterprises)."""

from __future__ import annotations

import sys

import typer


def register(app: typer.Typer) -> None:
    users_app = typer.Typer(help="用户账号。", no_args_is_help=True)

    @users_app.command("create")
    def create(
        username: str = typer.Option(..., help="登录名"),
        role: str = typer.Option(
            ..., help="admin / coordinator / legal（法制审核）/ bureau / inspector / enterprise"
        ),
        display_name: str = typer.Option("", help="显示名称"),
        department: str | None = typer.Option(None, help="执法部门账号所属部门代码"),
        inspector: str | None = typer.Option(None, help="执法人员账号对应的工号"),
        credit_code: str | None = typer.Option(None, help="企业账号的统一社会信用代码"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="从标准输入读取密码"),
    ) -> None:
        """创建账号（密码以 argon2 存储）。"""
        from checkonce.auth.service import create_user
        from checkonce.cli import console
        from checkonce.config import get_settings
        from checkonce.db import make_engine, session_scope
        from checkonce.migrations import upgrade

        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = typer.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
        settings = get_settings()
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            with session_scope(engine) as session:
                user = create_user(
                    db_session=session,
                    username=username,
                    password=password,
                    role=role,
                    display_name=display_name,
                    department=department,
                    inspector=inspector,
                    credit_code=credit_code,
                )
                console.print(f"已创建账号 {user.username}（{role}）")
        finally:
            engine.dispose()

    app.add_typer(users_app, name="users")
