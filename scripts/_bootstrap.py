"""Create the project's virtual environment on first use and keep it in step with pyproject.toml.

Used by ``scripts/crawl`` and ``scripts/test`` so that a fresh machine with
only Python 3.11+ needs no other set-up step. ``SOURCES_VENV`` names another
place for the environment (default: ``.venv`` in the checkout).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("SOURCES_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
#: exit code of a wrapper stopped by Ctrl-C before the command started (128 + SIGINT)
INTERRUPTED = 130


def stamp(extras: str) -> str:
    """The marker text of an install with ``extras``: the digest of pyproject.toml and extras."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(extras.encode())
    return digest.hexdigest()


def marker_path(extras: str) -> Path:
    """The file that records which pyproject.toml (and extras) the venv was installed from."""
    return VENV / f".installed{('-' + extras) if extras else ''}"


def _installed(extras: str) -> bool:
    marker = marker_path(extras)
    return marker.exists() and marker.read_text() == stamp(extras)


def ensure_venv(extras: str = "") -> Path:
    """Make sure the venv exists with the project installed (editable, with ``extras``).

    A venv installed with the ``test`` extra also holds everything the
    plain install needs (extras only add packages), so it is used as it is.
    """
    if _installed(extras) or (not extras and _installed("test")):
        return BIN
    try:
        if not (BIN / "python").exists():
            print(f"Creating {VENV} …", flush=True)
            venv.EnvBuilder(with_pip=True).create(VENV)
        python = str(BIN / "python")
        quiet = [] if os.environ.get("VERBOSE") else ["-q"]
        subprocess.run([python, "-m", "pip", "install", *quiet, "--upgrade", "pip"], check=True)
        target = f".[{extras}]" if extras else "."
        print(f"Installing the project ({target}) into {VENV} …", flush=True)
        subprocess.run([python, "-m", "pip", "install", *quiet, "-e", target], cwd=ROOT, check=True)
    except KeyboardInterrupt:
        print(f"Interrupted while setting up {VENV}; the next run finishes it.", file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"Could not set up {VENV}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    marker_path(extras).write_text(stamp(extras))
    return BIN


def run(command: list[str]) -> int:
    """Run a command from the project root and return its exit code.

    Ctrl-C reaches the command too (it is in the terminal's process group):
    the wrapper waits for it to stop and returns its code, without a
    traceback of its own.
    """
    proc = subprocess.Popen(command, cwd=ROOT)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue  # the command got the same SIGINT and is stopping


def exec_in_root(command: list[str]) -> NoReturn:
    """Replace this process with ``command`` run from the project root.

    Signals (Ctrl-C, a cron's SIGTERM) then go straight to the command, and
    its exit code is the wrapper's.
    """
    os.chdir(ROOT)
    try:
        os.execv(command[0], command)
    except OSError as exc:
        print(f"Cannot run {command[0]}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
