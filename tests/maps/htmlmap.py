"""Reading a finished map page back: its layers by name, the rows of each point layer and the
district properties of each GeoJSON layer, straight from the HTML a browser would get."""

from __future__ import annotations

import json
import re

_DECODER = json.JSONDecoder()


def _json_at(html: str, start: int):
    return _DECODER.raw_decode(html, start)[0]


def _control_block(html: str, part: str) -> dict[str, str]:
    """{layer name: JS variable} of the layer control's base layers or overlays."""
    match = re.search(part + r"\s*:\s*\{(.*?)\}", html, re.S)
    assert match, f"no {part} in the layer control"
    return {
        json.loads(name): var
        for name, var in re.findall(r'("(?:[^"\\]|\\.)*")\s*:\s*(\w+)', match.group(1))
    }


def base_layers(html: str) -> dict[str, str]:
    return _control_block(html, "base_layers")


def overlays(html: str) -> dict[str, str]:
    return _control_block(html, "overlays")


def point_rows(html: str, var: str) -> list[list]:
    """The rows of a point layer (each [lat, lon, colour, tooltip])."""
    match = re.search(r"var " + var + r" = \(function\(\)\{\s*var rows = ", html)
    assert match, f"{var} is not a point layer"
    return _json_at(html, match.end())


def geojson_features(html: str, var: str) -> list[dict]:
    match = re.search(var + r"_add\(", html[html.index(f"function {var}_add") + 10 :])
    start = html.index(f"function {var}_add") + 10 + match.end()
    return _json_at(html, start)["features"]


def layer_counts(html: str) -> dict[str, int]:
    """Rows per point layer, by layer name."""
    return {
        name: len(point_rows(html, var))
        for name, var in overlays(html).items()
        if var.startswith("points_")
    }


def shared_tooltips(html: str) -> list[str]:
    """The tooltip texts a page writes once for all its point layers."""
    match = re.search(r"var shared_tooltips_\w+ = ", html)
    assert match, "no shared tooltips"
    return _json_at(html, match.end())
