"""CDS Hooks 2.0 service: ``patient-view`` cards with SecondLook's red flags and safety alerts.

``cds_router(settings)`` returns a FastAPI router (the API mounts it) with:

- ``GET  /cds-services``                 discovery;
- ``POST /cds-services/{id}``            the ``secondlook-patient-view`` service;
- ``POST /cds-services/{id}/feedback``   card feedback.

Data comes from the request's prefetch; what is missing is read from the EHR's FHIR server when
the request gives ``fhirServer`` (on the allowlist of the issuer that signed the call) and
``fhirAuthorization.access_token``; without them a missing prefetch key is 412 (``cds_data``).
The case is built by ``import_bundle`` and assessed by the engine. Cards: one ``critical`` per
red flag, one ``warning`` per safety alert, one ``warning`` listing what was left out of the
record (a resource whose reference could not be read, a page or a prefetch key the EHR could not
give), and one ``info`` summary linking to the patient in SecondLook. A data problem leaves out
only the resource it concerns, never the red flags the rest of the record supports. A case that
cannot be built still gets a card saying what is missing. Every call is authenticated
(``cds_auth``); a refusal is 401 with a problem+json body. Each card returned is recorded with
the alert it states (``CardStore``), so that feedback on a card is tied to that alert.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Protocol
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from secondlook.case import CaseInvalid, parse_case
from secondlook.engine import assess
from secondlook.fhir.cds_auth import (
    AuthError,
    JwtSettings,
    ReplayCheckUnavailable,
    verify_request_jwt,
)
from secondlook.fhir.cds_data import MAX_PAGES, PREFETCH, Gathered, PreconditionFailed, gather
from secondlook.fhir.lenient import import_leniently, prune_case
from secondlook.fhir.outcome import BundleInvalid
from secondlook.knowledge import default_knowledge

log = logging.getLogger(__name__)

__all__ = ["MAX_PAGES", "PREFETCH", "CdsSettings", "cds_router"]

SERVICE_ID: Final = "secondlook-patient-view"
PROBLEM_JSON: Final = "application/problem+json"
_PATIENT_ID: Final = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
#: Largest request body read (a prefetch of a long record is a few megabytes).
MAX_BODY_BYTES: Final = 32 * 1024 * 1024
#: Deepest JSON nesting read: FHIR resources nest a dozen levels; far deeper is an attack.
MAX_JSON_DEPTH: Final = 64
#: Times the record is read again after leaving out the resources the importer refused.
MAX_IMPORT_ROUNDS: Final = 5


@dataclass(frozen=True)
class IssuedCard:
    """A card as recorded: what it states (``kind``: red-flag, safety-alert, summary,
    data-problem) and the red flag or safety alert id, if any."""

    uuid: str
    kind: str
    alert_id: str | None
    summary: str


@dataclass(frozen=True)
class PatientLink:
    """The cards' link to the patient, and the SecondLook patient it opens (if one)."""

    link: dict[str, str]
    patient_id: int | None = None


class CardStore(Protocol):
    """Where returned cards and the EHR's feedback on them are kept."""

    def issued(
        self,
        *,
        issuer: str,
        service_id: str,
        hook_instance: str,
        ehr_patient_id: str,
        patient_id: int | None,
        cards: Sequence[IssuedCard],
    ) -> None: ...

    def feedback(
        self, *, issuer: str, service_id: str, items: Sequence[Mapping[str, Any]]
    ) -> list[int]:
        """Record the feedback; returns the indexes of items naming a card this issuer was
        never given (then nothing is recorded)."""
        ...


@dataclass
class FeedbackLog:
    """Cards and feedback in memory (the application stores them in the database)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    cards: dict[str, tuple[str, IssuedCard]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issued(
        self,
        *,
        issuer: str,
        service_id: str,
        hook_instance: str,
        ehr_patient_id: str,
        patient_id: int | None,
        cards: Sequence[IssuedCard],
    ) -> None:
        with self._lock:
            for card in cards:
                self.cards[card.uuid] = (issuer, card)

    def feedback(
        self, *, issuer: str, service_id: str, items: Sequence[Mapping[str, Any]]
    ) -> list[int]:
        with self._lock:
            unknown = [
                i
                for i, item in enumerate(items)
                if self.cards.get(str(item["card"]), ("", None))[0] != issuer
            ]
            if unknown:
                return unknown
            for item in items:
                card = self.cards[str(item["card"])][1]
                self.items.append({"service": service_id, "alert_id": card.alert_id, **item})
        return []


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
    #: issuer -> the FHIR server base URLs (their origins) its calls may name in ``fhirServer``;
    #: only those are read, and only they receive the EHR's access token.
    fhir_servers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    card_store: CardStore = field(default_factory=FeedbackLog)
    #: The cards' link to the patient: called with the issuer, ``context.patientId`` and the
    #: EHR's Patient resource (or None). Without it the link is
    #: ``{app_base_url}/patients/{patientId}`` (right only when SecondLook's patient ids are the
    #: EHR's). The API passes one that finds the SecondLook patient by MRN and demographics.
    patient_link: Callable[[str, str, Mapping[str, Any] | None], PatientLink] | None = None
    #: SecondLook's SMART launch URL (``{base}/smart/launch``): when set, every card also
    #: carries a SMART app link (``type: smart``), so the EHR launches the workspace with the
    #: patient in context (docs/fhir.md, "SMART EHR launch").
    smart_launch_url: str | None = None


def cds_router(settings: CdsSettings) -> APIRouter:
    """The CDS Hooks router (mount with ``app.include_router(cds_router(settings))``)."""
    router = APIRouter(tags=["cds-hooks"])

    def authenticate(request: Request) -> str | JSONResponse:
        """The verified issuer, or the refusal."""
        audience = _audience(request, settings)
        try:
            claims = verify_request_jwt(
                request.headers.get("authorization"), audience, settings.jwt
            )
        except AuthError as error:
            return _problem(
                401,
                "CDS client not authenticated",
                error.detail,
                reason=error.reason,
                headers={"WWW-Authenticate": _challenge(error.reason)},
            )
        except ReplayCheckUnavailable:
            return _problem(
                503,
                "Service Unavailable",
                "the token's replay check is unavailable; try again",
                headers={"Retry-After": "5"},
            )
        return str(claims["iss"])

    @router.get("/cds-services")
    async def discovery(request: Request) -> JSONResponse:
        issuer = await run_in_threadpool(authenticate, request)
        if isinstance(issuer, JSONResponse):
            return issuer
        return JSONResponse(DISCOVERY)

    @router.post("/cds-services/{service_id}")
    async def call(service_id: str, request: Request) -> JSONResponse:
        issuer = await run_in_threadpool(authenticate, request)
        if isinstance(issuer, JSONResponse):
            return issuer
        if service_id != SERVICE_ID:
            return _problem(404, "Unknown CDS service", f"no service {service_id!r}")
        body = await _json_body(request)
        if isinstance(body, JSONResponse):
            return body
        problem = _check_request(body)
        if problem is not None:
            return problem
        return await run_in_threadpool(_respond, body, settings, issuer)

    @router.post("/cds-services/{service_id}/feedback")
    async def feedback(service_id: str, request: Request) -> JSONResponse:
        issuer = await run_in_threadpool(authenticate, request)
        if isinstance(issuer, JSONResponse):
            return issuer
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
                or len(item["card"]) > 36
                or item.get("outcome") not in ("accepted", "overridden")
            ):
                return _problem(
                    400,
                    "Invalid feedback",
                    f"feedback[{i}] needs 'card' (the card uuid) and 'outcome' "
                    "('accepted' or 'overridden')",
                )
        unknown = await run_in_threadpool(
            lambda: settings.card_store.feedback(issuer=issuer, service_id=service_id, items=items)
        )
        if unknown:
            return _problem(
                400,
                "Invalid feedback",
                f"feedback[{unknown[0]}].card is not a card this service returned to you",
            )
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
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            return _problem(
                413, "Request too large", f"the body is larger than {MAX_BODY_BYTES} bytes"
            )
    try:
        body = json.loads(raw)
    except RecursionError:
        return _too_deep()
    except ValueError:
        return _problem(400, "Invalid request", "the body is not JSON")
    if not isinstance(body, dict):
        return _problem(400, "Invalid request", "the body must be a JSON object")
    if _depth(body) > MAX_JSON_DEPTH:  # before any recursive reader (the importer) sees it
        return _too_deep()
    return body


def _too_deep() -> JSONResponse:
    return _problem(400, "Invalid request", f"the JSON nests deeper than {MAX_JSON_DEPTH} levels")


def _depth(value: object) -> int:
    """How deeply a parsed JSON value nests (iteratively: no recursion limit to hit)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Sequence[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


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


def _respond(body: dict[str, Any], settings: CdsSettings, issuer: str) -> JSONResponse:
    """Gather the data (network I/O) and build the cards (CPU): run in a worker thread."""
    try:
        gathered = gather(
            body,
            allowed_servers=settings.fhir_servers.get(issuer, ()),
            timeout=settings.fhir_timeout_seconds,
            today=settings.today(),
        )
    except PreconditionFailed as failed:
        return _problem(412, "Precondition Failed", str(failed))
    patient_id = str(body["context"]["patientId"])
    patient = gathered.bundle["entry"][0]["resource"]
    if settings.patient_link is not None:
        linked = settings.patient_link(issuer, patient_id, patient)
    else:
        linked = PatientLink(
            {
                "label": "Open in SecondLook",
                "url": f"{settings.app_base_url.rstrip('/')}/patients/{quote(patient_id, safe='')}",
                "type": "absolute",
            }
        )
    issued = _cards(body, gathered, settings, linked.link)
    try:
        settings.card_store.issued(
            issuer=issuer,
            service_id=SERVICE_ID,
            hook_instance=str(body["hookInstance"]),
            ehr_patient_id=patient_id,
            patient_id=linked.patient_id,
            cards=[card for card, _ in issued],
        )
    except Exception:  # the cards still go out: feedback on them is what would be lost
        log.exception(
            "CDS Hooks: the cards of hookInstance %s were not recorded", body["hookInstance"]
        )
    return JSONResponse({"cards": [card for _, card in issued]})


def _source(settings: CdsSettings) -> dict[str, Any]:
    return {"label": "SecondLook", "url": settings.app_base_url}


Issued = tuple[IssuedCard, dict[str, Any]]


def _card(
    kind: str,
    alert_id: str | None,
    summary: str,
    indicator: str,
    detail: str,
    settings: CdsSettings,
    links: list[dict[str, str]] | None = None,
) -> Issued:
    # A random uuid: feedback names the card, and a hookInstance may be sent again.
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": summary if len(summary) < 140 else summary[:136] + "...",
        "indicator": indicator,
        "detail": detail,
        "source": _source(settings),
    }
    if links and settings.smart_launch_url:
        links = [
            *links,
            {
                "label": "Open SecondLook in the EHR",
                "url": settings.smart_launch_url,
                "type": "smart",
            },
        ]
    if links:
        card["links"] = links
    return IssuedCard(card["uuid"], kind, alert_id, card["summary"]), card


def _problems_card(problems: Sequence[str], settings: CdsSettings, link: dict[str, str]) -> Issued:
    lines = "\n".join(f"- {p}" for p in problems)
    return _card(
        "data-problem",
        None,
        "SecondLook left out part of this patient's FHIR data",
        "warning",
        "The assessment was made without these parts of the record; check them in the chart:"
        f"\n\n{lines}",
        settings,
        [link],
    )


def _import(
    bundle: dict[str, Any], patient_id: str, settings: CdsSettings, problems: list[str]
) -> Any:
    return import_leniently(bundle, patient_id, settings.today(), problems)


def _parse(document: dict[str, Any], problems: list[str]) -> Any:
    """parse_case of the case with what it refuses left out and reported (lenient.py)."""
    return parse_case(prune_case(document, problems))


def _cards(
    body: dict[str, Any], gathered: Gathered, settings: CdsSettings, link: dict[str, str]
) -> list[Issued]:
    patient_id = str(body["context"]["patientId"])
    hook = str(body["hookInstance"])
    problems = list(gathered.problems)
    try:
        result = _import(gathered.bundle, patient_id, settings, problems)
    except BundleInvalid as invalid:
        lines = "\n".join(f"- {i.diagnostics} ({i.expression or 'Bundle'})" for i in invalid.issues)
        return [
            _card(
                "data-problem",
                None,
                "SecondLook could not read this patient's FHIR data",
                "warning",
                f"The data could not be read, so no assessment was made:\n\n{lines}",
                settings,
                [link],
            )
        ]
    try:
        case = _parse(result.case, problems)
    except CaseInvalid as invalid:
        lines = "\n".join(
            f"- `{p.path}`: {p.message}" + (f" ({p.hint})" if p.hint else "")
            for p in invalid.problems
        )
        more = "\n".join(f"- {p}" for p in problems)
        return [
            _card(
                "data-problem",
                None,
                "SecondLook needs more data to assess this patient",
                "info",
                "SecondLook could not assess this patient's pain after spine surgery; "
                f"the record lacks:\n\n{lines}\n\nComplete the case in SecondLook."
                + (f"\n\nAlso left out of the record:\n\n{more}" if more else ""),
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
                "data-problem",
                None,
                "SecondLook could not assess this patient (internal error)",
                "warning",
                "The assessment failed; it has been logged. Open the patient in SecondLook.",
                settings,
                [link],
            )
        ]
    return _assessment_cards(assessment, settings, link, problems)


def assessment_cards(
    assessment: Mapping[str, Any], settings: CdsSettings, link: dict[str, str]
) -> list[dict[str, Any]]:
    """Cards of an assessment: each red flag, each safety alert, then the summary."""
    return [card for _, card in _assessment_cards(assessment, settings, link, [])]


def _assessment_cards(
    assessment: Mapping[str, Any],
    settings: CdsSettings,
    link: dict[str, str],
    problems: Sequence[str],
) -> list[Issued]:
    """Each red flag, each safety alert, what was left out of the record, then the summary."""
    kb = default_knowledge()
    flag_names = {f.id: f.name for f in kb.red_flags}
    alert_names = {a.id: a.name for a in kb.safety_alerts}
    cards: list[Issued] = []
    for flag in assessment.get("red_flags", []):
        name = flag_names.get(flag["id"], flag["id"])
        because = "\n".join(f"- {b}" for b in flag.get("because", []))
        cards.append(
            _card(
                "red-flag",
                str(flag["id"]),
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
                "safety-alert",
                str(alert["id"]),
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
    if problems:
        cards.append(_problems_card(problems[:50], settings, link))
    cards.append(
        _card(
            "summary",
            None,
            f"SecondLook: {found['condition'].replace('-', ' ')}"
            + (" (chronic)" if found.get("chronic") else ""),
            "info",
            "\n".join(f"- {line}" for line in lines),
            settings,
            [link],
        )
    )
    return cards
