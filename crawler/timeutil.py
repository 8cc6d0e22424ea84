"""UTC timestamps in the one format the records use."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def fetch_time() -> datetime:
    """Now, in UTC, to the second: a fetch's time as its record states it."""
    return utc_now().replace(microsecond=0)


def iso_z(moment: datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with a ``Z`` suffix, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
