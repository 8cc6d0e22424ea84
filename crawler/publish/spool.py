"""The spool: finished files that wait for S3, kept at ``SPOOL_DIR/<bucket>/<key>``.

Every file bound for S3 is first written here, complete, and deleted only
after its upload succeeded. When S3 is unreachable the files stay, and the
next run uploads them before its own. Upload order matters to readers:
data files first, then manifests, then the state, and ``latest.json`` last,
so that no pointer ever names a file that is not there yet.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from crawler.s3 import split_s3, upload_file, with_retries

logger = logging.getLogger(__name__)

LATEST_NAME = "latest.json"
MANIFEST_SUFFIX = ".manifest.json"
STATE_NAME = "state.sqlite.gz"


def spool_path(spool_dir: str | Path, uri: str) -> Path:
    """Where a file bound for ``uri`` waits: ``SPOOL_DIR/<bucket>/<key>``."""
    bucket, key = split_s3(uri)
    return Path(spool_dir) / bucket / key


def _order(path: Path) -> tuple[int, str]:
    name = path.name
    if name == LATEST_NAME:
        rank = 3
    elif name.endswith(".sqlite.gz"):
        rank = 2
    elif name.endswith(MANIFEST_SUFFIX):
        rank = 1
    else:
        rank = 0
    return rank, str(path)


def pending(spool_dir: str | Path) -> list[tuple[Path, str]]:
    """Files waiting in the spool, in upload order, with their ``s3://`` URIs."""
    root = Path(spool_dir)
    if not root.is_dir():
        return []
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        # hidden names are part files and locks, never finished files
        if not path.is_file() or any(p.startswith(".") for p in relative.parts):
            continue
        if len(relative.parts) < 2:
            continue
        found.append(path)
    return [(p, "s3://" + "/".join(p.relative_to(root).parts)) for p in sorted(found, key=_order)]


def flush(spool_dir: str | Path, client: Any, *, attempts: int, backoff: float) -> list[Path]:
    """Upload every spooled file in order; return those that are still waiting.

    Stops at the first file that cannot be uploaded (S3 is down: the rest
    would fail too, and uploading a pointer before its data is not allowed).
    """
    waiting = pending(spool_dir)
    for index, (path, uri) in enumerate(waiting):
        try:
            with_retries(
                lambda p=path, u=uri: upload_file(client, p, u),  # type: ignore[misc]
                what=f"Upload of {uri}",
                attempts=attempts,
                backoff=backoff,
            )
        except Exception as exc:
            left = [p for p, _ in waiting[index:]]
            logger.error(
                "Upload of %s failed: %s. %d file(s) kept in the spool %s: %s",
                uri,
                exc,
                len(left),
                spool_dir,
                ", ".join(str(p) for p in left),
            )
            return left
        path.unlink()
        logger.info("Uploaded %s", uri)
    return []
