"""The pieces every map is built from: an offline Leaflet map with the district boundaries as
its default base layer, point layers (clustered or not) built in the browser from one JSON
array, a legend, and `render_html` which finishes the page for the API or for a file.

Layers take their points as plain rows so the numbers drawn are exactly the numbers the data
modules computed; nothing here queries the database.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from functools import cache
from typing import ClassVar
from urllib.parse import urlsplit

import folium
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template
from folium.utilities import remove_empty
from pydantic_settings import BaseSettings, SettingsConfigDict
from shapely.geometry import mapping

from checkonce.maps.assets import VENDOR_URL, AssetMode, finish_html, vendor
from checkonce.registry.jurisdiction import Jurisdiction

# Simplifying the boundaries (≈ 100 m) keeps each map page a few hundred kB instead of
# carrying the survey-grade outline twice (base layer and choropleth).
BOUNDARY_TOLERANCE_DEG = 0.001
# A qualitative palette that stays distinguishable for 13 bureaus.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#843c39",
    "#7b4173",
    "#3182bd",
)


class MapSettings(BaseSettings):
    """Map settings (CHECKONCE_MAP_*). No tiles by default: the district boundaries are the
    base layer, so a map needs nothing from outside. A deployment with its own tile server
    sets `CHECKONCE_MAP_TILES=https://tiles.example.gov/{z}/{x}/{y}.png` (that host is then
    the one outside reference a page may make)."""

    model_config = SettingsConfigDict(env_prefix="CHECKONCE_MAP_", extra="ignore")

    tiles: str | None = None
    tiles_attribution: str = "底图"


class OfflineMap(folium.Map):
    """folium's map with Leaflet from the installed xstatic package and none of the other
    libraries folium links by default (jQuery, Bootstrap, awesome-markers: unused here)."""

    default_js: ClassVar[list[tuple[str, str]]] = [("leaflet", vendor("leaflet", "leaflet.js"))]
    default_css: ClassVar[list[tuple[str, str]]] = [
        ("leaflet_css", vendor("leaflet", "leaflet.css"))
    ]


class SharedTooltips(folium.MacroElement):
    """Tooltip texts written once for several point layers: a joint visit shows in the layer
    of each of its departments, and repeating its text per layer tripled the page's size."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = {{ this.texts|tojson }};
        {% endmacro %}
        """
    )

    def __init__(self, texts: Sequence[str]) -> None:
        super().__init__()
        self._name = "SharedTooltips"
        self.texts = list(texts)


class Points(JSCSSMixin, Layer):
    """A layer of small coloured dots with tooltips, created in the browser from one JSON array
    (thousands of visits stay a compact page). Each row is [lat, lon, colour, tooltip HTML],
    or with `shared`, [lat, lon, colour, index into the shared texts]: tooltips are escaped
    by the caller. Clustered layers use Leaflet.markercluster; `shared` must be added to the
    map before the layer. folium's Layer adds the group to the map when `show` is set."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = (function(){
                var rows = {{ this.rows|tojson }};
                var group = {% if this.cluster -%}
                    L.markerClusterGroup({{ this.options|tojavascript }})
                {%- else -%}
                    L.featureGroup()
                {%- endif %};
                for (var i = 0; i < rows.length; i++) {
                    var row = rows[i];
                    var icon = L.divIcon({
                        className: "co-dot",
                        iconSize: [12, 12],
                        html: '<span style="background:' + row[2] + '"></span>'
                    });
                    L.marker([row[0], row[1]], {icon: icon}).bindTooltip(
                        {% if this.shared %}{{ this.shared.get_name() }}[row[3]]{% else %}row[3]{% endif %}
                    ).addTo(group);
                }
                return group;
            })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        rows: Sequence[Sequence],
        *,
        name: str,
        cluster: bool = True,
        show: bool = True,
        shared: SharedTooltips | None = None,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "Points"
        self.shared = shared
        self.rows = [list(row) for row in rows]
        self.cluster = cluster
        self.options = remove_empty(show_coverage_on_hover=False, max_cluster_radius=50)
        if cluster:
            self.default_js = [
                (
                    "markerclusterjs",
                    vendor("leaflet.markercluster", "leaflet.markercluster.js"),
                )
            ]
            self.default_css = [
                ("markerclustercss", vendor("leaflet.markercluster", "MarkerCluster.css")),
                (
                    "markerclusterdefaultcss",
                    vendor("leaflet.markercluster", "MarkerCluster.Default.css"),
                ),
            ]


class Legend(folium.MacroElement):
    """A fixed box in a corner: a title and coloured rows (texts are escaped here)."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}{{ this.markup }}{% endmacro %}
        """
    )

    def __init__(
        self, title: str, rows: Iterable[tuple[str, str]], *, position: str = "bottom-right"
    ) -> None:
        super().__init__()
        self._name = "Legend"
        vertical, _, horizontal = position.partition("-")
        lines = "".join(
            f'<div><i style="background:{colour}"></i>{html.escape(label)}</div>'
            for colour, label in rows
        )
        self.markup = (
            f'<div class="co-legend" style="{vertical}:24px;{horizontal}:10px">'
            f"<b>{html.escape(title)}</b>{lines}</div>"
        )


PAGE_STYLE = """
<style>
.co-dot span { display:block; width:12px; height:12px; border-radius:6px;
  border:1px solid #fff; box-shadow:0 0 2px rgba(0,0,0,.6); }
.co-legend { position:fixed; z-index:1000; background:rgba(255,255,255,.92); padding:6px 10px;
  font:12px/1.5 sans-serif; border-radius:4px; box-shadow:0 0 4px rgba(0,0,0,.3); }
.co-legend i { display:inline-block; width:12px; height:12px; margin-right:6px;
  vertical-align:-1px; border:1px solid #999; }
.co-title { position:fixed; z-index:1000; top:10px; left:54px; background:rgba(255,255,255,.92);
  padding:4px 10px; font:bold 14px/1.5 sans-serif; border-radius:4px;
  box-shadow:0 0 4px rgba(0,0,0,.3); }
.co-stop { background:#c0392b; color:#fff; border-radius:12px; width:24px; height:24px;
  line-height:24px; text-align:center; font:bold 13px/24px sans-serif; border:2px solid #fff;
  box-shadow:0 0 3px rgba(0,0,0,.6); }
.co-home { background:#2c3e50; color:#fff; border-radius:4px; padding:0 4px;
  font:bold 12px/20px sans-serif; white-space:nowrap; border:1px solid #fff; }
</style>
"""


@cache
def district_features(jurisdiction: Jurisdiction) -> tuple[dict, ...]:
    """The districts as simplified GeoJSON features with adcode and name."""
    return tuple(
        {
            "type": "Feature",
            "properties": {"adcode": d.adcode, "name": d.name},
            "geometry": mapping(d.geometry.simplify(BOUNDARY_TOLERANCE_DEG)),
        }
        for d in jurisdiction.districts.values()
    )


def base_map(
    jurisdiction: Jurisdiction,
    title: str,
    settings: MapSettings | None = None,
    *,
    focus: Sequence[tuple[float, float]] = (),
) -> OfflineMap:
    """A map with the district boundaries as the default base layer and configured tiles, if
    any, as the alternative; fitted to the `focus` points (with a margin), else to the whole
    jurisdiction."""
    settings = settings or MapSettings()
    west, south, east, north = _bounds(jurisdiction)
    fmap = OfflineMap(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=9,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
    )
    # Leaflet.markercluster needs a maximum zoom, which only a tile layer would set.
    fmap.options.update(max_zoom=18, min_zoom=7)
    fmap.get_root().title = title
    fmap.get_root().header.add_child(folium.Element(PAGE_STYLE), name="checkonce_style")
    fmap.get_root().html.add_child(
        folium.Element(f'<div class="co-title">{html.escape(title)}</div>')
    )
    folium.GeoJson(
        {"type": "FeatureCollection", "features": list(district_features(jurisdiction))},
        name="区县边界",
        overlay=False,
        style_function=lambda _f: {
            "color": "#555",
            "weight": 1.2,
            "fillColor": "#f4f1ea",
            "fillOpacity": 1.0,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["区县"]),
    ).add_to(fmap)
    if settings.tiles:
        folium.TileLayer(
            tiles=settings.tiles,
            attr=settings.tiles_attribution,
            name="瓦片底图",
            show=False,
            overlay=False,
        ).add_to(fmap)
    if focus:
        margin = 0.01
        south, north = min(p[0] for p in focus) - margin, max(p[0] for p in focus) + margin
        west, east = min(p[1] for p in focus) - margin, max(p[1] for p in focus) + margin
    fmap.fit_bounds([[south, west], [north, east]])
    return fmap


def _bounds(jurisdiction: Jurisdiction) -> tuple[float, float, float, float]:
    boxes = [d.geometry.bounds for d in jurisdiction.districts.values()]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def render_html(
    fmap: folium.Map,
    mode: AssetMode,
    settings: MapSettings | None = None,
    *,
    vendor_url: str = VENDOR_URL,
) -> str:
    """The finished page: layer control added, assets resolved for `mode` (served pages take
    them from `vendor_url`), and checked to reference no outside host except a tile server
    the settings name."""
    settings = settings or MapSettings()
    folium.LayerControl(collapsed=False).add_to(fmap)
    _NoAttributionPrefix().add_to(fmap)
    page = fmap.get_root().render()
    host = urlsplit(settings.tiles).hostname if settings.tiles else None
    return finish_html(
        page,
        mode,
        vendor_url=vendor_url,
        allowed_hosts=frozenset({host}) if host else frozenset(),
    )


class _NoAttributionPrefix(folium.MacroElement):
    """Leaflet's attribution prefix links to leafletjs.com: no use on a closed network."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.attributionControl.setPrefix(false);
        {% endmacro %}
        """
    )


def tooltip(*lines: str) -> str:
    """Tooltip HTML from plain-text lines (escaped: names come from the registry)."""
    return "<br>".join(html.escape(line) for line in lines)
