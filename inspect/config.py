"""One place for settings: every value comes from a CHECKONCE_* environment variable."""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The dev default is 32+ bytes so dev runs sign tokens without PyJWT's short-key warning; it
# is still a placeholder that every other environment refuses.
DEFAULT_SECRET = "dev-secret-change-me-for-local-use-only"
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "dev-secret-change-me", DEFAULT_SECRET}
)


# A signing key must carry at least this many bits by the estimate of `secret_bits`.
MIN_SECRET_BITS = 128


def secret_bits(secret: str) -> float:
    """An estimate of a secret's entropy, the lower of two: its length times the Shannon
    entropy of its characters (32 × "a" is 0 bits), and zxcvbn's guess count (repeats,
    sequences, keyboard runs, words). secrets.token_urlsafe(48) scores far above 128."""
    if not secret:
        return 0.0
    from zxcvbn import zxcvbn

    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    guessed = zxcvbn(secret[:100])["guesses_log10"] * math.log2(10)
    return max(0.0, min(per_char * len(secret), guessed))


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

    # Uploads (plans, registry imports; API, pages and CLI alike): files over these limits
    # are refused before they are parsed, whatever size a spreadsheet declares.
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    upload_max_rows: int = Field(default=100_000, ge=10)
    upload_max_columns: int = Field(default=64, ge=8, le=1024)
    upload_max_cell_chars: int = Field(default=2_000, ge=100)
    # Photos of results: bytes of the file and pixels of the decoded picture.
    photo_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    photo_max_pixels: int = Field(default=40_000_000, ge=10_000)

    # Page sessions: they end after this long without a request, and this long after the
    # login whatever the activity. API tokens live `token_minutes`.
    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: float = Field(default=12.0, gt=0)
    token_minutes: int = Field(default=30, ge=1)

    # /metrics answers only these client addresses (comma-separated addresses or networks).
    metrics_allow: str = "127.0.0.1/32,::1/128"

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env != "dev" and self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "CHECKONCE_SECRET_KEY is a placeholder; set a real secret outside dev "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.env != "dev" and len(self.secret_key) < 32:
            raise ValueError("CHECKONCE_SECRET_KEY must be at least 32 characters outside dev")
        if self.env == "prod" and secret_bits(self.secret_key) < MIN_SECRET_BITS:
            raise ValueError(
                f"CHECKONCE_SECRET_KEY looks guessable ({secret_bits(self.secret_key):.0f} bits "
                f"by its characters, {MIN_SECRET_BITS} needed): use a random one, for example "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return self

    @property
    def jurisdiction_dir(self) -> Path:
        """Folder with the jurisdiction's districts, bureaus, scenes, fees and policy."""
        return self.data_dir if self.data_dir is not None else packaged_data_dir()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
