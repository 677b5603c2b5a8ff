"""`checkonce codes ...`: enterprise QR posters (企业码) and the keys that sign codes
(rotation, revocation)."""

from __future__ import annotations

from pathlib import Path

import typer

from checkonce.cli.account import UserOption, acting_session
from checkonce.cli.plans import open_session

BASE_URL_HELP = "二维码指向的网站地址（企业与执法人员的手机能访问的地址）"


def register(app: typer.Typer) -> None:
    codes_app = typer.Typer(help="企业码海报与签名密钥。", no_args_is_help=True)

    @codes_app.command("poster")
    def poster(
        credit_code: str = typer.Argument(..., help="企业的统一社会信用代码"),
        out: Path = typer.Option(..., "--out", "-o", help="输出文件（.png 或 .svg）"),
        base_url: str = typer.Option(
            "http://127.0.0.1:8000", "--base-url", envvar="CHECKONCE_PUBLIC_URL", help=BASE_URL_HELP
        ),
    ) -> None:
        """打印企业码海报（含企业名称与信用代码），张贴在企业入口。"""
        from sqlalchemy import select

        from checkonce.cli import console
        from checkonce.config import get_settings
        from checkonce.errors import CheckOnceError, NotFound
        from checkonce.registry.models import Enterprise
        from checkonce.visits import codes, posters

        fmt = out.suffix.lower().lstrip(".")
        if fmt not in ("png", "svg"):
            raise CheckOnceError(
                f"不支持的海报格式 {out.suffix or '（无扩展名）'}，请用 .png 或 .svg"
            )
        if not base_url.startswith(("http://", "https://")):
            raise CheckOnceError(f"网站地址 {base_url} 应以 http:// 或 https:// 开头")
        with open_session() as session:
            firm = session.scalars(
                select(Enterprise).where(Enterprise.credit_code == credit_code.strip().upper())
            ).first()
            if firm is None:
                raise NotFound(f"企业 {credit_code} 不在登记库中")
            token = codes.enterprise_token(
                db_session=session,
                secret_key=get_settings().secret_key,
                credit_code=firm.credit_code,
            )
            content = posters.PosterContent(
                url=codes.enterprise_url(base_url, token),
                name=firm.name,
                credit_code=firm.credit_code,
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(posters.render_poster(content, fmt))
        console.print(f"已写入 {out}（{firm.name}，二维码：{content.url}）", highlight=False)

    @codes_app.command("keys")
    def keys(user: UserOption = None) -> None:
        """列出签名密钥（不显示密钥本身；系统管理员）。"""
        from rich.table import Table

        from checkonce.auth import access
        from checkonce.auth.models import Role
        from checkonce.cli import console
        from checkonce.visits import codes

        with acting_session(user) as (session, actor):
            access.require_role(actor, frozenset({Role.ADMIN}), "查看签名密钥")
            rows = codes.list_keys(db_session=session)
            live = [k.id for k in rows if k.revoked_at is None]
            table = Table("密钥编号", "创建时间", "创建人", "状态", "作废原因")
            for key in rows:
                if key.revoked_at is not None:
                    state = f"已作废（{key.revoked_at:%Y-%m-%d}）"
                else:
                    state = "当前使用" if live and key.id == max(live) else "有效"
                table.add_row(
                    key.kid,
                    f"{key.created_at:%Y-%m-%d %H:%M}",
                    key.created_by,
                    state,
                    key.revoke_reason or "",
                )
        console.print(table if rows else "尚无签名密钥（首次打印海报时自动创建）")

    @codes_app.command("rotate")
    def rotate(user: UserOption = None) -> None:
        """新建签名密钥：此后打印的海报与检查码用新密钥签名，旧码在作废旧密钥前仍有效。"""
        from checkonce.cli import console
        from checkonce.visits import codes

        with acting_session(user) as (session, actor):
            key = codes.create_key(db_session=session, actor=actor)
            console.print(f"已新建签名密钥 {key.kid}；请为企业重新打印海报后再作废旧密钥")

    @codes_app.command("revoke")
    def revoke(
        kid: str = typer.Argument(..., help="密钥编号"),
        reason: str = typer.Option(..., "--reason", help="作废原因"),
        user: UserOption = None,
    ) -> None:
        """作废签名密钥：它签发的企业码与检查码失效（运行中的服务最迟 30 秒内生效）。"""
        from checkonce.cli import console
        from checkonce.visits import codes

        with acting_session(user) as (session, actor):
            key = codes.revoke_key(db_session=session, kid=kid, actor=actor, reason=reason)
            console.print(
                f"已作废签名密钥 {key.kid}；它签发的企业码与检查码不再被接受"
                f"（正在运行的服务进程最迟 {codes.KEY_CACHE_SECONDS:.0f} 秒内生效）"
            )

    app.add_typer(codes_app, name="codes")
