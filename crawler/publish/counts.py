"""Counting records by status and error kind: the one rule every count follows.

The ledger (the run's ``ingest/records*`` stats, hence the manifest and the
exit code), the coverage alarms, the nightly report and the distributed
finishing step all count the same records the same way, through
:class:`RecordCounts`. Pure: no Scrapy, so the report and the finishing step
use it on files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from itemadapter import ItemAdapter

RECORDS_STAT = "ingest/records"
STATUS_PREFIX = "ingest/records/status/"
ERROR_PREFIX = "ingest/records/error/"
CHANGED_STAT = "ingest/records/changed"
UNCHANGED_STAT = "ingest/records/unchanged"


def as_record(item: object) -> ItemAdapter | None:
    """An exported item as a record (any item type itemadapter knows), or None when it is not one.

    A record is an item with a ``status``; whatever its type (the validate
    stage exports dicts), it is read through one mapping interface.
    """
    if not ItemAdapter.is_item(item):
        return None
    adapter = ItemAdapter(item)
    return adapter if "status" in adapter else None


def facets(record: Mapping[str, Any]) -> tuple[str, str | None, bool | None]:
    """What a record is counted under: its status, its error kind, whether it changed."""
    error = record.get("error")
    changed = record.get("changed")
    return (
        str(record.get("status")),
        str(error) if error else None,
        changed if isinstance(changed, bool) else None,
    )


def stat_keys(record: Mapping[str, Any]) -> list[str]:
    """The stats one record adds one to: the total, its status, its error kind, changed."""
    status, error, changed = facets(record)
    keys = [RECORDS_STAT, f"{STATUS_PREFIX}{status}"]
    if error is not None:
        keys.append(f"{ERROR_PREFIX}{error}")
    if changed is not None:
        keys.append(CHANGED_STAT if changed else UNCHANGED_STAT)
    return keys


@dataclass
class RecordCounts:
    """Records counted by status, error kind and whether they changed since the last run."""

    records: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_error: Counter[str] = field(default_factory=Counter)
    changed: int = 0
    unchanged: int = 0

    def add(self, record: Mapping[str, Any]) -> None:
        """Count one record."""
        status, error, changed = facets(record)
        self.records += 1
        self.by_status[status] += 1
        if error is not None:
            self.by_error[error] += 1
        if changed is True:
            self.changed += 1
        elif changed is False:
            self.unchanged += 1

    def as_stats(self) -> dict[str, int]:
        """The counts as the run's stats (the keys :func:`stat_keys` names)."""
        stats = {RECORDS_STAT: self.records}
        stats.update({f"{STATUS_PREFIX}{k}": n for k, n in self.by_status.items()})
        stats.update({f"{ERROR_PREFIX}{k}": n for k, n in self.by_error.items()})
        if self.changed:
            stats[CHANGED_STAT] = self.changed
        if self.unchanged:
            stats[UNCHANGED_STAT] = self.unchanged
        return stats
