"""S3 helpers shared by the feed storage, the spool, the state store and the sources reader.

Clients are built from Scrapy settings (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_ENDPOINT_URL``,
``AWS_REGION_NAME``); whatever is unset falls back to boto3's usual
credential chain (environment, shared config, instance role).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")


def is_s3(uri: str | Path | None) -> bool:
    """Whether a location is an ``s3://`` URI."""
    return isinstance(uri, str) and uri.startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    """Return ``(bucket, key)`` of an ``s3://bucket/key`` URI (the key may be empty)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.hostname:
        raise ValueError(f"not an s3:// URI: {uri}")
    return parsed.netloc, parsed.path.lstrip("/")


def client_from_settings(settings: BaseSettings) -> Any:
    """Build a boto3 S3 client from Scrapy settings, falling back to boto3's credential chain."""
    import boto3.session  # late: boto3 is only needed when s3:// is used
    from botocore.config import Config

    session = boto3.session.Session()
    return session.client(
        "s3",
        aws_access_key_id=settings.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=settings.get("AWS_SECRET_ACCESS_KEY") or None,
        aws_session_token=settings.get("AWS_SESSION_TOKEN") or None,
        endpoint_url=settings.get("AWS_ENDPOINT_URL") or None,
        region_name=settings.get("AWS_REGION_NAME") or None,
        config=Config(
            # Our own loop retries with a longer backoff; botocore's retries
            # on top of it would multiply the wait when S3 is down.
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=settings.getfloat("S3_CONNECT_TIMEOUT"),
            read_timeout=settings.getfloat("S3_READ_TIMEOUT"),
        ),
    )


def with_retries(action: Callable[[], T], *, what: str, attempts: int, backoff: float) -> T:
    """Run ``action``, retrying failures with exponential backoff (``backoff``, 2x, 4x … s)."""
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if attempt == attempts:
                raise
            delay = backoff * 2 ** (attempt - 1)
            logger.warning(
                "%s failed (attempt %d of %d: %s); retrying in %.1f s",
                what,
                attempt,
                attempts,
                exc,
                delay,
            )
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def content_type_for(key: str) -> str:
    """The Content-Type an object is stored with (never Content-Encoding: clients would unzip)."""
    if key.endswith(".gz"):
        return "application/gzip"
    if key.endswith(".json"):
        return "application/json"
    if key.endswith(".html"):  # the nightly report opens from an S3 link
        return "text/html; charset=utf-8"
    if key.endswith((".jsonl", ".ndjson")):
        return "application/x-ndjson"
    return "application/octet-stream"


def upload_file(client: Any, path: Path, uri: str) -> None:
    """Upload a local file to ``uri`` by name (boto3 reopens it, so nothing is lost on failure)."""
    bucket, key = split_s3(uri)
    client.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type_for(key)})


def download_file(client: Any, uri: str, path: Path) -> None:
    """Download ``uri`` to a local path."""
    bucket, key = split_s3(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    client.download_file(bucket, key, str(path))


def exists(client: Any, uri: str) -> bool:
    """Whether an object exists (False on 404, other errors raise)."""
    from botocore.exceptions import ClientError

    bucket, key = split_s3(uri)
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def list_keys(client: Any, uri: str) -> Iterator[str]:
    """Yield every key under an ``s3://bucket/prefix`` in key order."""
    bucket, prefix = split_s3(uri)
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield str(obj["Key"])
