"""The project's outside services pointed at a closed port on 127.0.0.1, for benchmarks.

A benchmark's crawl runs at the project's defaults, and those look things up on the
public web: the Wayback Machine for dead links (``ARCHIVE_*``), arXiv and Crossref for
papers (``ARXIV_*``, ``CROSSREF_API_URL``). Benchmarks send traffic only to 127.0.0.0/8,
so each of these is sent to a loopback port nobody listens on: the lookup still runs
(the same code path, failing at once with a refused connection), and nothing leaves
the machine.
"""

from __future__ import annotations

import socket

#: the settings that name an outside service (crawler/options.py)
SERVICE_SETTINGS = (
    "ARCHIVE_CDX_URL",
    "ARCHIVE_REPLAY_URL",
    "ARXIV_API_URL",
    "ARXIV_HTML_URL",
    "ARXIV_HTML_FALLBACK_URL",
    "CROSSREF_API_URL",
)


def closed_port() -> int:
    """A loopback port that was free a moment ago (bound, then released: nobody listens)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def offline_services() -> dict[str, str]:
    """Every outside-service setting pointed at a closed loopback port."""
    base = f"http://127.0.0.1:{closed_port()}"
    return {name: f"{base}/{name.lower()}/" for name in SERVICE_SETTINGS}
