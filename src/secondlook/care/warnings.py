"""What a patient in danger is told to do, first and in plain words: one list, decided here and
only rendered by the portal and the patient's handout, so the two never disagree.

- An **emergency** red flag (cauda equina, epidural hematoma, ...) tells the patient to go to an
  emergency department or call the emergency number now, whatever else the plan says (NICE NG59
  1.1.1 and Finucane 2020: these conditions are referred for same-day assessment and imaging).
- An **urgent** red flag tells the patient to contact the care team today, and where to go if
  they cannot reach it or get worse.
- A **safety alert** (PHQ-9 item 9 above 0, overdose risk, ...) shows the site's patient text
  for it (``instruments.safety``); after a self-harm answer the site's crisis lines and the care
  team's number come with it (Kroenke 2001 and the PHQ-9's instructions: a positive item 9 needs
  a same-day risk assessment).

Numbers are the site's (:class:`SiteContacts`); without them the texts say "your local
emergency number", never a number that may be wrong in the patient's country.

The words are given in the patient's language by ``translate`` (``secondlook.locale``: a
message without a translation stays in English, never blank); which warnings there are is
decided here whatever the language. Each English text is written once, in a ``translate(...)``
call, so the catalog extraction finds it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from secondlook.instruments.model import SELF_HARM_RISK
from secondlook.instruments.safety import DEFAULT_SAFETY_TEXTS, SafetyText
from secondlook.knowledge.loader import KnowledgeBase
from secondlook.settings import Settings

Level = Literal["emergency", "urgent", "safety"]

#: The environment variables a site sets its numbers with (docs/web.md, "Site contacts").
EMERGENCY_VARIABLE: Final = "SECONDLOOK_EMERGENCY_NUMBER"
CRISIS_VARIABLE: Final = "SECONDLOOK_CRISIS_LINES"
CARE_TEAM_VARIABLE: Final = "SECONDLOOK_CARE_TEAM_CONTACT"
_MAX_CONTACT: Final = 200  # one line on a phone screen; longer is a configuration mistake

#: Gives a message in the patient's language (``Translator.gettext``); English by default.
Translate = Callable[[str], str]


def _english(message: str) -> str:
    return message


class ContactsInvalid(ValueError):
    """A site contact setting that cannot be shown to patients; the message names it."""


@dataclass(frozen=True)
class SiteContacts:
    """The numbers a site gives its patients. ``emergency`` is how the texts name the
    emergency number ("911", "112"); ``crisis_lines`` are shown after a self-harm answer
    ("988 Suicide and Crisis Lifeline: call or text 988"); ``care_team`` is how to reach the
    team ("Spine center nurse line 555-0100, weekdays 8-17")."""

    emergency: str | None = None
    crisis_lines: tuple[str, ...] = ()
    care_team: str | None = None

    @property
    def emergency_words(self) -> str:
        return self.emergency_words_in(_english)

    def emergency_words_in(self, translate: Translate) -> str:
        if self.emergency:
            return translate("the emergency number ({number})").format(number=self.emergency)
        return translate("your local emergency number")


def site_contacts(source: Settings | Mapping[str, str]) -> SiteContacts:
    """The site's contacts from its settings (secondlook.settings; a mapping of
    ``SECONDLOOK_*`` names is read as such); ``;`` separates crisis lines."""
    given = source if isinstance(source, Settings) else Settings.of(source)
    environ = {
        EMERGENCY_VARIABLE: given.emergency_number or "",
        CRISIS_VARIABLE: given.crisis_lines or "",
        CARE_TEAM_VARIABLE: given.care_team_contact or "",
    }

    def one(name: str) -> str | None:
        value = " ".join(environ.get(name, "").split())
        if len(value) > _MAX_CONTACT:
            raise ContactsInvalid(f"{name} is longer than {_MAX_CONTACT} characters")
        return value or None

    lines = tuple(" ".join(p.split()) for p in environ.get(CRISIS_VARIABLE, "").split(";"))
    for line in lines:
        if len(line) > _MAX_CONTACT:
            raise ContactsInvalid(f"{CRISIS_VARIABLE}: a line is longer than {_MAX_CONTACT}")
    return SiteContacts(
        emergency=one(EMERGENCY_VARIABLE),
        crisis_lines=tuple(line for line in lines if line),
        care_team=one(CARE_TEAM_VARIABLE),
    )


@dataclass(frozen=True)
class PatientWarning:
    """One thing the patient must act on: ``do`` is the instruction, ``why`` the plain words
    about each finding behind it, ``contacts`` the numbers that go with it. The red flags of one
    urgency share one warning (one instruction, each finding named); each safety alert has its
    own."""

    level: Level
    sources: tuple[str, ...]  # the red flag or safety alert ids
    title: str
    do: str
    why: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()


def patient_warnings(
    *,
    red_flags: Iterable[Mapping[str, Any]],
    alert_ids: Iterable[str],
    knowledge: KnowledgeBase,
    contacts: SiteContacts,
    texts: Mapping[str, SafetyText] = DEFAULT_SAFETY_TEXTS,
    translate: Translate | None = None,
) -> list[PatientWarning]:
    """The warnings for an assessment's red flags (``{"id", "urgency"}``) and the safety
    alerts raised (by the assessment or by questionnaires since), most urgent first. An unknown
    red flag or alert is still shown, with generic words: a warning is never dropped because
    its text is missing; a finding raised twice is shown once. ``translate`` gives every text
    in the patient's language (English without it)."""
    translate = translate or _english
    emergency = contacts.emergency_words_in(translate)
    team = (
        (translate("Your care team: {contact}.").format(contact=contacts.care_team),)
        if contacts.care_team
        else ()
    )
    flags: dict[str, dict[str, str]] = {"emergency": {}, "urgent": {}}
    for flag in red_flags:
        flag_id = str(flag.get("id", ""))
        level = "emergency" if flag.get("urgency") == "emergency" else "urgent"
        if not flag_id or any(flag_id in found for found in flags.values()):
            continue
        record = next((r for r in knowledge.red_flags if r.id == flag_id), None)
        flags[level][flag_id] = (
            translate(record.patient)
            if record is not None and record.patient
            else translate(
                "Your care team's evaluation found a sign that needs to be checked quickly."
            )
        )
    found: list[PatientWarning] = []
    if flags["emergency"]:
        found.append(
            PatientWarning(
                "emergency",
                tuple(flags["emergency"]),
                translate("Go to an emergency department now"),
                translate(
                    "Go to the nearest emergency department now, or call {emergency}. Do not "
                    "wait for your next appointment. Take this page or your plan with you."
                ).format(emergency=emergency),
                tuple(flags["emergency"].values()),
            )
        )
    if flags["urgent"]:
        found.append(
            PatientWarning(
                "urgent",
                tuple(flags["urgent"]),
                translate("Contact your care team today"),
                translate(
                    "Contact your care team today. If you cannot reach them, or you get worse, "
                    "go to an emergency department or call {emergency}."
                ).format(emergency=emergency),
                tuple(flags["urgent"].values()),
                team,
            )
        )
    seen: set[str] = set()
    for alert_id in alert_ids:
        if alert_id in seen:
            continue
        seen.add(alert_id)
        text = texts.get(alert_id) or DEFAULT_SAFETY_TEXTS.get(alert_id)
        crisis = contacts.crisis_lines if alert_id == SELF_HARM_RISK else ()
        found.append(
            PatientWarning(
                "safety",
                (alert_id,),
                translate("Please read this now")
                if alert_id == SELF_HARM_RISK
                else translate("Important"),
                translate(text.patient)
                if text is not None
                else translate(
                    "Please contact your care team soon about your answers. If you are in "
                    "danger now, call {emergency}."
                ).format(emergency=emergency),
                (),
                (*crisis, *team),
            )
        )
    return found
