"""``python -m crawler.watch.report OUTPUT_DIR_OR_FILE``: rebuild the HTML report from output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crawler.watch.alarms import Thresholds
from crawler.watch.report import resolve_output, write_report


def _share(text: str) -> float | None:
    return None if text.lower() in ("", "none", "off") else float(text)


def main(argv: list[str] | None = None) -> int:
    """Write ``<output>.report.html`` for a file, or for a directory's newest (or every) run."""
    parser = argparse.ArgumentParser(
        prog="python -m crawler.watch.report",
        description="Rebuild the nightly HTML report beside existing output files.",
    )
    parser.add_argument("target", type=Path, help="an output file, or a directory of them")
    parser.add_argument(
        "--all", action="store_true", help="with a directory: rebuild the report of every run"
    )
    parser.add_argument("--history", type=int, default=14, help="nights in the coverage charts")
    default = Thresholds()
    parser.add_argument("--max-error-share", type=_share, default=default.max_error_share)
    for name in default.min_coverage:
        parser.add_argument(
            f"--min-{name.replace('_', '-')}", type=_share, default=default.min_coverage[name]
        )
    parser.add_argument("--min-records", type=int, default=default.min_records)
    args = parser.parse_args(argv)
    thresholds = Thresholds(
        max_error_share=args.max_error_share,
        min_coverage={name: getattr(args, f"min_{name}") for name in default.min_coverage},
        min_records=args.min_records,
    )
    try:
        if args.all and args.target.is_dir():
            from crawler.watch.report.model import find_outputs

            outputs = find_outputs(args.target)
        else:
            outputs = [resolve_output(args.target)]
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for output in outputs:
        page, report = write_report(output, history=args.history, thresholds=thresholds)
        alarms = ", ".join(a.name for a in report.alarms) or (
            "none" if report.judged else f"not judged (fewer than {thresholds.min_records} records)"
        )
        print(f"{page}  ({report.tonight.counts.records} records, alarms: {alarms})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
