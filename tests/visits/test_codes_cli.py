"""`checkonce codes …` as an administrator runs it: posters that scan, key rotation and
revocation, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from checkonce.config import packaged_data_dir
from checkonce.db import make_engine, session_scope
from checkonce.migrations import upgrade
from checkonce.registry.reference import load_reference
from checkonce.visits import codes
from tests import factories as f
from tests.cli_accounts import cli_env, make_account

SECRET = "cli-codes-secret-" + "c" * 40
BASE = "https://jc.xa.example.cn"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> tuple[Path, str]:
    """A migrated SQLite database with the reference data and one enterprise."""
    path = tmp_path_factory.mktemp("codes_cli")
    url = f"sqlite:///{path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        load_reference(session, packaged_data_dir())
        credit = f.enterprise(session, name="西安测试餐饮有限公司").credit_code
    engine.dispose()
    make_account(url, "zhang-admin", "admin")
    make_account(url, "coord", "coordinator")
    return path, credit


def run(path: Path, *args: str, user: str | None = None) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k != "CHECKONCE_TOKEN"},
        **cli_env(path, f"sqlite:///{path / 'cli.db'}", user, SECRET),
        "CHECKONCE_SECRET_KEY": SECRET,
        "CHECKONCE_PUBLIC_URL": BASE,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "checkonce", "codes", *args],
        cwd=path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def scanned(png: Path) -> str:
    [result] = zxingcpp.read_barcodes(Image.open(png))
    return result.text


def verify(path: Path, url: str) -> codes.EnterpriseCode:
    engine = make_engine(f"sqlite:///{path / 'cli.db'}")
    try:
        with session_scope(engine) as session:
            return codes.verify_enterprise_token(
                db_session=session, secret_key=SECRET, token=codes.token_from_scan(url, "e")
            )
    finally:
        engine.dispose()


def test_poster_rotation_and_revocation(workdir, monkeypatch):
    path, credit = workdir
    clock = [1000.0]
    monkeypatch.setattr(codes.KEY_CACHE, "clock", lambda: clock[0])
    done = run(path, "poster", credit, "--out", str(path / "poster.png"))
    assert done.returncode == 0, done.stderr
    first = scanned(path / "poster.png")
    assert first.startswith(f"{BASE}/e/E1.") and credit in first
    assert verify(path, first).credit_code == credit

    done = run(path, "poster", credit.lower(), "--out", str(path / "poster.svg"))
    assert done.returncode == 0, done.stderr
    svg = (path / "poster.svg").read_text(encoding="utf-8")
    assert "西安测试餐饮有限公司" in svg and credit in svg

    old_kid = verify(path, first).kid
    refused = run(path, "rotate", user="coord")
    assert refused.returncode == 1 and "无权新建签名密钥" in refused.stderr
    done = run(path, "rotate", user="zhang-admin")
    assert done.returncode == 0 and "已新建签名密钥" in done.stdout, done.stderr
    run(path, "poster", credit, "--out", str(path / "poster2.png"))
    second = scanned(path / "poster2.png")
    assert verify(path, second).kid != old_kid

    done = run(path, "revoke", old_kid, "--reason", "旧海报作废", user="zhang-admin")
    assert done.returncode == 0, done.stderr
    # Revoked by another process: this one trusts its copy of the key until it expires.
    assert verify(path, first).credit_code == credit
    clock[0] += codes.KEY_CACHE_SECONDS
    with pytest.raises(codes.InvalidCode, match="已作废"):
        verify(path, first)
    assert verify(path, second).credit_code == credit

    listing = run(path, "keys", user="zhang-admin")
    assert old_kid in listing.stdout and "已作废" in listing.stdout and "当前使用" in listing.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["poster", "91610113MA00000000", "--out", "x.pdf"], "不支持的海报格式"),
        (["poster", "916101130000009999", "--out", "x.png"], "不在登记库中"),
        (["revoke", "nokey000", "--reason", "x"], "不存在"),
        (["keys"], "请先运行 checkonce login"),
    ],
)
def test_bad_input_is_a_clear_error(workdir, args, message):
    path, _ = workdir
    done = run(path, *args, user=None if args == ["keys"] else "zhang-admin")
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
