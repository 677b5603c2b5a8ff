"""The API's documentation page (/docs, Swagger UI) served from the installed
swagger-ui-bundle package: a government network has no internet, so FastAPI's default page,
which loads Swagger UI from a CDN, would be blank there. Its one inline script carries the
response's CSP nonce, so /docs is under the same strict policy as every other page."""

from __future__ import annotations

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from checkonce.api.security import NONCE_KEY

SWAGGER_URL = "/static/swagger"
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def _with_nonce(page: HTMLResponse, request: Request) -> HTMLResponse:
    nonce = request.scope.get("state", {}).get(NONCE_KEY, "")
    body = bytes(page.body).decode("utf-8").replace("<script>", f'<script nonce="{nonce}">')
    return HTMLResponse(body)


def install(app: FastAPI) -> None:
    """Mount Swagger UI's files and the two documentation pages (before the pages' /static
    mount: the first matching mount wins)."""
    app.mount(SWAGGER_URL, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger")

    @app.get(DOCS_URL, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{SWAGGER_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_URL}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_URL}/favicon-32x32.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        )
        return _with_nonce(page, request)

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return _with_nonce(get_swagger_ui_oauth2_redirect_html(), request)
