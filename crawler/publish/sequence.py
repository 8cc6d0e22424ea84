"""The publish sequence: how a finished file becomes the night's output, written once.

Every publisher calls :func:`publish`: the single-node feed storages
(:mod:`crawler.publish.feedstorage`), a distributed worker's part storage
and the distributed finishing step. The steps, in this order:

1. completeness: the caller's rule says whether the file holds one record
   per source; an incomplete file is discarded and :class:`IncompleteRunError`
   raised (nothing moves);
2. health (when the caller asks for it): no records, or a share of ``error``
   records above ``MAX_ERROR_SHARE``, makes a published but unhealthy night;
3. the file is fsynced, hashed and renamed into place, its directory fsynced;
4. its manifest is written beside it;
5. the caller's confirmation (a worker commits its claims in Redis); a
   refusal withdraws the file and its manifest;
6. a healthy night sends :data:`~crawler.publish.signals.output_published`
   (the incremental state commits on it);
7. the ``latest`` pointer moves, last, so that it never names a night whose
   state was not saved.

For ``s3://`` outputs everything above happens in the spool, and
:func:`upload_spool` then uploads it in the spool's order (data, manifests,
state, pointer).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from scrapy.settings import BaseSettings
from scrapy.signalmanager import SignalManager
from twisted.python.failure import Failure

from crawler.publish.manifest import (
    build_manifest,
    latest_pointer,
    make_shareable,
    manifest_path,
    sha256_of,
    write_json_atomically,
)
from crawler.publish.signals import output_published
from crawler.publish.spool import LATEST_NAME, flush
from crawler.s3 import client_from_settings
from crawler.timeutil import iso_z, utc_now

logger = logging.getLogger(__name__)


class IncompleteRunError(RuntimeError):
    """The run did not produce one record per source; nothing was published."""


class UploadFailedError(RuntimeError):
    """The output is complete but could not be uploaded; it waits in the spool."""

    def __init__(self, message: str, left: list[Path]) -> None:
        super().__init__(message)
        #: the files still waiting in the spool
        self.left = left


def completeness_problem(stats: Mapping[str, Any]) -> str | None:
    """Return why a single-node run's output is not complete, or None when it is."""
    if stats.get("ingest/failure"):
        return f"the run failed ({stats.get('ingest/failure_detail') or stats['ingest/failure']})"
    if not stats.get("ingest/sources_complete"):
        return "the sources list was not read to its end (the crawl was stopped early)"
    expected = stats.get("ingest/entries_unique", 0)
    written = stats.get("ingest/records", 0)
    if written != expected:
        return f"{written} records written for {expected} unique source entries"
    return None


def health_problem(stats: Mapping[str, Any], max_error_share: float) -> str | None:
    """Return why a complete run looks broken (no records, too many errors), or None."""
    records = int(stats.get("ingest/records", 0))
    if records == 0:
        return "the run produced no records"
    errors = int(stats.get("ingest/records/status/error", 0))
    if errors / records > max_error_share:
        return (
            f"{errors} of {records} records are errors "
            f"({errors / records:.0%} > MAX_ERROR_SHARE {max_error_share:.0%})"
        )
    return None


@dataclass
class Publication:
    """One file to publish and the rules it is published by."""

    #: the finished bytes, written aside (a hidden part file beside ``target``)
    part: Path
    #: where the file goes
    target: Path
    #: what the manifest and the logs call it (the local path, or the ``s3://`` URI)
    output: str
    #: the run's stats (``ingest/*``) the manifest is built from
    stats: Mapping[str, Any]
    #: the caller's completeness verdict (None: complete)
    incomplete: str | None
    #: judge the night's health with this share; None: no health check, no pointer
    max_error_share: float | None = None
    #: more manifest members (a worker's id, say)
    manifest_extra: Mapping[str, Any] = field(default_factory=dict)
    #: the crawler's signals, to send ``output_published`` on (None: nobody listens)
    signals: SignalManager | None = None
    #: called after the manifest is written; returns a reason to withdraw the file, or None
    confirm: Callable[[], str | None] | None = None


@dataclass(frozen=True)
class Published:
    """What :func:`publish` did."""

    target: Path
    manifest: dict[str, Any]
    #: why the night is unhealthy (published, but the pointer and state did not move)
    health_problem: str | None
    #: where the latest pointer was written, when it moved
    latest: Path | None


class PublishFailedError(RuntimeError):
    """The output is complete but could not be moved into place; the finished file is kept."""

    def __init__(self, message: str, kept: Path) -> None:
        super().__init__(message)
        self.kept = kept


#: a finished output whose publication failed: ``<name>.<pid>.unpublished``
UNPUBLISHED_SUFFIX = ".unpublished"


def keep_finished(part: Path, target: Path) -> Path:
    """Give the finished part file of a failed publication a name no later run removes.

    Returns where it is now (the part file itself when even that rename fails).
    """
    candidate = target.with_name(f"{target.name}.{os.getpid()}{UNPUBLISHED_SUFFIX}")
    try:
        os.replace(part, candidate)
    except OSError:
        return part  # stays a part file; the next run's clean-up may remove it
    return candidate


def publish(publication: Publication, file: IO[bytes] | None = None) -> Published:
    """Run the publish sequence (see the module docstring) on one finished file.

    ``file`` is the part file still open for writing (a feed storage's), or
    None when the part file is already closed. The part file is gone
    afterwards whatever happens.
    """
    pub = publication
    keep_part = False  # set when a finished output could not be moved into place
    try:
        if pub.incomplete:
            raise IncompleteRunError(f"output not written to {pub.output}: {pub.incomplete}")
        unhealthy = (
            health_problem(pub.stats, pub.max_error_share)
            if pub.max_error_share is not None
            else None
        )
        digest, size = _seal(pub.part, file)
        make_shareable(pub.part)
        try:
            os.replace(pub.part, pub.target)
        except OSError as exc:
            keep_part = True
            kept = keep_finished(pub.part, pub.target)
            raise PublishFailedError(
                f"output not published to {pub.output}: {exc.strerror or exc}; "
                f"the finished file is kept at {kept}",
                kept,
            ) from exc
        fsync_dir(pub.target.parent)
        manifest = build_manifest(
            pub.stats, output=pub.output, sha256=digest, size=size, finished_at=iso_z(utc_now())
        )
        if pub.max_error_share is not None:
            manifest["healthy"] = unhealthy is None
            manifest["health_problem"] = unhealthy
        manifest.update(pub.manifest_extra)
        write_json_atomically(manifest_path(pub.target), manifest)
        withdrawn = pub.confirm() if pub.confirm is not None else None
        if withdrawn:
            pub.target.unlink(missing_ok=True)
            manifest_path(pub.target).unlink(missing_ok=True)
            raise IncompleteRunError(withdrawn)
        logger.info("Published %s (%d records, sha256 %s)", pub.output, manifest["records"], digest)
        if pub.max_error_share is None:
            return Published(pub.target, manifest, None, None)
        if unhealthy:
            logger.error(
                "Unhealthy run: %s. The latest pointer and the state were not moved.", unhealthy
            )
            return Published(pub.target, manifest, unhealthy, None)
        if pub.signals is not None:
            _send_published(pub.signals, pub.target, manifest)
        latest = pub.target.parent / LATEST_NAME
        write_json_atomically(latest, latest_pointer(manifest, pub.target))
        return Published(pub.target, manifest, None, latest)
    finally:
        if file is not None and not file.closed:
            file.close()
        if not keep_part:
            pub.part.unlink(missing_ok=True)


def _seal(part: Path, file: IO[bytes] | None) -> tuple[str, int]:
    """Flush and fsync the part file; return its sha256 and size. Closes ``file``."""
    if file is None:
        with part.open("rb") as closed:
            os.fsync(closed.fileno())
            return sha256_of(closed), os.fstat(closed.fileno()).st_size
    file.flush()
    os.fsync(file.fileno())
    digest = sha256_of(file)
    size = os.fstat(file.fileno()).st_size
    file.close()
    return digest, size


def _send_published(signals: SignalManager, target: Path, manifest: dict[str, Any]) -> None:
    """Send ``output_published``; a receiver's failure fails the publication."""
    results = signals.send_catch_log(signal=output_published, target=target, manifest=manifest)
    for _receiver, result in results:
        if isinstance(result, Failure):
            result.raiseException()


def upload_spool(spool_dir: str, settings: BaseSettings, *, uri: str, kept: Path) -> None:
    """Upload everything the spool holds, in its order; raise when something stays behind."""
    left = flush(
        spool_dir,
        client_from_settings(settings),
        attempts=settings.getint("S3_UPLOAD_ATTEMPTS"),
        backoff=settings.getfloat("S3_UPLOAD_BACKOFF"),
    )
    if left:
        raise UploadFailedError(
            f"upload to {uri} failed; the finished file is kept at {kept} "
            f"and the next run uploads it",
            left,
        )
    logger.info("Uploaded %s and its manifest", uri)


def fsync_dir(path: Path) -> None:
    """Fsync a directory, so that a rename into it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
