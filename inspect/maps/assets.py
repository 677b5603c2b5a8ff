"""Leaflet and its plugins from installed packages, never from a CDN.

Government networks usually have no internet, so a map page must not make a single outside
request. folium links its libraries from CDNs; the map classes in `checkonce.maps.base` link
them instead to placeholder URLs (`checkonce-vendor:<library>/<file>`), and `finish_html`
turns each placeholder into either a path the API serves from the xstatic packages
(`/static/vendor/...`) or, for exported files, the file's content inlined (stylesheet images
as data: URIs) so a single HTML file opens offline. `outside_references` is the check both
the library and the tests apply to the result.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from enum import Enum
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import xstatic.pkg.leaflet
import xstatic.pkg.leaflet_markercluster

PLACEHOLDER = "checkonce-vendor:"
VENDOR_URL = "/static/vendor"
# Library name in URLs → the folder its xstatic package installs the files in.
LIBRARIES: dict[str, Path] = {
    "leaflet": Path(xstatic.pkg.leaflet.BASE_DIR),
    "leaflet.markercluster": Path(xstatic.pkg.leaflet_markercluster.BASE_DIR),
}


def vendor(library: str, filename: str) -> str:
    """The placeholder URL of one vendored file (resolved by `finish_html`)."""
    if not (LIBRARIES[library] / filename).is_file():
        raise FileNotFoundError(f"{library} has no {filename} in {LIBRARIES[library]}")
    return f"{PLACEHOLDER}{library}/{filename}"


class AssetMode(Enum):
    """Where the finished page takes Leaflet from."""

    SERVED = "served"  # from the API's /static/vendor mount
    INLINE = "inline"  # inside the file itself (exported maps)


_SCRIPT_TAG = re.compile(r'<script src="' + re.escape(PLACEHOLDER) + r'([^"]+)"></script>')
_CSS_TAG = re.compile(r'<link rel="stylesheet" href="' + re.escape(PLACEHOLDER) + r'([^"]+)"\s*/?>')
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def _vendored_file(ref: str) -> Path:
    library, _, filename = ref.partition("/")
    base = LIBRARIES[library].resolve()
    path = (base / filename).resolve()
    if base not in path.parents:
        raise ValueError(f"vendored path outside its library: {ref}")
    return path


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


@cache
def _inline_css(ref: str) -> str:
    """A stylesheet's text with its relative images (Leaflet's layer and marker icons) as
    data: URIs, so the inlined sheet needs no file beside it."""
    path = _vendored_file(ref)
    text = path.read_text(encoding="utf-8")

    def embed(match: re.Match[str]) -> str:
        target = match.group(1)
        if target.startswith(("#", "data:")) or urlsplit(target).scheme:
            return match.group(0)
        image = (path.parent / target).resolve()
        return f"url({_data_uri(image)})" if image.is_file() else match.group(0)

    return _CSS_URL.sub(embed, text)


@cache
def _inline_js(ref: str) -> str:
    text = _vendored_file(ref).read_text(encoding="utf-8")
    # A literal closing tag would end the inline script early.
    return text.replace("</script", "<\\/script")


def finish_html(
    html: str,
    mode: AssetMode,
    *,
    vendor_url: str = VENDOR_URL,
    allowed_hosts: frozenset[str] = frozenset(),
) -> str:
    """Resolve every vendored placeholder for `mode`, then refuse the page if anything in it
    would still be fetched from another host (a folium upgrade adding a CDN link fails here,
    not silently in a browser on a closed network)."""
    if mode is AssetMode.SERVED:
        html = _SCRIPT_TAG.sub(lambda m: f'<script src="{vendor_url}/{m.group(1)}"></script>', html)
        html = _CSS_TAG.sub(
            lambda m: f'<link rel="stylesheet" href="{vendor_url}/{m.group(1)}"/>', html
        )
    else:
        html = _SCRIPT_TAG.sub(lambda m: f"<script>{_inline_js(m.group(1))}</script>", html)
        html = _CSS_TAG.sub(lambda m: f"<style>{_inline_css(m.group(1))}</style>", html)
    outside = outside_references(html, allowed_hosts=allowed_hosts)
    if outside:
        raise RuntimeError(f"map page would load outside resources: {outside}")
    return html


def vendor_app():
    """An ASGI app serving each library's folder (mounted by the API at `VENDOR_URL`)."""
    from starlette.routing import Mount, Router
    from starlette.staticfiles import StaticFiles

    return Router(
        routes=[
            Mount(f"/{name}", app=StaticFiles(directory=folder), name=name)
            for name, folder in LIBRARIES.items()
        ]
    )


# Attributes through which a browser fetches something.
_FETCH_ATTRIBUTES = frozenset({"src", "href", "srcset", "data", "poster", "action", "background"})
_CSS_IMPORT = re.compile(r"@import\s+(?:url\()?\s*['\"]?([^'\"); ]+)")


def _is_outside(url: str) -> bool:
    url = url.strip()
    if not url or url.startswith(("#", "data:", "javascript:")):
        return False
    if url.startswith(PLACEHOLDER):
        return True
    parts = urlsplit(url)
    return bool(parts.scheme or parts.netloc or url.startswith("//"))


def _css_references(css: str) -> list[str]:
    return [m.group(1) for m in _CSS_URL.finditer(css)] + [
        m.group(1) for m in _CSS_IMPORT.finditer(css)
    ]


class _ReferenceCollector(HTMLParser):
    """Collects every URL a browser would fetch from a page: element attributes, inline
    styles, stylesheets and `L.tileLayer(...)` templates in scripts."""

    _TILE_LAYER = re.compile(r"L\.tileLayer\(\s*\"([^\"]*)\"")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.references: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in _FETCH_ATTRIBUTES or name.endswith(":href"):
                parts = value.split(",") if name == "srcset" else [value]
                self.references.extend(p.strip().split(" ")[0] for p in parts)
            elif name == "style":
                self.references.extend(_css_references(value))
        self._in = tag if tag in ("style", "script") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.references.extend(_css_references(data))
        elif self._in == "script":
            self.references.extend(m.group(1) for m in self._TILE_LAYER.finditer(data))


def outside_references(html: str, *, allowed_hosts: frozenset[str] = frozenset()) -> list[str]:
    """Every URL in the page that points at another host (or a leftover placeholder), except
    hosts in `allowed_hosts` (a tile server the deployment configured on purpose)."""
    collector = _ReferenceCollector()
    collector.feed(html)
    collector.close()
    return [
        ref
        for ref in collector.references
        if _is_outside(ref) and urlsplit(ref.strip()).hostname not in allowed_hosts
    ]
