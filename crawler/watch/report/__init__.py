"""The nightly HTML report: figures from the published output files, rendered as one page.

``python -m crawler.watch.report OUTPUT_DIR_OR_FILE`` rebuilds it from existing
files; :class:`crawler.watch.report.extension.NightlyReport` writes it at the end of
every published run.
"""

from __future__ import annotations

from pathlib import Path

from crawler.publish.manifest import write_text_atomically
from crawler.watch.alarms import Thresholds
from crawler.watch.report.model import Report, build_report, report_of, resolve_output, timings_of
from crawler.watch.report.render import render

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
    write_text_atomically(target, render(report))
    return target, report
