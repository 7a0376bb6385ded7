"""The knowledge version names exactly one set of rules."""

from __future__ import annotations

from importlib import resources

import yaml

from secondlook.knowledge import default_knowledge


def test_rule_changes_come_with_a_new_version_and_digest() -> None:
    manifest = yaml.safe_load(
        (resources.files("secondlook.knowledge") / "data" / "manifest.yaml").read_text("utf-8")
    )
    kb = default_knowledge()
    assert manifest["digest"] == kb.digest, (
        "the rule files changed: bump `version` in knowledge/data/manifest.yaml and set "
        f"`digest: {kb.digest}` (printed by `secondlook knowledge digest`)"
    )
    assert kb.version == manifest["version"]
