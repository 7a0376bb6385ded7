"""CDS Hooks 2.0 service: ``patient-view`` cards with SecondLook's red flags and safety alerts.

``cds_router(settings)`` returns a FastAPI router (the API mounts it) with:

- ``GET  /cds-services``                 discovery;
- ``POST /cds-services/{id}``            the ``secondlook-patient-view`` service;
- ``POST /cds-services/{id}/feedback``   card feedback.

Data comes from the request's prefetch; what is missing is read from the EHR's FHIR server when
the request gives ``fhirServer`` and ``fhirAuthorization.access_token``; with neither the answer
is 412. The case is built by ``import_bundle`` and assessed by the engine. Cards: one
``critical`` per red flag, one ``warning`` per safety alert, and one ``info`` summary linking to
the patient in SecondLook. A case that cannot be built still gets a card saying what is missing.
Every call is authenticated (``cds_auth``); a refusal is 401 with a problem+json body.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from secondlook.case import CaseInvalid, parse_case
from secondlook.engine import assess
from secondlook.fhir.cds_auth import AuthError, JwtSettings, verify_request_jwt
from secondlook.fhir.importer import import_bundle
from secondlook.fhir.outcome import BundleInvalid
from secondlook.knowledge import default_knowledge

log = logging.getLogger(__name__)

SERVICE_ID: Final = "secondlook-patient-view"
PREFETCH: Final = {
    "patient": "Patient/{{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "questionnaireResponses": "QuestionnaireResponse?patient={{context.patientId}}",
    "diagnosticReports": "DiagnosticReport?patient={{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
    "goals": "Goal?patient={{context.patientId}}",
}
PROBLEM_JSON: Final = "application/problem+json"
#: Searchset pages followed per prefetch key when reading the FHIR server ourselves.
MAX_PAGES: Final = 10
_PATIENT_ID: Final = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass
class FeedbackLog:
    """Card feedback received (in memory; the API may pass a store-backed sink instead)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, service_id: str, feedback: dict[str, Any]) -> None:
        with self._lock:
            self.items.append({"service": service_id, **feedback})


@dataclass
class CdsSettings:
    """Configuration of the CDS Hooks service.

    ``app_base_url``: SecondLook's web address, for the link to the patient
    (``{app_base_url}/patients/{patientId}``). ``public_base_url``: the external URL of the
    application's root as the EHR calls it (scheme, host, port), to which the request path
    (``/.../cds-services/...``, with any mount prefix) is appended to get the URL the JWT ``aud``
    must equal. When ``None``, the request's own URL is used (right only without a proxy in
    front). ``jwt``: trusted issuers and keys (``cds_auth``).
    """

    app_base_url: str
    jwt: JwtSettings
    public_base_url: str | None = None
    today: Callable[[], date] = date.today
    fhir_timeout_seconds: float = 10.0
    feedback_sink: Callable[[str, dict[str, Any]], None] = field(default_factory=FeedbackLog)
    #: The cards' link to the patient: called with ``context.patientId`` and the EHR's Patient
    #: resource (or None), returns a CDS Hooks link (``label``, ``url``, ``type``). Without it the
    #: link is ``{app_base_url}/patients/{patientId}`` (right only when SecondLook's patient ids
    #: are the EHR's). The API passes one that finds the SecondLook patient by MRN.
    patient_link: Callable[[str, Mapping[str, Any] | None], dict[str, str]] | None = None


def cds_router(settings: CdsSettings) -> APIRouter:
    """The CDS Hooks router (mount with ``app.include_router(cds_router(settings))``)."""
    router = APIRouter(tags=["cds-hooks"])

    def authenticate(request: Request) -> JSONResponse | None:
        audience = _audience(request, settings)
        try:
            verify_request_jwt(request.headers.get("authorization"), audience, settings.jwt)
        except AuthError as error:
            return _problem(
                401,
                "CDS client not authenticated",
                error.detail,
                reason=error.reason,
                headers={"WWW-Authenticate": _challenge(error.reason)},
            )
        return None

    @router.get("/cds-services")
    async def discovery(request: Request) -> JSONResponse:
        refused = await run_in_threadpool(authenticate, request)
        if refused is not None:
            return refused
        return JSONResponse(DISCOVERY)

    @router.post("/cds-services/{service_id}")
    async def call(service_id: str, request: Request) -> JSONResponse:
        refused = await run_in_threadpool(authenticate, request)
        if refused is not None:
            return refused
        if service_id != SERVICE_ID:
            return _problem(404, "Unknown CDS service", f"no service {service_id!r}")
        body = await _json_body(request)
        if isinstance(body, JSONResponse):
            return body
        problem = _check_request(body)
        if problem is not None:
            return problem
        return await run_in_threadpool(_respond, body, settings)

    @router.post("/cds-services/{service_id}/feedback")
    async def feedback(service_id: str, request: Request) -> JSONResponse:
        refused = await run_in_threadpool(authenticate, request)
        if refused is not None:
            return refused
        if service_id != SERVICE_ID:
            return _problem(404, "Unknown CDS service", f"no service {service_id!r}")
        body = await _json_body(request)
        if isinstance(body, JSONResponse):
            return body
        items = body.get("feedback")
        if not isinstance(items, list) or not items:
            return _problem(400, "Invalid feedback", "expected {'feedback': [ ... ]}")
        for i, item in enumerate(items):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("card"), str)
                or item.get("outcome") not in ("accepted", "overridden")
            ):
                return _problem(
                    400,
                    "Invalid feedback",
                    f"feedback[{i}] needs 'card' (the card uuid) and 'outcome' "
                    "('accepted' or 'overridden')",
                )
        for item in items:
            settings.feedback_sink(service_id, item)
        return JSONResponse({})

    return router


NOT_CONFIGURED: Final = "CDS Hooks not configured"


def unconfigured_cds_router() -> APIRouter:
    """The CDS Hooks routes of a server without CDS settings: discovery answers (so that an EHR
    administrator can see the service), every service and feedback call is refused with 401
    "CDS Hooks not configured" (reason ``not-configured``)."""
    router = APIRouter(tags=["cds-hooks"])

    def refuse() -> JSONResponse:
        return _problem(
            401,
            NOT_CONFIGURED,
            "this SecondLook server has no CDS Hooks settings (trusted EHR issuers and keys); "
            "start it with --cds-config FILE or SECONDLOOK_CDS_CONFIG",
            reason="not-configured",
            headers={"WWW-Authenticate": _challenge("not-configured")},
        )

    @router.get("/cds-services")
    async def discovery() -> JSONResponse:
        return JSONResponse(DISCOVERY)

    @router.post("/cds-services/{service_id}")
    async def call(service_id: str) -> JSONResponse:
        return refuse()

    @router.post("/cds-services/{service_id}/feedback")
    async def feedback(service_id: str) -> JSONResponse:
        return refuse()

    return router


DISCOVERY: Final = {
    "services": [
        {
            "hook": "patient-view",
            "id": SERVICE_ID,
            "title": "SecondLook: pain after spine surgery",
            "description": "Red flags, safety alerts and a summary of SecondLook's "
            "assessment of persistent pain after spine surgery.",
            "prefetch": PREFETCH,
        }
    ]
}


# -- helpers ----------------------------------------------------------------------------------


def _challenge(reason: str) -> str:
    return f'Bearer error="invalid_token", error_description="{reason}"'


def _audience(request: Request, settings: CdsSettings) -> str:
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/") + request.url.path
    return str(request.url.replace(query="", fragment=""))


def _problem(
    status: int,
    title: str,
    detail: str,
    *,
    reason: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if reason:
        body["reason"] = reason
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


async def _json_body(request: Request) -> dict[str, Any] | JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        return _problem(400, "Invalid request", "the body is not JSON")
    if not isinstance(body, dict):
        return _problem(400, "Invalid request", "the body must be a JSON object")
    return body


def _check_request(body: dict[str, Any]) -> JSONResponse | None:
    if body.get("hook") != "patient-view":
        return _problem(400, "Invalid request", f"hook {body.get('hook')!r}: expected patient-view")
    if not isinstance(body.get("hookInstance"), str):
        return _problem(400, "Invalid request", "hookInstance is required")
    context = body.get("context")
    patient_id = context.get("patientId") if isinstance(context, dict) else None
    if not isinstance(patient_id, str) or not _PATIENT_ID.match(patient_id):
        return _problem(400, "Invalid request", "context.patientId is required (a FHIR id)")
    prefetch = body.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, dict):
        return _problem(400, "Invalid request", "prefetch must be an object")
    return None


class _PreconditionFailed(Exception):
    pass


def _respond(body: dict[str, Any], settings: CdsSettings) -> JSONResponse:
    """Gather the data (network I/O) and build the cards (CPU): run in a worker thread."""
    try:
        bundle = _gather(body, settings)
    except _PreconditionFailed as failed:
        return _problem(412, "Precondition Failed", str(failed))
    return JSONResponse({"cards": _cards(body, bundle, settings)})


def _gather(body: dict[str, Any], settings: CdsSettings) -> dict[str, Any]:
    """A collection Bundle of the prefetch, completed from the FHIR server where needed."""
    patient_id = str(body["context"]["patientId"])
    prefetch: dict[str, Any] = body.get("prefetch") or {}
    missing = [key for key in PREFETCH if key not in prefetch]
    server = body.get("fhirServer")
    auth = body.get("fhirAuthorization")
    token = auth.get("access_token") if isinstance(auth, dict) else None
    fetched: dict[str, Any] = {}
    if missing:
        if (
            not isinstance(server, str)
            or not server.startswith(("http://", "https://"))
            or not (isinstance(token, str) and token)
        ):
            raise _PreconditionFailed(
                f"prefetch lacks {', '.join(missing)} and the request gives no fhirServer with "
                "fhirAuthorization.access_token to read them"
            )
        fetched = _fetch(server, token, patient_id, missing, settings)
    resources: list[dict[str, Any]] = []
    seen: set[str] = set()
    for key in PREFETCH:
        value = prefetch.get(key, fetched.get(key))
        for resource in _resources_of(value):
            rtype, rid = resource.get("resourceType"), resource.get("id")
            ident = f"{rtype}/{rid}" if rid else f"#{len(resources)}"
            if ident in seen:
                continue
            seen.add(ident)
            resources.append(resource)
    if not any(r.get("resourceType") == "Patient" for r in resources):
        raise _PreconditionFailed(f"the Patient {patient_id!r} is neither prefetched nor readable")
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def _resources_of(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        found = []
        for entry in value.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
                found.append(resource)
        return found
    return [value]


def _fetch(
    server: str, token: str, patient_id: str, keys: list[str], settings: CdsSettings
) -> dict[str, Any]:
    base = server.rstrip("/")
    results: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    try:
        with httpx.Client(timeout=settings.fhir_timeout_seconds, headers=headers) as client:
            for key in keys:
                query = PREFETCH[key].replace("{{context.patientId}}", quote(patient_id, safe=""))
                response = client.get(f"{base}/{query}")
                if response.status_code == 404 and key != "patient":
                    results[key] = None
                    continue
                response.raise_for_status()
                data = response.json()
                entries = (
                    list(data.get("entry") or []) if data.get("resourceType") == "Bundle" else []
                )
                pages = 1
                next_url = _next_link(data)
                while next_url and pages < MAX_PAGES:
                    page = client.get(next_url)
                    page.raise_for_status()
                    page_data = page.json()
                    entries += list(page_data.get("entry") or [])
                    next_url = _next_link(page_data)
                    pages += 1
                if data.get("resourceType") == "Bundle":
                    data = {**data, "entry": entries}
                results[key] = data
    except (httpx.HTTPError, ValueError, AttributeError) as error:
        raise _PreconditionFailed(f"the FHIR server {server} could not be read: {error}") from None
    return results


def _next_link(data: object) -> str | None:
    if not isinstance(data, dict):
        return None
    for link in data.get("link") or []:
        if (
            isinstance(link, dict)
            and link.get("relation") == "next"
            and isinstance(link.get("url"), str)
        ):
            return str(link["url"])
    return None


def _source(settings: CdsSettings) -> dict[str, Any]:
    return {"label": "SecondLook", "url": settings.app_base_url}


def _card(
    hook_instance: str,
    index: int,
    summary: str,
    indicator: str,
    detail: str,
    settings: CdsSettings,
    links: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{hook_instance}/{index}")),
        "summary": summary if len(summary) < 140 else summary[:136] + "...",
        "indicator": indicator,
        "detail": detail,
        "source": _source(settings),
    }
    if links:
        card["links"] = links
    return card


def _cards(
    body: dict[str, Any], bundle: dict[str, Any], settings: CdsSettings
) -> list[dict[str, Any]]:
    patient_id = str(body["context"]["patientId"])
    hook = str(body["hookInstance"])
    if settings.patient_link is not None:
        patient = next(
            (
                e["resource"]
                for e in bundle["entry"]
                if e["resource"].get("resourceType") == "Patient"
            ),
            None,
        )
        link = settings.patient_link(patient_id, patient)
    else:
        link = {
            "label": "Open in SecondLook",
            "url": f"{settings.app_base_url.rstrip('/')}/patients/{quote(patient_id, safe='')}",
            "type": "absolute",
        }
    try:
        result = import_bundle(
            bundle, assessed_on=settings.today(), case_id=patient_id, strict_references=False
        )
    except BundleInvalid as invalid:
        lines = "\n".join(f"- {i.diagnostics} ({i.expression or 'Bundle'})" for i in invalid.issues)
        return [
            _card(
                hook,
                0,
                "SecondLook could not read this patient's FHIR data",
                "warning",
                f"The data could not be read, so no assessment was made:\n\n{lines}",
                settings,
                [link],
            )
        ]
    try:
        case = parse_case(result.case)
    except CaseInvalid as invalid:
        lines = "\n".join(
            f"- `{p.path}`: {p.message}" + (f" ({p.hint})" if p.hint else "")
            for p in invalid.problems
        )
        return [
            _card(
                hook,
                0,
                "SecondLook needs more data to assess this patient",
                "info",
                "SecondLook could not assess this patient's pain after spine surgery; "
                f"the record lacks:\n\n{lines}\n\nComplete the case in SecondLook.",
                settings,
                [link],
            )
        ]
    try:
        assessment = assess(case)
    except Exception:  # a card, never a 500, in the EHR's workflow; the log has the traceback
        log.exception("assessment failed for hookInstance %s", hook)
        return [
            _card(
                hook,
                0,
                "SecondLook could not assess this patient (internal error)",
                "warning",
                "The assessment failed; it has been logged. Open the patient in SecondLook.",
                settings,
                [link],
            )
        ]
    return assessment_cards(hook, assessment, settings, link)


def assessment_cards(
    hook_instance: str,
    assessment: Mapping[str, Any],
    settings: CdsSettings,
    link: dict[str, str],
) -> list[dict[str, Any]]:
    """Cards of an assessment: each red flag, each safety alert, then the summary."""
    kb = default_knowledge()
    flag_names = {f.id: f.name for f in kb.red_flags}
    alert_names = {a.id: a.name for a in kb.safety_alerts}
    cards: list[dict[str, Any]] = []
    for flag in assessment.get("red_flags", []):
        name = flag_names.get(flag["id"], flag["id"])
        because = "\n".join(f"- {b}" for b in flag.get("because", []))
        cards.append(
            _card(
                hook_instance,
                len(cards),
                f"Red flag ({flag['urgency']}): {name}",
                "critical",
                f"**{flag['action']}**\n\nBecause:\n{because}",
                settings,
                [link],
            )
        )
    for alert in assessment.get("safety_alerts", []):
        name = alert_names.get(alert["id"], alert["id"])
        because = "\n".join(f"- {b}" for b in alert.get("because", []))
        cards.append(
            _card(
                hook_instance,
                len(cards),
                f"Safety alert: {name}",
                "warning",
                f"**{alert['action']}**\n\nBecause:\n{because}",
                settings,
                [link],
            )
        )
    found = assessment["classification"]
    lines = [str(b) for b in found.get("because", [])]
    likely = [
        d["id"] for d in assessment.get("differential", []) if d.get("likelihood") == "likely"
    ]
    if likely:
        lines.append("Likely causes: " + ", ".join(likely) + ".")
    urgent = [w["id"] for w in assessment.get("workup", []) if w.get("priority") != "routine"]
    if urgent:
        lines.append("Urgent work-up: " + ", ".join(urgent) + ".")
    cards.append(
        _card(
            hook_instance,
            len(cards),
            f"SecondLook: {found['condition'].replace('-', ' ')}"
            + (" (chronic)" if found.get("chronic") else ""),
            "info",
            "\n".join(f"- {line}" for line in lines),
            settings,
            [link],
        )
    )
    return cards
