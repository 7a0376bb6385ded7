"""assess(): from a case to an explainable assessment (CONTRACT.md §2).

A pure, deterministic function: no I/O, no clock, no randomness. It works in steps, and each
step's conclusions become facts the next step's rules may use:

1. red flags and safety alerts          -> facts red_flags, safety_alerts
2. the differential over all etiologies -> facts likely_causes, possible_causes
3. treatment options                    -> fact treatment_candidates
4. work-up, surgical review, perspectives, missing information

Every conclusion carries the sentences of the criteria that produced it (`because`) and the
references of the records involved. Criteria whose facts are unknown are reported as such.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from secondlook.case.facts import FACTS, CaseFacts, FactValue, derive_facts
from secondlook.case.models import Case
from secondlook.case.words import word
from secondlook.instruments import SafetyText, safety_text, trajectory
from secondlook.knowledge.expressions import Condition, ConditionError, Context
from secondlook.knowledge.loader import KnowledgeBase, default_knowledge
from secondlook.knowledge.models import PERSPECTIVES, Criterion, Etiology, Treatment, Workup

ENGINE_VERSION: Final = "1.1.0"
ASSESSMENT_SCHEMA: Final = "secondlook.assessment/1"

CONDITIONS: Final = {
    "lumbar": "failed-back-surgery-syndrome",
    "cervical": "failed-neck-surgery-syndrome",
    "thoracic": "persistent-pain-after-thoracic-surgery",
}
_URGENCY_ORDER: Final = {"emergency": 0, "urgent": 1, "routine": 2}
_LIKELIHOOD_ORDER: Final = {"likely": 0, "possible": 1, "unlikely": 2}
# Causes a spine surgeon could correct; they shape revision and stimulation rules in the
# knowledge base as well, where the list is spelled out for reviewers.
_CLASSIFICATION_REFERENCES: Final = ("christelis-2021", "schug-2019")
# The grading system of neuropathic pain (Finnerup et al., Pain 2016).
_NEUPSIG_REFERENCES: Final = ("finnerup-2016",)
_UNSET: Final = object()


def assess(
    case: Case,
    kb: KnowledgeBase | None = None,
    *,
    safety_texts: Mapping[str, SafetyText] | None = None,
) -> dict[str, Any]:
    """Assess a validated case with a knowledge base (by default the one shipped).

    `safety_texts` are a site's own wording for safety alerts (instruments.safety); without
    them the defaults are used. The alert itself never depends on the wording.
    """
    kb = kb or default_knowledge()
    facts = derive_facts(case)
    ev = _Evaluator(facts.values, _names_of(kb))
    cited = _Citations()

    red_flags = _red_flags(kb, ev, cited)
    safety_alerts = _safety_alerts(kb, ev, cited, safety_texts)
    ev.add("red_flags", tuple(f["id"] for f in red_flags))
    ev.add("safety_alerts", tuple(a["id"] for a in safety_alerts))

    differential = _differential(kb, ev, cited)
    ev.add("likely_causes", tuple(d["id"] for d in differential if d["likelihood"] == "likely"))
    ev.add("possible_causes", tuple(d["id"] for d in differential if d["likelihood"] == "possible"))

    treatments = _treatments(kb, ev, cited)
    ev.add(
        "treatment_candidates",
        tuple(t["id"] for t in treatments if t["recommendation"] in ("recommended", "consider")),
    )

    workup = _workup(kb, ev, cited, differential)
    return {
        "schema": ASSESSMENT_SCHEMA,
        "case_id": case.id,
        "knowledge_version": kb.version,
        "engine_version": ENGINE_VERSION,
        "red_flags": red_flags,
        "safety_alerts": safety_alerts,
        "classification": _classification(case, facts, cited),
        "differential": differential,
        "workup": workup,
        "treatment_options": treatments,
        "surgical_review": _surgical_review(kb, ev, red_flags),
        "perspectives": _perspectives(kb, ev, red_flags, safety_alerts, workup, treatments),
        "scores": _scores(facts),
        "missing_information": _missing(kb, ev),
        "references": [
            {"id": ref_id, "citation": kb.references[ref_id].citation}
            for ref_id in kb.references
            if ref_id in cited.ids
        ],
    }


# -- evaluation -----------------------------------------------------------------------------------

C = TypeVar("C", bound=Criterion)


_FACT_DOCS: Final = {name: spec.doc for name, spec in FACTS.items()}


class _Evaluator:
    """Evaluates conditions against one case, each at most once."""

    def __init__(
        self, facts: Mapping[str, FactValue], names: Mapping[str, Mapping[str, str]] | None = None
    ) -> None:
        self.facts: dict[str, FactValue] = dict(facts)
        self.names: Mapping[str, Mapping[str, str]] = names or {}
        self.context = Context(self.facts)
        self._cache: dict[str, bool | None] = {}

    def add(self, name: str, value: FactValue) -> None:
        self.facts[name] = value
        self.context.cel.add_variable(name, list(value) if isinstance(value, tuple) else value)

    def __call__(self, condition: Condition) -> bool | None:
        cached = self._cache.get(condition.source, _UNSET)
        if cached is not _UNSET:
            return cached  # type: ignore[return-value]
        if condition.fact_set and self.facts.keys().isdisjoint(condition.fact_set):
            result = None  # every fact it reads is unknown: skip the (costly) failing evaluation
        else:
            result = condition.evaluate(self.context)
        self._cache[condition.source] = result
        return result

    def split(self, criteria: Sequence[C]) -> tuple[list[C], list[C]]:
        """(criteria that hold, criteria that could not be judged), in one pass."""
        held: list[C] = []
        unknown: list[C] = []
        cache = self._cache
        known = self.facts.keys()
        cel_context = self.context.cel
        for criterion, program, source, fact_set in _plan(criteria):
            # __call__ and Condition.evaluate inlined: this loop is the engine's hot path.
            value = cache.get(source, _UNSET)
            if value is _UNSET:
                if fact_set and known.isdisjoint(fact_set):
                    value = None
                else:
                    try:
                        value = program.execute(cel_context)
                    except RuntimeError:  # an unknown fact: neither true nor false
                        value = None
                    else:
                        if value is not True and value is not False:
                            raise ConditionError(f"condition {source!r} gave {value!r}")
                cache[source] = value
            if value:
                held.append(criterion)
            elif value is None:
                unknown.append(criterion)
        return held, unknown

    def explain(self, criterion: Criterion) -> str:
        return render(criterion.because, self.facts, self.names)

    def unknown_facts(self, unjudged: Iterable[Criterion]) -> list[str]:
        """What is not known for criteria that could not be judged, in readable words."""
        out: list[str] = []
        facts = self.facts
        for criterion in unjudged:
            for name in criterion.condition.facts:
                if name not in facts:
                    doc = _FACT_DOCS[name]
                    if doc not in out:
                        out.append(doc)
        return out


class _Citations:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    def __call__(self, refs: Iterable[str]) -> list[str]:
        refs = list(dict.fromkeys(refs))
        self.ids.update(refs)
        return refs


def render(
    template: str,
    facts: Mapping[str, FactValue],
    names: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """Fill `{fact}` placeholders with this case's values, in words a clinician reads: the
    knowledge base's names for the ids a fact holds (``names``, per fact: its red flags, causes,
    treatments), the case vocabulary's words for its codes."""
    parts = _parsed(template)
    if len(parts) == 1 and parts[0][1] is None:
        return template
    names = names or {}
    return "".join(
        literal + (_show(facts.get(name), names.get(name, {})) if name else "")
        for literal, name in parts
    )


@functools.cache
def _parsed(template: str) -> tuple[tuple[str, str | None], ...]:
    return tuple((lit, name) for lit, name, _s, _c in string.Formatter().parse(template))


def _show(value: FactValue | None, names: Mapping[str, str]) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    # Ids and codes read as words ("Recurrent disc herniation", "modified duty").
    if isinstance(value, tuple):
        return ", ".join(names.get(v) or word(v) for v in value) if value else "none"
    return names.get(value) or word(value)


_Names = dict[str, dict[str, str]]
_NAMES: dict[int, tuple[KnowledgeBase, _Names]] = {}


def _names_of(kb: KnowledgeBase) -> _Names:
    """For each fact that holds ids of the knowledge base, their names (an id such as
    "infection" is both a red flag and a cause, so the names go by fact). Built once per
    loaded knowledge base and kept with it, so an id is never reused while its entry lives."""
    entry = _NAMES.get(id(kb))
    if entry is None or entry[0] is not kb:
        causes = {e.id: e.name for e in kb.etiologies}
        names: _Names = {
            "red_flags": {f.id: f.name for f in kb.red_flags},
            "safety_alerts": {a.id: a.name for a in kb.safety_alerts},
            "likely_causes": causes,
            "possible_causes": causes,
            "treatment_candidates": {t.id: t.name for t in kb.treatments},
        }
        entry = _NAMES[id(kb)] = (kb, names)
    return entry[1]


def _fired(ev: _Evaluator, criteria: Sequence[C]) -> list[C]:
    return ev.split(criteria)[0]


_Plan = tuple[tuple[Any, Any, str, frozenset[str]], ...]
# Per list of criteria of a loaded knowledge base: (criterion, program, source, facts), built
# once so the hot loop reads plain tuples instead of model properties. Keyed by the list's id;
# the list itself is kept with its plan, so an id is never reused while its entry lives.
_PLANS: dict[int, tuple[Sequence[Any], _Plan]] = {}


def _plan(criteria: Sequence[C]) -> tuple[tuple[C, Any, str, frozenset[str]], ...]:
    entry = _PLANS.get(id(criteria))
    if entry is None or entry[0] is not criteria:
        plan = tuple(
            (c, c.condition.program, c.condition.source, c.condition.fact_set) for c in criteria
        )
        if len(_PLANS) > 4096:  # knowledge bases loaded in tests come and go
            _PLANS.clear()
        _PLANS[id(criteria)] = entry = (criteria, plan)
    return entry[1]


# -- step 1: red flags and safety alerts ----------------------------------------------------------


def _red_flags(kb: KnowledgeBase, ev: _Evaluator, cited: _Citations) -> list[dict[str, Any]]:
    out: list[tuple[int, int, dict[str, Any]]] = []
    for order, flag in enumerate(kb.red_flags):
        fired = _fired(ev, flag.triggers)
        if not fired:
            continue
        urgency = min((t.urgency or flag.urgency for t in fired), key=lambda u: _URGENCY_ORDER[u])
        out.append(
            (
                _URGENCY_ORDER[urgency],
                order,
                {
                    "id": flag.id,
                    "name": flag.name,
                    "urgency": urgency,
                    "action": flag.action,
                    "because": [ev.explain(t) for t in fired],
                    "references": cited(flag.references),
                },
            )
        )
    return [item for *_, item in sorted(out, key=lambda x: (x[0], x[1]))]


def _safety_alerts(
    kb: KnowledgeBase,
    ev: _Evaluator,
    cited: _Citations,
    site_texts: Mapping[str, SafetyText] | None,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for alert in kb.safety_alerts:
        fired = _fired(ev, alert.triggers)
        if fired:
            text = safety_text(alert.id, site_texts)
            out.append(
                {
                    "id": alert.id,
                    "name": alert.name,
                    "action": text.clinician
                    if site_texts and alert.id in site_texts
                    else alert.action,
                    "patient_message": text.patient,
                    "because": list(dict.fromkeys(ev.explain(t) for t in fired)),
                    "references": cited(alert.references),
                }
            )
    return out


# -- step 2: the differential ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Weighed:
    likelihood: str
    strong_for: int
    moderate_for: int
    against: int


def likelihood(strong_for: int, moderate_for: int, strong_against: int, against: int) -> str:
    """The transparent ordinal of etiologies.yaml: never a probability."""
    if strong_for and not strong_against:
        return "likely"
    if moderate_for >= 3 and not against:
        return "likely"
    if not strong_for and not moderate_for:
        return "unlikely"
    if strong_against and not strong_for:
        return "unlikely"
    return "possible"


def _differential(kb: KnowledgeBase, ev: _Evaluator, cited: _Citations) -> list[dict[str, Any]]:
    """Every etiology with its likelihood, in the ranking order of docs/knowledge.md.

    Within a likelihood: a cause a raised red flag points to comes first; then more strong
    findings before fewer; then specific causes before diagnoses of exclusion; then more
    moderate findings, fewer findings against, and the order of the knowledge base. Strong,
    specific findings therefore outrank any number of weak, common ones.
    """
    raised = ev.facts.get("red_flags")
    flags = set(raised) if isinstance(raised, tuple) else set()
    rows: list[tuple[tuple[int, ...], dict[str, Any]]] = []
    for order, etiology in enumerate(kb.etiologies):
        item, weighed = _weigh(etiology, ev, cited)
        flagged = weighed.likelihood != "unlikely" and not flags.isdisjoint(etiology.red_flags)
        key = (
            _LIKELIHOOD_ORDER[weighed.likelihood],
            0 if flagged else 1,
            -weighed.strong_for,
            1 if etiology.exclusion else 0,
            -weighed.moderate_for,
            weighed.against,
            order,
        )
        rows.append((key, item))
    rows.sort(key=lambda r: r[0])
    out = []
    for rank, (_, item) in enumerate(rows, start=1):
        out.append({"id": item.pop("id"), "rank": rank, **item})
    return out


def _weigh(
    etiology: Etiology, ev: _Evaluator, cited: _Citations
) -> tuple[dict[str, Any], _Weighed]:
    base: dict[str, Any] = {"id": etiology.id, "name": etiology.name}
    tests = list(etiology.discriminating_tests)
    refs = cited(etiology.references)
    if etiology.applies is not None and ev(etiology.applies) is False:
        item = {
            **base,
            "likelihood": "unlikely",
            "supporting": [],
            "against": [f"Not applicable: {etiology.not_applicable}"],
            "discriminating_tests": tests,
            "references": refs,
        }
        return item, _Weighed("unlikely", 0, 0, 1)
    supporting, unjudged_for = ev.split(etiology.supporting)
    against, unjudged_against = ev.split(etiology.against)
    strong_for = sum(c.weight == "strong" for c in supporting)
    strong_against = sum(c.weight == "strong" for c in against)
    moderate_for = len(supporting) - strong_for
    level = likelihood(strong_for, moderate_for, strong_against, len(against))
    item = {
        **base,
        "likelihood": level,
        "supporting": [_weighted(ev, c) for c in supporting],
        "against": [_weighted(ev, c) for c in against],
        "discriminating_tests": tests,
        "references": refs,
    }
    unknown = ev.unknown_facts([*unjudged_for, *unjudged_against])
    if unknown:
        item["not_known"] = unknown
    if etiology.context:
        item["context"] = etiology.context
    return item, _Weighed(level, strong_for, moderate_for, len(against))


def _weighted(ev: _Evaluator, criterion: Criterion) -> str:
    text = ev.explain(criterion)
    return f"{text} [strong]" if criterion.weight == "strong" else text


# -- step 3: treatment options --------------------------------------------------------------------


def _treatments(kb: KnowledgeBase, ev: _Evaluator, cited: _Citations) -> list[dict[str, Any]]:
    return [_treatment(treatment, ev, cited) for treatment in kb.treatments]


def _treatment(treatment: Treatment, ev: _Evaluator, cited: _Citations) -> dict[str, Any]:
    """The option at the first level with a criterion that holds; when none holds, the stated
    negative (`otherwise`): not recommended, with the reason and what could not be judged."""
    decided: tuple[str, list[Criterion]] | None = None
    undecided: list[Criterion] = []
    for level, criteria in treatment.levels():
        fired, unjudged = ev.split(criteria)
        if fired:
            decided = (level, fired)
            break
        undecided += unjudged
    if decided is None:
        # The stated negative: the reason and what is unknown. Prerequisites and evidence are
        # about doing the treatment and stay in the knowledge book, keeping the document small.
        option: dict[str, Any] = {
            "id": treatment.id,
            "name": treatment.name,
            "recommendation": "not-recommended",
            "prerequisites": [],
            "because": [render(treatment.otherwise, ev.facts)],
            # the treatment's primary source (listed first), not its whole bibliography
            "references": cited(treatment.references[:1]),
            "evidence": [],
            "evidence_conflict": False,
            "stated_negative": True,
        }
    else:
        chosen, reasons = decided
        because = [ev.explain(c) for c in reasons]
        stances = {e.stance for e in treatment.evidence}
        conflict = "for" in stances and "against" in stances
        if conflict:
            because.append("The evidence conflicts; both sides are listed under evidence.")
        option = {
            "id": treatment.id,
            "name": treatment.name,
            "recommendation": chosen,
            "prerequisites": [_prerequisite(p.text, p.met, ev) for p in treatment.prerequisites],
            "because": because,
            "references": cited(treatment.references),
            "evidence": [
                {"stance": e.stance, "summary": e.summary, "references": cited(e.references)}
                for e in treatment.evidence
            ],
            "evidence_conflict": conflict,
        }
    unknown = ev.unknown_facts(undecided)
    if unknown:
        option["not_known"] = unknown
    return option


def _prerequisite(text: str, met: Condition | None, ev: _Evaluator) -> str:
    if met is None:
        return f"{text} (to be documented)"
    status = ev(met)
    return f"{text} ({'met' if status else 'not met' if status is False else 'not known'})"


# -- step 4: work-up, surgical review, perspectives, missing information --------------------------


def _workup(
    kb: KnowledgeBase, ev: _Evaluator, cited: _Citations, differential: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    found: dict[str, tuple[str, list[str]]] = {}

    def want(item: str, priority: str, reason: str) -> None:
        current, reasons = found.get(item, ("routine", []))
        if item not in found or _URGENCY_ORDER[priority] < _URGENCY_ORDER[current]:
            current = priority
        if reason not in reasons:
            reasons.append(reason)
        found[item] = (current, reasons)

    raised = ev.facts.get("red_flags")
    flags = set(raised) if isinstance(raised, tuple) else set()
    for flag in kb.red_flags:
        if flag.id in flags:
            for item, priority in flag.workup.items():
                want(item, priority, f"Red flag: {flag.name.lower()}.")
    applicable = {
        item_id
        for item_id, record in kb.workup.items()
        if record.applies is None or ev(record.applies)
    }
    for item_id, record in kb.workup.items():
        if item_id not in applicable:
            continue
        for criterion in _fired(ev, record.indications):
            want(item_id, criterion.priority, ev.explain(criterion))
    names = {e.id: e.name for e in kb.etiologies}
    for row in differential:
        # Tests tell apart what is still open: possible causes, and likely ones that no strong
        # finding confirms yet.
        if row["likelihood"] == "unlikely" or (
            row["likelihood"] == "likely" and any(s.endswith("[strong]") for s in row["supporting"])
        ):
            continue
        for test in row["discriminating_tests"]:
            if test not in applicable:
                continue  # not for this region or situation (e.g. a hip examination for a neck)
            if test not in found and _already_done(kb.workup[test], ev):
                continue
            want(test, "routine", f"Helps confirm or exclude: {names[row['id']].lower()}.")
    order = list(kb.workup)
    out = []
    for item_id, (urgency, why) in sorted(
        found.items(), key=lambda kv: (_URGENCY_ORDER[kv[1][0]], order.index(kv[0]))
    ):
        out.append(
            {
                "id": item_id,
                "name": kb.workup[item_id].name,
                "priority": urgency,
                "because": why,
                "references": cited(kb.workup[item_id].references),
            }
        )
    return out


def _already_done(test: Workup, ev: _Evaluator) -> bool:
    """The case documents the test (its ``done_when`` in workup.yaml holds)."""
    return test.done is not None and ev(test.done) is True


def _surgical_review(
    kb: KnowledgeBase, ev: _Evaluator, red_flags: list[dict[str, Any]]
) -> dict[str, Any]:
    reasons: list[tuple[str, str]] = []
    by_id = {f.id: f for f in kb.red_flags}
    for flag in red_flags:
        record = by_id[flag["id"]]
        if record.surgical_review:
            # A trigger that raised the flag to an emergency raises the review with it.
            urgency: str = "emergency" if flag["urgency"] == "emergency" else record.surgical_review
            reasons.append((urgency, f"Red flag: {record.name.lower()}."))
    for rule in kb.surgical_review:
        if ev(rule.condition):
            reasons.append((rule.priority, ev.explain(rule)))
    if not reasons:
        return {
            "indicated": False,
            "urgency": None,
            "because": [
                "No red flag and no surgically correctable cause is likely on present information."
            ],
        }
    urgency = min((u for u, _ in reasons), key=lambda u: _URGENCY_ORDER[u])
    return {
        "indicated": True,
        "urgency": urgency,
        "because": list(dict.fromkeys(text for _, text in reasons)),
    }


def _perspectives(
    kb: KnowledgeBase,
    ev: _Evaluator,
    red_flags: list[dict[str, Any]],
    safety_alerts: list[dict[str, Any]],
    workup: list[dict[str, Any]],
    treatments: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    findings: dict[str, list[str]] = {p: [] for p in PERSPECTIVES}
    needs: dict[str, list[str]] = {p: [] for p in PERSPECTIVES}
    for flag in red_flags:
        findings["medical"].append(f"Red flag ({flag['urgency']}): {flag['name']}.")
    for alert in safety_alerts:
        opioid = alert["id"] in ("opioid-overdose-risk", "opioid-dose-unknown")
        target = "pain-management" if opioid else "psychological"
        findings[target].append(f"Safety alert: {alert['name']}.")
    for finding in kb.perspective_findings:
        if ev(finding.condition):
            findings[finding.perspective].append(ev.explain(finding))
    for item in workup:
        perspective = kb.workup[item["id"]].perspective
        needs[perspective].append(f"Work-up: {item['name']} ({item['priority']}).")
    by_id = {t.id: t for t in kb.treatments}
    for option in treatments:
        if option["recommendation"] in ("recommended", "consider"):
            perspective = by_id[option["id"]].perspective
            needs[perspective].append(f"Treatment: {option['name']} ({option['recommendation']}).")
    return [{"id": p, "findings": findings[p], "needs": needs[p]} for p in PERSPECTIVES]


def _missing(kb: KnowledgeBase, ev: _Evaluator) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for item in kb.missing_information:
        unknown = [f for f in item.facts if f not in ev.facts]
        if not unknown:
            continue
        if item.condition is not None and ev(item.condition) is False:
            continue
        text = item.item
        if len(unknown) < len(item.facts):
            # Part of it was given: say which part is missing, or "bladder, bowel and saddle
            # sensation" reads as if none of them had been asked.
            parts = [_FACT_DOCS[f].rpartition(": ")[2] for f in unknown]
            text = f"{item.item} (not known: {', '.join(parts)})"
        out.append({"id": item.id, "item": text, "why_it_matters": item.why_it_matters})
    return out


# -- classification and scores ------------------------------------------------------------------


def _classification(case: Case, facts: CaseFacts, cited: _Citations) -> dict[str, Any]:
    v = facts.values
    months = float(v["months_since_surgery"])  # type: ignore[arg-type]
    chronic = bool(v["chronic"])
    course = str(v["course"])
    index = case.index_surgery
    because = [
        f"Index surgery: {index.procedure} on {index.date.isoformat()}, {months:g} months before "
        f"this assessment.",
        _CHRONIC_REASON[chronic],
        _COURSE_REASON[course],
    ]
    cited(_CLASSIFICATION_REFERENCES)
    grade = str(v.get("neuropathic_grade", "not-graded"))
    grounds = v.get("neuropathic_grade_because")
    return {
        "condition": CONDITIONS[case.region],
        "chronic": chronic,
        "psps_type": 2 if chronic else None,
        "course": course,
        "months_since_surgery": months,
        "because": because,
        "references": list(_CLASSIFICATION_REFERENCES),
        "neuropathic_pain": {
            "grade": grade,
            "because": [
                f"NeuPSIG grade: {grade}.",
                *(
                    f"{g[0].upper()}{g[1:]}."
                    for g in (grounds if isinstance(grounds, tuple) else ())
                ),
            ],
            "references": cited(_NEUPSIG_REFERENCES),
        },
    }


# ICD-11 chronic postsurgical pain: 3 months or more after surgery (Schug et al., Pain 2019).
_CHRONIC_REASON: Final = {
    True: "Chronic: pain has lasted 3 months or more since surgery (ICD-11).",
    False: "Not yet chronic: less than 3 months since surgery (ICD-11 needs 3 months).",
}
_COURSE_REASON: Final = {
    "transient-post-surgical": (
        "Course: transient post-surgical; pain in the first 3 months is still expected to settle."
    ),
    "new": "Course: new; the pain differs in place or kind from the pain before surgery.",
    "recurrent": "Course: recurrent; the surgery relieved the pain completely and it came back.",
    "persistent": "Course: persistent; the surgery never fully relieved the pain.",
    "undetermined": "Course: undetermined; whether the surgery relieved the pain is not recorded.",
}


def _scores(facts: CaseFacts) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    by_instrument: dict[str, list[Any]] = {}
    for s in facts.scored:
        by_instrument.setdefault(s.instrument, []).append(s)
    for instrument, items in by_instrument.items():
        scored = [s for s in items if s.result.score is not None]
        points = trajectory(instrument, [(s.date, float(s.result.score)) for s in scored])
        by_date = {id(s): p for s, p in zip(scored, points, strict=True)}
        for s in items:
            row: dict[str, Any] = {
                "instrument": instrument,
                "date": s.date.isoformat(),
                "score": s.result.score,
                "band": s.result.band,
            }
            point = by_date.get(id(s))
            if point is not None and point is not points[0]:
                row["change_from_first"] = point.change_from_first
                row["meaningful_change"] = point.status_from_first
            if s.result.alerts:
                row["alerts"] = list(s.result.alerts)
            if s.result.problems:
                row["problems"] = list(s.result.problems)
            out.append(row)
    out.sort(key=lambda r: (r["date"], r["instrument"]))
    return out
