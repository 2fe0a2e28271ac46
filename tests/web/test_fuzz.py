"""Schema-driven fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis).

The positive-data check is left out on purpose: a well-formed sku, brand or id that does not
exist is rightly refused (400/404/422), which that check would count as a failure.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.conftest import AdminClient

SKIP = {"/api/v1/dispatch/stream"}  # the live feed never ends by design (tested in the browser)


def fuzz_all(app: Flask, token: str, examples: int) -> list[str]:
    """Every operation with generated valid and invalid input; the failures, described."""
    loaded = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    findings: list[str] = []
    for result in loaded.get_all_operations():
        operation = result.ok()
        if operation.path in SKIP:
            continue
        protected = operation.definition.raw.get("security", []) != []
        try:
            _fuzzer(operation, token, examples, must_refuse=protected and not token)()
        except (Exception, BaseExceptionGroup) as failure:  # collect them all, report each
            findings.append(f"{operation.method.upper()} {operation.path}: {failure}"[:1500])
    return findings


def _fuzzer(operation: Any, token: str, examples: int, *, must_refuse: bool) -> Any:
    headers = {"Authorization": f"Bearer {token}" if token else ""}

    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)  # fmt: skip
    def fuzz(case: Any) -> None:
        response = case.call_and_validate(
            headers=headers, excluded_checks=[positive_data_acceptance]
        )
        assert not must_refuse or response.status_code == 401, (
            f"{response.status_code} without a token"
        )

    return fuzz


def test_the_api_holds_to_its_document(shop: FlaskClient, app: Flask) -> None:
    """With an admin token: no 5xx, every answer's status, type and body as documented."""
    findings = fuzz_all(app, AdminClient.token, examples=20)
    assert not findings, "\n\n".join(findings)


def test_without_a_token_only_public_operations_answer(shop: FlaskClient, app: Flask) -> None:
    """No token: protected operations answer their documented 401, public ones as usual."""
    findings = fuzz_all(app, "", examples=5)
    assert not findings, "\n\n".join(findings)
