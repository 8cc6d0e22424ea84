"""Incremental: carry unchanged sources forward and say what changed since the last run.

Runs after classify/enrich and before validate. A 304 (from the server, or
answered locally for a source fetched recently enough) becomes the previous
record's fields with this run's identity fields, a fresh ``fetched_at`` and
``changed: false``. Any other outcome is compared with the state:
``changed`` is false when the status and ``content_sha256`` are the same.
"""

from __future__ import annotations

from crawler.incremental.extension import CONTENT_STATUSES, export_key, get_state, state_key
from crawler.incremental.store import SourceState
from crawler.items import SourceItem
from crawler.stage import Stage
from crawler.timeutil import iso_z

# What a carried record takes from this run rather than from the previous one:
# the entry may have been edited (id, tags, venue) even when the page was not.
_FROM_THIS_RUN = (
    "schema_version",
    "resource_id",
    "stable_id",
    "url",
    "canonical_url",
    "fetched_at",
    "source",
    "publication",
)


class IncrementalPipeline(Stage):
    """Set ``changed`` and carry forward the records of sources that did not change."""

    def process(self, item: SourceItem) -> None:
        """Carry or compare, and leave the new state row for the exported record."""
        state = get_state(self.crawler)
        key = state_key(item.entry)
        if state is None or key is None:
            return
        previous = state.previous(key)
        record = item.record
        skipped = key in state.skipped
        reusable = previous is not None and state.reusable(previous)
        if previous is not None and previous.record is not None and not reusable:
            self.inc_stat("ingest/incremental/extraction_changed")
        carried = (
            reusable
            and previous is not None
            and previous.record is not None
            and (skipped or (item.failure is None and item.http_status == 304))
        )
        if carried:
            assert previous is not None and previous.record is not None
            fresh = {k: record[k] for k in _FROM_THIS_RUN if k in record}
            record.clear()
            record.update({**previous.record, **fresh})
            changed = False
            self.inc_stat("ingest/incremental/carried")
        elif previous is None:
            changed = True
        else:
            status = str(record.get("status"))
            changed = status != previous.status or (
                status in CONTENT_STATUSES
                and record.get("content_sha256") != previous.content_sha256
            )
        record["changed"] = changed
        state.pending[export_key(record)] = self._next_state(
            key,
            item,
            previous,
            carried=carried,
            changed=changed,
            skipped=skipped,
            fingerprint=state.fingerprint,
        )
        self.inc_stat(f"ingest/incremental/changed/{str(changed).lower()}")

    @staticmethod
    def _next_state(
        key: str,
        item: SourceItem,
        previous: SourceState | None,
        *,
        carried: bool,
        changed: bool,
        skipped: bool,
        fingerprint: str,
    ) -> SourceState:
        """The state row of this run (its record is filled in once the record is exported)."""
        now = iso_z(item.fetched_at)
        record = item.record
        status = str(record.get("status"))
        etag = previous.etag if previous else None
        last_modified = previous.last_modified if previous else None
        content_sha256 = previous.content_sha256 if previous else None
        # the fingerprint of the night that made the row's record
        extraction = previous.extraction if previous else None
        fetched = item.failure is None and item.http_status is not None
        if fetched and not carried and status in CONTENT_STATUSES:
            # New content: its validators are exactly what this response sent.
            etag = item.headers.get("etag")
            last_modified = item.headers.get("last-modified")
            content_sha256 = record.get("content_sha256")
            extraction = fingerprint
        elif carried and not skipped:
            # A 304 may update the validators of the content it confirms.
            etag = item.headers.get("etag") or etag
            last_modified = item.headers.get("last-modified") or last_modified
        answered = (
            fetched
            and item.http_status is not None
            and (200 <= item.http_status < 300 or item.http_status == 304)
        )
        # A source answered from the state was not confirmed by any server.
        confirmed = answered and not skipped
        return SourceState(
            url=key,
            etag=etag,
            last_modified=last_modified,
            content_sha256=content_sha256,
            first_seen=previous.first_seen if previous else now,
            last_changed=now if changed or previous is None else previous.last_changed,
            checked_at=now if confirmed else (previous.checked_at if previous else None),
            status=status,
            # replaced by the exported record when it has content (see IncrementalState)
            record=previous.record if previous else None,
            extraction=extraction,
        )
