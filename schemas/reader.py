"""Read records back for consumers, validated as they go.

Locations are local paths or ``s3://bucket/key`` URIs; files are ``.jsonl``
or ``.jsonl.gz``. A directory, an ``s3://`` prefix ending in ``/``, or a
``latest.json`` names "the latest complete night": the pointer the crawl
writes last, after the file and its manifest, so a reader never sees a
partial night. Reading through the pointer checks the file's sha256.

S3 access uses boto3's usual credential chain; ``AWS_ENDPOINT_URL`` in the
environment (or the ``endpoint_url`` argument) selects an S3-compatible store.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import jsonlines
from pydantic import ValidationError

from schemas.record import SourceRecord

LATEST_NAME = "latest.json"


class RecordError(ValueError):
    """A line of an output file that is not a valid record, or a file that fails its checksum."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


class _HashingReader(io.RawIOBase):
    """Pass bytes through while hashing them, to check a file against its pointer."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha256.update(data)
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def _s3_client(endpoint_url: str | None) -> Any:
    import boto3  # late: only S3 readers need it

    return boto3.client("s3", endpoint_url=endpoint_url)


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _open_raw(location: str, endpoint_url: str | None) -> IO[bytes]:
    if location.startswith("s3://"):
        bucket, key = _split_s3(location)
        body = _s3_client(endpoint_url).get_object(Bucket=bucket, Key=key)["Body"]
        return cast(IO[bytes], body)
    return open(location, "rb")


def _is_latest(location: str) -> bool:
    if location.endswith(("/", LATEST_NAME)):
        return True
    return not location.startswith("s3://") and Path(location).is_dir()


def latest(location: str | Path, *, endpoint_url: str | None = None) -> dict[str, Any]:
    """Read the ``latest.json`` pointer of a directory or ``s3://`` prefix.

    The returned dict has ``output`` and ``manifest`` resolved to full
    locations, plus ``sha256``, ``records``, ``started_at`` and ``finished_at``.
    """
    text = str(location)
    if not text.endswith(LATEST_NAME):
        text = (text if text.endswith("/") else text + "/") + LATEST_NAME
    with _open_raw(text, endpoint_url) as f:
        pointer: dict[str, Any] = json.loads(f.read().decode("utf-8"))
    base = text[: -len(LATEST_NAME)]
    join = (lambda name: base + name) if text.startswith("s3://") else None
    for key in ("output", "manifest"):
        name = str(pointer[key])
        pointer[key] = join(name) if join else str(Path(base or ".") / name)
    return pointer


def read_records(
    location: str | Path,
    *,
    validate: bool = True,
    endpoint_url: str | None = None,
    expect_sha256: str | None = None,
) -> Iterator[SourceRecord]:
    """Yield each record of an output file (or of the latest night) as a :class:`SourceRecord`.

    ``location``: a local path or ``s3://`` URI of a ``.jsonl``/``.jsonl.gz``
    file, or a directory, ``s3://…/`` prefix or ``latest.json`` for the
    latest complete night. Raises :class:`RecordError` naming the file and
    line for a line that is not JSON or does not match the schema (unless
    ``validate`` is False), and when the file does not match the sha256 its
    pointer (or ``expect_sha256``) gives.
    """
    text = str(location)
    if _is_latest(text):
        pointer = latest(text, endpoint_url=endpoint_url)
        text, expect_sha256 = pointer["output"], pointer["sha256"]
    hashing = _HashingReader(_open_raw(text, endpoint_url))
    buffered = io.BufferedReader(hashing, 1 << 16)
    raw: IO[bytes] = (
        cast(IO[bytes], gzip.GzipFile(fileobj=buffered)) if text.endswith(".gz") else buffered
    )
    try:
        yield from _records(raw, text, validate)
        if expect_sha256 is not None:
            while buffered.read(1 << 16):  # what the decompressor left (gzip trailer)
                pass
            if hashing.sha256.hexdigest() != expect_sha256:
                raise RecordError(text, 0, "sha256 does not match the pointer: the file changed")
    finally:
        raw.close()
        buffered.close()


class _CountedLines:
    """The lines of a stream, counted, so that an invalid record can name its line."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self.raw:
            self.count += 1
            yield line


def _records(raw: IO[bytes], text: str, validate: bool) -> Iterator[SourceRecord]:
    # The reader does not close ``raw``: the stream is still being hashed.
    lines = _CountedLines(raw)
    parsed = jsonlines.Reader(lines).iter(skip_empty=True)
    while True:
        try:
            data = next(parsed)
        except StopIteration:
            break
        except jsonlines.InvalidLineError as exc:
            cause = exc.__cause__
            why = cause.msg if isinstance(cause, json.JSONDecodeError) else str(cause or exc)
            raise RecordError(text, exc.lineno, f"not JSON: {why}") from exc
        if not isinstance(data, dict):
            raise RecordError(text, lines.count, "not a JSON object")
        if not validate:
            yield SourceRecord.model_construct(**data)
            continue
        try:
            yield SourceRecord.model_validate(data)
        except ValidationError as exc:
            raise RecordError(text, lines.count, str(exc)) from exc
