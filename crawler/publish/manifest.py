"""The manifest written beside each output file: what the run produced, checkable."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

# re-exported: the stat prefixes belong to the counting rule (crawler.publish.counts)
from crawler.publish.counts import ERROR_PREFIX as ERROR_PREFIX
from crawler.publish.counts import STATUS_PREFIX as STATUS_PREFIX
from schemas.record import SCHEMA_VERSION


def sha256_of(file: IO[bytes], chunk: int = 1 << 20) -> str:
    """Return the sha256 hex digest of a file object from its start."""
    file.seek(0)
    digest = hashlib.sha256()
    while block := file.read(chunk):
        digest.update(block)
    return digest.hexdigest()


def build_manifest(
    stats: Mapping[str, Any], *, output: str, sha256: str, size: int, finished_at: str
) -> dict[str, Any]:
    """Assemble the manifest from the run's stats and the finished file."""
    by_status = {
        k.removeprefix(STATUS_PREFIX): v for k, v in stats.items() if k.startswith(STATUS_PREFIX)
    }
    by_error = {
        k.removeprefix(ERROR_PREFIX): v for k, v in stats.items() if k.startswith(ERROR_PREFIX)
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "output": output,
        "records": stats.get("ingest/records", 0),
        "changed": stats.get("ingest/records/changed", 0),
        "sha256": sha256,
        "bytes": size,
        "started_at": stats.get("ingest/started_at"),
        "finished_at": finished_at,
        "by_status": dict(sorted(by_status.items())),
        "by_error": dict(sorted(by_error.items())),
        "entries": stats.get("ingest/entries", 0),
        "duplicates": stats.get("ingest/duplicates", 0),
        "sources": stats.get("ingest/sources_spec"),
    }


def latest_pointer(manifest: Mapping[str, Any], target: Path) -> dict[str, Any]:
    """The ``latest.json`` pointer to a published file; names are relative to the pointer."""
    return {
        "schema_version": SCHEMA_VERSION,
        "output": target.name,
        "manifest": manifest_path(target).name,
        "uri": manifest["output"],
        "sha256": manifest["sha256"],
        "bytes": manifest["bytes"],
        "records": manifest["records"],
        "started_at": manifest["started_at"],
        "finished_at": manifest["finished_at"],
    }


def manifest_path(output: str | Path) -> Path:
    """Return where the manifest of an output file goes: ``<output>.manifest.json``."""
    return Path(f"{output}.manifest.json")


def current_umask() -> int:
    """The process's umask, read without changing it (Linux: ``/proc/self/status``).

    ``os.umask`` can only be read by setting it, and setting it to 0 even for
    an instant gives every file another thread creates meanwhile mode 0666.
    Where the kernel does not say, the usual 022 is assumed.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def make_shareable(path: str | Path) -> None:
    """Give a file made by ``mkstemp`` (mode 0600) the mode the umask gives new files.

    Output, manifest and report are read by other users and processes. The
    umask is read, never changed (see :func:`current_umask`).
    """
    os.chmod(path, 0o666 & ~current_umask())


def write_text_atomically(path: Path, text: str) -> None:
    """Write text to a temporary file in the same directory, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        make_shareable(tmp)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomically(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON to a temporary file in the same directory, then rename it into place."""
    write_text_atomically(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
