"""Schema-driven fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis)."""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.conftest import AdminClient

SKIP = {"/api/v1/dispatch/stream"}  # the live feed never ends by design (tested in the browser)


def test_the_api_holds_to_its_document(shop: FlaskClient, app: Flask) -> None:
    """Every operation, fed generated valid and invalid input: no 5xx, answers as documented."""
    loaded = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    headers = {"Authorization": f"Bearer {AdminClient.token}"}
    findings: list[str] = []
    for result in loaded.get_all_operations():
        operation = result.ok()
        if operation.path in SKIP:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def fuzz(case: Any) -> None:
            # a well-formed sku, brand or id that does not exist is rightly refused (400/404/422)
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as failure:  # collect them all, report each
            findings.append(f"{operation.method.upper()} {operation.path}: {failure}"[:1500])
    assert not findings, "\n\n".join(findings)
