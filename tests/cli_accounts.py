"""Accounts for command-line tests: the CLI acts as a real account, so a test creates one in
its database and hands the command a token through CHECKONCE_TOKEN (what `checkonce login
--print` gives), with its own config folder so no test touches the real ~/.config."""

from __future__ import annotations

from pathlib import Path

from checkonce.auth.models import User
from checkonce.auth.service import CLI_AUDIENCE, CLI_TOKEN_MINUTES, create_user, issue_token
from checkonce.config import get_settings
from checkonce.db import make_engine, session_scope
from tests import factories as f

PASSWORD = "correct horse battery"


def make_account(url: str, username: str, role: str, **binding) -> None:
    """A user of `role` in the database at `url` (password PASSWORD), if not there yet."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            if session.query(User).filter_by(username=username).first() is None:
                create_user(
                    db_session=session,
                    actor=f.SETUP,
                    username=username,
                    password=PASSWORD,
                    role=role,
                    **binding,
                )
    finally:
        engine.dispose()


def cli_token(url: str, username: str, secret: str | None = None) -> str:
    """A CLI token for an existing user, signed as `checkonce login` would sign it."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            user = session.query(User).filter_by(username=username).one()
            return issue_token(
                user,
                secret=secret or get_settings().secret_key,
                minutes=CLI_TOKEN_MINUTES,
                audience=CLI_AUDIENCE,
            )
    finally:
        engine.dispose()


def cli_env(
    folder: Path, url: str, username: str | None = None, secret: str | None = None
) -> dict[str, str]:
    """Environment for a CLI subprocess: the database, an empty config folder of its own and,
    for `username`, a token; without one the command runs logged out."""
    env = {"CHECKONCE_DATABASE_URL": url, "XDG_CONFIG_HOME": str(folder / "config")}
    if username is not None:
        env["CHECKONCE_TOKEN"] = cli_token(url, username, secret)
    return env
