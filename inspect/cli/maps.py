"""`checkonce map coverage|fees|alerts|route --out file.html`: the API's maps as single HTML
files that open with no network (Leaflet inlined, district boundaries as the base layer)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from checkonce.cli.account import UserOption, acting_session

OUT_HELP = "输出 HTML 文件（离线可打开：地图库已内嵌）"
PERIOD_HELP = "期间：年度 2027 或季度 2027Q1（默认最新发布的排程）"
TILES_HELP = "底图瓦片地址模板，如 http://tiles.example.gov/{z}/{x}/{y}.png（默认无底图）"


def _day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"日期格式应为 2027-01-04，实际 {value}") from None


def _write(fmap, out: Path, tiles: str | None, summary: str) -> None:
    from checkonce.cli import console
    from checkonce.maps.assets import AssetMode
    from checkonce.maps.base import MapSettings, render_html

    settings = MapSettings(tiles=tiles) if tiles else MapSettings()
    page = render_html(fmap, AssetMode.INLINE, settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    console.print(f"已写入 {out}（{len(page) / 1024:,.0f} KB）：{summary}", highlight=False)


def _viewer(actor, roles: tuple[str, ...], what: str):
    """The map's viewer: the logged-in account, held to what its role may see (as on the
    web: a bureau its own department, an inspector their own day)."""
    from checkonce.auth import access
    from checkonce.maps.scope import Viewer

    access.require_role(actor, frozenset(roles), what)
    return Viewer(actor.role, actor.department_id, actor.inspector_id)


def _jurisdiction():
    from checkonce.config import get_settings
    from checkonce.registry.jurisdiction import Jurisdiction

    return Jurisdiction(get_settings().jurisdiction_dir)


def register(app: typer.Typer) -> None:
    """Add `checkonce map ...` to the command line."""
    map_app = typer.Typer(
        help="地图：检查覆盖、收费合规、入企预警、执法路线。", no_args_is_help=True
    )

    @map_app.command("coverage")
    def coverage(
        out: Path = typer.Option(..., "--out", "-o", help=OUT_HELP),
        period: str | None = typer.Option(None, "--period", help=PERIOD_HELP),
        department: str | None = typer.Option(None, "--department", help="部门代码，如 SAMR"),
        risk: str | None = typer.Option(None, "--risk", help="风险等级 A/B/C/D"),
        tiles: str | None = typer.Option(
            None, "--tiles", envvar="CHECKONCE_MAP_TILES", help=TILES_HELP
        ),
        user: UserOption = None,
    ) -> None:
        """检查覆盖地图：各区县企业被检查比例，检查点按部门分层。"""
        from checkonce.errors import CheckOnceError
        from checkonce.maps.coverage import CoverageFilter, coverage_data, coverage_map
        from checkonce.maps.scope import department_id

        juris = _jurisdiction()
        with acting_session(user) as (session, actor):
            viewer = _viewer(actor, ("admin", "coordinator", "bureau"), "查看检查覆盖地图")
            try:
                filters = CoverageFilter(
                    period, risk.upper() if risk else None, department_id(session, department)
                )
            except ValueError as exc:
                raise CheckOnceError(str(exc)) from None
            data = coverage_data(
                db_session=session, jurisdiction=juris, filters=filters, viewer=viewer
            )
            layers = "；".join(
                f"{data.departments[d].short_name} {n}" for d, n in data.per_department.items()
            )
            _write(
                coverage_map(data, juris),
                out,
                tiles,
                f"{data.period.code} 有检查的企业 {data.visited:,}/{data.enterprises:,}，"
                f"检查点 {len(data.visits):,} 个（按部门：{layers or '无'}）",
            )

    @map_app.command("fees")
    def fees(
        out: Path = typer.Option(..., "--out", "-o", help=OUT_HELP),
        period: str | None = typer.Option(None, "--period", help="收费日期所在期间（默认全部）"),
        department: str | None = typer.Option(
            None, "--department", help="只看该部门作为收费单位的收费，如 SAMR"
        ),
        tiles: str | None = typer.Option(
            None, "--tiles", envvar="CHECKONCE_MAP_TILES", help=TILES_HELP
        ),
        user: UserOption = None,
    ) -> None:
        """涉企收费地图：收费发现按判定分层，各区县违规率与退费。"""
        from checkonce.findings.fees.models import FEE_VERDICT_NAMES, FEE_VERDICTS
        from checkonce.maps.fees import fee_data, fee_map
        from checkonce.maps.scope import Viewer, department_id

        juris = _jurisdiction()
        with acting_session(user) as (session, actor):
            viewer = _viewer(actor, ("admin", "coordinator", "bureau"), "查看涉企收费地图")
            own = department_id(session, department)
            if own is not None and viewer.sees_all:
                viewer = Viewer("bureau", own)
            data = fee_data(db_session=session, jurisdiction=juris, period=period, viewer=viewer)
            counts = "；".join(f"{FEE_VERDICT_NAMES[v]} {data.count(v)}" for v in FEE_VERDICTS)
            _write(fee_map(data, juris), out, tiles, f"{counts}；退费 {len(data.refunds)}")

    @map_app.command("alerts")
    def alerts(
        out: Path = typer.Option(..., "--out", "-o", help=OUT_HELP),
        period: str | None = typer.Option(None, "--period", help="期间（默认全部预警）"),
        tiles: str | None = typer.Option(
            None, "--tiles", envvar="CHECKONCE_MAP_TILES", help=TILES_HELP
        ),
        user: UserOption = None,
    ) -> None:
        """入企预警地图：计划外入企与重复入企预警。"""
        from checkonce.maps.alerts import LAYER_NAMES, alert_data, alert_map

        juris = _jurisdiction()
        with acting_session(user) as (session, actor):
            viewer = _viewer(actor, ("admin", "coordinator"), "查看入企预警地图")
            data = alert_data(db_session=session, period=period, viewer=viewer)
            counts = "；".join(f"{name} {data.count(kind)}" for kind, name in LAYER_NAMES.items())
            _write(alert_map(data, juris), out, tiles, counts)

    @map_app.command("route")
    def route(
        out: Path = typer.Option(..., "--out", "-o", help=OUT_HELP),
        inspector: str | None = typer.Option(None, "--inspector", help="执法人员工号"),
        visit: str | None = typer.Option(None, "--visit", help="检查编号（查看该执法组当日路线）"),
        day: str | None = typer.Option(None, "--day", help="日期，如 2027-01-04"),
        tiles: str | None = typer.Option(
            None, "--tiles", envvar="CHECKONCE_MAP_TILES", help=TILES_HELP
        ),
        user: UserOption = None,
    ) -> None:
        """执法路线地图：一名执法人员或一个执法组当日的编号站点与路程。"""
        from checkonce.maps.routes import RouteFilter, route_data, route_map

        juris = _jurisdiction()
        with acting_session(user) as (session, actor):
            viewer = _viewer(
                actor, ("admin", "coordinator", "bureau", "inspector"), "查看执法路线地图"
            )
            data = route_data(
                db_session=session, filters=RouteFilter(_day(day), inspector, visit), viewer=viewer
            )
            summary = "；".join(
                f"{m.name} {len(m.stops)} 站 约 {m.total_km:.1f} km" for m in data.members
            )
            _write(route_map(data, juris), out, tiles, f"{data.day} {summary}")

    app.add_typer(map_app, name="map")
