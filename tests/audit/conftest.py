"""The audit tests call actions through the API and the job runner too: their fixtures."""

from tests.api.conftest import app, client, headers, users  # noqa: F401
from tests.jobs.conftest import job_settings, run  # noqa: F401
