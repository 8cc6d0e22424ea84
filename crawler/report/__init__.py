"""The nightly HTML report: figures from the published output files, rendered as one page.

``python -m crawler.report OUTPUT_DIR_OR_FILE`` rebuilds it from existing
files; :class:`crawler.report.extension.NightlyReport` writes it at the end of
every published run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from crawler.alarms import Thresholds
from crawler.report.model import Report, build_report, report_of, resolve_output, timings_of
from crawler.report.render import render

__all__ = [
    "Report",
    "build_report",
    "render",
    "report_of",
    "resolve_output",
    "timings_of",
    "write_report",
]


def write_report(
    output: Path, *, history: int = 14, thresholds: Thresholds | None = None
) -> tuple[Path, Report]:
    """Build the report of ``output`` and write it to ``<output>.report.html``.

    The page is written to a temporary file and renamed into place, so that a
    reader (or an S3 sync) never sees half a page.
    """
    report = build_report(output, history=history, thresholds=thresholds)
    target = report_of(output)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; the page is meant to be shared
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(render(report))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target, report
