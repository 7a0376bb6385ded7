"""FHIR R4 import and export, and the CDS Hooks service (docs/fhir.md)."""

from secondlook.fhir.cds import CdsSettings, cds_router
from secondlook.fhir.cds_auth import AuthError, InMemoryJtiStore, JtiStore, JwtSettings
from secondlook.fhir.exporter import export_bundle, relative_references
from secondlook.fhir.importer import ImportResult, import_bundle
from secondlook.fhir.outcome import BundleInvalid, Issue, Unmapped, operation_outcome

__all__ = [
    "AuthError",
    "BundleInvalid",
    "CdsSettings",
    "ImportResult",
    "InMemoryJtiStore",
    "Issue",
    "JtiStore",
    "JwtSettings",
    "Unmapped",
    "cds_router",
    "export_bundle",
    "import_bundle",
    "operation_outcome",
    "relative_references",
]
