"""Sources lists on S3: download a file, or every sources file under a prefix, before reading."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from crawler.sources.entries import SourcesError
from crawler.sources.registry import format_of


def _local_path(spec: str, root: str, key: str) -> str:
    """Where an S3 key is stored under ``root``: always inside it, or a :class:`SourcesError`.

    S3 keys are free text: one starting with ``/`` or holding ``..`` (or an
    empty segment) would, joined to a local folder, name a file outside it.
    Such a key is refused rather than cleaned up, since cleaning could make
    two keys one file.
    """
    parts = key.split("/")
    if any(part in ("", ".", "..") or "\0" in part for part in parts):
        raise SourcesError(spec, f"S3 key {key!r} cannot be stored as a local file safely")
    local = os.path.join(root, *parts)
    base = os.path.realpath(root)
    if os.path.commonpath([base, os.path.realpath(local)]) != base:
        raise SourcesError(spec, f"S3 key {key!r} would be stored outside {root}")
    return local


def fetch_s3_sources(spec: str, client: Any, dest: str) -> str:
    """Download an ``s3://bucket/key`` file or every sources file under a prefix into ``dest``.

    Returns the local path to read (a file, or a directory laid out as
    ``dest/<bucket>/<key>`` so that messages still name the S3 key). A key
    that is not an object is read as a prefix; hidden names and files of
    unknown format under a prefix are skipped, as in a local directory.
    """
    from crawler.s3 import download_file, exists, list_keys, split_s3

    try:
        bucket, key = split_s3(spec)
    except ValueError as exc:
        raise SourcesError(spec, str(exc)) from exc
    root = os.path.join(dest, bucket)
    try:
        if key and not key.endswith("/") and exists(client, spec):
            local = _local_path(spec, root, key)
            download_file(client, spec, Path(local))
            return local
        prefix = key if not key or key.endswith("/") else key + "/"
        found = 0
        for name in list_keys(client, f"s3://{bucket}/{prefix}"):
            relative = name[len(prefix) :]
            if not relative or any(p.startswith(".") for p in relative.split("/")):
                continue
            if not format_of(name):
                continue
            local = _local_path(spec, root, name)
            download_file(client, f"s3://{bucket}/{name}", Path(local))
            found += 1
    except SourcesError:
        raise
    except Exception as exc:  # botocore's errors: no bucket, no access, no connection
        raise SourcesError(spec, f"cannot be read from S3: {exc}") from exc
    if not found:
        raise SourcesError(spec, "no sources file under this S3 prefix")
    return os.path.join(root, prefix)
