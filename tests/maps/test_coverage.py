"""Coverage map: the data layer's numbers on the hand-made world, and the same numbers in the
page a browser gets (choropleth values per district, dots per department layer)."""

from __future__ import annotations

from sqlalchemy import func, select

from checkonce.config import packaged_data_dir
from checkonce.maps.assets import AssetMode
from checkonce.maps.base import render_html
from checkonce.maps.coverage import CoverageFilter, coverage_data, coverage_map, share_colour
from checkonce.maps.scope import department_id
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import Enterprise
from tests.maps import htmlmap
from tests.maps.conftest import XINCHENG, YANTA

JURISDICTION = Jurisdiction(packaged_data_dir())


def _firms(db_session, adcode: str, risk: str | None = None) -> int:
    query = select(func.count()).where(
        Enterprise.district_adcode == adcode, Enterprise.active.is_(True)
    )
    if risk:
        query = query.where(Enterprise.risk_class == risk)
    return db_session.scalar(query)


def _data(db_session, **filters):
    return coverage_data(
        db_session=db_session, jurisdiction=JURISDICTION, filters=CoverageFilter(**filters)
    )


def test_share_counts_enterprises_once_and_skips_cancelled_and_other_periods(db_session, world):
    data = _data(db_session, period="2027Q1")
    by = {d.adcode: d for d in data.districts}
    # firm1, firm2 (two visits, once), firm5; firm4's visit is cancelled.
    assert by[YANTA].visited == 3
    assert by[XINCHENG].visited == 1  # firm3 in Q1; its Q2 visit is another period
    assert (by[YANTA].entered, by[XINCHENG].entered) == (1, 0)  # V1 is checked in
    assert by[YANTA].enterprises == _firms(db_session, YANTA)
    assert by[XINCHENG].share == 1 / _firms(db_session, XINCHENG)
    assert len(by) == 13 and sum(d.visited for d in data.districts) == 4
    assert len(data.visits) == 5
    samr, fire = department_id(db_session, "SAMR"), department_id(db_session, "FIRE")
    # The joint visit V1 is in both departments' layers.
    assert data.per_department == {samr: 4, fire: 2}


def test_year_period_takes_every_quarter_schedule(db_session, world):
    data = _data(db_session, period="2027")
    assert {d.adcode: d.visited for d in data.districts if d.visited} == {YANTA: 3, XINCHENG: 1}
    assert len(data.visits) == 6  # Q1's five live visits and Q2's one


def test_filters_by_risk_class_and_department(db_session, world):
    risk_a = _data(db_session, period="2027Q1", risk_class="A")
    by = {d.adcode: d for d in risk_a.districts}
    assert by[YANTA].visited == 1 and by[YANTA].enterprises == _firms(db_session, YANTA, "A")
    fire = department_id(db_session, "FIRE")
    only_fire = _data(db_session, period="2027Q1", department_id=fire)
    assert {d.adcode: d.visited for d in only_fire.districts if d.visited} == {
        YANTA: 1,
        XINCHENG: 1,
    }
    assert only_fire.per_department == {fire: 2}  # the joint visit's SAMR layer is not shown


def test_default_period_is_the_latest_published(db_session, world):
    assert _data(db_session).period.code in ("2027Q1", "2027Q2")


def test_page_shows_the_data_layers_numbers(db_session, world):
    data = _data(db_session, period="2027Q1")
    html = render_html(coverage_map(data, JURISDICTION), AssetMode.SERVED)
    assert list(htmlmap.base_layers(html)) == ["区县边界"]
    overlays = htmlmap.overlays(html)
    assert next(iter(overlays)) == "覆盖率（按区县）"
    assert htmlmap.layer_counts(html) == {"市场监管（4 次）": 4, "消防（2 次）": 2}
    features = htmlmap.geojson_features(html, overlays["覆盖率（按区县）"])
    by = {d.adcode: d for d in data.districts}
    assert len(features) == 13
    for feature in features:
        p = feature["properties"]
        d = by[p["adcode"]]
        assert (p["visited"], p["enterprises"]) == (d.visited, d.enterprises)
        assert p["share"] == round(d.share, 4)
        assert p["colour"] == share_colour(d.share)
    # Each visit's tooltip is written once, however many department layers show the visit.
    tips = htmlmap.shared_tooltips(html)
    assert len(tips) == len(data.visits) == 5
    assert sum("检查编号 MV1" in t for t in tips) == 1
    rows = htmlmap.point_rows(html, overlays["消防（2 次）"])
    assert sorted(tips[r[3]].rsplit(" ", 1)[1] for r in rows) == ["MV1", "MV4"]
    assert "企业覆盖率" in html and "检查部门" in html  # both legends
    assert "4/" in html.split("</title>")[0]  # title: visited / enterprises


def test_share_colour_bins():
    assert share_colour(0.0) == "#ffffff"
    assert share_colour(0.01) == "#f7fcb9"
    assert share_colour(0.5) == share_colour(1.0) == "#006837"
