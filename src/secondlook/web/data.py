"""Read-side helpers for the pages: the knowledge base's texts for a patient's plan. The
records themselves come from the services (services.records, services.care)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from babel.dates import format_skeleton
from sqlalchemy.orm import Session

from secondlook.care import vocabulary
from secondlook.instruments import INSTRUMENTS
from secondlook.knowledge import KnowledgeBase, default_knowledge
from secondlook.locale import ENGLISH, Translator
from secondlook.services import care
from secondlook.store.models import QuestionnaireResponse

# Instruments whose item text ships (CLINICAL.md section 6), the ones the portal can show.
PORTAL_INSTRUMENTS = tuple(k for k, i in INSTRUMENTS.items() if i.item_text is not None)


def knowledge() -> KnowledgeBase:
    return default_knowledge()


def alerts_from_responses(rows: Sequence[QuestionnaireResponse]) -> list[QuestionnaireResponse]:
    """Responses that raised a safety alert, newest first."""
    return sorted((r for r in rows if r.alerts), key=lambda r: (r.answered_on, r.id), reverse=True)


@dataclass(frozen=True)
class PlainItem:
    id: str
    name: str
    text: str
    note: str = ""


def _patient_text(
    kb: KnowledgeBase, kind: str, record_id: str, words: Translator = ENGLISH
) -> tuple[str, str] | None:
    """A record's name and patient text, in the patient's language (the knowledge catalog,
    secondlook.locale: English where a text has no translation)."""
    found = kb.records.get(f"{kind}:{record_id}")
    if found is None:
        return None
    record = found[1]
    name = str(getattr(record, "name", record_id))
    return words.gettext(name), words.gettext(str(getattr(record, "patient", "")))


def _recommendation_note(recommendation: str, words: Translator) -> str | None:
    if recommendation == "recommended":
        return words.gettext("Your care team recommends this.")
    if recommendation == "consider":
        return words.gettext("An option your care team may discuss with you.")
    return None


def _priority_note(priority: str, words: Translator) -> str:
    if priority == "emergency":
        return words.gettext("Needed now.")
    if priority == "urgent":
        return words.gettext("Needed soon.")
    return ""


def plan_in_plain_language(
    document: Mapping[str, Any], words: Translator = ENGLISH
) -> dict[str, list[PlainItem]]:
    """The treatments (recommended or to consider) and the tests of an assessment, each with
    the knowledge base's plain-language text for patients, in the patient's language."""
    kb = knowledge()
    treatments = []
    for option in document.get("treatment_options", []):
        note = _recommendation_note(str(option.get("recommendation")), words)
        found = _patient_text(kb, "treatment", str(option.get("id")), words)
        if note and found:
            treatments.append(PlainItem(str(option["id"]), found[0], found[1], note))
    tests = []
    for item in document.get("workup", []):
        found = _patient_text(kb, "workup", str(item.get("id")), words)
        if found:
            when = _priority_note(str(item.get("priority")), words)
            tests.append(PlainItem(str(item["id"]), found[0], found[1], when))
    causes = []
    for entry in document.get("differential", []):
        if entry.get("likelihood") in ("likely", "possible"):
            found = _patient_text(kb, "etiology", str(entry.get("id")), words)
            if found:
                causes.append(PlainItem(str(entry["id"]), found[0], found[1]))
    return {"treatments": treatments, "tests": tests, "causes": causes}


def decided_in_plain_language(
    decided: care.DecidedItems, words: Translator = ENGLISH
) -> dict[str, list[PlainItem]]:
    """The team's plan (what it accepted and still stands), in the knowledge base's patient
    texts: the same shape as ``plan_in_plain_language``, for the handout and the portal. The
    team's own notes are shown as written."""
    kb = knowledge()

    def plain(entry: Any, kind: str) -> PlainItem:
        found = _patient_text(kb, kind, entry.item.ref, words)
        name, text = found if found else (entry.item.name, "")
        note = entry.edit.note if entry.edit is not None and entry.edit.note else ""
        return PlainItem(entry.item.ref, name, text, note)

    return {
        "treatments": [plain(e, "treatment") for e in decided.treatments],
        "tests": [plain(e, "workup") for e in decided.tests],
        "causes": [],
    }


def all_patient_texts(kind: str, words: Translator = ENGLISH) -> list[PlainItem]:
    kb = knowledge()
    out = []
    for key, (k, record) in kb.records.items():
        if k == kind and key.startswith(f"{kind}:"):
            out.append(
                PlainItem(
                    str(getattr(record, "id", "")),
                    words.gettext(str(getattr(record, "name", ""))),
                    words.gettext(str(getattr(record, "patient", ""))),
                )
            )
    return out


def references_by_id(document: Mapping[str, Any]) -> dict[str, str]:
    return {str(r["id"]): str(r["citation"]) for r in document.get("references", [])}


# -- the stored plan's tasks for the patient, in plain words ------------------------------------


@dataclass(frozen=True)
class PlainTask:
    """One task of the patient's plan in plain words (no ids or codes)."""

    name: str
    text: str
    who: str
    due_month: str
    status: str
    after: list[str]
    questionnaire: bool = False
    # Still to be done (not completed, cancelled or missed).
    open: bool = True
    # A questionnaire the patient can answer here (the others are asked at a visit).
    in_portal: bool = False


def _lower_first(name: str) -> str:
    # "Psychological evaluation" -> "psychological evaluation"; "MRI" stays "MRI".
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def _task_name_and_text(
    kb: KnowledgeBase, row: Any, words: Translator = ENGLISH
) -> tuple[str, str]:
    if row.kind == "questionnaire" and row.instrument:
        instrument = INSTRUMENTS.get(row.instrument)
        name = words.gettext(instrument.name) if instrument else words.gettext("Questionnaire")
        point = str(row.time_point or "")
        if point == "baseline":
            text = words.gettext(
                "A questionnaire for you to fill in, so your team can see how you are doing "
                "at the start."
            )
        elif point.endswith("m") and point[:-1].isdigit():
            text = words.format(
                "A questionnaire for you to fill in, so your team can see how you are doing "
                "at {months} months.",
                months=point[:-1],
            )
        else:
            text = words.gettext(
                "A questionnaire for you to fill in, so your team can see how you are doing."
            )
        return words.format("Questionnaire: {name}", name=name), text
    found = None
    if row.plan_item_id and ":" in row.plan_item_id:
        kind = row.plan_item_id.split(":", 1)[0]
        found = _patient_text(kb, kind, row.key, words) or _patient_text(
            kb, kind, row.plan_item_id.split(":", 1)[1], words
        )
    # The task's name is the team's (as written), unless it is the knowledge base's own name.
    return words.gettext(row.name), found[1] if found else ""


def plan_tasks_in_plain_language(
    session: Session, *, organization_id: int, patient_id: int, words: Translator = ENGLISH
) -> list[PlainTask] | None:
    """The tasks of the patient's current plan (the latest that is not a draft), care tasks
    first, each in plain words in the patient's language; None without a plan."""
    found = care.current_plan_tasks_in(
        session, organization_id=organization_id, patient_id=patient_id
    )
    if found is None:
        return None
    _, rows = found
    kb = knowledge()
    by_key = {r.task_key: r for r in rows}
    out = []
    for row in sorted(rows, key=lambda r: (r.kind != "care", r.due, r.id)):
        name, text = _task_name_and_text(kb, row, words)
        after = []
        for dep in row.blocked_by:
            other = by_key.get(dep["task_id"])
            if other is not None and other.status != "completed":
                first = _lower_first(_task_name_and_text(kb, other, words)[0])
                after.append(words.format("after your {task}", task=first))
        out.append(
            PlainTask(
                name=name,
                text=text,
                who=words.gettext(
                    vocabulary.words_for_patients("owner", row.owner) or "your care team"
                ),
                # The month in the patient's language ("March 2027", "marzo de 2027").
                due_month=format_skeleton("yMMMM", row.due, locale=words.babel_locale),
                status=words.gettext(
                    vocabulary.words_for_patients("task-status", row.status) or "planned"
                ),
                after=after,
                questionnaire=row.kind == "questionnaire",
                open=row.status in vocabulary.OPEN_TASK_STATUSES,
                in_portal=row.instrument in PORTAL_INSTRUMENTS,
            )
        )
    return out
