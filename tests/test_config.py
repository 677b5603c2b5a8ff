"""Settings: a placeholder secret is refused outside dev; the database URL comes from env."""

import pytest
from pydantic import ValidationError

from checkonce.config import DEFAULT_SECRET, Settings


def test_dev_accepts_the_placeholder(monkeypatch):
    monkeypatch.delenv("CHECKONCE_SECRET_KEY", raising=False)
    settings = Settings(env="dev")
    assert settings.database_url.startswith("sqlite:///")


@pytest.mark.parametrize(
    "secret", [DEFAULT_SECRET, "dev-secret-change-me", "changeme", "secret", "", "short"]
)
def test_prod_refuses_placeholder_or_short_secret(secret):
    with pytest.raises(ValidationError, match="CHECKONCE_SECRET_KEY"):
        Settings(env="prod", secret_key=secret)


def test_prod_accepts_a_real_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHECKONCE_ENV", "prod")
    monkeypatch.setenv("CHECKONCE_SECRET_KEY", "k" * 48)
    monkeypatch.setenv("CHECKONCE_DATABASE_URL", "postgresql://u@db:5432/checkonce")
    settings = Settings()
    assert settings.env == "prod" and settings.database_url.endswith("/checkonce")
