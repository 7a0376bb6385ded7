"""Texts shown for safety alerts (CONTRACT.md §3), configurable per site.

Each alert id has a clinician text (what must be done) and a patient-facing text. The defaults
are deliberately generic: a site should override them with its own pathway and local emergency
and crisis numbers, in a YAML or JSON file::

    self-harm-risk:
      clinician: "..."     # either key may be left out to keep the default
      patient: "..."

``load_site_safety_texts(path)`` validates the file (unknown alert id, unknown key or empty text
is an error naming the file and the alert) and returns the full set of texts, defaults included.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path

import yaml

from secondlook.instruments.model import SELF_HARM_RISK


@dataclass(frozen=True)
class SafetyText:
    """What the clinician and the patient are told when an alert is raised."""

    clinician: str
    patient: str


class SafetyTextsInvalid(ValueError):
    """A site safety-text file that cannot be used; ``problems`` names the file and alert."""

    def __init__(self, problems: list[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("; ".join(self.problems))


DEFAULT_SAFETY_TEXTS: Mapping[str, SafetyText] = {
    SELF_HARM_RISK: SafetyText(
        clinician=(
            "PHQ-9 item 9 was answered above 0: the patient reports thoughts of being better off "
            "dead or of self-harm. A same-day safety assessment is needed (current thoughts, "
            "plans, intent, means and protective factors) before the patient leaves or, if the "
            "questionnaire was completed remotely, by contacting the patient today. Do not wait "
            "for the rest of the assessment."
        ),
        patient=(
            "You told us that you have had thoughts that you would be better off dead or of "
            "hurting yourself. Thank you for telling us. Please contact your care team today so "
            "that someone can talk with you about it. If you are in danger now, or feel you might "
            "act on these thoughts, call your local emergency number or a crisis line now, or go "
            "to the nearest emergency department."
        ),
    ),
    "opioid-overdose-risk": SafetyText(
        clinician=(
            "Opioid overdose risk: a high daily opioid dose and/or an opioid taken with a "
            "benzodiazepine. Review the medication today: consider dose reduction, stopping the "
            "combination, and naloxone with instructions for the patient and family."
        ),
        patient=(
            "The pain medicines you take together can slow your breathing dangerously. Please do "
            "not take more than prescribed or add other sedating medicines or alcohol, and talk "
            "with your care team soon about making them safer. If someone taking these medicines "
            "cannot be woken or is breathing very slowly, call your local emergency number now."
        ),
    ),
    "opioid-dose-unknown": SafetyText(
        clinician=(
            "The patient takes an opioid whose daily dose could not be worked out from the "
            "record (no dose, an unconvertible unit, or an opioid without a conversion factor). "
            "Verify the actual daily dose with the patient and the prescriptions before judging "
            "overdose risk: an unknown dose is not a low dose."
        ),
        patient=(
            "We could not tell from your records how much of your opioid pain medicine you take "
            "each day. Please bring your medicines or a list of them, so your team can check the "
            "dose with you."
        ),
    ),
    "severe-depression": SafetyText(
        clinician=(
            "Severe depressive symptoms (e.g. PHQ-9 of 20 or more). Assess for risk, arrange "
            "prompt treatment or referral for depression, and take it into account before "
            "planning interventions."
        ),
        patient=(
            "Your answers suggest that you are going through a very low mood. This matters and "
            "can be treated. Please talk with your care team about it soon. If you ever feel you "
            "might harm yourself, call your local emergency number or a crisis line now."
        ),
    ),
}

ALERT_IDS: tuple[str, ...] = tuple(DEFAULT_SAFETY_TEXTS)


def _read(path: Path) -> object:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SafetyTextsInvalid([f"{path}: cannot be read ({error.strerror or error})"]) from error
    try:
        if path.suffix.lower() == ".json":
            return json.loads(raw)
        return yaml.safe_load(raw)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise SafetyTextsInvalid([f"{path}: not valid YAML/JSON ({error})"]) from error


def load_site_safety_texts(path: str | PathLike[str]) -> dict[str, SafetyText]:
    """The default texts with the site's overrides from ``path`` applied (validated)."""
    file = Path(path)
    data = _read(file)
    if not isinstance(data, Mapping):
        raise SafetyTextsInvalid([f"{file}: expected a mapping from alert id to its texts"])
    texts = dict(DEFAULT_SAFETY_TEXTS)
    problems: list[str] = []
    for alert_id, block in data.items():
        if alert_id not in DEFAULT_SAFETY_TEXTS:
            problems.append(
                f"{file}: unknown alert id {alert_id!r} (known: {', '.join(ALERT_IDS)})"
            )
            continue
        if not isinstance(block, Mapping) or not block:
            problems.append(f"{file}: {alert_id}: expected 'clinician' and/or 'patient' text")
            continue
        changes: dict[str, str] = {}
        for key, value in block.items():
            if key not in ("clinician", "patient"):
                problems.append(f"{file}: {alert_id}: unknown key {key!r}")
            elif not isinstance(value, str) or not value.strip():
                problems.append(f"{file}: {alert_id}: {key} text is empty")
            else:
                changes[key] = value.strip()
        texts[alert_id] = replace(texts[alert_id], **changes)
    if problems:
        raise SafetyTextsInvalid(problems)
    return texts


def safety_text(alert_id: str, site_texts: Mapping[str, SafetyText] | None = None) -> SafetyText:
    """The text for an alert: the site's override if loaded, else the default."""
    texts = site_texts if site_texts is not None else DEFAULT_SAFETY_TEXTS
    if alert_id not in texts:
        raise KeyError(f"unknown alert id {alert_id!r} (known: {', '.join(ALERT_IDS)})")
    return texts[alert_id]
