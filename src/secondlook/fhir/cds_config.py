"""The CDS Hooks configuration file (docs/fhir.md, "CDS Hooks in the server").

A JSON object::

    {
      "app_base_url": "https://secondlook.hospital.org",
      "public_base_url": "https://secondlook.hospital.org",
      "issuers": {
        "https://ehr.hospital.org": "ehr-jwks.json",
        "https://other-ehr.example": {"keys": [...]},
        "https://jku-only.example": null
      },
      "jku_allowlist": {
        "https://jku-only.example": ["https://jku-only.example/.well-known/jwks.json"]
      },
      "fhir_servers": {"https://ehr.hospital.org": ["https://ehr.hospital.org/fhir/r4"]},
      "max_age_seconds": 300,
      "clock_skew_seconds": 30,
      "jwks_cache_seconds": 300,
      "organization": "my-spine-center",
      "mrn_system": "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14"
    }

``issuers`` maps each trusted ``iss`` to its JWKS: inline, a file path (relative to the
configuration file) or ``null`` when its keys come only from an allowlisted ``jku``.
``jku_allowlist`` maps an issuer to the JWKS URLs *its* tokens may name in ``jku`` (a key set is
trusted for one issuer, never for every issuer). ``fhir_servers`` maps an issuer to the FHIR
server base URLs its calls may name in ``fhirServer``: only their origins are read, and only they
receive the EHR's access token; without an entry SecondLook never reads the EHR's server.
``organization`` (a SecondLook organization slug) lets the cards link to the SecondLook patient
whose MRN, as an EHR Patient identifier of the system ``mrn_system`` (required with
``organization``), is the SecondLook patient's MRN, when the birth date and name agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from secondlook.fhir.cds import CdsSettings
from secondlook.fhir.cds_auth import InMemoryJtiStore, JwtSettings

ENVIRONMENT_VARIABLE: Final = "SECONDLOOK_CDS_CONFIG"
_KEYS: Final = frozenset(
    {
        "app_base_url",
        "public_base_url",
        "issuers",
        "jku_allowlist",
        "fhir_servers",
        "max_age_seconds",
        "clock_skew_seconds",
        "fhir_timeout_seconds",
        "jwks_cache_seconds",
        "organization",
        "mrn_system",
    }
)


class CdsConfigInvalid(ValueError):
    """A configuration file that cannot be used; the message names the file and each problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class CdsConfig:
    settings: CdsSettings
    #: SecondLook organization slug whose patients the cards link to (found by MRN), or None.
    organization: str | None = None
    #: The identifier system of the MRNs SecondLook stores (the EHR's MRN system).
    mrn_system: str | None = None


def _url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _number(value: object, low: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= low


def parse_cds_config(
    data: object, *, source: str = "CDS config", base: Path | None = None
) -> CdsConfig:
    """Check a configuration object and build the settings (JWKS files read relative to
    `base`). One JtiStore per configuration: replay protection spans every request of the
    process."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise CdsConfigInvalid(source, ["the configuration must be a JSON object"])
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        problems.append(f"unknown keys {unknown} (known: {sorted(_KEYS)})")
    for key in ("app_base_url", "public_base_url"):
        if key in data and not _url(data[key]):
            problems.append(f"{key} must be an http(s) URL")
    if "app_base_url" not in data:
        problems.append("app_base_url is required (the cards link to SecondLook)")
    issuers: dict[str, Mapping[str, Any] | None] = {}
    raw_issuers = data.get("issuers")
    if not isinstance(raw_issuers, Mapping) or not raw_issuers:
        problems.append("issuers must be a non-empty object: issuer -> JWKS, JWKS file or null")
        raw_issuers = {}
    for issuer, keys in raw_issuers.items():
        if isinstance(keys, str):
            path = (base or Path.cwd()) / keys
            try:
                keys = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError) as error:
                problems.append(f"issuers[{issuer!r}]: cannot read the JWKS file {path}: {error}")
                continue
        if keys is not None and not (
            isinstance(keys, Mapping) and isinstance(keys.get("keys"), list) and keys["keys"]
        ):
            problems.append(f"issuers[{issuer!r}] must be a JWKS ({{'keys': [...]}}) or null")
            continue
        if len(str(issuer)) > 500:
            problems.append(f"issuer {str(issuer)[:40]!r}... is longer than 500 characters")
            continue
        issuers[str(issuer)] = keys
    allowlist = _per_issuer(data, "jku_allowlist", issuers, problems)
    for issuer, keys in issuers.items():
        if keys is None and not allowlist.get(issuer):
            problems.append(
                f"issuer {issuer!r} has no keys (null) and needs its jku_allowlist entry"
            )
    fhir_servers = _per_issuer(data, "fhir_servers", issuers, problems)
    numbers = {}
    for key, default, low in (
        ("max_age_seconds", 300, 1),
        ("clock_skew_seconds", 30, 0),
        ("fhir_timeout_seconds", 10.0, 0.1),
        ("jwks_cache_seconds", 300, 0),
    ):
        value = data.get(key, default)
        if not _number(value, low):
            problems.append(f"{key} must be a number >= {low}")
            value = default
        numbers[key] = value
    organization = data.get("organization")
    if organization is not None and not (isinstance(organization, str) and organization):
        problems.append("organization must be an organization slug")
    mrn_system = data.get("mrn_system")
    if mrn_system is not None and not (isinstance(mrn_system, str) and ":" in mrn_system):
        problems.append("mrn_system must be a URI (the EHR's MRN identifier system)")
    if organization is not None and mrn_system is None:
        problems.append(
            "organization needs mrn_system: MRNs are matched only within the EHR's MRN "
            "identifier system (another system's value, e.g. a payer member id, is no MRN)"
        )
    if problems:
        raise CdsConfigInvalid(source, problems)
    settings = CdsSettings(
        app_base_url=str(data["app_base_url"]).rstrip("/"),
        public_base_url=data.get("public_base_url"),
        fhir_timeout_seconds=float(numbers["fhir_timeout_seconds"]),
        fhir_servers={issuer: tuple(urls) for issuer, urls in fhir_servers.items()},
        jwt=JwtSettings(
            issuers=issuers,
            jku_allowlist={issuer: frozenset(urls) for issuer, urls in allowlist.items()},
            max_age_seconds=int(numbers["max_age_seconds"]),
            clock_skew_seconds=int(numbers["clock_skew_seconds"]),
            jwks_cache_seconds=float(numbers["jwks_cache_seconds"]),
            jti_store=InMemoryJtiStore(),
        ),
    )
    return CdsConfig(settings=settings, organization=organization, mrn_system=mrn_system)


def _per_issuer(
    data: Mapping[str, Any],
    key: str,
    issuers: Mapping[str, object],
    problems: list[str],
) -> dict[str, list[str]]:
    """An object issuer -> list of http(s) URLs, each issuer a configured one."""
    raw = data.get(key, {})
    if isinstance(raw, list):
        problems.append(
            f"{key} must map each issuer to its URLs ({{issuer: [url, ...]}}): a list shared "
            "by every issuer would let one EHR's entry serve another's tokens"
        )
        return {}
    if not isinstance(raw, Mapping):
        problems.append(f"{key} must be an object: issuer -> list of http(s) URLs")
        return {}
    found: dict[str, list[str]] = {}
    for issuer, urls in raw.items():
        if issuer not in issuers:
            problems.append(f"{key}[{issuer!r}]: not one of the issuers")
        elif not isinstance(urls, list) or not all(_url(u) for u in urls):
            problems.append(f"{key}[{issuer!r}] must be a list of http(s) URLs")
        else:
            found[str(issuer)] = [str(u) for u in urls]
    return found


def load_cds_config(path: str | Path) -> CdsConfig:
    """Read and check the configuration file (CdsConfigInvalid says what is wrong)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise CdsConfigInvalid(str(path), [f"cannot read it as JSON: {error}"]) from None
    return parse_cds_config(data, source=str(path), base=path.parent)
