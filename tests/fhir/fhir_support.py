"""Shared helpers and fixtures of the FHIR tests, imported by the test modules.

Not a conftest.py: the tests run with ``--noconftest``, and a second ``conftest`` module beside
tests/conftest.py (no ``__init__.py`` anywhere) breaks the project-wide ``mypy`` run
("Duplicate module named 'conftest'"). The fixtures work the same when imported.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from secondlook.case import parse_case
from secondlook.case.models import Case
from secondlook.engine import assess
from secondlook.examples import load_examples

ROOT = Path(__file__).resolve().parents[2]
SHARED_EXAMPLES = Path("/work/shared/examples")


def example_cases() -> dict[str, dict[str, Any]]:
    """Every bundled example and every case of /work/shared/examples, by name."""
    cases = {f"bundled/{name}": doc for name, doc in load_examples().items()}
    if SHARED_EXAMPLES.is_dir():
        for path in sorted(SHARED_EXAMPLES.glob("*.json")):
            data = json.loads(path.read_text("utf-8"))
            cases[f"shared/{path.stem}"] = data.get("case", data)
    return cases


EXAMPLES = example_cases()


@cache
def case_and_assessment(name: str) -> tuple[Case, dict[str, Any]]:
    case = parse_case(EXAMPLES[name])
    return case, assess(case)


@cache
def _schema_validator() -> jsonschema.protocols.Validator:
    """Runs scripts/fetch-fhir-schema; a failure to fetch fails the tests (never a skip)."""
    script = ROOT / "scripts" / "fetch-fhir-schema"
    done = subprocess.run(
        [str(script)], capture_output=True, text=True, check=False, cwd=ROOT, timeout=300
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/fetch-fhir-schema failed: {done.stderr.strip()}", pytrace=False)
    path = Path(done.stdout.strip().splitlines()[-1])
    schema = json.loads(path.read_text("utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator: jsonschema.protocols.Validator = validator_class(schema)
    return validator


@pytest.fixture(scope="session")
def fhir_schema() -> jsonschema.protocols.Validator:
    """A validator for the official FHIR R4 JSON schema (fhir.schema.json)."""
    return _schema_validator()


def schema_errors(validator: jsonschema.protocols.Validator, resource: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message[:300]}"
        for error in validator.iter_errors(resource)
    ]


def assert_valid_fhir(validator: jsonschema.protocols.Validator, bundle: dict[str, Any]) -> None:
    """The bundle and each resource validate with the JSON schema and the R4B models."""
    problems = schema_errors(validator, bundle)
    for i, entry in enumerate(bundle.get("entry", [])):
        resource = entry["resource"]
        problems += [
            f"entry[{i}] {resource['resourceType']} {p}" for p in schema_errors(validator, resource)
        ]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert problems == []
    Bundle.model_validate(bundle)


# -- a tiny FHIR server on the loopback, for the CDS Hooks tests ------------------------------


class FhirStub:
    """A real HTTP FHIR server (FastAPI under uvicorn, 127.0.0.1 only) serving fixed resources."""

    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str | None]] = []
        self.token = "stub-access-token-" + uuid.uuid4().hex
        self.jwks: dict[str, Any] = {"keys": []}
        app = FastAPI()

        @app.get("/.well-known/jwks.json")
        def jwks() -> JSONResponse:
            return JSONResponse(self.jwks)

        @app.get("/{rtype}/{rid}")
        def read(rtype: str, rid: str, request: Request) -> JSONResponse:
            denied = self._check(request)
            if denied:
                return denied
            for resource in self.resources:
                if resource["resourceType"] == rtype and resource.get("id") == rid:
                    return JSONResponse(resource, media_type="application/fhir+json")
            return JSONResponse(
                {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "not-found"}],
                },
                status_code=404,
            )

        @app.get("/{rtype}")
        def search(rtype: str, request: Request) -> JSONResponse:
            denied = self._check(request)
            if denied:
                return denied
            patient = request.query_params.get("patient", "")
            found = [
                r
                for r in self.resources
                if r["resourceType"] == rtype and _refers_to(r, f"Patient/{patient}")
            ]
            bundle = {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(found),
                "entry": [
                    {
                        "fullUrl": f"{self.url}/{r['resourceType']}/{r['id']}",
                        "resource": r,
                        "search": {"mode": "match"},
                    }
                    for r in found
                ],
            }
            return JSONResponse(bundle, media_type="application/fhir+json")

        self.app = app
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _check(self, request: Request) -> JSONResponse | None:
        auth = request.headers.get("authorization")
        self.requests.append((request.url.path, auth))
        if auth != f"Bearer {self.token}":
            return JSONResponse({"resourceType": "OperationOutcome"}, status_code=401)
        return None

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the FHIR stub server did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def _refers_to(resource: dict[str, Any], target: str) -> bool:
    for key in ("subject", "patient", "for"):
        ref = resource.get(key)
        if isinstance(ref, dict) and ref.get("reference") == target:
            return True
    return False


@pytest.fixture(scope="session")
def fhir_stub() -> Iterator[FhirStub]:
    stub = FhirStub()
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()
