"""Which alerts a stored record raises, and how urgent each is (docs/care.md, "Alerts").

Pure: the store calls :func:`raised_by_assessment` and :func:`raised_by_questionnaire` in the
transaction that stores the record, so that no path stores a red flag or a safety alert without
its alert record. The severity is the engine's own word for a red flag (``urgency``) and
"safety" for every safety alert; nothing here invents a probability.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from secondlook.instruments.model import SELF_HARM_RISK
from secondlook.instruments.safety import DEFAULT_SAFETY_TEXTS
from secondlook.knowledge import default_knowledge

Severity = Literal["emergency", "urgent", "safety"]
#: Most urgent first: the inbox sorts by this order.
SEVERITIES: Final[tuple[Severity, ...]] = ("emergency", "urgent", "safety")
SEVERITY_LABELS: Final[dict[str, str]] = {
    "emergency": "Emergency",
    "urgent": "Urgent",
    "safety": "Safety",
}

SOURCES: Final = ("assessment", "questionnaire", "import")
STATUSES: Final = ("open", "acknowledged", "resolved")
OPEN_STATUSES: Final = ("open", "acknowledged")
EVENT_KINDS: Final = ("raised", "raised-again", "acknowledged", "resolved", "escalated")

#: What a person did to resolve an alert (the structured half of a resolution; the free text
#: says the rest). "no-action-needed" needs its reason in the text.
Resolution = Literal[
    "called-patient",
    "sent-to-emergency-department",
    "safety-plan-made",
    "seen-today",
    "referred",
    "no-action-needed",
    "other",
]
StatusFilter = Literal["unresolved", "all", "open", "acknowledged", "resolved"]
RESOLUTION_ACTIONS: Final[dict[str, str]] = {
    "called-patient": "Called the patient",
    "sent-to-emergency-department": "Sent to the emergency department",
    "safety-plan-made": "Safety plan made",
    "seen-today": "Seen today",
    "referred": "Referred",
    "no-action-needed": "No action needed",
    "other": "Other",
}

#: Alerts that ask for a same-day safety assessment (the PHQ-9 item 9 pathway, instruments/
#: safety.py: "A same-day safety assessment is needed").
SELF_HARM_KINDS: Final = frozenset({SELF_HARM_RISK})


@dataclass(frozen=True)
class RaisedAlert:
    """One condition a record raises: its stable key (the same condition raised again has the
    same key), severity, name, what to do, and the facts that raised it."""

    key: str
    kind: str
    severity: Severity
    name: str
    action: str
    facts: dict[str, Any] = field(default_factory=dict)


def severity_rank(severity: str) -> int:
    """0 for the most urgent; an unknown word sorts first, so it is never pushed down."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def raised_by_assessment(document: Mapping[str, Any]) -> list[RaisedAlert]:
    """The red flags (severity = the engine's urgency) and safety alerts of an assessment."""
    out: list[RaisedAlert] = []
    for flag in _dicts(document.get("red_flags")):
        urgency = str(flag.get("urgency") or "")
        # An urgency the engine does not name is treated as the most urgent: never downgraded.
        severity: Severity = "urgent" if urgency == "urgent" else "emergency"
        out.append(
            RaisedAlert(
                key=f"red-flag:{flag.get('id')}",
                kind=str(flag.get("id")),
                severity=severity,
                name=str(flag.get("name") or flag.get("id")),
                action=str(flag.get("action") or ""),
                facts={
                    "because": [str(b) for b in flag.get("because") or []],
                    "references": [str(r) for r in flag.get("references") or []],
                    "urgency": urgency,
                },
            )
        )
    for alert in _dicts(document.get("safety_alerts")):
        out.append(
            RaisedAlert(
                key=f"safety:{alert.get('id')}",
                kind=str(alert.get("id")),
                severity="safety",
                name=str(alert.get("name") or alert.get("id")),
                action=str(alert.get("action") or ""),
                facts={
                    "because": [str(b) for b in alert.get("because") or []],
                    "references": [str(r) for r in alert.get("references") or []],
                },
            )
        )
    return out


def raised_by_questionnaire(
    *,
    instrument: str,
    alert_ids: Sequence[str],
    answered_on: str,
    answers: Sequence[int | None],
) -> list[RaisedAlert]:
    """The safety alerts of one questionnaire response (an instrument raises safety alerts
    only, e.g. PHQ-9 item 9 > 0), with the answers that raised them as facts."""
    known = {a.id: a for a in default_knowledge().safety_alerts}
    out = []
    for alert_id in dict.fromkeys(alert_ids):
        record = known.get(alert_id)
        # An alert the knowledge base does not describe is still raised, in generic words.
        name = record.name if record else alert_id.replace("-", " ").capitalize()
        if record is not None:
            action = record.action
        elif alert_id in DEFAULT_SAFETY_TEXTS:
            action = DEFAULT_SAFETY_TEXTS[alert_id].clinician
        else:
            action = "Review this safety alert today."
        out.append(
            RaisedAlert(
                key=f"safety:{alert_id}",
                kind=alert_id,
                severity="safety",
                name=name,
                action=action,
                facts={
                    "because": [f"{instrument} answered on {answered_on} raised {name}"],
                    "references": list(record.references) if record else [],
                    "instrument": instrument,
                    "answered_on": answered_on,
                    "answers": list(answers),
                },
            )
        )
    return out


def _dicts(value: object) -> Iterable[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
