"""Property-based API testing: schemathesis generates requests from /openapi.json for every
operation; none may answer with a server error (5xx), whoever calls."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

CALLERS = ("coordinator", "legal", "admin", "bureau", "inspector", "enterprise", "anonymous")
EXAMPLES_PER_OPERATION = 10


def test_no_server_errors(app, headers):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case):
            for caller in CALLERS:
                case.call_and_validate(headers=headers[caller], checks=[not_a_server_error])

        run()
