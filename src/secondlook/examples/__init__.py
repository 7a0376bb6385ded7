"""Example case documents shipped with SecondLook (see README.md in this folder)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def example_names() -> list[str]:
    folder = resources.files(__name__)
    return sorted(
        p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
    )


def load_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (resources.files(__name__) / f"{name}.json").read_text("utf-8")
    )
    return data


def load_examples() -> dict[str, dict[str, Any]]:
    """Every example case document by name."""
    return {name: load_example(name) for name in example_names()}
