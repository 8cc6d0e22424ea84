"""Read records back for consumers: local ``.jsonl`` or ``.jsonl.gz``, validated as they go."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from pydantic import ValidationError

from schemas.record import SourceRecord


class RecordError(ValueError):
    """A line of an output file that is not a valid record."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


def _open(path: Path) -> IO[str]:
    raw = cast(IO[bytes], gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb"))  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8")


def read_records(path: str | Path, *, validate: bool = True) -> Iterator[SourceRecord]:
    """Yield each record of an output file as a :class:`SourceRecord`.

    Raises :class:`RecordError` naming the file and line for a line that is
    not JSON or does not match the schema (unless ``validate`` is False, in
    which case records are built without checks).
    """
    path = Path(path)
    with _open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RecordError(str(path), lineno, f"not JSON: {exc.msg}") from exc
            if not validate:
                yield SourceRecord.model_construct(**data)
                continue
            try:
                yield SourceRecord.model_validate(data)
            except ValidationError as exc:
                raise RecordError(str(path), lineno, str(exc)) from exc
