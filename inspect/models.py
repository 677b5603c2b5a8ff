"""Imports every domain's models so Base.metadata is complete (Alembic, test schema checks)."""

from checkonce.audit import models as audit_models
from checkonce.auth import models as auth_models
from checkonce.db import Base
from checkonce.documents import models as document_models
from checkonce.findings import models as finding_models
from checkonce.findings.fees import models as fee_models
from checkonce.jobs import models as job_models
from checkonce.plans import models as plan_models
from checkonce.registry import models as registry_models
from checkonce.sampling import models as sampling_models
from checkonce.visits import checkin_models
from checkonce.visits import models as visit_models

__all__ = [
    "Base",
    "audit_models",
    "auth_models",
    "checkin_models",
    "document_models",
    "fee_models",
    "finding_models",
    "job_models",
    "plan_models",
    "registry_models",
    "sampling_models",
    "visit_models",
]
