"""One version number, in one place (src/secondlook/__init__.py), read by the packaging."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import secondlook

ROOT = Path(__file__).resolve().parents[1]


def test_the_installed_version_is_the_packages() -> None:
    assert importlib.metadata.version("secondlook") == secondlook.__version__


def test_pyproject_takes_the_version_from_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]


def test_the_changelog_names_the_current_version() -> None:
    assert f"## {secondlook.__version__}" in (ROOT / "CHANGELOG.md").read_text()
