"""A run lock, so that two nights never overlap.

``flock`` on a file: the kernel releases it when the process ends however
it ends, so a killed run never leaves a stale lock behind. The file holds
the pid and start time of the holder, for the second run's message.
"""

from __future__ import annotations

import errno
import fcntl
import os
import posixpath
import stat
from pathlib import Path
from typing import IO

from crawler.s3 import is_s3, split_s3
from crawler.timeutil import iso_z, utc_now


class LockedError(RuntimeError):
    """Another run holds the lock."""


def lock_path_for(output_uri: str, spool_dir: str, given: str | None = None) -> Path:
    """Where the lock of an output lives: ``LOCK_FILE``, else beside the output (or its spool)."""
    if given:
        return Path(given)
    if is_s3(output_uri):
        bucket, key = split_s3(output_uri)
        return Path(spool_dir) / bucket / posixpath.dirname(key) / ".run.lock"
    return Path(os.path.dirname(output_uri) or ".") / ".run.lock"


class RunLock:
    """Hold an exclusive, non-blocking lock on a file for the life of a run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockedError` naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW, and a regular file only: a symlink planted at the lock's
        # path must not make the run truncate (and write to) another file.
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise LockedError(f"{self.path} is a symbolic link; refusing to use it") from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise LockedError(f"{self.path} is not a regular file; refusing to use it")
        os.set_blocking(fd, True)
        f = os.fdopen(fd, "r+", encoding="utf-8")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown holder"
            f.close()
            raise LockedError(f"another run holds {self.path} ({holder})") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}, started {iso_z(utc_now())}\n")
        f.flush()
        self._file = f

    def release(self) -> None:
        """Release the lock (the file stays: removing it would race a third run)."""
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
