"""The patient's data for one CDS Hooks call: the prefetch, completed from the EHR's FHIR server.

What the EHR prefetched is used as sent, entry ``fullUrl``s included (so that ``urn:uuid``
references resolve). SecondLook reads the EHR's FHIR server itself only

- for a prefetch key that is missing or whose value is an OperationOutcome (the CDS Hooks 2.0 way
  of saying "this prefetch failed"),
- for the further pages of a searchset (``Bundle.link`` ``next``, at most ``MAX_PAGES`` per key),
- for the target of a reference the mapping follows (a ``medicationReference``, a
  ``derivedFrom``, a ``DiagnosticReport.result``...) that is in neither the prefetch nor the
  ``_include``d resources (at most ``MAX_REFERENCE_READS``),

and only when the request's ``fhirServer`` is on the allowlist of the issuer that signed the
call, with its ``fhirAuthorization`` token. The token goes only to that origin: a ``next`` link or
a reference to another origin is never followed; redirects are not followed; link-local,
multicast and unspecified addresses are never contacted. What still cannot be read makes that one
resource be left out, and each such problem is reported (``Gathered.problems``), so that the rest
of the record (and every red flag it supports) is still assessed. Upstream error texts are
logged, never echoed.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final
from urllib.parse import quote, urlsplit

import httpx

log = logging.getLogger(__name__)

#: Prefetch templates. Observations are limited to the categories the mapping reads and come
#: newest first; ``_include`` brings the targets of the references the mapping follows.
PREFETCH: Final = {
    "patient": "Patient/{{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}"
    "&category=survey,vital-signs,laboratory,social-history,exam,imaging"
    "&_sort=-date&_count=200&_include=Observation:derived-from&_include=Observation:has-member",
    "questionnaireResponses": "QuestionnaireResponse?patient={{context.patientId}}",
    "diagnosticReports": "DiagnosticReport?patient={{context.patientId}}"
    "&_include=DiagnosticReport:result",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}"
    "&_include=MedicationStatement:medication",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}"
    "&_include=MedicationRequest:medication",
    "goals": "Goal?patient={{context.patientId}}",
}
#: When SecondLook reads Observations itself it also bounds them by date (prefetch templates
#: have no date token): the last ten years hold every score trajectory and lab the rules use.
OBSERVATION_YEARS: Final = 10
#: Searchset pages read per prefetch key (the first included).
MAX_PAGES: Final = 10
#: Reference targets read one by one per call.
MAX_REFERENCE_READS: Final = 50
#: References whose target the mapping reads (the importer's FOLLOWED_REFERENCES, and
#: ``hasMember`` for panels).
FOLLOWED: Final = frozenset(
    {"subject", "patient", "derivedFrom", "result", "medicationReference", "hasMember"}
)
#: References naming whom a resource is about: resolved against the context Patient only.
_ABOUT: Final = frozenset({"subject", "patient"})
#: Problems reported per call (each resource left out is one).
MAX_PROBLEMS: Final = 50


class PreconditionFailed(Exception):
    """The call cannot be answered from what the EHR gave (412); the message is safe to show."""


@dataclass
class Gathered:
    """A collection Bundle of the patient's data, and what was left out or could not be read."""

    bundle: dict[str, Any]
    problems: list[str] = field(default_factory=list)


def origin(url: str) -> str | None:
    """``scheme://host:port`` of an http(s) URL (default ports made explicit), or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        return None
    port = port or (443 if scheme == "https" else 80)
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def never_contacted(host: str) -> bool:
    """Addresses that are never a FHIR server (cloud metadata, multicast, unspecified)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return True
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            return True
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None and (mapped.is_link_local or mapped.is_unspecified):
            return True
    return False


class _Server:
    """The EHR's FHIR server, read with its token and never anywhere else."""

    def __init__(self, base: str, token: str, timeout: float) -> None:
        self.base = base.rstrip("/")
        self.origin = origin(base)
        self.client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
        )
        self.reads = 0

    def same_origin(self, url: str) -> bool:
        return self.origin is not None and origin(url) == self.origin

    def get(self, url: str) -> Any:
        """The JSON at `url` (on this server's origin only); raises _Unreadable."""
        if not self.same_origin(url):
            raise _Unreadable("it is on another server than the request's fhirServer")
        try:
            response = self.client.get(url)
        except httpx.HTTPError as error:
            log.warning("CDS Hooks: reading %s failed: %s", url, error)
            raise _Unreadable("the FHIR server could not be reached") from None
        if response.status_code != 200:
            log.warning("CDS Hooks: %s answered %s", url, response.status_code)
            raise _Unreadable(f"the FHIR server answered {response.status_code}")
        try:
            return response.json()
        except (ValueError, RecursionError):
            raise _Unreadable("the FHIR server's answer is not JSON") from None

    def close(self) -> None:
        self.client.close()


class _Unreadable(Exception):
    """A read that failed; the message is ours (never the upstream text)."""


def gather(
    body: Mapping[str, Any],
    *,
    allowed_servers: Sequence[str],
    timeout: float,
    today: date,
) -> Gathered:
    """The patient's data for this call (see the module docstring); PreconditionFailed when
    the Patient itself, or a prefetch key the EHR did not send, cannot be read."""
    patient_id = str(body["context"]["patientId"])
    prefetch: Mapping[str, Any] = body.get("prefetch") or {}
    problems: list[str] = []
    server, refused = _server(body, allowed_servers, timeout)
    try:
        return _gather(patient_id, prefetch, server, refused, problems, today)
    finally:
        if server is not None:
            server.close()


def _server(
    body: Mapping[str, Any], allowed: Sequence[str], timeout: float
) -> tuple[_Server | None, str | None]:
    """The server to read, or None with why (a sentence that never names the URL)."""
    url = body.get("fhirServer")
    auth = body.get("fhirAuthorization")
    token = auth.get("access_token") if isinstance(auth, Mapping) else None
    if not isinstance(url, str) or not url:
        return None, "the request gives no fhirServer"
    if not (isinstance(token, str) and token):
        return None, "the request gives no fhirAuthorization.access_token"
    found = origin(url)
    if found is None or found not in {origin(a) for a in allowed}:
        log.warning("CDS Hooks: fhirServer %r is not on the issuer's allowlist", url)
        return None, "the request's fhirServer is not on the allowlist for this EHR"
    host = urlsplit(url).hostname or ""
    if never_contacted(host):
        log.warning("CDS Hooks: fhirServer %r resolves to an address never contacted", url)
        return None, "the request's fhirServer is not an address SecondLook contacts"
    return _Server(url, token, timeout), None


def _gather(
    patient_id: str,
    prefetch: Mapping[str, Any],
    server: _Server | None,
    refused: str | None,
    problems: list[str],
    today: date,
) -> Gathered:
    entries: list[dict[str, Any]] = []  # {"fullUrl"?, "resource"}
    missing: list[str] = []
    for key in PREFETCH:
        value = prefetch.get(key) if key in prefetch else _ABSENT
        if isinstance(value, Mapping) and value.get("resourceType") == "OperationOutcome":
            said = _outcome_text(value)
            if server is None:
                if key == "patient":
                    raise PreconditionFailed(
                        f"the EHR could not prefetch the Patient ({said}) and {refused}"
                    )
                problems.append(
                    f"The EHR could not prefetch {key} ({said}); it was not read, so this "
                    "assessment lacks it."
                )
                continue
            value = _ABSENT
        if value is _ABSENT:
            if server is None:
                missing.append(key)
                continue
            try:
                value = _search(server, key, patient_id, today, problems)
            except _Unreadable as why:
                if key == "patient":
                    raise PreconditionFailed(
                        f"the Patient {patient_id!r} could not be read from the FHIR server ({why})"
                    ) from None
                problems.append(f"{key} could not be read from the FHIR server ({why}).")
                continue
        elif isinstance(value, Mapping) and value.get("resourceType") == "Bundle":
            value = _more_pages(server, key, value, problems)
        entries += _entries_of(key, value, problems)
    if missing:
        raise PreconditionFailed(
            f"prefetch lacks {', '.join(missing)} and {refused}, so they cannot be read"
        )
    entries = _unique(entries)
    patient_index = next(
        (
            i
            for i, e in enumerate(entries)
            if e["resource"].get("resourceType") == "Patient"
            and e["resource"].get("id") == patient_id
        ),
        None,
    )
    if patient_index is None:
        raise PreconditionFailed(f"the Patient {patient_id!r} is neither prefetched nor readable")
    entries.insert(0, entries.pop(patient_index))  # the importer's patient is the first one
    entries = _complete(entries, server, problems)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return Gathered(bundle, problems[:MAX_PROBLEMS])


_ABSENT: Final[Any] = object()


def _outcome_text(outcome: Mapping[str, Any]) -> str:
    texts = []
    for issue in outcome.get("issue") or []:
        if isinstance(issue, Mapping):
            details = issue.get("details")
            text = issue.get("diagnostics") or (
                details.get("text") if isinstance(details, Mapping) else None
            )
            texts.append(str(text or issue.get("code") or "no detail"))
    said = "; ".join(texts) or "no detail"
    return said if len(said) <= 200 else said[:197] + "..."


def _search(server: _Server, key: str, patient_id: str, today: date, problems: list[str]) -> Any:
    query = PREFETCH[key].replace("{{context.patientId}}", quote(patient_id, safe=""))
    if key == "observations":
        since = today - timedelta(days=365 * OBSERVATION_YEARS)
        query += f"&date=ge{since.isoformat()}"
    first = server.get(f"{server.base}/{query}")
    if isinstance(first, Mapping) and first.get("resourceType") == "Bundle":
        first = _more_pages(server, key, first, problems)
    return first


def _more_pages(
    server: _Server | None, key: str, bundle: Mapping[str, Any], problems: list[str]
) -> dict[str, Any]:
    """The searchset with its further pages' entries appended (bounded; same origin only)."""
    entries = list(bundle.get("entry") or []) if isinstance(bundle.get("entry"), list) else []
    next_url = _next_link(bundle)
    pages = 1
    while next_url is not None:
        if pages >= MAX_PAGES:
            problems.append(
                f"{key}: only the first {MAX_PAGES} pages were read; later entries are missing."
            )
            break
        if server is None:
            problems.append(
                f"{key}: the searchset has more pages, which could not be read "
                "(the request gives no usable fhirServer)."
            )
            break
        if not server.same_origin(next_url):
            log.warning("CDS Hooks: a next link to another origin was not followed: %r", next_url)
            problems.append(f"{key}: a next page on another server than fhirServer was not read.")
            break
        try:
            page = server.get(next_url)
        except _Unreadable as why:
            problems.append(f"{key}: a further page could not be read ({why}).")
            break
        if not isinstance(page, Mapping) or page.get("resourceType") != "Bundle":
            problems.append(f"{key}: a further page is not a Bundle and was not read.")
            break
        more = page.get("entry")
        entries += more if isinstance(more, list) else []
        next_url = _next_link(page)
        pages += 1
    return {**bundle, "entry": entries}


def _next_link(data: Mapping[str, Any]) -> str | None:
    links = data.get("link")
    for link in links if isinstance(links, list) else []:
        if (
            isinstance(link, Mapping)
            and link.get("relation") == "next"
            and isinstance(link.get("url"), str)
        ):
            return str(link["url"])
    return None


def _entries_of(key: str, value: Any, problems: list[str]) -> list[dict[str, Any]]:
    if value is None:
        return []  # CDS Hooks: null means the search found nothing
    if not isinstance(value, Mapping):
        problems.append(f"{key}: the prefetch value is not a FHIR resource and was not read.")
        return []
    if value.get("resourceType") != "Bundle":
        if not isinstance(value.get("resourceType"), str):
            problems.append(f"{key}: the prefetch value has no resourceType and was not read.")
            return []
        return [{"resource": dict(value)}]
    found = []
    raw = value.get("entry")
    for i, entry in enumerate(raw if isinstance(raw, list) else []):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping) or not isinstance(resource.get("resourceType"), str):
            problems.append(f"{key}: entry {i} holds no resource and was left out.")
            continue
        if resource["resourceType"] == "OperationOutcome":  # search.mode "outcome"
            problems.append(f"{key}: the EHR's search reported: {_outcome_text(resource)}.")
            continue
        item: dict[str, Any] = {"resource": dict(resource)}
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str) and full_url:
            item["fullUrl"] = full_url
        found.append(item)
    return found


def _unique(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    found = []
    for entry in entries:
        resource = entry["resource"]
        rid = resource.get("id")
        ident = f"{resource['resourceType']}/{rid}" if isinstance(rid, str) else None
        if ident is not None:
            if ident in seen:
                continue
            seen.add(ident)
        found.append(entry)
    return found


# -- references ---------------------------------------------------------------------------------


def _references(value: Any, key: str | None = None) -> Iterator[tuple[str, str]]:
    """(element name, reference) of every followed Reference inside a resource (not in
    contained resources, which resolve inside the resource)."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            if name == "contained":
                continue
            if name == "reference" and isinstance(item, str) and key in FOLLOWED:
                yield key, item
            elif isinstance(item, Mapping | list):
                yield from _references(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item, key)


class _Index:
    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.urls = {e["fullUrl"] for e in entries if "fullUrl" in e}
        self.keys = {
            f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in entries
            if isinstance(e["resource"].get("id"), str)
        }

    def resolves(self, reference: str, resource: Mapping[str, Any]) -> bool:
        if reference.startswith("#"):
            contained = resource.get("contained")
            return reference == "#" or any(
                isinstance(c, Mapping) and f"#{c.get('id')}" == reference
                for c in (contained if isinstance(contained, list) else [])
            )
        if reference in self.urls:
            return True
        if reference.startswith(("urn:uuid:", "urn:oid:")):
            return False
        return _type_id(reference) in self.keys

    def add(self, entry: dict[str, Any]) -> None:
        if "fullUrl" in entry:
            self.urls.add(entry["fullUrl"])
        resource = entry["resource"]
        if isinstance(resource.get("id"), str):
            self.keys.add(f"{resource['resourceType']}/{resource['id']}")


def _type_id(reference: str) -> str:
    parts = reference.split("/_history/")[0].split("?")[0].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else reference


def _complete(
    entries: list[dict[str, Any]], server: _Server | None, problems: list[str]
) -> list[dict[str, Any]]:
    """Read the followed references' missing targets; leave out (and report) each resource
    whose target still cannot be read."""
    index = _Index(entries)
    pending = list(entries)
    while pending and server is not None:
        wanted: dict[str, str] = {}
        for entry in pending:
            for name, ref in _references(entry["resource"]):
                # A subject that is not the context Patient is another patient: never read it.
                if name not in _ABOUT and not index.resolves(ref, entry["resource"]):
                    wanted.setdefault(_type_id(ref), ref)
        pending = []
        for ident, ref in wanted.items():
            if server.reads >= MAX_REFERENCE_READS or ident.count("/") != 1:
                continue
            url = ref if "://" in ref else f"{server.base}/{ident}"
            if not server.same_origin(url):
                continue
            server.reads += 1
            try:
                target = server.get(url)
            except _Unreadable:
                continue
            if (
                isinstance(target, Mapping)
                and f"{target.get('resourceType')}/{target.get('id')}" == ident
            ):
                added = {"fullUrl": url, "resource": dict(target)}
                entries.append(added)
                index.add(added)
                pending.append(added)  # its own references may need reading too
    # What still does not resolve: leave out that one resource, and whatever then depends on it.
    while True:
        index = _Index(entries)
        kept = []
        dropped = False
        for entry in entries:
            resource = entry["resource"]
            broken = [
                (name, ref)
                for name, ref in _references(resource)
                if not index.resolves(ref, resource)
            ]
            if broken and resource.get("resourceType") != "Patient":
                name, ref = broken[0]
                problems.append(
                    f"{_describe(resource)} was left out: its {name} {ref!r} could not be read"
                    + (" (the request gives no usable fhirServer)." if server is None else ".")
                )
                dropped = True
                continue
            kept.append(entry)
        entries = kept
        if not dropped:
            return entries


def _describe(resource: Mapping[str, Any]) -> str:
    rid = resource.get("id")
    return (
        f"{resource.get('resourceType')}/{rid}"
        if isinstance(rid, str)
        else str(resource.get("resourceType"))
    )
