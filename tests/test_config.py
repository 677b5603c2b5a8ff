"""Settings: a placeholder secret is refused outside dev; the database URL comes from env."""

import pytest
from pydantic import ValidationError

from checkonce.config import DEFAULT_SECRET, Settings


def test_dev_accepts_the_placeholder(monkeypatch):
    monkeypatch.delenv("CHECKONCE_SECRET_KEY", raising=False)
    settings = Settings(env="dev")
    assert settings.database_url.startswith("sqlite:///")


@pytest.mark.parametrize(
    "secret",
    [
        DEFAULT_SECRET,
        "dev-secret-change-me",
        "changeme",
        "secret",
        "",
        "short",
        "a" * 32,  # accepted before: long enough, no entropy at all
        "ab" * 32,
        "0123456789" * 4,
    ],
)
def test_prod_refuses_placeholder_or_short_secret(secret):
    with pytest.raises(ValidationError, match="CHECKONCE_SECRET_KEY"):
        Settings(env="prod", secret_key=secret)


def test_prod_accepts_a_real_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHECKONCE_ENV", "prod")
    monkeypatch.setenv("CHECKONCE_SECRET_KEY", "pX3-Rn8vQe_2LmT9ycW4uZ7oKa1sHd6JfB0gNi5ErV")
    monkeypatch.setenv("CHECKONCE_DATABASE_URL", "postgresql://u@db:5432/checkonce")
    settings = Settings()
    assert settings.env == "prod" and settings.database_url.endswith("/checkonce")


def test_secret_bits_estimate():
    import secrets

    from checkonce.config import MIN_SECRET_BITS, secret_bits

    assert secret_bits("a" * 32) == 0
    assert secret_bits(secrets.token_urlsafe(48)) > 1.5 * MIN_SECRET_BITS
    assert secret_bits(secrets.token_hex(32)) > MIN_SECRET_BITS


# ------------------------------------------------------------------------- checkonce serve


@pytest.fixture
def serve(monkeypatch, tmp_path):
    """Run `checkonce serve ARGS` in-process with uvicorn replaced: (exit code, output,
    what uvicorn was asked to run with, or None)."""
    import uvicorn
    from typer.testing import CliRunner

    from checkonce.cli import build_app
    from checkonce.config import get_settings

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append(k))
    monkeypatch.setattr("checkonce.migrations.upgrade", lambda url: None)
    monkeypatch.setenv("CHECKONCE_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    for name in ("CHECKONCE_ENV", "CHECKONCE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, **env: str):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(build_app(), ["serve", *args])
        finally:
            get_settings.cache_clear()
        message = result.output + (str(result.exception) if result.exception else "")
        return result.exit_code, message, calls[-1] if calls else None

    return run


def test_serve_without_env_or_dev_refuses(serve):
    code, output, started = serve()
    assert code != 0 and started is None
    assert "CHECKONCE_ENV=prod" in output and "--dev" in output


def test_serve_dev_is_explicit_loud_and_loopback_only(serve):
    code, output, started = serve("--dev", "--host", "0.0.0.0")
    assert code != 0 and started is None and "只能监听本机地址" in output
    code, output, started = serve("--dev")
    assert code == 0 and started["host"] == "127.0.0.1"
    assert "开发模式" in output and "切勿用于正式环境" in output


def test_serve_in_prod_needs_a_real_secret(serve):
    code, output, started = serve(CHECKONCE_ENV="prod", CHECKONCE_SECRET_KEY="a" * 32)
    assert code != 0 and started is None and "CHECKONCE_SECRET_KEY" in output
    code, output, started = serve(
        "--host",
        "0.0.0.0",
        "--forwarded-allow-ips",
        "10.0.0.5",
        CHECKONCE_ENV="prod",
        CHECKONCE_SECRET_KEY="pX3-Rn8vQe_2LmT9ycW4uZ7oKa1sHd6JfB0gNi5ErV",
    )
    assert code == 0, output
    assert (started["host"], started["proxy_headers"], started["forwarded_allow_ips"]) == (
        "0.0.0.0",
        True,
        "10.0.0.5",
    )
