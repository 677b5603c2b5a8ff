"""`checkonce db ...`: schema migrations."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help="数据库：迁移与状态。", no_args_is_help=True)

    @db_app.command("upgrade")
    def upgrade(revision: str = typer.Argument("head", help="目标版本，默认 head")) -> None:
        """把数据库升级到最新结构（Alembic 迁移）。"""
        from checkonce.cli import console
        from checkonce.config import get_settings
        from checkonce.migrations import upgrade as do_upgrade

        url = get_settings().database_url
        do_upgrade(url, revision)
        console.print(f"数据库已升级到 {revision}：{url}")

    app.add_typer(db_app, name="db")
