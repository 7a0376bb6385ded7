"""Loading the knowledge base: a broken rule names its file and entry; the vocabulary is covered."""

from __future__ import annotations

import shutil
from importlib.resources import as_file
from pathlib import Path

import pytest

from secondlook.case.vocabulary import (
    ETIOLOGY_IDS,
    RED_FLAG_IDS,
    SAFETY_ALERT_IDS,
    TREATMENTS,
    WORKUP_IDS,
)
from secondlook.knowledge.loader import (
    KnowledgeBase,
    KnowledgeError,
    default_data_dir,
    default_knowledge,
    load_knowledge,
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A private, writable copy of the shipped rule files."""
    target = tmp_path / "data"
    with as_file(default_data_dir()) as source:
        shutil.copytree(source, target)
    return target


def edit(directory: Path, name: str, old: str, new: str) -> None:
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_unchanged_copy_loads_like_the_shipped_knowledge(data_dir: Path) -> None:
    kb = load_knowledge(data_dir)
    shipped = default_knowledge()
    assert kb.version == shipped.version
    assert kb.digest == shipped.digest
    assert [f.id for f in kb.red_flags] == [f.id for f in shipped.red_flags]


# (file, text to replace, replacement, entry the error must name, words of the message)
BREAKAGES: dict[str, tuple[str, str, str, str, str]] = {
    "unknown-fact": (
        "red_flags.yaml",
        "region == 'lumbar' && saddle_anesthesia",
        "region == 'lumbar' && saddle_numbness",
        "'cauda-equina'",
        "unknown fact saddle_numbness",
    ),
    "bad-cel-syntax": (
        "red_flags.yaml",
        "    - when: fever\n",
        "    - when: fever &&\n",
        "'infection'",
        "not a valid expression",
    ),
    "code-not-in-vocabulary": (
        "red_flags.yaml",
        "wound == 'erythema'",
        "wound == 'oozing'",
        "'infection'",
        "'oozing' is not a code of wound",
    ),
    "number-equals-text": (
        "safety_alerts.yaml",
        "opioid_mme_per_day >= 50.0",
        "opioid_mme_per_day == 'fifty'",
        "'opioid-overdose-risk'",
        "opioid_mme_per_day is a number",
    ),
    "number-ordered-against-text": (
        "safety_alerts.yaml",
        "opioid_mme_per_day >= 50.0",
        "opioid_mme_per_day >= 'fifty'",
        "'opioid-overdose-risk'",
        "right types",
    ),
    "unknown-reference": (
        "safety_alerts.yaml",
        "references: [kroenke-2001]",
        "references: [kroenke-2099]",
        "'self-harm-risk'",
        "unknown reference 'kroenke-2099'",
    ),
    "unknown-evidence-reference": (
        "treatments.yaml",
        "      references: [kamper-2015]\n- id: multidisciplinary-rehabilitation",
        "      references: [kamper-2099]\n- id: multidisciplinary-rehabilitation",
        "'exercise-therapy'",
        "kamper-2099",
    ),
    "unknown-discriminating-test": (
        "etiologies.yaml",
        "discriminating_tests: [functional-assessment]",
        "discriminating_tests: [functional-test]",
        "'myofascial-deconditioning'",
        "unknown work-up item 'functional-test'",
    ),
    "unknown-red-flag-workup": (
        "red_flags.yaml",
        "workup: {ct: urgent, dexa: routine",
        "workup: {ct-scan: urgent, dexa: routine",
        "'fracture'",
        "unknown work-up item 'ct-scan'",
    ),
    "duplicate-id": (
        "treatments.yaml",
        "- id: sleep-management",
        "- id: smoking-cessation",
        "'smoking-cessation'",
        "duplicate id",
    ),
    "unknown-key": (
        "red_flags.yaml",
        "- id: malignancy\n",
        "- id: malignancy\n  severity: high\n",
        "'malignancy'",
        "severity",
    ),
    "because-quotes-unknown-fact": (
        "safety_alerts.yaml",
        "PHQ-9 total {phq9_score}",
        "PHQ-9 total {phq9_total}",
        "'severe-depression'",
        "phq9_total",
    ),
    "treatment-uses-a-later-step": (
        "treatments.yaml",
        "    - when: sleep_disturbance\n",
        "    - when: sleep_disturbance && 'exercise-therapy' in treatment_candidates\n",
        "'sleep-management'",
        "treatment_candidates",
    ),
    "red-flag-uses-the-differential": (
        "red_flags.yaml",
        "    - when: positional_headache\n",
        "    - when: positional_headache && 'pseudomeningocele' in likely_causes\n",
        "'csf-leak'",
        "likely_causes",
    ),
    "empty-patient-text": (
        "treatments.yaml",
        "- id: smoking-cessation\n  name: Smoking cessation\n",
        "- id: smoking-cessation\n  name: '  '\n",
        "'smoking-cessation'",
        "must not be empty",
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_broken_rule_is_reported_with_its_file_and_entry(data_dir: Path, breakage: str) -> None:
    file, old, new, entry, words = BREAKAGES[breakage]
    edit(data_dir, file, old, new)
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(data_dir)
    message = str(info.value)
    assert file in message
    assert entry in message
    assert words in message
    assert info.value.file == file


def test_a_missing_rule_file_is_named(data_dir: Path) -> None:
    (data_dir / "workup.yaml").unlink()
    with pytest.raises(KnowledgeError, match=r"workup\.yaml.*missing"):
        load_knowledge(data_dir)


def test_a_file_that_is_not_yaml_is_named(data_dir: Path) -> None:
    (data_dir / "surgical_review.yaml").write_text("- id: [unclosed\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"surgical_review\.yaml.*not valid YAML"):
        load_knowledge(data_dir)


def test_a_manifest_without_a_version_is_refused(data_dir: Path) -> None:
    (data_dir / "manifest.yaml").write_text("digest: pending\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"manifest\.yaml"):
        load_knowledge(data_dir)


# -- the vocabulary of CONTRACT.md §3, in both directions -----------------------------------------


def _ids(kb: KnowledgeBase) -> dict[str, set[str]]:
    return {
        "red flags": {f.id for f in kb.red_flags},
        "safety alerts": {a.id for a in kb.safety_alerts},
        "etiologies": {e.id for e in kb.etiologies},
        "work-up": set(kb.workup),
        "treatments": {t.id for t in kb.treatments},
    }


CONTRACT_IDS: dict[str, set[str]] = {
    "red flags": set(RED_FLAG_IDS),
    "safety alerts": set(SAFETY_ALERT_IDS),
    "etiologies": set(ETIOLOGY_IDS),
    "work-up": set(WORKUP_IDS),
    "treatments": set(TREATMENTS),
}


@pytest.mark.parametrize("kind", list(CONTRACT_IDS), ids=list(CONTRACT_IDS))
def test_the_knowledge_base_covers_exactly_the_contract_vocabulary(kind: str) -> None:
    kb_ids = _ids(default_knowledge())[kind]
    assert CONTRACT_IDS[kind] - kb_ids == set(), "in the contract, missing from the knowledge base"
    assert kb_ids - CONTRACT_IDS[kind] == set(), "in the knowledge base, not in the contract"


def _records(kb: KnowledgeBase) -> list[tuple[str, object]]:
    return [
        *(("red-flag", r) for r in kb.red_flags),
        *(("safety-alert", r) for r in kb.safety_alerts),
        *(("etiology", r) for r in kb.etiologies),
        *(("workup", r) for r in kb.workup.values()),
        *(("treatment", r) for r in kb.treatments),
    ]


def test_every_record_has_texts_and_resolvable_references() -> None:
    kb = default_knowledge()
    problems: list[str] = []
    for kind, record in _records(kb):
        rid = getattr(record, "id", "?")
        for attr in ("name", "clinician", "patient"):
            if not str(getattr(record, attr, "")).strip():
                problems.append(f"{kind} {rid}: empty {attr}")
        refs = list(getattr(record, "references", []))
        if not refs:
            problems.append(f"{kind} {rid}: no reference")
        problems += [f"{kind} {rid}: dangling {r}" for r in refs if r not in kb.references]
    assert problems == []


def test_every_reference_has_a_citation() -> None:
    kb = default_knowledge()
    assert kb.references
    assert all(r.citation.strip() for r in kb.references.values())


def test_the_record_index_finds_a_red_flag_and_an_etiology_of_the_same_id() -> None:
    kb = default_knowledge()
    flag = kb.record("red-flag:infection")
    cause = kb.record("etiology:infection")
    assert flag is not None
    assert cause is not None
    assert flag[0] == "red-flag"
    assert cause[0] == "etiology"
