"""The inbox forms of the pages (no browser): a stale or incomplete form is a page that says
what happened and leads back, and changes nothing; a good one acts and returns."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

import factories
from secondlook.store import db
from secondlook.store.alert_models import Alert

PHQ9_ITEM9_ONE = [0, 0, 0, 0, 0, 0, 0, 0, 1]


def test_inbox_forms_refuse_stale_and_incomplete_input_with_a_page_and_act_on_good_input(
    engine: Any, app: Any
) -> None:
    with factories.committed(engine) as session:
        made = factories.clinic(session, example=None, assessed=False)
        factories.questionnaire_response(
            session,
            organization_id=made.id,
            patient_id=made.patient.id,
            instrument="phq-9",
            answers=PHQ9_ITEM9_ONE,
        )
    with db.make_sessionmaker(engine)() as session:
        alert_id = session.scalars(
            select(Alert.id).where(Alert.patient_id == made.patient.id)
        ).one()
    back = f"/clinic/patients/{made.patient.id}"
    with TestClient(app, follow_redirects=False) as client:
        token = factories.signed_in(client, made.clinician)
        page = client.get(back)
        assert f'action="/clinic/alerts/{alert_id}/acknowledge"' in page.text
        assert f'name="csrf_token" value="{token}"' in page.text
        url = f"/clinic/alerts/{alert_id}"
        stale = client.post(
            f"{url}/acknowledge", data={"csrf_token": token, "version": "7", "back": back}
        )
        assert stale.status_code == 412
        assert "Someone else acted on this alert" in stale.text
        assert f'href="{back}"' in stale.text
        no_reason = client.post(
            f"{url}/resolve",
            data={
                "csrf_token": token,
                "version": "1",
                "resolution": "no-action-needed",
                "back": back,
            },
        )
        assert no_reason.status_code == 422
        assert "a note is needed to say why no action is needed" in no_reason.text
        elsewhere = client.post(
            f"{url}/acknowledge",
            data={"csrf_token": token, "version": "1", "back": "https://example.org/"},
        )
        assert elsewhere.status_code == 303
        assert elsewhere.headers["location"] == f"/clinic/patients#alert-{alert_id}"
        done = client.post(
            f"{url}/resolve",
            data={
                "csrf_token": token,
                "version": "2",
                "resolution": "called-patient",
                "note": "Called; safety plan in place",
                "back": back,
            },
        )
        assert done.status_code == 303
        assert done.headers["location"] == back
        shown = client.get(back).text.split('id="h-alerts"', 1)[1]
        assert "Resolved" in shown and "Called the patient" in shown
        assert "Called; safety plan in place" in shown
