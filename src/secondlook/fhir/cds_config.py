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
      "jku_allowlist": ["https://jku-only.example/.well-known/jwks.json"],
      "max_age_seconds": 300,
      "clock_skew_seconds": 30,
      "organization": "my-spine-center"
    }

``issuers`` maps each trusted ``iss`` to its JWKS: inline, a file path (relative to the
configuration file) or ``null`` when its keys come only from an allowlisted ``jku``.
``organization`` (a SecondLook organization slug) lets the cards link to the SecondLook patient
whose MRN is one of the EHR Patient's identifiers.
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
        "max_age_seconds",
        "clock_skew_seconds",
        "fhir_timeout_seconds",
        "organization",
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
        issuers[str(issuer)] = keys
    allowlist = data.get("jku_allowlist", [])
    if not isinstance(allowlist, list) or not all(_url(u) for u in allowlist):
        problems.append("jku_allowlist must be a list of http(s) URLs")
        allowlist = []
    if any(keys is None for keys in issuers.values()) and not allowlist:
        problems.append("an issuer without keys (null) needs jku_allowlist")
    numbers = {}
    for key, default, low in (
        ("max_age_seconds", 300, 1),
        ("clock_skew_seconds", 30, 0),
        ("fhir_timeout_seconds", 10.0, 0.1),
    ):
        value = data.get(key, default)
        if not _number(value, low):
            problems.append(f"{key} must be a number >= {low}")
            value = default
        numbers[key] = value
    organization = data.get("organization")
    if organization is not None and not (isinstance(organization, str) and organization):
        problems.append("organization must be an organization slug")
    if problems:
        raise CdsConfigInvalid(source, problems)
    settings = CdsSettings(
        app_base_url=str(data["app_base_url"]).rstrip("/"),
        public_base_url=data.get("public_base_url"),
        fhir_timeout_seconds=float(numbers["fhir_timeout_seconds"]),
        jwt=JwtSettings(
            issuers=issuers,
            jku_allowlist=frozenset(allowlist),
            max_age_seconds=int(numbers["max_age_seconds"]),
            clock_skew_seconds=int(numbers["clock_skew_seconds"]),
            jti_store=InMemoryJtiStore(),
        ),
    )
    return CdsConfig(settings=settings, organization=organization)


def load_cds_config(path: str | Path) -> CdsConfig:
    """Read and check the configuration file (CdsConfigInvalid says what is wrong)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise CdsConfigInvalid(str(path), [f"cannot read it as JSON: {error}"]) from None
    return parse_cds_config(data, source=str(path), base=path.parent)
