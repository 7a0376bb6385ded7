"""Medications from FHIR: which drug class, which opioid at what strength, and its daily MME.

Used by the importer (docs/fhir.md, "Medications"). Pure functions over JSON dicts. An opioid
whose daily dose cannot be worked out says why (a string) instead of a number: the importer
then records the explicit state "opioid present, daily MME unknown" (docs/contract.md).

Sources: the MME conversion factors are CDC 2022 (Dowell et al., MMWR Recomm Rep
2022;71(3):1-95), ``codes.MME_FACTORS``; RxNorm names state ingredient and strength
(NLM RxNorm), ``codes.RXNORM_OPIOID_PRODUCTS`` lists the codes seen without a usable name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from secondlook.fhir import codes as c
from secondlook.fhir.fields import codings, concept_text, seq


@dataclass(frozen=True)
class Product:
    """A medication as far as SecondLook needs it.

    ``klass``: a ``medications`` boolean name or ``opioid``; ``ingredient``: the ingredient
    name; ``strength``: amount of the ingredient per unit (tablet, capsule, patch), in mg, or in
    mcg/h for a fentanyl patch; ``None`` when not known.
    """

    klass: str
    ingredient: str
    strength: float | None = None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


_STRENGTH_AFTER = r"[^0-9/]{0,40}?(\d+(?:\.\d+)?)\s*(mg|mcg|ug|microgram)(?:\s*/\s*(hr?|ml))?"
_BRAND_STRENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*(?:mg)?\s*[-/]\s*\d+")


def _from_text(text: str) -> Product | None:
    """Ingredient and strength from a name: RxNorm names, plain names and brand names."""
    text = f" {text.lower()} "
    for name, klass in c.INGREDIENT_NAMES.items():
        # Whole words: "morphine" is not the end of "hydromorphone".
        found = re.search(rf"\b{re.escape(name)}\b", text)
        if found is None:
            continue
        strength = None
        if klass == "opioid":
            match = re.match(_STRENGTH_AFTER, text[found.end() :])
            if match:
                strength = _strength(name, match)
        return Product(klass, name, strength)
    for brand, ingredient in c.OPIOID_BRANDS.items():
        found = re.search(rf"\b{re.escape(brand)}(?!\w)", text)
        if found is None:
            continue
        rest = text[found.end() :]
        match = _BRAND_STRENGTH.match(rest.strip())
        strength = float(match.group(1)) if match else None
        if strength is None:
            single = re.match(_STRENGTH_AFTER, rest)
            strength = _strength(ingredient, single) if single else None
        return Product("opioid", ingredient, strength)
    return None


def _strength(ingredient: str, match: re.Match[str]) -> float | None:
    value, unit, per = float(match.group(1)), match.group(2), match.group(3)
    if per == "ml":
        return None  # a solution: the dose needs the volume, read from doseQuantity in mg
    if ingredient == "fentanyl":
        # Patches are named in mcg/h ("fentanyl 25 MCG/HR Transdermal System").
        return value if per and unit in ("mcg", "ug", "microgram") else None
    if per:
        return None
    return value / 1000.0 if unit in ("mcg", "ug", "microgram") else value


def identify(concept: object, medication: dict[str, Any] | None = None) -> Product | None:
    """The product of a ``medication[x]`` concept and, when referenced, its Medication."""
    for system, value in codings(concept):
        if system == c.RXNORM and value in c.RXNORM_OPIOID_PRODUCTS:
            ingredient, strength = c.RXNORM_OPIOID_PRODUCTS[value]
            return Product("opioid", ingredient, strength)
    from_ingredients = _from_medication(medication) if medication else None
    if from_ingredients is not None:
        return from_ingredients
    for system, value in codings(concept):
        if system == c.RXNORM and value in c.RXNORM_INGREDIENTS:
            klass, name = c.RXNORM_INGREDIENTS[value]
            named = _from_text(concept_text(concept))
            per_unit = named.strength if named and named.ingredient == name else None
            return Product(klass, name, per_unit)
    return _from_text(concept_text(concept))


def _from_medication(medication: dict[str, Any]) -> Product | None:
    """A Medication resource: its code, else its ingredients with their strength."""
    found = identify(medication.get("code"))
    for item in seq(medication.get("ingredient")):
        if not isinstance(item, dict):
            continue
        product = identify(item.get("itemCodeableConcept"))
        if product is None:
            continue
        if found is not None and found.klass == "opioid" and product.klass != "opioid":
            continue  # the acetaminophen of a combination product
        strength = _ratio_mg(item.get("strength"), product.ingredient)
        if strength is None:
            strength = product.strength
        if found is None or found.klass != "opioid" or found.strength is None:
            found = Product(product.klass, product.ingredient, strength)
    return found


def _ratio_mg(ratio: object, ingredient: str) -> float | None:
    """mg per unit from an ingredient strength Ratio (``5 mg / 1 {tbl}``)."""
    if not isinstance(ratio, dict):
        return None
    top, bottom = ratio.get("numerator"), ratio.get("denominator")
    if not isinstance(top, dict):
        return None
    value = _number(top.get("value"))
    unit = str(top.get("code") or top.get("unit") or "").lower()
    per = 1.0
    if isinstance(bottom, dict):
        per_value = _number(bottom.get("value"))
        bottom_unit = str(bottom.get("code") or bottom.get("unit") or "").lower()
        if per_value is None or per_value <= 0:
            return None
        if ingredient == "fentanyl" and bottom_unit in ("h", "hr"):
            return value / per_value if value is not None and unit in ("ug", "mcg") else None
        if bottom_unit not in c.COUNT_UNITS:
            return None
        per = per_value
    if value is None or unit not in c.MASS_UNITS_MG or ingredient == "fentanyl":
        return None
    return value * c.MASS_UNITS_MG[unit] / per


def daily_mme(resource: dict[str, Any], product: Product) -> float | str:
    """Oral morphine milligram equivalents per day over all dosage instructions, or why not."""
    factor = c.MME_FACTORS.get(product.ingredient)
    if factor is None:
        return f"{product.ingredient} has no MME conversion factor (CDC 2022)"
    dosages = resource.get("dosageInstruction")
    if dosages is None:
        dosages = resource.get("dosage")
    if not isinstance(dosages, list) or not dosages:
        return "no dosage instruction"
    total = 0.0
    for i, dosage in enumerate(dosages):
        if not isinstance(dosage, dict):
            return f"dosage {i} is not an object"
        per_day = _instruction_mme(dosage, product, factor)
        if isinstance(per_day, str):
            where = f"dosage instruction {i + 1}" if len(dosages) > 1 else "dosage"
            return f"{where}: {per_day}"
        total += per_day
    return total


def _route_problem(dosage: dict[str, Any], product: Product) -> str | None:
    route = dosage.get("route")
    if route is None:
        return None
    snomed = {v for s, v in codings(route) if s == c.SNOMED}
    words = concept_text(route)
    allowed = c.TRANSDERMAL_ROUTES if product.ingredient == "fentanyl" else c.ORAL_ROUTES
    word = "transdermal" if product.ingredient == "fentanyl" else "oral"
    if snomed & allowed or word in words or (word == "oral" and re.search(r"\bpo\b", words)):
        return None
    return f"route {words or sorted(snomed)!r}: the CDC 2022 factors are for the {word} route"


def _instruction_mme(dosage: dict[str, Any], product: Product, factor: float) -> float | str:
    problem = _route_problem(dosage, product)
    if problem:
        return problem
    amount = _amount(dosage, product)
    if isinstance(amount, str):
        return amount
    value, kind = amount
    if kind == "rate":  # fentanyl mcg/h: the factor is per mcg/h (CDC 2022)
        return value * factor
    per_day = _per_day(dosage)
    if isinstance(per_day, str):
        return per_day
    return value * per_day * factor


def _amount(dosage: dict[str, Any], product: Product) -> tuple[float, str] | str:
    """(mg per administration, "dose") or (mcg/h, "rate"), choosing doseAndRate by its unit.

    EHRs send several doseAndRate entries (Epic: an "admin-amount" in tablets next to the
    ordered amount in mg): a mass dose is taken first, then a counted dose (tablets, patches) x
    the product's strength. A dose range counts at its high end, the most that may be taken.
    """
    entries = [d for d in seq(dosage.get("doseAndRate")) if isinstance(d, dict)]
    doses: list[dict[str, Any]] = []
    for item in entries:
        quantity = item.get("doseQuantity")
        if isinstance(quantity, dict):
            doses.append(quantity)
        dose_range = item.get("doseRange")
        if isinstance(dose_range, dict) and isinstance(dose_range.get("high"), dict):
            doses.append(dose_range["high"])
        rate = item.get("rateQuantity")
        if isinstance(rate, dict) and product.ingredient == "fentanyl":
            doses.append(rate)
    if not doses:
        return "no dose quantity"
    seen: list[str] = []
    for quantity in doses:  # mass and rate units first
        value = _number(quantity.get("value"))
        unit = str(quantity.get("code") or quantity.get("unit") or "").strip()
        seen.append(unit)
        if value is None:
            continue
        if product.ingredient == "fentanyl":
            if unit.lower() in c.FENTANYL_RATE_UNITS:
                return value, "rate"
            continue
        if unit.lower() in c.MASS_UNITS_MG:
            return value * c.MASS_UNITS_MG[unit.lower()], "dose"
    for quantity in doses:  # then counted units x strength
        value = _number(quantity.get("value"))
        unit = str(quantity.get("code") or quantity.get("unit") or "").strip().lower()
        if value is None or unit not in c.COUNT_UNITS:
            continue
        if product.strength is None:
            return f"dose of {value:g} {unit or 'unit'} but the strength per unit is not known"
        if product.ingredient == "fentanyl":
            return value * product.strength, "rate"
        return value * product.strength, "dose"
    return f"dose unit {', '.join(repr(u) for u in seen)}: not a mass, rate or counted unit"


def _per_day(dosage: dict[str, Any]) -> float | str:
    """Administrations per day from Timing (repeat, else code); the most frequent if a range."""
    timing = dosage.get("timing")
    if not isinstance(timing, dict):
        return "no timing"
    repeat = timing.get("repeat") if isinstance(timing.get("repeat"), dict) else {}
    assert isinstance(repeat, dict)
    period = _number(repeat.get("period"))
    unit = repeat.get("periodUnit")
    per_unit = {"min": 1440.0, "h": 24.0, "d": 1.0, "wk": 1 / 7, "mo": 1 / 30.4375}.get(str(unit))
    if period is not None and period > 0 and per_unit is not None:
        frequency = _number(repeat.get("frequencyMax", repeat.get("frequency", 1)))
        if frequency is None or frequency <= 0:
            return "timing frequency is not a positive number"
        return frequency * per_unit / period
    times = [t for t in (seq(repeat.get("timeOfDay"))) if isinstance(t, str)]
    if times:
        return float(len(times))
    when = [w for w in (seq(repeat.get("when"))) if isinstance(w, str)]
    if when:
        return float(len(when))  # e.g. HS: once, at night
    concept = timing.get("code")
    for coding in seq(concept.get("coding")) if isinstance(concept, dict) else []:
        # HL7 v3 GTSAbbreviation; some EHRs send the code without its system.
        code = coding.get("code") if isinstance(coding, dict) else None
        system = coding.get("system") if isinstance(coding, dict) else None
        if system not in (None, c.GTS_ABBREVIATION) or not isinstance(code, str):
            continue
        if code.upper() in c.TIMING_CODES_PER_DAY:
            return c.TIMING_CODES_PER_DAY[code.upper()]
    return "no timing (frequency per period, times of day or a timing code)"
