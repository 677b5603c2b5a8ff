"""Logins: argon2 hashes, one uniform error for wrong user or password, rate limiting,
short-lived tokens that cannot be forged."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest

from checkonce.auth.models import User
from checkonce.auth.service import (
    MAX_FAILURES_PER_USER,
    AuthError,
    TooManyAttempts,
    authenticate,
    create_user,
    issue_token,
    read_token,
)
from checkonce.errors import CheckOnceError, Conflict, NotFound
from tests import factories as f
from tests.api.conftest import PASSWORD, SECRET

T0 = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)


def login(session, username, password=PASSWORD, client="10.0.0.1", now=T0):
    return authenticate(
        db_session=session, username=username, password=password, client=client, now=now
    )


def test_password_is_hashed_with_argon2_and_login_works(db_session):
    user = create_user(
        db_session=db_session,
        actor=f.SETUP,
        username="coord9",
        password=PASSWORD,
        role="coordinator",
    )
    assert user.password_hash.startswith("$argon2") and PASSWORD not in user.password_hash
    assert login(db_session, "coord9").id == user.id
    assert user.last_login_at == T0


def test_wrong_password_and_unknown_user_get_the_same_answer(db_session):
    create_user(
        db_session=db_session,
        actor=f.SETUP,
        username="coord9",
        password=PASSWORD,
        role="coordinator",
    )
    with pytest.raises(AuthError) as wrong:
        login(db_session, "coord9", "wrong password!")
    with pytest.raises(AuthError) as unknown:
        login(db_session, "nobody", PASSWORD)
    assert wrong.value.message == unknown.value.message == "用户名或密码错误"


def test_back_off_per_username_then_the_wait_passes(db_session):
    create_user(
        db_session=db_session,
        actor=f.SETUP,
        username="coord9",
        password=PASSWORD,
        role="coordinator",
    )
    for i in range(MAX_FAILURES_PER_USER):
        with pytest.raises(AuthError):
            login(db_session, "coord9", "bad guess!!", now=T0 + dt.timedelta(seconds=i))
    with pytest.raises(TooManyAttempts) as waiting:  # even the right password waits now
        login(db_session, "coord9", now=T0 + dt.timedelta(seconds=10))
    assert waiting.value.retry_after == 24 and "24 秒后再试" in waiting.value.message
    assert login(db_session, "coord9", now=T0 + dt.timedelta(seconds=35)).username == "coord9"


def test_inactive_user_cannot_log_in(db_session):
    user = create_user(
        db_session=db_session, actor=f.SETUP, username="gone1", password=PASSWORD, role="admin"
    )
    user.active = False
    with pytest.raises(AuthError):
        login(db_session, "gone1")


def test_tokens_expire_and_cannot_be_forged(db_session):
    user = create_user(
        db_session=db_session,
        actor=f.SETUP,
        username="coord9",
        password=PASSWORD,
        role="coordinator",
    )
    now = dt.datetime.now(dt.UTC)
    principal = read_token(issue_token(user, secret=SECRET, now=now), secret=SECRET)
    assert (principal.role, principal.username) == ("coordinator", "coord9")
    old = issue_token(user, secret=SECRET, now=now - dt.timedelta(hours=1))
    with pytest.raises(AuthError) as expired:
        read_token(old, secret=SECRET)
    assert expired.value.code == "token_expired"
    forged = jwt.encode(
        {
            "iss": "checkonce",
            "sub": "1",
            "role": "admin",
            "exp": int((now + dt.timedelta(minutes=5)).timestamp()),
        },
        "another secret",
        algorithm="HS256",
    )
    with pytest.raises(AuthError):
        read_token(forged, secret=SECRET)
    with pytest.raises(AuthError):
        read_token("not.a.token", secret=SECRET)


def test_role_bindings_are_required_and_checked(db_session):
    with pytest.raises(CheckOnceError, match="指定部门"):
        create_user(
            db_session=db_session, actor=f.SETUP, username="b1x", password=PASSWORD, role="bureau"
        )
    with pytest.raises(NotFound):
        create_user(
            db_session=db_session,
            actor=f.SETUP,
            username="b2x",
            password=PASSWORD,
            role="bureau",
            department="NOPE",
        )
    grid = f.inspector(
        db_session,
        role="grid",
        certificate_no=None,
        certificate_valid_from=None,
        certificate_valid_to=None,
    )
    with pytest.raises(CheckOnceError, match="不是在岗执法人员"):
        create_user(
            db_session=db_session,
            actor=f.SETUP,
            username="g1x",
            password=PASSWORD,
            role="inspector",
            inspector=grid.code,
        )
    with pytest.raises(CheckOnceError, match="至少"):
        create_user(
            db_session=db_session, actor=f.SETUP, username="s1x", password="short", role="admin"
        )
    with pytest.raises(CheckOnceError, match="未知角色"):
        create_user(
            db_session=db_session, actor=f.SETUP, username="r1x", password=PASSWORD, role="root"
        )
    create_user(
        db_session=db_session, actor=f.SETUP, username="dup1", password=PASSWORD, role="admin"
    )
    with pytest.raises(Conflict):
        create_user(
            db_session=db_session, actor=f.SETUP, username="dup1", password=PASSWORD, role="admin"
        )
    assert db_session.query(User).filter(User.username == "dup1").count() == 1
