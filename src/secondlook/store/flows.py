"""Workflows that cross from the store into the clinical core: validate and save a case,
assess a case version and keep the result, score and keep questionnaire answers.

The clinical core (case, engine, instruments) never touches the database; this module is the
one place where the two meet, so that HTTP routes and the command line do the same thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from secondlook.care.alerts import raised_by_assessment, raised_by_questionnaire
from secondlook.case import CaseInvalid, Problem, parse_case
from secondlook.engine import assess
from secondlook.instruments import AnswersInvalid, score, score_total
from secondlook.store import alerts, records
from secondlook.store.errors import NotFound
from secondlook.store.models import Assessment, CaseVersion, QuestionnaireResponse
from secondlook.store.text import nul_paths


def save_case(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    expected_version: int,
    document: object,
    user_id: int | None,
) -> CaseVersion:
    """Validate `document` (raises CaseInvalid listing every problem) and store it as the
    patient's next case version, if `expected_version` is still current (raises StaleVersion)."""
    case = parse_case(document)
    stored = case.model_dump(mode="json", exclude_none=True, by_alias=True)
    if bad := nul_paths(stored):
        raise CaseInvalid(
            [
                Problem(path, "text must not contain NUL characters (\\u0000)", "remove them")
                for path in bad
            ]
        )
    return records.append_case_version(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        expected_version=expected_version,
        document=stored,
        user_id=user_id,
    )


def assess_and_store(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    user_id: int | None,
    case_version_number: int | None = None,
) -> tuple[Assessment, CaseVersion]:
    """Assess the patient's current case version (or the one numbered) and store the assessment
    with the knowledge and engine versions that made it. Raises NotFound without a case."""
    version = records.get_case_version(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        number=case_version_number,
    )
    if version is None:
        raise NotFound("case version")
    document: dict[str, Any] = assess(parse_case(version.document))
    assessment = records.store_assessment(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        case_version=version,
        document=document,
        user_id=user_id,
    )
    # In the assessment's transaction: no assessment is stored without its alert records.
    alerts.raise_alerts(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        raised=raised_by_assessment(document),
        source="assessment",
        user_id=user_id,
        assessment_id=assessment.id,
    )
    return assessment, version


def submit_questionnaire(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    instrument: str,
    answers: Sequence[int | None],
    answered_on: dt.date,
    user_id: int | None,
    total: float | None = None,
    source: str | None = None,
) -> QuestionnaireResponse:
    """Score the answers (raises AnswersInvalid) and store them with the score, band and every
    alert the instrument raised (a self-harm answer is never dropped). A form filled in on
    paper may come as its ``total`` alone (no answers): range-checked and banded, with the
    instrument's note on what a total cannot tell (PHQ-9: item 9 unknown, never "no")."""
    if total is not None and answers:
        raise AnswersInvalid(["give the item answers or the total, not both"])
    result = score(instrument, list(answers)) if total is None else score_total(instrument, total)
    response = records.store_questionnaire_response(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        instrument=instrument,
        answered_on=answered_on,
        answers=list(answers),
        score=None if result.score is None else float(result.score),
        max_score=None if result.max is None else float(result.max),
        band=result.band,
        subscales=dict(result.subscales),
        alerts=list(result.alerts),
        problems=list(result.problems),
        user_id=user_id,
        source=source,
    )
    # In the response's transaction: a self-harm answer is an alert record before it commits.
    alerts.raise_alerts(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        raised=raised_by_questionnaire(
            instrument=instrument,
            alert_ids=list(result.alerts),
            answered_on=answered_on.isoformat(),
            answers=list(answers),
        ),
        source="questionnaire",
        user_id=user_id,
        response_id=response.id,
    )
    return response
