"""Small pure helpers the instrument modules share."""

from __future__ import annotations

from collections.abc import Sequence

from secondlook.instruments.model import Computation


def skipped(answers: Sequence[int | None]) -> list[int]:
    """1-based numbers of the skipped items."""
    return [i for i, a in enumerate(answers, start=1) if a is None]


def item_list(numbers: Sequence[int]) -> str:
    """``[3]`` -> ``"item 3"``; ``[2, 5]`` -> ``"items 2, 5"``."""
    joined = ", ".join(str(n) for n in numbers)
    return f"item {joined}" if len(numbers) == 1 else f"items {joined}"


def all_items_required(
    instrument_id: str, answers: Sequence[int | None], reason: str
) -> Computation | None:
    """``None`` when every item is answered; otherwise a ``Computation`` without a score.

    Used for instruments whose manual gives no rule for skipped items: SecondLook does not
    invent one (``reason`` says which source was checked).
    """
    missing = skipped(answers)
    if not missing:
        return None
    return Computation(
        score=None,
        problems=(
            f"{instrument_id}: {item_list(missing)} skipped; the total needs all "
            f"{len(answers)} items ({reason})",
        ),
    )


def subscale_sums(
    answers: Sequence[int | None], subscales: dict[str, tuple[int, ...]]
) -> dict[str, int | float]:
    """Sum of each subscale whose items (1-based) are all answered; others are left out."""
    out: dict[str, int | float] = {}
    for name, items in subscales.items():
        values = [answers[i - 1] for i in items]
        if all(v is not None for v in values):
            out[name] = sum(v for v in values if v is not None)
    return out


def complete(answers: Sequence[int | None]) -> list[int]:
    """The answers as ints; only call once every item is known to be answered."""
    return [a for a in answers if a is not None]
