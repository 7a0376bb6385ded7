"""The data services: organization scoping and atomic compare-and-set writes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine

from secondlook.store import accounts, db, records
from secondlook.store.errors import Conflict, NotFound, StaleVersion

if TYPE_CHECKING:
    from conftest import World


@pytest.fixture
def session(engine: Engine) -> Any:
    with db.make_sessionmaker(engine)() as session:
        yield session
        session.rollback()


def test_a_patient_is_not_found_through_another_organization(session: Any, world: World) -> None:
    assert (
        records.get_patient(session, organization_id=world.beta, patient_id=world.patient_one)
        is None
    )
    assert records.get_patient(session, organization_id=world.alpha, patient_id=world.patient_one)


def test_updating_another_organizations_patient_is_not_found(session: Any, world: World) -> None:
    with pytest.raises(NotFound):
        records.update_patient(
            session,
            organization_id=world.beta,
            patient_id=world.patient_one,
            expected_version=1,
            changes={"name": "stolen"},
        )


def test_a_stale_version_changes_nothing(session: Any, world: World) -> None:
    patient = records.create_patient(session, organization_id=world.alpha, name="CAS")
    records.update_patient(
        session,
        organization_id=world.alpha,
        patient_id=patient.id,
        expected_version=1,
        changes={"name": "one"},
    )
    with pytest.raises(StaleVersion) as raised:
        records.update_patient(
            session,
            organization_id=world.alpha,
            patient_id=patient.id,
            expected_version=1,
            changes={"name": "two"},
        )
    assert raised.value.current == 2
    session.refresh(patient)
    assert patient.name == "one"


def test_case_versions_are_numbered_from_one_and_checked_against_the_current(
    session: Any, world: World
) -> None:
    patient = records.create_patient(session, organization_id=world.alpha, name="Numbers")
    first = records.append_case_version(
        session,
        organization_id=world.alpha,
        patient_id=patient.id,
        expected_version=0,
        document={"a": 1},
        user_id=None,
    )
    assert first.number == 1
    with pytest.raises(StaleVersion):
        records.append_case_version(
            session,
            organization_id=world.alpha,
            patient_id=patient.id,
            expected_version=0,
            document={"a": 2},
            user_id=None,
        )
    current = records.get_case_version(session, organization_id=world.alpha, patient_id=patient.id)
    assert current is not None
    assert current.document == {"a": 1}


def test_usernames_are_unique(session: Any, world: World) -> None:
    accounts.create_user(
        session, organization_id=world.alpha, username="unique-name", role="coordinator"
    )
    with pytest.raises(Conflict):
        accounts.create_user(
            session, organization_id=world.beta, username="unique-name", role="coordinator"
        )


@pytest.mark.parametrize(
    ("role", "linked"), [("patient", False), ("clinician", True), ("nurse", False)]
)
def test_roles_and_patient_links_are_checked(
    session: Any, world: World, role: str, linked: bool
) -> None:
    with pytest.raises(ValueError, match=r"role|patient"):
        accounts.create_user(
            session,
            organization_id=world.alpha,
            username=f"bad-{role}",
            role=role,
            patient_id=world.patient_one if linked else None,
        )


def test_search_finds_names_in_any_order_without_accents_and_partial_mrns(
    session: Any, world: World
) -> None:
    # An organization of its own: the shared ones hold what the property runs made.
    org = records.create_organization(session, slug="search-words", name="Search words").id
    add = records.create_patient
    maria = add(session, organization_id=org, name="María José García-Núñez", mrn="SRCH-00421")
    add(session, organization_id=org, name="Mario Garcia", mrn="SRCH-777")
    add(session, organization_id=world.beta, name="María García", mrn="SRCH-00421")

    def found(query: str) -> list[str]:
        rows = records.search_patients(session, organization_id=org, query=query, limit=10)
        return [p.name for p in rows]

    assert found("garcia maria") == ["María José García-Núñez"]
    assert found("GARCÍA-NÚÑEZ") == ["María José García-Núñez"]
    assert found("nunez   jose") == ["María José García-Núñez"]
    assert found("00421") == ["María José García-Núñez"]  # part of an MRN
    assert found("garcia") == ["Mario Garcia", "María José García-Núñez"]
    assert found("%") == [] and found("_") == [] and found("   ") == []
    # a renamed patient is found by the new name only
    records.update_patient(
        session,
        organization_id=org,
        patient_id=maria.id,
        expected_version=1,
        changes={"name": "Maria Lopez"},
    )
    assert found("nunez") == []
    assert found("lopez 00421") == ["Maria Lopez"]
