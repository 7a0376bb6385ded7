"""The rules for a new password (NIST SP 800-63B-4, section 3.1.1.2), in one place.

- At least 15 characters: the minimum for a password that is the only factor, as it is here.
  Up to 1,000 characters are accepted (NIST: at least 64), and every character counts, spaces
  and any Unicode included; no composition rules (NIST: shall not impose them).
- Not all whitespace and not one character repeated: such values pass a length rule only.
- Not a commonly used, expected or compromised value. zxcvbn (the Python port of Dropbox's
  estimator, MIT) carries frequency lists of leaked passwords, English words and names, and
  recognises keyboard walks, sequences, repeats, dates and l33t substitutions, which a plain
  list of the most common passwords would miss ("P@ssw0rd12345678"); it also weighs the
  username. A password it scores below 3 (fewer than about 10^10 guesses, its "safely
  unguessable" line against offline attacks on a slow hash) is refused, with its advice.
"""

from __future__ import annotations

MIN_LENGTH = 15
MAX_LENGTH = 1000
# zxcvbn's matching is superlinear in the length and refuses more than 72 characters; the
# first 72 characters of a password decide whether it is a known or expected value.
_ESTIMATED_PREFIX = 72
_MIN_SCORE = 3


def password_problems(password: str, *, username: str = "") -> list[str]:
    """What is wrong with `password` as a new password (empty when it is acceptable)."""
    if len(password) < MIN_LENGTH:
        return [f"a password needs at least {MIN_LENGTH} characters (a phrase of a few words)"]
    if len(password) > MAX_LENGTH:
        return [f"a password has at most {MAX_LENGTH} characters"]
    if not password.strip():
        return ["a password cannot be only spaces"]
    if len(set(password)) == 1:
        return ["a password cannot be one character repeated"]
    inputs = [username, *username.replace("_", "-").split("-")] if username else []
    # Imported here: its word lists take a while to load, and only setting a password needs them.
    from zxcvbn import zxcvbn

    estimate = zxcvbn(password[:_ESTIMATED_PREFIX], user_inputs=[i for i in inputs if i])
    if estimate["score"] < _MIN_SCORE:
        feedback = estimate["feedback"]
        advice = " ".join(
            part for part in [feedback.get("warning", ""), *feedback.get("suggestions", [])] if part
        )
        return [
            "this password is too common or too easy to guess"
            + (f": {advice}" if advice else "; add words that are not a pattern")
        ]
    return []


class WeakPassword(ValueError):
    """A new password breaks the password rules (:func:`password_problems`)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
