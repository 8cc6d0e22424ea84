"""Dead means dead: failures in a row, and when a failing source counts as confirmed dead.

One bad night is not rot: a server down for maintenance, a DNS hiccup, a
deploy gone wrong all recover. A source is ``dead_confirmed`` only when it is
dead tonight after ``DEAD_AFTER_FAILURES`` failed nights in a row spread over
at least ``DEAD_AFTER_DAYS`` calendar days (UTC), counting the first and the
last: nights on Monday, Tuesday and Wednesday span three days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: statuses that are a failed night
FAILED_STATUSES = frozenset({"dead", "error"})
#: error kinds that say nothing about the source itself (we refused it, or a
#: stage of ours failed): such a night neither counts nor breaks a run of failures
NEUTRAL_KINDS = frozenset(
    {
        "invalid_url",
        "unsupported_scheme",
        "blocked_address",
        "robots",
        "internal",
        "invalid_record",
        "ignored",
    }
)


@dataclass(frozen=True, slots=True)
class Failures:
    """The run of failed nights a source is in."""

    first_failed_at: str | None
    failures_in_a_row: int


NONE = Failures(None, 0)


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def next_failures(previous: Failures, status: str, error: str | None, now: str) -> Failures:
    """The run of failures after tonight's outcome (``now``: ISO 8601 UTC)."""
    if status in FAILED_STATUSES and error in NEUTRAL_KINDS:
        return previous
    if status not in FAILED_STATUSES:
        return NONE
    if previous.failures_in_a_row <= 0 or previous.first_failed_at is None:
        return Failures(now, 1)
    return Failures(previous.first_failed_at, previous.failures_in_a_row + 1)


def dead_confirmed(
    failures: Failures, status: str, now: str, *, after_failures: int, after_days: int
) -> bool:
    """Whether a dead source has failed long enough to count as gone."""
    if status != "dead" or failures.failures_in_a_row < after_failures:
        return False
    first, last = _parse(failures.first_failed_at), _parse(now)
    if first is None or last is None:
        return False
    days_spanned = (last.date() - first.date()).days + 1
    return days_spanned >= after_days
