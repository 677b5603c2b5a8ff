"""Maps make no outside request: every src/href/url(…)/@import of the served and exported
pages stays on the server or inside the file, and the vendored files are really served."""

from __future__ import annotations

import pytest

from checkonce.config import packaged_data_dir
from checkonce.maps.assets import AssetMode, finish_html, outside_references
from checkonce.maps.base import MapSettings, base_map, render_html
from checkonce.maps.coverage import CoverageFilter, coverage_data, coverage_map
from checkonce.maps.routes import RouteFilter, route_data, route_map
from checkonce.registry.jurisdiction import Jurisdiction

JURISDICTION = Jurisdiction(packaged_data_dir())


def test_reference_collector_finds_every_kind_of_outside_url():
    page = """<html><head>
      <script src="https://cdn.example.com/a.js"></script>
      <link rel="stylesheet" href="//cdn.example.com/b.css"/>
      <style>@import "http://x.example.com/c.css"; .a { background: url('https://img.example.com/d.png') }</style>
      </head><body><img src="/local.png"><div style="background:url(http://e.example.com/e.png)"></div>
      <a href="#top">top</a><img src="data:image/png;base64,AAAA">
      <script>L.tileLayer("https://tiles.example.com/{z}/{x}/{y}.png", {}).addTo(m);</script>
      </body></html>"""
    assert sorted(outside_references(page)) == sorted(
        [
            "https://cdn.example.com/a.js",
            "//cdn.example.com/b.css",
            "http://x.example.com/c.css",
            "https://img.example.com/d.png",
            "http://e.example.com/e.png",
            "https://tiles.example.com/{z}/{x}/{y}.png",
        ]
    )
    assert outside_references(page, allowed_hosts=frozenset({"tiles.example.com"}))[-1] != (
        "https://tiles.example.com/{z}/{x}/{y}.png"
    )


def test_a_cdn_link_is_refused_rather_than_served():
    with pytest.raises(RuntimeError, match="outside"):
        finish_html('<script src="https://cdn.jsdelivr.net/npm/x.js"></script>', AssetMode.SERVED)


def _pages(db_session, world) -> dict[str, object]:
    coverage = coverage_data(
        db_session=db_session, jurisdiction=JURISDICTION, filters=CoverageFilter("2027Q1")
    )
    route = route_data(db_session=db_session, filters=RouteFilter(None, None, "MV1"))
    return {
        "coverage": coverage_map(coverage, JURISDICTION),
        "route": route_map(route, JURISDICTION),
    }


@pytest.mark.parametrize("mode", list(AssetMode))
def test_pages_reference_no_outside_host(db_session, world, mode):
    for name, fmap in _pages(db_session, world).items():
        html = render_html(fmap, mode)
        assert outside_references(html) == [], name
        # Nothing folium links by default sneaks back in under another name.
        for library in (
            "jquery",
            "bootstrap",
            "awesome-markers",
            "fontawesome",
            "cdnjs",
            "jsdelivr",
        ):
            assert library not in html.lower(), (name, library)
        if mode is AssetMode.SERVED:
            assert '<script src="/static/vendor/leaflet/leaflet.js">' in html
            assert "/static/vendor/leaflet.markercluster/" in html or name == "route"
        else:
            assert "<script src=" not in html and '<link rel="stylesheet"' not in html
            assert (
                "L.markerClusterGroup=function" in html or name == "route"
            )  # the plugin is inlined
            assert "data:image/png;base64," in html  # Leaflet's layer icons, inlined


def test_tiles_are_configurable_and_the_only_allowed_host():
    settings = MapSettings(
        tiles="http://tiles.intranet.gov/{z}/{x}/{y}.png", tiles_attribution="内网底图"
    )
    html = render_html(base_map(JURISDICTION, "底图", settings), AssetMode.SERVED, settings)
    assert outside_references(html) == ["http://tiles.intranet.gov/{z}/{x}/{y}.png"]
    assert outside_references(html, allowed_hosts=frozenset({"tiles.intranet.gov"})) == []
    plain = render_html(base_map(JURISDICTION, "无底图"), AssetMode.SERVED)
    assert "L.tileLayer" not in plain


def test_vendored_files_are_served(client):
    for path, kind in (
        ("leaflet/leaflet.js", "javascript"),
        ("leaflet/leaflet.css", "css"),
        ("leaflet/images/layers.png", "image/png"),
        ("leaflet.markercluster/leaflet.markercluster.js", "javascript"),
        ("leaflet.markercluster/MarkerCluster.Default.css", "css"),
    ):
        response = client.get(f"/static/vendor/{path}")
        assert response.status_code == 200 and kind in response.headers["content-type"], path
    assert client.get("/static/vendor/leaflet/../../../../etc/passwd").status_code == 404
