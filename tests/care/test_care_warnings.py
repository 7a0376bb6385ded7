"""What a patient in danger is told: emergencies first, the site's numbers, nothing dropped."""

from __future__ import annotations

import pytest

from secondlook.care.warnings import (
    ContactsInvalid,
    SiteContacts,
    patient_warnings,
    site_contacts,
)
from secondlook.knowledge import default_knowledge

KB = default_knowledge()


def test_an_emergency_red_flag_tells_the_patient_to_go_to_an_emergency_department_first() -> None:
    warnings = patient_warnings(
        red_flags=[
            {"id": "infection", "urgency": "urgent"},
            {"id": "cauda-equina", "urgency": "emergency"},
        ],
        alert_ids=["opioid-overdose-risk"],
        knowledge=KB,
        contacts=SiteContacts(),
    )
    assert [(w.level, w.sources) for w in warnings] == [
        ("emergency", ("cauda-equina",)),
        ("urgent", ("infection",)),
        ("safety", ("opioid-overdose-risk",)),
    ]
    first = warnings[0]
    assert first.title == "Go to an emergency department now"
    assert "your local emergency number" in first.do
    assert "bladder" in first.why[0]  # the knowledge base's words for patients
    assert "care team today" in warnings[1].do


def test_red_flags_of_one_urgency_share_one_instruction_naming_each_finding() -> None:
    warnings = patient_warnings(
        red_flags=[
            {"id": "cauda-equina", "urgency": "emergency"},
            {"id": "epidural-hematoma", "urgency": "emergency"},
        ],
        alert_ids=[],
        knowledge=KB,
        contacts=SiteContacts(),
    )
    assert len(warnings) == 1
    assert warnings[0].sources == ("cauda-equina", "epidural-hematoma")
    assert len(warnings[0].why) == 2


def test_the_sites_numbers_are_shown_and_crisis_lines_only_after_a_self_harm_answer() -> None:
    contacts = site_contacts(
        {
            "SECONDLOOK_EMERGENCY_NUMBER": "112",
            "SECONDLOOK_CRISIS_LINES": (
                "Crisis line 0800 111 0 111 (day and night); ; Text HELLO to 85258"
            ),
            "SECONDLOOK_CARE_TEAM_CONTACT": "Spine center nurses, 030 1234 5678",
        }
    )
    assert contacts.crisis_lines == (
        "Crisis line 0800 111 0 111 (day and night)",
        "Text HELLO to 85258",
    )
    warnings = patient_warnings(
        red_flags=[{"id": "cauda-equina", "urgency": "emergency"}],
        alert_ids=["self-harm-risk", "severe-depression"],
        knowledge=KB,
        contacts=contacts,
    )
    by_source = {source: w for w in warnings for source in w.sources}
    assert "the emergency number (112)" in by_source["cauda-equina"].do
    assert by_source["self-harm-risk"].contacts == (
        "Crisis line 0800 111 0 111 (day and night)",
        "Text HELLO to 85258",
        "Your care team: Spine center nurses, 030 1234 5678.",
    )
    assert "Crisis line" not in " ".join(by_source["severe-depression"].contacts)
    assert by_source["cauda-equina"].contacts == ()  # an emergency: go, do not phone around


def test_an_unknown_red_flag_or_alert_is_still_shown_and_repeats_are_shown_once() -> None:
    warnings = patient_warnings(
        red_flags=[
            {"id": "new-flag", "urgency": "emergency"},
            {"id": "new-flag", "urgency": "emergency"},
        ],
        alert_ids=["new-alert", "new-alert"],
        knowledge=KB,
        contacts=SiteContacts(),
    )
    assert [(w.level, w.sources) for w in warnings] == [
        ("emergency", ("new-flag",)),
        ("safety", ("new-alert",)),
    ]
    assert all(w.do for w in warnings)


def test_a_contact_too_long_to_show_is_refused_naming_the_setting() -> None:
    with pytest.raises(ContactsInvalid, match="SECONDLOOK_CARE_TEAM_CONTACT"):
        site_contacts({"SECONDLOOK_CARE_TEAM_CONTACT": "x" * 201})
