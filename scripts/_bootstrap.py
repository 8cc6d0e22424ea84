"""Create the project's virtual environment on first use and keep it in step with pyproject.toml.

Used by ``scripts/crawl`` and ``scripts/test`` so that a fresh machine with
only Python 3.11+ needs no other set-up step.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("SOURCES_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _stamp(extras: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(extras.encode())
    return digest.hexdigest()


def ensure_venv(extras: str = "") -> Path:
    """Make sure ``.venv`` exists with the project installed (editable, with ``extras``)."""
    marker = VENV / f".installed{('-' + extras) if extras else ''}"
    if marker.exists() and marker.read_text() == _stamp(extras):
        return BIN
    if not (BIN / "python").exists():
        print(f"Creating {VENV} …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    python = str(BIN / "python")
    quiet = [] if os.environ.get("VERBOSE") else ["-q"]
    subprocess.run([python, "-m", "pip", "install", *quiet, "--upgrade", "pip"], check=True)
    target = f".[{extras}]" if extras else "."
    print(f"Installing the project ({target}) into {VENV} …", flush=True)
    subprocess.run([python, "-m", "pip", "install", *quiet, "-e", target], cwd=ROOT, check=True)
    marker.write_text(_stamp(extras))
    return BIN


def run(command: list[str]) -> int:
    """Run a command from the project root and return its exit code."""
    return subprocess.run(command, cwd=ROOT, check=False).returncode
