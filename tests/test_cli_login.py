"""The command line acts as a real account: `checkonce login` keeps a token only the shell user
can read, `--user` asks for the password on the spot, CHECKONCE_TOKEN carries a token, and no
command takes a self-declared `--actor` any more."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from checkonce.audit.models import AuditRecord
from checkonce.auth.models import LoginAttempt, User
from checkonce.auth.service import AuthError, issue_token, read_token
from checkonce.config import get_settings, packaged_data_dir
from checkonce.db import make_engine, session_scope
from checkonce.errors import CheckOnceError
from checkonce.migrations import upgrade
from checkonce.registry.reference import load_reference
from tests.cli_accounts import PASSWORD, cli_token, make_account


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("login")
    url = f"sqlite:///{folder / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        load_reference(session, packaged_data_dir())
    engine.dispose()
    make_account(url, "coord-wang", "coordinator")
    make_account(url, "samr-li", "bureau", department="SAMR")
    return url


class Ran:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(database, tmp_path, monkeypatch):
    """Run `checkonce …` in-process with its own config folder (the shell user's home)."""
    from checkonce.cli import build_app

    monkeypatch.setenv("CHECKONCE_DATABASE_URL", database)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("CHECKONCE_TOKEN", raising=False)
    get_settings.cache_clear()

    def run(*args: str, stdin: str | None = None, env: dict | None = None) -> Ran:
        result = CliRunner().invoke(
            build_app(), list(args), input=stdin, env={"COLUMNS": "200", **(env or {})}
        )
        if isinstance(result.exception, CheckOnceError):
            return Ran(1, result.stdout, result.exception.message)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Ran(result.exit_code, result.stdout, result.stderr if result.stderr_bytes else "")

    yield run
    get_settings.cache_clear()


def token_file(tmp_path: Path) -> Path:
    return tmp_path / "config" / "checkonce" / "token"


def records(url: str, action: str) -> list[AuditRecord]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        rows = list(
            session.scalars(
                select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.seq)
            )
        )
        session.expunge_all()
    engine.dispose()
    return rows


def failures(url: str, username: str) -> int:
    engine = make_engine(url)
    with session_scope(engine) as session:
        n = session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.username == username, LoginAttempt.success.is_(False))
        )
    engine.dispose()
    return n


def test_login_whoami_logout(cli, tmp_path, database):
    assert cli("whoami").code == 1
    logged = cli("login", stdin=f"coord-wang\n{PASSWORD}\n")
    assert logged.code == 0, logged.err
    assert "已登录：coord-wang（协调监督人员）" in logged.out
    path = token_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert PASSWORD not in path.read_text(encoding="utf-8")
    me = cli("whoami")
    assert me.code == 0 and "coord-wang（协调监督人员）" in me.out and str(path) in me.out
    # The stored token is the CLI's own: the web and the API refuse it.
    import json

    token = json.loads(path.read_text(encoding="utf-8"))["token"]
    with pytest.raises(AuthError):
        read_token(token, secret=get_settings().secret_key)
    assert cli("logout").code == 0 and not path.exists()
    assert "checkonce login" in cli("whoami").err


def test_a_token_file_others_can_read_is_refused(cli, tmp_path):
    assert cli("login", stdin=f"coord-wang\n{PASSWORD}\n").code == 0
    os.chmod(token_file(tmp_path), 0o644)
    refused = cli("whoami")
    assert refused.code == 1 and "可被其他用户读取" in refused.err


def test_wrong_password_is_refused_and_counted(cli, tmp_path, database):
    before = failures(database, "coord-wang")
    wrong = cli("login", stdin="coord-wang\nnot-the-password\n")
    assert wrong.code == 1 and "用户名或密码错误" in wrong.err
    assert not token_file(tmp_path).exists()
    # The failed attempt is kept (rate limits hold on the command line too).
    assert failures(database, "coord-wang") == before + 1
    per_command = cli("plans", "list", "--user", "coord-wang", stdin="nope-nope-nope\n")
    assert per_command.code == 1 and "用户名或密码错误" in per_command.err
    assert failures(database, "coord-wang") == before + 2


def test_per_command_user_and_environment_token_act_as_that_account(cli, tmp_path, database):
    key = cli("codes", "rotate", "--user", "coord-wang", stdin=f"{PASSWORD}\n")
    assert key.code == 1 and "无权新建签名密钥" in key.err  # a coordinator is not an admin
    make_account(database, "root", "admin")
    before = len(records(database, "auth.key_create"))
    made = cli("codes", "rotate", "--user", "root", stdin=f"{PASSWORD}\n")
    assert made.code == 0, made.err
    by_env = cli("codes", "rotate", env={"CHECKONCE_TOKEN": cli_token(database, "root")})
    assert by_env.code == 0, by_env.err
    new = records(database, "auth.key_create")[before:]
    assert [(r.actor_username, r.actor_role, r.channel) for r in new] == [
        ("root", "admin", "cli"),
        ("root", "admin", "cli"),
    ]
    assert all(r.actor_user_id is not None for r in new)


def test_a_web_token_or_a_deactivated_account_does_not_work(cli, database):
    engine = make_engine(database)
    with session_scope(engine) as session:
        user = session.scalars(select(User).where(User.username == "samr-li")).one()
        web = issue_token(user, secret=get_settings().secret_key)
    refused = cli("whoami", env={"CHECKONCE_TOKEN": web})
    assert refused.code == 1 and "checkonce login" in refused.err
    token = cli_token(database, "samr-li")
    assert cli("whoami", env={"CHECKONCE_TOKEN": token}).code == 0
    with session_scope(engine) as session:
        session.scalars(select(User).where(User.username == "samr-li")).one().active = False
    engine.dispose()
    stopped = cli("whoami", env={"CHECKONCE_TOKEN": token})
    assert stopped.code == 1 and "已停用" in stopped.err


@pytest.mark.parametrize(
    "command",
    [
        ["plans", "submit", "1"],
        ["plans", "import", "x.csv", "-d", "SAMR", "-p", "2027Q1"],
        ["draw", "run", "1"],
        ["draw", "commit", "--task", "1"],
        ["schedule", "publish", "1"],
        ["schedule", "generate", "--period", "2027Q1"],
        ["results", "publish", "1"],
        ["codes", "rotate"],
        ["codes", "revoke", "abcd1234", "--reason", "x"],
    ],
)
def test_no_command_takes_a_free_text_actor(cli, command):
    refused = cli(*command, "--actor", "coordinator:张三")
    assert refused.code == 2  # click: no such option


def test_reading_public_data_or_local_files_needs_no_login(cli, tmp_path):
    assert cli("draw", "list").code == 0
    missing = cli("draw", "verify", "--file", str(tmp_path / "none.json"))
    assert missing.code == 1 and "文件不存在" in missing.err  # not a login error
    assert "login" not in cli("draw", "verify", "--file", str(tmp_path / "none.json")).err
