"""The API documentation page works on a network without internet and under the strict CSP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from checkonce.api.app import create_app
from checkonce.maps.assets import outside_references


def test_docs_load_nothing_from_outside_and_carry_the_policy(engine):
    client = TestClient(create_app(engine=engine))
    page = client.get("/docs")
    assert page.status_code == 200
    assert outside_references(page.text) == []
    policy = page.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in page.text
    assert '<script src="/static/swagger/swagger-ui-bundle.js">' in page.text
    bundle = client.get("/static/swagger/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    assert client.get("/static/swagger/swagger-ui.css").status_code == 200
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "content-security-policy" in redirect.headers
    assert client.get("/redoc").status_code == 404
