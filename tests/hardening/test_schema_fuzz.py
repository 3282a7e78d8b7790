"""Schemathesis against the OpenAPI schema of every endpoint: no 5xx, and every answer
(status, content type, body) conforms to the schema. Bounded: FUZZ_EXAMPLES per operation."""

from __future__ import annotations

import base64
import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import checks

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"]),
]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))


@pytest.fixture
def api_schema(services_up):
    """The served schema, called in-process through Django's WSGI application (events
    go to the test's private queue, which nothing consumes)."""
    from django.core.wsgi import get_wsgi_application

    return schemathesis.openapi.from_wsgi("/api/v1/schema", get_wsgi_application())


@pytest.fixture
def master(db) -> dict[str, str]:
    from events.services import create_project_with_keys

    project, keys = create_project_with_keys(name="fuzz")
    return {"project_id": project.id, "key": keys["master"]}


def _authorize(case, master: dict[str, str]) -> dict[str, str]:
    """A valid key in the shape each front door expects, on the key's own project, so
    the fuzzer reaches the validation and query code, not only the 401s."""
    path = case.operation.path
    if "project_id" in (case.path_parameters or {}):
        case.path_parameters["project_id"] = master["project_id"]
    if path.startswith("/3.0/"):
        value = master["key"]
    elif path.startswith("/v1/"):
        value = "Basic " + base64.b64encode(f"{master['key']}:".encode()).decode()
    else:
        value = f"Bearer {master['key']}"
    return {"Authorization": value}


# No 5xx, and no answer outside the schema: status, content type, headers and body.
# (Whether the server accepts every body the loose request schemas allow is not
# checked: the request schemas document the shape, the validators enforce the rest.)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def test_every_endpoint_conforms_and_never_fails(api_schema, master) -> None:
    """Each operation gets ``EXAMPLES`` generated requests (derandomized, so a failure
    reproduces); every answer must pass schemathesis' checks (no 5xx, documented status,
    content type and body)."""
    failures: dict[str, str] = {}
    answers: Counter = Counter()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 13

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case) -> None:
            response = case.call_and_validate(headers=_authorize(case, master), checks=CHECKS)
            answers[response.status_code] += 1

        try:
            exercise()
        except Exception as exc:  # collected, so one run reports every operation
            failures[operation.label] = str(exc)[:2000]
    print(f"\n{len(operations)} operations, answers by status: {dict(sorted(answers.items()))}")
    assert failures == {}
    assert sum(n for status, n in answers.items() if status < 300) > len(operations)
