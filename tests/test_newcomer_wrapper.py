"""``python3 scripts/crawl`` becomes the crawl: Ctrl-C stops it like ``scrapy crawl`` (exit 3)."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path

from tests.conftest import PROJECT_ROOT, TEST_SETTINGS
from tests.pageserver import PageServer


def _prepared_venv(root: Path) -> Path:
    """A venv that the bootstrap takes as installed: it sees this interpreter's packages.

    Nothing is downloaded or installed: a ``.pth`` file adds the running
    interpreter's site-packages, and the marker holds the stamp the
    bootstrap computes from this checkout's pyproject.toml.
    """
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    (site_packages,) = (root / "lib").glob("python3*/site-packages")
    purelib = sysconfig.get_paths()["purelib"]
    (site_packages / "test-parent.pth").write_text(
        f"import site; site.addsitedir({purelib!r})\n", encoding="utf-8"
    )
    spec = importlib.util.spec_from_file_location(
        "_bootstrap_under_test", PROJECT_ROOT / "scripts" / "_bootstrap.py"
    )
    assert spec is not None and spec.loader is not None
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    (root / ".installed").write_text(bootstrap.stamp(""), encoding="utf-8")
    return root


def test_ctrl_c_through_the_wrapper_stops_the_crawl_gracefully(
    tmp_path: Path, page_server: PageServer
) -> None:
    environment = _prepared_venv(tmp_path / "venv")
    listing = tmp_path / "slow.txt"
    listing.write_text(
        page_server.url("/article/reef-paper")
        + "\n"
        + "".join(page_server.url(f"/delay/3?wrapper={i}") + "\n" for i in range(8)),
        encoding="utf-8",
    )
    out = tmp_path / "night.jsonl"
    command = [sys.executable, str(PROJECT_ROOT / "scripts" / "crawl"), "-a", f"sources={listing}"]
    settings = {**TEST_SETTINGS, "OUTPUT_URI": str(out), "CONCURRENT_REQUESTS": "2"}
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**os.environ, "SOURCES_VENV": str(environment), "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            p.name.endswith(".part") and p.stat().st_size > 0 for p in tmp_path.iterdir()
        ):
            time.sleep(0.1)
        assert proc.poll() is None, "the crawl ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not (environment / "bin" / "scrapy").exists(), "the bootstrap reinstalled the venv"
    assert proc.returncode == 3, output[-3000:]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-3000:]
    assert "Night summary: exit 3" in output, output[-3000:]
    assert not out.exists()
