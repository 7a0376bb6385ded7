"""FHIR R4: Questionnaire resources for the instruments, and scoring of QuestionnaireResponses.

Questionnaire layout: canonical ``{QUESTIONNAIRE_BASE}/{id}``; an optional display item
``intro`` with the preamble; then one ``choice`` item per instrument item, ``linkId`` = its
1-based number as text (``"1"`` ... ``"9"``), coded with the item's LOINC code where one exists
(otherwise ``{id}-item-{n}`` in the local code system). Each answer option is a ``valueCoding``
(LOINC answer codes for NRS / PHQ-9 / GAD-7, local ``{id}-{value}`` codes otherwise) carrying
the R4 ``ordinalValue`` extension with the answer's score.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from secondlook.instruments.item_text import ItemTextUnavailable
from secondlook.instruments.model import (
    LOCAL_CODE_SYSTEM,
    LOINC_SYSTEM,
    QUESTIONNAIRE_BASE,
    AnswersInvalid,
    Instrument,
    ItemText,
    ScoreResult,
)
from secondlook.instruments.registry import INSTRUMENTS, get_instrument
from secondlook.instruments.scoring import score

ORDINAL_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
INTRO_LINK_ID = "intro"
VERSION = "1"


def canonical_url(instrument_id: str) -> str:
    """Canonical URL of the Questionnaire SecondLook builds for an instrument."""
    return f"{QUESTIONNAIRE_BASE}/{instrument_id}"


def _computable_name(instrument: Instrument) -> str:
    words = "".join(ch if ch.isalnum() else " " for ch in instrument.id).split()
    return "SecondLook" + "".join(w[:1].upper() + w[1:] for w in words)


def _item_coding(instrument: Instrument, number: int) -> dict[str, str]:
    label = instrument.item_labels[number - 1]
    if instrument.item_loinc:
        return {"system": LOINC_SYSTEM, "code": instrument.item_loinc[number - 1], "display": label}
    return {"system": LOCAL_CODE_SYSTEM, "code": f"{instrument.id}-item-{number}", "display": label}


def to_fhir_questionnaire(instrument_id: str, item_text: ItemText | None = None) -> dict[str, Any]:
    """A FHIR R4 Questionnaire (as a JSON-ready dict) for an instrument.

    Uses the shipped text (NRS, PHQ-9, GAD-7) or, for any instrument, ``item_text`` loaded by the
    site with ``load_item_text``. For a licensed instrument without loaded text this raises
    :class:`ItemTextUnavailable`: SecondLook never ships that text.
    """
    instrument = get_instrument(instrument_id)
    text = item_text if item_text is not None else instrument.item_text
    if text is None:
        raise ItemTextUnavailable(
            f"{instrument.id}: item text is not shipped ({instrument.licence}) Load the site's "
            "licensed text with load_item_text(path) and pass it as item_text."
        )
    if text.instrument != instrument.id:
        raise ValueError(
            f"item text is for {text.instrument!r}, not for {instrument.id!r} (from {text.source})"
        )
    items: list[dict[str, Any]] = []
    if text.preamble:
        items.append({"linkId": INTRO_LINK_ID, "type": "display", "text": text.preamble})
    required = instrument.max_skipped == 0
    for number, entry in enumerate(text.items, start=1):
        options = []
        for answer in entry.answers:
            system, code = instrument.answer_coding(number, answer.value)
            options.append(
                {
                    "valueCoding": {"system": system, "code": code, "display": answer.label},
                    "extension": [{"url": ORDINAL_VALUE_URL, "valueDecimal": answer.value}],
                }
            )
        items.append(
            {
                "linkId": str(number),
                "code": [_item_coding(instrument, number)],
                "prefix": f"{number}.",
                "text": entry.text,
                "type": "choice",
                "required": required,
                "answerOption": options,
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": instrument.id,
        "url": canonical_url(instrument.id),
        "version": VERSION,
        "name": _computable_name(instrument),
        "title": text.title,
        "status": "active",
        "subjectType": ["Patient"],
        "code": [
            {"system": instrument.code_system, "code": instrument.code, "display": instrument.name}
        ],
        "item": items,
    }
    if text.copyright:
        resource["copyright"] = text.copyright
    return resource


#: Items of the standard (LOINC) forms that are not scored items: the form's own total and
#: the PHQ-9 "how difficult" item (LOINC 69722-7), which the PHQ manual asks but does not score
#: (Kroenke 2001). A response holding them is read; they are noted, not rejected.
COMPANION_ITEMS: Mapping[str, Mapping[str, str]] = {
    "phq-9": {
        "44261-6": "the form's own total (SecondLook scores the items)",
        "69722-7": "the difficulty item, which is not part of the PHQ-9 score",
    },
    "gad-7": {"70274-6": "the form's own total (SecondLook scores the items)"},
}

#: Questionnaire addresses of published forms that do not end in an instrument id or LOINC
#: panel code: HL7 US Core's PHQ-9 example Questionnaire.
KNOWN_QUESTIONNAIRES: Mapping[str, str] = {
    "http://hl7.org/fhir/us/core/Questionnaire/phq-9-example": "phq-9",
}


def _by_canonical(canonical: str) -> Instrument | None:
    url = canonical.split("|", 1)[0].rstrip("/")
    if url in KNOWN_QUESTIONNAIRES:
        return INSTRUMENTS[KNOWN_QUESTIONNAIRES[url]]
    last = url.rsplit("/", 1)[-1]
    for instrument in INSTRUMENTS.values():
        if url == canonical_url(instrument.id) or last in {instrument.id, instrument.loinc}:
            return instrument
    return None


def _by_codes(concepts: object) -> Instrument | None:
    """The instrument whose panel code a list of Coding (Questionnaire.code) names."""
    for coding in concepts if isinstance(concepts, list) else []:
        if not isinstance(coding, Mapping):
            continue
        for instrument in INSTRUMENTS.values():
            if (coding.get("system"), coding.get("code")) == (
                instrument.code_system,
                instrument.code,
            ):
                return instrument
    return None


def _by_items(link_ids: list[str]) -> Instrument | None:
    """The one instrument with several items whose LOINC codes the linkIds are."""
    codes = {link.lstrip("/") for link in link_ids}
    found = [
        inst
        for inst in INSTRUMENTS.values()
        if inst.item_count > 1 and len(codes & set(inst.item_loinc)) >= 1
    ]
    return found[0] if len(found) == 1 else None


def _instrument_from_canonical(canonical: object) -> Instrument:
    if not isinstance(canonical, str) or not canonical.strip():
        raise AnswersInvalid(["QuestionnaireResponse.questionnaire is missing"])
    found = _by_canonical(canonical)
    if found is None:
        raise AnswersInvalid(
            [f"QuestionnaireResponse.questionnaire {canonical!r} is not a known instrument"]
        )
    return found


def recognise_instrument(
    resource: Mapping[str, Any], questionnaire: Mapping[str, Any] | None = None
) -> Instrument | None:
    """The instrument of a QuestionnaireResponse, or None.

    By its ``questionnaire`` address (SecondLook's canonical, an address ending in the
    instrument id or LOINC panel code, or a known published form), else by the ``code`` of the
    Questionnaire it answers (when given), else by its items' linkIds being LOINC item codes
    of exactly one instrument (LOINC and LHC forms use ``/44260-8``).
    """
    canonical = resource.get("questionnaire")
    if isinstance(canonical, str) and canonical.strip():
        found = _by_canonical(canonical)
        if found is not None:
            return found
    if questionnaire is not None:
        found = _by_codes(questionnaire.get("code"))
        if found is not None:
            return found
    try:
        link_ids = [link for link, _ in _flatten(resource.get("item"), "QuestionnaireResponse")]
    except AnswersInvalid:
        return None
    return _by_items(link_ids)


def _seq(value: object) -> list[Any]:
    """A JSON array, or nothing: a malformed element is reported elsewhere, never a crash."""
    return value if isinstance(value, list) else []


def _flatten(items: object, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if items is None:
        return
    if not isinstance(items, list):
        raise AnswersInvalid([f"{where}.item must be a list"])
    for item in items:
        if not isinstance(item, Mapping):
            raise AnswersInvalid([f"{where}.item entries must be objects"])
        yield str(item.get("linkId", "")), item
        yield from _flatten(item.get("item"), f"item {item.get('linkId')!r}")
        for answer in _seq(item.get("answer")):
            if isinstance(answer, Mapping):
                yield from _flatten(answer.get("item"), f"item {item.get('linkId')!r}")


def _item_number(instrument: Instrument, link_id: str) -> int | None:
    if link_id.isdigit() and 1 <= int(link_id) <= instrument.item_count:
        return int(link_id)
    code = link_id.lstrip("/")
    if code in instrument.item_loinc:
        return instrument.item_loinc.index(code) + 1
    return None


def _ordinal(coding: Mapping[str, Any]) -> int | None:
    for extension in _seq(coding.get("extension")):
        if isinstance(extension, Mapping) and extension.get("url") == ORDINAL_VALUE_URL:
            value = extension.get("valueDecimal", extension.get("valueInteger"))
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and float(value).is_integer()
            ):
                return int(value)
    return None


def _answer_value(
    instrument: Instrument, number: int, answer: object, problems: list[str]
) -> int | None:
    where = f"item {number} of {instrument.id}"
    if not isinstance(answer, Mapping):
        problems.append(f"{where}: answer must be an object")
        return None
    if "valueInteger" in answer:
        value = answer["valueInteger"]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        problems.append(f"{where}: valueInteger {value!r} is not an integer")
        return None
    coding = answer.get("valueCoding")
    if isinstance(coding, Mapping):
        wanted = (coding.get("system"), coding.get("code"))
        low, high = instrument.item_min[number - 1], instrument.item_max[number - 1]
        for value in range(low, high + 1):
            if instrument.answer_coding(number, value) == wanted:
                return value
        ordinal = _ordinal(coding)
        if ordinal is not None:
            return ordinal
        problems.append(f"{where}: answer code {wanted[0]}|{wanted[1]} is not one of its answers")
        return None
    kinds = ", ".join(sorted(k for k in answer if k.startswith("value"))) or "no value"
    problems.append(f"{where}: answer has {kinds}; expected valueCoding or valueInteger")
    return None


@dataclass
class Reading:
    """What a QuestionnaireResponse says, read leniently (for EHR import).

    ``answers``: one per item, ``None`` when not answered or unreadable; ``notes``: every part
    of the response that was not used as an answer, with why (companion items such as the
    form's own total, unknown linkIds, unreadable answers).
    """

    instrument: Instrument
    answers: list[int | None]
    notes: list[str] = field(default_factory=list)


def read_questionnaire_response(
    resource: Mapping[str, Any], questionnaire: Mapping[str, Any] | None = None
) -> Reading:
    """Read a QuestionnaireResponse for import: never rejects it whole for one bad part.

    Raises :class:`AnswersInvalid` only when the instrument cannot be recognised
    (:func:`recognise_instrument`) or the item structure is not a list of objects. An answer
    that cannot be read leaves its item ``None`` and is noted: the other answers, item 9 of the
    PHQ-9 above all, are kept.
    """
    if not isinstance(resource, Mapping) or resource.get("resourceType") != "QuestionnaireResponse":
        raise AnswersInvalid(["expected a FHIR QuestionnaireResponse resource"])
    instrument = recognise_instrument(resource, questionnaire)
    if instrument is None:
        canonical = resource.get("questionnaire")
        raise AnswersInvalid(
            [
                f"QuestionnaireResponse.questionnaire {canonical!r} is not a known instrument, "
                "and neither its Questionnaire's code nor its items' codes name one"
            ]
        )
    answers, problems, notes = _collect(instrument, resource, lenient=True)
    return Reading(instrument, answers, [*notes, *problems])


def _collect(
    instrument: Instrument, resource: Mapping[str, Any], *, lenient: bool
) -> tuple[list[int | None], list[str], list[str]]:
    """(answers, problems, notes): problems are what the strict reader rejects.

    Lenient: an out-of-range answer is dropped (and noted) instead of being left to score().
    """
    answers: list[int | None] = [None] * instrument.item_count
    seen: set[int] = set()
    problems: list[str] = []
    notes: list[str] = []
    companions = COMPANION_ITEMS.get(instrument.id, {})
    for link_id, item in _flatten(resource.get("item"), "QuestionnaireResponse"):
        number = _item_number(instrument, link_id)
        if number is None:
            if link_id == INTRO_LINK_ID and not item.get("answer"):
                continue
            if link_id.lstrip("/") in companions:
                notes.append(
                    f"{instrument.id}: item {link_id!r} is {companions[link_id.lstrip('/')]}"
                )
                continue
            if item.get("item") and not item.get("answer"):
                continue  # a group: its items are read
            problems.append(f"{instrument.id}: linkId {link_id!r} is not one of its items")
            continue
        if number in seen:
            problems.append(f"item {number} of {instrument.id}: answered more than once")
            continue
        seen.add(number)
        given = item.get("answer") or []
        if not isinstance(given, list):
            problems.append(f"item {number} of {instrument.id}: answer must be a list")
        elif len(given) > 1:
            problems.append(f"item {number} of {instrument.id}: {len(given)} answers, expected 1")
        elif given:
            answers[number - 1] = _answer_value(instrument, number, given[0], problems)
    for number, value in enumerate(answers if lenient else [], start=1):
        low, high = instrument.item_min[number - 1], instrument.item_max[number - 1]
        if value is not None and not low <= value <= high:
            answers[number - 1] = None
            notes.append(f"item {number} of {instrument.id}: {value} is outside {low}-{high}")
    return answers, problems, notes


def questionnaire_response_answers(
    resource: Mapping[str, Any],
) -> tuple[Instrument, list[int | None]]:
    """The instrument and the answer list (``None`` = not answered) of a QuestionnaireResponse.

    Strict: any item that is not one of the instrument's (other than the standard forms'
    companion items and groups) or any unreadable answer rejects the response.
    """
    if not isinstance(resource, Mapping) or resource.get("resourceType") != "QuestionnaireResponse":
        raise AnswersInvalid(["expected a FHIR QuestionnaireResponse resource"])
    instrument = _instrument_from_canonical(resource.get("questionnaire"))
    # Out-of-range answers are left to score(), which names them as an answer list would.
    answers, problems, _ = _collect(instrument, resource, lenient=False)
    if problems:
        raise AnswersInvalid(problems)
    return instrument, answers


def answer_from_value(instrument: Instrument, number: int, holder: Mapping[str, Any]) -> int:
    """The answer to one item from an item Observation's ``value[x]``; raises AnswersInvalid.

    ``valueCodeableConcept`` (any of its codings that is one of the item's answer codes, or
    carries an ``ordinalValue``), ``valueInteger``, or a whole-number ``valueQuantity``.
    """
    problems: list[str] = []
    concept = holder.get("valueCodeableConcept")
    if isinstance(concept, Mapping):
        for coding in _seq(concept.get("coding")):
            value = _answer_value(instrument, number, {"valueCoding": coding}, [])
            if value is not None:
                return _in_range(instrument, number, value)
        problems.append(f"item {number} of {instrument.id}: no coding is one of its answers")
    elif "valueInteger" in holder:
        value = _answer_value(instrument, number, holder, problems)
        if value is not None:
            return _in_range(instrument, number, value)
    elif isinstance(holder.get("valueQuantity"), Mapping):
        number_ = holder["valueQuantity"].get("value")
        whole = isinstance(number_, int | float) and not isinstance(number_, bool)
        if whole and float(number_).is_integer():
            return _in_range(instrument, number, int(number_))
        problems.append(f"item {number} of {instrument.id}: valueQuantity is not a whole number")
    else:
        kinds = ", ".join(sorted(k for k in holder if k.startswith("value"))) or "no value"
        problems.append(f"item {number} of {instrument.id}: value is {kinds}")
    raise AnswersInvalid(problems)


def _in_range(instrument: Instrument, number: int, value: int) -> int:
    low, high = instrument.item_min[number - 1], instrument.item_max[number - 1]
    if not low <= value <= high:
        raise AnswersInvalid([f"item {number} of {instrument.id}: {value} is outside {low}-{high}"])
    return value


def instrument_of_item(code: str) -> tuple[Instrument, int] | None:
    """(instrument, 1-based item number) of a LOINC item code, for item Observations."""
    for instrument in INSTRUMENTS.values():
        if instrument.item_count > 1 and code in instrument.item_loinc:
            return instrument, instrument.item_loinc.index(code) + 1
    return None


def score_questionnaire_response(resource: Mapping[str, Any]) -> ScoreResult:
    """Score a FHIR QuestionnaireResponse exactly as :func:`score` scores an answer list.

    The instrument comes from ``questionnaire`` (SecondLook's canonical, or any canonical whose
    last segment is the instrument id or its LOINC panel code); answers from ``valueCoding``
    (answer code, else its ``ordinalValue``) or ``valueInteger``; unanswered items are ``None``.
    """
    instrument, answers = questionnaire_response_answers(resource)
    return score(instrument.id, answers)
