"""The command line acts as a real account: `checkonce login` / `logout` / `whoami`, and the
account every acting command runs as.

Who a command acts as, in this order:
1. `--user NAME` on the command: the password is asked for there and then;
2. the `CHECKONCE_TOKEN` environment variable (a token from `checkonce login --print`);
3. the token `checkonce login` stored for the shell user in
   `$XDG_CONFIG_HOME/checkonce/token` (default `~/.config/checkonce/token`, mode 0600).

CLI tokens carry their own audience (the web and the API refuse them) and last a working
day. Every use re-reads the account: a deactivated account stops working at once. The
action is then recorded as that account with channel CLI.
"""

from __future__ import annotations

import getpass
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from checkonce.audit.actor import Actor, Channel
from checkonce.errors import CheckOnceError

TOKEN_ENV = "CHECKONCE_TOKEN"
NOT_LOGGED_IN = (
    "此命令需要以账号身份执行，当前未登录：请先运行 checkonce login，"
    "或在命令后加 --user 用户名（随后输入密码），或设置环境变量 CHECKONCE_TOKEN"
)

UserOption = Annotated[
    str | None,
    typer.Option("--user", help="以此账号执行（随后输入密码）；默认用 checkonce login 的登录"),
]


class NotLoggedIn(CheckOnceError):
    code = "not_logged_in"
    status = 401


def token_path() -> Path:
    """Where `checkonce login` keeps the shell user's token."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "checkonce" / "token"


def _client() -> str:
    try:
        who = getpass.getuser()
    except Exception:  # no login name in a bare container
        who = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return f"cli:{who}"[:64]


def write_token(token: str, username: str) -> Path:
    """Store the token readable by the shell user only (0600, folder 0700)."""
    path = token_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"username": username, "token": token}, handle)
    os.chmod(path, 0o600)  # a file left from before keeps its old mode otherwise
    return path


def read_stored_token() -> str | None:
    """The stored token, or None when there is none; refuses a file others may read."""
    path = token_path()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CheckOnceError(
            f"登录凭证文件 {path} 可被其他用户读取（权限 {stat.S_IMODE(mode):o}），已拒绝使用："
            "请运行 checkonce logout 后重新登录"
        )
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["token"])
    except (ValueError, KeyError, TypeError):
        raise CheckOnceError(f"登录凭证文件 {path} 已损坏：请重新运行 checkonce login") from None


def _sessions(db_session: Session) -> Session:
    return Session(bind=db_session.get_bind())


def authenticate_cli(db_session: Session, username: str, password: str):
    """The account for these credentials. The attempt is committed on a session of its own,
    failed or not, so the login rate limits hold for the command line too."""
    from checkonce.audit.actor import Channel
    from checkonce.auth.service import AuthError, TooManyAttempts, authenticate

    attempt = _sessions(db_session)
    try:
        user = authenticate(
            db_session=attempt,
            username=username,
            password=password,
            client=_client(),
            channel=Channel.CLI,
        )
        attempt.commit()
        return db_session.get_one(type(user), user.id)
    except (AuthError, TooManyAttempts):
        attempt.commit()  # the failure is what the back-off counts, and it is audited
        raise
    finally:
        attempt.close()


def _account_of_token(db_session: Session, token: str):
    from checkonce.auth.models import User
    from checkonce.auth.service import CLI_AUDIENCE, AuthError, read_token
    from checkonce.config import get_settings

    try:
        principal = read_token(token, secret=get_settings().secret_key, audience=CLI_AUDIENCE)
    except AuthError as exc:
        raise NotLoggedIn(f"{exc.message}（命令行）：请运行 checkonce login") from None
    user = db_session.get(User, principal.user_id)
    if user is None or user.username != principal.username:
        raise NotLoggedIn("登录凭证与本数据库的账号不符：请重新运行 checkonce login")
    if not user.active:
        raise NotLoggedIn(f"账号 {user.username} 已停用")
    if (user.token_version or 0) != principal.token_version or user.role != principal.role:
        raise NotLoggedIn("账号的密码或角色已变更，登录已失效：请重新运行 checkonce login")
    return user


def login_actor(db_session: Session, user: str | None = None) -> Actor:
    """The account this command acts as (see the module's docstring), as a CLI actor."""
    from checkonce.auth.service import Principal

    if user:
        password = typer.prompt(f"账号 {user} 的密码", hide_input=True)
        account = authenticate_cli(db_session, user, password)
    else:
        token = os.environ.get(TOKEN_ENV) or read_stored_token()
        if not token:
            raise NotLoggedIn(NOT_LOGGED_IN)
        account = _account_of_token(db_session, token)
    return Actor.from_principal(Principal.of(account), channel=Channel.CLI)


@contextmanager
def acting_session(user: str | None = None) -> Iterator[tuple[Session, Actor]]:
    """A session on the configured database (committed on success) and the account the
    command acts as."""
    from checkonce.cli.plans import open_session

    with open_session() as session:
        yield session, login_actor(session, user)


def register(app: typer.Typer) -> None:
    @app.command("login")
    def login(
        username: str = typer.Option(None, "--username", "-u", help="用户名（不填则询问）"),
        print_token: bool = typer.Option(
            False, "--print", help="只打印登录凭证（供 CHECKONCE_TOKEN 使用），不保存"
        ),
    ) -> None:
        """以账号登录命令行：此后的命令以该账号执行并留痕（凭证保存 8 小时，仅本人可读）。"""
        from checkonce.auth.models import ROLE_NAMES
        from checkonce.auth.service import CLI_AUDIENCE, CLI_TOKEN_MINUTES, issue_token
        from checkonce.cli import console
        from checkonce.cli.plans import open_session
        from checkonce.config import get_settings

        name = username or typer.prompt("用户名")
        password = typer.prompt("密码", hide_input=True)
        with open_session() as session:
            account = authenticate_cli(session, name, password)
            token = issue_token(
                account,
                secret=get_settings().secret_key,
                minutes=CLI_TOKEN_MINUTES,
                audience=CLI_AUDIENCE,
            )
            role = ROLE_NAMES[account.role]
        if print_token:
            typer.echo(token)
            return
        path = write_token(token, name)
        console.print(f"已登录：{name}（{role}），凭证保存在 {path}（8 小时内有效）")

    @app.command("logout")
    def logout() -> None:
        """退出命令行登录（删除保存的凭证）。"""
        from checkonce.cli import console

        path = token_path()
        if path.exists():
            path.unlink()
            console.print("已退出登录")
        else:
            console.print("当前未登录")

    @app.command("whoami")
    def whoami() -> None:
        """显示命令行当前以哪个账号执行。"""
        from checkonce.auth.models import ROLE_NAMES
        from checkonce.cli import console
        from checkonce.cli.plans import open_session

        with open_session() as session:
            actor = login_actor(session)
        source = "环境变量 CHECKONCE_TOKEN" if os.environ.get(TOKEN_ENV) else str(token_path())
        console.print(f"{actor.username}（{ROLE_NAMES[actor.role]}），凭证来自 {source}")
