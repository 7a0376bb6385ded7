"""The center's outcome report, one row per patient with a plan, computed with a fixed number of
queries for the whole organization (never one per patient)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.orm import Session

from secondlook.care import (
    PRIMARY_INSTRUMENT,
    CohortRow,
    responder_status,
)
from secondlook.care.models import add_months
from secondlook.care.outcomes import RESPONDER_WINDOW_DAYS
from secondlook.store.care_models import (
    CarePlan,
)
from secondlook.store.care_records import distinct_results
from secondlook.store.models import (
    Assessment,
    CaseScore,
    CaseVersion,
    QuestionnaireResponse,
)

# -- outcomes ------------------------------------------------------------------------------------


def cohort_rows(session: Session, *, organization_id: int) -> list[CohortRow]:
    """One row per patient with a plan (their latest plan that is not a draft): course and
    etiology from the plan's assessment, responders at 6 and 12 months on the region's primary
    instrument, work status from the plan's case version (baseline) and from the case version
    assessed nearest to 12 months after the plan's start (within the responder window of 45
    days; the later version on a tie). Five queries for the whole organization."""
    latest = (
        select(func.max(CarePlan.id).label("id"))
        .where(CarePlan.organization_id == organization_id, CarePlan.status != "draft")
        .group_by(CarePlan.patient_id)
        .subquery()
    )
    plans = session.execute(
        select(
            CarePlan.patient_id,
            CarePlan.region,
            CarePlan.start_on,
            Assessment.document["classification"].label("classification"),
            Assessment.document["differential"].label("differential"),
            CaseVersion.document["patient"].label("patient"),
        )
        .join(latest, latest.c.id == CarePlan.id)
        .join(Assessment, Assessment.id == CarePlan.assessment_id)
        .join(CaseVersion, CaseVersion.id == Assessment.case_version_id)
        .order_by(CarePlan.patient_id)
    ).all()
    if not plans:
        return []
    patient_ids = [p.patient_id for p in plans]
    # The same results as one patient's outcomes: stored responses and the cases' scores.
    rows: dict[int, list[Any]] = {}
    for source in (QuestionnaireResponse, CaseScore):
        for r in session.execute(
            select(source.patient_id, source.instrument, source.answered_on, source.score).where(
                source.organization_id == organization_id,
                source.patient_id.in_(patient_ids),
                source.instrument.in_(set(PRIMARY_INSTRUMENT.values())),
                source.score.is_not(None),
            )
        ):
            rows.setdefault(r.patient_id, []).append(r)
    results = {pid: distinct_results(found) for pid, found in rows.items()}
    versions: dict[int, list[tuple[dt.date, Any]]] = {}
    for v in session.execute(
        select(
            CaseVersion.patient_id,
            CaseVersion.document["assessed_on"].label("assessed_on"),
            CaseVersion.document["patient"].label("patient"),
        )
        .where(
            CaseVersion.organization_id == organization_id,
            CaseVersion.patient_id.in_(patient_ids),
        )
        .order_by(CaseVersion.number)
    ):
        if v.assessed_on:
            day = dt.date.fromisoformat(str(v.assessed_on))
            versions.setdefault(v.patient_id, []).append((day, v.patient))
    out = []
    for p in plans:
        primary = PRIMARY_INSTRUMENT[cast(Any, p.region)]
        mine = results.get(p.patient_id, [])
        year = add_months(p.start_on, 12)
        near = [
            (abs((day - year).days), -index, doc)
            for index, (day, doc) in enumerate(versions.get(p.patient_id, []))
            if abs((day - year).days) <= RESPONDER_WINDOW_DAYS
        ]
        at_year = min(near, key=lambda n: (n[0], n[1]))[2] if near else None
        differential = p.differential or []
        out.append(
            CohortRow(
                patient_id=str(p.patient_id),
                region=p.region,
                course=(p.classification or {}).get("course") or "unknown",
                etiology=differential[0].get("id") if differential else None,
                baseline_on=p.start_on,
                work_status_baseline=(p.patient or {}).get("work_status"),
                work_status_12m=(at_year or {}).get("work_status"),
                responder_6m=responder_status(primary, mine, baseline_on=p.start_on, months=6),
                responder_12m=responder_status(primary, mine, baseline_on=p.start_on, months=12),
            )
        )
    return out
