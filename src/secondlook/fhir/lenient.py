"""Importing an EHR's record without losing all of it to one bad entry: each entry the importer
refuses is left out and reported, so that the rest of the record (and every red flag and safety
alert it supports) is still read. Used by CDS Hooks and the SMART EHR launch."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any, Final

from secondlook.case import CaseInvalid, parse_case
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


_LIST_ITEM: Final = re.compile(r"^\$\.([a-z_]+)\[(\d+)\]")
_FIELD: Final = re.compile(r"^\$\.([a-z_]+)\.([a-z_0-9]+)")
#: Case fields without which nothing can be assessed: never left out.
_REQUIRED: Final = frozenset({"schema", "assessed_on", "region", "age"})


def prune_case(document: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """The case document ``parse_case`` accepts, leaving out (and reporting) the list items
    and optional fields it refuses, so that one bad value (a level, a code) does not hide the
    red flags of the rest; CaseInvalid when what is left cannot be assessed (no surgery)."""
    document = json.loads(json.dumps(document))
    for _ in range(MAX_IMPORT_ROUNDS):
        try:
            parse_case(document)
            return document
        except CaseInvalid as invalid:
            pruned = False
            drop_items: dict[str, set[int]] = {}
            for problem in invalid.problems:
                path = problem.path or ""
                item = _LIST_ITEM.match(path)
                field_ = _FIELD.match(path)
                if item and isinstance(document.get(item.group(1)), list):
                    drop_items.setdefault(item.group(1), set()).add(int(item.group(2)))
                elif (
                    field_
                    and field_.group(2) not in _REQUIRED
                    and isinstance(document.get(field_.group(1)), dict)
                    and field_.group(2) in document[field_.group(1)]
                ):
                    del document[field_.group(1)][field_.group(2)]
                    problems.append(f"`{path}` was left out: {problem.message}.")
                    pruned = True
            for section, indexes in drop_items.items():
                items = document[section]
                kept = [x for i, x in enumerate(items) if i not in indexes]
                if not kept and section == "surgeries":
                    raise  # no surgery left: the case cannot be assessed
                for i in sorted(indexes):
                    messages = [
                        p.message
                        for p in invalid.problems
                        if p.path.startswith(f"$.{section}[{i}]")
                    ]
                    problems.append(f"`{section}[{i}]` was left out: {'; '.join(messages)}.")
                document[section] = kept
                pruned = True
            if not pruned:
                raise
    parse_case(document)
    return document
