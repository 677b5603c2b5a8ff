"""Imports every domain's models so Base.metadata is complete (Alembic, test schema checks)."""

from checkonce.db import Base
from checkonce.registry import models as registry_models

__all__ = ["Base", "registry_models"]
