"""Headers and cookies: a strict Content-Security-Policy (nothing from elsewhere, scripts
only from this site or with the response's nonce), no framing by other sites, no MIME
sniffing, same-origin referrers, Secure cookies over HTTPS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.api.pages.conftest import post_login

TEMPLATES = Path(__file__).resolve().parents[2] / "inspect" / "api" / "templates"


def policy(response) -> dict[str, str]:
    header = response.headers["content-security-policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in header.split("; ")}


@pytest.mark.parametrize("path", ["/login", "/public", "/api/v1/public/plans", "/healthz"])
def test_every_answer_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["referrer-policy"] == "same-origin"
    rules = policy(response)
    assert rules["default-src"] == "'self'"
    assert rules["frame-ancestors"] == "'self'" and rules["object-src"] == "'none'"
    assert re.fullmatch(r"'self' 'nonce-[A-Za-z0-9_-]{20,}'", rules["script-src"])
    assert (
        "unsafe-inline" not in rules["script-src"]
        and "*" not in response.headers["content-security-policy"]
    )


def test_the_nonce_changes_with_every_response(client):
    first = policy(client.get("/login"))["script-src"]
    second = policy(client.get("/login"))["script-src"]
    assert first != second


def test_no_template_has_an_inline_script_or_handler():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (template, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert "javascript:" not in text, template


def test_map_scripts_carry_the_responses_nonce(client, headers):
    response = client.get("/api/v1/maps/fees", headers=headers["coordinator"])
    assert response.status_code == 200
    nonce = policy(response)["script-src"].split("'nonce-")[1].rstrip("'")
    scripts = re.findall(r"<script\b[^>]*>", response.text)
    assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts)
    assert not re.search(r"\son(click|load|error|mouseover)\s*=", response.text)


def test_cookies_are_secure_over_https(app, users):
    from fastapi.testclient import TestClient

    from tests.api.conftest import PASSWORD

    with TestClient(app, base_url="https://testserver") as secure:
        done = post_login(
            secure, {"username": "insp1", "password": PASSWORD}, follow_redirects=False
        )
        assert done.status_code == 303
        for header in done.headers.get_list("set-cookie"):
            assert "Secure" in header and "HttpOnly" in header, header
    with TestClient(app) as plain:
        page = plain.get("/login")
        assert "Secure" not in page.headers["set-cookie"]
