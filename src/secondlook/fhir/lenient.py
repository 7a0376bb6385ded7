"""Importing an EHR's record without losing all of it to one bad entry: each entry the importer
refuses is left out and reported, so that the rest of the record (and every red flag and safety
alert it supports) is still read. Used by CDS Hooks and the SMART EHR launch."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Final

from secondlook.fhir.importer import import_bundle
from secondlook.fhir.outcome import BundleInvalid

#: Rounds of leaving out refused entries before giving up (each round removes at least one).
MAX_IMPORT_ROUNDS: Final = 5
_ENTRY: Final = re.compile(r"^Bundle\.entry\[(\d+)\]")


def import_leniently(
    bundle: dict[str, Any], patient_id: str, assessed_on: date, problems: list[str]
) -> Any:
    """import_bundle, leaving out (and reporting) each entry the importer refuses, so that one
    unreadable resource never hides the rest of the record (CDS Hooks and the SMART launch)."""
    entries = list(bundle["entry"])
    for _ in range(MAX_IMPORT_ROUNDS):
        try:
            return import_bundle(
                {**bundle, "entry": entries},
                assessed_on=assessed_on,
                case_id=patient_id,
                strict_references=False,
            )
        except BundleInvalid as invalid:
            bad: dict[int, str] = {}
            for issue in invalid.issues:
                found = _ENTRY.match(issue.expression or "")
                if found is None or int(found.group(1)) >= len(entries):
                    raise
                bad.setdefault(int(found.group(1)), issue.diagnostics)
            if 0 in bad:  # the Patient itself: nothing to assess without it
                raise
            for index in sorted(bad):
                resource = entries[index]["resource"]
                rid = resource.get("id")
                what = (
                    f"{resource.get('resourceType')}/{rid}"
                    if isinstance(rid, str)
                    else (str(resource.get("resourceType")))
                )
                problems.append(f"{what} was left out: {bad[index]}.")
            entries = [e for i, e in enumerate(entries) if i not in bad]
    raise BundleInvalid([])
