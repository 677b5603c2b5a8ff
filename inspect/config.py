"""One place for settings: every value comes from a CHECKONCE_* environment variable."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The dev default is 32+ bytes so dev runs sign tokens without PyJWT's short-key warning; it
# is still a placeholder that every other environment refuses.
DEFAULT_SECRET = "dev-secret-change-me-for-local-use-only"
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "dev-secret-change-me", DEFAULT_SECRET}
)


def packaged_data_dir() -> Path:
    """The demo jurisdiction shipped with the package (the repo's data/ folder)."""
    return Path(str(files("checkonce.data")))


class Settings(BaseSettings):
    """CheckOnce settings. `env` other than "dev" refuses a placeholder secret key."""

    model_config = SettingsConfigDict(env_prefix="CHECKONCE_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    database_url: str = "sqlite:///var/checkonce.db"
    secret_key: str = DEFAULT_SECRET
    data_dir: Path | None = None
    timezone: str = "Asia/Shanghai"
    output_dir: Path = Path("out")
    # Address printed under the QR of every document (verification page /d/<token>); empty =
    # the address the request came in on (the CLI then needs it set).
    public_url: str = ""
    # Background jobs (checkonce.jobs): off for processes that must not run them at all.
    jobs_enabled: bool = True
    # Seconds a standby process waits between attempts to take over the job runner lock.
    jobs_retry_seconds: float = 30.0
    # Solver time limit of the re-plan the missed-visit sweep runs.
    jobs_replan_seconds: float = 60.0
    # Enforcement certificates ending within this many days raise an alert.
    certificate_warning_days: int = 30
    # How enterprise notices are delivered: "outbox" (a table a gateway reads), "log",
    # "database", "cmpp" (SMS gateway adapter) or "module:Class".
    notification_channel: str = "outbox"
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env != "dev" and self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "CHECKONCE_SECRET_KEY is a placeholder; set a real secret outside dev "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.env != "dev" and len(self.secret_key) < 32:
            raise ValueError("CHECKONCE_SECRET_KEY must be at least 32 characters outside dev")
        return self

    @property
    def jurisdiction_dir(self) -> Path:
        """Folder with the jurisdiction's districts, bureaus, scenes, fees and policy."""
        return self.data_dir if self.data_dir is not None else packaged_data_dir()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
