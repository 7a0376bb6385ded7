"""All instruments, keyed by id, in the order of CONTRACT.md §1.11."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from secondlook.instruments import dn4, gad7, ndi, nrs_pain, odi, paindetect, pcs, phq9, start_back
from secondlook.instruments.model import AnswersInvalid, Instrument

INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType(
    {
        module.INSTRUMENT.id: module.INSTRUMENT
        for module in (nrs_pain, phq9, gad7, odi, ndi, start_back, pcs, dn4, paindetect)
    }
)


def get_instrument(instrument_id: object) -> Instrument:
    """The instrument with this id; an unknown id is an :class:`AnswersInvalid`."""
    if isinstance(instrument_id, str) and instrument_id in INSTRUMENTS:
        return INSTRUMENTS[instrument_id]
    known = ", ".join(INSTRUMENTS)
    raise AnswersInvalid([f"unknown instrument {instrument_id!r} (known: {known})"])


#: The abbreviation clinicians write for each instrument (a table header, the patient page's
#: header), beside its full ``name``; every instrument has one (tested).
SHORT_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "nrs-pain": "Pain NRS",
        "phq-9": "PHQ-9",
        "gad-7": "GAD-7",
        "odi": "ODI",
        "ndi": "NDI",
        "start-back": "STarT Back",
        "pcs": "PCS",
        "dn4": "DN4",
        "paindetect": "painDETECT",
    }
)


def short_name(instrument_id: str) -> str:
    """The instrument's abbreviation ("PHQ-9"); an unknown id is returned as it is."""
    return SHORT_NAMES.get(instrument_id, instrument_id)
