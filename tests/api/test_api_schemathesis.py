"""Property-based run over the OpenAPI document: no 5xx, and every response conforms to the
documented status codes, content types, headers and schemas (problem details included).

Schemathesis loads the document when this module is imported, before the fixtures exist, so it
talks to a small forwarding ASGI app that each test points at the app of the backend under
test. Requests are authenticated as a clinician, then as an admin, of an organization kept
for this run (an admin's random PATCH may deactivate users)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import missing_required_header, positive_data_acceptance

from secondlook.api.app import create_app
from secondlook.store.db import make_engine

if TYPE_CHECKING:
    from conftest import World


class Forward:
    """An ASGI app that hands every request to `target`, from a client address of its own so
    that its many failed logins do not lock other tests out."""

    def __init__(self, target: Any) -> None:
        self.target = target

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target({**scope, "client": ("192.0.2.77", 50000)}, receive, send)


# Making the OpenAPI document touches no database.
forward = Forward(create_app(make_engine("sqlite://")))
schema = schemathesis.openapi.from_asgi("/openapi.json", forward)
# Schema-valid requests may still fail a precondition: a generated If-Match is rarely the
# current version (412), and a write without one is refused (428). Both are answers about the
# resource's state, like 404 and 409, which Schemathesis already accepts.
acceptance = schema.config.checks.positive_data_acceptance
acceptance.expected_statuses = [*acceptance.expected_statuses, "412", "428"]


@pytest.fixture
def app_under_test(app: FastAPI) -> Iterator[FastAPI]:
    previous, forward.target = forward.target, app
    yield app
    forward.target = previous


@pytest.mark.parametrize("caller", ["fuzz_clinician", "fuzz_admin"])
@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi_document(
    case: schemathesis.Case[Any], app_under_test: FastAPI, world: World, caller: str
) -> None:
    # A new password must also not be common or guessable (store/passwords.py), which no JSON
    # Schema can say: a schema-valid random password may rightly get 422. Every other check
    # (no 5xx, documented statuses, schemas) still holds for those requests.
    sets_password = isinstance(case.body, dict) and "password" in case.body
    excluded: list[Any] = [positive_data_acceptance] if sets_password else []
    # A write without its required If-Match is answered 428 Precondition Required, the status
    # RFC 6585 section 3 defines for it; schemathesis expects one of 400/401/403/406/415/422.
    excluded.append(missing_required_header)
    case.call_and_validate(headers=world.auth(caller), excluded_checks=excluded)
