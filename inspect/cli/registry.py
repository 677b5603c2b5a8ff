"""`checkonce import ...` and `checkonce registry ...`: registry uploads and counts."""

from __future__ import annotations

from pathlib import Path

import typer

from checkonce.cli.account import UserOption

KINDS = {"enterprises": "企业", "inspectors": "执法人员"}


def register(app: typer.Typer) -> None:
    import_app = typer.Typer(
        help="导入登记数据（CSV 或 Excel，全部正确才写入）。", no_args_is_help=True
    )

    def _run(kind: str, path: Path, user: str | None) -> None:
        from checkonce.cli import console
        from checkonce.cli.account import acting_session
        from checkonce.config import get_settings
        from checkonce.migrations import upgrade
        from checkonce.registry import imports

        settings = get_settings()
        upgrade(settings.database_url)
        importer = {
            "enterprises": imports.import_enterprises,
            "inspectors": imports.import_inspectors,
        }[kind]
        with acting_session(user) as (session, actor):
            added = importer(
                db_session=session, path=path, data_dir=settings.jurisdiction_dir, actor=actor
            )
        console.print(f"已导入{KINDS[kind]} {added} 条：{path}")

    @import_app.command("enterprises")
    def enterprises(
        path: Path = typer.Argument(..., help="CSV 或 .xlsx 文件"), user: UserOption = None
    ) -> None:
        """导入企业（统一社会信用代码、名称、地址、区县代码、经纬度、行业、风险等级…）。"""
        _run("enterprises", path, user)

    @import_app.command("inspectors")
    def inspectors(
        path: Path = typer.Argument(..., help="CSV 或 .xlsx 文件"), user: UserOption = None
    ) -> None:
        """导入执法人员（工号、姓名、部门、执法证号与有效期、常驻区县、经纬度…）。"""
        _run("inspectors", path, user)

    app.add_typer(import_app, name="import")

    registry_app = typer.Typer(help="登记库。", no_args_is_help=True)

    @registry_app.command("load-reference")
    def load_reference_command() -> None:
        """加载辖区参考数据：区县、部门与检查事项清单、行业、综合查一次场景、收费目录。"""
        from checkonce.cli import console
        from checkonce.config import get_settings
        from checkonce.db import make_engine, session_scope
        from checkonce.migrations import upgrade
        from checkonce.registry.reference import load_reference

        settings = get_settings()
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            with session_scope(engine) as session:
                counts = load_reference(session, settings.jurisdiction_dir)
        finally:
            engine.dispose()
        console.print("已加载参考数据：" + "，".join(f"{k} {v}" for k, v in counts.items()))

    @registry_app.command("counts")
    def counts() -> None:
        """各表行数。"""
        from rich.table import Table

        from checkonce.cli import console
        from checkonce.config import get_settings
        from checkonce.db import make_engine, session_scope
        from checkonce.registry.service import table_counts

        engine = make_engine(get_settings().database_url)
        with session_scope(engine) as session:
            rows = table_counts(db_session=session)
        engine.dispose()
        table = Table("表", "行数")
        for name, count in rows.items():
            table.add_row(name, f"{count:,}")
        console.print(table)

    app.add_typer(registry_app, name="registry")
