"""`checkonce map …` writes one HTML file that opens offline, with the numbers of the data
layer, and refuses bad options with a message and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from checkonce.config import packaged_data_dir
from checkonce.db import make_engine, session_scope
from checkonce.maps.assets import outside_references
from checkonce.migrations import upgrade
from checkonce.registry.reference import load_reference
from tests.cli_accounts import cli_env, make_account
from tests.maps import htmlmap
from tests.maps.conftest import build_world


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("maps-cli")
    url = f"sqlite:///{path / 'maps.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        load_reference(session, packaged_data_dir())
        build_world(session)
    engine.dispose()
    make_account(url, "coord", "coordinator")
    make_account(url, "fire", "bureau", department="FIRE")
    return path


def run(workdir: Path, *args: str, user: str | None = "coord") -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k != "CHECKONCE_TOKEN"},
        **cli_env(workdir, f"sqlite:///{workdir / 'maps.db'}", user),
        "CHECKONCE_MAP_TILES": "",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "checkonce", "map", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def invoke(workdir, monkeypatch):
    """Run `checkonce map …` in this process (a subprocess costs seconds of imports)."""
    from typer.testing import CliRunner

    from checkonce.cli import build_app
    from checkonce.config import get_settings

    url = f"sqlite:///{workdir / 'maps.db'}"
    monkeypatch.setenv("CHECKONCE_DATABASE_URL", url)
    monkeypatch.delenv("CHECKONCE_MAP_TILES", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def go(*args, user="coord"):
        return runner.invoke(
            build_app(), ["map", *args], catch_exceptions=False, env=cli_env(workdir, url, user)
        )

    yield go
    get_settings.cache_clear()


def test_coverage_and_route_files(workdir, invoke):
    out = workdir / "coverage.html"
    done = invoke("coverage", "--period", "2027Q1", "--out", str(out))
    assert done.exit_code == 0, done.output
    assert "4/" in done.output and "市场监管 4" in done.output
    html = out.read_text(encoding="utf-8")
    assert outside_references(html) == [] and "<script src=" not in html
    assert htmlmap.layer_counts(html) == {"市场监管（4 次）": 4, "消防（2 次）": 2}

    # A bureau's account draws only its own department's visits.
    fire = workdir / "coverage-fire.html"
    done = invoke("coverage", "--period", "2027Q1", "--out", str(fire), user="fire")
    assert done.exit_code == 0, done.output
    assert htmlmap.layer_counts(fire.read_text(encoding="utf-8")) == {"消防（2 次）": 2}

    route = workdir / "route.html"
    done = invoke("route", "--visit", "MV1", "--out", str(route))
    assert done.exit_code == 0, done.output
    assert len(htmlmap.overlays(route.read_text(encoding="utf-8"))) == 2


def test_bad_options_are_refused_without_traceback(workdir):
    done = run(workdir, "coverage", "--department", "NOPE", "--out", "x.html")
    assert done.returncode == 1 and "部门 NOPE 不存在" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (workdir / "x.html").exists()
    anonymous = run(workdir, "alerts", "--out", "x.html", user=None)
    assert anonymous.returncode == 1 and "checkonce login" in anonymous.stderr
    bureau = run(workdir, "alerts", "--out", "x.html", user="fire")
    assert bureau.returncode == 1 and "无权查看入企预警地图" in bureau.stderr
    assert not (workdir / "x.html").exists()
