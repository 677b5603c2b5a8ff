"""Route map: an officer's day ordered by start (not by id), legs home → stops → home in the
scheduler's road model, a team's day per member, and who may see which route."""

from __future__ import annotations

import datetime as dt

import pytest

from checkonce.auth.service import Forbidden
from checkonce.config import packaged_data_dir
from checkonce.errors import CheckOnceError, NotFound
from checkonce.maps.assets import AssetMode
from checkonce.maps.base import render_html
from checkonce.maps.routes import RouteFilter, route_data, route_map
from checkonce.maps.scope import Viewer
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.scheduler.routing import Travel
from tests.maps import htmlmap

JURISDICTION = Jurisdiction(packaged_data_dir())
DAY = dt.date(2027, 1, 5)


def test_inspector_day_in_start_order_with_legs(db_session, world):
    person = world.people["samr1"]
    data = route_data(db_session=db_session, filters=RouteFilter(DAY, person.code))
    (day,) = data.members
    assert [s.visit_code for s in day.stops] == ["MV1", "MV2"]  # 09:00 before 13:00
    assert [s.number for s in day.stops] == [1, 2]
    home, f1, f2 = (
        (person.home_lat, person.home_lon),
        (world.firms["firm1"].lat, world.firms["firm1"].lon),
        (world.firms["firm2"].lat, world.firms["firm2"].lon),
    )
    road = Travel()
    assert day.stops[0].km_from_previous == pytest.approx(road.km(home, f1), abs=0.01)
    assert day.stops[1].km_from_previous == pytest.approx(road.km(f1, f2), abs=0.01)
    assert day.km_back_home == pytest.approx(road.km(f2, home), abs=0.01)
    assert day.legs == 3

    html = render_html(route_map(data, JURISDICTION), AssetMode.SERVED)
    (layer,) = htmlmap.overlays(html)
    assert layer.startswith(f"{person.name}（2 站")
    assert html.count('class=\\"co-stop\\"') + html.count('class="co-stop"') == 2
    assert html.count("L.polyline(") == 3
    assert "09:00–10:30" in html and "13:00–14:00" in html


def test_team_day_draws_every_member(db_session, world):
    data = route_data(db_session=db_session, filters=RouteFilter(None, None, "MV1"))
    assert data.day == DAY
    stops = {m.code: [s.visit_code for s in m.stops] for m in data.members}
    assert stops == {
        world.people["samr1"].code: ["MV1", "MV2"],
        world.people["fire1"].code: ["MV1", "MV4"],
    }
    html = render_html(route_map(data, JURISDICTION), AssetMode.SERVED)
    assert len(htmlmap.overlays(html)) == 2
    assert html.count("L.polyline(") == 6


def test_day_off_has_no_lines(db_session, world):
    data = route_data(db_session=db_session, filters=RouteFilter(DAY, world.people["samr2"].code))
    assert data.members[0].stops == () and data.members[0].legs == 0


def test_route_scope(db_session, world):
    samr1, fire1 = world.people["samr1"], world.people["fire1"]
    own = Viewer("inspector", samr1.department_id, samr1.id)
    route_data(db_session=db_session, filters=RouteFilter(DAY, samr1.code), viewer=own)
    route_data(db_session=db_session, filters=RouteFilter(None, None, "MV1"), viewer=own)
    with pytest.raises(Forbidden):
        route_data(db_session=db_session, filters=RouteFilter(DAY, fire1.code), viewer=own)
    with pytest.raises(Forbidden):  # samr1 is not in MV4's team
        route_data(db_session=db_session, filters=RouteFilter(None, None, "MV4"), viewer=own)
    bureau = Viewer("bureau", samr1.department_id)
    route_data(db_session=db_session, filters=RouteFilter(DAY, samr1.code), viewer=bureau)
    with pytest.raises(Forbidden):
        route_data(db_session=db_session, filters=RouteFilter(DAY, fire1.code), viewer=bureau)
    with pytest.raises(Forbidden):  # a FIRE-only visit
        route_data(db_session=db_session, filters=RouteFilter(None, None, "MV4"), viewer=bureau)


def test_route_filter_errors(db_session, world):
    with pytest.raises(CheckOnceError):
        RouteFilter(DAY, None, None)
    with pytest.raises(CheckOnceError):
        RouteFilter(None, world.people["samr1"].code, None)
    with pytest.raises(NotFound):
        route_data(db_session=db_session, filters=RouteFilter(DAY, "NOBODY"))
    with pytest.raises(NotFound):
        route_data(db_session=db_session, filters=RouteFilter(None, None, "NOVISIT"))
