"""The intake form's mapping: form values <-> case document, and JSON paths -> field ids."""

from __future__ import annotations

import pytest

from secondlook.case import parse_case
from secondlook.examples import load_examples
from secondlook.web import intake


def _canonical(document: dict[str, object]) -> dict[str, object]:
    return parse_case(document).model_dump(mode="json", exclude_none=True, by_alias=True)


@pytest.mark.parametrize("name", sorted(load_examples()))
def test_every_example_case_round_trips_through_the_form(name: str) -> None:
    document = load_examples()[name]
    left_out: list[str] = []
    values = intake.form_values(document, left_out=left_out)
    assert left_out == []
    checked = intake.check(values)
    assert checked.case is not None, (checked.errors, checked.unplaced)
    assert _canonical(checked.document) == _canonical(document)


def test_the_form_covers_every_section_of_the_case_document() -> None:
    sections = {path.split(".")[0] for path in intake.FIELDS}
    assert sections == {
        "assessed_on",
        "id",
        "region",
        "patient",
        "surgeries",
        "pain",
        "neuro",
        "systemic",
        "imaging",
        "labs",
        "blocks",
        "electrodiagnostics",
        "medications",
        "prior_treatments",
        "psychosocial",
        "questionnaires",
        "preferences",
    }
    ids = [f.id for f in intake.FIELDS.values()]
    assert len(ids) == len(set(ids))


def test_problems_are_placed_at_their_fields_even_after_empty_slots() -> None:
    checked = intake.check(
        {
            "assessed_on": "2026-01-10",
            "region": "lumbar",
            "patient.age": "abc",
            "surgeries.1.date": "2025-13-01",  # the first surgery slot is left empty
            "surgeries.1.procedure": "tlif",
            "imaging.1.date": "2025-02-01",
            "imaging.1.modality": "mri",
            "imaging.1.findings.2.finding": "pseudarthrosis",
            "imaging.1.findings.2.level": "x4",
            "pain.axial_nrs": "11",
            "pain.character": ["burning", "zapping"],
        }
    )
    assert checked.case is None
    assert set(checked.errors) == {
        "f-patient-age",
        "f-surgeries-1-date",
        "f-imaging-1-findings-2-level",
        "f-pain-axial_nrs",
        "f-pain-character",
    }
    assert checked.unplaced == []


def test_a_missing_required_section_points_at_its_first_field() -> None:
    checked = intake.check({"assessed_on": "2026-01-10", "region": "lumbar", "patient.age": "50"})
    assert "f-surgeries-0-date" in checked.errors


def test_unknown_stays_unknown_and_no_is_false() -> None:
    built = intake.build_document(
        {
            "assessed_on": "2026-01-10",
            "region": "cervical",
            "patient.age": "50",
            "surgeries.0.date": "2025-01-01",
            "surgeries.0.procedure": "acdf",
            "surgeries.0.levels": "c5-c6, C6-C7",
            "neuro.saddle_anesthesia": "no",
            "neuro.urinary_retention": "",
            "questionnaires.0.instrument": "phq-9",
            "questionnaires.0.date": "2025-06-01",
            "questionnaires.0.answers": "1,2,,0,0,0,0,0,1",
            "preferences.goals": "walk the dog\n\nback to work",
        }
    ).document
    assert document_value(built, "neuro") == {"saddle_anesthesia": False}
    assert built["surgeries"] == [
        {"date": "2025-01-01", "procedure": "acdf", "levels": ["C5-C6", "C6-C7"]}
    ]
    assert built["questionnaires"][0]["answers"] == [1, 2, None, 0, 0, 0, 0, 0, 1]
    assert built["preferences"] == {"goals": ["walk the dog", "back to work"]}
    assert parse_case(built)


def document_value(document: dict[str, object], key: str) -> object:
    return document[key]


def test_more_items_than_slots_are_reported() -> None:
    document = dict(load_examples()["scs-candidate"])
    document["prior_treatments"] = [{"treatment": "exercise-therapy", "response": "none"}] * (
        intake.PRIOR_SLOTS + 1
    )
    left_out: list[str] = []
    intake.form_values(document, left_out=left_out)
    assert left_out == [
        f"prior_treatments.{intake.PRIOR_SLOTS}.treatment",
        f"prior_treatments.{intake.PRIOR_SLOTS}.response",
    ]


NUMERIC = [f for f in intake.FIELDS.values() if f.kind in ("int", "number", "answers")]


@pytest.mark.parametrize("text", ["9" * 5000, "9" * 400, "1e400", "٣٤"])
@pytest.mark.parametrize("field", NUMERIC, ids=lambda f: f.id)
def test_a_number_too_long_or_not_in_ascii_digits_is_a_field_error(
    field: intake.Field, text: str
) -> None:
    values = {"assessed_on": "2026-01-10", "region": "lumbar", "patient.age": "50"}
    checked = intake.check({**values, field.path: text})
    assert checked.case is None
    assert field.id in checked.errors
