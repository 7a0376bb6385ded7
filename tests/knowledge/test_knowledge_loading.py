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
    "done-when-unknown-fact": (
        "workup.yaml",
        "done_when: \"'dexa' in imaging_modalities\"",
        "done_when: \"'dexa' in imaging_done\"",
        "'dexa'",
        "done_when",
    ),
    # -- care_rules.yaml ---------------------------------------------------------------------
    "care-owner-not-a-discipline": (
        "care_rules.yaml",
        "  mri: spine-surgery\n",
        "  mri: radiology\n",
        "owners 'mri'",
        "unknown discipline 'radiology'",
    ),
    "care-owner-of-an-unknown-item": (
        "care_rules.yaml",
        "  mri: spine-surgery\n",
        "  mri: spine-surgery\n  mri-spine: spine-surgery\n",
        "owners 'mri-spine'",
        "not a work-up item or treatment",
    ),
    "care-item-without-an-owner": (
        "care_rules.yaml",
        "  dexa: internal-medicine\n",
        "",
        "owners",
        "work-up item 'dexa' has no owner",
    ),
    "care-task-owner-not-a-discipline": (
        "care_rules.yaml",
        "    name: Spinal cord stimulation trial\n    owner: pain-medicine\n",
        "    name: Spinal cord stimulation trial\n    owner: anaesthesia\n",
        "tasks 'spinal-cord-stimulation-trial'",
        "owner",
    ),
    "care-task-brought-by-an-unknown-item": (
        "care_rules.yaml",
        "    brought_by: spinal-cord-stimulation\n",
        "    brought_by: spinal-cord-stimulator\n",
        "tasks 'spinal-cord-stimulation-trial'",
        "unknown work-up item or treatment 'spinal-cord-stimulator'",
    ),
    "care-task-reuses-an-item-id": (
        "care_rules.yaml",
        "  - id: opioid-taper-follow-up\n",
        "  - id: opioid-taper\n",
        "tasks 'opioid-taper'",
        "already a treatment",
    ),
    "care-prerequisite-requires-an-unknown-task": (
        "care_rules.yaml",
        "    requires: medial-branch-block\n",
        "    requires: medial-branch-blocks\n",
        "prerequisites 'rf-after-medial-branch-block'",
        "requires: unknown work-up item, treatment or care task 'medial-branch-blocks'",
    ),
    "care-prerequisite-of-an-unknown-task": (
        "care_rules.yaml",
        "    task: radiofrequency-denervation\n",
        "    task: radiofrequency-ablation\n",
        "prerequisites 'rf-after-medial-branch-block'",
        "task: unknown work-up item, treatment or care task 'radiofrequency-ablation'",
    ),
    "care-prerequisite-cycle": (
        "care_rules.yaml",
        "    task: spine-surgery-opinion\n    requires: prior-records-review\n",
        "    task: spine-surgery-opinion\n    requires: revision-surgery\n",
        "prerequisites 'opinion-after-prior-records'",
        "cycle: revision-surgery -> spine-surgery-opinion -> revision-surgery",
    ),
    "care-prerequisite-requires-itself": (
        "care_rules.yaml",
        "    requires: sacroiliac-joint-block\n",
        "    requires: sacroiliac-joint-treatment\n",
        "prerequisites 'si-treatment-after-si-block'",
        "cannot require itself",
    ),
    "care-prerequisite-unknown-reference": (
        "care_rules.yaml",
        "    references: [nice-ng59, cohen-2020]\n",
        "    references: [nice-ng59, cohen-2021]\n",
        "prerequisites 'rf-after-medial-branch-block'",
        "unknown reference 'cohen-2021'",
    ),
    "care-prerequisite-without-a-reference": (
        "care_rules.yaml",
        "    references: [nice-ng59, cohen-2020]\n",
        "    references: []\n",
        "prerequisites 'rf-after-medial-branch-block'",
        "references",
    ),
    "care-prerequisite-negative-gap": (
        "care_rules.yaml",
        "    gap_days: 28\n    because: Radiofrequency",
        "    gap_days: -28\n    because: Radiofrequency",
        "prerequisites 'rf-after-medial-branch-block'",
        "gap_days",
    ),
    "care-prerequisite-unknown-action": (
        "care_rules.yaml",
        "    requires: medial-branch-block\n    if_not_done: cancel\n",
        "    requires: medial-branch-block\n    if_not_done: ignore\n",
        "prerequisites 'rf-after-medial-branch-block'",
        "if_not_done",
    ),
    "care-due-at-start-unknown-item": (
        "care_rules.yaml",
        "  - id: prior-records-review\n    because: >-",
        "  - id: prior-records\n    because: >-",
        "due_at_start 'prior-records'",
        "unknown work-up item",
    ),
    "care-due-days-incomplete": (
        "care_rules.yaml",
        "  implied: 28\n",
        "",
        "due_days",
        "needs a number of days for implied",
    ),
    "care-due-days-not-a-number": (
        "care_rules.yaml",
        "  urgent: 7\n",
        "  urgent: a week\n",
        "due_days 'urgent'",
        "not a whole number of days",
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


def test_an_unknown_care_rules_section_is_named(data_dir: Path) -> None:
    with (data_dir / "care_rules.yaml").open("a", encoding="utf-8") as out:
        out.write("owner_of: {}\n")
    with pytest.raises(KnowledgeError, match=r"care_rules\.yaml: unknown section owner_of"):
        load_knowledge(data_dir)


def test_changing_a_prerequisite_changes_the_digest(data_dir: Path) -> None:
    """The care rules are inside the knowledge version: a changed gap cannot go unnoticed."""
    edit(
        data_dir,
        "care_rules.yaml",
        "    gap_days: 28\n    because: Radiofrequency",
        "    gap_days: 21\n    because: Radiofrequency",
    )
    changed = load_knowledge(data_dir)
    assert changed.digest != default_knowledge().digest
    rule = next(r for r in changed.care.prerequisites if r.id == "rf-after-medial-branch-block")
    assert rule.gap_days == 21


def test_changing_what_counts_as_done_changes_the_digest(data_dir: Path) -> None:
    edit(
        data_dir,
        "workup.yaml",
        "\"'dexa' in imaging_modalities\"",
        "\"'dexa' in imaging_modalities || osteoporosis\"",
    )
    assert load_knowledge(data_dir).digest != default_knowledge().digest


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
