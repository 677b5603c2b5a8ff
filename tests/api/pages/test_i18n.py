"""Every message of the page templates has an English translation, and the English pages
really use it."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from checkonce.api.pages.i18n import catalog, translate

API_DIR = Path(__file__).resolve().parents[3] / "inspect" / "api"
METHODS = [("**/templates/pages/**.html", "jinja2.ext:babel_extract")]


def template_messages() -> dict[str, str]:
    found: dict[str, str] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(API_DIR), method_map=METHODS, options_map={}
    ):
        for text in message if isinstance(message, tuple) else (message,):
            if text:
                found.setdefault(text, filename)
    return found


def test_templates_are_found():
    messages = template_messages()
    assert "登录" in messages and len(messages) >= 20


def test_every_template_message_has_english():
    english = catalog("en")
    missing = {m: f for m, f in template_messages().items() if m not in english}
    assert not missing, f"no English for: {missing}"


def test_untranslated_message_falls_back_to_chinese():
    assert translate("en", "一句没有译文的话") == "一句没有译文的话"
    assert translate("zh", "退出") == "退出"
    assert translate("en", "退出") == "Log out"


def test_english_login_page(client):
    page = client.get("/login?lang=en")
    assert page.status_code == 200
    assert "Log in" in page.text and "用户名" not in page.text
    assert page.cookies.get("checkonce_lang") == "en"
    # The choice sticks: the next page without ?lang is English too.
    assert "Password" in client.get("/login").text
