"""Browser tests: Debian's Chromium driven by Playwright for Python against a real server.

The app runs under uvicorn in a thread on 127.0.0.1 with its own SQLite file (migrated, Xi'an
reference data loaded); tests add their rows through `live_session` and commit them, and read
what the pages wrote the same way. Chromium is never downloaded: it is /usr/bin/chromium, which
`.ci/run` installs when missing. Without it these tests are skipped on a developer machine and
fail in CI (CI=true). Every request to a host other than the test server is blocked and
recorded, so a page that needs the internet fails its test.

Screenshots of each page at phone and desktop sizes go to tests/e2e/screenshots/ (ignored by
git).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session

from checkonce.config import Settings, packaged_data_dir
from checkonce.db import make_engine, session_scope
from checkonce.migrations import upgrade
from checkonce.registry.reference import load_reference

CHROMIUM = os.environ.get("CHECKONCE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
SECRET = "e2e-secret-" + "y" * 40
PASSWORD = "correct horse battery"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
# 碑林区, near the Bell Tower: inside the city, where the demo enterprises are.
XIAN = {"latitude": 34.2610, "longitude": 108.9420}


def _chromium_or_skip() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def live_url_db(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("e2e") / "live.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        load_reference(session, packaged_data_dir())
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def live_engine(live_url_db):
    engine = make_engine(live_url_db)
    yield engine
    engine.dispose()


@pytest.fixture
def live_session(live_engine) -> Iterator[Session]:
    """A session on the server's database; commit to make rows visible to the pages."""
    with Session(live_engine, expire_on_commit=False) as session:
        yield session


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(live_url_db, tmp_path_factory) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1; yields its base URL."""
    import uvicorn

    from checkonce.api.app import create_app

    settings = Settings(
        env="test",
        secret_key=SECRET,
        database_url=live_url_db,
        jobs_enabled=False,
        output_dir=tmp_path_factory.mktemp("e2e-out"),
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


class Blocked(list):
    """Requests to outside hosts the browser tried (and was refused)."""


class PolicyViolations(list):
    """What the Content-Security-Policy refused on the pages of a test (inline scripts,
    handlers, outside resources): every page must work under the strict policy."""


def _open_context(
    browser,
    live_server: str,
    blocked: Blocked,
    violations: PolicyViolations | None = None,
    **options,
):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **options)
    own = urlsplit(live_server).netloc
    if violations is not None:

        def watch(page) -> None:
            page.on(
                "console",
                lambda message: (
                    violations.append(f"{page.url}: {message.text}")
                    if "Content Security Policy" in message.text
                    else None
                ),
            )

        context.on("page", watch)

    def guard(route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == own or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def outside_requests() -> Blocked:
    """The outside URLs any page of this test tried to load (each was refused)."""
    return Blocked()


@pytest.fixture
def policy_violations() -> PolicyViolations:
    return PolicyViolations()


@pytest.fixture
def phone(browser, live_server, outside_requests, policy_violations):
    """A phone-sized page with location granted (in 碑林区)."""
    context = _open_context(
        browser,
        live_server,
        outside_requests,
        policy_violations,
        **PHONE,
        geolocation=XIAN,
        permissions=["geolocation"],
    )
    page = context.new_page()
    yield page
    context.close()
    assert not policy_violations, policy_violations


@pytest.fixture
def desktop(browser, live_server, outside_requests, policy_violations):
    context = _open_context(browser, live_server, outside_requests, policy_violations, **DESKTOP)
    page = context.new_page()
    yield page
    context.close()
    assert not policy_violations, policy_violations


@pytest.fixture
def screenshot(request):
    """screenshot(page, name): a full-page PNG in tests/e2e/screenshots/<test>/<name>.png."""
    folder = SCREENSHOTS / request.node.name.replace("/", "_")
    if folder.exists():
        shutil.rmtree(folder)

    def take(page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000, f"empty screenshot {path}"
        return path

    return take


def log_in(page, live_server: str, username: str, password: str = PASSWORD, next_path: str = "/"):
    """Log in through the login page, as a person would."""
    page.goto(f"{live_server}/login?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state("networkidle")
